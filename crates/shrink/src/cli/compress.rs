//! `shrink compress SPEC|MODEL --data D --out DIR`: the Deep Compression pipeline.

use super::compress_flags::{PruneFlags, QuantizeFlags};
use super::print_json;
use anyhow::{anyhow, Context, Result};
use shrink::compress::{compress, render_table, CompressConfig};
use shrink::device::parse_device;
use shrink::model::io::{read_spec_file, SPEC_FILE};
use shrink::train::TrainConfig;
use shrink::workflow;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink compress zoo/lenet-300-100.toml --data mnist --out runs/c-lenet-300-100\n  shrink compress runs/lenet-5 --data mnist --out runs/c-lenet-5 --keep layers.0.weight=0.66"
)]
pub struct Args {
    /// A spec (trained first, with its [train] and [compress] tables) or a trained model directory.
    pub model: PathBuf,
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub label: Option<String>,
    /// Output directory: base/, pruned/, model.shrk, report.json, report.txt.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub prune: PruneFlags,
    #[command(flatten)]
    pub quantize: QuantizeFlags,
    /// Training epochs of the dense model (when training from a spec).
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Continue an interrupted run from its last finished stage.
    #[arg(long)]
    pub resume: bool,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    let is_dir = a.model.is_dir();
    let spec_path = if is_dir {
        a.model.join(SPEC_FILE)
    } else {
        a.model.clone()
    };
    let file = read_spec_file(&spec_path)?;
    let mut tcfg = TrainConfig::from_table(file.train.as_ref())
        .with_context(|| format!("spec {}", spec_path.display()))?;
    let mut cfg = CompressConfig::from_table(file.compress.as_ref())?;
    if let Some(v) = a.epochs {
        tcfg.epochs = v;
    }
    if let Some(v) = a.seed {
        tcfg.seed = v;
    }
    a.prune.apply(&mut cfg);
    a.quantize.apply(&mut cfg);
    let device = parse_device(&a.device)?;
    let src = workflow::load_data(&a.data, a.label.clone())?;
    let base: Option<&Path> = is_dir.then_some(a.model.as_path());
    let report = compress(
        file.spec,
        file.compress.as_ref(),
        base,
        &tcfg,
        &cfg,
        &src,
        &a.out,
        &device,
        a.resume,
        a.quiet,
    )
    .map_err(|e| anyhow!("{e:#}"))?;
    if a.json {
        print_json(&report)
    } else {
        print!("{}", render_table(&report));
        Ok(())
    }
}
