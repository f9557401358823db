//! Past the weights: what else a sparse network lets the file drop (issue 14, items 2–3).
//!
//! * [`remove_dead_units`]: a unit (a linear layer's output, a conv filter) whose outgoing
//!   weights are all pruned computes nothing anyone reads, and one whose incoming weights
//!   are all pruned computes a constant, `act(bias)`, which the next layer can take into
//!   its own bias. Either way the unit goes: its row and bias in its layer, its columns
//!   (input channels) in the next, and the spec's `out` shrinks, so the file is smaller
//!   and the runtime does less work.
//! * [`trim_codebooks`]: a layer with fewer kept weights than `2^bits` leaves centroids
//!   no weight uses (LeNet-5's first conv after sparse VD: a few dozen weights, 256
//!   centroids at 8 bits = 1 KB of codebook); they go, and the indices are renumbered.
//! * [`share_vectors`]: biases, stored as float32 otherwise, as a small k-means codebook
//!   plus indices in the container's compressed tensor form (docs/FORMAT.md §3, every
//!   position kept), where that is smaller than float32.
//! * [`round_to_half`]: the codebooks and the tensors stored as they are, rounded to
//!   half precision, which format version 2 stores in 16 bits (`[compress] half`).
//!
//! Not here: pruning itself (`prune`, `sparse_vd`), the weights' codebooks (`quantize`).

use super::params::ParamTable;
use super::quantize::{self, CentroidInit, Quantized};
use super::QuantMap;
use anyhow::Result;
use serde::Serialize;
use shrink_format::spec::{Layer, ModelSpec};

/// One weighted layer's units before and after [`remove_dead_units`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnitsRemoved {
    /// `layers.{i}`.
    pub layer: String,
    pub before: usize,
    pub after: usize,
    /// Of the removed units, how many computed a constant folded into the next layer.
    pub folded_constant: usize,
}

/// An elementwise step between two weighted layers, applied to a constant unit.
fn constant_through(layers: &[Layer], c: f64) -> Option<f64> {
    let mut c = c;
    for l in layers {
        c = match l {
            Layer::Relu => c.max(0.0),
            Layer::LeakyRelu { slope } => {
                if c >= 0.0 {
                    c
                } else {
                    c * slope
                }
            }
            Layer::Tanh => c.tanh(),
            Layer::Sigmoid => 1.0 / (1.0 + (-c).exp()),
            // A constant map stays that constant through max pooling (padding is −∞),
            // flattening and (inference-time) dropout.
            Layer::MaxPool2d { .. } | Layer::Flatten | Layer::Dropout { .. } => c,
            _ => return None,
        };
    }
    Some(c)
}

/// Remove, to a fixed point, the units of every weighted layer (linear, conv2d) that
/// feeds the next weighted layer through elementwise activations, max pooling, flatten
/// or dropout only, when the unit's outgoing weights are all zero or its incoming
/// weights are (then `act(bias)` is added to the next layer's bias, if the next layer is
/// linear or an unpadded conv). A layer keeps at least one unit; the output layer keeps
/// all of them. The network computes the same function (up to float rounding).
pub fn remove_dead_units(
    spec: &ModelSpec,
    table: &ParamTable,
) -> Result<(ModelSpec, ParamTable, Vec<UnitsRemoved>)> {
    let mut spec = spec.clone();
    let mut table = table.clone();
    let weighted: Vec<usize> = (0..spec.layers.len())
        .filter(|&i| {
            matches!(
                spec.layers[i],
                Layer::Linear {
                    bottleneck: None,
                    ..
                } | Layer::Conv2d { .. }
            )
        })
        .collect();
    let mut report: Vec<UnitsRemoved> = weighted
        .iter()
        .map(|i| {
            let before = table
                .get(&format!("layers.{i}.weight"))
                .map_or(0, |w| w.shape[0]);
            UnitsRemoved {
                layer: format!("layers.{i}"),
                before,
                after: before,
                folded_constant: 0,
            }
        })
        .collect();
    loop {
        let mut changed = false;
        // Input channels of each top-level layer: a grouped convolution (weight with fewer
        // input channels than its input) is left as it is.
        let (infos, _) = spec.infer()?; // recomputed as layers shrink
        let in_ch = |i: usize| {
            let path = format!("layers.{i}");
            infos
                .iter()
                .find(|f| f.path == path)
                .map_or(0, |f| f.input[0])
        };
        for (pair, w) in weighted.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let between = &spec.layers[a + 1..b];
            if constant_through(between, 0.0).is_none() {
                continue;
            }
            let b_padded = matches!(spec.layers[b], Layer::Conv2d { padding, .. } if padding > 0);
            let (aw, bw) = (format!("layers.{a}.weight"), format!("layers.{b}.weight"));
            let (Some(pa), Some(pb)) = (table.get(&aw), table.get(&bw)) else {
                continue;
            };
            let out_a = pa.shape[0];
            let fan_a = pa.data.len() / out_a.max(1);
            let out_b = pb.shape[0];
            let fan_b = pb.data.len() / out_b.max(1);
            if out_a == 0 || fan_b % out_a != 0 {
                continue;
            }
            let grouped =
                |p: &super::params::Param, i: usize| p.shape.len() == 4 && p.shape[1] != in_ch(i);
            if grouped(pa, a) || grouped(pb, b) {
                continue;
            }
            // Unit j of A feeds B's columns j·g .. (j+1)·g (a conv's kh·kw taps of input
            // channel j, or the H·W positions of channel j after flatten).
            let g = fan_b / out_a;
            let a_bias = table
                .get(&format!("layers.{a}.bias"))
                .map(|p| p.data.clone());
            let b_has_bias = table.get(&format!("layers.{b}.bias")).is_some();
            let mut drop = vec![false; out_a];
            let mut fold: Vec<(usize, f64)> = Vec::new();
            for (j, d) in drop.iter_mut().enumerate() {
                let out_dead = (0..out_b).all(|o| {
                    pb.data[o * fan_b + j * g..o * fan_b + (j + 1) * g]
                        .iter()
                        .all(|v| *v == 0.0)
                });
                let in_dead = pa.data[j * fan_a..(j + 1) * fan_a]
                    .iter()
                    .all(|v| *v == 0.0);
                if out_dead {
                    *d = true;
                } else if in_dead && !b_padded {
                    let bias = a_bias.as_ref().map_or(0.0, |bb| bb[j] as f64);
                    let c = constant_through(between, bias).unwrap_or(0.0);
                    if c == 0.0 || b_has_bias {
                        *d = true;
                        if c != 0.0 {
                            fold.push((j, c));
                        }
                    }
                }
            }
            let kept: Vec<usize> = (0..out_a).filter(|j| !drop[*j]).collect();
            let kept = if kept.is_empty() { vec![0] } else { kept };
            if kept.len() == out_a {
                continue;
            }
            fold.retain(|(j, _)| !kept.contains(j));
            // B's bias takes the constants: b_o += c_j · Σ_{cols of j} W_B[o, col].
            if !fold.is_empty() {
                let pbd = pb.data.clone();
                let bb = table
                    .get_mut(&format!("layers.{b}.bias"))
                    .expect("checked above");
                for o in 0..out_b {
                    let mut add = 0.0f64;
                    for &(j, c) in &fold {
                        let s: f64 = pbd[o * fan_b + j * g..o * fan_b + (j + 1) * g]
                            .iter()
                            .map(|v| *v as f64)
                            .sum();
                        add += c * s;
                    }
                    bb.data[o] = (bb.data[o] as f64 + add) as f32;
                }
            }
            // A: keep rows; B: keep column groups.
            let pa = table.get_mut(&aw).expect("present");
            pa.data = kept
                .iter()
                .flat_map(|&j| pa.data[j * fan_a..(j + 1) * fan_a].to_vec())
                .collect();
            pa.shape[0] = kept.len();
            if let Some(ab) = table.get_mut(&format!("layers.{a}.bias")) {
                ab.data = kept.iter().map(|&j| ab.data[j]).collect();
                ab.shape[0] = kept.len();
            }
            let pb = table.get_mut(&bw).expect("present");
            let old = pb.data.clone();
            pb.data = (0..out_b)
                .flat_map(|o| {
                    kept.iter()
                        .flat_map(|&j| old[o * fan_b + j * g..o * fan_b + (j + 1) * g].to_vec())
                        .collect::<Vec<f32>>()
                })
                .collect();
            if pb.shape.len() == 4 {
                pb.shape[1] = kept.len();
            } else {
                pb.shape[1] = kept.len() * g;
            }
            match &mut spec.layers[a] {
                Layer::Linear { out, .. } | Layer::Conv2d { out, .. } => *out = kept.len(),
                _ => unreachable!("weighted layers are linear or conv2d"),
            }
            report[pair].after = kept.len();
            report[pair].folded_constant += fold.len();
            changed = true;
        }
        if !changed {
            break;
        }
    }
    spec.infer()?;
    Ok((spec, table, report))
}

/// Drop the centroids no weight uses from every codebook in `quant`, renumbering the
/// assignments (the weights' values do not change). Returns how many were dropped.
pub fn trim_codebooks(quant: &mut QuantMap) -> usize {
    let mut dropped = 0;
    for (_, q) in quant.values_mut() {
        let mut used = vec![false; q.codebook.len()];
        for k in q.assign.iter().flatten() {
            used[*k as usize] = true;
        }
        if used.iter().all(|u| *u) {
            continue;
        }
        let mut new_index = vec![u16::MAX; q.codebook.len()];
        let mut codebook = Vec::new();
        for (i, c) in q.codebook.iter().enumerate() {
            if used[i] {
                new_index[i] = codebook.len() as u16;
                codebook.push(*c);
            }
        }
        dropped += q.codebook.len() - codebook.len();
        for a in q.assign.iter_mut().flatten() {
            *a = new_index[*a as usize];
        }
        q.codebook = codebook;
    }
    dropped
}

/// Round every codebook in `quant`, and every tensor of `table` that `quant` does not
/// hold, to the nearest half-precision value; the quantized tensors' values in `table`
/// follow their codebooks. Returns how many tensors changed. Format version 2
/// (`shrink_format::write_compact`) then stores those values in 16 bits each.
pub fn round_to_half(table: &mut ParamTable, quant: &mut QuantMap) -> usize {
    let half = shrink_format::half::round_to_f16;
    let mut changed = 0;
    for p in &mut table.params {
        let before = p.data.clone();
        match quant.get_mut(&p.name) {
            Some((_, q)) => {
                q.codebook.iter_mut().for_each(|c| *c = half(*c));
                p.data = q.values();
            }
            None => p.data.iter_mut().for_each(|v| *v = half(*v)),
        }
        changed += usize::from(p.data != before);
    }
    changed
}

/// Bytes of a vector of `n` values as a compressed tensor with a `2^bits` codebook
/// (codebook, fixed-width symbols and a one-symbol index stream, stream headers),
/// against `4n` as float32: an estimate to choose between them.
fn shared_vector_bytes(n: usize, bits: u8) -> usize {
    let k = (1usize << bits).min(n);
    4 * k + (n * (bits as usize + 1)).div_ceil(8) + 24
}

/// Store the 1-D tensors of `table` that are not in `quant` (biases) as `bits`-bit
/// codebooks where that is smaller than float32: k-means over all values, every
/// position kept. Changes `table`'s values to the shared ones and adds them to
/// `quant`; returns the names it shared.
pub fn share_vectors(
    table: &mut ParamTable,
    quant: &mut QuantMap,
    bits: u8,
    seed: u64,
) -> Vec<String> {
    let mut shared = Vec::new();
    for p in &mut table.params {
        if p.shape.len() != 1 || quant.contains_key(&p.name) {
            continue;
        }
        let n = p.data.len();
        if n == 0 || shared_vector_bytes(n, bits) >= 4 * n {
            continue;
        }
        let mask = vec![true; n];
        let q: Quantized =
            quantize::quantize_layer(&p.data, &mask, bits, CentroidInit::Linear, seed);
        p.data = q.values();
        quant.insert(p.name.clone(), (p.shape.clone(), q));
        shared.push(p.name.clone());
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::params::Param;
    use crate::model::{Feat, Net};
    use burn::prelude::*;

    fn spec(text: &str) -> ModelSpec {
        ModelSpec::from_toml(text).unwrap()
    }

    fn outputs(spec: &ModelSpec, table: &ParamTable, x: &[f32], shape: [usize; 4]) -> Vec<f32> {
        let dev = Device::flex();
        let mut net = Net::new(spec, &dev).unwrap();
        table.load_into(&mut net).unwrap();
        let t = Tensor::<4>::from_data(TensorData::new(x.to_vec(), shape), &dev);
        let feat = if spec.input.len() == 1 {
            Feat::Flat(t.flatten(1, 3))
        } else {
            Feat::Image(t)
        };
        net.forward(feat).into_data().try_to_vec::<f32>().unwrap()
    }

    fn zero(table: &mut ParamTable, name: &str, f: impl Fn(usize) -> bool) {
        let p: &mut Param = table.get_mut(name).unwrap();
        for (i, v) in p.data.iter_mut().enumerate() {
            if f(i) {
                *v = 0.0;
            }
        }
    }

    #[test]
    fn mlp_units_go_and_outputs_stay() {
        let s = spec(
            "name = \"m\"\ninput = [6]\n[[layers]]\ntype = \"linear\"\nout = 5\n[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"linear\"\nout = 4\n[[layers]]\ntype = \"tanh\"\n[[layers]]\ntype = \"linear\"\nout = 3\n",
        );
        let dev = Device::flex();
        dev.seed(3);
        let mut t = ParamTable::from_net(&Net::new(&s, &dev).unwrap()).unwrap();
        // Give the biases values, so that folded constants matter.
        for p in &mut t.params {
            if p.name.ends_with("bias") {
                for (i, v) in p.data.iter_mut().enumerate() {
                    *v = 0.1 * (i as f32 + 1.0);
                }
            }
        }
        // Unit 1 of layer 0: no incoming weights (constant relu(b)); unit 3: no
        // outgoing weights (column 3 of layer 2). Unit 2 of layer 2: no incoming.
        zero(&mut t, "layers.0.weight", |i| i / 6 == 1);
        zero(&mut t, "layers.2.weight", |i| i % 5 == 3 || i / 5 == 2);
        let x: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        let want = outputs(&s, &t, &x, [2, 6, 1, 1]);
        let (s2, t2, rep) = remove_dead_units(&s, &t).unwrap();
        assert_eq!(rep[0].before, 5);
        assert_eq!(rep[0].after, 3);
        assert_eq!(rep[0].folded_constant, 1);
        assert_eq!((rep[1].before, rep[1].after), (4, 3));
        assert_eq!(t2.get("layers.0.weight").unwrap().shape, vec![3, 6]);
        assert_eq!(t2.get("layers.2.weight").unwrap().shape, vec![3, 3]);
        assert_eq!(t2.get("layers.4.weight").unwrap().shape, vec![3, 3]);
        let got = outputs(&s2, &t2, &x, [2, 6, 1, 1]);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        // Nothing more to remove: a second pass changes nothing.
        let (s3, t3, _) = remove_dead_units(&s2, &t2).unwrap();
        assert_eq!((s3, t3), (s2, t2));
    }

    #[test]
    fn conv_filters_and_channels_go() {
        let s = spec(
            "name = \"c\"\ninput = [1, 10, 10]\n[[layers]]\ntype = \"conv2d\"\nout = 4\nkernel = 3\n[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"max_pool2d\"\nkernel = 2\n[[layers]]\ntype = \"conv2d\"\nout = 3\nkernel = 3\n[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\nout = 2\n",
        );
        let dev = Device::flex();
        dev.seed(4);
        let mut t = ParamTable::from_net(&Net::new(&s, &dev).unwrap()).unwrap();
        for p in &mut t.params {
            if p.name.ends_with("bias") {
                p.data.iter_mut().for_each(|v| *v = 0.2);
            }
        }
        // Filter 2 of conv 0 has no incoming weights; input channel 0 of conv 3 has no
        // weights (filter 0 of conv 0 unread); filter 1 of conv 3 is never read by the
        // linear layer (its 2·2 = 4 positions after flatten).
        zero(&mut t, "layers.0.weight", |i| i / 9 == 2);
        zero(&mut t, "layers.3.weight", |i| (i / 9) % 4 == 0);
        zero(&mut t, "layers.6.weight", |i| (i % 12) / 4 == 1);
        let x: Vec<f32> = (0..200).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = outputs(&s, &t, &x, [2, 1, 10, 10]);
        let (s2, t2, rep) = remove_dead_units(&s, &t).unwrap();
        assert_eq!((rep[0].before, rep[0].after), (4, 2));
        assert_eq!((rep[1].before, rep[1].after), (3, 2));
        assert_eq!(t2.get("layers.3.weight").unwrap().shape, vec![2, 2, 3, 3]);
        assert_eq!(t2.get("layers.6.weight").unwrap().shape, vec![2, 8]);
        assert_eq!(rep[0].folded_constant, 1);
        let got = outputs(&s2, &t2, &x, [2, 1, 10, 10]);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn unused_centroids_go_and_values_stay() {
        let w = [0.5f32, 0.0, -0.25, 0.5, 0.0, 0.125];
        let mask = [true, false, true, true, false, true];
        let q = quantize::quantize_layer(&w, &mask, 8, CentroidInit::Linear, 1);
        assert_eq!(q.codebook.len(), 256);
        let before = q.values();
        let mut m = QuantMap::new();
        m.insert("w".into(), (vec![6], q));
        assert_eq!(trim_codebooks(&mut m), 256 - 3);
        let q = &m["w"].1;
        assert_eq!(q.codebook.len(), 3);
        assert_eq!(q.values(), before);
        assert_eq!(trim_codebooks(&mut m), 0);
    }

    #[test]
    fn half_rounds_codebooks_and_plain_tensors_only() {
        use shrink_format::half::f16_exact;
        let w = [0.1f32, 0.0, -0.3, 0.7];
        let q =
            quantize::quantize_layer(&w, &[true, false, true, true], 2, CentroidInit::Linear, 1);
        let mut t = ParamTable {
            params: vec![
                Param {
                    name: "w".into(),
                    shape: vec![4],
                    data: q.values(),
                },
                Param {
                    name: "b".into(),
                    shape: vec![3],
                    data: vec![0.1, 0.5, -1.0 / 3.0],
                },
            ],
        };
        let mut m = QuantMap::new();
        m.insert("w".into(), (vec![4], q));
        assert_eq!(round_to_half(&mut t, &mut m), 2);
        let q = &m["w"].1;
        assert!(q.codebook.iter().all(|c| f16_exact(*c).is_some()));
        // The weights follow their codebook; pruned ones stay 0.
        assert_eq!(t.get("w").unwrap().data, q.values());
        assert_eq!(t.get("w").unwrap().data[1], 0.0);
        let b = &t.get("b").unwrap().data;
        assert!(b.iter().all(|v| f16_exact(*v).is_some()));
        assert_eq!(b[1], 0.5); // already a half
        assert!((b[0] - 0.1).abs() < 0.1 / 1024.0 && b[0] != 0.1);
        // Idempotent.
        assert_eq!(round_to_half(&mut t, &mut m), 0);
    }

    #[test]
    fn biases_share_a_codebook_only_when_smaller() {
        let mut t = ParamTable {
            params: vec![
                Param {
                    name: "a.bias".into(),
                    shape: vec![300],
                    data: (0..300).map(|i| (i as f32 * 0.01).sin()).collect(),
                },
                Param {
                    name: "b.bias".into(),
                    shape: vec![10],
                    data: (0..10).map(|i| i as f32).collect(),
                },
            ],
        };
        let mut q = QuantMap::new();
        let shared = share_vectors(&mut t, &mut q, 5, 1);
        assert_eq!(shared, vec!["a.bias".to_string()]);
        let qa = &q["a.bias"].1;
        assert!(qa.codebook.len() <= 32);
        assert_eq!(t.get("a.bias").unwrap().data, qa.values());
        assert!(qa.assign.iter().all(|a| a.is_some()));
        // 32 levels over [-1, 1]: within half a step of the original.
        let err = qa
            .values()
            .iter()
            .zip((0..300).map(|i| (i as f32 * 0.01).sin()))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 0.05, "{err}");
        assert_eq!(t.get("b.bias").unwrap().data[3], 3.0);
    }
}
