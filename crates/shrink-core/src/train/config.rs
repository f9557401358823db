//! Training settings as data: a `[train]` table in a spec file, overridden by flags.

pub use crate::batch::AugmentConfig;
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
    /// At least this many optimiser steps: on a small data set `epochs` passes are few
    /// steps (100 rows at batch 64 are 2 steps an epoch), so the run is lengthened to
    /// `ceil(min_steps / steps per epoch)` epochs. 0: exactly `epochs`.
    pub min_steps: usize,
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
            min_steps: 0,
        }
    }
}

/// Settings a command line may give over a spec's `[train]` table (None: the table's).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub epochs: Option<usize>,
    pub lr: Option<f64>,
    pub batch_size: Option<usize>,
    pub seed: Option<u64>,
}

impl TrainConfig {
    /// These settings with `o` laid over them, validated.
    pub fn with(&self, o: &Overrides) -> Result<TrainConfig> {
        let mut c = self.clone();
        c.epochs = o.epochs.unwrap_or(c.epochs);
        c.lr = o.lr.unwrap_or(c.lr);
        c.batch_size = o.batch_size.unwrap_or(c.batch_size);
        c.seed = o.seed.unwrap_or(c.seed);
        c.validate()?;
        Ok(c)
    }

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
        if self.epochs == 0 {
            bail!("epochs must be at least 1 (an untrained model is not a model)");
        }
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

    /// Epochs to run on `n` training examples: `epochs`, or more when that would be
    /// fewer than `min_steps` optimiser steps.
    pub fn epochs_for(&self, n: usize) -> usize {
        let per_epoch = n.div_ceil(self.batch_size.max(1)).max(1);
        self.epochs.max(self.min_steps.div_ceil(per_epoch))
    }

    /// Fit settings written for 28×28 digits to the data's example `shape`, returning a
    /// note per change. Augmentation is for images: it is dropped for tables (`[F]`),
    /// and a shift is capped at 1/14 of the image side (2 pixels of a 28-pixel digit;
    /// rounded down) and dropped when that is 0 — two pixels are a quarter of an 8×8
    /// digit, enough to change its class. Fitting twice changes nothing more. The saved
    /// `[train]` table records what ran.
    pub fn fit_to_input(&mut self, shape: &[usize]) -> Vec<String> {
        let mut notes = Vec::new();
        let Some(aug) = self.augment.as_mut() else {
            return notes;
        };
        if shape.len() != 3 {
            notes.push(format!(
                "augment dropped: the data are not images (examples of shape {shape:?})"
            ));
            self.augment = None;
            return notes;
        }
        let side = shape[1].min(shape[2]);
        if aug.shift > side / 14 {
            let shift = side / 14;
            notes.push(format!(
                "augment shift {} -> {shift} pixels for {side}-pixel images",
                aug.shift
            ));
            aug.shift = shift;
        }
        if aug.shift == 0 && aug.rotate == 0.0 && !aug.hflip {
            self.augment = None;
        }
        notes
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
    fn min_steps_lengthen_short_runs_only() {
        let c = TrainConfig {
            epochs: 3,
            batch_size: 64,
            min_steps: 100,
            ..Default::default()
        };
        // 100 rows: 2 steps an epoch -> 50 epochs; 60 000 rows: 938 steps, 3 epochs.
        assert_eq!(c.epochs_for(100), 50);
        assert_eq!(c.epochs_for(60_000), 3);
        assert_eq!(c.epochs_for(0), 100);
        let plain = TrainConfig {
            epochs: 3,
            ..Default::default()
        };
        assert_eq!(plain.epochs_for(100), 3);
        assert!(TrainConfig {
            epochs: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn augmentation_fits_the_input() {
        let with_shift = || TrainConfig {
            augment: Some(AugmentConfig::default()),
            ..Default::default()
        };
        let mut c = with_shift();
        assert!(c.fit_to_input(&[1, 28, 28]).is_empty());
        assert_eq!(c.augment.as_ref().unwrap().shift, 2);
        let mut c = with_shift();
        let notes = c.fit_to_input(&[13]);
        assert!(
            c.augment.is_none() && notes[0].contains("not images"),
            "{notes:?}"
        );
        // 8×8: 2·8/28 rounds down to 0, nothing left to augment.
        let mut c = with_shift();
        assert_eq!(c.fit_to_input(&[1, 8, 8]).len(), 1);
        assert!(c.augment.is_none());
        let mut c = with_shift();
        c.fit_to_input(&[3, 16, 16]);
        assert_eq!(c.augment.as_ref().unwrap().shift, 1);
        assert!(c.fit_to_input(&[3, 16, 16]).is_empty(), "fitting twice");
        let mut c = with_shift();
        assert!(c.fit_to_input(&[3, 32, 32]).is_empty());
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
