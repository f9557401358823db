//! SGD with momentum and weight decay as one in-place pass over each parameter.
//!
//! Burn's `Sgd` (with `Momentum` and `WeightDecay`) updates a parameter in about five
//! element-wise tensor ops (`w·λ + g`, `g·(1−d) + v·μ`, `·lr`, `w − …`), each a full pass
//! over the parameter and most of them a fresh allocation. For LeNet-300-100 (266 610
//! parameters) at batch 256 that was ~8% of a one-thread training step, all of it on one
//! thread while the products around it run on all of them (issue 12, PERF.md). [`FusedSgd`]
//! does the same arithmetic in one pass, in place in the parameter's, the gradient's and
//! the velocity's own buffers (no allocation when they are not shared), split over the
//! rayon pool's threads for big parameters.
//!
//! Same bits as Burn's: every element goes through the same `f32` operations in the same
//! order as Burn's tensor ops (`fl(fl(w·λ) + g)`, `fl(fl(g₁·(1−d)) + fl(v·μ))`, with
//! Nesterov `fl(fl(v·μ) + g₁)`, then `fl(w − fl(s·lr))`), with the scalars converted to
//! `f32` as Flex converts them; the first step's velocity is the gradient itself, as in
//! Burn. Elements are independent, so the split does not change any value. The state is
//! recorded under the same names as Burn's `SgdState` (`<param>.momentum.velocity`), so a
//! checkpoint written by either optimiser resumes in the other (tests below). On a backend
//! other than Flex (or with `SHRINK_KERNELS=burn`) the update runs as Burn's tensor ops.
//!
//! Not here: which optimiser a run uses (`train::optimizer`), Adam (Burn's), gradient
//! hooks (`TrainHooks::grads`).

use crate::model::kernels::own_kernels_apply;
use burn::backend::flex::FlexTensor;
use burn::backend::{BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind};
use burn::optim::{join_path, LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::prelude::*;
use rayon::prelude::*;

/// Parameters with fewer elements than this are updated on one thread (a split costs a
/// wake-up of the other threads).
const SPLIT_MIN: usize = 1 << 16;

/// Momentum settings, as Burn's `MomentumConfig`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomentumSettings {
    /// Momentum factor μ.
    pub momentum: f64,
    /// Dampening d (the gradient enters the velocity times `1 − d`).
    pub dampening: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// SGD as Burn's `SgdConfig` with the same weight decay and momentum settings builds it,
/// updating each parameter in one fused pass on Flex.
#[derive(Clone, Debug)]
pub struct FusedSgd {
    rule: Rule,
}

impl FusedSgd {
    /// SGD with L2 penalty `weight_decay` (as Burn's `WeightDecayConfig::new(λ)`) and
    /// `momentum` (as Burn's `MomentumConfig`), when given.
    pub fn new(weight_decay: Option<f32>, momentum: Option<MomentumSettings>) -> Self {
        FusedSgd {
            rule: Rule {
                lr: 0.0,
                decay: weight_decay,
                momentum: momentum.map(|m| Heavy {
                    // Flex converts each scalar to f32 (`scalar as f32`) before the op.
                    momentum: m.momentum as f32,
                    keep: (1.0 - m.dampening) as f32,
                    nesterov: m.nesterov,
                }),
            },
        }
    }
}

/// The per-element update, with its scalars as the `f32` values the ops use.
#[derive(Clone, Copy, Debug)]
struct Rule {
    lr: f32,
    decay: Option<f32>,
    momentum: Option<Heavy>,
}

#[derive(Clone, Copy, Debug)]
struct Heavy {
    momentum: f32,
    /// `1 − dampening`.
    keep: f32,
    nesterov: bool,
}

/// The optimiser state of one parameter: its velocity (with momentum, after the first
/// step). Recorded as Burn's `SgdState` records it.
#[derive(Clone)]
pub struct FusedSgdState<const D: usize> {
    velocity: Option<Tensor<D>>,
}

/// Burn's `SgdState { momentum: Option<MomentumState { velocity }> }` records the velocity
/// as `<prefix>.momentum.velocity`.
const MOMENTUM: &str = "momentum";
const VELOCITY: &str = "velocity";

impl<const D: usize> RecordState for FusedSgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        if let Some(v) = &self.velocity {
            out.push_tensor(
                &join_path(prefix, MOMENTUM),
                VELOCITY,
                v.clone().into_data(),
            );
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let path = join_path(prefix, MOMENTUM);
        let velocity = if src.has_under(&path) {
            Some(Tensor::from_data(src.take_tensor(&path, VELOCITY)?, device))
        } else {
            None
        };
        Some(FusedSgdState { velocity })
    }
}

impl Optimizer for FusedSgd {
    type State<const D: usize> = FusedSgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let rule = Rule {
            lr: lr as f32,
            ..self.rule
        };
        let velocity = state.and_then(|s| s.velocity);
        let (tensor, velocity) = step_any(rule, tensor, grad, velocity);
        (tensor, Some(FusedSgdState { velocity }))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.velocity = state.velocity.map(|v| v.to_device(device));
        state
    }
}

/// One step: fused on Flex `f32`, else Burn's tensor ops.
fn step_any<const D: usize>(
    rule: Rule,
    tensor: Tensor<D>,
    grad: Tensor<D>,
    velocity: Option<Tensor<D>>,
) -> (Tensor<D>, Option<Tensor<D>>) {
    let fits = own_kernels_apply(&tensor)
        && own_kernels_apply(&grad)
        && velocity.as_ref().is_none_or(own_kernels_apply)
        && grad.shape() == tensor.shape()
        && velocity
            .as_ref()
            .is_none_or(|v| v.shape() == tensor.shape());
    if !fits {
        return step_ops(rule, tensor, grad, velocity);
    }
    // A gradient changed by a hook with tensors of the autodiff device (pruning masks)
    // carries an autodiff context; its values are its inner tensor's.
    let grad = match grad.gradient_checkpointing_strategy() {
        Some(_) => grad.inner(),
        None => grad,
    };
    let w = match try_flex(tensor) {
        Ok(w) => w,
        Err(tensor) => return step_ops(rule, tensor, grad, velocity),
    };
    let g = match try_flex(grad) {
        Ok(g) => g,
        Err(grad) => return step_ops(rule, from_flex(w), grad, velocity),
    };
    let v = match velocity.map(try_flex).transpose() {
        Ok(v) => v,
        Err(v) => return step_ops(rule, from_flex(w), from_flex(g), Some(v)),
    };
    let (w, v) = step_flex(rule, w, g, v);
    (from_flex(w), v.map(from_flex))
}

/// Burn's `Sgd::step` with `WeightDecay::transform` and `Momentum::transform`, op for op.
fn step_ops<const D: usize>(
    rule: Rule,
    tensor: Tensor<D>,
    grad: Tensor<D>,
    velocity: Option<Tensor<D>>,
) -> (Tensor<D>, Option<Tensor<D>>) {
    let mut grad = match rule.decay {
        Some(penalty) => tensor.clone().mul_scalar(penalty).add(grad),
        None => grad,
    };
    let mut state = None;
    if let Some(h) = rule.momentum {
        let v = match velocity {
            Some(v) => grad
                .clone()
                .mul_scalar(h.keep)
                .add(v.mul_scalar(h.momentum)),
            None => grad.clone(),
        };
        grad = if h.nesterov {
            v.clone().mul_scalar(h.momentum).add(grad)
        } else {
            v.clone()
        };
        state = Some(v);
    }
    (tensor - grad.mul_scalar(rule.lr), state)
}

/// The Flex tensor inside `t`, or `t` back when it is anything else.
#[allow(clippy::result_large_err)] // `Err` gives the tensor back; it is not an error
fn try_flex<const D: usize>(t: Tensor<D>) -> Result<FlexTensor, Tensor<D>> {
    match t.into_dispatch() {
        DispatchTensor {
            kind: DispatchTensorKind::Flex(BackendTensor::Float(f)),
            autodiff: DispatchAutodiffContext::Disabled,
        } => Ok(f),
        other => Err(Tensor::from_dispatch(other)),
    }
}

fn from_flex<const D: usize>(f: FlexTensor) -> Tensor<D> {
    Tensor::from_dispatch(DispatchTensor {
        kind: DispatchTensorKind::Flex(BackendTensor::Float(f)),
        autodiff: DispatchAutodiffContext::Disabled,
    })
}

/// `t` contiguous from offset 0 (a copy only when it is not).
fn dense(t: FlexTensor) -> FlexTensor {
    match t.layout().contiguous_offsets() {
        Some((0, _)) => t,
        _ => t.to_contiguous(),
    }
}

/// The fused step on Flex tensors of equal shapes: the parameter and the velocity are
/// updated in their own buffers (copied first only when shared); on the first step with
/// momentum the gradient's buffer becomes the velocity.
fn step_flex(
    rule: Rule,
    w: FlexTensor,
    g: FlexTensor,
    v: Option<FlexTensor>,
) -> (FlexTensor, Option<FlexTensor>) {
    let n = w.layout().shape().num_elements();
    let (mut w, mut g, mut v) = (dense(w), dense(g), v.map(dense));
    {
        let ws = &mut w.storage_mut::<f32>()[..n];
        let gs = &mut g.storage_mut::<f32>()[..n];
        let vs = v.as_mut().map(|v| &mut v.storage_mut::<f32>()[..n]);
        let blocks = if n < SPLIT_MIN {
            1
        } else {
            rayon::current_num_threads()
        };
        update(rule, ws, gs, vs, blocks);
    }
    let velocity = match (rule.momentum, v) {
        (None, _) => None,
        (Some(_), Some(v)) => Some(v),
        // The first step: `update` left the velocity (g₁) in the gradient's buffer
        // (contiguous from 0, the parameter's shape).
        (Some(_), None) => Some(g),
    };
    (w, velocity)
}

/// [`pass`] over `blocks` equal parts of the slices, in parallel when more than one.
fn update(rule: Rule, w: &mut [f32], g: &mut [f32], v: Option<&mut [f32]>, blocks: usize) {
    if blocks <= 1 {
        return pass(rule, w, g, v);
    }
    let chunk = w.len().div_ceil(blocks).max(1);
    match v {
        Some(v) => w
            .par_chunks_mut(chunk)
            .zip(g.par_chunks_mut(chunk))
            .zip(v.par_chunks_mut(chunk))
            .for_each(|((w, g), v)| pass(rule, w, g, Some(v))),
        None => w
            .par_chunks_mut(chunk)
            .zip(g.par_chunks_mut(chunk))
            .for_each(|(w, g)| pass(rule, w, g, None)),
    }
}

/// One element at a time, as Burn's ops compute it: `g₁ = w·λ + g`; with momentum
/// `v = g₁·(1−d) + v·μ` (the first step `v = g₁`, written into `g`), the step `v` or with
/// Nesterov `v·μ + g₁`; without momentum the step `g₁`; then `w = w − step·lr`.
fn pass(rule: Rule, w: &mut [f32], g: &mut [f32], v: Option<&mut [f32]>) {
    let decay = |w: f32, g: f32| match rule.decay {
        Some(p) => w * p + g,
        None => g,
    };
    match (rule.momentum, v) {
        (None, _) => {
            for (w, g) in w.iter_mut().zip(g.iter()) {
                *w -= decay(*w, *g) * rule.lr;
            }
        }
        (Some(h), Some(v)) => {
            for ((w, g), v) in w.iter_mut().zip(g.iter()).zip(v.iter_mut()) {
                let g1 = decay(*w, *g);
                *v = g1 * h.keep + *v * h.momentum;
                let s = if h.nesterov { *v * h.momentum + g1 } else { *v };
                *w -= s * rule.lr;
            }
        }
        (Some(h), None) => {
            for (w, g) in w.iter_mut().zip(g.iter_mut()) {
                let g1 = decay(*w, *g);
                *g = g1;
                let s = if h.nesterov { g1 * h.momentum + g1 } else { g1 };
                *w -= s * rule.lr;
            }
        }
    }
}

#[cfg(test)]
mod tests;
