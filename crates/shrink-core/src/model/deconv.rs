//! The deconvnet of Zeiler & Fergus (ECCV 2014, §2.1): map the activations of one layer
//! back down to pixel space through the network's own layers.
//!
//! [`Net::forward_record`] runs the ordinary forward pass and keeps, per layer, what the
//! way back needs: the shape of the layer's input and, for max pooling, the *switches*
//! (the argmax position of every pooling window on this image, from Burn's
//! `max_pool2d_with_indices`). [`Block::project_down`] then maps a signal at a layer's
//! output to a signal at its input, using the layer's own parameters:
//!
//! | layer | projection |
//! |---|---|
//! | conv2d | `conv_transpose2d` with the layer's own weight — the "flipped filters" — with the same stride, padding, dilation and groups; no bias |
//! | max pool | unpool: every value goes back to the position its switch recorded, everything else is zero |
//! | relu, leaky relu, prelu, rrelu, elu | relu: the deconvnet *rectifies* the reconstruction; it does not gate it by the forward pass's signs (that would be backprop) |
//! | batch norm | multiply by the per-channel scale γ/√(var+ε) |
//! | avg pool | spread each value evenly over its window; global avg pool: over the whole map |
//! | dropout | identity (inference) |
//! | flatten | reshape back to the image |
//! | linear (also a factored bottleneck `V·U`) | `signal · Wᵀ` (projections from fully connected units) |
//! | residual | projection through the body + projection through the shortcut |
//! | inception | the signal split by branch channels, each branch projected, summed |
//!
//! Choices made where the paper (whose net had only conv, relu, max pool and contrast
//! normalisation) says nothing:
//! - **Batch norm** multiplies by its scale rather than dividing by it or ignoring it. In
//!   inference a batch-norm layer is the affine map `x·s + t` with `s = γ/√(var+ε)`; as
//!   for a convolution, the deconvnet uses the transpose of the linear part (`·s`, a
//!   diagonal map is its own transpose) and drops the shift, as it drops biases. So a
//!   network and its copy with batch norm folded into the convolutions
//!   (`compress::fold`) project identically.
//! - **Residual blocks** compute `body(x) + shortcut(x)`, and the signal goes down both
//!   paths, the results adding up. The approximation: within the body the signal is
//!   rectified at the body's own relus, so the two paths are reconstructed independently
//!   and their sum is not rectified again (the block's input is not a relu output of
//!   the block). With an identity shortcut, a feature that mostly passes its input on is
//!   reconstructed mostly through the shortcut.
//!
//! Not projectable (an error names the layer): sigmoid, tanh, maxout, layer norm,
//! highway blocks and transposed convolutions.

use super::{Block, Feat, Net, Op, Stateless};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module::{avg_pool2d_backward, conv_transpose2d};
use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::IndexingUpdateOp;

/// What one layer's forward pass leaves behind for the way back down.
#[derive(Clone, Debug)]
pub struct Record {
    /// Shape of the layer's input, batch first.
    pub input_dims: Vec<usize>,
    /// Shape of the layer's output, batch first.
    pub output_dims: Vec<usize>,
    /// Max pooling only: the switches, `[batch, channels, out_h, out_w]`, each a flat
    /// index `row·W + col` into the input's `H×W` map of the same channel.
    pub switches: Option<Tensor<4, Int>>,
    /// Blocks with branches: the records of each branch's layers (residual: body, then
    /// shortcut; inception: the branches in order).
    pub branches: Vec<Vec<Record>>,
}

/// A layer the deconvnet has no projection for.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{layer} ({kind}): the deconvnet cannot project through {kind} layers")]
pub struct ProjectError {
    /// Top-level module path of the layer, e.g. `layers.4`.
    pub layer: String,
    pub kind: &'static str,
}

impl Net {
    /// The forward pass through layers `0..=upto`, recording what [`Net::project_down`]
    /// needs. Returns the output of layer `upto` (the same values as
    /// [`Net::forward_range`]) and one [`Record`] per layer.
    pub fn forward_record(&self, x: Feat, upto: usize) -> (Feat, Vec<Record>) {
        record_list(&self.layers[..=upto], x)
    }

    /// Project `signal`, a value at the output of top-level layer `from` (usually zero
    /// except for the units to look at), down to the input: `[batch, …input]`.
    /// `records` are those [`Net::forward_record`] gave for the same examples.
    pub fn project_down(
        &self,
        mut signal: Feat,
        from: usize,
        records: &[Record],
    ) -> Result<Feat, ProjectError> {
        for i in (0..=from).rev() {
            signal = self.layers[i]
                .project_down(signal, &records[i])
                .map_err(|kind| ProjectError {
                    layer: format!("layers.{i}"),
                    kind,
                })?;
        }
        Ok(signal)
    }
}

fn record_list(blocks: &[Block], mut x: Feat) -> (Feat, Vec<Record>) {
    let mut records = Vec::with_capacity(blocks.len());
    for b in blocks {
        let (y, r) = b.forward_record(x);
        records.push(r);
        x = y;
    }
    (x, records)
}

fn project_list(
    blocks: &[Block],
    mut signal: Feat,
    records: &[Record],
) -> Result<Feat, &'static str> {
    for (b, r) in blocks.iter().zip(records).rev() {
        signal = b.project_down(signal, r)?;
    }
    Ok(signal)
}

/// A flat signal given back the shape `dims` (image or flat).
fn with_dims(t: Tensor<2>, dims: &[usize]) -> Feat {
    match *dims {
        [b, c, h, w] => Feat::Image(t.reshape([b, c, h, w])),
        _ => Feat::Flat(t),
    }
}

fn dims4(dims: &[usize]) -> [usize; 4] {
    [dims[0], dims[1], dims[2], dims[3]]
}

impl Block {
    /// [`Block::forward`] that also records what [`Block::project_down`] needs. Max
    /// pooling runs as `max_pool2d_with_indices` (same values, plus the switches).
    pub fn forward_record(&self, x: Feat) -> (Feat, Record) {
        let input_dims = x.dims();
        let (y, switches, branches) = match self {
            Block::Op(Stateless {
                op:
                    Op::MaxPool {
                        kernel,
                        stride,
                        padding,
                    },
            }) => {
                let (y, s) = super::max_pool_with_switches(x.image(), *kernel, *stride, *padding);
                (Feat::Image(y), Some(s), vec![])
            }
            Block::Residual(r) => {
                let (body, rb) = record_list(&r.body, x.clone());
                let (short, rs) = record_list(&r.shortcut, x);
                (body.add(short), None, vec![rb, rs])
            }
            Block::Inception(inc) => {
                let (outs, recs): (Vec<Tensor<4>>, Vec<Vec<Record>>) = inc
                    .branches
                    .iter()
                    .map(|br| {
                        let (y, r) = record_list(br, x.clone());
                        (y.image(), r)
                    })
                    .unzip();
                (Feat::Image(Tensor::cat(outs, 1)), None, recs)
            }
            _ => (self.forward(x), None, vec![]),
        };
        let record = Record {
            input_dims,
            output_dims: y.dims(),
            switches,
            branches,
        };
        (y, record)
    }

    /// Map `signal` at this layer's output down to its input (see the module docs for
    /// each layer kind). Errs with the layer kind when there is no projection for it.
    pub fn project_down(&self, signal: Feat, rec: &Record) -> Result<Feat, &'static str> {
        Ok(match self {
            Block::Conv(c) => {
                // [b, out, h, w] → [b, in, H, W]
                let s = signal.image();
                let [_, _, h_in, w_in] = dims4(&rec.input_dims);
                let [_, _, h, w] = s.dims();
                let [kh, kw] = c.kernel_size;
                let (ph, pw) = match c.padding {
                    PaddingConfig2d::Valid => (0, 0),
                    PaddingConfig2d::Explicit(top, left, bottom, right)
                        if top == bottom && left == right =>
                    {
                        (top, left)
                    }
                    _ => return Err("conv2d with asymmetric padding"),
                };
                // A strided convolution drops the input's last rows when they do not fill
                // a stride; `padding_out` gives them back so the shapes match.
                let full = |n: usize, s: usize, p: usize, d: usize, k: usize| {
                    ((n - 1) * s + d * (k - 1) + 1).saturating_sub(2 * p)
                };
                let out_h = h_in - full(h, c.stride[0], ph, c.dilation[0], kh);
                let out_w = w_in - full(w, c.stride[1], pw, c.dilation[1], kw);
                let opts = ConvTransposeOptions::new(
                    c.stride,
                    [ph, pw],
                    [out_h, out_w],
                    c.dilation,
                    c.groups,
                );
                Feat::Image(conv_transpose2d(s, c.weight.val(), None, opts))
            }
            Block::Op(s) => match &s.op {
                Op::MaxPool { .. } => {
                    let sw = rec.switches.clone().expect("max pool records its switches");
                    Feat::Image(unpool(signal.image(), sw, dims4(&rec.input_dims)))
                }
                Op::AvgPool {
                    kernel,
                    stride,
                    padding,
                    count_include_pad,
                } => {
                    let s = signal.image();
                    // The backward pass of averaging is its transpose: each value spread
                    // evenly (÷ k²) over the window it averaged. `x` only gives the shape.
                    let x = Tensor::zeros(dims4(&rec.input_dims), &s.device());
                    Feat::Image(avg_pool2d_backward(
                        x,
                        s,
                        [*kernel, *kernel],
                        [*stride, *stride],
                        [*padding, *padding],
                        *count_include_pad,
                        false,
                    ))
                }
                Op::GlobalAvgPool => {
                    let [b, c, h, w] = dims4(&rec.input_dims);
                    let s = signal.flat().reshape([b, c, 1, 1]) / (h * w) as f64;
                    Feat::Image(s.repeat_dim(2, h).repeat_dim(3, w))
                }
                Op::Flatten => with_dims(signal.flat(), &rec.input_dims),
                Op::Relu | Op::LeakyRelu(_) | Op::Rrelu { .. } | Op::Elu(_) => {
                    signal.map(activation::relu, activation::relu)
                }
                Op::Sigmoid => return Err("sigmoid"),
                Op::Tanh => return Err("tanh"),
                Op::Maxout(_) => return Err("maxout"),
                // A rectifier with a ceiling: the ReLU rule, as for the ReLU family.
                Op::Clip { .. } => signal.map(activation::relu, activation::relu),
                Op::HardSigmoid { .. } => return Err("hard_sigmoid"),
                Op::HardSwish => return Err("hard_swish"),
                // The transpose of padding is cropping.
                Op::Pad { top, left, .. } => {
                    let [_, _, h, w] = dims4(&rec.input_dims);
                    Feat::Image(signal.image().narrow(2, *top, h).narrow(3, *left, w))
                }
            },
            Block::Prelu(_) => signal.map(activation::relu, activation::relu),
            Block::Dropout(_) => signal,
            Block::BatchNorm(bn) => {
                // In inference: y = (x − mean)·s + β with s = γ/√(var + ε). Transpose of
                // the linear part: · s, per channel.
                let var = bn.running_var.value();
                let scale = bn.gamma.val() / (var + bn.epsilon).sqrt();
                let [c] = scale.dims();
                signal.map(
                    |t| t * scale.clone().reshape([1, c]),
                    |t| t * scale.clone().reshape([1, c, 1, 1]),
                )
            }
            Block::Linear(l) => {
                // Burn keeps the weight as [in, out]: y = x·W, so going down is s·Wᵀ.
                let s = signal.flat().matmul(l.weight.val().transpose());
                with_dims(s, &rec.input_dims)
            }
            Block::Bottleneck(b) => {
                // y = (x·U)·V: going down, s·Vᵀ·Uᵀ.
                let s = signal.flat().matmul(b.v.weight.val().transpose());
                let s = s.matmul(b.u.weight.val().transpose());
                with_dims(s, &rec.input_dims)
            }
            Block::Residual(r) => {
                let body = project_list(&r.body, signal.clone(), &rec.branches[0])?;
                let short = project_list(&r.shortcut, signal, &rec.branches[1])?;
                body.add(short)
            }
            Block::Inception(inc) => {
                let s = signal.image();
                let mut start = 0;
                let mut sum: Option<Feat> = None;
                for (br, recs) in inc.branches.iter().zip(&rec.branches) {
                    let width = recs
                        .last()
                        .map_or(rec.input_dims[1], |r: &Record| r.output_dims[1]);
                    let part = Feat::Image(s.clone().narrow(1, start, width));
                    start += width;
                    let down = project_list(br, part, recs)?;
                    sum = Some(match sum {
                        Some(acc) => acc.add(down),
                        None => down,
                    });
                }
                sum.expect("an inception block has branches")
            }
            Block::ConvT(_) => return Err("conv_transpose2d"),
            Block::LayerNorm(_) => return Err("layer_norm"),
            Block::Highway(_) => return Err("highway"),
        })
    }
}

/// Unpooling (Zeiler & Fergus §2.1): put each value of `signal` `[b, c, h, w]` at the
/// position its switch recorded in the pooled layer's input `[b, c, H, W]`; every other
/// position is zero. Overlapping windows that chose the same position add up (so this is
/// exactly the transpose of max pooling on this image).
pub fn unpool(signal: Tensor<4>, switches: Tensor<4, Int>, input_dims: [usize; 4]) -> Tensor<4> {
    let [b, c, h, w] = input_dims;
    let [_, _, oh, ow] = signal.dims();
    let zeros = Tensor::<3>::zeros([b, c, h * w], &signal.device());
    zeros
        .scatter(
            2,
            switches.reshape([b, c, oh * ow]),
            signal.reshape([b, c, oh * ow]),
            IndexingUpdateOp::Add,
        )
        .reshape([b, c, h, w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use shrink_format::spec::{Layer, ModelSpec};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// A net of `layers` (flattened at the end if they end in an image, as a spec must).
    fn net(mut layers: Vec<Layer>, input: Vec<usize>) -> Net {
        if !matches!(
            layers.last(),
            Some(Layer::Linear { .. } | Layer::Flatten | Layer::Tanh)
        ) {
            layers.push(Layer::Flatten);
        }
        let spec = ModelSpec {
            name: String::new(),
            input,
            normalize: None,
            class_names: vec![],
            layers,
        };
        let dev = Device::flex();
        dev.seed(7);
        Net::new(&spec, &dev).unwrap()
    }

    fn conv(out: usize, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Layer {
        Layer::Conv2d {
            out,
            kernel,
            stride,
            padding,
            dilation,
            bias: true,
            init: shrink_format::spec::Init::HeNormal,
            groups: 1,
        }
    }

    /// ⟨L(x), s⟩ = ⟨x, Lᵀ(s)⟩ for a linear layer L: the projection is the exact transpose.
    /// Through layers `0..=upto`.
    fn assert_adjoint(n: &Net, upto: usize, input: [usize; 4]) {
        let dev = Device::flex();
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &dev);
        let zero = Tensor::<4>::zeros(input, &dev);
        let (y, rec) = n.forward_record(Feat::Image(x.clone()), upto);
        // Remove the affine shift (bias) so that only the linear part is compared.
        let (y0, _) = n.forward_record(Feat::Image(zero), upto);
        let ly = values(y.flat() - y0.flat());
        let out_dims = rec[upto].output_dims.clone();
        let s = Tensor::<2>::random(
            [out_dims[0], out_dims[1..].iter().product::<usize>()],
            Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let sv = values(s.clone());
        let down = n.project_down(with_dims(s, &out_dims), upto, &rec).unwrap();
        assert_eq!(down.dims(), input.to_vec());
        let lhs = dot(&ly, &sv);
        let rhs = dot(&values(x), &values(down.flat()));
        assert!(
            (lhs - rhs).abs() <= 1e-3 * lhs.abs().max(1.0),
            "⟨Lx, s⟩ = {lhs} but ⟨x, Lᵀs⟩ = {rhs}"
        );
    }

    #[test]
    fn conv_projection_is_the_transpose_for_every_stride_and_padding() {
        for (k, s, p, d, hw) in [
            (5, 1, 0, 1, 12),
            (3, 1, 1, 1, 9),
            (3, 2, 1, 1, 8),
            (3, 2, 1, 1, 7),
            (4, 3, 0, 1, 11),
            (3, 1, 2, 2, 9),
        ] {
            let n = net(vec![conv(4, k, s, p, d)], vec![3, hw, hw]);
            assert_adjoint(&n, 0, [2, 3, hw, hw]);
        }
    }

    #[test]
    fn avg_pool_batch_norm_and_linear_projections_are_transposes() {
        let pool = Layer::AvgPool2d {
            kernel: 2,
            stride: None,
            padding: 0,
            count_include_pad: true,
        };
        assert_adjoint(&net(vec![pool], vec![3, 6, 6]), 0, [2, 3, 6, 6]);
        let bn = Layer::BatchNorm {
            eps: 1e-5,
            momentum: 0.1,
        };
        // Trained-looking statistics, so that the scale γ/√(var+ε) is not ≈ 1.
        let mut with_bn = net(vec![bn], vec![3, 5, 5]);
        if let Block::BatchNorm(b) = &mut with_bn.layers[0] {
            let dev = Device::flex();
            let t = |v: [f32; 3]| Tensor::<1>::from_data(TensorData::from(v), &dev);
            b.gamma = burn::module::Param::from_tensor(t([0.5, -2.0, 3.0]));
            b.beta = burn::module::Param::from_tensor(t([1.0, 0.0, -1.0]));
            b.running_mean.update(t([0.3, -0.2, 0.1]));
            b.running_var.update(t([4.0, 0.25, 9.0]));
        }
        assert_adjoint(&with_bn, 0, [2, 3, 5, 5]);
        let fc = Layer::Linear {
            out: 7,
            bias: true,
            init: shrink_format::spec::Init::XavierUniform,
            bottleneck: None,
        };
        // Flatten, then linear: the projection gives the image back.
        assert_adjoint(
            &net(vec![Layer::Flatten, fc], vec![2, 3, 3]),
            1,
            [2, 2, 3, 3],
        );
    }

    #[test]
    fn unpooling_puts_values_exactly_at_the_switches() {
        let dev = Device::flex();
        let x = Tensor::<4>::random([2, 3, 6, 7], Distribution::Normal(0.0, 1.0), &dev);
        let xv = values(x.clone());
        let (pooled, sw) = crate::model::max_pool_with_switches(x, 2, 2, 0);
        let pv = values(pooled.clone());
        let up = values(unpool(pooled, sw, [2, 3, 6, 7]));
        // Every 2×2 window (the last column is dropped: 7 = 3·2 + 1) holds exactly one
        // non-zero value: the window's maximum, at the maximum's position.
        let mut nonzero = 0;
        for bc in 0..6 {
            for oy in 0..3 {
                for ox in 0..3 {
                    let window: Vec<usize> = (0..4)
                        .map(|k| bc * 42 + (oy * 2 + k / 2) * 7 + ox * 2 + k % 2)
                        .collect();
                    let argmax = *window
                        .iter()
                        .max_by(|a, b| xv[**a].total_cmp(&xv[**b]))
                        .unwrap();
                    for &i in &window {
                        let want = if i == argmax { xv[i] } else { 0.0 };
                        assert_eq!(up[i], want, "window ({oy},{ox}) of map {bc}");
                    }
                    assert_eq!(pv[bc * 9 + oy * 3 + ox], xv[argmax]);
                    nonzero += 1;
                }
            }
            for y in 0..6 {
                assert_eq!(up[bc * 42 + y * 7 + 6], 0.0, "dropped column stays zero");
            }
        }
        assert_eq!(up.iter().filter(|v| **v != 0.0).count(), nonzero);
    }

    #[test]
    fn recording_forward_pass_matches_the_plain_one_and_projects_to_the_input() {
        let spec = crate::model::io::parse_spec_text(
            r#"
input = [1, 12, 12]
[[layers]]
type = "conv2d"
out = 4
kernel = 3
padding = 1
[[layers]]
type = "batch_norm"
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "residual"
body = [{ type = "conv2d", out = 4, kernel = 3, padding = 1 }, { type = "relu" }]
[[layers]]
type = "inception"
branches = [[{ type = "conv2d", out = 2, kernel = 1 }], [{ type = "avg_pool2d", kernel = 3, stride = 1, padding = 1 }]]
[[layers]]
type = "global_avg_pool"
[[layers]]
type = "linear"
out = 3
"#,
        )
        .unwrap()
        .0;
        let dev = Device::flex();
        dev.seed(3);
        let n = Net::new(&spec, &dev).unwrap();
        let x = Tensor::<4>::random([2, 1, 12, 12], Distribution::Normal(0.0, 1.0), &dev);
        let last = n.layers.len() - 1;
        let (y, rec) = n.forward_record(Feat::Image(x.clone()), last);
        let plain = n.forward(Feat::Image(x));
        let (a, b) = (values(y.flat()), values(plain));
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
        assert_eq!(rec.len(), n.layers.len());
        assert!(rec[3].switches.is_some());
        let signal = Tensor::<2>::ones([2, 3], &dev);
        let down = n.project_down(Feat::Flat(signal), last, &rec).unwrap();
        assert_eq!(down.dims(), vec![2, 1, 12, 12]);
        assert!(values(down.flat()).iter().any(|v| *v != 0.0));
    }

    #[test]
    fn unprojectable_layers_are_named() {
        let n = net(vec![Layer::Flatten, Layer::Tanh], vec![1, 2, 2]);
        let dev = Device::flex();
        let (_, rec) = n.forward_record(Feat::Image(Tensor::zeros([1, 1, 2, 2], &dev)), 1);
        let err = n
            .project_down(Feat::Flat(Tensor::ones([1, 4], &dev)), 1, &rec)
            .unwrap_err();
        assert_eq!(err.layer, "layers.1");
        assert!(err.to_string().contains("tanh"), "{err}");
    }
}
