//! The training loop: optimisers, schedules, losses, metrics, checkpoints and resume.
//!
//! One epoch = one seeded pass over the shuffled training split in mini-batches. Every
//! random choice (shuffle order, augmentation, dropout masks) is derived from
//! `(seed, epoch)`, so a run resumed from the checkpoint written after epoch `e` replays
//! epochs `e+1…` exactly as an uninterrupted run would.
//!
//! Not here: what the model is (`model`), where data comes from (`shrink-data`).

pub mod config;
pub mod progress;

pub use config::{LossKind, OptimKind, ScheduleKind, TrainConfig};

use crate::batch::{Batcher, Prepared};
use crate::model::Net;
use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a batch is trained against.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Class labels (cross-entropy or hinge, per `TrainConfig::loss`).
    Labels,
    /// A teacher's logits for every training example, `[n, classes]` row-major, fitted
    /// with `loss` (mimic learning, distillation; see `distill`).
    Teacher {
        logits: &'a [f32],
        loss: DistillLoss,
    },
}

/// How a student fits its teacher's logits `z`. The losses themselves are in [`loss`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DistillLoss {
    /// Logit regression (Ba & Caruana 2014): L2 between the student's and the teacher's
    /// pre-softmax logits.
    Logits,
    /// Soft targets (Hinton, Vinyals & Dean 2015): KL divergence between the
    /// temperature-`T` softmaxes, weighted `alpha`, plus `1 − alpha` times the
    /// cross-entropy with the example's hard label.
    Kd { temperature: f64, alpha: f64 },
}

/// Points where a training procedure can step in (pruning masks, tied weights, frozen
/// layers). The defaults do nothing.
pub trait TrainHooks {
    /// Change gradients before the optimiser sees them (mask pruned weights, sum per cluster).
    fn grads(&mut self, _net: &Net, _grads: &mut GradientsParams, _lr: f64) {}
    /// Fix up the model after each optimiser step (re-apply masks, re-tie weights).
    fn after_step(&mut self, net: Net) -> Net {
        net
    }
    /// Called after every optimiser step (after `after_step`) with the number of steps
    /// done so far in the run; return `false` to end training there. For step-based
    /// experiments: evaluate every K steps, stop at an exact step count.
    fn step_done(&mut self, _net: &Net, _steps: usize) -> bool {
        true
    }
}

/// No hooks.
pub struct Plain;
impl TrainHooks for Plain {}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
    pub test_accuracy: f64,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// The loss became NaN or infinite: the learning rate is too high for this net. Returned
/// (inside the `anyhow::Error`) by [`train`], so callers can tell it from other failures
/// with `err.downcast_ref::<Diverged>()`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the loss became {loss} at epoch {epoch}, batch {batch} (lr {lr:.3e}); training stopped{note}. Try a lower --lr.")]
pub struct Diverged {
    pub loss: f64,
    pub epoch: usize,
    pub batch: usize,
    pub lr: f64,
    /// What is kept for a resume, if anything.
    pub note: String,
}

/// What is persisted next to the checkpointed model and optimiser.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    /// Epochs completed.
    epoch: usize,
    best_val: Option<f64>,
    best_epoch: usize,
    seconds: f64,
    config: TrainConfig,
}

/// The outcome of a run.
pub struct TrainOutcome {
    pub net: Net,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub metrics: Vec<EpochMetrics>,
    pub seconds: f64,
    pub stopped_early: bool,
}

/// Where a run writes its checkpoints and metrics (None: keep everything in memory).
pub struct RunDir {
    pub dir: PathBuf,
    pub resume: bool,
    /// Stop this invocation after this many epochs (as if interrupted); the checkpoint
    /// lets a later `--resume` carry on.
    pub stop_after: Option<usize>,
    /// Keep the weights after every N-th epoch as `snapshots/epoch-NNN.safetensors`
    /// (for watching features evolve, `shrink viz`).
    pub snapshot_every: Option<usize>,
}

impl RunDir {
    fn ckpt(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }
}

fn mix(seed: u64, epoch: usize) -> u64 {
    // SplitMix64 of (seed, epoch): decorrelated per-epoch seeds.
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn build_optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let decay = (cfg.weight_decay > 0.0)
        .then(|| burn::optim::decay::WeightDecayConfig::new(cfg.weight_decay as f32));
    match cfg.optimizer {
        OptimKind::Sgd => SgdConfig::new()
            .with_momentum((cfg.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(cfg.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(cfg.nesterov)
            }))
            .with_weight_decay(decay)
            .init(),
        OptimKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
    }
}

/// Loss of the student's `logits` `g` `[b, k]` against the batch's targets: the hard
/// labels `y` (with `kind`) or, when the batch carries teacher logits `z`, the
/// distillation loss it was prepared with. A scalar `[1]`; every loss is a mean over
/// the batch. Every loss shrink trains with is computed here.
pub fn loss(kind: LossKind, logits: Tensor<2>, prepared: &Prepared, device: &Device) -> Tensor<1> {
    match &prepared.teacher {
        None => label_loss(kind, logits, prepared, device),
        Some((z, DistillLoss::Logits)) => {
            // Ba & Caruana: L = 1/(2T) Σ_t ‖g(x_t) − z_t‖² over the T examples, here
            // over the batch.
            let diff = logits - z.clone();
            (diff.clone() * diff).sum_dim(1).mean() * 0.5
        }
        Some((z, DistillLoss::Kd { temperature, alpha })) => {
            // Hinton et al.: α·T²·KL(softmax(z/T) ‖ softmax(g/T)) + (1−α)·CE(g, y).
            // T² keeps the soft part's gradients on the scale of the hard part's as T
            // changes. KL = Σ p_z (log p_z − log p_g).
            let t = *temperature;
            let log_pz = log_softmax(z.clone() / t, 1);
            let log_pg = log_softmax(logits.clone() / t, 1);
            let kl = (log_pz.clone().exp() * (log_pz - log_pg)).sum_dim(1).mean();
            let soft = kl * (alpha * t * t);
            if *alpha < 1.0 {
                soft + label_loss(LossKind::CrossEntropy, logits, prepared, device) * (1.0 - alpha)
            } else {
                soft
            }
        }
    }
}

/// Loss against the hard labels.
fn label_loss(
    kind: LossKind,
    logits: Tensor<2>,
    prepared: &Prepared,
    device: &Device,
) -> Tensor<1> {
    let onehot = prepared.one_hot(device);
    match kind {
        LossKind::CrossEntropy => (log_softmax(logits, 1) * onehot).sum_dim(1).mean().neg(),
        LossKind::Hinge => {
            // Multi-class hinge (Weston & Watkins): Σ_{j≠y} max(0, 1 + s_j − s_y).
            let sy = (logits.clone() * onehot.clone()).sum_dim(1);
            let margins = (logits - sy + 1.0).clamp_min(0.0);
            (margins * (onehot.neg() + 1.0)).sum_dim(1).mean()
        }
    }
}

/// Train `net` on `train` (already normalised) and report on `val`/`test` after each
/// epoch. Checkpoints after every epoch when `run` is given.
#[allow(clippy::too_many_arguments)]
pub fn train(
    mut net: Net,
    cfg: &TrainConfig,
    data: &Batcher,
    targets: Targets<'_>,
    device: &Device,
    run: Option<&RunDir>,
    hooks: &mut dyn TrainHooks,
    quiet: bool,
) -> Result<TrainOutcome> {
    cfg.validate()?;
    if let Targets::Teacher { logits, .. } = targets {
        if cfg.augment.is_some() {
            bail!("augmentation cannot be used with teacher targets: the teacher's logits are for the examples as they are (make the augmented copies part of the transfer set instead)");
        }
        let rows = data.train_len() * data.classes;
        if logits.len() != rows {
            bail!(
                "{} teacher logits for {} training examples of {} classes",
                logits.len(),
                data.train_len(),
                data.classes
            );
        }
    }
    let mut optim = build_optimizer(cfg);
    let mut start_epoch = 0;
    let mut best_val: Option<f64> = None;
    let mut best_epoch = 0;
    let mut seconds_before = 0.0;
    let mut metrics: Vec<EpochMetrics> = Vec::new();

    if let Some(run) = run {
        std::fs::create_dir_all(&run.dir)
            .with_context(|| format!("cannot create {}", run.dir.display()))?;
        let ckpt = run.ckpt();
        if run.resume && ckpt.join("state.json").is_file() {
            let state: CheckpointState =
                serde_json::from_slice(&std::fs::read(ckpt.join("state.json"))?)
                    .with_context(|| format!("{}: corrupt checkpoint state", ckpt.display()))?;
            if state.config.seed != cfg.seed || state.config.batch_size != cfg.batch_size {
                bail!(
                    "{}: the checkpoint was made with seed {} and batch size {}, not {} and {}; resume with the same settings",
                    ckpt.display(),
                    state.config.seed,
                    state.config.batch_size,
                    cfg.seed,
                    cfg.batch_size
                );
            }
            net = net.try_load_file(ckpt.join("model.bpk")).map_err(|e| {
                anyhow::anyhow!("{}: cannot load checkpointed model: {e:?}", ckpt.display())
            })?;
            optim = optim.load(ckpt.join("optim.bpk")).map_err(|e| {
                anyhow::anyhow!("{}: cannot load optimiser state: {e:?}", ckpt.display())
            })?;
            start_epoch = state.epoch;
            best_val = state.best_val;
            best_epoch = state.best_epoch;
            seconds_before = state.seconds;
            metrics = read_metrics(&run.dir.join("metrics.jsonl"))?
                .into_iter()
                .filter(|m| m.epoch <= start_epoch)
                .collect();
            if !quiet {
                eprintln!("resuming after epoch {start_epoch} from {}", ckpt.display());
            }
        } else if run.resume {
            if !quiet {
                eprintln!(
                    "no checkpoint in {}, starting from scratch",
                    run.dir.display()
                );
            }
        } else {
            // A fresh run: drop stale metrics from an older run in the same directory.
            let _ = std::fs::remove_file(run.dir.join("metrics.jsonl"));
            let _ = std::fs::remove_dir_all(run.ckpt());
            let _ = std::fs::remove_dir_all(run.dir.join(crate::model::io::SNAPSHOT_DIR));
        }
    }

    let n = data.train_len();
    let steps_per_epoch = n.div_ceil(cfg.batch_size);
    // `epochs`, lengthened to `min_steps` optimiser steps for small data sets.
    let epochs = cfg.epochs_for(n);
    let total_steps = steps_per_epoch * epochs;
    // Examples are images, or rows of a table.
    let unit = if data.shape.len() == 1 { "rows" } else { "img" };
    let mut stopped_early = false;
    let mut stop_requested = false;
    let started = Instant::now();

    // The best weights so far (by validation accuracy), for early stopping.
    let mut best_net: Option<Net> = None;
    if let Some(run) = run {
        let p = run.ckpt().join("best.bpk");
        if run.resume && p.is_file() && start_epoch > 0 {
            best_net = Some(
                net.clone()
                    .try_load_file(&p)
                    .map_err(|e| anyhow::anyhow!("{}: {e:?}", p.display()))?,
            );
        }
    }

    for epoch in start_epoch..epochs {
        let epoch_seed = mix(cfg.seed, epoch + 1);
        device.seed(epoch_seed);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(epoch_seed);
        let order = shrink_data::shuffled_indices(n, epoch_seed);
        let t0 = Instant::now();
        let bar = progress::bar(n as u64, &format!("epoch {}/{}", epoch + 1, epochs), quiet);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut lr = cfg.lr;
        for (bi, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let step = epoch * steps_per_epoch + bi;
            lr = cfg.lr_at(step, total_steps, steps_per_epoch);
            let prepared =
                data.train_batch(chunk, &targets, cfg.augment.as_ref(), &mut rng, device);
            let logits = net.forward(prepared.x.clone());
            let mut l = loss(cfg.loss, logits.clone(), &prepared, device);
            if cfg.l1 > 0.0 {
                for (_, w) in net.weights() {
                    l = l + w.l1() * cfg.l1;
                }
            }
            let loss_value: f64 = l.clone().into_scalar::<f32>() as f64;
            if !loss_value.is_finite() {
                bar.finish_and_clear();
                return Err(Diverged {
                    loss: loss_value,
                    epoch: epoch + 1,
                    batch: bi + 1,
                    lr,
                    note: if run.is_some() && epoch > 0 {
                        format!(
                            "; the checkpoint after epoch {epoch} is kept (continue with --resume)"
                        )
                    } else {
                        String::new()
                    },
                }
                .into());
            }
            let mut grads = GradientsParams::from_grads(l.backward(), &net);
            hooks.grads(&net, &mut grads, lr);
            net = optim.step(lr, net, grads);
            net = hooks.after_step(net);
            loss_sum += loss_value * chunk.len() as f64;
            correct += prepared.correct(logits.inner());
            seen += chunk.len();
            bar.inc(chunk.len() as u64);
            if !hooks.step_done(&net, step + 1) {
                stop_requested = true;
                break;
            }
            if bi % 10 == 0 {
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% lr {:.2e}",
                    loss_sum / seen as f64,
                    100.0 * correct as f64 / seen as f64,
                    lr
                ));
            }
        }
        bar.finish_and_clear();
        let secs = t0.elapsed().as_secs_f64();
        let valid = net.valid();
        let val_accuracy = data
            .has_val()
            .then(|| data.accuracy(&valid, crate::batch::Split::Val, device));
        let test_accuracy = data.accuracy(&valid, crate::batch::Split::Test, device);
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            val_accuracy,
            test_accuracy,
            seconds: secs,
            images_per_second: seen as f64 / secs,
        };
        if !quiet {
            eprintln!(
                "epoch {:>3}/{}  loss {:.4}  train {:.2}%  {}test {:.2}%  {:.0} {unit}/s  {:.1}s",
                m.epoch,
                epochs,
                m.train_loss,
                100.0 * m.train_accuracy,
                m.val_accuracy
                    .map(|v| format!("val {:.2}%  ", 100.0 * v))
                    .unwrap_or_default(),
                100.0 * m.test_accuracy,
                m.images_per_second,
                secs
            );
        }
        // Early stopping on the validation split (the test split is never used to choose).
        let mut improved = false;
        if let Some(v) = val_accuracy {
            if best_val.is_none_or(|b| v > b) {
                best_val = Some(v);
                best_epoch = epoch + 1;
                best_net = Some(net.clone());
                improved = true;
            }
        } else {
            best_epoch = epoch + 1;
        }
        metrics.push(m.clone());
        if let Some(run) = run {
            append_metrics(&run.dir.join("metrics.jsonl"), &m)?;
            let state = CheckpointState {
                epoch: epoch + 1,
                best_val,
                best_epoch,
                seconds: seconds_before + started.elapsed().as_secs_f64(),
                config: cfg.clone(),
            };
            write_checkpoint(&run.ckpt(), &net, &optim, &state, improved.then_some(&net))?;
            if run
                .snapshot_every
                .is_some_and(|k| k > 0 && (epoch + 1) % k == 0)
            {
                let path = crate::model::io::snapshot_path(&run.dir, epoch + 1);
                std::fs::create_dir_all(path.parent().expect("snapshot path has a folder"))?;
                crate::model::io::save_weights(&net, &path)?;
            }
        }
        if stop_requested {
            break;
        }
        if run
            .and_then(|r| r.stop_after)
            .is_some_and(|k| epoch + 1 - start_epoch >= k)
            && epoch + 1 < epochs
        {
            if !quiet {
                eprintln!(
                    "stopping after epoch {} as asked; continue with --resume",
                    epoch + 1
                );
            }
            break;
        }
        if let (Some(p), Some(_)) = (cfg.patience, val_accuracy) {
            if epoch + 1 - best_epoch >= p {
                if !quiet {
                    eprintln!("early stop: no validation gain for {p} epochs (best at epoch {best_epoch})");
                }
                stopped_early = true;
                break;
            }
        }
    }
    let epochs_run = metrics.len();
    let final_net = match (cfg.restore_best, best_net) {
        (true, Some(b)) => b,
        _ => net,
    };
    Ok(TrainOutcome {
        net: final_net,
        epochs_run,
        best_epoch,
        metrics,
        seconds: seconds_before + started.elapsed().as_secs_f64(),
        stopped_early,
    })
}

fn append_metrics(path: &Path, m: &EpochMetrics) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(f, "{}", serde_json::to_string(m)?)?;
    Ok(())
}

fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).with_context(|| {
            format!("{}: line {} is not a metrics record", path.display(), i + 1)
        })?);
    }
    // A run killed after writing metrics but before its checkpoint replays that epoch:
    // keep the last record of each epoch.
    out.dedup_by(|b: &mut EpochMetrics, a: &mut EpochMetrics| a.epoch == b.epoch);
    Ok(out)
}

/// Write the checkpoint directory atomically: build it under a temporary name, then swap.
fn write_checkpoint(
    dir: &Path,
    net: &Net,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
    best: Option<&Net>,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    net.clone()
        .save_file(tmp.join("model.bpk"))
        .map_err(|e| anyhow::anyhow!("cannot write checkpoint: {e:?}"))?;
    optim
        .save(tmp.join("optim.bpk"))
        .map_err(|e| anyhow::anyhow!("cannot write optimiser checkpoint: {e:?}"))?;
    match best {
        Some(b) => b
            .clone()
            .save_file(tmp.join("best.bpk"))
            .map_err(|e| anyhow::anyhow!("cannot write checkpoint: {e:?}"))?,
        None => {
            if dir.join("best.bpk").is_file() {
                std::fs::copy(dir.join("best.bpk"), tmp.join("best.bpk"))?;
            }
        }
    }
    std::fs::write(tmp.join("state.json"), serde_json::to_vec_pretty(state)?)?;
    let old = dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&tmp, dir)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Feat;

    /// One example of 3 classes, label `y`, student logits `g`, teacher logits `z`.
    fn value(g: [f32; 3], z: Option<([f32; 3], DistillLoss)>, y: u32) -> f32 {
        let dev = Device::flex();
        let row = |v: [f32; 3]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 3]), &dev);
        let prepared = Prepared {
            x: Feat::Flat(Tensor::zeros([1, 1], &dev)),
            y: vec![y],
            classes: 3,
            teacher: z.map(|(z, l)| (row(z), l)),
        };
        loss(LossKind::CrossEntropy, row(g), &prepared, &dev).into_scalar::<f32>()
    }

    fn log_softmax(v: [f32; 3], t: f32) -> [f32; 3] {
        let m = v.iter().map(|x| x / t).fold(f32::MIN, f32::max);
        let lse = m + v.iter().map(|x| (x / t - m).exp()).sum::<f32>().ln();
        v.map(|x| x / t - lse)
    }

    #[test]
    fn distillation_losses_match_their_formulas() {
        let (g, z) = ([1.0, 2.0, -1.0], [3.0, 0.0, 1.0]);
        // Logit regression: ½‖g − z‖² = ½(4 + 4 + 4).
        let l2 = value(g, Some((z, DistillLoss::Logits)), 0);
        assert!((l2 - 6.0).abs() < 1e-5, "{l2}");
        // KD: α·T²·KL(softmax(z/T) ‖ softmax(g/T)) + (1 − α)·CE(g, y).
        let (t, alpha) = (4.0f32, 0.75f32);
        let (lz, lg) = (log_softmax(z, t), log_softmax(g, t));
        let kl: f32 = (0..3).map(|i| lz[i].exp() * (lz[i] - lg[i])).sum();
        let ce = -log_softmax(g, 1.0)[2];
        let want = alpha * t * t * kl + (1.0 - alpha) * ce;
        let kd = DistillLoss::Kd {
            temperature: t as f64,
            alpha: alpha as f64,
        };
        let got = value(g, Some((z, kd)), 2);
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        // α = 0 is the hard-label cross-entropy; a perfect soft match costs nothing.
        let hard = DistillLoss::Kd {
            temperature: 2.0,
            alpha: 0.0,
        };
        assert!((value(g, Some((z, hard)), 2) - value(g, None, 2)).abs() < 1e-6);
        let soft = DistillLoss::Kd {
            temperature: 2.0,
            alpha: 1.0,
        };
        assert!(value(z, Some((z, soft)), 1).abs() < 1e-6);
    }
}
