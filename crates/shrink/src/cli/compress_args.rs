//! The flags of `shrink compress` (the command is `compress.rs`; the pruning, weight
//! sharing and budget flags it shares are in `compress_flags.rs`, `quantize_flags.rs`,
//! `compress_budget.rs`).
//!
//! Not here: what is done with them (`compress.rs`, `shrink_core::compress`).

use super::compress_flags::PruneFlags;
use super::quantize_flags::QuantizeFlags;
use std::path::PathBuf;

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
