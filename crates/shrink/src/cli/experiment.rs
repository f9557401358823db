//! `shrink experiment norm|transfer|ablation|mimic|munge`: reproduce the papers' figures, each into
//! `--out DIR` as results.json + report.html (+ runs/ for --resume).

mod distill;
mod frontier;

use super::print_json;
use anyhow::Result;
use shrink_core::device::parse_device;
use shrink_core::train::TrainConfig;
use shrink_lab::experiments::{ablation, norm, parse_list, transfer, Common};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Ioffe & Szegedy Fig. 1: a 3×100 sigmoid MLP without normalisation, with batch
    /// norm and with layer norm; accuracy and one unit's input distribution over
    /// training; a learning-rate sweep.
    #[command(
        after_help = "Examples:\n  shrink experiment norm --quick\n  shrink experiment norm --steps 50000 --out runs/experiments/norm"
    )]
    Norm(NormArgs),
    /// Yosinski et al. Fig. 2: BnB, BnB+, AnB, AnB+ against the number of layers copied.
    #[command(
        after_help = "Examples:\n  shrink experiment transfer --quick\n  shrink experiment transfer --seeds 3 --split-a 0,1,2,3,4"
    )]
    Transfer(TransferArgs),
    /// Gu et al.'s CNN components, one at a time on a small CNN: activations,
    /// initialisation, dropout, batch norm, augmentation, shortcuts, loss.
    #[command(
        after_help = "Examples:\n  shrink experiment ablation --quick\n  shrink experiment ablation --seeds 3 --only base,batch_norm,residual"
    )]
    Ablation(AblationArgs),
    /// Ba & Caruana Table 1: a deep CNN teacher and one shallow net (with and without a
    /// linear bottleneck) trained on labels, by logit regression, by KD, and on
    /// augmented and MUNGE transfer sets; parameters and test errors side by side.
    #[command(
        after_help = "Examples:\n  shrink experiment mimic --quick\n  shrink experiment mimic --teacher runs/teacher-cnn --out runs/experiments/mimic"
    )]
    Mimic(distill::MimicArgs),
    /// Buciluǎ et al.: an MLP ensemble compressed into a small net through RANDOM and
    /// MUNGE transfer sets of growing size, against the small net on labels, on a CSV
    /// table (numeric and categorical columns).
    #[command(
        after_help = "Examples:\n  shrink experiment munge --quick\n  shrink experiment munge --data data/credit/credit.csv --train-size 400 --sizes 1,10,100"
    )]
    Munge(distill::MungeArgs),
    /// Issue 14: LeNet-300-100 and LeNet-5 file size against test error — Deep
    /// Compression (with and without distillation), sparse VD, byte budgets — with the
    /// papers' published points on the same axes; each point's command in results.json.
    #[command(
        after_help = "Examples:\n  shrink experiment frontier --quick --nets lenet-300-100\n  shrink experiment frontier --points bench/frontier/points.toml"
    )]
    Frontier(frontier::FrontierArgs),
}

#[derive(clap::Args)]
pub struct CommonArgs {
    /// `mnist` (bundled), or a path: an IDX or CIFAR directory, a CSV file, an image folder.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Label column of a CSV file.
    #[arg(long)]
    pub label: Option<String>,
    /// Output directory (default: runs/experiments/<experiment>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A minutes-long version: a subset of the data, few steps or epochs, one seed.
    #[arg(long)]
    pub quick: bool,
    /// Keep the finished runs in OUT/runs and skip them.
    #[arg(long)]
    pub resume: bool,
    /// Train on a seeded random subset of this many examples (--quick: 2000-3000 by experiment).
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Test on a seeded random subset of this many examples (--quick: 500-1000).
    #[arg(long)]
    pub limit_test: Option<usize>,
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

#[derive(clap::Args)]
pub struct NormArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Training steps (mini-batches) per variant [default: 50000; --quick: 600].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Evaluate every this many steps [default: 500; --quick: 100].
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Base learning rate (plain SGD, constant). 0.1: the unnormalised net trains
    /// steadily (0.5 works too but leaves less to gain).
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    #[arg(long, default_value_t = 60)]
    pub batch_size: usize,
    /// Learning-rate multipliers of the sweep (empty: no sweep).
    #[arg(long, default_value = "1,5,30,100")]
    pub sweep: String,
    /// Steps of each sweep run [default: 5000; --quick: 300].
    #[arg(long)]
    pub sweep_steps: Option<usize>,
    /// The probed unit of the last hidden layer.
    #[arg(long, default_value_t = 0)]
    pub unit: usize,
    /// Test examples the unit's percentiles are taken over.
    #[arg(long, default_value_t = 1000)]
    pub probe_examples: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 100)]
    pub width: usize,
    #[arg(long, default_value_t = 3)]
    pub hidden_layers: usize,
    /// Also write the first-layer weights the report pictures into results.json
    /// (they are always in OUT/runs/*.json).
    #[arg(long)]
    pub weights: bool,
}

#[derive(clap::Args)]
pub struct TransferArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of seeds (1, 2, …) [default: 3; --quick: 1].
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Classes of task A, e.g. 0,1,2,3,4 (default: a random half, from --split-seed).
    #[arg(long)]
    pub split_a: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Hidden units per layer [default: 200; --quick: 64].
    #[arg(long)]
    pub width: Option<usize>,
    /// Weight layers L (n runs over 1..L-1).
    #[arg(long, default_value_t = 6)]
    pub depth: usize,
    /// Epochs of every base and transfer net [default: 4; --quick: 1].
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long, default_value_t = 0.02)]
    pub lr: f64,
}

#[derive(clap::Args)]
pub struct AblationArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of seeds (1, 2, …) [default: 3; --quick: 1].
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Epochs per run.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Base learning rate (SGD, momentum 0.9, cosine); at 0.05 PReLU diverges.
    #[arg(long, default_value_t = 0.02)]
    pub lr: f64,
    /// Run only these variants (comma-separated names, e.g. base,maxout).
    #[arg(long)]
    pub only: Option<String>,
}

fn common(a: &CommonArgs, name: &str) -> Result<Common> {
    Ok(Common {
        data: a.data.clone(),
        label: a.label.clone(),
        out: a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs/experiments").join(name)),
        quick: a.quick,
        resume: a.resume,
        limit_train: a.limit_train,
        limit_test: a.limit_test,
        device: parse_device(&a.device)?,
        quiet: a.quiet,
    })
}

fn seeds(n: Option<usize>, quick: bool, full: usize) -> Result<Vec<u64>> {
    let n = n.unwrap_or(if quick { 1 } else { full });
    anyhow::ensure!(n >= 1, "--seeds must be at least 1");
    Ok((1..=n as u64).collect())
}

pub fn run(cmd: Cmd) -> Result<()> {
    let (json, out, print) = match cmd {
        Cmd::Norm(a) => {
            let c = common(&a.common, "norm")?;
            let (src, data) = c.load((2000, 1000))?;
            let q = c.quick;
            let settings = norm::NormSettings {
                steps: a.steps.unwrap_or(if q { 600 } else { 50_000 }),
                eval_every: a.eval_every.unwrap_or(if q { 100 } else { 500 }),
                batch_size: a.batch_size,
                lr: a.lr,
                width: a.width,
                hidden_layers: a.hidden_layers,
                sweep: parse_list(&a.sweep)?,
                sweep_steps: a.sweep_steps.unwrap_or(if q { 300 } else { 5000 }),
                unit: a.unit,
                probe_examples: a.probe_examples,
                seed: a.seed,
                weights_in_results: a.weights,
                data,
            };
            (norm::run(&c, settings, &src)?, c.out, a.common.json)
        }
        Cmd::Transfer(a) => {
            let c = common(&a.common, "transfer")?;
            let (src, data) = c.load((3000, 1000))?;
            let q = c.quick;
            let given = a.split_a.as_deref().map(parse_list::<u32>).transpose()?;
            let classes = src.train.classes.max(src.test.classes);
            let (split_a, split_b) =
                transfer::split_classes(classes, given.as_deref(), a.split_seed)?;
            let settings = transfer::TransferSettings {
                split_a,
                split_b,
                seeds: seeds(a.seeds, q, 3)?,
                width: a.width.unwrap_or(if q { 64 } else { 200 }),
                depth: a.depth,
                train: TrainConfig {
                    epochs: a.epochs.unwrap_or(if q { 1 } else { 4 }),
                    lr: a.lr,
                    val_fraction: 0.0,
                    ..TrainConfig::default()
                },
                data,
            };
            (transfer::run(&c, settings, &src)?, c.out, a.common.json)
        }
        Cmd::Ablation(a) => {
            let c = common(&a.common, "ablation")?;
            let (src, data) = c.load((2000, 500))?;
            let q = c.quick;
            let settings = ablation::AblationSettings {
                seeds: seeds(a.seeds, q, 3)?,
                train: ablation::base_config(a.epochs, a.lr),
                only: a
                    .only
                    .as_deref()
                    .map(|s| {
                        s.split(',')
                            .map(|t| t.trim().to_string())
                            .filter(|t| !t.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                data,
            };
            (ablation::run(&c, settings, &src)?, c.out, a.common.json)
        }
        Cmd::Mimic(a) => distill::mimic(a)?,
        Cmd::Munge(a) => distill::munge(a)?,
        Cmd::Frontier(a) => frontier::frontier(a)?,
    };
    if print {
        print_json(&json)?;
    } else {
        println!(
            "{}: results in {}, report in {}",
            json["experiment"].as_str().unwrap_or("experiment"),
            out.join("results.json").display(),
            out.join("report.html").display()
        );
    }
    Ok(())
}
