//! Sparse variational dropout (Molchanov, Ashukha & Vetrov, ICML 2017; docs/PAPERS.md):
//! the sparsification stage of `[compress] method = "sparse_vd"`, in place of Deep
//! Compression's magnitude pruning and retraining.
//!
//! Every weight `w_ij` gets a Gaussian posterior `N(θ_ij, σ²_ij)` with its own learned
//! `log σ²_ij`; the dropout rate of a weight is `α_ij = σ²_ij / θ²_ij`. Training maximises
//! the variational lower bound
//!
//! ```text
//!   L = (N / M) Σ_batch log p(y | x, W)  −  Σ_ij KL(q(w_ij | θ_ij, α_ij) ‖ p(w_ij))
//! ```
//!
//! with the log-uniform prior `p(|w|) ∝ 1/|w|`, whose KL term the paper approximates
//! (eq. 14) as
//!
//! ```text
//!   −KL ≈ k1·σ(k2 + k3·log α) − ½·log(1 + 1/α) − k1,   k1 = 0.63576, k2 = 1.87320, k3 = 1.48695
//! ```
//!
//! The gradient of the data term has low variance through the local reparameterisation
//! trick (Kingma et al. 2015; the paper's eq. 16–17): a layer samples its pre-activations
//! rather than its weights, `b = x·θᵀ + sqrt(x²·σ²ᵀ) ⊙ ε`, `ε ~ N(0, 1)` — for a
//! convolution `μ = conv(x, θ)`, `var = conv(x², σ²)`. A weight whose `log α` exceeds
//! the threshold (3: dropout rate above 95%) carries only noise and is removed; the
//! others keep their mean `θ`. What remains goes on to the existing weight sharing,
//! centroid fine-tuning and Huffman coding.
//!
//! The loss here is the bound divided by `N` (the mean cross-entropy plus `KL / N`), the
//! KL weight ramped from 0 to `kl_weight` over `kl_warmup_epochs` as in the paper's code,
//! Adam with the rate decayed linearly to 0. The variational model ([`VdModel`]) is
//! trained by the one training loop (`train::train`); the KL term, its warm-up, the
//! epoch seeds and the per-epoch line are its hooks ([`KlTerm`]).
//!
//! Not here: weight sharing and coding (`quantize`, `encode`), the pipeline (`compress`),
//! the loop (`train`).

use super::params::ParamTable;
use super::{net_from, targets, Stage};
use crate::model::kernels::{conv2d_op, max_pool2d};
use crate::model::{Feat, Net};
use crate::train::{
    self, Diverged, EpochMetrics, LossKind, OptimKind, ScheduleKind, TrainConfig, TrainHooks,
    Trainee,
};
use anyhow::{anyhow, bail, Context, Result};
use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};
use shrink_format::spec::{Layer, ModelSpec};
use std::sync::Arc;

/// The paper's constants of the KL approximation (eq. 14).
pub const K1: f64 = 0.63576;
/// See [`K1`].
pub const K2: f64 = 1.87320;
/// See [`K1`].
pub const K3: f64 = 1.48695;

/// Settings of sparse variational dropout (`[compress.sparse_vd]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SparseVdConfig {
    /// Training epochs of the variational model (started from the dense weights).
    pub epochs: usize,
    /// Adam learning rate (decayed linearly to 0 over the run).
    pub lr: f64,
    /// Weights with `log α` above this are removed (the paper: 3).
    pub log_alpha_threshold: f64,
    /// Initial `log σ²` of every weight (the paper's code: −10).
    pub init_log_sigma2: f64,
    /// Epochs over which the KL weight rises linearly from 0 to `kl_weight`.
    pub kl_warmup_epochs: usize,
    /// Final weight of the KL term (1 is the variational bound; more prunes harder).
    pub kl_weight: f64,
}

impl Default for SparseVdConfig {
    fn default() -> Self {
        SparseVdConfig {
            epochs: 20,
            lr: 1e-3,
            log_alpha_threshold: 3.0,
            init_log_sigma2: -10.0,
            kl_warmup_epochs: 5,
            kl_weight: 1.0,
        }
    }
}

impl SparseVdConfig {
    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            bail!("sparse_vd.epochs must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("sparse_vd.lr must be positive, got {}", self.lr);
        }
        if !(self.kl_weight >= 0.0 && self.kl_weight.is_finite()) {
            bail!(
                "sparse_vd.kl_weight must be non-negative, got {}",
                self.kl_weight
            );
        }
        if !self.log_alpha_threshold.is_finite() || !self.init_log_sigma2.is_finite() {
            bail!("sparse_vd.log_alpha_threshold and init_log_sigma2 must be finite");
        }
        Ok(())
    }
}

/// One weighted layer's variational parameters, weights in PyTorch layout flattened to
/// `[out, fan_in]` (a conv's `[out, in, kh, kw]` as `[out, in·kh·kw]`).
#[derive(Module, Debug)]
pub struct VdWeight {
    /// Means `θ`.
    pub theta: Param<Tensor<2>>,
    /// `log σ²` of every weight.
    pub log_sigma2: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
}

/// The variational parameters of a network, one [`VdWeight`] per weighted layer.
#[derive(Module, Debug)]
pub struct VdParams {
    pub layers: Vec<VdWeight>,
}

/// One spec layer as the variational forward pass runs it.
#[derive(Debug, Clone)]
enum Step {
    Linear {
        slot: usize,
    },
    Conv {
        slot: usize,
        /// Input channels (a grouped convolution is refused: its weight has fewer).
        in_ch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
    },
    MaxPool {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    Flatten,
    Relu,
    Tanh,
    Sigmoid,
    /// Dropout: sparse VD's own noise replaces it.
    Identity,
}

/// A network as sparse VD trains it: the spec's layers as [`Step`]s and, per weighted
/// layer, its name in the parameter table (`layers.{i}`).
#[derive(Debug)]
pub struct VdNet {
    steps: Vec<Step>,
    /// `layers.{i}` of each slot.
    names: Vec<String>,
}

impl VdNet {
    /// The steps of `spec`; an error names the first layer sparse VD cannot run.
    pub fn new(spec: &ModelSpec) -> Result<VdNet> {
        let mut steps = Vec::new();
        let mut names = Vec::new();
        let (infos, _) = spec.infer()?;
        for (i, l) in spec.layers.iter().enumerate() {
            let step = match l {
                Layer::Linear {
                    bottleneck: None, ..
                } => {
                    names.push(format!("layers.{i}"));
                    Step::Linear {
                        slot: names.len() - 1,
                    }
                }
                Layer::Conv2d {
                    kernel,
                    stride,
                    padding,
                    dilation,
                    ..
                } => {
                    let path = format!("layers.{i}");
                    let in_ch = infos
                        .iter()
                        .find(|f| f.path == path)
                        .map_or(0, |f| f.input[0]);
                    names.push(path);
                    Step::Conv {
                        slot: names.len() - 1,
                        in_ch,
                        kernel: *kernel,
                        stride: *stride,
                        padding: *padding,
                        dilation: *dilation,
                    }
                }
                Layer::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } => Step::MaxPool {
                    kernel: *kernel,
                    stride: stride.unwrap_or(*kernel),
                    padding: *padding,
                },
                Layer::Flatten => Step::Flatten,
                Layer::Relu => Step::Relu,
                Layer::Tanh => Step::Tanh,
                Layer::Sigmoid => Step::Sigmoid,
                Layer::Dropout { .. } => Step::Identity,
                other => bail!(
                    "sparse_vd: layer {i} ({}) is not supported (linear, conv2d, max_pool2d, flatten, relu, tanh, sigmoid and dropout are; batch norm is folded first)",
                    other.kind()
                ),
            };
            steps.push(step);
        }
        Ok(VdNet { steps, names })
    }

    /// Variational parameters from a parameter table: `θ` = the weights,
    /// `log σ²` = `init_log_sigma2` everywhere.
    pub fn params_from(
        &self,
        table: &ParamTable,
        init_log_sigma2: f64,
        device: &Device,
    ) -> Result<VdParams> {
        let mut layers = Vec::new();
        for (slot, name) in self.names.iter().enumerate() {
            let w = table
                .get(&format!("{name}.weight"))
                .ok_or_else(|| anyhow!("no {name}.weight in the parameters"))?;
            let out = w.shape[0];
            let fan_in = w.data.len() / out.max(1);
            let conv = self.steps.iter().find_map(|s| match s {
                Step::Conv {
                    slot: k,
                    in_ch,
                    kernel,
                    ..
                } if *k == slot => Some(in_ch * kernel * kernel),
                _ => None,
            });
            if conv.is_some_and(|n| n != fan_in) {
                bail!("sparse_vd: {name} is a grouped convolution, which is not supported");
            }
            let theta =
                Tensor::<2>::from_data(TensorData::new(w.data.clone(), [out, fan_in]), device);
            let log_sigma2 = Tensor::<2>::full([out, fan_in], init_log_sigma2, device);
            let bias = table.get(&format!("{name}.bias")).map(|b| {
                Param::from_tensor(Tensor::<1>::from_data(
                    TensorData::new(b.data.clone(), [b.data.len()]),
                    device,
                ))
            });
            layers.push(VdWeight {
                theta: Param::from_tensor(theta),
                log_sigma2: Param::from_tensor(log_sigma2),
                bias,
            });
        }
        Ok(VdParams { layers })
    }

    /// Training forward pass with the local reparameterisation trick: `[batch, …]` →
    /// logits `[batch, classes]`. Noise comes from the device's seeded RNG.
    pub fn forward_train(&self, p: &VdParams, x: crate::model::Feat) -> Tensor<2> {
        use crate::model::Feat;
        let mut x = x;
        for step in &self.steps {
            x = match step {
                Step::Linear { slot } => {
                    let l = &p.layers[*slot];
                    let h = x.flat(); // [b, in]
                    let mut mu = h.clone().matmul(l.theta.val().transpose()); // [b, out]
                    if let Some(b) = &l.bias {
                        mu = mu + b.val().unsqueeze_dim(0);
                    }
                    let var = (h.clone() * h).matmul(l.log_sigma2.val().exp().transpose());
                    let eps = Tensor::<2>::random(
                        mu.dims(),
                        Distribution::Normal(0.0, 1.0),
                        &mu.device(),
                    );
                    Feat::Flat(mu + (var + 1e-8).sqrt() * eps)
                }
                Step::Conv {
                    slot,
                    in_ch,
                    kernel,
                    stride,
                    padding,
                    dilation,
                } => {
                    let l = &p.layers[*slot];
                    let h = x.image(); // [b, c, h, w]
                    let [out, _] = l.theta.val().dims();
                    let shape = [out, *in_ch, *kernel, *kernel];
                    let opts = || ConvOptions::new([*stride; 2], [*padding; 2], [*dilation; 2], 1);
                    let mu = conv2d_op(
                        h.clone(),
                        l.theta.val().reshape(shape),
                        l.bias.as_ref().map(|b| b.val()),
                        opts(),
                    ); // [b, out, h', w']
                    let var = conv2d_op(
                        h.clone() * h,
                        l.log_sigma2.val().exp().reshape(shape),
                        None,
                        opts(),
                    );
                    let eps = Tensor::<4>::random(
                        mu.dims(),
                        Distribution::Normal(0.0, 1.0),
                        &mu.device(),
                    );
                    Feat::Image(mu + (var + 1e-8).sqrt() * eps)
                }
                Step::MaxPool {
                    kernel,
                    stride,
                    padding,
                } => Feat::Image(max_pool2d(x.image(), *kernel, *stride, *padding)),
                Step::Flatten => Feat::Flat(x.flat()),
                Step::Relu => map(x, activation::relu, activation::relu),
                Step::Tanh => map(x, activation::tanh, activation::tanh),
                Step::Sigmoid => map(x, activation::sigmoid, activation::sigmoid),
                Step::Identity => x,
            };
        }
        x.flat()
    }

    /// The parameter table with `θ` as the weights, every weight whose `log α` exceeds
    /// `threshold` set to 0, and the biases as trained.
    pub fn sparse_table(
        &self,
        p: &VdParams,
        base: &ParamTable,
        threshold: f64,
    ) -> Result<ParamTable> {
        let mut table = base.clone();
        for (name, l) in self.names.iter().zip(&p.layers) {
            let theta = to_vec(l.theta.val().inner())?;
            let ls2 = to_vec(l.log_sigma2.val().inner())?;
            let keep = keep_mask(&theta, &ls2, threshold);
            let w = table
                .get_mut(&format!("{name}.weight"))
                .ok_or_else(|| anyhow!("no {name}.weight"))?;
            w.data = theta
                .iter()
                .zip(&keep)
                .map(|(t, k)| if *k { *t } else { 0.0 })
                .collect();
            if let (Some(b), Some(bp)) = (&l.bias, table.get_mut(&format!("{name}.bias"))) {
                bp.data = to_vec(b.val().inner())?;
            }
        }
        Ok(table)
    }
}

fn map(
    x: crate::model::Feat,
    f2: fn(Tensor<2>) -> Tensor<2>,
    f4: fn(Tensor<4>) -> Tensor<4>,
) -> crate::model::Feat {
    use crate::model::Feat;
    match x {
        Feat::Flat(t) => Feat::Flat(f2(t)),
        Feat::Image(t) => Feat::Image(f4(t)),
    }
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_to_vec::<f32>()
        .context("cannot read a tensor")
}

/// `log α = log σ² − log θ²`, clipped to [−10, 10] as in the paper's code.
pub fn log_alpha(theta: Tensor<2>, log_sigma2: Tensor<2>) -> Tensor<2> {
    (log_sigma2 - (theta.clone() * theta + 1e-8).log()).clamp(-10.0, 10.0)
}

/// Σ over weights of the approximate KL to the log-uniform prior (eq. 14):
/// `k1 − k1·σ(k2 + k3·log α) + ½·log(1 + e^{−log α})`; ≥ 0, → 0 as α → ∞.
pub fn kl_approx(log_alpha: Tensor<2>) -> Tensor<1> {
    let neg_kl = activation::sigmoid(log_alpha.clone() * K3 + K2) * K1
        - ((log_alpha.neg().exp() + 1.0).log() * 0.5)
        - K1;
    neg_kl.neg().sum()
}

/// The same KL approximation for one `log α`, in f64 (for tests and reports).
pub fn kl_approx_scalar(log_alpha: f64) -> f64 {
    let s = 1.0 / (1.0 + (-(K2 + K3 * log_alpha)).exp());
    -(K1 * s - 0.5 * (1.0 + (-log_alpha).exp()).ln() - K1)
}

/// Which weights stay: `log α ≤ threshold`, with `log α` as [`log_alpha`] computes it.
pub fn keep_mask(theta: &[f32], log_sigma2: &[f32], threshold: f64) -> Vec<bool> {
    theta
        .iter()
        .zip(log_sigma2)
        .map(|(t, s)| {
            let la = (*s as f64 - ((*t as f64) * (*t as f64) + 1e-8).ln()).clamp(-10.0, 10.0);
            la <= threshold
        })
        .collect()
}

/// Sparse VD's trainee for the one training loop: the variational parameters and, not
/// trained, the network they run in and what turns them back into a plain network.
#[derive(Module, Debug)]
pub struct VdModel {
    pub params: VdParams,
    #[module(skip)]
    ctx: Arc<VdContext>,
}

/// What a [`VdModel`] needs besides its parameters.
#[derive(Debug)]
struct VdContext {
    vd: VdNet,
    spec: ModelSpec,
    /// The dense parameters the run started from.
    base: ParamTable,
    /// Weights with `log α` above it are removed.
    threshold: f64,
    /// Where the plain network is built (without autodiff).
    device: Device,
}

impl VdModel {
    /// The parameter table with the dropped-out weights set to 0 ([`VdNet::sparse_table`]).
    pub fn sparse_table(&self) -> Result<ParamTable> {
        let c = &self.ctx;
        c.vd.sparse_table(&self.params, &c.base, c.threshold)
    }
}

impl Trainee for VdModel {
    fn forward_train(&self, x: Feat) -> Tensor<2> {
        self.ctx.vd.forward_train(&self.params, x)
    }

    fn add_l1(&self, mut loss: Tensor<1>, l1: f64) -> Tensor<1> {
        for l in &self.params.layers {
            loss = loss + l.theta.val().abs().sum() * l1;
        }
        loss
    }

    /// The means `θ` with the dropped-out weights removed.
    fn net(&self) -> Result<Net> {
        net_from(&self.ctx.spec, &self.sparse_table()?, &self.ctx.device)
    }
}

/// Sparse VD's hooks around the training loop: the KL term with its linear warm-up
/// (added to every step's loss), its own epoch seeds, and a line per epoch.
pub struct KlTerm<'a> {
    st: &'a Stage<'a>,
    cfg: &'a SparseVdConfig,
    /// Training examples `N`: the KL term enters the loss as `KL / N`.
    n: usize,
    /// Steps over which the KL weight rises from 0 to `kl_weight`.
    warmup: usize,
    /// Optimiser steps done so far.
    done: usize,
    /// The last step's KL (summed over the weights).
    last_kl: Option<Tensor<1>>,
    /// The training device.
    device: Device,
}

impl TrainHooks<VdModel> for KlTerm<'_> {
    fn extra_loss(&mut self, m: &VdModel) -> Option<Tensor<1>> {
        let kl_w = self.cfg.kl_weight * (self.done as f64 / self.warmup as f64).min(1.0);
        let mut kl: Option<Tensor<1>> = None;
        for l in &m.params.layers {
            let k = kl_approx(log_alpha(l.theta.val(), l.log_sigma2.val()));
            kl = Some(match kl {
                Some(s) => s + k,
                None => k,
            });
        }
        let kl = kl.unwrap_or_else(|| Tensor::zeros([1], &self.device));
        self.last_kl = Some(kl.clone().detach());
        Some(kl * (kl_w / self.n.max(1) as f64))
    }

    fn step_done(&mut self, _: &VdModel, steps: usize) -> bool {
        self.done = steps;
        true
    }

    /// `seed + 1000 + epoch`: the seeds sparse VD has always drawn its epochs from.
    fn epoch_seed(&self, seed: u64, epoch: usize) -> u64 {
        seed.wrapping_add(1000 + epoch as u64)
    }

    fn epoch_done(&mut self, m: &VdModel, metrics: &EpochMetrics) -> Result<()> {
        let kl = self
            .last_kl
            .take()
            .map_or(0.0, |k| k.into_scalar::<f32>() as f64);
        let kept = kept_fraction(&m.sparse_table()?, &m.ctx.vd);
        self.st.say(format!(
            "      epoch {:>3}/{}  data loss {:.4}  KL/N {:.4}  kept {:.2}%  {} accuracy (sparse means) {:.2}%",
            metrics.epoch,
            self.cfg.epochs,
            metrics.train_loss,
            kl / self.n.max(1) as f64,
            100.0 * kept,
            if metrics.val_accuracy.is_some() { "val" } else { "test" },
            100.0 * metrics.val_accuracy.unwrap_or(metrics.test_accuracy)
        ));
        Ok(())
    }
}

/// Train the variational model from `table` (the dense, batch-norm-folded weights) and
/// give back the parameters with the dropped-out weights set to 0.
pub fn sparsify(
    st: &Stage,
    cfg: &SparseVdConfig,
    spec: &ModelSpec,
    table: &ParamTable,
) -> Result<ParamTable> {
    cfg.validate()?;
    let vd = VdNet::new(spec)?;
    let train_dev = st.device.clone().autodiff();
    let tc = st.train_cfg;
    train_dev.seed(tc.seed.wrapping_add(300));
    let params = vd.params_from(table, cfg.init_log_sigma2, &train_dev)?;
    let logits = st.soft_targets(spec, table)?;
    let n = st.data.train_len();
    let weights: usize = params
        .layers
        .iter()
        .map(|l| l.theta.val().dims().iter().product::<usize>())
        .sum();
    st.say(format!(
        "[2/4] sparse variational dropout: {} epochs, Adam lr {:.1e}, {} weights, log α threshold {}",
        cfg.epochs, cfg.lr, weights, cfg.log_alpha_threshold
    ));
    // The training settings' batches, seed and augmentation; Adam at `cfg.lr` decayed
    // linearly to 0 ("poly" of power 1) over `cfg.epochs`; the data term is the
    // cross-entropy (or the distillation loss of the soft targets).
    let run_cfg = TrainConfig {
        epochs: cfg.epochs,
        lr: cfg.lr,
        optimizer: OptimKind::Adam,
        weight_decay: 0.0,
        l1: 0.0,
        schedule: ScheduleKind::Poly,
        power: 1.0,
        loss: LossKind::CrossEntropy,
        patience: None,
        restore_best: false,
        min_steps: 0,
        ..tc.clone()
    };
    let mut hooks = KlTerm {
        st,
        cfg,
        n,
        warmup: (n.div_ceil(tc.batch_size.max(1)) * cfg.kl_warmup_epochs).max(1),
        done: 0,
        last_kl: None,
        device: train_dev.clone(),
    };
    let model = VdModel {
        params,
        ctx: Arc::new(VdContext {
            vd,
            spec: spec.clone(),
            base: table.clone(),
            threshold: cfg.log_alpha_threshold,
            device: st.device.clone(),
        }),
    };
    let outcome = train::train(
        model,
        train::Job {
            cfg: &run_cfg,
            data: st.data,
            targets: targets(&logits),
            device: &train_dev,
            run: None,
            hooks: &mut hooks,
            quiet: true,
        },
    )
    .map_err(|e| match e.downcast_ref::<Diverged>() {
        Some(d) => anyhow!(
            "sparse_vd: the loss became {} at epoch {}, batch {}; try a lower sparse_vd.lr",
            d.loss,
            d.epoch,
            d.batch
        ),
        None => e,
    })?;
    outcome.net.sparse_table()
}

/// Fraction of the weighted layers' weights that are non-zero.
fn kept_fraction(table: &ParamTable, vd: &VdNet) -> f64 {
    let (mut kept, mut total) = (0usize, 0usize);
    for name in &vd.names {
        if let Some(w) = table.get(&format!("{name}.weight")) {
            kept += w.data.iter().filter(|v| **v != 0.0).count();
            total += w.data.len();
        }
    }
    kept as f64 / total.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Feat;

    #[test]
    fn kl_approximation_matches_the_paper() {
        // −KL → k1·1 − 0 − k1 = 0 as log α → ∞: a weight that is all noise costs nothing.
        assert!(kl_approx_scalar(20.0).abs() < 1e-6);
        // Decreasing in log α (more noise, closer to the prior).
        let ks: Vec<f64> = (-8..=8).map(|i| kl_approx_scalar(i as f64)).collect();
        assert!(ks.windows(2).all(|w| w[0] > w[1]), "{ks:?}");
        // Large negative log α: KL ≈ −½ log α + const, i.e. grows like ½·|log α|.
        let slope = (kl_approx_scalar(-9.0) - kl_approx_scalar(-8.0)) / -1.0;
        assert!((slope + 0.5).abs() < 0.01, "slope {slope}");
        // The tensor version agrees with the scalar one.
        let dev = Device::flex();
        let las = [-5.0f32, -1.0, 0.0, 2.5, 7.0];
        let t = Tensor::<2>::from_data(TensorData::new(las.to_vec(), [1, 5]), &dev);
        let got = kl_approx(t).into_scalar::<f32>() as f64;
        let want: f64 = las.iter().map(|l| kl_approx_scalar(*l as f64)).sum();
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }

    #[test]
    fn mask_from_log_alpha() {
        // log α = log σ² − log θ²: θ = 1, log σ² = 2 → 2 (kept); 4 → 4 (removed).
        let keep = keep_mask(&[1.0, 1.0, 0.01, -0.5], &[2.0, 4.0, -10.0, 0.0], 3.0);
        // θ = 0.01, log σ² = −10: log α = −10 + 9.21 = −0.79 (kept);
        // θ = −0.5, log σ² = 0: log α = 1.39 (kept).
        assert_eq!(keep, vec![true, false, true, true]);
        // Threshold moves the cut.
        assert_eq!(keep_mask(&[1.0, 1.0], &[2.0, 4.0], 1.0), vec![false, false]);
    }

    fn tiny_spec() -> ModelSpec {
        ModelSpec::from_toml(
            r#"
name = "t"
input = [1, 6, 6]
[[layers]]
type = "conv2d"
out = 3
kernel = 3
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 4
"#,
        )
        .unwrap()
    }

    #[test]
    fn reparameterisation_shapes_and_gradients() {
        let spec = tiny_spec();
        let dev = Device::flex().autodiff();
        dev.seed(1);
        let net = crate::model::Net::new(&spec, &Device::flex()).unwrap();
        let table = ParamTable::from_net(&net).unwrap();
        let vd = VdNet::new(&spec).unwrap();
        let p = vd.params_from(&table, -10.0, &dev).unwrap();
        assert_eq!(p.layers.len(), 2);
        assert_eq!(p.layers[0].theta.val().dims(), [3, 9]);
        assert_eq!(p.layers[1].theta.val().dims(), [4, 12]);
        let x = Tensor::<4>::random([5, 1, 6, 6], Distribution::Normal(0.0, 1.0), &dev);
        let out = vd.forward_train(&p, Feat::Image(x.clone()));
        assert_eq!(out.dims(), [5, 4]);
        // With σ² ≈ 0 the sampled output is the mean network's output: the weights
        // went in PyTorch layout and came out as the Burn net computes with them.
        let exact = vd.params_from(&table, -30.0, &dev).unwrap();
        let mean_out = vd.forward_train(&exact, Feat::Image(x.clone())).inner();
        let dense = net.forward(Feat::Image(x.clone().inner()));
        let diff = (mean_out - dense).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-3, "diff {diff}");
        // Gradients reach θ and log σ² of every layer (the data term through the
        // reparameterised noise, the KL term through log α).
        let mut loss = out.powf_scalar(2.0).mean();
        for l in &p.layers {
            loss = loss + kl_approx(log_alpha(l.theta.val(), l.log_sigma2.val())) * 1e-3;
        }
        let grads = loss.backward();
        for l in &p.layers {
            let gt = l.theta.val().grad(&grads).expect("θ gradient");
            let gs = l.log_sigma2.val().grad(&grads).expect("log σ² gradient");
            assert!(gt.abs().sum().into_scalar::<f32>() > 0.0);
            assert!(gs.abs().sum().into_scalar::<f32>() > 0.0);
        }
        // Larger σ² → noisier outputs: two draws differ.
        let p = vd.params_from(&table, 0.0, &dev).unwrap();
        let a = vd.forward_train(&p, Feat::Image(x.clone())).inner();
        let b = vd.forward_train(&p, Feat::Image(x)).inner();
        assert!((a - b).abs().max().into_scalar::<f32>() > 1e-3);
    }

    #[test]
    fn convolutions_on_the_own_kernels_match_burns() {
        // The mean (with bias) and variance (without) convolutions of the forward pass,
        // and their gradients, as Burn's own op computes them.
        let dev = Device::flex().autodiff();
        dev.seed(3);
        let normal = Distribution::Normal(0.0, 1.0);
        for (stride, padding) in [(1, 0), (2, 1)] {
            let opts = ConvOptions::new([stride; 2], [padding; 2], [1; 2], 1);
            let x = Tensor::<4>::random([3, 2, 7, 7], normal, &dev).require_grad();
            let w = Tensor::<4>::random([4, 2, 3, 3], normal, &dev).require_grad();
            let b = Tensor::<1>::random([4], normal, &dev).require_grad();
            for bias in [Some(b.clone()), None] {
                let ours = conv2d_op(x.clone(), w.clone(), bias.clone(), opts.clone());
                let burns =
                    burn::tensor::module::conv2d(x.clone(), w.clone(), bias.clone(), opts.clone());
                let diff = (ours.clone() - burns.clone()).abs().max();
                assert!(diff.into_scalar::<f32>() < 1e-4);
                let g1 = (ours * 0.5).sum().backward();
                let g2 = (burns * 0.5).sum().backward();
                for (a, c) in [(x.grad(&g1), x.grad(&g2)), (w.grad(&g1), w.grad(&g2))] {
                    let d = (a.unwrap() - c.unwrap()).abs().max().into_scalar::<f32>();
                    assert!(d < 1e-4, "gradient differs by {d}");
                }
            }
        }
    }

    #[test]
    fn sparse_table_zeroes_noisy_weights() {
        let spec = tiny_spec();
        let dev = Device::flex();
        dev.seed(2);
        let net = crate::model::Net::new(&spec, &dev).unwrap();
        let table = ParamTable::from_net(&net).unwrap();
        let vd = VdNet::new(&spec).unwrap();
        // log σ² = 10 makes every weight's log α > 3; −30 keeps every weight above 1e-7.
        let all_noise = vd.params_from(&table, 10.0, &dev).unwrap();
        let t = vd.sparse_table(&all_noise, &table, 3.0).unwrap();
        assert!(t
            .get("layers.0.weight")
            .unwrap()
            .data
            .iter()
            .all(|v| *v == 0.0));
        assert_eq!(t.get("layers.0.bias"), table.get("layers.0.bias"));
        let none = vd.params_from(&table, -30.0, &dev).unwrap();
        assert_eq!(vd.sparse_table(&none, &table, 3.0).unwrap(), table);
    }

    #[test]
    fn unsupported_layers_are_named() {
        let mut spec = tiny_spec();
        // A shape-preserving layer sparse VD has no step for.
        spec.layers.insert(1, Layer::Elu { alpha: 1.0 });
        let e = VdNet::new(&spec).err().unwrap().to_string();
        assert!(e.contains("layer 1"), "{e}");
    }
}
