//! `shrink eval MODEL --data D`: test accuracy of a saved model. A `.shrk` file runs on
//! shrink-runtime (the compressed weights as they are); `--burn` decodes it into a dense
//! Burn model instead, for comparison.

use super::print_json;
use anyhow::{anyhow, Context, Result};
use shrink::device::parse_device;
use shrink::model::io::load_model;
use shrink::workflow;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    if a.record && !a.model.is_file() {
        anyhow::bail!(
            "--record writes into a .shrk file; {} is not one",
            a.model.display()
        );
    }
    let r = if a.model.is_file() && !a.burn {
        let r = eval_runtime(&a.model, &a.data, a.label)?;
        if a.record {
            record(&a.model, &r)?;
        }
        r
    } else {
        let device = parse_device(&a.device)?;
        let (spec, net) = if a.model.is_file() {
            shrink::compress::encode::load_shrk(&a.model, &device)?
        } else {
            load_model(&a.model, &device)?
        };
        let table = shrink::tables::model_table(&a.model)?;
        let src = shrink::tables::load_data_for(&a.data, a.label, table.as_ref())?;
        workflow::evaluate(&spec, &net, &src, &device, &a.model.display().to_string())?
    };
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

/// Test accuracy of a `.shrk` file run by shrink-runtime.
fn eval_runtime(path: &Path, data: &str, label: Option<String>) -> Result<workflow::EvalReport> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = shrink_runtime::Model::from_bytes_with(&bytes, &shrink::limits::get())
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let table = shrink::tables::model_table(path)?;
    let src = shrink::tables::load_data_for(data, label, table.as_ref())?;
    workflow::check_fits(model.spec(), &src)?;
    let t0 = Instant::now();
    let preds = workflow::runtime_predictions(&bytes, &src.test)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(workflow::eval_report(
        &path.display().to_string(),
        &src,
        &preds,
        t0.elapsed().as_secs_f64(),
    ))
}

/// Write `r`'s test error into the metadata of the `.shrk` file `path` (atomically; the
/// tensors are re-encoded from their decoded form, which reproduces them bit for bit —
/// checked here before anything is written).
fn record(path: &Path, r: &workflow::EvalReport) -> Result<()> {
    use shrink::compress::encode;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut file = shrink_format::read(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let before = file.tensors.clone();
    encode::set_test_meta(&mut file, r.test_error, r.n, &r.data);
    let (new_bytes, _) = shrink_format::write(&file)
        .map_err(|e| anyhow!("cannot encode {}: {e}", path.display()))?;
    let back = shrink_format::read(&new_bytes).map_err(|e| anyhow!("internal: {e}"))?;
    anyhow::ensure!(
        back.tensors == before,
        "internal: re-encoding {} would change its weights; nothing written",
        path.display()
    );
    shrink::model::io::write_atomic(path, &new_bytes)?;
    eprintln!(
        "{}: recorded test error {:.2}% on {} examples of {} ({} -> {} bytes)",
        path.display(),
        100.0 * r.test_error,
        r.n,
        r.data,
        bytes.len(),
        new_bytes.len()
    );
    Ok(())
}
