//! `shrink eval MODEL --data D`: test accuracy of a saved model. A `.shrk` file runs on
//! shrink-runtime (the compressed weights as they are); `--burn` decodes it into a dense
//! Burn model instead, for comparison.

use super::print_json;
use anyhow::Result;
use shrink_core::classifier::{open, Classifier};
use shrink_core::device::parse_device;
use shrink_core::workflow;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink eval runs/lenet-300-100 --data mnist --json\n  shrink eval runs/c300/model.shrk --data mnist\n  shrink eval runs/c300/model.shrk --data mnist --burn"
)]
pub struct Args {
    /// A model directory written by `shrink train`, or a `.shrk` file.
    pub model: PathBuf,
    /// `mnist` or a path (as for train).
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub label: Option<String>,
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// For a `.shrk` file: decode it into a dense Burn model on `--device` instead of
    /// running it with the runtime.
    #[arg(long)]
    pub burn: bool,
    /// For a `.shrk` file: write the measured test error (with the number of test
    /// examples and the data's name) into the file's metadata, rewriting it atomically;
    /// the weights stay as they are. `shrink info` and the web page show it.
    #[arg(long, conflicts_with = "burn")]
    pub record: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let opened = open(&a.model)?;
    if a.record && !opened.is_shrk() {
        anyhow::bail!(
            "--record writes into a .shrk file; {} is not one",
            a.model.display()
        );
    }
    let mut model: Box<dyn Classifier> = if opened.is_shrk() && !a.burn {
        Box::new(opened.into_runtime()?)
    } else {
        Box::new(opened.into_burn(&parse_device(&a.device)?)?)
    };
    let table = shrink_core::tables::model_table(&a.model)?;
    let src = shrink_core::tables::load_data_for(&a.data, a.label, table.as_ref())?;
    let r = workflow::evaluate_classifier(model.as_mut(), &src, &a.model.display().to_string())?;
    if a.record {
        record(&a.model, &r)?;
    }
    if a.json {
        print_json(&r)?;
    } else {
        println!(
            "{}: test error {:.2}% ({} of {} wrong) on {}",
            r.model,
            100.0 * r.test_error,
            (r.test_error * r.n as f64).round() as usize,
            r.n,
            r.data
        );
    }
    Ok(())
}

/// Write `r`'s test error into the metadata of the `.shrk` file `path`.
fn record(path: &Path, r: &workflow::EvalReport) -> Result<()> {
    let (before, after) =
        shrink_core::compress::encode::record_test_error(path, r.test_error, r.n, &r.data)?;
    eprintln!(
        "{}: recorded test error {:.2}% on {} examples of {} ({before} -> {after} bytes)",
        path.display(),
        100.0 * r.test_error,
        r.n,
        r.data,
    );
    Ok(())
}
