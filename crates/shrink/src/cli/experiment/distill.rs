//! `shrink experiment mimic` and `shrink experiment munge`: Ba & Caruana's shallow
//! mimic nets, and Buciluǎ et al.'s MUNGE transfer sets.

use super::{common, seeds, CommonArgs};
use anyhow::Result;
use shrink_core::distill;
use shrink_lab::experiments::{mimic, munge, parse_list};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct MimicArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A trained teacher (model directory or .shrk); repeat for an ensemble. Without
    /// one, zoo/teacher-cnn.toml is trained first (into OUT/teacher).
    #[arg(long = "teacher")]
    pub teachers: Vec<PathBuf>,
    /// Epochs of the teacher trained here [default: its spec's 12; --quick: 2].
    #[arg(long)]
    pub teacher_epochs: Option<usize>,
    /// Hidden ReLU units of the shallow student.
    #[arg(long, default_value_t = 800)]
    pub width: usize,
    /// Linear units of the bottleneck variant.
    #[arg(long, default_value_t = 100)]
    pub bottleneck: usize,
    /// N of augment:N [default: 4; --quick: 2].
    #[arg(long)]
    pub augment: Option<usize>,
    /// N of munge:N [default: 1].
    #[arg(long)]
    pub munge: Option<usize>,
    /// Student epochs on the training set [default: 30; --quick: 4].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Student epochs on the larger transfer sets [default: 12; --quick: 2].
    #[arg(long)]
    pub transfer_epochs: Option<usize>,
    /// SGD learning rate with hard labels.
    #[arg(long, default_value_t = 0.05)]
    pub lr_labels: f64,
    /// SGD learning rate of logit regression (its gradients are larger).
    #[arg(long, default_value_t = 0.005)]
    pub lr_logits: f64,
    /// SGD learning rate of knowledge distillation.
    #[arg(long, default_value_t = 0.05)]
    pub lr_kd: f64,
    /// Factor on the learning rates of the bottleneck variant.
    #[arg(long, default_value_t = 0.2)]
    pub bottleneck_lr_scale: f64,
    #[arg(long, default_value_t = 4.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0.9)]
    pub alpha: f64,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run only these runs (comma-separated ids, e.g. labels,logits-augment).
    #[arg(long)]
    pub only: Option<String>,
}

#[derive(clap::Args)]
pub struct MungeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Train everything on a seeded subset of this many rows (MUNGE pays where labels
    /// are scarce); the other training rows join the test split.
    #[arg(long)]
    pub train_size: Option<usize>,
    /// N of munge:N and random:N [default: 1,10,100; --quick: 1,4].
    #[arg(long)]
    pub sizes: Option<String>,
    /// MLPs in the teacher ensemble [default: 5; --quick: 3].
    #[arg(long)]
    pub members: Option<usize>,
    #[arg(long, default_value_t = 128)]
    pub teacher_width: usize,
    /// Teacher epochs [default: 60; --quick: 20].
    #[arg(long)]
    pub teacher_epochs: Option<usize>,
    #[arg(long, default_value_t = 16)]
    pub student_width: usize,
    /// Examples each student sees (epochs = this / transfer-set size) [default:
    /// 500000; --quick: 50000].
    #[arg(long)]
    pub example_budget: Option<usize>,
    /// logits or kd.
    #[arg(long, default_value = "logits")]
    pub loss: String,
    #[arg(long, default_value_t = 4.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0.9)]
    pub alpha: f64,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.003)]
    pub lr: f64,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = shrink_core::data::DEFAULT_P)]
    pub munge_p: f64,
    #[arg(long, default_value_t = shrink_core::data::DEFAULT_S)]
    pub munge_s: f64,
    /// RANDOM and MUNGE transfer sets that start with the training rows (by default
    /// they are the synthetic rows alone, as in the paper's size sweep).
    #[arg(long)]
    pub with_train: bool,
    /// Student seeds [default: 3; --quick: 1].
    #[arg(long)]
    pub seeds: Option<usize>,
}

fn list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `shrink experiment mimic`.
pub fn mimic(a: MimicArgs) -> Result<(serde_json::Value, PathBuf, bool)> {
    let c = common(&a.common, "mimic")?;
    let q = c.quick;
    let (src, data) = c.load((3000, 1000))?;
    let settings = mimic::MimicExperimentSettings {
        teachers: a.teachers,
        teacher_epochs: a.teacher_epochs.unwrap_or(if q { 2 } else { 12 }),
        width: a.width,
        bottleneck: a.bottleneck,
        augment: a.augment.unwrap_or(if q { 2 } else { 4 }),
        munge: a.munge.unwrap_or(1),
        epochs: a.epochs.unwrap_or(if q { 4 } else { 30 }),
        transfer_epochs: a.transfer_epochs.unwrap_or(if q { 2 } else { 12 }),
        lr_labels: a.lr_labels,
        lr_logits: a.lr_logits,
        lr_kd: a.lr_kd,
        bottleneck_lr_scale: a.bottleneck_lr_scale,
        temperature: a.temperature,
        alpha: a.alpha,
        batch_size: a.batch_size,
        seed: a.seed,
        only: list(&a.only),
        data,
    };
    Ok((mimic::run(&c, settings, &src)?, c.out, a.common.json))
}

/// `shrink experiment munge`.
pub fn munge(mut a: MungeArgs) -> Result<(serde_json::Value, PathBuf, bool)> {
    if a.common.data.eq_ignore_ascii_case("mnist") {
        // The shared default is MNIST, which is no table: take the bundled credit table.
        a.common.data = shrink_core::data::repo_data_dir()
            .join("credit/credit.csv")
            .display()
            .to_string();
    }
    let c = common(&a.common, "munge")?;
    let q = c.quick;
    let (mut src, mut data) = c.load((1000, 500))?;
    if let Some(n) = a.train_size {
        munge::scarce_labels(&mut src, &mut data, n)?;
    }
    let loss = distill::parse_loss(&a.loss, a.temperature, a.alpha)?.ok_or_else(|| {
        anyhow::anyhow!("--loss labels: the students learn from the teacher here; use logits or kd")
    })?;
    let sizes = match &a.sizes {
        Some(s) => parse_list(s)?,
        None if q => vec![1, 4],
        None => vec![1, 10, 100],
    };
    let settings = munge::MungeExperimentSettings {
        sizes,
        members: a.members.unwrap_or(if q { 3 } else { 5 }),
        teacher_width: a.teacher_width,
        teacher_epochs: a.teacher_epochs.unwrap_or(if q { 20 } else { 60 }),
        student_width: a.student_width,
        example_budget: a.example_budget.unwrap_or(if q { 50_000 } else { 500_000 }),
        min_epochs: 3,
        max_epochs: if q { 50 } else { 300 },
        loss,
        lr: a.lr,
        batch_size: a.batch_size,
        weight_decay: a.weight_decay,
        munge_p: a.munge_p,
        munge_s: a.munge_s,
        synthetic_only: !a.with_train,
        seeds: seeds(a.seeds, q, 3)?,
        data,
    };
    Ok((munge::run(&c, settings, &src)?, c.out, a.common.json))
}
