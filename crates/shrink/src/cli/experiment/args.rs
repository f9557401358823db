//! The flags of `shrink experiment norm`, `transfer` and `ablation` (those every
//! experiment takes are in `common.rs`). A flag without a default takes its value from
//! the experiment's settings file; each one given is laid over it (serialised under the
//! file's key names).

pub use super::common::{numbers, words, CommonArgs};
use serde::Serialize;

#[derive(clap::Args, Serialize)]
pub struct NormArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub common: CommonArgs,
    /// Training steps (mini-batches) per variant.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Evaluate every this many steps.
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Base learning rate (plain SGD, constant).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning-rate multipliers of the sweep, e.g. 1,5,30,100 (empty: no sweep).
    #[arg(long)]
    #[serde(serialize_with = "numbers::<f64, _>")]
    pub sweep: Option<String>,
    /// Steps of each sweep run.
    #[arg(long)]
    pub sweep_steps: Option<usize>,
    /// The probed unit of the last hidden layer.
    #[arg(long)]
    pub unit: Option<usize>,
    /// Test examples the unit's percentiles are taken over.
    #[arg(long)]
    pub probe_examples: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hidden units per layer.
    #[arg(long)]
    pub width: Option<usize>,
    #[arg(long)]
    pub hidden_layers: Option<usize>,
    /// Also write the first-layer weights the report pictures into results.json
    /// (they are always in OUT/runs/*.json).
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub weights: bool,
}

#[derive(clap::Args, Serialize)]
pub struct TransferArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub common: CommonArgs,
    /// Number of seeds (1, 2, …).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Classes of task A, e.g. 0,1,2,3,4 (default: a random half, from --split-seed).
    #[arg(long)]
    #[serde(serialize_with = "numbers::<u32, _>")]
    pub split_a: Option<String>,
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Hidden units per layer.
    #[arg(long)]
    pub width: Option<usize>,
    /// Weight layers L (n runs over 1..L-1).
    #[arg(long)]
    pub depth: Option<usize>,
    /// Epochs of every base and transfer net.
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
}

#[derive(clap::Args, Serialize)]
pub struct AblationArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub common: CommonArgs,
    /// Number of seeds (1, 2, …).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Epochs per run.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Base learning rate (SGD, momentum 0.9, cosine); at 0.05 PReLU diverges.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Run only these variants (comma-separated names, e.g. base,maxout).
    #[arg(long)]
    #[serde(serialize_with = "words")]
    pub only: Option<String>,
}
