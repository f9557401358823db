//! `shrink compress SPEC|MODEL --data D --out DIR`: the Deep Compression pipeline.

use super::compress_flags::{PruneFlags, QuantizeFlags};
use super::print_json;
use anyhow::Result;
use shrink_core::compress::{compress, render_table, Job};
use shrink_core::device::parse_device;
use shrink_core::model::io::SPEC_FILE;
use shrink_core::spec_file::SpecFile;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink compress zoo/lenet-300-100.toml --data mnist --out runs/c-lenet-300-100\n  shrink compress runs/lenet-5 --data mnist --out runs/c-lenet-5 --keep layers.0.weight=0.66"
)]
pub struct Args {
    /// A spec (trained first, with its [train] and [compress] tables) or a trained model directory.
    pub model: PathBuf,
    /// Data set (not needed with --one-shot).
    #[arg(long, required_unless_present = "one_shot")]
    pub data: Option<String>,
    #[arg(long)]
    pub label: Option<String>,
    /// Output directory: base/, pruned/, model.shrk, report.json, report.txt.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub prune: PruneFlags,
    #[command(flatten)]
    pub quantize: QuantizeFlags,
    // issue 14 (H3): --max-error / --max-error-increase / --max-bytes
    #[command(flatten)]
    pub budget: super::compress_budget::BudgetFlags,
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
    /// Start over in an --out that holds an earlier run (`shrink demo` does).
    #[arg(skip)]
    pub replace: bool,
    /// One-shot compression without data (the papers' ImageNet nets, whose data is out
    /// of reach): prune to the kept fractions, k-means, Huffman-code the weights as they
    /// are (initialised from the spec, or the model directory's) with no retraining;
    /// read the file back, run it (batch 1) and check its logits against the decoded
    /// dense model's. Writes model.shrk and oneshot.json with each stage's time and
    /// peak memory.
    #[arg(long)]
    pub one_shot: bool,
    /// With --one-shot: also time the runtime at these batch sizes (batch 1 always runs).
    #[arg(long, value_delimiter = ',', requires = "one_shot")]
    pub batches: Vec<usize>,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    shrink_core::model::io::check_run_dir(
        &a.out,
        a.resume || a.replace,
        &["base", "pruned", "model.shrk", "report.json"],
    )?;
    let is_dir = a.model.is_dir();
    let spec_path = if is_dir {
        a.model.join(SPEC_FILE)
    } else {
        a.model.clone()
    };
    let file = SpecFile::read(&spec_path)?;
    let (mut tcfg, mut cfg) = (file.train, file.compress);
    if let Some(v) = a.epochs {
        tcfg.epochs = v;
    }
    if let Some(v) = a.seed {
        tcfg.seed = v;
    }
    a.prune.apply(&mut cfg);
    a.quantize.apply(&mut cfg);
    a.budget.apply(&mut cfg);
    let device = parse_device(&a.device)?;
    if a.one_shot {
        let base = is_dir.then_some(a.model.as_path());
        let r = shrink_core::compress::oneshot::one_shot(
            file.spec, base, &cfg, tcfg.seed, &a.out, &a.batches, &device, a.quiet,
        )?;
        return if a.json {
            print_json(&r)
        } else {
            print!("{}", shrink_core::compress::oneshot::render(&r));
            Ok(())
        };
    }
    let data = a.data.as_deref().unwrap_or_default();
    // A trained model's table encoding; a spec is trained on the data's own.
    let table = if is_dir {
        shrink_core::tables::dir_table(&a.model)?
    } else {
        None
    };
    let src = shrink_core::tables::load_data_for(data, a.label.clone(), table.as_ref())?;
    let base: Option<&Path> = is_dir.then_some(a.model.as_path());
    let job = Job {
        spec: file.spec,
        base,
        train: &tcfg,
        cfg: &cfg,
        src: &src,
        out: &a.out,
        device: &device,
        resume: a.resume,
        quiet: a.quiet,
    };
    if let Some(budget) = a.budget.budget() {
        return super::compress_budget::run(&budget, job, a.json);
    }
    let report = compress(job)?;
    if a.json {
        print_json(&report)
    } else {
        print!("{}", render_table(&report));
        Ok(())
    }
}
