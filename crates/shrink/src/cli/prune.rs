//! `shrink prune MODEL --data D --out DIR`: magnitude pruning with retraining, and
//! `--sensitivity` to scan accuracy against sparsity per layer first.

use super::compress_flags::PruneFlags;
use super::print_json;
use anyhow::Result;
use shrink_core::device::parse_device;
use shrink_core::standalone::{self, Opened};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink prune runs/lenet-5 --data mnist --out runs/lenet-5-pruned --keep layers.5.weight=0.08\n  shrink prune runs/lenet-5 --data mnist --out runs/lenet-5-scan --sensitivity"
)]
pub struct Args {
    /// A trained model directory.
    pub model: PathBuf,
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub label: Option<String>,
    /// Output model directory (pruned weights are exact zeros in model.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub prune: PruneFlags,
    /// Only scan: accuracy when each layer alone is pruned to 100…2% (no retraining).
    #[arg(long)]
    pub sensitivity: bool,
    #[arg(long, default_value = "flex")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    let m = Opened::open(
        &a.model,
        &a.data,
        a.label.clone(),
        |cfg| a.prune.overrides().apply(cfg),
        parse_device(&a.device)?,
        a.quiet,
    )?;
    if a.sensitivity {
        let points = standalone::sensitivity(&m, &a.out)?;
        if a.json {
            return print_json(&points);
        }
        print!("{}", standalone::render_sensitivity(&points));
        return Ok(());
    }
    let r = standalone::prune(&m, &a.out)?;
    if a.json {
        return print_json(&r);
    }
    print!("{}", standalone::render_prune(&r));
    Ok(())
}
