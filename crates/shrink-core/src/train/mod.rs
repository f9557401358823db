//! The training loop — the one epoch/step loop of shrink: one [`step`] of the optimiser,
//! epochs of steps in [`train`], and the losses.
//!
//! One epoch = one seeded pass over the shuffled training split in mini-batches. Every
//! random choice (shuffle order, augmentation, dropout masks) is derived from
//! `(seed, epoch)`, so a run resumed from the checkpoint written after epoch `e` replays
//! epochs `e+1…` exactly as an uninterrupted run would. What is trained is a
//! [`Trainee`]: a [`Net`], or sparse variational dropout's variational parameters
//! (`compress::sparse_vd`). Around the loop, not inside it: [`TrainHooks`] (pruning
//! masks, tied weights, step counts, extra loss terms such as sparse VD's KL term, the
//! epoch seeds, per-epoch reports), the run directory ([`checkpoint`]: checkpoints and
//! resume, metrics.jsonl, snapshots), early stopping ([`Best`]), the progress bar
//! ([`progress`]) and data parallelism over several devices ([`parallel`], a step
//! strategy). SGD is Burn's arithmetic in one fused in-place pass ([`sgd`]).
//!
//! Not here: what the model is (`model`), how examples become batches (`batch`), where
//! data comes from (`shrink-data`).

pub mod checkpoint;
pub mod config;
pub mod parallel;
pub mod progress;
pub mod sgd;

pub use crate::batch::{DistillLoss, Targets};
pub use checkpoint::RunDir;
pub use config::{LossKind, OptimKind, ScheduleKind, TrainConfig};

use crate::batch::{Batcher, Prepared, Split};
use crate::model::{Feat, Net};
use anyhow::{bail, Result};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What the loop can train: a Burn module that gives logits for a training batch.
/// [`Net`] is one; sparse variational dropout's parameters (`compress::sparse_vd`) are
/// another.
pub trait Trainee: Module + 'static {
    /// Logits `[batch, classes]` of a training batch (dropout and sampled noise on).
    fn forward_train(&self, x: Feat) -> Tensor<2>;
    /// `loss` plus the L1 penalty `l1 · Σ|w|` over the weights (called when `l1 > 0`).
    fn add_l1(&self, loss: Tensor<1>, l1: f64) -> Tensor<1>;
    /// The plain network these parameters stand for: what is evaluated after every
    /// epoch and kept in snapshots.
    fn net(&self) -> Result<Net>;
}

impl Trainee for Net {
    fn forward_train(&self, x: Feat) -> Tensor<2> {
        self.forward(x)
    }

    fn add_l1(&self, mut loss: Tensor<1>, l1: f64) -> Tensor<1> {
        for (_, w) in self.weights() {
            loss = loss + w.l1() * l1;
        }
        loss
    }

    fn net(&self) -> Result<Net> {
        Ok(self.clone())
    }
}

/// Points where a training procedure can step in (pruning masks, tied weights, frozen
/// layers, extra loss terms, its own seeds and reports). The defaults do nothing.
pub trait TrainHooks<M = Net> {
    /// Change gradients before the optimiser sees them (mask pruned weights, sum per cluster).
    fn grads(&mut self, _net: &M, _grads: &mut GradientsParams, _lr: f64) {}
    /// Fix up the model after each optimiser step (re-apply masks, re-tie weights).
    fn after_step(&mut self, net: M) -> M {
        net
    }
    /// Called after every optimiser step (after `after_step`) with the number of steps
    /// done so far in the run; return `false` to end training there. For step-based
    /// experiments: evaluate every K steps, stop at an exact step count.
    fn step_done(&mut self, _net: &M, _steps: usize) -> bool {
        true
    }
    /// A term added to each step's loss, computed once per step from the model (sparse
    /// VD's KL term with its warm-up). Not part of the reported training loss.
    fn extra_loss(&mut self, _net: &M) -> Option<Tensor<1>> {
        None
    }
    /// The seed of epoch `epoch` (from 0) of a run seeded with `seed`: its shuffle
    /// order, augmentation and device noise.
    fn epoch_seed(&self, seed: u64, epoch: usize) -> u64 {
        mix(seed, epoch + 1)
    }
    /// Called after each epoch with its metrics (before checkpoints and early stopping).
    fn epoch_done(&mut self, _net: &M, _metrics: &EpochMetrics) -> Result<()> {
        Ok(())
    }
}

/// No hooks.
pub struct Plain;
impl<M> TrainHooks<M> for Plain {}

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

/// The outcome of a run.
pub struct TrainOutcome<M = Net> {
    pub net: M,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub metrics: Vec<EpochMetrics>,
    pub seconds: f64,
    pub stopped_early: bool,
}

/// What a run trains on and how, besides the network itself.
pub struct Job<'a, M = Net> {
    pub cfg: &'a TrainConfig,
    /// The splits, already normalised by the spec.
    pub data: &'a Batcher,
    pub targets: Targets<'a>,
    pub device: &'a Device,
    /// Where checkpoints and metrics go (None: keep everything in memory).
    pub run: Option<&'a RunDir>,
    pub hooks: &'a mut dyn TrainHooks<M>,
    /// No progress bar and no per-epoch lines.
    pub quiet: bool,
}

/// Train `net` on `job.data` and report on its validation and test splits after each
/// epoch. Checkpoints after every epoch when `job.run` is given.
pub fn train<M: Trainee>(net: M, job: Job<'_, M>) -> Result<TrainOutcome<M>> {
    let Job {
        cfg,
        data,
        targets,
        device,
        run,
        hooks,
        quiet,
    } = job;
    cfg.validate()?;
    check_targets(cfg, data, &targets)?;
    let start = match run {
        Some(run) => run.start(net, optimizer(cfg), cfg, quiet)?,
        None => checkpoint::Start::fresh(net, optimizer(cfg)),
    };
    let (mut net, mut optim, mut best, mut metrics) =
        (start.net, start.optim, start.best, start.metrics);
    let n = data.train_len();
    let steps_per_epoch = n.div_ceil(cfg.batch_size);
    // `epochs`, lengthened to `min_steps` optimiser steps for small data sets.
    let epochs = cfg.epochs_for(n);
    let total_steps = steps_per_epoch * epochs;
    let started = Instant::now();
    let mut stopped_early = false;
    // `--device a,b,…`: every step split over the devices (issue 18).
    let parallel = parallel::DataParallel::from_replicas(device);
    let on = match &parallel {
        Some(p) => p.label(device),
        None => crate::device::label(device),
    };

    for epoch in start.epoch..epochs {
        let epoch_seed = hooks.epoch_seed(cfg.seed, epoch);
        device.seed(epoch_seed);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(epoch_seed);
        let order = shrink_data::shuffled_indices(n, epoch_seed);
        let bar = progress::bar(
            n as u64,
            &format!("epoch {}/{} on {on}", epoch + 1, epochs),
            quiet,
        );
        let (t0, mut tally, mut lr, mut stop) = (Instant::now(), Tally::default(), cfg.lr, false);
        for (bi, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let steps = epoch * steps_per_epoch + bi;
            lr = cfg.lr_at(steps, total_steps, steps_per_epoch);
            let stepped = match &parallel {
                Some(p) => p.step(
                    net, &mut optim, data, chunk, &targets, &mut rng, cfg, lr, hooks, device,
                ),
                None => {
                    let batch =
                        data.train_batch(chunk, &targets, cfg.augment.as_ref(), &mut rng, device);
                    step(net, &mut optim, &batch, cfg, lr, hooks, device)
                }
            };
            let (next, loss, correct) = match stepped {
                Ok(s) => s,
                Err(NonFinite(loss)) => {
                    bar.finish_and_clear();
                    let kept = run.is_some() && epoch > 0;
                    return Err(Diverged::at(loss, epoch, bi + 1, lr, kept).into());
                }
            };
            net = next;
            tally.add(loss, correct, chunk.len());
            bar.inc(chunk.len() as u64);
            if !hooks.step_done(&net, steps + 1) {
                stop = true;
                break;
            }
            if bi % 10 == 0 {
                bar.set_message(tally.status(lr));
            }
        }
        bar.finish_and_clear();
        let m = tally.finish(
            epoch + 1,
            lr,
            t0.elapsed().as_secs_f64(),
            &net.net()?,
            data,
            device,
        );
        if !quiet {
            eprintln!("{}", epoch_line(&m, epochs, data));
        }
        hooks.epoch_done(&net, &m)?;
        let improved = best.update(&m, &net);
        metrics.push(m.clone());
        if let Some(run) = run {
            let seconds = start.seconds + started.elapsed().as_secs_f64();
            run.epoch_done(&m, &net, &optim, &best, improved, seconds, cfg)?;
        }
        if stop || run.is_some_and(|r| r.stop_here(epoch + 1, start.epoch, epochs, quiet)) {
            break;
        }
        if best.out_of_patience(cfg, &m, quiet) {
            stopped_early = true;
            break;
        }
    }
    Ok(TrainOutcome {
        epochs_run: metrics.len(),
        best_epoch: best.epoch,
        net: match (cfg.restore_best, best.net) {
            (true, Some(b)) => b,
            _ => net,
        },
        metrics,
        seconds: start.seconds + started.elapsed().as_secs_f64(),
        stopped_early,
    })
}

/// A loss that is NaN or infinite (the step was not taken).
#[derive(Debug, Clone, Copy)]
pub struct NonFinite(pub f64);

/// One optimiser step on `batch`: forward, loss (+ L1 penalty, + the hooks' extra
/// term), backward, hooks, update. Returns the updated model, the batch's mean loss
/// (without the extra term) and how many examples it classified right (before the
/// update).
pub fn step<M: Trainee>(
    net: M,
    optim: &mut ModuleOptimizer,
    batch: &Prepared,
    cfg: &TrainConfig,
    lr: f64,
    hooks: &mut dyn TrainHooks<M>,
    device: &Device,
) -> Result<(M, f64, usize), NonFinite> {
    let logits = net.forward_train(batch.x.clone()); // [b, classes]
    let mut l = loss(cfg.loss, logits.clone(), batch, device);
    if cfg.l1 > 0.0 {
        l = net.add_l1(l, cfg.l1);
    }
    let (total, value) = objective(l, hooks.extra_loss(&net))?;
    let grads = GradientsParams::from_grads(total.backward(), &net);
    let net = descend(net, optim, grads, lr, hooks);
    let correct = batch.correct(logits.inner());
    Ok((net, value, correct))
}

/// The loss a step descends: `data` (the batch's mean loss) plus the hooks' `extra`
/// term, and the value of `data`. Either not finite: no step, [`NonFinite`].
pub(crate) fn objective(
    data: Tensor<1>,
    extra: Option<Tensor<1>>,
) -> Result<(Tensor<1>, f64), NonFinite> {
    let value = data.clone().into_scalar::<f32>() as f64;
    if !value.is_finite() {
        return Err(NonFinite(value));
    }
    let Some(extra) = extra else {
        return Ok((data, value));
    };
    let total = data + extra;
    let t = total.clone().into_scalar::<f32>() as f64;
    if !t.is_finite() {
        return Err(NonFinite(t));
    }
    Ok((total, value))
}

/// The optimiser update — the one place parameters change in training: the hooks on
/// the gradients (masks, tied weights), the optimiser's step at rate `lr`, the hooks
/// after it. [`step`] and the data-parallel step ([`parallel`]) end here.
pub(crate) fn descend<M: Trainee>(
    net: M,
    optim: &mut ModuleOptimizer,
    mut grads: GradientsParams,
    lr: f64,
    hooks: &mut dyn TrainHooks<M>,
) -> M {
    hooks.grads(&net, &mut grads, lr);
    let net = optim.step(lr, net, grads);
    hooks.after_step(net)
}

impl Diverged {
    fn at(loss: f64, epoch: usize, batch: usize, lr: f64, checkpoint_kept: bool) -> Diverged {
        Diverged {
            loss,
            epoch: epoch + 1,
            batch,
            lr,
            note: if checkpoint_kept {
                format!("; the checkpoint after epoch {epoch} is kept (continue with --resume)")
            } else {
                String::new()
            },
        }
    }
}

/// Teacher targets must match the training split and cannot be augmented.
fn check_targets(cfg: &TrainConfig, data: &Batcher, targets: &Targets<'_>) -> Result<()> {
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
    Ok(())
}

/// Running sums over an epoch's batches.
#[derive(Default)]
struct Tally {
    loss_sum: f64,
    correct: usize,
    seen: usize,
}

impl Tally {
    fn add(&mut self, loss: f64, correct: usize, examples: usize) {
        self.loss_sum += loss * examples as f64;
        self.correct += correct;
        self.seen += examples;
    }

    /// The progress bar's message.
    fn status(&self, lr: f64) -> String {
        format!(
            "loss {:.4} acc {:.2}% lr {:.2e}",
            self.loss_sum / self.seen as f64,
            100.0 * self.correct as f64 / self.seen as f64,
            lr
        )
    }

    /// The epoch's metrics, with `net` evaluated on the validation and test splits.
    fn finish(
        &self,
        epoch: usize,
        lr: f64,
        secs: f64,
        net: &Net,
        data: &Batcher,
        device: &Device,
    ) -> EpochMetrics {
        let valid = net.valid();
        let val_accuracy = data
            .has_val()
            .then(|| data.accuracy(&valid, Split::Val, device));
        let test_accuracy = data.accuracy(&valid, Split::Test, device);
        EpochMetrics {
            epoch,
            lr,
            train_loss: self.loss_sum / self.seen.max(1) as f64,
            train_accuracy: self.correct as f64 / self.seen.max(1) as f64,
            val_accuracy,
            test_accuracy,
            seconds: secs,
            images_per_second: self.seen as f64 / secs,
        }
    }
}

/// The line printed after each epoch.
fn epoch_line(m: &EpochMetrics, epochs: usize, data: &Batcher) -> String {
    // Examples are images, or rows of a table.
    let unit = if data.shape.len() == 1 { "rows" } else { "img" };
    format!(
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
        m.seconds
    )
}

/// Early stopping on the validation split (the test split is never used to choose): the
/// best epoch so far and its weights.
pub struct Best<M = Net> {
    /// Best validation accuracy so far.
    pub val: Option<f64>,
    /// Its epoch (without a validation split: the last epoch).
    pub epoch: usize,
    pub net: Option<M>,
}

impl<M> Default for Best<M> {
    fn default() -> Self {
        Best {
            val: None,
            epoch: 0,
            net: None,
        }
    }
}

impl<M: Clone> Best<M> {
    /// Note epoch `m` (trained into `net`); true when it is the best so far.
    fn update(&mut self, m: &EpochMetrics, net: &M) -> bool {
        match m.val_accuracy {
            Some(v) if self.val.is_none_or(|b| v > b) => {
                self.val = Some(v);
                self.epoch = m.epoch;
                self.net = Some(net.clone());
                true
            }
            Some(_) => false,
            None => {
                self.epoch = m.epoch;
                false
            }
        }
    }

    /// Whether `cfg.patience` epochs passed without a validation gain (says so unless
    /// `quiet`).
    fn out_of_patience(&self, cfg: &TrainConfig, m: &EpochMetrics, quiet: bool) -> bool {
        let (Some(p), Some(_)) = (cfg.patience, m.val_accuracy) else {
            return false;
        };
        let out = m.epoch - self.epoch >= p;
        if out && !quiet {
            eprintln!(
                "early stop: no validation gain for {p} epochs (best at epoch {})",
                self.epoch
            );
        }
        out
    }
}

/// SplitMix64 of (seed, epoch): decorrelated per-epoch seeds.
fn mix(seed: u64, epoch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The optimiser `cfg` asks for.
pub fn optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let decay = (cfg.weight_decay > 0.0)
        .then(|| burn::optim::decay::WeightDecayConfig::new(cfg.weight_decay as f32));
    match cfg.optimizer {
        // Burn's `Sgd` with these settings, value for value, in one pass (`sgd`).
        OptimKind::Sgd => ModuleOptimizer::from(sgd::FusedSgd::new(
            (cfg.weight_decay > 0.0).then_some(cfg.weight_decay as f32),
            (cfg.momentum > 0.0).then_some(sgd::MomentumSettings {
                momentum: cfg.momentum,
                dampening: 0.0,
                nesterov: cfg.nesterov,
            }),
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

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
