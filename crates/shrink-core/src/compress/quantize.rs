//! Trained quantization by weight sharing (Deep Compression §3).
//!
//! Per layer, 1-D k-means over the surviving weights with k = 2^bits clusters; every
//! weight then stores only its cluster index. Centroid initialisation matters (§3.2):
//! *linear* (evenly spaced over [min, max]) keeps the rare large weights that *density*
//! (evenly spaced on the CDF) and *Forgy* (random samples) neglect, and is the default.
//! Fine-tuning (§3.3): the gradient of centroid C_k is the sum of dL/dW over the weights
//! in cluster k, C_k ← C_k − lr · that sum; the weights stay tied to their centroid and
//! pruned weights stay zero.

use crate::model::{Net, WeightRef};
use crate::train::TrainHooks;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Centroid initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CentroidInit {
    Linear,
    Density,
    Forgy,
}

/// One layer's shared weights: the codebook and each element's cluster (PyTorch layout;
/// pruned elements have no cluster).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantized {
    pub bits: u8,
    pub codebook: Vec<f32>,
    /// Cluster of each element, `None` where pruned.
    pub assign: Vec<Option<u16>>,
}

impl Quantized {
    /// The dense weights this stands for.
    pub fn values(&self) -> Vec<f32> {
        self.assign
            .iter()
            .map(|a| a.map_or(0.0, |k| self.codebook[k as usize]))
            .collect()
    }
}

/// Initial centroids for `values` (the surviving weights).
pub fn init_centroids(values: &[f32], k: usize, init: CentroidInit, seed: u64) -> Vec<f32> {
    if values.is_empty() {
        return vec![0.0];
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
    let k = k.max(1);
    match init {
        CentroidInit::Linear => {
            if k == 1 {
                return vec![(lo + hi) / 2.0];
            }
            (0..k)
                .map(|i| lo + (hi - lo) * i as f32 / (k - 1) as f32)
                .collect()
        }
        CentroidInit::Density => (0..k)
            .map(|i| {
                // Evenly spaced on the empirical CDF.
                let q = (i as f64 + 0.5) / k as f64;
                sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
            })
            .collect(),
        CentroidInit::Forgy => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut c: Vec<f32> = values
                .choose_multiple(&mut rng, k.min(values.len()))
                .copied()
                .collect();
            c.sort_by(f32::total_cmp);
            c
        }
    }
}

/// Index of the nearest centroid (`centroids` sorted ascending).
fn nearest(centroids: &[f32], v: f32) -> usize {
    let i = centroids.partition_point(|&c| c < v);
    if i == 0 {
        0
    } else if i == centroids.len() || (v - centroids[i - 1]).abs() <= (centroids[i] - v).abs() {
        i - 1
    } else {
        i
    }
}

/// 1-D k-means (Lloyd) from the given initial centroids. Returns sorted centroids and
/// each value's cluster. Empty clusters keep their previous centroid.
///
/// The values are sorted once; the nearest centroid is monotone in the value, so each
/// cluster is a contiguous run of the sorted values whose ends a binary search finds.
/// An iteration then costs `O(k log n)` searches and one sequential pass of sums
/// instead of a search per value (the same assignments and convergence test; only the
/// order of the f64 sums differs).
pub fn kmeans_1d(values: &[f32], mut centroids: Vec<f32>, max_iter: usize) -> (Vec<f32>, Vec<u16>) {
    centroids.sort_by(f32::total_cmp);
    let k = centroids.len();
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f32::total_cmp);
    let n = sorted.len();
    // bounds[j]..bounds[j + 1] is cluster j; every value starts in cluster 0.
    let mut bounds: Vec<usize> = (0..=k).map(|j| if j == 0 { 0 } else { n }).collect();
    for _ in 0..max_iter {
        let next: Vec<usize> = (0..=k)
            .map(|j| {
                if j == k {
                    n
                } else {
                    sorted.partition_point(|&v| nearest(&centroids, v) < j)
                }
            })
            .collect();
        let changed = next != bounds;
        bounds = next;
        for (j, c) in centroids.iter_mut().enumerate() {
            let run = &sorted[bounds[j]..bounds[j + 1]];
            if !run.is_empty() {
                *c = (run.iter().map(|&v| v as f64).sum::<f64>() / run.len() as f64) as f32;
            }
        }
        // Means of sorted, disjoint intervals stay sorted.
        if !changed {
            break;
        }
    }
    let assign = values
        .iter()
        .map(|&v| nearest(&centroids, v) as u16)
        .collect();
    (centroids, assign)
}

/// Quantize one layer: k-means over the kept weights.
pub fn quantize_layer(
    w: &[f32],
    mask: &[bool],
    bits: u8,
    init: CentroidInit,
    seed: u64,
) -> Quantized {
    let kept: Vec<f32> = w
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m)
        .map(|(v, _)| *v)
        .collect();
    let k = 1usize << bits;
    let init_c = init_centroids(&kept, k, init, seed);
    let (codebook, clusters) = kmeans_1d(&kept, init_c, 100);
    let mut it = clusters.into_iter();
    let assign = mask
        .iter()
        .map(|&m| if m { it.next() } else { None })
        .collect();
    Quantized {
        bits,
        codebook,
        assign,
    }
}

/// Training hooks for centroid fine-tuning: the weight gradients are summed per cluster
/// and applied to the codebook (with momentum); the weights are then rebuilt from it.
pub struct ShareHooks {
    layers: HashMap<ParamId, SharedLayer>,
    momentum: f64,
    device: Device,
}

struct SharedLayer {
    name: String,
    /// Cluster per element in Burn layout (`u16::MAX` = pruned).
    assign: Vec<u16>,
    codebook: Vec<f32>,
    velocity: Vec<f64>,
    dims: Vec<usize>,
}

impl ShareHooks {
    pub fn new(
        net: &Net,
        q: &BTreeMap<String, (Vec<usize>, Quantized)>,
        momentum: f64,
        device: &Device,
    ) -> ShareHooks {
        let mut layers = HashMap::new();
        for (path, w) in net.weights() {
            let Some((shape, qz)) = q.get(&path) else {
                continue;
            };
            let torch: Vec<u16> = qz.assign.iter().map(|a| a.unwrap_or(u16::MAX)).collect();
            let (id, dims) = match w {
                WeightRef::W2(p) => (p.id, p.val().dims().to_vec()),
                WeightRef::W4(p) => (p.id, p.val().dims().to_vec()),
            };
            layers.insert(
                id,
                SharedLayer {
                    name: path.clone(),
                    assign: super::prune::to_burn_layout(&torch, shape),
                    velocity: vec![0.0; qz.codebook.len()],
                    codebook: qz.codebook.clone(),
                    dims,
                },
            );
        }
        ShareHooks {
            layers,
            momentum,
            device: device.clone(),
        }
    }

    /// The fine-tuned codebooks by weight name.
    pub fn codebooks(&self) -> BTreeMap<String, Vec<f32>> {
        self.layers
            .values()
            .map(|l| (l.name.clone(), l.codebook.clone()))
            .collect()
    }

    /// Set every shared weight of `net` from its codebook.
    pub fn apply(&self, net: Net) -> Net {
        net.map(&mut ShareMapper { hooks: self })
    }
}

fn tied_values(l: &SharedLayer) -> Vec<f32> {
    l.assign
        .iter()
        .map(|&a| {
            if a == u16::MAX {
                0.0
            } else {
                l.codebook[a as usize]
            }
        })
        .collect()
}

struct ShareMapper<'a> {
    hooks: &'a ShareHooks,
}

impl ModuleMapper for ShareMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.hooks.layers.get(&param.id) {
            Some(l) => {
                let data = TensorData::new(tied_values(l), l.dims.clone());
                let dev = self.hooks.device.clone();
                param.map(|_| Tensor::<D>::from_data(data, &dev).require_grad())
            }
            None => param,
        }
    }
}

impl TrainHooks for ShareHooks {
    fn grads(&mut self, net: &Net, grads: &mut GradientsParams, lr: f64) {
        for (_, w) in net.weights() {
            let id = match &w {
                WeightRef::W2(p) => p.id,
                WeightRef::W4(p) => p.id,
            };
            let Some(l) = self.layers.get_mut(&id) else {
                continue;
            };
            // The optimiser must not move tied weights on its own: take their gradient.
            let g: Option<Vec<f32>> = match w {
                WeightRef::W2(_) => grads
                    .remove::<2>(id)
                    .map(|g| g.into_data().try_into_vec_as::<f32>().unwrap_or_default()),
                WeightRef::W4(_) => grads
                    .remove::<4>(id)
                    .map(|g| g.into_data().try_into_vec_as::<f32>().unwrap_or_default()),
            };
            let Some(g) = g else { continue };
            // dL/dC_k = Σ_{i: assign_i = k} dL/dW_i  (Deep Compression eq. 3)
            let mut gc = vec![0.0f64; l.codebook.len()];
            for (&a, &gi) in l.assign.iter().zip(&g) {
                if a != u16::MAX {
                    gc[a as usize] += gi as f64;
                }
            }
            for ((c, v), g) in l.codebook.iter_mut().zip(&mut l.velocity).zip(&gc) {
                *v = self.momentum * *v + g;
                *c -= (lr * *v) as f32;
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
    fn linear_init_spans_the_range() {
        let c = init_centroids(&[-1.0, 0.0, 0.5, 3.0], 4, CentroidInit::Linear, 0);
        let want = [-1.0f32, 1.0 / 3.0, 5.0 / 3.0, 3.0];
        assert!(
            c.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{c:?}"
        );
    }

    /// Lloyd's algorithm with a nearest-centroid search per value, as k-means was
    /// written before the sorted-runs version.
    fn kmeans_per_value(values: &[f32], mut c: Vec<f32>, max_iter: usize) -> (Vec<f32>, Vec<u16>) {
        c.sort_by(f32::total_cmp);
        let mut assign = vec![0u16; values.len()];
        for _ in 0..max_iter {
            let mut sum = vec![0.0f64; c.len()];
            let mut cnt = vec![0usize; c.len()];
            let mut changed = false;
            for (a, &v) in assign.iter_mut().zip(values) {
                let k = nearest(&c, v) as u16;
                changed |= *a != k;
                *a = k;
                sum[k as usize] += v as f64;
                cnt[k as usize] += 1;
            }
            for k in 0..c.len() {
                if cnt[k] > 0 {
                    c[k] = (sum[k] / cnt[k] as f64) as f32;
                }
            }
            if !changed {
                break;
            }
        }
        for (a, &v) in assign.iter_mut().zip(values) {
            *a = nearest(&c, v) as u16;
        }
        (c, assign)
    }

    #[test]
    fn kmeans_by_sorted_runs_equals_kmeans_per_value() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        // Skewed values (a cube of a uniform) with repeats, several k and inits.
        let v: Vec<f32> = (0..20000)
            .map(|i| {
                let u = 2.0 * next() - 1.0;
                if i % 7 == 0 {
                    0.25
                } else {
                    u * u * u
                }
            })
            .collect();
        for bits in [1u8, 3, 5, 8] {
            for init in [
                CentroidInit::Linear,
                CentroidInit::Density,
                CentroidInit::Forgy,
            ] {
                let c0 = init_centroids(&v, 1 << bits, init, 7);
                for iters in [1, 3, 100] {
                    let (ca, aa) = kmeans_1d(&v, c0.clone(), iters);
                    let (cb, ab) = kmeans_per_value(&v, c0.clone(), iters);
                    assert_eq!(aa, ab, "bits {bits} {init:?} {iters} iterations");
                    for (a, b) in ca.iter().zip(&cb) {
                        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{ca:?} {cb:?}");
                    }
                }
            }
        }
        // Every value in one cluster from the start: one update, then stop.
        let (c, a) = kmeans_1d(&[1.0, 2.0, 3.0], vec![10.0, 20.0], 100);
        assert_eq!(a, vec![0, 0, 0]);
        assert_eq!(c, vec![2.0, 20.0]);
    }

    #[test]
    fn kmeans_separates_clear_clusters() {
        let v = [0.0, 0.1, -0.1, 5.0, 5.1, 4.9, -3.0, -3.1];
        for init in [
            CentroidInit::Linear,
            CentroidInit::Density,
            CentroidInit::Forgy,
        ] {
            let c = init_centroids(&v, 3, init, 1);
            let (c, a) = kmeans_1d(&v, c, 50);
            assert_eq!(a[0], a[1]);
            assert_eq!(a[3], a[4]);
            assert_ne!(a[0], a[3]);
            assert!(c.windows(2).all(|w| w[0] <= w[1]), "{init:?}: {c:?}");
        }
    }

    #[test]
    fn quantized_layer_keeps_pruned_zero() {
        let w = [0.5, -0.5, 0.0, 0.9, -0.2];
        let m = [true, true, false, true, false];
        let q = quantize_layer(&w, &m, 1, CentroidInit::Linear, 0);
        assert_eq!(q.assign[2], None);
        assert_eq!(q.values()[4], 0.0);
        assert!(q.codebook.len() <= 2);
    }
}
