//! The fused update against Burn's `Sgd` on random tensors: the same bits for every
//! weight-decay and momentum setting (dampening, Nesterov), in place and on shared
//! buffers, split or not; the state recorded under Burn's names; a checkpoint of either
//! optimiser resumed by the other to the same bits.

use super::*;
use burn::nn::{Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig, SgdState};
use burn::tensor::TensorData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Setting = (Option<f32>, Option<MomentumSettings>);

fn settings() -> Vec<Setting> {
    let m = |momentum, dampening, nesterov| {
        Some(MomentumSettings {
            momentum,
            dampening,
            nesterov,
        })
    };
    let mut out = vec![];
    for decay in [None, Some(1e-4f32), Some(0.05)] {
        for mom in [
            None,
            m(0.9, 0.0, false),
            m(0.9, 0.0, true),
            m(0.8, 0.1, false),
            m(0.7, 0.25, true),
        ] {
            out.push((decay, mom));
        }
    }
    out
}

fn burns((decay, mom): Setting) -> SgdConfig {
    SgdConfig::new()
        .with_weight_decay(decay.map(WeightDecayConfig::new))
        .with_momentum(mom.map(|m| {
            MomentumConfig::new()
                .with_momentum(m.momentum)
                .with_dampening(m.dampening)
                .with_nesterov(m.nesterov)
        }))
}

fn ours((decay, mom): Setting) -> FusedSgd {
    FusedSgd::new(decay, mom)
}

/// A fresh (unshared) tensor of seeded values in [-1, 1).
fn fixed<const D: usize>(shape: [usize; D], seed: u64, dev: &Device) -> Tensor<D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product::<usize>();
    let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn bits<const D: usize>(t: &Tensor<D>) -> Vec<u32> {
    let v = t.clone().into_data().try_to_vec::<f32>().unwrap();
    v.iter().map(|x| x.to_bits()).collect()
}

/// A state's recorded tensors: names and bits.
fn recorded<S: RecordState>(state: &S) -> Vec<(String, Vec<u32>)> {
    let mut sink = StateSink::default();
    state.state_flatten("p", &mut sink);
    sink.tensors
        .into_iter()
        .map(|(name, data)| {
            let v = data.try_to_vec::<f32>().unwrap();
            (name, v.iter().map(|x| x.to_bits()).collect())
        })
        .collect()
}

/// Four steps of Burn's `Sgd` and of [`FusedSgd`] from the same weights with the same
/// gradients: the weights and the recorded state are the same bits after every step.
/// With `shared`, the fused step gets tensors whose buffers something else also holds
/// (which must not change).
fn same_steps<const D: usize>(setting: Setting, shape: [usize; D], seed: u64, shared: bool) {
    let dev = Device::flex();
    let (burn, fused) = (burns(setting).build(), ours(setting));
    let mut w_burn = fixed(shape, seed, &dev);
    let mut w_ours = fixed(shape, seed, &dev);
    let (mut s_burn, mut s_ours): (Option<SgdState<D>>, Option<FusedSgdState<D>>) = (None, None);
    for (i, lr) in [0.05, 0.05, 0.013, 0.1].into_iter().enumerate() {
        let g = fixed(shape, seed + 100 + i as u64, &dev);
        let (g_ours, keep) = if shared {
            let g2 = fixed(shape, seed + 100 + i as u64, &dev);
            (g2.clone(), Some((g2, w_ours.clone())))
        } else {
            (fixed(shape, seed + 100 + i as u64, &dev), None)
        };
        let before = keep.as_ref().map(|(g, w)| (bits(g), bits(w)));
        (w_burn, s_burn) = Optimizer::step(&burn, lr, w_burn, g, s_burn);
        (w_ours, s_ours) = Optimizer::step(&fused, lr, w_ours, g_ours, s_ours);
        let what = format!("{setting:?} {shape:?} step {i}");
        assert_eq!(bits(&w_ours), bits(&w_burn), "{what}: weights");
        assert_eq!(
            recorded(s_ours.as_ref().unwrap()),
            recorded(s_burn.as_ref().unwrap()),
            "{what}: recorded state"
        );
        if let (Some((g, w)), Some(before)) = (keep, before) {
            assert_eq!(
                (bits(&g), bits(&w)),
                before,
                "{what}: shared buffers changed"
            );
        }
    }
}

#[test]
fn same_bits_as_burns_sgd() {
    for (k, setting) in settings().into_iter().enumerate() {
        let seed = 10 * k as u64;
        same_steps(setting, [7], seed, false);
        same_steps(setting, [31, 17], seed, false);
        same_steps(setting, [31, 17], seed, true);
        // Above the split threshold: updated in parts over the pool's threads.
        same_steps(setting, [300, 301], seed, false);
        same_steps(setting, [2, 3, 40, 400], seed, true);
    }
}

#[test]
fn tensor_op_fallback_matches_burn() {
    let dev = Device::flex();
    for setting in settings() {
        let (burn, rule) = (burns(setting).build(), ours(setting).rule);
        let (mut w_burn, mut w_ops) = (fixed([9, 11], 1, &dev), fixed([9, 11], 1, &dev));
        let (mut s_burn, mut v_ops): (Option<SgdState<2>>, Option<Tensor<2>>) = (None, None);
        for (i, lr) in [0.05, 0.02, 0.3].into_iter().enumerate() {
            let g = fixed([9, 11], 50 + i as u64, &dev);
            (w_burn, s_burn) = Optimizer::step(&burn, lr, w_burn, g.clone(), s_burn);
            let rule = Rule {
                lr: lr as f32,
                ..rule
            };
            (w_ops, v_ops) = step_ops(rule, w_ops, g, v_ops);
            assert_eq!(bits(&w_ops), bits(&w_burn), "{setting:?} step {i}");
        }
    }
}

#[test]
fn splitting_does_not_change_bits() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n = 10_007;
    let mut draw = || -> Vec<f32> { (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect() };
    let (w0, g0, v0) = (draw(), draw(), draw());
    for setting in settings() {
        let rule = Rule {
            lr: 0.03,
            ..ours(setting).rule
        };
        let run = |blocks: usize, with_v: bool| {
            let (mut w, mut g, mut v) = (w0.clone(), g0.clone(), v0.clone());
            update(rule, &mut w, &mut g, with_v.then_some(&mut v[..]), blocks);
            (w, g, v)
        };
        for with_v in [false, true] {
            let one = run(1, with_v);
            for blocks in [2, 3, 7] {
                assert!(run(blocks, with_v) == one, "{setting:?} {blocks} blocks");
            }
        }
    }
}

/// One step of `optim` on `layer` with the loss `sum(layer(x) · r)`.
fn train_step(layer: Linear, optim: &mut ModuleOptimizer, seed: u64, lr: f64) -> Linear {
    let dev = Device::flex().autodiff();
    let x = fixed([8, 20], seed, &dev);
    let r = fixed([8, 30], seed + 1, &dev);
    let loss = (layer.forward(x) * r).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &layer);
    optim.step(lr, layer, grads)
}

fn weights(layer: &Linear) -> (Vec<u32>, Vec<u32>) {
    let b = layer.bias.as_ref().unwrap().val();
    (bits(&layer.weight.val()), bits(&b))
}

/// Two steps with `first`, its state saved (burnpack bytes) and loaded into `second`, two
/// more steps: the same bits as four steps with `first`.
fn resumes(first: fn() -> ModuleOptimizer, second: fn() -> ModuleOptimizer) {
    let dev = Device::flex().autodiff();
    let mut layer = LinearConfig::new(20, 30).init(&dev);
    let mut optim = first();
    for s in 0..2 {
        layer = train_step(layer, &mut optim, 10 * s, 0.05);
    }
    let bytes = optim.into_bytes().unwrap();
    let mut resumed = second().from_bytes(bytes).unwrap();
    let mut other = layer.clone();
    for s in 2..4 {
        layer = train_step(layer, &mut optim, 10 * s, 0.05);
        other = train_step(other, &mut resumed, 10 * s, 0.05);
    }
    assert!(weights(&layer) == weights(&other), "resumed run differs");
}

/// Momentum 0.9 without dampening and weight decay 1e-4, as `train::optimizer` builds it.
const USUAL: Setting = (
    Some(1e-4),
    Some(MomentumSettings {
        momentum: 0.9,
        dampening: 0.0,
        nesterov: false,
    }),
);

fn burn_usual() -> ModuleOptimizer {
    burns(USUAL).init()
}

fn fused_usual() -> ModuleOptimizer {
    ModuleOptimizer::from(ours(USUAL))
}

#[test]
fn checkpoints_resume_across_optimisers() {
    resumes(burn_usual, burn_usual);
    resumes(burn_usual, fused_usual);
    resumes(fused_usual, burn_usual);
    resumes(fused_usual, fused_usual);
    // Without the velocity the resumed run would differ: the comparison can tell.
    let dev = Device::flex().autodiff();
    let mut layer = LinearConfig::new(20, 30).init(&dev);
    let mut optim = fused_usual();
    for s in 0..2 {
        layer = train_step(layer, &mut optim, 10 * s, 0.05);
    }
    let (a, b) = (layer.clone(), layer);
    let a = train_step(a, &mut optim, 20, 0.05);
    let b = train_step(b, &mut fused_usual(), 20, 0.05);
    assert!(weights(&a) != weights(&b), "a lost velocity went unnoticed");
}

/// Pruning's hook masks the gradients with tensors of the autodiff device: the fused
/// step takes their values, to the same bits as Burn's.
#[test]
fn masked_gradients_match_burn() {
    let (dev, ad) = (Device::flex(), Device::flex().autodiff());
    let (burn, fused) = (burns(USUAL).build(), ours(USUAL));
    let mut w_burn = fixed([40, 30], 3, &dev);
    let mut w_ours = fixed([40, 30], 3, &dev);
    let (mut s_burn, mut s_ours): (Option<SgdState<2>>, Option<FusedSgdState<2>>) = (None, None);
    let mask = fixed([40, 30], 4, &ad).greater_elem(0.0).float();
    for i in 0..3 {
        let g = |_| fixed([40, 30], 60 + i, &dev) * mask.clone();
        assert!(
            g(()).gradient_checkpointing_strategy().is_some(),
            "an autodiff gradient"
        );
        (w_burn, s_burn) = Optimizer::step(&burn, 0.05, w_burn, g(()), s_burn);
        (w_ours, s_ours) = Optimizer::step(&fused, 0.05, w_ours, g(()), s_ours);
        assert_eq!(bits(&w_ours), bits(&w_burn), "step {i}");
    }
    assert_eq!(recorded(&s_ours.unwrap()), recorded(&s_burn.unwrap()));
}
