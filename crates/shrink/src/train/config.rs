//! Training settings as data: a `[train]` table in a spec file, overridden by flags.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Which optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimKind {
    /// SGD with (optionally Nesterov) momentum.
    Sgd,
    Adam,
}

/// Learning-rate schedule over the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    Constant,
    /// lr · gamma^(epoch / step_epochs)
    Step,
    /// lr · ½(1 + cos(π·t)), t = step / total steps
    Cosine,
    /// lr · (1 − t)^power (Caffe's "poly")
    Poly,
}

/// Which loss against labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    CrossEntropy,
    /// Multi-class hinge (SVM) loss.
    Hinge,
}

/// Data augmentation (images only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random translation of up to this many pixels (zero fill).
    pub shift: usize,
    /// Random rotation of up to ± this many degrees.
    pub rotate: f32,
    /// Random horizontal flips (not for digits).
    pub hflip: bool,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            shift: 2,
            rotate: 0.0,
            hflip: false,
        }
    }
}

/// Everything that decides how a model is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub optimizer: OptimKind,
    pub momentum: f64,
    pub nesterov: bool,
    /// L2 penalty (weight decay).
    pub weight_decay: f64,
    /// L1 penalty on the weights of linear and conv layers.
    pub l1: f64,
    pub schedule: ScheduleKind,
    /// For `step`: multiply by `gamma` every `step_epochs` epochs.
    pub step_epochs: usize,
    pub gamma: f64,
    /// For `poly`.
    pub power: f64,
    pub loss: LossKind,
    /// Fraction of the training split held out for validation (0 for none).
    pub val_fraction: f32,
    /// Stop after this many epochs without a validation gain.
    pub patience: Option<usize>,
    /// Give back the weights of the best validation epoch rather than the last.
    pub restore_best: bool,
    pub augment: Option<AugmentConfig>,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 64,
            lr: 0.01,
            optimizer: OptimKind::Sgd,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            l1: 0.0,
            schedule: ScheduleKind::Cosine,
            step_epochs: 10,
            gamma: 0.1,
            power: 1.0,
            loss: LossKind::CrossEntropy,
            val_fraction: 0.1,
            patience: None,
            restore_best: false,
            augment: None,
            seed: 1,
        }
    }
}

impl TrainConfig {
    /// Settings from a spec's `[train]` table (missing keys take the defaults).
    pub fn from_table(table: Option<&toml::Value>) -> Result<Self> {
        match table {
            None => Ok(TrainConfig::default()),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| anyhow::anyhow!("[train]: {}", e.message())),
        }
    }

    /// Reject settings that cannot train.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            bail!("batch size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("learning rate must be a positive number, got {}", self.lr);
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            bail!("val_fraction must be in [0, 1), got {}", self.val_fraction);
        }
        if !(0.0..1.0).contains(&self.momentum) {
            bail!("momentum must be in [0, 1), got {}", self.momentum);
        }
        if self.weight_decay < 0.0 || self.l1 < 0.0 {
            bail!("penalties must be non-negative");
        }
        Ok(())
    }

    /// Learning rate at optimiser step `step` of `total`.
    pub fn lr_at(&self, step: usize, total: usize, steps_per_epoch: usize) -> f64 {
        let t = step as f64 / total.max(1) as f64;
        match self.schedule {
            ScheduleKind::Constant => self.lr,
            ScheduleKind::Step => {
                let epoch = step / steps_per_epoch.max(1);
                self.lr * self.gamma.powi((epoch / self.step_epochs.max(1)) as i32)
            }
            ScheduleKind::Cosine => self.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()),
            ScheduleKind::Poly => self.lr * (1.0 - t).max(0.0).powf(self.power),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let mut c = TrainConfig {
            lr: 1.0,
            ..Default::default()
        };
        c.schedule = ScheduleKind::Cosine;
        assert!((c.lr_at(0, 100, 10) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(50, 100, 10) - 0.5).abs() < 1e-12);
        c.schedule = ScheduleKind::Step;
        c.step_epochs = 2;
        assert!((c.lr_at(39, 100, 10) - 0.1).abs() < 1e-12);
        c.schedule = ScheduleKind::Poly;
        c.power = 2.0;
        assert!((c.lr_at(50, 100, 10) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn table_overrides_defaults_and_rejects_typos() {
        let v: toml::Value = toml::from_str("epochs = 3\nlr = 0.1").unwrap();
        let c = TrainConfig::from_table(Some(&v)).unwrap();
        assert_eq!(c.epochs, 3);
        assert_eq!(c.batch_size, 64);
        let bad: toml::Value = toml::from_str("epoch = 3").unwrap();
        assert!(TrainConfig::from_table(Some(&bad)).is_err());
    }
}
