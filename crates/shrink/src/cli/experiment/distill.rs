//! The flags of `shrink experiment mimic` and `shrink experiment munge`: Ba & Caruana's
//! shallow mimic nets, and Buciluǎ et al.'s MUNGE transfer sets (their settings files:
//! `mimic.toml`, `munge.toml` in shrink-lab).

use super::args::{numbers, words, CommonArgs};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Serialize)]
pub struct MimicArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub common: CommonArgs,
    /// A trained teacher (model directory or .shrk); repeat for an ensemble. Without
    /// one, zoo/teacher-cnn.toml is trained first (into OUT/teacher).
    #[arg(long = "teacher")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub teachers: Vec<PathBuf>,
    /// Epochs of the teacher trained here.
    #[arg(long)]
    pub teacher_epochs: Option<usize>,
    /// Hidden ReLU units of the shallow student.
    #[arg(long)]
    pub width: Option<usize>,
    /// Linear units of the bottleneck variant.
    #[arg(long)]
    pub bottleneck: Option<usize>,
    /// N of augment:N.
    #[arg(long)]
    pub augment: Option<usize>,
    /// N of munge:N.
    #[arg(long)]
    pub munge: Option<usize>,
    /// Student epochs on the training set.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Student epochs on the larger transfer sets.
    #[arg(long)]
    pub transfer_epochs: Option<usize>,
    /// SGD learning rate with hard labels.
    #[arg(long)]
    pub lr_labels: Option<f64>,
    /// SGD learning rate of logit regression (its gradients are larger).
    #[arg(long)]
    pub lr_logits: Option<f64>,
    /// SGD learning rate of knowledge distillation.
    #[arg(long)]
    pub lr_kd: Option<f64>,
    /// Factor on the learning rates of the bottleneck variant.
    #[arg(long)]
    pub bottleneck_lr_scale: Option<f64>,
    #[arg(long)]
    pub temperature: Option<f64>,
    #[arg(long)]
    pub alpha: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run only these runs (comma-separated ids, e.g. labels,logits-augment).
    #[arg(long)]
    #[serde(serialize_with = "words")]
    pub only: Option<String>,
}

#[derive(clap::Args, Serialize)]
pub struct MungeArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub common: CommonArgs,
    /// Train everything on a seeded subset of this many rows (MUNGE pays where labels
    /// are scarce); the other training rows join the test split.
    #[arg(long)]
    pub train_size: Option<usize>,
    /// N of munge:N and random:N, e.g. 1,10,100.
    #[arg(long)]
    #[serde(serialize_with = "numbers::<usize, _>")]
    pub sizes: Option<String>,
    /// MLPs in the teacher ensemble.
    #[arg(long)]
    pub members: Option<usize>,
    #[arg(long)]
    pub teacher_width: Option<usize>,
    /// Teacher epochs.
    #[arg(long)]
    pub teacher_epochs: Option<usize>,
    #[arg(long)]
    pub student_width: Option<usize>,
    /// Examples each student sees (epochs = this / transfer-set size).
    #[arg(long)]
    pub example_budget: Option<usize>,
    /// logits or kd.
    #[arg(long)]
    pub loss: Option<String>,
    #[arg(long)]
    pub temperature: Option<f64>,
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Adam's learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    #[arg(long)]
    pub munge_p: Option<f64>,
    #[arg(long)]
    pub munge_s: Option<f64>,
    /// RANDOM and MUNGE transfer sets that start with the training rows (by default
    /// they are the synthetic rows alone, as in the paper's size sweep).
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub with_train: bool,
    /// Student seeds.
    #[arg(long)]
    pub seeds: Option<usize>,
}
