//! The flags of `shrink mimic` (the command is `mimic.rs`).
//!
//! Not here: mimic learning itself (`shrink_core::distill`).

use super::train_flags::TrainFlags;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Transfer sets (--transfer): train | augment:N | munge:N | random:N | PATH.
  The made kinds are the training examples plus N times as many shifted/rotated copies
  (images), MUNGE examples or RANDOM examples; PATH is any data set --data reads (its
  examples; labels ignored; a CSV must have the data's columns).
Losses (--loss): logits (L2 on the teacher's logits, Ba & Caruana), kd (soft targets at
  --temperature, weight --alpha, plus (1-alpha) cross-entropy with the hard label; the
  teacher's argmax where there is none), labels (hard labels only).
Teacher logits are computed once per (teacher, transfer set) and cached in --cache.

Examples:
  shrink mimic --teacher runs/teacher-cnn --student zoo/shallow-800.toml --data mnist \\
      --transfer augment:4 --loss logits --lr 0.005 --out runs/mimic-800
  shrink mimic --teacher runs/t1 --teacher runs/t2 --student my-mlp.toml \\
      --data data/credit/credit.csv --transfer munge:10 --loss kd --out runs/credit-kd"
)]
pub struct Args {
    /// A trained model directory or a .shrk file; repeat for an ensemble (logits averaged).
    #[arg(long = "teacher", required = true)]
    pub teachers: Vec<PathBuf>,
    /// The student's spec (TOML); its [train] table gives the training defaults.
    #[arg(long)]
    pub student: PathBuf,
    /// `mnist` (bundled), or a path: an IDX or CIFAR directory, a CSV file, an image folder.
    #[arg(long)]
    pub data: String,
    /// Label column of a CSV file.
    #[arg(long)]
    pub label: Option<String>,
    /// train, augment:N, munge:N, random:N, or a data set path.
    #[arg(long, default_value = "train")]
    pub transfer: String,
    /// logits, kd or labels.
    #[arg(long, default_value = "logits")]
    pub loss: String,
    /// KD: softmax temperature T.
    #[arg(long, default_value_t = 4.0)]
    pub temperature: f64,
    /// KD: weight of the soft targets (1 − alpha goes to the hard labels).
    #[arg(long, default_value_t = 0.9)]
    pub alpha: f64,
    /// MUNGE: probability of swapping/jittering each attribute.
    #[arg(long, default_value_t = shrink_core::data::DEFAULT_P)]
    pub munge_p: f64,
    /// MUNGE: local-variance divisor (sd = |a − b| / s).
    #[arg(long, default_value_t = shrink_core::data::DEFAULT_S)]
    pub munge_s: f64,
    /// augment:N, munge:N, random:N: the made examples alone, without the training
    /// examples.
    #[arg(long)]
    pub synthetic_only: bool,
    /// Seed of the transfer set (augmentation, MUNGE, RANDOM).
    #[arg(long, default_value_t = 1)]
    pub transfer_seed: u64,
    /// Where teacher logits are cached.
    #[arg(long, default_value = "runs/cache")]
    pub cache: PathBuf,
    /// Output model directory (default: runs/mimic-<student name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub train: TrainFlags,
    /// flex (CPU, default), cuda[:N], wgpu[:N]; a comma-separated list (wgpu:0,wgpu:1)
    /// trains data-parallel, one replica per device.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Continue from the checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many epochs of this invocation, keeping the checkpoint; continue
    /// later with --resume.
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}
