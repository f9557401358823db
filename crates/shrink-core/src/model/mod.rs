//! Spec → Burn module: the layer catalogue and the network that runs it.
//!
//! A [`ModelSpec`] (shrink-format) describes a network as data. [`Net::new`] builds the
//! matching Burn module: a `Vec<Block>` where each [`Block`] is one spec layer. Weighted
//! layers are Burn's own (`Linear`, `Conv2d`, `ConvTranspose2d`, `BatchNorm`, …) so that
//! their parameters save and load under PyTorch-compatible names (`layers.3.weight`).
//!
//! Not here: training (see `train`), file formats (see `io`). The deconvnet's way back
//! down through these layers is in `deconv`.
//!
//! Values flowing between layers are a [`Feat`]: a flat `[batch, features]` or an
//! image `[batch, channels, height, width]` tensor.

pub mod deconv;
pub mod io;
pub mod kernels;
pub mod params;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig, PRelu, PReluConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module::{avg_pool2d, max_pool2d_with_indices};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions, PadMode};
use burn::tensor::Distribution;
use shrink_format::spec::{Init, Layer, ModelSpec, SpecError};

/// A batch of activations between two layers.
#[derive(Clone, Debug)]
pub enum Feat {
    /// `[batch, features]`
    Flat(Tensor<2>),
    /// `[batch, channels, height, width]`
    Image(Tensor<4>),
}

impl Feat {
    /// The flat tensor; an image is flattened row-major (`C·H·W`).
    pub fn flat(self) -> Tensor<2> {
        match self {
            Feat::Flat(t) => t,
            Feat::Image(t) => t.flatten(1, 3),
        }
    }
    /// The image tensor; panics on a flat value (the builder checked shapes already).
    pub fn image(self) -> Tensor<4> {
        match self {
            Feat::Image(t) => t,
            Feat::Flat(_) => unreachable!("shape checked by ModelSpec::infer"),
        }
    }
    /// Apply an elementwise function whatever the rank.
    fn map(
        self,
        f2: impl FnOnce(Tensor<2>) -> Tensor<2>,
        f4: impl FnOnce(Tensor<4>) -> Tensor<4>,
    ) -> Feat {
        match self {
            Feat::Flat(t) => Feat::Flat(f2(t)),
            Feat::Image(t) => Feat::Image(f4(t)),
        }
    }
    /// Shape including the batch dimension.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Feat::Flat(t) => t.dims().to_vec(),
            Feat::Image(t) => t.dims().to_vec(),
        }
    }
    fn add(self, other: Feat) -> Feat {
        match (self, other) {
            (Feat::Flat(a), Feat::Flat(b)) => Feat::Flat(a + b),
            (Feat::Image(a), Feat::Image(b)) => Feat::Image(a + b),
            _ => unreachable!("shape checked by ModelSpec::infer"),
        }
    }
}

/// A parameter-free operation.
#[derive(Clone, Debug)]
pub enum Op {
    Flatten,
    GlobalAvgPool,
    MaxPool {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    AvgPool {
        kernel: usize,
        stride: usize,
        padding: usize,
        /// Divide by `kernel²` (true) or by the window's positions inside the input.
        count_include_pad: bool,
    },
    /// Padding each side on its own with `value`.
    Pad {
        top: usize,
        left: usize,
        bottom: usize,
        right: usize,
        value: f64,
    },
    /// `min(max(x, min), max)`.
    Clip {
        min: f64,
        max: f64,
    },
    /// `max(0, min(1, alpha·x + beta))`.
    HardSigmoid {
        alpha: f64,
        beta: f64,
    },
    /// `x · hard_sigmoid(x)` with alpha 1/6, beta 1/2.
    HardSwish,
    Relu,
    LeakyRelu(f64),
    Rrelu {
        lower: f64,
        upper: f64,
    },
    Elu(f64),
    Sigmoid,
    Tanh,
    Maxout(usize),
}

/// Wrapper making an [`Op`] a (stateless) module.
#[derive(Module, Debug)]
pub struct Stateless {
    #[module(skip)]
    pub op: Op,
}

/// Layer normalisation over every value of one example (Ba et al.): the example is
/// flattened, normalised, and given back its shape.
#[derive(Module, Debug)]
pub struct LayerNormAll {
    pub norm: LayerNorm,
}

/// Ba & Caruana's linear bottleneck (docs/PAPERS.md §2): a linear layer whose weight is
/// factored as `W = V·U` through `k` linear units, `y = V (U x) + b`, with nothing
/// nonlinear in between. `u`: `in → k` without bias; `v`: `k → out` with the layer's
/// bias. Same functions as a rank-`k` `W`, but `k·(in + out)` weights instead of
/// `in·out`, and SGD on the factors converges faster than on one huge, highly
/// correlated `W` (the paper's reason for it).
#[derive(Module, Debug)]
pub struct BottleneckLinear {
    pub u: Linear,
    pub v: Linear,
}

/// Shortcut connection: `body(x) + shortcut(x)`.
#[derive(Module, Debug)]
pub struct Residual {
    pub body: Vec<Block>,
    pub shortcut: Vec<Block>,
}

/// Highway block: `T·body(x) + (1−T)·x`, `T = sigmoid(gate(x))`.
#[derive(Module, Debug)]
pub struct Highway {
    pub body: Vec<Block>,
    pub gate: Gate,
}

/// The highway gate: linear for flat inputs, 1×1 convolution for images.
#[derive(Module, Debug)]
pub enum Gate {
    Linear(Linear),
    Conv(Conv2d),
}

/// Inception module: parallel branches concatenated along channels.
#[derive(Module, Debug)]
pub struct Inception {
    pub branches: Vec<Vec<Block>>,
}

/// One spec layer as a Burn module.
#[derive(Module, Debug)]
pub enum Block {
    Linear(Linear),
    Bottleneck(BottleneckLinear),
    Conv(Conv2d),
    ConvT(ConvTranspose2d),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNormAll),
    Dropout(Dropout),
    Prelu(PRelu),
    Op(Stateless),
    Residual(Residual),
    Highway(Highway),
    Inception(Inception),
}

/// The network: one [`Block`] per spec layer.
#[derive(Module, Debug)]
pub struct Net {
    pub layers: Vec<Block>,
}

fn initializer(init: Init) -> Initializer {
    match init {
        Init::XavierUniform => Initializer::XavierUniform { gain: 1.0 },
        Init::XavierNormal => Initializer::XavierNormal { gain: 1.0 },
        // gain sqrt(2) for ReLU (He et al. 2015).
        Init::HeUniform => Initializer::KaimingUniform {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        },
        Init::HeNormal => Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        },
        Init::SmallNormal => Initializer::Normal {
            mean: 0.0,
            std: 0.01,
        },
    }
}

/// The same initialiser with gain 1, for a factor that no nonlinearity follows.
fn linear_gain(init: Initializer) -> Initializer {
    match init {
        Initializer::KaimingNormal { fan_out_only, .. } => Initializer::KaimingNormal {
            gain: 1.0,
            fan_out_only,
        },
        Initializer::KaimingUniform { fan_out_only, .. } => Initializer::KaimingUniform {
            gain: 1.0,
            fan_out_only,
        },
        other => other,
    }
}

fn zero_bias(
    bias: Option<Param<Tensor<1>>>,
    n: usize,
    device: &Device,
) -> Option<Param<Tensor<1>>> {
    bias.map(|_| Param::from_tensor(Tensor::zeros([n], device)))
}

impl Net {
    /// Build the module for `spec` on `device`, weights freshly initialised.
    /// Seed the device first (`device.seed(..)`) for reproducible weights.
    pub fn new(spec: &ModelSpec, device: &Device) -> Result<Net, SpecError> {
        spec.infer()?;
        let layers = build_list(&spec.layers, &spec.input, device);
        let net = Net { layers };
        // Burn initialises parameters lazily, drawing from the device RNG whenever one is
        // first touched; touch them all now, in module order, so that a seed fixes them.
        net.visit(&mut Materialize);
        Ok(net)
    }

    /// Forward pass: `[batch, …input]` → logits `[batch, classes]`.
    pub fn forward(&self, x: Feat) -> Tensor<2> {
        run_list(&self.layers, x, None).flat()
    }

    /// Forward pass that also hands back every top-level layer's output, in order.
    pub fn forward_trace(&self, x: Feat) -> (Tensor<2>, Vec<Feat>) {
        let mut trace = Vec::with_capacity(self.layers.len());
        let out = run_list(&self.layers, x, Some(&mut trace)).flat();
        (out, trace)
    }

    /// Run only layers `from..to` (top level) on `x`.
    pub fn forward_range(&self, x: Feat, from: usize, to: usize) -> Feat {
        run_list(&self.layers[from..to], x, None)
    }

    /// The weight tensors (linear, conv, conv-transpose) with their paths, for the L1
    /// penalty and for compression.
    pub fn weights(&self) -> Vec<(String, WeightRef<'_>)> {
        let mut out = Vec::new();
        collect_weights(&self.layers, "layers", &mut out);
        out
    }
}

/// Forces lazy parameters to initialise.
struct Materialize;
impl burn::module::ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A borrowed weight parameter of any rank.
pub enum WeightRef<'a> {
    W2(&'a Param<Tensor<2>>),
    W4(&'a Param<Tensor<4>>),
}

impl WeightRef<'_> {
    /// Σ|w| as a scalar tensor (tracked by autodiff when the weight is).
    pub fn l1(&self) -> Tensor<1> {
        match self {
            WeightRef::W2(p) => p.val().abs().sum(),
            WeightRef::W4(p) => p.val().abs().sum(),
        }
    }
}

fn collect_weights<'a>(blocks: &'a [Block], prefix: &str, out: &mut Vec<(String, WeightRef<'a>)>) {
    for (i, b) in blocks.iter().enumerate() {
        let path = format!("{prefix}.{i}");
        match b {
            Block::Linear(l) => out.push((format!("{path}.weight"), WeightRef::W2(&l.weight))),
            Block::Bottleneck(b) => {
                out.push((format!("{path}.u.weight"), WeightRef::W2(&b.u.weight)));
                out.push((format!("{path}.v.weight"), WeightRef::W2(&b.v.weight)));
            }
            Block::Conv(c) => out.push((format!("{path}.weight"), WeightRef::W4(&c.weight))),
            Block::ConvT(c) => out.push((format!("{path}.weight"), WeightRef::W4(&c.weight))),
            Block::Residual(r) => {
                collect_weights(&r.body, &format!("{path}.body"), out);
                collect_weights(&r.shortcut, &format!("{path}.shortcut"), out);
            }
            Block::Highway(h) => {
                collect_weights(&h.body, &format!("{path}.body"), out);
                match &h.gate {
                    Gate::Linear(l) => {
                        out.push((format!("{path}.gate.weight"), WeightRef::W2(&l.weight)))
                    }
                    Gate::Conv(c) => {
                        out.push((format!("{path}.gate.weight"), WeightRef::W4(&c.weight)))
                    }
                }
            }
            Block::Inception(inc) => {
                for (bi, br) in inc.branches.iter().enumerate() {
                    collect_weights(br, &format!("{path}.branches.{bi}"), out);
                }
            }
            _ => {}
        }
    }
}

fn build_list(layers: &[Layer], input: &[usize], device: &Device) -> Vec<Block> {
    let mut shape = input.to_vec();
    let mut out = Vec::with_capacity(layers.len());
    for layer in layers {
        let (block, next) = build_layer(layer, &shape, device);
        out.push(block);
        shape = next;
    }
    out
}

/// Output shape of one layer (the spec was validated before building, so this holds).
fn single_shape(layer: &Layer, input: &[usize]) -> Vec<usize> {
    let spec = ModelSpec {
        name: String::new(),
        input: input.to_vec(),
        normalize: None,
        class_names: vec![],
        layers: vec![layer.clone(), Layer::Flatten],
    };
    // infer() validates; the first entry's output is the layer's output shape.
    spec.infer()
        .map(|(infos, _)| infos[0].output.clone())
        .expect("spec validated before building")
}

fn build_layer(layer: &Layer, input: &[usize], device: &Device) -> (Block, Vec<usize>) {
    let out_shape = single_shape(layer, input);
    let block = match layer {
        Layer::Linear {
            out,
            bias,
            init,
            bottleneck: None,
        } => {
            let mut l = LinearConfig::new(input[0], *out)
                .with_bias(*bias)
                .with_initializer(initializer(*init))
                .init(device);
            l.bias = zero_bias(l.bias, *out, device);
            Block::Linear(l)
        }
        Layer::Linear {
            out,
            bias,
            init,
            bottleneck: Some(k),
        } => {
            // U: [in] → [k], no bias; V: [k] → [out] with the layer's bias. No
            // nonlinearity follows U, so it takes the init's linear gain (1, not He's
            // √2): U x keeps the input's scale and V sets the layer's.
            let u = LinearConfig::new(input[0], *k)
                .with_bias(false)
                .with_initializer(linear_gain(initializer(*init)))
                .init(device);
            let mut v = LinearConfig::new(*k, *out)
                .with_bias(*bias)
                .with_initializer(initializer(*init))
                .init(device);
            v.bias = zero_bias(v.bias, *out, device);
            Block::Bottleneck(BottleneckLinear { u, v })
        }
        Layer::Conv2d {
            out,
            kernel,
            stride,
            padding,
            dilation,
            bias,
            init,
            groups,
        } => {
            let mut c = Conv2dConfig::new([input[0], *out], [*kernel, *kernel])
                .with_groups(*groups)
                .with_stride([*stride, *stride])
                .with_padding(PaddingConfig2d::Explicit(
                    *padding, *padding, *padding, *padding,
                ))
                .with_dilation([*dilation, *dilation])
                .with_bias(*bias)
                .with_initializer(initializer(*init))
                .init(device);
            c.bias = zero_bias(c.bias, *out, device);
            Block::Conv(c)
        }
        Layer::ConvTranspose2d {
            out,
            kernel,
            stride,
            padding,
            output_padding,
            bias,
            init,
        } => {
            let mut c = ConvTranspose2dConfig::new([input[0], *out], [*kernel, *kernel])
                .with_stride([*stride, *stride])
                .with_padding([*padding, *padding])
                .with_padding_out([*output_padding, *output_padding])
                .with_bias(*bias)
                .with_initializer(initializer(*init))
                .init(device);
            c.bias = zero_bias(c.bias, *out, device);
            Block::ConvT(c)
        }
        Layer::MaxPool2d {
            kernel,
            stride,
            padding,
        } => Block::Op(Stateless {
            op: Op::MaxPool {
                kernel: *kernel,
                stride: stride.unwrap_or(*kernel),
                padding: *padding,
            },
        }),
        Layer::AvgPool2d {
            kernel,
            stride,
            padding,
            count_include_pad,
        } => Block::Op(Stateless {
            op: Op::AvgPool {
                kernel: *kernel,
                stride: stride.unwrap_or(*kernel),
                padding: *padding,
                count_include_pad: *count_include_pad,
            },
        }),
        Layer::Pad2d {
            top,
            left,
            bottom,
            right,
            value,
        } => Block::Op(Stateless {
            op: Op::Pad {
                top: *top,
                left: *left,
                bottom: *bottom,
                right: *right,
                value: *value,
            },
        }),
        Layer::Clip { min, max } => Block::Op(Stateless {
            op: Op::Clip {
                min: *min,
                max: *max,
            },
        }),
        Layer::HardSigmoid { alpha, beta } => Block::Op(Stateless {
            op: Op::HardSigmoid {
                alpha: *alpha,
                beta: *beta,
            },
        }),
        Layer::HardSwish => Block::Op(Stateless { op: Op::HardSwish }),
        Layer::GlobalAvgPool => Block::Op(Stateless {
            op: Op::GlobalAvgPool,
        }),
        Layer::Flatten => Block::Op(Stateless { op: Op::Flatten }),
        Layer::Dropout { p } => Block::Dropout(DropoutConfig::new(*p).init()),
        Layer::BatchNorm { eps, momentum } => Block::BatchNorm(
            BatchNormConfig::new(input[0])
                .with_epsilon(*eps)
                .with_momentum(*momentum)
                .init(device),
        ),
        Layer::LayerNorm { eps } => Block::LayerNorm(LayerNormAll {
            norm: LayerNormConfig::new(input.iter().product())
                .with_epsilon(*eps)
                .init(device),
        }),
        Layer::Relu => Block::Op(Stateless { op: Op::Relu }),
        Layer::LeakyRelu { slope } => Block::Op(Stateless {
            op: Op::LeakyRelu(*slope),
        }),
        Layer::Prelu { init } => Block::Prelu(
            PReluConfig::new()
                .with_num_parameters(input[0])
                .with_alpha(*init)
                .init(device),
        ),
        Layer::Rrelu { lower, upper } => Block::Op(Stateless {
            op: Op::Rrelu {
                lower: *lower,
                upper: *upper,
            },
        }),
        Layer::Elu { alpha } => Block::Op(Stateless {
            op: Op::Elu(*alpha),
        }),
        Layer::Sigmoid => Block::Op(Stateless { op: Op::Sigmoid }),
        Layer::Tanh => Block::Op(Stateless { op: Op::Tanh }),
        Layer::Maxout { pieces } => Block::Op(Stateless {
            op: Op::Maxout(*pieces),
        }),
        Layer::Residual { body, shortcut } => Block::Residual(Residual {
            body: build_list(body, input, device),
            shortcut: build_list(shortcut, input, device),
        }),
        Layer::Highway { body, gate_bias } => {
            let c = input[0];
            let bias = Param::from_tensor(Tensor::full([c], *gate_bias, device));
            let gate = if input.len() == 1 {
                let mut l = LinearConfig::new(c, c)
                    .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                    .init(device);
                l.bias = Some(bias);
                Gate::Linear(l)
            } else {
                let mut conv = Conv2dConfig::new([c, c], [1, 1])
                    .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                    .init(device);
                conv.bias = Some(bias);
                Gate::Conv(conv)
            };
            Block::Highway(Highway {
                body: build_list(body, input, device),
                gate,
            })
        }
        Layer::Inception { branches } => Block::Inception(Inception {
            branches: branches
                .iter()
                .map(|b| build_list(b, input, device))
                .collect(),
        }),
    };
    (block, out_shape)
}

fn run_list(blocks: &[Block], mut x: Feat, mut trace: Option<&mut Vec<Feat>>) -> Feat {
    for b in blocks {
        x = b.forward(x);
        if let Some(t) = trace.as_deref_mut() {
            t.push(x.clone());
        }
    }
    x
}

impl Block {
    /// Apply this layer.
    pub fn forward(&self, x: Feat) -> Feat {
        match self {
            Block::Linear(l) => Feat::Flat(kernels::linear(l, x.flat())),
            // [b, in] → [b, k] → [b, out]
            Block::Bottleneck(b) => Feat::Flat(b.v.forward(b.u.forward(x.flat()))),
            Block::Conv(c) => Feat::Image(kernels::conv2d(c, x.image())),
            Block::ConvT(c) => Feat::Image(c.forward(x.image())),
            Block::BatchNorm(bn) => x.map(|t| bn.forward(t), |t| bn.forward(t)),
            Block::LayerNorm(ln) => match x {
                Feat::Flat(t) => Feat::Flat(ln.norm.forward(t)),
                Feat::Image(t) => {
                    let dims = t.dims();
                    let flat = ln.norm.forward(t.flatten::<2>(1, 3));
                    Feat::Image(flat.reshape(dims))
                }
            },
            Block::Dropout(d) => x.map(|t| d.forward(t), |t| d.forward(t)),
            Block::Prelu(p) => x.map(|t| p.forward(t), |t| p.forward(t)),
            Block::Op(s) => s.op.forward(x),
            Block::Residual(r) => {
                let body = run_list(&r.body, x.clone(), None);
                let short = run_list(&r.shortcut, x, None);
                body.add(short)
            }
            Block::Highway(h) => {
                let body = run_list(&h.body, x.clone(), None);
                match (x, body) {
                    (Feat::Flat(x), Feat::Flat(b)) => {
                        let Gate::Linear(g) = &h.gate else {
                            unreachable!()
                        };
                        let t = activation::sigmoid(g.forward(x.clone()));
                        Feat::Flat(t.clone() * b + (t.neg() + 1.0) * x)
                    }
                    (Feat::Image(x), Feat::Image(b)) => {
                        let Gate::Conv(g) = &h.gate else {
                            unreachable!()
                        };
                        let t = activation::sigmoid(g.forward(x.clone()));
                        Feat::Image(t.clone() * b + (t.neg() + 1.0) * x)
                    }
                    _ => unreachable!("shape checked by ModelSpec::infer"),
                }
            }
            Block::Inception(inc) => {
                let outs: Vec<Tensor<4>> = inc
                    .branches
                    .iter()
                    .map(|br| run_list(br, x.clone(), None).image())
                    .collect();
                Feat::Image(Tensor::cat(outs, 1))
            }
        }
    }
}

impl Op {
    /// Apply the operation. `Rrelu` draws random slopes only on an autodiff (training)
    /// device; elsewhere it uses the mean slope, as the method prescribes for test time.
    pub fn forward(&self, x: Feat) -> Feat {
        match self {
            Op::Flatten => Feat::Flat(x.flat()),
            Op::GlobalAvgPool => {
                let t = x.image();
                let [b, c, _, _] = t.dims();
                Feat::Flat(t.flatten::<3>(2, 3).mean_dim(2).reshape([b, c]))
            }
            Op::MaxPool {
                kernel,
                stride,
                padding,
            } => Feat::Image(kernels::max_pool2d(x.image(), *kernel, *stride, *padding)),
            Op::AvgPool {
                kernel,
                stride,
                padding,
                count_include_pad,
            } => {
                let mut options = AvgPoolOptions::new([*kernel, *kernel])
                    .with_stride([*stride, *stride])
                    .with_padding([*padding, *padding]);
                options.count_include_pad = *count_include_pad;
                Feat::Image(avg_pool2d(x.image(), options))
            }
            Op::Pad {
                top,
                left,
                bottom,
                right,
                value,
            } => Feat::Image(x.image().pad(
                [(*top, *bottom), (*left, *right)],
                PadMode::Constant(*value as f32),
            )),
            Op::Clip { min, max } => {
                let (lo, hi) = (*min, *max);
                x.map(|t| clip(t, lo, hi), |t| clip(t, lo, hi))
            }
            Op::HardSigmoid { alpha, beta } => {
                let (a, b) = (*alpha, *beta);
                x.map(
                    |t| activation::hard_sigmoid(t, a, b),
                    |t| activation::hard_sigmoid(t, a, b),
                )
            }
            Op::HardSwish => x.map(activation::hard_swish, activation::hard_swish),
            Op::Relu => x.map(activation::relu, activation::relu),
            Op::LeakyRelu(s) => x.map(
                |t| activation::leaky_relu(t, *s),
                |t| activation::leaky_relu(t, *s),
            ),
            Op::Elu(a) => x.map(|t| activation::elu(t, *a), |t| activation::elu(t, *a)),
            Op::Sigmoid => x.map(activation::sigmoid, activation::sigmoid),
            Op::Tanh => x.map(activation::tanh, activation::tanh),
            Op::Rrelu { lower, upper } => {
                let (l, u) = (*lower, *upper);
                x.map(|t| rrelu(t, l, u), |t| rrelu(t, l, u))
            }
            Op::Maxout(p) => match x {
                Feat::Flat(t) => {
                    let [b, f] = t.dims();
                    Feat::Flat(t.reshape([b, f / p, *p]).max_dim(2).reshape([b, f / p]))
                }
                Feat::Image(t) => {
                    let [b, c, h, w] = t.dims();
                    Feat::Image(t.reshape([b, c / p, *p, h * w]).max_dim(2).reshape([
                        b,
                        c / p,
                        h,
                        w,
                    ]))
                }
            },
        }
    }
}

/// `min(max(t, lo), hi)`; an infinite bound is no bound.
fn clip<const D: usize>(t: Tensor<D>, lo: f64, hi: f64) -> Tensor<D> {
    match (lo.is_finite(), hi.is_finite()) {
        (true, true) => t.clamp(lo, hi),
        (true, false) => t.clamp_min(lo),
        (false, true) => t.clamp_max(hi),
        (false, false) => t,
    }
}

/// Randomised leaky ReLU (Xu et al. 2015): negative slope ~ U(lower, upper) per element
/// in training, (lower+upper)/2 at test time.
fn rrelu<const D: usize>(t: Tensor<D>, lower: f64, upper: f64) -> Tensor<D> {
    if t.device().is_autodiff() {
        let slope = t.random_like(Distribution::Uniform(lower, upper));
        t.clone().clamp_min(0.0) + t.clamp_max(0.0) * slope
    } else {
        activation::leaky_relu(t, (lower + upper) / 2.0)
    }
}

/// Max pooling that also returns the switches (argmax positions), for the deconvnet.
pub fn max_pool_with_switches(
    x: Tensor<4>,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> (Tensor<4>, Tensor<4, Int>) {
    max_pool2d_with_indices(
        x,
        MaxPoolOptions::new([kernel, kernel])
            .with_stride([stride, stride])
            .with_padding([padding, padding]),
    )
}

#[cfg(test)]
mod tests;
