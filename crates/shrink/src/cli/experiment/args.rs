//! The flags of `shrink experiment norm`, `transfer` and `ablation`, and those every
//! experiment takes. A flag without a default takes its value from the experiment's
//! settings file; each one given is laid over it (serialised under the file's key names).

use serde::Serialize;
use shrink_lab::experiments::parse_list;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CommonArgs {
    /// `mnist` (bundled), or a path: an IDX or CIFAR directory, a CSV file, an image folder
    /// [default: the settings file's `data`].
    #[arg(long)]
    pub data: Option<String>,
    /// Label column of a CSV file.
    #[arg(long)]
    pub label: Option<String>,
    /// Output directory (default: runs/experiments/<experiment>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A minutes-long version (the settings file's [quick] table): a subset of the data,
    /// few steps or epochs, one seed.
    #[arg(long)]
    pub quick: bool,
    /// Keep the finished runs in OUT/runs and skip them.
    #[arg(long)]
    pub resume: bool,
    /// Train on a seeded random subset of this many examples.
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Test on a seeded random subset of this many examples.
    #[arg(long)]
    pub limit_test: Option<usize>,
    /// Read the settings from this TOML file ([full] and [quick] tables) instead of the
    /// built-in one.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// flex (CPU, default), cuda[:N], wgpu.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Print results.json on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

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

/// `--sweep 1,5,30` as a list of numbers for the settings (an error names the bad one).
pub fn numbers<T, S>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error>
where
    T: std::str::FromStr + Serialize,
    S: serde::Serializer,
{
    match v {
        None => s.serialize_none(),
        Some(text) => parse_list::<T>(text)
            .map_err(serde::ser::Error::custom)?
            .serialize(s),
    }
}

/// `--only a,b` as a list of names.
pub fn words<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    v.as_deref()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .serialize(s)
}
