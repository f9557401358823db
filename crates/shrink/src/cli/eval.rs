//! `shrink eval MODEL --data D`: test accuracy of a saved model.

use super::print_json;
use anyhow::Result;
use shrink::device::parse_device;
use shrink::model::io::load_model;
use shrink::workflow;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  shrink eval runs/lenet-300-100 --data mnist --json")]
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
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let device = parse_device(&a.device)?;
    let (spec, net) = if a.model.is_file() {
        shrink::compress::encode::load_shrk(&a.model, &device)?
    } else {
        load_model(&a.model, &device)?
    };
    let src = workflow::load_data(&a.data, a.label)?;
    let r = workflow::evaluate(&spec, &net, &src, &device, &a.model.display().to_string())?;
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
