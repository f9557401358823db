//! Spec + tensors → the list of [`Node`]s the runtime executes.
//!
//! Every spec layer becomes one node (flatten and dropout become none: in the runtime's
//! layout flattening moves nothing, and dropout is the identity at inference). Each
//! node takes its tensors by their PyTorch names (`layers.3.weight`,
//! `layers.5.body.0.bias`, `layers.2.gate.weight`, `layers.4.branches.1.0.weight`,
//! `layers.8.norm.weight`, `layers.1.alpha`, batch norm's `weight`, `bias`,
//! `running_mean`, `running_var`) and checks their shapes; every tensor of the file must
//! be used by some layer. Nothing here runs anything (see `ops`).

use crate::prelude::*;
use crate::sparse::{EntryValues, SparseMatrix};
use crate::RuntimeError;
use alloc::collections::BTreeMap;
use core::cell::Cell;
use shrink_format::spec::{Layer, LayerInfo};
use shrink_format::{NamedTensor, TensorData};

/// Largest activation (values per example) the runtime accepts: 2^28 floats, 1 GiB.
const MAX_VALUES_PER_EXAMPLE: usize = 1 << 28;

/// A weight matrix with its optional bias: `y = W x + b`.
#[derive(Debug)]
pub(crate) struct Affine {
    pub w: SparseMatrix,
    pub bias: Option<Vec<f32>>,
}

/// Geometry of a convolution on one example.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub dilation: usize,
    pub oh: usize,
    pub ow: usize,
}

/// Geometry of a transposed convolution on one example.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvTGeom {
    /// Input height and width.
    pub h: usize,
    pub w: usize,
    /// Output channels, height, width.
    pub o: usize,
    pub oh: usize,
    pub ow: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

/// Geometry of a pooling layer on one example.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

/// Geometry of a padding layer on one example.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PadGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub top: usize,
    pub left: usize,
    pub oh: usize,
    pub ow: usize,
    pub value: f32,
}

/// One executable layer. Activations are `[values of one example][batch]` (see
/// `ops`), so "plane" below is the number of values per channel of one example
/// (`H·W` for images, 1 for flat features).
#[derive(Debug)]
pub(crate) enum Node {
    /// Linear layer (`plane == 1`) or 1×1 convolution with stride 1, no padding.
    Affine {
        a: Affine,
        plane: usize,
    },
    /// Linear layer with a linear bottleneck (Ba & Caruana): `y = v (u x)`, `u` without
    /// bias, each factor stored (and compressed) on its own.
    Bottleneck {
        u: Affine,
        v: Affine,
    },
    /// Convolution: by the direct path when it has one (`conv.rs`: stride 1), else via
    /// im2col and the sparse product (and always so in the one-buffer pass).
    Conv {
        a: Affine,
        g: ConvGeom,
        direct: Option<crate::conv::Direct>,
    },
    /// Transposed convolution: the sparse product with Wᵀ, then col2im.
    ConvT {
        a: Affine,
        g: ConvTGeom,
    },
    MaxPool(PoolGeom),
    AvgPool(PoolGeom),
    /// Average pooling that divides each window's sum by the number of its positions
    /// inside the input (`count_include_pad = false`).
    AvgPoolValid(PoolGeom),
    /// Grouped convolution: group `j` of the input (`in_len` values of one example:
    /// `C/groups` channels) through `parts[j]` (a [`Node::Conv`] or, for 1×1 stride-1
    /// unpadded filters, a [`Node::Affine`]) into group `j` of the output (`out_len`
    /// values). Activations are channel-major, so each group is one contiguous slice.
    Grouped {
        parts: Vec<Node>,
        in_len: usize,
        out_len: usize,
    },
    /// Padding of an image: `[c][h][w]` → `[c][top + h + bottom][left + w + right]`,
    /// the new positions `value`.
    Pad(PadGeom),
    /// `min(max(x, min), max)`.
    Clip {
        min: f32,
        max: f32,
    },
    /// `max(0, min(1, alpha·x + beta))`.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `x · max(0, min(1, x/6 + 1/2))`.
    HardSwish,
    GlobalAvgPool {
        c: usize,
        plane: usize,
    },
    /// `x·scale[c] + shift[c]`: inference batch norm.
    ChannelAffine {
        scale: Vec<f32>,
        shift: Vec<f32>,
        plane: usize,
    },
    LayerNorm {
        eps: f32,
        gamma: Vec<f32>,
        beta: Vec<f32>,
    },
    Relu,
    LeakyRelu(f32),
    Prelu {
        slope: Vec<f32>,
        plane: usize,
    },
    Elu(f32),
    Sigmoid,
    Tanh,
    Maxout {
        groups: usize,
        pieces: usize,
        plane: usize,
    },
    Residual {
        body: Vec<Node>,
        shortcut: Vec<Node>,
    },
    /// `T·body(x) + (1 − T)·x`, `T = sigmoid(gate x)`, the gate a linear layer or a 1×1
    /// convolution.
    Highway {
        body: Vec<Node>,
        gate: Affine,
        plane: usize,
    },
    Inception {
        branches: Vec<Vec<Node>>,
    },
}

impl Node {
    /// Bytes of parameters held by this node (and those inside it).
    pub fn memory_bytes(&self) -> usize {
        let v = |x: &Vec<f32>| 4 * x.len();
        let a = |x: &Affine| x.w.memory_bytes() + x.bias.as_ref().map_or(0, v);
        let list = |l: &[Node]| l.iter().map(Node::memory_bytes).sum::<usize>();
        match self {
            Node::Affine { a: x, .. } | Node::ConvT { a: x, .. } => a(x),
            Node::Conv { a: x, direct, .. } => {
                a(x) + direct.as_ref().map_or(0, |d| d.memory_bytes())
            }
            Node::Bottleneck { u, v: w } => a(u) + a(w),
            Node::ChannelAffine { scale, shift, .. } => v(scale) + v(shift),
            Node::LayerNorm { gamma, beta, .. } => v(gamma) + v(beta),
            Node::Prelu { slope, .. } => v(slope),
            Node::Residual { body, shortcut } => list(body) + list(shortcut),
            Node::Highway { body, gate, .. } => list(body) + a(gate),
            Node::Inception { branches } => branches.iter().map(|b| list(b)).sum(),
            Node::Grouped { parts, .. } => list(parts),
            _ => 0,
        }
    }

    /// Kept weights of the weight matrices in this node.
    pub fn kept_weights(&self) -> usize {
        let list = |l: &[Node]| l.iter().map(Node::kept_weights).sum::<usize>();
        match self {
            Node::Affine { a, .. } | Node::Conv { a, .. } | Node::ConvT { a, .. } => a.w.nnz(),
            Node::Bottleneck { u, v } => u.w.nnz() + v.w.nnz(),
            Node::Residual { body, shortcut } => list(body) + list(shortcut),
            Node::Highway { body, gate, .. } => list(body) + gate.w.nnz(),
            Node::Inception { branches } => branches.iter().map(|b| list(b)).sum(),
            Node::Grouped { parts, .. } => list(parts),
            _ => 0,
        }
    }
}

/// Every value of every tensor (dense values, codebooks) must be finite: a NaN or an
/// infinity would turn every score into NaN and every prediction into class 0.
pub(crate) fn check_finite(tensors: &[NamedTensor]) -> Result<(), RuntimeError> {
    for t in tensors {
        let values: &[f32] = match &t.data {
            TensorData::Dense { values, .. } => values,
            TensorData::Compressed(c) => &c.codebook,
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(RuntimeError::TensorValue {
                name: t.name.clone(),
                msg: format!("value {} at index {i} is not finite", values[i]),
            });
        }
    }
    Ok(())
}

/// The tensors of a file by name, remembering which ones a layer took.
pub(crate) struct Tensors<'a> {
    map: BTreeMap<&'a str, (&'a TensorData, Cell<bool>)>,
    order: Vec<&'a str>,
}

impl<'a> Tensors<'a> {
    pub fn new(tensors: &'a [NamedTensor]) -> Self {
        Tensors {
            map: tensors
                .iter()
                .map(|t| (t.name.as_str(), (&t.data, Cell::new(false))))
                .collect(),
            order: tensors.iter().map(|t| t.name.as_str()).collect(),
        }
    }

    /// The tensor `name`, which must have shape `want`.
    fn take(
        &self,
        name: &str,
        layer: &str,
        want: &[usize],
    ) -> Result<&'a TensorData, RuntimeError> {
        let (data, used) = self
            .map
            .get(name)
            .ok_or_else(|| RuntimeError::MissingTensor {
                name: name.to_string(),
                layer: layer.to_string(),
            })?;
        let got = data.shape();
        if got.len() != want.len() || got.iter().zip(want).any(|(&g, &w)| g as usize != w) {
            return Err(RuntimeError::TensorShape {
                name: name.to_string(),
                layer: layer.to_string(),
                want: want.to_vec(),
                got: got.to_vec(),
            });
        }
        used.set(true);
        Ok(data)
    }

    /// A vector parameter (bias, norm parameter, slope) as f32 values.
    fn vector(&self, name: &str, layer: &str, len: usize) -> Result<Vec<f32>, RuntimeError> {
        Ok(self.take(name, layer, &[len])?.to_dense())
    }

    /// Error on the first tensor no layer took.
    pub fn check_all_used(&self) -> Result<(), RuntimeError> {
        match self.order.iter().find(|n| !self.map[**n].1.get()) {
            Some(n) => Err(RuntimeError::UnusedTensor {
                name: n.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// How a weight tensor's flat positions map to (row, col) of the matrix the kernels use.
#[derive(Clone, Copy)]
enum WeightLayout {
    /// `[rows, cols…]` row-major: linear `[out, in]`, conv `[out, in, kh, kw]`.
    Rows { rows: usize, cols: usize },
    /// Conv-transpose `[in, out, kh, kw]` read as the matrix `[(out, kh, kw)][in]`.
    Transposed { inputs: usize, per_input: usize },
}

impl WeightLayout {
    fn dims(self) -> (usize, usize) {
        match self {
            WeightLayout::Rows { rows, cols } => (rows, cols),
            WeightLayout::Transposed { inputs, per_input } => (per_input, inputs),
        }
    }

    fn coords(self, position: usize) -> (u32, u32) {
        let (r, c) = match self {
            WeightLayout::Rows { cols, .. } => (position / cols, position % cols),
            WeightLayout::Transposed { per_input, .. } => {
                (position % per_input, position / per_input)
            }
        };
        (r as u32, c as u32)
    }
}

/// Build the sparse matrix of a weight tensor (shape already checked).
fn weight_matrix(data: &TensorData, layout: WeightLayout) -> SparseMatrix {
    let (rows, cols) = layout.dims();
    match data {
        TensorData::Compressed(c) => SparseMatrix::build_with(
            rows,
            cols,
            c.positions.len(),
            |j| layout.coords(c.positions[j] as usize),
            EntryValues::Shared {
                codebook: &c.codebook,
                clusters: &c.clusters,
            },
        ),
        TensorData::Dense { values, .. } => {
            let mut coords = Vec::new();
            let mut kept = Vec::new();
            for (p, &v) in values.iter().enumerate() {
                if v != 0.0 {
                    coords.push(layout.coords(p));
                    kept.push(v);
                }
            }
            SparseMatrix::build(rows, cols, &coords, EntryValues::Plain(&kept))
        }
    }
}

/// Rows `first_row..first_row + rows` of a `[.., cols]` weight tensor (shape already
/// checked) as a matrix of their own: one group of a grouped convolution.
fn weight_rows(data: &TensorData, first_row: usize, rows: usize, cols: usize) -> SparseMatrix {
    let (start, end) = (first_row * cols, (first_row + rows) * cols);
    let layout = WeightLayout::Rows { rows, cols };
    match data {
        TensorData::Compressed(c) => {
            let kept: Vec<usize> = (0..c.positions.len())
                .filter(|&j| (start..end).contains(&(c.positions[j] as usize)))
                .collect();
            let clusters: Vec<u16> = kept.iter().map(|&j| c.clusters[j]).collect();
            SparseMatrix::build_with(
                rows,
                cols,
                kept.len(),
                |i| layout.coords(c.positions[kept[i]] as usize - start),
                EntryValues::Shared {
                    codebook: &c.codebook,
                    clusters: &clusters,
                },
            )
        }
        TensorData::Dense { values, .. } => {
            let mut coords = Vec::new();
            let mut kept = Vec::new();
            for (p, &v) in values[start..end].iter().enumerate() {
                if v != 0.0 {
                    coords.push(layout.coords(p));
                    kept.push(v);
                }
            }
            SparseMatrix::build(rows, cols, &coords, EntryValues::Plain(&kept))
        }
    }
}

/// Shapes of every layer by path, from `ModelSpec::infer`.
pub(crate) type Shapes = BTreeMap<String, (Vec<usize>, Vec<usize>)>;

pub(crate) fn shapes(infos: &[LayerInfo]) -> Shapes {
    infos
        .iter()
        .map(|l| (l.path.clone(), (l.input.clone(), l.output.clone())))
        .collect()
}

/// Compile the layers under `prefix` (`layers`, `layers.3.body`, …).
pub(crate) fn compile_list(
    layers: &[Layer],
    prefix: &str,
    shapes: &Shapes,
    tensors: &Tensors<'_>,
) -> Result<Vec<Node>, RuntimeError> {
    let mut nodes = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let path = format!("{prefix}.{i}");
        if let Some(node) = compile_layer(layer, &path, shapes, tensors)? {
            nodes.push(node);
        }
    }
    Ok(nodes)
}

fn checked_len(shape: &[usize], path: &str) -> Result<usize, RuntimeError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_VALUES_PER_EXAMPLE)
        .ok_or_else(|| RuntimeError::TooLarge {
            layer: path.to_string(),
            msg: format!("an activation of shape {shape:?} is too large"),
        })
}

fn compile_layer(
    layer: &Layer,
    path: &str,
    shapes: &Shapes,
    tensors: &Tensors<'_>,
) -> Result<Option<Node>, RuntimeError> {
    let (input, output) = shapes
        .get(path)
        .cloned()
        .expect("ModelSpec::infer lists every layer");
    checked_len(&input, path)?;
    checked_len(&output, path)?;
    // Per-example values of one channel/feature.
    let plane = |s: &[usize]| if s.len() == 3 { s[1] * s[2] } else { 1 };
    let name = |leaf: &str| format!("{path}.{leaf}");
    let bias = |has: bool, len: usize| -> Result<Option<Vec<f32>>, RuntimeError> {
        if has {
            Ok(Some(tensors.vector(&name("bias"), path, len)?))
        } else {
            Ok(None)
        }
    };
    let node = match layer {
        Layer::Linear {
            out,
            bias: b,
            bottleneck: Some(k),
            ..
        } => {
            // U: [k, in] (no bias), V: [out, k] with the layer's bias.
            let u = tensors.take(&name("u.weight"), path, &[*k, input[0]])?;
            let v = tensors.take(&name("v.weight"), path, &[*out, *k])?;
            let v_bias = if *b {
                Some(tensors.vector(&name("v.bias"), path, *out)?)
            } else {
                None
            };
            Node::Bottleneck {
                u: Affine {
                    w: weight_matrix(
                        u,
                        WeightLayout::Rows {
                            rows: *k,
                            cols: input[0],
                        },
                    ),
                    bias: None,
                },
                v: Affine {
                    w: weight_matrix(
                        v,
                        WeightLayout::Rows {
                            rows: *out,
                            cols: *k,
                        },
                    ),
                    bias: v_bias,
                },
            }
        }
        Layer::Linear { out, bias: b, .. } => {
            let w = tensors.take(&name("weight"), path, &[*out, input[0]])?;
            let w = weight_matrix(
                w,
                WeightLayout::Rows {
                    rows: *out,
                    cols: input[0],
                },
            );
            Node::Affine {
                a: Affine {
                    w,
                    bias: bias(*b, *out)?,
                },
                plane: 1,
            }
        }
        Layer::Conv2d {
            out,
            kernel,
            stride,
            padding,
            dilation,
            bias: b,
            groups,
            ..
        } if *groups > 1 => {
            // One matrix per group: filters `j·og..(j+1)·og` over channels
            // `j·cg..(j+1)·cg`, each run as an ungrouped convolution on its slice.
            let (cg, og, k) = (input[0] / groups, out / groups, *kernel);
            let data = tensors.take(&name("weight"), path, &[*out, cg, k, k])?;
            let all_bias = bias(*b, *out)?;
            let cols = cg * k * k;
            checked_len(&[cols, output[1], output[2]], path)?;
            let plane_in = input[1] * input[2];
            let parts = (0..*groups)
                .map(|j| {
                    let a = Affine {
                        w: weight_rows(data, j * og, og, cols),
                        bias: all_bias.as_ref().map(|v| v[j * og..(j + 1) * og].to_vec()),
                    };
                    if k == 1 && *stride == 1 && *padding == 0 {
                        Node::Affine { a, plane: plane_in }
                    } else {
                        Node::Conv {
                            a,
                            g: ConvGeom {
                                c: cg,
                                h: input[1],
                                w: input[2],
                                k,
                                stride: *stride,
                                pad: *padding,
                                dilation: *dilation,
                                oh: output[1],
                                ow: output[2],
                            },
                            // Parts run through `ops::run`: the im2col path.
                            direct: None,
                        }
                    }
                })
                .collect();
            Node::Grouped {
                parts,
                in_len: cg * plane_in,
                out_len: og * output[1] * output[2],
            }
        }
        Layer::Conv2d {
            out,
            kernel,
            stride,
            padding,
            dilation,
            bias: b,
            ..
        } => {
            let (c, k) = (input[0], *kernel);
            let w = tensors.take(&name("weight"), path, &[*out, c, k, k])?;
            let cols = c * k * k;
            checked_len(&[cols, output[1], output[2]], path)?;
            let a = Affine {
                w: weight_matrix(w, WeightLayout::Rows { rows: *out, cols }),
                bias: bias(*b, *out)?,
            };
            if k == 1 && *stride == 1 && *padding == 0 {
                Node::Affine {
                    a,
                    plane: input[1] * input[2],
                }
            } else {
                let g = ConvGeom {
                    c,
                    h: input[1],
                    w: input[2],
                    k,
                    stride: *stride,
                    pad: *padding,
                    dilation: *dilation,
                    oh: output[1],
                    ow: output[2],
                };
                let direct = crate::conv::Direct::new(&g, &a);
                Node::Conv { a, g, direct }
            }
        }
        Layer::ConvTranspose2d {
            out,
            kernel,
            stride,
            padding,
            bias: b,
            ..
        } => {
            let (c, k) = (input[0], *kernel);
            let w = tensors.take(&name("weight"), path, &[c, *out, k, k])?;
            checked_len(&[*out, k, k, input[1], input[2]], path)?;
            Node::ConvT {
                a: Affine {
                    w: weight_matrix(
                        w,
                        WeightLayout::Transposed {
                            inputs: c,
                            per_input: out * k * k,
                        },
                    ),
                    bias: bias(*b, *out)?,
                },
                g: ConvTGeom {
                    h: input[1],
                    w: input[2],
                    o: *out,
                    oh: output[1],
                    ow: output[2],
                    k,
                    stride: *stride,
                    pad: *padding,
                },
            }
        }
        Layer::MaxPool2d {
            kernel,
            stride,
            padding,
        }
        | Layer::AvgPool2d {
            kernel,
            stride,
            padding,
            ..
        } => {
            let g = PoolGeom {
                c: input[0],
                h: input[1],
                w: input[2],
                k: *kernel,
                stride: stride.unwrap_or(*kernel),
                pad: *padding,
                oh: output[1],
                ow: output[2],
            };
            match layer {
                Layer::MaxPool2d { .. } => Node::MaxPool(g),
                // Without padding every window lies inside: the same division.
                Layer::AvgPool2d {
                    count_include_pad: false,
                    padding: 1..,
                    ..
                } => Node::AvgPoolValid(g),
                _ => Node::AvgPool(g),
            }
        }
        Layer::GlobalAvgPool => Node::GlobalAvgPool {
            c: input[0],
            plane: plane(&input),
        },
        Layer::Flatten | Layer::Dropout { .. } => return Ok(None),
        Layer::BatchNorm { eps, .. } => {
            let c = input[0];
            let gamma = tensors.vector(&name("weight"), path, c)?;
            let beta = tensors.vector(&name("bias"), path, c)?;
            let mean = tensors.vector(&name("running_mean"), path, c)?;
            let var = tensors.vector(&name("running_var"), path, c)?;
            if let Some(i) = var.iter().position(|&v| v <= 0.0) {
                return Err(RuntimeError::TensorValue {
                    name: name("running_var"),
                    msg: format!("variance {} of channel {i} is not positive", var[i]),
                });
            }
            let mut scale = vec![0.0f32; c];
            let mut shift = vec![0.0f32; c];
            for i in 0..c {
                let s = gamma[i] as f64 / crate::math::sqrt_f64(var[i] as f64 + eps);
                scale[i] = s as f32;
                shift[i] = (beta[i] as f64 - mean[i] as f64 * s) as f32;
            }
            Node::ChannelAffine {
                scale,
                shift,
                plane: plane(&input),
            }
        }
        Layer::LayerNorm { eps } => {
            let len: usize = input.iter().product();
            Node::LayerNorm {
                eps: *eps as f32,
                gamma: tensors.vector(&name("norm.weight"), path, len)?,
                beta: tensors.vector(&name("norm.bias"), path, len)?,
            }
        }
        Layer::Relu => Node::Relu,
        Layer::LeakyRelu { slope } => Node::LeakyRelu(*slope as f32),
        Layer::Prelu { .. } => Node::Prelu {
            slope: tensors.vector(&name("alpha"), path, input[0])?,
            plane: plane(&input),
        },
        Layer::Rrelu { lower, upper } => Node::LeakyRelu(((lower + upper) / 2.0) as f32),
        Layer::Elu { alpha } => Node::Elu(*alpha as f32),
        Layer::Clip { min, max } => Node::Clip {
            min: *min as f32,
            max: *max as f32,
        },
        Layer::HardSigmoid { alpha, beta } => Node::HardSigmoid {
            alpha: *alpha as f32,
            beta: *beta as f32,
        },
        Layer::HardSwish => Node::HardSwish,
        Layer::Pad2d {
            top, left, value, ..
        } => Node::Pad(PadGeom {
            c: input[0],
            h: input[1],
            w: input[2],
            top: *top,
            left: *left,
            oh: output[1],
            ow: output[2],
            value: *value as f32,
        }),
        Layer::Sigmoid => Node::Sigmoid,
        Layer::Tanh => Node::Tanh,
        Layer::Maxout { pieces } => Node::Maxout {
            groups: output[0],
            pieces: *pieces,
            plane: plane(&input),
        },
        Layer::Residual { body, shortcut } => Node::Residual {
            body: compile_list(body, &name("body"), shapes, tensors)?,
            shortcut: compile_list(shortcut, &name("shortcut"), shapes, tensors)?,
        },
        Layer::Highway { body, .. } => {
            let c = input[0];
            let gate_name = name("gate.weight");
            let want: Vec<usize> = if input.len() == 3 {
                vec![c, c, 1, 1]
            } else {
                vec![c, c]
            };
            let w = tensors.take(&gate_name, path, &want)?;
            let gate = Affine {
                w: weight_matrix(w, WeightLayout::Rows { rows: c, cols: c }),
                bias: Some(tensors.vector(&name("gate.bias"), path, c)?),
            };
            Node::Highway {
                body: compile_list(body, &name("body"), shapes, tensors)?,
                gate,
                plane: plane(&input),
            }
        }
        Layer::Inception { branches } => Node::Inception {
            branches: branches
                .iter()
                .enumerate()
                .map(|(b, br)| compile_list(br, &name(&format!("branches.{b}")), shapes, tensors))
                .collect::<Result<_, _>>()?,
        },
    };
    Ok(Some(node))
}

/// Give every linear layer's matrix (and linear highway gates) the batch-1 lookup
/// layout where it can take one; returns how many got it.
pub(crate) fn add_lookup_layouts(nodes: &mut [Node]) -> usize {
    let mut added = 0;
    for node in nodes {
        added += match node {
            Node::Affine { a, plane: 1 } => a.w.add_lookup_layout() as usize,
            Node::Bottleneck { u, v } => {
                u.w.add_lookup_layout() as usize + v.w.add_lookup_layout() as usize
            }
            Node::Residual { body, shortcut } => {
                add_lookup_layouts(body) + add_lookup_layouts(shortcut)
            }
            Node::Highway { body, gate, plane } => {
                add_lookup_layouts(body) + (*plane == 1 && gate.w.add_lookup_layout()) as usize
            }
            Node::Inception { branches } => {
                branches.iter_mut().map(|b| add_lookup_layouts(b)).sum()
            }
            _ => 0,
        };
    }
    added
}
