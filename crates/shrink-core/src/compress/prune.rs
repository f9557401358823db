//! Magnitude pruning with retraining (Han et al. 2015, "Learning both Weights and
//! Connections"; Deep Compression §2).
//!
//! Per layer, weights with |w| < quality × std(layer weights) are removed; a mask keeps
//! them at exactly zero while the survivors retrain (the gradient *and* the update are
//! masked: momentum left over from before pruning must not revive a weight). Pruning is
//! iterative: the threshold rises over several prune → retrain rounds.

use crate::model::{Net, WeightRef};
use crate::train::TrainHooks;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// How hard to prune one layer: a quality factor (threshold = quality × std) or a
/// fraction of weights to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneTarget {
    Quality(f64),
    Keep(f64),
}

/// Keep-mask of one weight tensor in PyTorch layout (`true` = kept).
pub type Mask = Vec<bool>;

/// Standard deviation (population) of `w`.
pub fn std_dev(w: &[f32]) -> f64 {
    let n = w.len().max(1) as f64;
    let mean = w.iter().map(|&v| v as f64).sum::<f64>() / n;
    (w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Han et al.: prune |w| < quality · σ. Returns the keep-mask.
pub fn prune_by_std(w: &[f32], quality: f64, std: f64) -> Mask {
    let thr = quality * std;
    w.iter().map(|&v| (v as f64).abs() >= thr).collect()
}

/// Keep the `keep` fraction of weights with the largest magnitudes.
pub fn prune_to_keep(w: &[f32], keep: f64) -> Mask {
    let n = w.len();
    let k = ((keep.clamp(0.0, 1.0) * n as f64).round() as usize).min(n);
    if k == n {
        return vec![true; n];
    }
    if k == 0 {
        return vec![false; n];
    }
    // The k-th largest magnitude by linear-time selection; then every larger magnitude
    // and, of those equal to it, the first by position. The same mask as sorting by
    // (magnitude descending, position ascending), in O(n) rather than O(n log n):
    // VGG-16's fc6 has 103 M weights.
    use std::cmp::Ordering::{Equal, Greater};
    let mut mags: Vec<f32> = w.iter().map(|v| v.abs()).collect();
    let (_, kth, _) = mags.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let t = *kth;
    drop(mags);
    let above = w
        .iter()
        .filter(|v| v.abs().total_cmp(&t) == Greater)
        .count();
    let mut ties = k - above;
    w.iter()
        .map(|v| match v.abs().total_cmp(&t) {
            Greater => true,
            Equal if ties > 0 => {
                ties -= 1;
                true
            }
            _ => false,
        })
        .collect()
}

/// The mask for round `round` of `rounds` (1-based): the target is approached linearly,
/// and a weight once pruned stays pruned.
pub fn round_mask(
    w: &[f32],
    prev: Option<&Mask>,
    target: PruneTarget,
    std: f64,
    round: usize,
    rounds: usize,
) -> Mask {
    let f = round as f64 / rounds.max(1) as f64;
    let fresh = match target {
        PruneTarget::Quality(q) => prune_by_std(w, q * f, std),
        PruneTarget::Keep(k) => prune_to_keep(w, 1.0 - (1.0 - k) * f),
    };
    match prev {
        Some(p) => fresh.iter().zip(p).map(|(a, b)| *a && *b).collect(),
        None => fresh,
    }
}

/// Han et al. §3.5: a layer that keeps C_r of its C_o connections gets dropout
/// D_r = D_o · sqrt(C_r / C_o).
pub fn rescaled_dropout(p: f64, kept: usize, total: usize) -> f64 {
    p * (kept as f64 / total.max(1) as f64).sqrt()
}

/// Convert a PyTorch-layout mask/value vector to Burn's layout for that parameter
/// (linear weights are stored `[in, out]` in Burn, `[out, in]` in PyTorch).
pub fn to_burn_layout<T: Copy>(v: &[T], torch_shape: &[usize]) -> Vec<T> {
    if torch_shape.len() != 2 {
        return v.to_vec();
    }
    let (o, i) = (torch_shape[0], torch_shape[1]);
    let mut out = Vec::with_capacity(v.len());
    for c in 0..i {
        for r in 0..o {
            out.push(v[r * i + c]);
        }
    }
    out
}

/// Training hooks that keep pruned weights at zero.
pub struct MaskHooks {
    masks: HashMap<ParamId, Tensor<1>>,
}

impl MaskHooks {
    /// Masks by weight name (PyTorch layout) for the weights of `net`, on `device`.
    pub fn new(
        net: &Net,
        masks: &BTreeMap<String, (Vec<usize>, Mask)>,
        device: &Device,
    ) -> MaskHooks {
        let mut by_id = HashMap::new();
        for (path, w) in net.weights() {
            if let Some((shape, m)) = masks.get(&path) {
                let burn = to_burn_layout(m, shape);
                let v: Vec<f32> = burn.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
                let n = v.len();
                let id = match w {
                    WeightRef::W2(p) => p.id,
                    WeightRef::W4(p) => p.id,
                };
                by_id.insert(id, Tensor::<1>::from_data(TensorData::new(v, [n]), device));
            }
        }
        MaskHooks { masks: by_id }
    }

    /// Zero the pruned weights of `net` now.
    pub fn apply(&self, net: Net) -> Net {
        net.map(&mut MaskMapper { masks: &self.masks })
    }
}

struct MaskMapper<'a> {
    masks: &'a HashMap<ParamId, Tensor<1>>,
}

impl ModuleMapper for MaskMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.masks.get(&param.id) {
            Some(m) => {
                let m = m.clone();
                param.map(|t| {
                    let shape = t.shape();
                    (t * m.reshape(shape)).detach().require_grad()
                })
            }
            None => param,
        }
    }
}

impl TrainHooks for MaskHooks {
    fn grads(&mut self, net: &Net, grads: &mut GradientsParams, _lr: f64) {
        for (_, w) in net.weights() {
            match w {
                WeightRef::W2(p) => {
                    if let (Some(m), Some(g)) = (self.masks.get(&p.id), grads.remove::<2>(p.id)) {
                        let shape = g.shape();
                        grads.register(p.id, g * m.clone().reshape(shape));
                    }
                }
                WeightRef::W4(p) => {
                    if let (Some(m), Some(g)) = (self.masks.get(&p.id), grads.remove::<4>(p.id)) {
                        let shape = g.shape();
                        grads.register(p.id, g * m.clone().reshape(shape));
                    }
                }
            }
        }
    }

    fn after_step(&mut self, net: Net) -> Net {
        self.apply(net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_threshold_and_keep_fraction() {
        let w = [0.1f32, -0.5, 0.05, 2.0, -0.01, 0.3];
        let s = std_dev(&w);
        let m = prune_by_std(&w, 0.5, s);
        let thr = 0.5 * s;
        for (v, k) in w.iter().zip(&m) {
            assert_eq!(*k, (*v as f64).abs() >= thr);
        }
        let m = prune_to_keep(&w, 0.5);
        assert_eq!(m, vec![false, true, false, true, false, true]);
    }

    /// The mask by sorting (magnitude descending, position ascending), as pruning was
    /// defined before the linear-time selection.
    fn keep_by_sorting(w: &[f32], keep: f64) -> Mask {
        let n = w.len();
        let k = ((keep.clamp(0.0, 1.0) * n as f64).round() as usize).min(n);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| w[b].abs().total_cmp(&w[a].abs()).then(a.cmp(&b)));
        let mut mask = vec![false; n];
        for &i in &order[..k] {
            mask[i] = true;
        }
        mask
    }

    #[test]
    fn keep_by_selection_equals_keep_by_sorting_with_ties() {
        // Few distinct magnitudes, both signs: many ties at every threshold.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let w: Vec<f32> = (0..5000)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s % 41) as f32 - 20.0) / 8.0
            })
            .collect();
        for keep in [0.0, 0.0002, 0.04, 0.09, 0.25, 0.5, 0.84, 0.999, 1.0] {
            let m = prune_to_keep(&w, keep);
            assert_eq!(m, keep_by_sorting(&w, keep), "keep {keep}");
            let want = (keep * w.len() as f64).round() as usize;
            assert_eq!(m.iter().filter(|k| **k).count(), want, "keep {keep}");
        }
    }

    #[test]
    fn rounds_are_monotone() {
        let w: Vec<f32> = (0..100)
            .map(|i| ((i * 37 % 100) as f32 - 50.0) / 10.0)
            .collect();
        let s = std_dev(&w);
        let mut prev: Option<Mask> = None;
        let mut kept_before = w.len();
        for r in 1..=3 {
            let m = round_mask(&w, prev.as_ref(), PruneTarget::Keep(0.1), s, r, 3);
            let kept = m.iter().filter(|k| **k).count();
            assert!(kept <= kept_before);
            if let Some(p) = &prev {
                assert!(
                    m.iter().zip(p).all(|(a, b)| !*a || *b),
                    "a pruned weight came back"
                );
            }
            kept_before = kept;
            prev = Some(m);
        }
        assert_eq!(kept_before, 10);
    }

    #[test]
    fn burn_layout_transposes_linear() {
        // torch [out=2, in=3]: rows are outputs.
        let v = [1, 2, 3, 4, 5, 6];
        assert_eq!(to_burn_layout(&v, &[2, 3]), vec![1, 4, 2, 5, 3, 6]);
        assert_eq!(to_burn_layout(&v, &[1, 2, 3]), v.to_vec());
    }

    #[test]
    fn dropout_rescale() {
        assert!((rescaled_dropout(0.5, 25, 100) - 0.25).abs() < 1e-12);
    }
}
