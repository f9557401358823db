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
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let r = if a.model.is_file() && !a.burn {
        eval_runtime(&a.model, &a.data, a.label)?
    } else {
        let device = parse_device(&a.device)?;
        let (spec, net) = if a.model.is_file() {
            shrink::compress::encode::load_shrk(&a.model, &device)?
        } else {
            load_model(&a.model, &device)?
        };
        let src = workflow::load_data(&a.data, a.label)?;
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
    let src = workflow::load_data(data, label)?;
    workflow::check_fits(model.spec(), &src)?;
    let t0 = Instant::now();
    let ds = &src.test;
    let (len, k) = (model.input_len(), model.classes());
    let mut ws = shrink_runtime::Workspace::default();
    let mut logits = Vec::new();
    let mut preds = Vec::with_capacity(ds.len());
    const BATCH: usize = 500;
    for start in (0..ds.len()).step_by(BATCH) {
        let end = (start + BATCH).min(ds.len());
        model.forward(
            &ds.x[start * len..end * len],
            end - start,
            &mut ws,
            &mut logits,
        )?;
        preds.extend(
            logits
                .chunks(k)
                .map(|row| shrink::batch::argmax(row) as u32),
        );
    }
    Ok(workflow::eval_report(
        &path.display().to_string(),
        &src,
        &preds,
        t0.elapsed().as_secs_f64(),
    ))
}
