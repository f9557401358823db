//! Every layer against a naive reference (dense weights, one example at a time, the
//! loops written as the definitions read), on random weights — pruned and
//! weight-shared, or dense — and random inputs; the sparse matrix build; bad files.

use super::*;
use crate::sparse::{EntryValues, SparseMatrix};
use shrink_format::spec::{Layer, ModelSpec};
use shrink_format::{CompressedTensor, NamedTensor, TensorData};
use std::collections::HashMap;

/// SplitMix64: a small seeded generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn f(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------
// Random models

/// Every tensor a spec needs, with random values: weight matrices compressed
/// (about half kept, a `bits`-bit codebook) when `compressed`, else dense.
fn random_model(spec_toml: &str, seed: u64, compressed: bool) -> ShrkModel {
    let spec = ModelSpec::from_toml(spec_toml).unwrap();
    let (infos, _) = spec.infer().unwrap();
    let shapes = plan::shapes(&infos);
    let mut rng = Rng(seed);
    let mut tensors = Vec::new();
    add_params(
        &spec.layers,
        "layers",
        &shapes,
        &mut rng,
        compressed,
        &mut tensors,
    );
    ShrkModel {
        spec_toml: spec_toml.to_string(),
        meta: vec![],
        tensors,
    }
}

fn dense(name: String, shape: Vec<usize>, values: Vec<f32>) -> NamedTensor {
    NamedTensor {
        name,
        data: TensorData::Dense {
            shape: shape.iter().map(|&d| d as u32).collect(),
            values,
        },
    }
}

fn random_weight(name: String, shape: Vec<usize>, rng: &mut Rng, compressed: bool) -> NamedTensor {
    let numel: usize = shape.iter().product();
    if !compressed {
        // Dense, with some exact zeros (a pruned layer that was not quantized).
        let values = (0..numel)
            .map(|_| if rng.below(4) == 0 { 0.0 } else { rng.f() })
            .collect();
        return dense(name, shape, values);
    }
    let bits = 1 + rng.below(8) as u8;
    let k = 1 + rng.below(1 << bits);
    let codebook: Vec<f32> = (0..k).map(|_| rng.f()).collect();
    let mut positions = Vec::new();
    let mut clusters = Vec::new();
    for p in 0..numel {
        if rng.below(2) == 0 {
            positions.push(p as u32);
            clusters.push(rng.below(k) as u16);
        }
    }
    NamedTensor {
        name,
        data: TensorData::Compressed(CompressedTensor {
            shape: shape.iter().map(|&d| d as u32).collect(),
            bits,
            index_bits: 5,
            codebook,
            positions,
            clusters,
        }),
    }
}

fn random_vec(name: String, len: usize, rng: &mut Rng, lo: f32, hi: f32) -> NamedTensor {
    let v = (0..len)
        .map(|_| lo + (hi - lo) * (rng.f() + 1.0) / 2.0)
        .collect();
    dense(name, vec![len], v)
}

fn add_params(
    layers: &[Layer],
    prefix: &str,
    shapes: &plan::Shapes,
    rng: &mut Rng,
    compressed: bool,
    out: &mut Vec<NamedTensor>,
) {
    for (i, layer) in layers.iter().enumerate() {
        let path = format!("{prefix}.{i}");
        let input = &shapes[&path].0;
        let n = |leaf: &str| format!("{path}.{leaf}");
        match layer {
            Layer::Linear {
                out: o,
                bias,
                bottleneck: Some(k),
                ..
            } => {
                out.push(random_weight(
                    n("u.weight"),
                    vec![*k, input[0]],
                    rng,
                    compressed,
                ));
                out.push(random_weight(n("v.weight"), vec![*o, *k], rng, compressed));
                if *bias {
                    out.push(random_vec(n("v.bias"), *o, rng, -1.0, 1.0));
                }
            }
            Layer::Linear { out: o, bias, .. } => {
                out.push(random_weight(
                    n("weight"),
                    vec![*o, input[0]],
                    rng,
                    compressed,
                ));
                if *bias {
                    out.push(random_vec(n("bias"), *o, rng, -1.0, 1.0));
                }
            }
            Layer::Conv2d {
                out: o,
                kernel: k,
                bias,
                groups,
                ..
            } => {
                out.push(random_weight(
                    n("weight"),
                    vec![*o, input[0] / groups, *k, *k],
                    rng,
                    compressed,
                ));
                if *bias {
                    out.push(random_vec(n("bias"), *o, rng, -1.0, 1.0));
                }
            }
            Layer::ConvTranspose2d {
                out: o,
                kernel: k,
                bias,
                ..
            } => {
                out.push(random_weight(
                    n("weight"),
                    vec![input[0], *o, *k, *k],
                    rng,
                    compressed,
                ));
                if *bias {
                    out.push(random_vec(n("bias"), *o, rng, -1.0, 1.0));
                }
            }
            Layer::BatchNorm { .. } => {
                let c = input[0];
                out.push(random_vec(n("weight"), c, rng, 0.5, 1.5));
                out.push(random_vec(n("bias"), c, rng, -0.5, 0.5));
                out.push(random_vec(n("running_mean"), c, rng, -0.5, 0.5));
                out.push(random_vec(n("running_var"), c, rng, 0.2, 2.0));
            }
            Layer::LayerNorm { .. } => {
                let len = input.iter().product();
                out.push(random_vec(n("norm.weight"), len, rng, 0.5, 1.5));
                out.push(random_vec(n("norm.bias"), len, rng, -0.5, 0.5));
            }
            Layer::Prelu { .. } => out.push(random_vec(n("alpha"), input[0], rng, 0.0, 0.5)),
            Layer::Highway { .. } => {
                // The body's parameters, then the gate's.
                for (name, list) in layer.children() {
                    add_params(list, &n(&name), shapes, rng, compressed, out);
                }
                let c = input[0];
                let shape = if input.len() == 3 {
                    vec![c, c, 1, 1]
                } else {
                    vec![c, c]
                };
                out.push(random_weight(n("gate.weight"), shape, rng, compressed));
                out.push(random_vec(n("gate.bias"), c, rng, -1.0, 1.0));
            }
            l if l.is_block() => {
                for (name, list) in l.children() {
                    add_params(list, &n(&name), shapes, rng, compressed, out);
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------
// The reference: one example, shape [C, H, W] or [F], dense weights.

struct Ref {
    params: HashMap<String, Vec<f32>>,
}

impl Ref {
    fn new(file: &ShrkModel) -> Ref {
        Ref {
            params: file
                .tensors
                .iter()
                .map(|t| (t.name.clone(), t.data.to_dense()))
                .collect(),
        }
    }

    fn p(&self, name: &str) -> &[f32] {
        &self.params[name]
    }

    fn forward(&self, spec: &ModelSpec, x: &[f32]) -> Vec<f32> {
        let mut x = x.to_vec();
        if let Some(n) = &spec.normalize {
            let per = x.len() / n.mean.len();
            for (i, v) in x.iter_mut().enumerate() {
                *v = (*v - n.mean[i / per]) / n.std[i / per];
            }
        }
        self.list(&spec.layers, "layers", x, spec.input.clone()).0
    }

    fn list(
        &self,
        layers: &[Layer],
        prefix: &str,
        mut x: Vec<f32>,
        mut shape: Vec<usize>,
    ) -> (Vec<f32>, Vec<usize>) {
        for (i, l) in layers.iter().enumerate() {
            (x, shape) = self.layer(l, &format!("{prefix}.{i}"), x, shape);
        }
        (x, shape)
    }

    fn layer(
        &self,
        layer: &Layer,
        path: &str,
        x: Vec<f32>,
        s: Vec<usize>,
    ) -> (Vec<f32>, Vec<usize>) {
        let n = |leaf: &str| format!("{path}.{leaf}");
        let plane = if s.len() == 3 { s[1] * s[2] } else { 1 };
        let map = |f: &dyn Fn(f32) -> f32| x.iter().map(|&v| f(v)).collect::<Vec<_>>();
        match layer {
            Layer::Linear {
                out,
                bias,
                bottleneck: Some(k),
                ..
            } => {
                // h = U x, y = V h + b
                let (u, v) = (self.p(&n("u.weight")), self.p(&n("v.weight")));
                let h: Vec<f32> = (0..*k)
                    .map(|j| (0..s[0]).map(|i| u[j * s[0] + i] * x[i]).sum::<f32>())
                    .collect();
                let y = (0..*out)
                    .map(|o| {
                        let b = if *bias { self.p(&n("v.bias"))[o] } else { 0.0 };
                        b + (0..*k).map(|j| v[o * k + j] * h[j]).sum::<f32>()
                    })
                    .collect();
                (y, vec![*out])
            }
            Layer::Linear { out, bias, .. } => {
                let w = self.p(&n("weight"));
                let y = (0..*out)
                    .map(|o| {
                        let b = if *bias { self.p(&n("bias"))[o] } else { 0.0 };
                        b + (0..s[0]).map(|i| w[o * s[0] + i] * x[i]).sum::<f32>()
                    })
                    .collect();
                (y, vec![*out])
            }
            Layer::Conv2d {
                out,
                kernel: k,
                stride: st,
                padding: p,
                dilation: d,
                bias,
                groups,
                ..
            } => {
                let (c, h, w) = (s[0], s[1], s[2]);
                // Filter o sees the cg channels of its group, from channel g0.
                let cg = c / groups;
                let oh = (h + 2 * p - d * (k - 1) - 1) / st + 1;
                let ow = (w + 2 * p - d * (k - 1) - 1) / st + 1;
                let wt = self.p(&n("weight"));
                let mut y = vec![0.0; out * oh * ow];
                for o in 0..*out {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut acc = if *bias { self.p(&n("bias"))[o] } else { 0.0 };
                            let g0 = o / (out / groups) * cg;
                            for cj in 0..cg {
                                let ci = g0 + cj;
                                for ky in 0..*k {
                                    for kx in 0..*k {
                                        let iy = (oy * st + ky * d) as isize - *p as isize;
                                        let ix = (ox * st + kx * d) as isize - *p as isize;
                                        if iy >= 0
                                            && ix >= 0
                                            && (iy as usize) < h
                                            && (ix as usize) < w
                                        {
                                            acc += wt[((o * cg + cj) * k + ky) * k + kx]
                                                * x[(ci * h + iy as usize) * w + ix as usize];
                                        }
                                    }
                                }
                            }
                            y[(o * oh + oy) * ow + ox] = acc;
                        }
                    }
                }
                (y, vec![*out, oh, ow])
            }
            Layer::ConvTranspose2d {
                out,
                kernel: k,
                stride: st,
                padding: p,
                output_padding: op,
                bias,
                ..
            } => {
                let (c, h, w) = (s[0], s[1], s[2]);
                let oh = (h - 1) * st + k + op - 2 * p;
                let ow = (w - 1) * st + k + op - 2 * p;
                let wt = self.p(&n("weight"));
                let mut y = vec![0.0; out * oh * ow];
                for o in 0..*out {
                    let b = if *bias { self.p(&n("bias"))[o] } else { 0.0 };
                    y[o * oh * ow..(o + 1) * oh * ow].fill(b);
                }
                for ci in 0..c {
                    for iy in 0..h {
                        for ix in 0..w {
                            for o in 0..*out {
                                for ky in 0..*k {
                                    for kx in 0..*k {
                                        let oy = (iy * st + ky) as isize - *p as isize;
                                        let ox = (ix * st + kx) as isize - *p as isize;
                                        if oy >= 0
                                            && ox >= 0
                                            && (oy as usize) < oh
                                            && (ox as usize) < ow
                                        {
                                            y[(o * oh + oy as usize) * ow + ox as usize] += x
                                                [(ci * h + iy) * w + ix]
                                                * wt[((ci * out + o) * k + ky) * k + kx];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (y, vec![*out, oh, ow])
            }
            Layer::MaxPool2d {
                kernel: k,
                stride,
                padding: p,
            }
            | Layer::AvgPool2d {
                kernel: k,
                stride,
                padding: p,
                ..
            } => {
                let st = stride.unwrap_or(*k);
                let count_pad = !matches!(
                    layer,
                    Layer::AvgPool2d {
                        count_include_pad: false,
                        ..
                    }
                );
                let (c, h, w) = (s[0], s[1], s[2]);
                let oh = (h + 2 * p - k) / st + 1;
                let ow = (w + 2 * p - k) / st + 1;
                let max = matches!(layer, Layer::MaxPool2d { .. });
                let mut y = vec![0.0; c * oh * ow];
                for ci in 0..c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut acc = if max { f32::NEG_INFINITY } else { 0.0 };
                            let mut inside = 0;
                            for ky in 0..*k {
                                for kx in 0..*k {
                                    let iy = (oy * st + ky) as isize - *p as isize;
                                    let ix = (ox * st + kx) as isize - *p as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w
                                    {
                                        let v = x[(ci * h + iy as usize) * w + ix as usize];
                                        acc = if max { acc.max(v) } else { acc + v };
                                        inside += 1;
                                    }
                                }
                            }
                            let count = if count_pad { k * k } else { inside };
                            y[(ci * oh + oy) * ow + ox] =
                                if max { acc } else { acc / count as f32 };
                        }
                    }
                }
                (y, vec![c, oh, ow])
            }
            Layer::GlobalAvgPool => {
                let y = x
                    .chunks(plane)
                    .map(|c| c.iter().sum::<f32>() / plane as f32)
                    .collect();
                (y, vec![s[0]])
            }
            Layer::Flatten => (x, vec![s.iter().product()]),
            Layer::Dropout { .. } => (x, s),
            Layer::BatchNorm { eps, .. } => {
                let (g, b) = (self.p(&n("weight")), self.p(&n("bias")));
                let (m, v) = (self.p(&n("running_mean")), self.p(&n("running_var")));
                let y = x
                    .iter()
                    .enumerate()
                    .map(|(i, &xi)| {
                        let c = i / plane;
                        (xi - m[c]) / (v[c] + *eps as f32).sqrt() * g[c] + b[c]
                    })
                    .collect();
                (y, s)
            }
            Layer::LayerNorm { eps } => {
                let len = x.len() as f32;
                let mean = x.iter().sum::<f32>() / len;
                let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / len;
                let (g, b) = (self.p(&n("norm.weight")), self.p(&n("norm.bias")));
                let y = x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (v - mean) / (var + *eps as f32).sqrt() * g[i] + b[i])
                    .collect();
                (y, s)
            }
            Layer::Relu => (map(&|v| v.max(0.0)), s),
            Layer::Clip { min, max } => (map(&|v| v.max(*min as f32).min(*max as f32)), s),
            Layer::HardSigmoid { alpha, beta } => (
                map(&|v| (*alpha as f32 * v + *beta as f32).clamp(0.0, 1.0)),
                s,
            ),
            Layer::HardSwish => (map(&|v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0), s),
            Layer::Pad2d {
                top,
                left,
                bottom,
                right,
                value,
            } => {
                let (c, h, w) = (s[0], s[1], s[2]);
                let (oh, ow) = (top + h + bottom, left + w + right);
                let mut y = vec![*value as f32; c * oh * ow];
                for ci in 0..c {
                    for iy in 0..h {
                        for ix in 0..w {
                            y[(ci * oh + iy + top) * ow + ix + left] = x[(ci * h + iy) * w + ix];
                        }
                    }
                }
                (y, vec![c, oh, ow])
            }
            Layer::LeakyRelu { slope } => {
                (map(&|v| if v < 0.0 { v * *slope as f32 } else { v }), s)
            }
            Layer::Rrelu { lower, upper } => {
                let a = ((lower + upper) / 2.0) as f32;
                (map(&|v| if v < 0.0 { v * a } else { v }), s)
            }
            Layer::Prelu { .. } => {
                let a = self.p(&n("alpha"));
                let y = x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| if v < 0.0 { v * a[i / plane] } else { v })
                    .collect();
                (y, s)
            }
            Layer::Elu { alpha } => (
                map(&|v| {
                    if v <= 0.0 {
                        *alpha as f32 * (v.exp() - 1.0)
                    } else {
                        v
                    }
                }),
                s,
            ),
            Layer::Sigmoid => (map(&|v| 1.0 / (1.0 + (-v).exp())), s),
            Layer::Tanh => (map(&|v| v.tanh()), s),
            Layer::Maxout { pieces } => {
                let groups = s[0] / pieces;
                let y = (0..groups * plane)
                    .map(|i| {
                        let (g, at) = (i / plane, i % plane);
                        (0..*pieces)
                            .map(|q| x[(g * pieces + q) * plane + at])
                            .fold(f32::NEG_INFINITY, f32::max)
                    })
                    .collect();
                let mut shape = s.clone();
                shape[0] = groups;
                (y, shape)
            }
            Layer::Residual { body, shortcut } => {
                let (b, shape) = self.list(body, &n("body"), x.clone(), s.clone());
                let (c, _) = self.list(shortcut, &n("shortcut"), x, s);
                (b.iter().zip(&c).map(|(a, b)| a + b).collect(), shape)
            }
            Layer::Highway { body, .. } => {
                let (b, shape) = self.list(body, &n("body"), x.clone(), s.clone());
                let (w, gb) = (self.p(&n("gate.weight")), self.p(&n("gate.bias")));
                let c = s[0];
                let y = (0..x.len())
                    .map(|i| {
                        let (o, at) = (i / plane, i % plane);
                        let z = gb[o]
                            + (0..c)
                                .map(|ci| w[o * c + ci] * x[ci * plane + at])
                                .sum::<f32>();
                        let t = 1.0 / (1.0 + (-z).exp());
                        t * b[i] + (1.0 - t) * x[i]
                    })
                    .collect();
                (y, shape)
            }
            Layer::Inception { branches } => {
                let mut y = Vec::new();
                let mut channels = 0;
                for (bi, br) in branches.iter().enumerate() {
                    let (o, shape) =
                        self.list(br, &n(&format!("branches.{bi}")), x.clone(), s.clone());
                    channels += shape[0];
                    y.extend(o);
                }
                (y, vec![channels, s[1], s[2]])
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Comparing

fn all_kernels() -> Vec<Kernels> {
    [Kernels::Portable, Kernels::Avx2, Kernels::Avx512]
        .into_iter()
        .filter(|k| k.supported())
        .collect()
}

/// Runtime vs reference on random inputs, batches 1, 3 and 19, every kernel version,
/// compressed and dense weights.
fn check(spec_toml: &str) {
    for (seed, compressed) in [(1, true), (2, false), (3, true)] {
        let file = random_model(spec_toml, seed, compressed);
        let reference = Ref::new(&file);
        let mut model = Model::from_shrk(&file).unwrap_or_else(|e| panic!("{e}\n{spec_toml}"));
        let mut lookup = Model::from_shrk(&file).unwrap();
        let with_lookup = lookup.add_lookup_layout() > 0;
        let spec = model.spec().clone();
        let len = model.input_len();
        let mut rng = Rng(seed + 100);
        for batch in [1, 3, 19] {
            // A third of the inputs are zero, as in images.
            let x: Vec<f32> = (0..batch * len)
                .map(|_| if rng.below(3) == 0 { 0.0 } else { rng.f() })
                .collect();
            let want: Vec<f32> = x
                .chunks(len)
                .flat_map(|e| reference.forward(&spec, e))
                .collect();
            let mut runs: Vec<(String, Vec<f32>)> = all_kernels()
                .into_iter()
                .map(|k| {
                    model.set_kernels(k);
                    (format!("{k:?}"), model.predict(&x, batch).unwrap())
                })
                .collect();
            if with_lookup {
                runs.push(("lookup layout".into(), lookup.predict(&x, batch).unwrap()));
            }
            // The one-buffer pass (models without blocks), in exactly the memory it
            // asks for, the buffer filled with NaN so that a value read before it is
            // written shows.
            if let Ok(need) = model.working_memory(batch) {
                let mut work = vec![f32::NAN; need / 4];
                let mut out = vec![0.0; batch * model.classes()];
                model.forward_in(&x, batch, &mut work, &mut out).unwrap();
                runs.push(("one buffer".into(), out));
            }
            for (k, got) in runs {
                assert_eq!(got.len(), want.len());
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{spec_toml}\nseed {seed} batch {batch} {k}: value {i} is {g}, reference {w}"
                    );
                }
            }
        }
    }
}

fn image_spec(input: &str, layers: &str) -> String {
    format!("input = {input}\nlayers = [{layers}, {{ type = \"flatten\" }}]\n")
}

#[test]
fn linear() {
    check("input = [7]\nlayers = [{ type = \"linear\", out = 5 }]\n");
    check("input = [40]\nlayers = [{ type = \"linear\", out = 9, bias = false }]\n");
    // Ba & Caruana's linear bottleneck: two factors, each compressed on its own.
    check("input = [12]\nlayers = [{ type = \"linear\", out = 6, bottleneck = 3 }, { type = \"relu\" }, { type = \"linear\", out = 4 }]\n");
    check("input = [9]\nlayers = [{ type = \"linear\", out = 5, bottleneck = 2, bias = false }]\n");
}

#[test]
fn conv2d_stride_padding_dilation() {
    check(&image_spec(
        "[3, 7, 6]",
        "{ type = \"conv2d\", out = 4, kernel = 3 }",
    ));
    check(&image_spec(
        "[3, 9, 8]",
        "{ type = \"conv2d\", out = 4, kernel = 3, stride = 2, padding = 2, dilation = 2 }",
    ));
    check(&image_spec(
        "[2, 6, 6]",
        "{ type = \"conv2d\", out = 3, kernel = 2, stride = 3, padding = 1, bias = false }",
    ));
    // 1×1 convolution: runs as a plain product over H·W·batch.
    check(&image_spec(
        "[5, 4, 3]",
        "{ type = \"conv2d\", out = 6, kernel = 1 }",
    ));
}

#[test]
fn conv_transpose2d() {
    check(&image_spec(
        "[3, 4, 5]",
        "{ type = \"conv_transpose2d\", out = 2, kernel = 3 }",
    ));
    check(&image_spec(
        "[3, 4, 5]",
        "{ type = \"conv_transpose2d\", out = 2, kernel = 3, stride = 2, padding = 1, output_padding = 1 }",
    ));
    check(&image_spec(
        "[2, 3, 3]",
        "{ type = \"conv_transpose2d\", out = 4, kernel = 2, stride = 2, bias = false }",
    ));
}

#[test]
fn pooling() {
    check(&image_spec(
        "[2, 7, 6]",
        "{ type = \"max_pool2d\", kernel = 2 }",
    ));
    check(&image_spec(
        "[2, 7, 6]",
        "{ type = \"max_pool2d\", kernel = 3, stride = 2, padding = 1 }",
    ));
    check(&image_spec(
        "[2, 7, 6]",
        "{ type = \"avg_pool2d\", kernel = 2 }",
    ));
    check(&image_spec(
        "[2, 7, 6]",
        "{ type = \"avg_pool2d\", kernel = 3, stride = 1, padding = 1 }",
    ));
    check("input = [3, 5, 4]\nlayers = [{ type = \"global_avg_pool\" }]\n");
    // After a convolution: pooled row by row in the one-buffer pass when the windows
    // tile the output (leftover rows and columns dropped), separately otherwise.
    check(&image_spec(
        "[2, 9, 8]",
        "{ type = \"conv2d\", out = 3, kernel = 2 }, { type = \"avg_pool2d\", kernel = 3 }",
    ));
    check(&image_spec(
        "[2, 7, 6]",
        "{ type = \"conv2d\", out = 3, kernel = 3, padding = 1 }, { type = \"max_pool2d\", kernel = 2 }",
    ));
    check(&image_spec(
        "[2, 7, 6]",
        "{ type = \"conv2d\", out = 3, kernel = 3 }, { type = \"max_pool2d\", kernel = 3, stride = 2 }",
    ));
}

#[test]
fn normalisation_layers() {
    check(&image_spec("[3, 4, 5]", "{ type = \"batch_norm\" }"));
    check("input = [6]\nlayers = [{ type = \"batch_norm\", eps = 1e-3 }]\n");
    check(&image_spec("[3, 4, 5]", "{ type = \"layer_norm\" }"));
    check("input = [6]\nlayers = [{ type = \"layer_norm\" }]\n");
    // Input normalisation from the spec, per channel and per feature.
    check("input = [2, 3, 3]\nlayers = [{ type = \"flatten\" }]\n[normalize]\nmean = [0.1, -0.2]\nstd = [0.5, 2.0]\n");
    check("input = [3]\nlayers = [{ type = \"linear\", out = 2 }]\n[normalize]\nmean = [0.1, -0.2, 0.3]\nstd = [0.5, 2.0, 1.5]\n");
}

#[test]
fn activations() {
    for act in [
        "{ type = \"relu\" }",
        "{ type = \"leaky_relu\", slope = 0.1 }",
        "{ type = \"prelu\" }",
        "{ type = \"rrelu\" }",
        "{ type = \"elu\", alpha = 0.7 }",
        "{ type = \"sigmoid\" }",
        "{ type = \"tanh\" }",
        "{ type = \"dropout\", p = 0.5 }",
    ] {
        check(&image_spec("[3, 4, 5]", act));
        check(&format!("input = [7]\nlayers = [{act}]\n"));
    }
    check(&image_spec(
        "[6, 3, 2]",
        "{ type = \"maxout\", pieces = 3 }",
    ));
    check("input = [8]\nlayers = [{ type = \"maxout\", pieces = 2 }]\n");
}

#[test]
fn blocks() {
    check(&image_spec(
        "[3, 5, 5]",
        "{ type = \"residual\", body = [{ type = \"conv2d\", out = 3, kernel = 3, padding = 1 }, { type = \"relu\" }] }",
    ));
    check(&image_spec(
        "[3, 5, 5]",
        "{ type = \"residual\", body = [{ type = \"conv2d\", out = 4, kernel = 3, padding = 1 }], shortcut = [{ type = \"conv2d\", out = 4, kernel = 1 }] }",
    ));
    check(&image_spec(
        "[3, 4, 4]",
        "{ type = \"highway\", body = [{ type = \"conv2d\", out = 3, kernel = 3, padding = 1 }, { type = \"tanh\" }] }",
    ));
    check("input = [5]\nlayers = [{ type = \"highway\", body = [{ type = \"linear\", out = 5 }, { type = \"sigmoid\" }] }]\n");
    check(&image_spec(
        "[3, 5, 5]",
        "{ type = \"inception\", branches = [[{ type = \"conv2d\", out = 2, kernel = 1 }], [{ type = \"conv2d\", out = 3, kernel = 3, padding = 1 }, { type = \"relu\" }], [{ type = \"max_pool2d\", kernel = 3, stride = 1, padding = 1 }]] }",
    ));
}

const LENET5: &str = r#"
input = [1, 28, 28]
layers = [
  { type = "conv2d", out = 20, kernel = 5 },
  { type = "max_pool2d", kernel = 2 },
  { type = "conv2d", out = 50, kernel = 5 },
  { type = "max_pool2d", kernel = 2 },
  { type = "flatten" },
  { type = "linear", out = 500 },
  { type = "relu" },
  { type = "linear", out = 10 },
]
"#;

#[test]
fn one_buffer_pass_needs_the_memory_it_states() {
    let model = Model::from_shrk(&random_model(LENET5, 7, true)).unwrap();
    // The largest input + scratch + output of one step, per example. Each convolution
    // runs one output row at a time (that row's im2col columns and products) and is
    // pooled as it goes: conv 1 + pool 1 is 784 + (25 + 20)·24 + 20·12·12 = 4744;
    // conv 2 + pool 2 is 2880 + (500 + 50)·8 + 50·4·4 = 8080; the linear layers are
    // 800 + 500 and 500 + 10.
    assert_eq!(model.working_memory(1).unwrap(), 8080 * 4);
    assert_eq!(model.working_memory(5).unwrap(), 5 * 8080 * 4);
    let x: Vec<f32> = (0..2 * 784).map(|i| (i % 7) as f32 / 7.0).collect();
    let want = model.predict(&x, 2).unwrap();
    let need = model.working_memory(2).unwrap() / 4;
    let mut out = vec![0.0; 20];
    let mut work = vec![0.0; need + 100];
    model.forward_in(&x, 2, &mut work, &mut out).unwrap();
    for (g, w) in out.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
    }
    let e = model
        .forward_in(&x, 2, &mut work[..need - 1], &mut out)
        .unwrap_err();
    assert!(
        matches!(e, RuntimeError::WorkTooSmall { need: n, .. } if n == need * 4),
        "{e}"
    );
    let e = model
        .forward_in(&x, 2, &mut work, &mut out[..19])
        .unwrap_err();
    assert!(
        matches!(e, RuntimeError::OutputLength { want: 20, .. }),
        "{e}"
    );
    let e = model
        .forward_in(&x[1..], 2, &mut work, &mut out)
        .unwrap_err();
    assert!(matches!(e, RuntimeError::InputLength { .. }), "{e}");
    // Blocks run only in the pooled pass.
    let blocks = Model::from_shrk(&random_model(ALL_LAYERS, 1, true)).unwrap();
    let e = blocks.working_memory(1).unwrap_err().to_string();
    assert!(e.contains("layers.4 is a residual block"), "{e}");
}

/// The shared all-layers spec (every layer type), end to end.
#[test]
fn every_layer_together() {
    check(ALL_LAYERS);
}

/// Every layer kind: the shared fixture (crates/shrink-testkit/fixtures/all_layers.toml).
const ALL_LAYERS: &str = shrink_testkit::ALL_LAYERS;

// ---------------------------------------------------------------------------------
// The sparse matrix

#[test]
fn csr_rows_columns_and_values() {
    // 3 × 4, entries given out of row order: (2,1) (0,3) (0,0) (2,3).
    let coords = [(2, 1), (0, 0), (0, 3), (2, 3)];
    let codebook = [0.5, -1.0, 2.0];
    let m = SparseMatrix::build(
        3,
        4,
        &coords,
        EntryValues::Shared {
            codebook: &codebook,
            clusters: &[0, 1, 2, 1],
        },
    );
    assert_eq!((m.rows(), m.cols(), m.nnz()), (3, 4, 4));
    assert!(m.narrow_columns());
    let dense: Vec<f32> = (0..3)
        .flat_map(|r| (0..4).map(move |c| (r, c)))
        .map(|(r, c)| m.get(r, c))
        .collect();
    assert_eq!(
        dense,
        [-1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, -1.0]
    );
    // Rows (4 u32) + columns (4 u16 + 16 padding) + indices (4 u8 + 16) + codebook (3 f32).
    assert_eq!(m.memory_bytes(), 16 + 40 + 20 + 12);
    // Product with x = [4][2] (two examples) and a bias.
    let x = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
    let mut y = vec![0.0; 6];
    for k in all_kernels() {
        m.mul(&x, 2, Some(&[1.0, 2.0, 3.0]), &mut y, k, 1);
        assert_eq!(
            y,
            [
                1.0 - 1.0 + 8.0,
                1.0 - 10.0 + 80.0,
                2.0,
                2.0,
                3.0 + 1.0 - 4.0,
                3.0 + 10.0 - 40.0
            ]
        );
    }
}

/// A LeNet-300-100-like first layer (8% kept, 16 centroids): the lookup layout gives
/// the rows' result, costs memory, and leaves batches > 1 as they were.
#[test]
fn lookup_layout_matches_the_rows() {
    let (rows, cols) = (300, 784);
    let mut rng = Rng(12);
    let codebook: Vec<f32> = (0..16).map(|_| rng.f()).collect();
    let (mut coords, mut clusters) = (Vec::new(), Vec::new());
    for r in 0..rows {
        for c in 0..cols {
            // Denser in the middle columns, as pruned MNIST weights are.
            let keep = if (200..600).contains(&c) { 6 } else { 40 };
            if rng.below(keep) == 0 {
                coords.push((r as u32, c as u32));
                clusters.push(rng.below(16) as u16);
            }
        }
    }
    let values = || EntryValues::Shared {
        codebook: &codebook,
        clusters: &clusters,
    };
    let rows_only = SparseMatrix::build(rows, cols, &coords, values());
    let mut both = SparseMatrix::build(rows, cols, &coords, values());
    assert!(both.add_lookup_layout());
    assert!(both.memory_bytes() > rows_only.memory_bytes());
    let bias: Vec<f32> = (0..rows).map(|_| rng.f()).collect();
    for n in [1, 5] {
        let x: Vec<f32> = (0..cols * n).map(|_| rng.f()).collect();
        let (mut want, mut got) = (vec![0.0; rows * n], vec![0.0; rows * n]);
        rows_only.mul(&x, n, Some(&bias), &mut want, Kernels::Portable, 1);
        for k in all_kernels() {
            both.mul(&x, n, Some(&bias), &mut got, k, 1);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "n {n} {k:?}: {g} vs {w}"
                );
            }
        }
    }
    // 32 centroids or more: no lookup layout.
    let wide: Vec<f32> = (0..40).map(|i| i as f32).collect();
    let mut m = SparseMatrix::build(
        1,
        2,
        &[(0, 1)],
        EntryValues::Shared {
            codebook: &wide,
            clusters: &[39],
        },
    );
    assert!(!m.add_lookup_layout());
}

#[test]
fn wide_matrices_use_u32_columns() {
    let cols = (1 << 16) + 1;
    let coords = [(0, 5), (1, cols as u32 - 1)];
    let m = SparseMatrix::build(2, cols, &coords, EntryValues::Plain(&[2.0, 3.0]));
    assert!(!m.narrow_columns());
    let mut x = vec![0.0; cols];
    x[5] = 1.0;
    x[cols - 1] = 4.0;
    let mut y = vec![0.0; 2];
    m.mul(&x, 1, None, &mut y, Kernels::detect(), 1);
    assert_eq!(y, [2.0, 12.0]);
    assert!(
        SparseMatrix::build(2, 1 << 16, &coords[..1], EntryValues::Plain(&[1.0])).narrow_columns()
    );
}

#[test]
fn threads_give_the_same_result() {
    // Batch 1 and 3 split the layer's rows (about 350 000 kept weights: 3 threads);
    // batch 64 runs on one thread (too little work to split by examples).
    let file = random_model(
        "input = [1000]\nlayers = [{ type = \"linear\", out = 700 }]\n",
        9,
        true,
    );
    let mut model = Model::from_shrk(&file).unwrap();
    assert!(model.kept_weights() >= 300_000);
    let x: Vec<f32> = (0..64 * 1000)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    for batch in [1, 3, 64] {
        let x = &x[..batch * 1000];
        model.set_threads(1);
        let one = model.predict(x, batch).unwrap();
        model.set_threads(4);
        assert_eq!(model.predict(x, batch).unwrap(), one, "batch {batch}");
    }
}

/// A batch split by examples over threads (`split`) gives the same bits as one
/// thread, at batch sizes that split into unequal parts and parts that do not fill a
/// whole tile (64 over 3 threads: 22 + 21 + 21), for every layer kind.
#[cfg(feature = "threads")]
#[test]
fn batches_split_over_threads_give_the_same_bits() {
    const MLP: &str = "input = [784]\nlayers = [{ type = \"linear\", out = 300 }, { type = \"relu\" }, { type = \"linear\", out = 100 }, { type = \"relu\" }, { type = \"linear\", out = 10 }]\n";
    for (name, spec, compressed) in [
        ("all layers", ALL_LAYERS, true),
        ("all layers, dense", ALL_LAYERS, false),
        ("LeNet-5", LENET5, true),
        ("LeNet-300-100", MLP, true),
    ] {
        let mut model = Model::from_shrk(&random_model(spec, 11, compressed)).unwrap();
        // Split even these small models (the default bound is on the work per part).
        model.min_split_work = 0;
        let mut rng = Rng(3);
        let x: Vec<f32> = (0..64 * model.input_len()).map(|_| rng.f().abs()).collect();
        let mut ws = Workspace::default();
        let mut got = Vec::new();
        for batch in [1, 2, 7, 64] {
            let x = &x[..batch * model.input_len()];
            model.set_threads(1);
            let one = model.predict(x, batch).unwrap();
            for threads in [2, 3] {
                model.set_threads(threads);
                let parts = split::parts(threads, batch, model.sparse_macs, 0);
                // Batches 1 to 3 are not split (no part of one example); 7 is 4 + 3
                // or 3 + 2 + 2.
                assert_eq!(parts, if batch < 4 { 1 } else { threads }, "{name}");
                model.forward(x, batch, &mut ws, &mut got).unwrap();
                let same = one.len() == got.len()
                    && one
                        .iter()
                        .zip(&got)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{name}, batch {batch}, {threads} threads: logits differ from 1 thread"
                );
            }
        }
    }
}

#[cfg(feature = "threads")]
#[test]
fn batches_split_only_with_enough_work() {
    let min = split::MIN_WORK_PER_PART;
    // LeNet-5 (`web/model.shrk`, 6.4% kept): ~150 000 estimated multiply-adds per
    // example; split at batch 64, not at 16. LeNet-300-100 at 8% kept: ~21 000; split at
    // 512, not at 64.
    assert_eq!(split::parts(2, 64, 150_000, min), 2);
    assert_eq!(split::parts(2, 16, 150_000, min), 1);
    assert_eq!(split::parts(2, 512, 21_000, min), 2);
    assert_eq!(split::parts(4, 512, 21_000, min), 2);
    assert_eq!(split::parts(2, 64, 21_000, min), 1);
    assert_eq!(split::parts(1, 64, 150_000, min), 1);
    assert_eq!(split::parts(2, 3, u64::MAX, min), 1);
    assert_eq!(split::parts(8, 9, u64::MAX, min), 4);
    // The estimate: dense multiply-adds times the fraction of parameters kept.
    let model = Model::from_shrk(&random_model(LENET5, 7, true)).unwrap();
    let (cost, kept) = (model.cost(), model.kept_weights() as u64);
    let want = (cost.macs as u128 * kept as u128 / cost.params as u128) as u64;
    assert_eq!(model.sparse_macs, want);
    assert!(want > 0 && want < cost.macs);
}

#[test]
fn workspace_reuse_gives_the_same_result() {
    let file = random_model(ALL_LAYERS, 4, true);
    let model = Model::from_shrk(&file).unwrap();
    let mut ws = Workspace::default();
    let mut out = Vec::new();
    let x: Vec<f32> = (0..5 * model.input_len())
        .map(|i| (i % 17) as f32 / 17.0)
        .collect();
    model.forward(&x, 5, &mut ws, &mut out).unwrap();
    let first = out.clone();
    // Batch 1 takes the mat-vec path (another summation order): compare it with itself.
    let single = &x[..model.input_len()];
    model.forward(single, 1, &mut ws, &mut out).unwrap();
    assert_eq!(out, model.predict(single, 1).unwrap());
    model.forward(&x, 5, &mut ws, &mut out).unwrap();
    assert_eq!(out, first);
}

// ---------------------------------------------------------------------------------
// Bad input

const SMALL: &str = "input = [1, 4, 4]\nlayers = [{ type = \"conv2d\", out = 2, kernel = 3 }, { type = \"flatten\" }, { type = \"linear\", out = 3 }]\n";

#[test]
fn memory_and_accessors() {
    let file = random_model(SMALL, 5, true);
    let model = Model::from_shrk(&file).unwrap();
    assert_eq!(model.input_shape(), [1, 4, 4]);
    assert_eq!((model.input_len(), model.classes()), (16, 3));
    assert!(model.memory_bytes() > 0 && model.kept_weights() > 0);
    let err = model.predict(&[0.0; 15], 1).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::InputLength {
                got: 15,
                want: 16,
                ..
            }
        ),
        "{err}"
    );
    assert!(model.predict(&[], 0).unwrap().is_empty());
}

#[test]
fn spec_tensor_mismatches_are_errors() {
    let file = random_model(SMALL, 6, true);
    // Missing tensor.
    let mut f = file.clone();
    f.tensors.retain(|t| t.name != "layers.2.bias");
    let e = Model::from_shrk(&f).unwrap_err().to_string();
    assert!(e.contains("no tensor layers.2.bias"), "{e}");
    // Wrong shape.
    let mut f = file.clone();
    f.tensors[0] = random_weight(
        "layers.0.weight".into(),
        vec![2, 1, 2, 2],
        &mut Rng(1),
        true,
    );
    let e = Model::from_shrk(&f).unwrap_err().to_string();
    assert!(
        e.contains("layers.0.weight") && e.contains("[2, 1, 3, 3]"),
        "{e}"
    );
    // A tensor no layer uses.
    let mut f = file.clone();
    f.tensors
        .push(dense("layers.1.weight".into(), vec![1], vec![1.0]));
    let e = Model::from_shrk(&f).unwrap_err().to_string();
    assert!(
        e.contains("not used") && e.contains("layers.1.weight"),
        "{e}"
    );
    // A spec that does not infer.
    let mut f = file.clone();
    f.spec_toml = "input = [1, 4, 4]\nlayers = [{ type = \"linear\", out = 3 }]\n".into();
    assert!(matches!(Model::from_shrk(&f), Err(RuntimeError::Spec(_))));
    // An absurd activation size is refused before anything is allocated.
    let mut f = file.clone();
    f.spec_toml = "input = [60000, 60000]\nlayers = [{ type = \"flatten\" }]\n".into();
    assert!(Model::from_shrk(&f).is_err());
    f.spec_toml = "input = [1, 40000, 40000]\nlayers = [{ type = \"flatten\" }]\n".into();
    assert!(matches!(
        Model::from_shrk(&f),
        Err(RuntimeError::Spec(shrink_format::spec::SpecError::Limit {
            name: "max_activation",
            ..
        }))
    ));
}

/// Values, not only shapes: NaN/inf weights and centroids, non-positive batch-norm
/// variances and a class-name table that does not match the outputs are refused.
#[test]
fn unusable_values_are_errors() {
    let file = random_model(SMALL, 3, true);
    assert!(Model::from_shrk(&file).is_ok());
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut f = file.clone();
        match &mut f.tensors[0].data {
            TensorData::Compressed(c) => c.codebook[0] = bad,
            TensorData::Dense { values, .. } => values[0] = bad,
        }
        let e = Model::from_shrk(&f).unwrap_err().to_string();
        assert!(
            e.contains("layers.0.weight") && e.contains("not finite"),
            "{e}"
        );
        let mut f = file.clone();
        let bias = f
            .tensors
            .iter_mut()
            .find(|t| t.name == "layers.2.bias")
            .unwrap();
        if let TensorData::Dense { values, .. } = &mut bias.data {
            values[1] = bad;
        }
        let e = Model::from_shrk(&f).unwrap_err().to_string();
        assert!(e.contains("layers.2.bias") && e.contains("index 1"), "{e}");
    }
    let bn = "input = [3]\nlayers = [{ type = \"batch_norm\" }]\n";
    let good = random_model(bn, 1, false);
    assert!(Model::from_shrk(&good).is_ok());
    for var in [0.0, -1.0] {
        let mut f = good.clone();
        let t = f
            .tensors
            .iter_mut()
            .find(|t| t.name == "layers.0.running_var")
            .unwrap();
        if let TensorData::Dense { values, .. } = &mut t.data {
            values[2] = var;
        }
        let e = Model::from_shrk(&f).unwrap_err().to_string();
        assert!(e.contains("running_var") && e.contains("channel 2"), "{e}");
    }
    let mut f = file.clone();
    f.spec_toml = format!("class_names = [\"one\"]\n{SMALL}");
    let e = Model::from_shrk(&f).unwrap_err().to_string();
    assert!(e.contains("1 class names for 3 outputs"), "{e}");
}

/// A batch over the working-memory limit runs in pieces and gives the same logits.
#[test]
fn large_batches_run_in_pieces_within_the_memory_limit() {
    let file = random_model(SMALL, 5, true);
    let whole = Model::from_shrk_with(&file, &Limits::NONE).unwrap();
    let per_example = 4 * whole.cost().work;
    let limits = Limits {
        max_batch_bytes: 3 * per_example,
        ..Limits::DEFAULT
    };
    let pieces = Model::from_shrk_with(&file, &limits).unwrap();
    assert_eq!(pieces.max_batch(), 3);
    let mut rng = Rng(9);
    let x: Vec<f32> = (0..10 * whole.input_len()).map(|_| rng.f()).collect();
    // Same values up to float rounding (the kernels' summation order depends on the
    // batch width).
    let (a, b) = (
        whole.predict(&x, 10).unwrap(),
        pieces.predict(&x, 10).unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (u, v) in a.iter().zip(&b) {
        assert!((u - v).abs() <= 1e-5 * (1.0 + u.abs()), "{u} vs {v}");
    }
    // One example that needs more than the limit is refused at load.
    let tiny = Limits {
        max_batch_bytes: per_example - 1,
        ..Limits::DEFAULT
    };
    let e = Model::from_shrk_with(&file, &tiny).unwrap_err().to_string();
    assert!(e.contains("max_batch_bytes"), "{e}");
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let file = random_model(SMALL, 7, true);
    let (bytes, _) = shrink_format::write(&file).unwrap();
    assert!(Model::from_bytes(&bytes).is_ok());
    for cut in [0, 5, 16, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            Model::from_bytes(&bytes[..cut]),
            Err(RuntimeError::Format(_))
        ));
    }
    for pos in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[pos] ^= 0x24;
        assert!(
            Model::from_bytes(&b).is_err(),
            "flip at {pos} went unnoticed"
        );
    }
    assert!(Model::from_bytes(b"not a shrk file").is_err());
}

/// Odd specs and tensors are errors (or run), never panics.
#[test]
fn odd_specs_are_errors_not_panics() {
    let specs = [
        "input = [4]\nlayers = [{ type = \"maxout\", pieces = 0 }]\n",
        "input = [4]\nlayers = [{ type = \"maxout\", pieces = 3 }]\n",
        "input = [1, 4, 4]\nlayers = [{ type = \"max_pool2d\", kernel = 0 }, { type = \"flatten\" }]\n",
        "input = [1, 4, 4]\nlayers = [{ type = \"max_pool2d\", kernel = 2, stride = 0 }, { type = \"flatten\" }]\n",
        "input = [1, 4, 4]\nlayers = [{ type = \"avg_pool2d\", kernel = 3, padding = 3 }, { type = \"flatten\" }]\n",
        "input = [1, 4, 4]\nlayers = [{ type = \"conv2d\", out = 2, kernel = 0 }, { type = \"flatten\" }]\n",
        "input = [1, 4, 4]\nlayers = [{ type = \"conv_transpose2d\", out = 2, kernel = 1, padding = 3 }, { type = \"flatten\" }]\n",
        "input = [1, 4, 4]\nlayers = [{ type = \"inception\", branches = [] }, { type = \"flatten\" }]\n",
        "input = [1, 4, 4]\nlayers = [{ type = \"residual\", body = [] }, { type = \"flatten\" }]\n",
        "input = [3]\nlayers = [{ type = \"linear\", out = 0 }]\n",
        "input = [0]\nlayers = [{ type = \"relu\" }]\n",
        "input = []\nlayers = [{ type = \"relu\" }]\n",
        "input = [3]\nlayers = []\n",
        "input = [2]\nlayers = [{ type = \"relu\" }]\n[normalize]\nmean = [0.0]\nstd = [1.0]\n",
    ];
    for spec in specs {
        let file = ShrkModel {
            spec_toml: spec.into(),
            meta: vec![],
            tensors: vec![],
        };
        if let Ok(model) = Model::from_shrk(&file) {
            let x = vec![0.5; 2 * model.input_len()];
            let out = model.predict(&x, 2).unwrap();
            assert_eq!(out.len(), 2 * model.classes(), "{spec}");
        }
    }
}

// ---------------------------------------------------------------------------------
// The layers imported networks need (issue 13).

#[test]
fn grouped_and_depthwise_conv() {
    // Groups of 2 input channels and 3 filters, stride, padding, dilation.
    check(&image_spec(
        "[6, 9, 8]",
        "{ type = \"conv2d\", out = 9, kernel = 3, stride = 2, padding = 2, dilation = 2, groups = 3 }",
    ));
    // Depthwise (one filter per channel), without bias.
    check(&image_spec(
        "[5, 7, 6]",
        "{ type = \"conv2d\", out = 5, kernel = 3, padding = 1, groups = 5, bias = false }",
    ));
    // Depthwise with a channel multiplier of 2.
    check(&image_spec(
        "[3, 6, 6]",
        "{ type = \"conv2d\", out = 6, kernel = 3, groups = 3 }",
    ));
    // Grouped 1×1: each group a plain product.
    check(&image_spec(
        "[4, 5, 3]",
        "{ type = \"conv2d\", out = 6, kernel = 1, groups = 2 }",
    ));
    // A MobileNetV2 block: expand, depthwise, ReLU6, project, inside a residual.
    check(&image_spec(
        "[4, 8, 8]",
        "{ type = \"residual\", body = [\
         { type = \"conv2d\", out = 12, kernel = 1, bias = false }, { type = \"batch_norm\" }, { type = \"clip\", min = 0.0, max = 6.0 }, \
         { type = \"conv2d\", out = 12, kernel = 3, padding = 1, groups = 12, bias = false }, { type = \"batch_norm\" }, { type = \"clip\", min = 0.0, max = 6.0 }, \
         { type = \"conv2d\", out = 4, kernel = 1, bias = false }, { type = \"batch_norm\" }] }",
    ));
}

#[test]
fn asymmetric_padding_and_pool_counts() {
    // TensorFlow's "same" for stride 2: one more row and column at the bottom/right.
    check(&image_spec(
        "[2, 7, 8]",
        "{ type = \"pad2d\", bottom = 1, right = 1 }, { type = \"conv2d\", out = 3, kernel = 3, stride = 2 }",
    ));
    check(&image_spec(
        "[2, 5, 5]",
        "{ type = \"pad2d\", top = 2, left = 1, bottom = 0, right = 3, value = 0.5 }",
    ));
    // Max pooling's padding: -inf never wins (every window keeps an input value).
    check(&image_spec(
        "[2, 6, 7]",
        "{ type = \"pad2d\", bottom = 1, right = 1, value = -inf }, { type = \"max_pool2d\", kernel = 2 }",
    ));
    // Average pooling that counts only the positions inside.
    check(&image_spec(
        "[2, 7, 6]",
        "{ type = \"avg_pool2d\", kernel = 3, stride = 2, padding = 1, count_include_pad = false }",
    ));
    check(&image_spec(
        "[3, 5, 5]",
        "{ type = \"avg_pool2d\", kernel = 3, stride = 1, padding = 1, count_include_pad = false }",
    ));
    // After a convolution, where the one-buffer pass could fuse a plain pool.
    check(&image_spec(
        "[2, 8, 8]",
        "{ type = \"conv2d\", out = 3, kernel = 3, padding = 1 }, { type = \"avg_pool2d\", kernel = 2, padding = 1, count_include_pad = false }",
    ));
}

#[test]
fn clip_and_hard_activations() {
    for act in [
        "{ type = \"clip\", min = 0.0, max = 6.0 }",
        "{ type = \"clip\", min = -0.5, max = 0.25 }",
        "{ type = \"clip\", min = -inf, max = 0.3 }",
        "{ type = \"hard_sigmoid\" }",
        "{ type = \"hard_sigmoid\", alpha = 0.2, beta = 0.4 }",
        "{ type = \"hard_swish\" }",
    ] {
        check(&image_spec("[3, 4, 5]", act));
        check(&format!(
            "input = [7]\nlayers = [{{ type = \"linear\", out = 9 }}, {act}]\n"
        ));
    }
}

mod direct_conv;
