//! The model spec: a network described as data (TOML), and its shape inference.
//!
//! A spec is an input shape and a list of layers. It is what `spec.toml` in a model
//! directory holds, what the `.shrk` container carries, and what both the Burn builder
//! (training) and the runtime (inference) read. Shape inference lives here so that every
//! consumer rejects a bad spec with the same message, naming the layer and the shape
//! that does not fit.
//!
//! Shapes are per example, without the batch dimension: `[C, H, W]` for images, `[F]`
//! for flat features.
//!
//! Every shape, parameter count and cost is computed with checked arithmetic: a spec
//! that declares more than fits in a machine word is an error, never a wrapped number.
//! [`ModelSpec::check`] adds the [`Limits`] (parameters, activation size, working
//! memory, multiply-adds, layer count) and the value checks (finite normalisation,
//! one class name per output); [`ModelSpec::from_toml_limited`] bounds the text before
//! parsing it. Readers of untrusted specs use those two.
//!
//! Not here: the tensors' values (`shrink-runtime` checks them when it takes them).

use crate::limits::{excerpt, Limits, MAX_DEPTH};
use crate::prelude::*;
use core::fmt;
use serde::{Deserialize, Serialize};

/// A whole network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A short name ("lenet-300-100").
    #[serde(default)]
    pub name: String,
    /// Shape of one example, without the batch: `[C, H, W]` or `[F]`.
    pub input: Vec<usize>,
    /// Per-channel (images) or per-feature (tables) normalisation applied to the raw
    /// input before the first layer. Filled in by training from the train split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<NormalizeSpec>,
    /// Names of the output classes, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
    /// The layers, applied in order.
    pub layers: Vec<Layer>,
}

/// `x ← (x − mean) / std`, per channel or per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeSpec {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// Weight initialisers (Gu et al. §3: Xavier/Glorot and He/Kaiming), plus the naive small
/// Gaussian the survey compares them against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Glorot & Bengio: U(±sqrt(6/(fan_in+fan_out))).
    XavierUniform,
    /// Glorot & Bengio: N(0, 2/(fan_in+fan_out)).
    XavierNormal,
    /// He et al.: U(±sqrt(6/fan_in)).
    HeUniform,
    /// He et al.: N(0, 2/fan_in). The default: every zoo net uses ReLU-family units.
    #[default]
    HeNormal,
    /// N(0, 0.01²): the "naive" initialisation.
    SmallNormal,
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn default_eps() -> f64 {
    1e-5
}
fn default_bn_momentum() -> f64 {
    0.1
}
fn default_leaky_slope() -> f64 {
    0.01
}
fn default_rrelu_lower() -> f64 {
    1.0 / 8.0
}
fn default_rrelu_upper() -> f64 {
    1.0 / 3.0
}
fn default_elu_alpha() -> f64 {
    1.0
}
fn default_prelu_init() -> f64 {
    0.25
}
fn default_gate_bias() -> f64 {
    -2.0
}
fn is_one(v: &usize) -> bool {
    *v == 1
}
fn is_true(v: &bool) -> bool {
    *v
}
fn is_zero(v: &usize) -> bool {
    *v == 0
}
fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}
fn default_hard_sigmoid_alpha() -> f64 {
    1.0 / 6.0
}
fn default_hard_sigmoid_beta() -> f64 {
    0.5
}

/// One layer. In TOML: `[[layers]]` tables with a `type` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Layer {
    /// Fully connected: `[F] → [out]`.
    ///
    /// With `bottleneck = k`, the weight matrix is factored as `W = V·U` through `k`
    /// linear units (Ba & Caruana's linear bottleneck, docs/PAPERS.md §2): `U` is `[k, F]`
    /// without bias, `V` is `[out, k]` with the layer's bias, and nothing nonlinear sits
    /// between them. Same function class as a rank-`k` linear layer, `k·(F + out) + out`
    /// parameters instead of `F·out + out`; the weights are named `layers.{i}.u.weight`,
    /// `layers.{i}.v.weight` and `layers.{i}.v.bias`. `init` sets `V`; `U` takes the
    /// same family with gain 1 (no nonlinearity follows it).
    Linear {
        out: usize,
        #[serde(default = "yes")]
        bias: bool,
        #[serde(default)]
        init: Init,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bottleneck: Option<usize>,
    },
    /// 2-D convolution: `[C, H, W] → [out, H', W']`.
    ///
    /// With `groups = g` (grouped convolution; `g = C = out` is depthwise), the `C`
    /// input channels and the `out` filters are split into `g` groups and filter group
    /// `j` sees only input group `j`: the weight is `[out, C/g, kernel, kernel]`, and
    /// both `C` and `out` must be multiples of `g`. `groups = 1` (the default) is
    /// written nowhere, so a spec without grouped convolutions reads and writes as
    /// before.
    Conv2d {
        out: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: usize,
        #[serde(default = "one")]
        dilation: usize,
        #[serde(default = "yes")]
        bias: bool,
        #[serde(default)]
        init: Init,
        #[serde(default = "one", skip_serializing_if = "is_one")]
        groups: usize,
    },
    /// Transposed convolution ("deconvolution"): `H' = (H−1)·stride − 2·padding + kernel + output_padding`.
    ConvTranspose2d {
        out: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: usize,
        #[serde(default)]
        output_padding: usize,
        #[serde(default = "yes")]
        bias: bool,
        #[serde(default)]
        init: Init,
    },
    /// Max pooling; `stride` defaults to `kernel`.
    MaxPool2d {
        kernel: usize,
        #[serde(default)]
        stride: Option<usize>,
        #[serde(default)]
        padding: usize,
    },
    /// Average pooling; `stride` defaults to `kernel`. With padding, a window's sum
    /// is divided by `kernel²` (`count_include_pad = true`, the default: padded values
    /// count as zeros) or by the number of its positions inside the input
    /// (`count_include_pad = false`).
    AvgPool2d {
        kernel: usize,
        #[serde(default)]
        stride: Option<usize>,
        #[serde(default)]
        padding: usize,
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        count_include_pad: bool,
    },
    /// Mean over H and W: `[C, H, W] → [C]`.
    GlobalAvgPool,
    /// `[C, H, W] → [C·H·W]`.
    Flatten,
    /// Dropout with drop probability `p` (training only).
    Dropout {
        p: f64,
    },
    /// Batch normalisation (Ioffe & Szegedy): 1-D over features for `[F]`, 2-D per
    /// channel for `[C, H, W]`.
    BatchNorm {
        #[serde(default = "default_eps")]
        eps: f64,
        #[serde(default = "default_bn_momentum")]
        momentum: f64,
    },
    /// Layer normalisation (Ba et al.) over all of one example's values.
    LayerNorm {
        #[serde(default = "default_eps")]
        eps: f64,
    },
    Relu,
    LeakyRelu {
        #[serde(default = "default_leaky_slope")]
        slope: f64,
    },
    /// Parametric ReLU (He et al.): one learned slope per channel/feature.
    Prelu {
        #[serde(default = "default_prelu_init")]
        init: f64,
    },
    /// Randomised leaky ReLU: slope ~ U(lower, upper) in training, the mean in test.
    Rrelu {
        #[serde(default = "default_rrelu_lower")]
        lower: f64,
        #[serde(default = "default_rrelu_upper")]
        upper: f64,
    },
    Elu {
        #[serde(default = "default_elu_alpha")]
        alpha: f64,
    },
    Sigmoid,
    Tanh,
    /// Maxout (Goodfellow et al.): the max over groups of `pieces` consecutive
    /// channels/features, so `[k·pieces, …] → [k, …]`. Put it after a linear/conv layer
    /// with `pieces` times the units you want.
    Maxout {
        pieces: usize,
    },
    /// Shortcut connection (He et al.): `body(x) + shortcut(x)`; `shortcut` empty is the
    /// identity. Shapes must agree.
    Residual {
        body: Vec<Layer>,
        #[serde(default)]
        shortcut: Vec<Layer>,
    },
    /// Highway block (Srivastava et al.): `T·body(x) + (1−T)·x` with the gate
    /// `T = sigmoid(Wx + b)` (a linear layer for `[F]`, a 1×1 conv for `[C,H,W]`),
    /// `b` starting at `gate_bias` (negative: start close to the identity).
    Highway {
        body: Vec<Layer>,
        #[serde(default = "default_gate_bias")]
        gate_bias: f64,
    },
    /// Inception module (Szegedy et al.): parallel branches on the same input,
    /// concatenated along channels. Branches must agree on H and W.
    Inception {
        branches: Vec<Vec<Layer>>,
    },
    /// Padding of an image, each side on its own:
    /// `[C, H, W] → [C, top + H + bottom, left + W + right]`, the new values `value`
    /// (default 0). This is how a spec writes asymmetric padding (TensorFlow's "same"
    /// padding, ONNX `pads` that differ per side, `nn.ZeroPad2d`): a `pad2d` then a
    /// `conv2d`/`avg_pool2d` with `padding = 0`; before a `max_pool2d`, `value = -inf`
    /// (TOML writes it `-inf`) gives max pooling's own padding semantics. An average
    /// pool after a `pad2d` counts the padded values (as `count_include_pad = true`).
    Pad2d {
        #[serde(default, skip_serializing_if = "is_zero")]
        top: usize,
        #[serde(default, skip_serializing_if = "is_zero")]
        left: usize,
        #[serde(default, skip_serializing_if = "is_zero")]
        bottom: usize,
        #[serde(default, skip_serializing_if = "is_zero")]
        right: usize,
        #[serde(default, skip_serializing_if = "is_zero_f64")]
        value: f64,
    },
    /// `min(max(x, min), max)`: ReLU6 is `clip { min = 0, max = 6 }`. Either bound may
    /// be infinite (`-inf`, `inf`), neither NaN, and `min ≤ max`.
    Clip {
        min: f64,
        max: f64,
    },
    /// `max(0, min(1, alpha·x + beta))` (ONNX HardSigmoid; PyTorch's `Hardsigmoid` is
    /// the default alpha = 1/6, beta = 1/2).
    HardSigmoid {
        #[serde(default = "default_hard_sigmoid_alpha")]
        alpha: f64,
        #[serde(default = "default_hard_sigmoid_beta")]
        beta: f64,
    },
    /// `x · max(0, min(1, x/6 + 1/2))` (MobileNetV3's hard swish; ONNX HardSwish).
    HardSwish,
}

impl Layer {
    /// The `type` name as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Linear { .. } => "linear",
            Layer::Conv2d { .. } => "conv2d",
            Layer::ConvTranspose2d { .. } => "conv_transpose2d",
            Layer::MaxPool2d { .. } => "max_pool2d",
            Layer::AvgPool2d { .. } => "avg_pool2d",
            Layer::GlobalAvgPool => "global_avg_pool",
            Layer::Flatten => "flatten",
            Layer::Dropout { .. } => "dropout",
            Layer::BatchNorm { .. } => "batch_norm",
            Layer::LayerNorm { .. } => "layer_norm",
            Layer::Relu => "relu",
            Layer::LeakyRelu { .. } => "leaky_relu",
            Layer::Prelu { .. } => "prelu",
            Layer::Rrelu { .. } => "rrelu",
            Layer::Elu { .. } => "elu",
            Layer::Sigmoid => "sigmoid",
            Layer::Tanh => "tanh",
            Layer::Maxout { .. } => "maxout",
            Layer::Residual { .. } => "residual",
            Layer::Highway { .. } => "highway",
            Layer::Inception { .. } => "inception",
            Layer::Pad2d { .. } => "pad2d",
            Layer::Clip { .. } => "clip",
            Layer::HardSigmoid { .. } => "hard_sigmoid",
            Layer::HardSwish => "hard_swish",
        }
    }

    /// Whether this layer holds a weight matrix/kernel (the layers Deep Compression
    /// prunes and quantizes).
    pub fn has_weight(&self) -> bool {
        matches!(
            self,
            Layer::Linear { .. } | Layer::Conv2d { .. } | Layer::ConvTranspose2d { .. }
        )
    }
}

/// A spec that does not describe a valid network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The text is not TOML or not a spec (the parser's message, cut to a short excerpt).
    #[error("spec is not valid TOML: {0}")]
    Parse(String),
    /// A layer does not fit the shape it receives, or its numbers overflow.
    #[error("layer {path} ({kind}): {msg}")]
    Shape {
        path: String,
        kind: &'static str,
        msg: String,
    },
    /// The spec as a whole is wrong (input shape, normalisation, class names, nesting).
    #[error("spec: {0}")]
    Invalid(String),
    /// The network is valid but costs more than a [`Limits`] field allows.
    #[error("spec: the model needs {value} {what}, more than the limit of {limit} ({name})")]
    Limit {
        /// What was counted ("parameters", "multiply-adds per example", …).
        what: &'static str,
        /// The count.
        value: u64,
        /// The limit it exceeds.
        limit: u64,
        /// The [`Limits`] field (`max_params`, …), also the name of the setting that
        /// raises it.
        name: &'static str,
    },
}

/// Shape, parameter count and output of one layer, from [`ModelSpec::infer`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    /// Module path: `layers.3`, or `layers.5.body.0` inside a block.
    pub path: String,
    pub kind: &'static str,
    pub input: Vec<usize>,
    pub output: Vec<usize>,
    /// Learned parameters of this layer alone (for a block: of everything inside it).
    pub params: usize,
    /// Multiply-adds per example (elementwise operations count one per value; for a
    /// block: everything inside it).
    pub macs: u64,
    /// Peak working memory of one example while this layer runs, in f32 values: its
    /// input, its output and its scratch (im2col columns; for a block, what its insides
    /// hold at once).
    pub work: u64,
    /// Nesting depth: 0 for top-level layers.
    pub depth: usize,
}

/// What running a network costs, per example, from [`ModelSpec::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Learned parameters.
    pub params: u64,
    /// Multiply-adds per example (see [`LayerInfo::macs`]).
    pub macs: u64,
    /// Largest input or output of any one layer, in values.
    pub max_activation: u64,
    /// Sum of every layer's output, in values: what training keeps for the backward
    /// pass.
    pub activation_sum: u64,
    /// Peak working memory of one example at inference, in f32 values (the largest
    /// [`LayerInfo::work`] of a top-level layer).
    pub work: u64,
    /// Layers, counting those inside blocks.
    pub layers: u64,
}

impl Cost {
    /// Bytes of inference working memory for `batch` examples (saturating).
    pub fn inference_bytes(&self, batch: u64) -> u64 {
        self.work.saturating_mul(4).saturating_mul(batch)
    }

    /// An estimate of training memory for `batch` examples: every activation and its
    /// gradient, plus one layer's scratch (saturating). Parameters and optimiser state
    /// are not included.
    pub fn training_bytes(&self, batch: u64) -> u64 {
        self.activation_sum
            .saturating_mul(2)
            .saturating_add(self.work)
            .saturating_mul(4)
            .saturating_mul(batch)
    }

    /// The largest batch whose inference working memory fits in `limits`
    /// (`max_batch_bytes`); at least 1 for a model that passed [`ModelSpec::check`].
    pub fn max_inference_batch(&self, limits: &Limits) -> usize {
        let per = self.inference_bytes(1).max(1);
        usize::try_from(limits.max_batch_bytes / per)
            .unwrap_or(usize::MAX)
            .max(1)
    }
}

/// A spec that passed [`ModelSpec::check`]: its layers, output shape and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// One entry per layer, blocks before their insides.
    pub infos: Vec<LayerInfo>,
    /// The output shape (`[classes]`).
    pub output: Vec<usize>,
    /// What it costs.
    pub cost: Cost,
}

/// Formats a shape as `[20, 24, 24]`.
pub struct ShapeDisplay<'a>(pub &'a [usize]);
impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl ModelSpec {
    /// Parse TOML text. The text is not bounded: for untrusted text use
    /// [`ModelSpec::from_toml_limited`].
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let spec: ModelSpec =
            toml::from_str(text).map_err(|e| SpecError::Parse(excerpt(&e.to_string(), 400)))?;
        Ok(spec)
    }

    /// Parse TOML text of at most `limits.max_spec_bytes` bytes, then bound its layer
    /// count and nesting depth (no shape inference yet: see [`ModelSpec::check`]).
    pub fn from_toml_limited(text: &str, limits: &Limits) -> Result<Self, SpecError> {
        let bytes = text.len() as u64;
        if bytes > limits.max_spec_bytes {
            return Err(SpecError::Limit {
                what: "bytes of spec text",
                value: bytes,
                limit: limits.max_spec_bytes,
                name: "max_spec_bytes",
            });
        }
        let spec = ModelSpec::from_toml(text)?;
        spec.check_layer_count(limits)?;
        Ok(spec)
    }

    /// Refuse more than `limits.max_layers` layers (counting nested ones) or nesting
    /// deeper than [`MAX_DEPTH`], without recursing further than that.
    pub fn check_layer_count(&self, limits: &Limits) -> Result<u64, SpecError> {
        let layers = count_layers(&self.layers, 0)?;
        if layers > limits.max_layers {
            return Err(SpecError::Limit {
                what: "layers",
                value: layers,
                limit: limits.max_layers,
                name: "max_layers",
            });
        }
        Ok(layers)
    }

    /// Everything a reader of an untrusted spec checks: layer count and depth, shapes
    /// ([`ModelSpec::infer`]), the cost against `limits` (parameters, largest
    /// activation, working memory of one example, multiply-adds per example), finite
    /// normalisation values and one class name per output (or none).
    pub fn check(&self, limits: &Limits) -> Result<Checked, SpecError> {
        let layers = self.check_layer_count(limits)?;
        let (infos, output) = self.infer()?;
        let top = infos.iter().filter(|l| l.depth == 0);
        let params = top
            .clone()
            .try_fold(0u64, |a, l| a.checked_add(l.params as u64))
            .unwrap_or(u64::MAX);
        let numel = |s: &[usize]| s.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64));
        let cost = Cost {
            params,
            macs: top.clone().fold(0u64, |a, l| a.saturating_add(l.macs)),
            max_activation: infos
                .iter()
                .map(|l| numel(&l.input).max(numel(&l.output)))
                .max()
                .unwrap_or(0),
            activation_sum: infos
                .iter()
                .fold(0u64, |a, l| a.saturating_add(numel(&l.output))),
            work: top.map(|l| l.work).max().unwrap_or(0),
            layers,
        };
        let over = |what, value: u64, limit: u64, name| {
            if value > limit {
                Err(SpecError::Limit {
                    what,
                    value,
                    limit,
                    name,
                })
            } else {
                Ok(())
            }
        };
        over("parameters", cost.params, limits.max_params, "max_params")?;
        over(
            "values in one layer's activation of one example",
            cost.max_activation,
            limits.max_activation,
            "max_activation",
        )?;
        over(
            "bytes of working memory for one example",
            cost.inference_bytes(1),
            limits.max_batch_bytes,
            "max_batch_bytes",
        )?;
        over(
            "multiply-adds per example",
            cost.macs,
            limits.max_macs,
            "max_macs",
        )?;
        let classes = output[0];
        if !self.class_names.is_empty() && self.class_names.len() != classes {
            return Err(SpecError::Invalid(format!(
                "{} class names for {classes} outputs; give one name per output or none",
                self.class_names.len()
            )));
        }
        Ok(Checked {
            infos,
            output,
            cost,
        })
    }

    /// Serialise to TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a ModelSpec always serialises")
    }

    /// Check every layer against the shape it receives; returns one entry per layer
    /// (blocks first, then their insides) and the output shape.
    pub fn infer(&self) -> Result<(Vec<LayerInfo>, Vec<usize>), SpecError> {
        if self.input.is_empty() || self.input.len() == 2 || self.input.len() > 3 {
            return Err(SpecError::Invalid(format!(
                "input must be [features] or [channels, height, width], got {}",
                ShapeDisplay(&self.input)
            )));
        }
        if self.input.contains(&0) {
            return Err(SpecError::Invalid(format!(
                "input shape {} has a zero dimension",
                ShapeDisplay(&self.input)
            )));
        }
        if self.layers.is_empty() {
            return Err(SpecError::Invalid("the spec has no layers".into()));
        }
        if let Some(n) = &self.normalize {
            // One entry per channel for images, per feature for tables.
            let want = self.input[0];
            if n.mean.len() != want || n.std.len() != want {
                return Err(SpecError::Invalid(format!(
                    "normalize has {} means and {} stds, the input needs {want}",
                    n.mean.len(),
                    n.std.len()
                )));
            }
            if n.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(SpecError::Invalid(
                    "normalize.std must be finite and positive".into(),
                ));
            }
            if n.mean.iter().any(|m| !m.is_finite()) {
                return Err(SpecError::Invalid("normalize.mean must be finite".into()));
            }
        }
        let mut infos = Vec::new();
        let out = infer_list(&self.layers, "layers", &self.input, 0, &mut infos)?.shape;
        if out.len() != 1 {
            return Err(SpecError::Invalid(format!(
                "the network must end in a flat output [classes], it ends in {}; add flatten and linear layers",
                ShapeDisplay(&out)
            )));
        }
        Ok((infos, out))
    }

    /// Number of outputs (classes).
    pub fn output_len(&self) -> Result<usize, SpecError> {
        Ok(self.infer()?.1[0])
    }

    /// Total learned parameters (an error, not a wrapped number, if they overflow).
    pub fn param_count(&self) -> Result<usize, SpecError> {
        self.infer()?
            .0
            .iter()
            .filter(|l| l.depth == 0)
            .try_fold(0usize, |a, l| a.checked_add(l.params))
            .ok_or_else(|| SpecError::Invalid("the parameter count overflows".into()))
    }
}

/// Layers in `layers` and everything nested in them; an error past [`MAX_DEPTH`].
fn count_layers(layers: &[Layer], depth: usize) -> Result<u64, SpecError> {
    if depth > MAX_DEPTH {
        return Err(SpecError::Invalid(format!(
            "blocks are nested more than {MAX_DEPTH} deep"
        )));
    }
    let mut n = 0u64;
    for layer in layers {
        n += 1;
        for (_, list) in layer.children() {
            n += count_layers(list, depth + 1)?;
        }
    }
    Ok(n)
}

fn conv_out(
    len: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    let span = dilation
        .checked_mul(kernel.checked_sub(1)?)?
        .checked_add(1)?;
    let padded = len.checked_add(padding.checked_mul(2)?)?;
    if padded < span || stride == 0 {
        return None;
    }
    Some((padded - span) / stride + 1)
}

/// Output shape, multiply-adds and peak working values of a list of layers.
struct ListOut {
    shape: Vec<usize>,
    macs: u64,
    work: u64,
}

fn infer_list(
    layers: &[Layer],
    prefix: &str,
    input: &[usize],
    depth: usize,
    infos: &mut Vec<LayerInfo>,
) -> Result<ListOut, SpecError> {
    if depth > MAX_DEPTH {
        return Err(SpecError::Invalid(format!(
            "blocks are nested more than {MAX_DEPTH} deep"
        )));
    }
    let mut out = ListOut {
        shape: input.to_vec(),
        macs: 0,
        work: numel_u64(input),
    };
    for (i, layer) in layers.iter().enumerate() {
        let path = format!("{prefix}.{i}");
        let slot = infos.len();
        out.shape = infer_layer(layer, &path, &out.shape, depth, infos)?;
        let info = &infos[slot];
        out.macs = out.macs.saturating_add(info.macs);
        out.work = out.work.max(info.work);
    }
    Ok(out)
}

/// Product of a shape's dimensions, saturating (costs only; shapes are checked).
fn numel_u64(shape: &[usize]) -> u64 {
    shape.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64))
}

fn infer_layer(
    layer: &Layer,
    path: &str,
    input: &[usize],
    depth: usize,
    infos: &mut Vec<LayerInfo>,
) -> Result<Vec<usize>, SpecError> {
    let kind = layer.kind();
    let err = |msg: String| SpecError::Shape {
        path: path.to_string(),
        kind,
        msg,
    };
    // Checked products and sums: a spec that overflows a machine word is an error.
    let mul = |factors: &[usize]| -> Result<usize, SpecError> {
        factors
            .iter()
            .try_fold(1usize, |a, &f| a.checked_mul(f))
            .ok_or_else(|| err("its size overflows (the numbers are far too large)".into()))
    };
    let add = |a: usize, b: usize| -> Result<usize, SpecError> {
        a.checked_add(b)
            .ok_or_else(|| err("its size overflows (the numbers are far too large)".into()))
    };
    let need_image = || {
        if input.len() != 3 {
            Err(err(format!(
                "needs an image input [channels, height, width], got {}",
                ShapeDisplay(input)
            )))
        } else {
            Ok((input[0], input[1], input[2]))
        }
    };
    let n_in = numel_u64(input);
    let slot = infos.len();
    infos.push(LayerInfo {
        path: path.to_string(),
        kind,
        input: input.to_vec(),
        output: vec![],
        params: 0,
        macs: 0,
        work: 0,
        depth,
    });
    // Elementwise layers: one operation per value, in place.
    let elementwise = |params: usize| (input.to_vec(), params, n_in, n_in);
    // (output, params, macs, work) — work is in values of one example.
    let (output, params, macs, work): (Vec<usize>, usize, u64, u64) = match layer {
        Layer::Linear {
            out,
            bias,
            bottleneck,
            ..
        } => {
            if input.len() != 1 {
                return Err(err(format!(
                    "needs a flat input [features], got {}; add a flatten layer before it",
                    ShapeDisplay(input)
                )));
            }
            if *out == 0 {
                return Err(err("out must be at least 1".into()));
            }
            let b = if *bias { *out } else { 0 };
            let f = input[0];
            match bottleneck {
                None => {
                    let m = mul(&[f, *out])?;
                    (vec![*out], add(m, b)?, m as u64, (f as u64) + (*out as u64))
                }
                Some(0) => return Err(err("bottleneck must be at least 1".into())),
                // U: [k, in] and V: [out, k].
                Some(k) => {
                    let m = mul(&[*k, add(f, *out)?])?;
                    let w = (f as u64) + (*k as u64) + (*out as u64);
                    (vec![*out], add(m, b)?, m as u64, w)
                }
            }
        }
        Layer::Conv2d {
            out,
            kernel,
            stride,
            padding,
            dilation,
            bias,
            groups,
            ..
        } => {
            let (c, h, w) = need_image()?;
            if *out == 0 || *kernel == 0 || *stride == 0 || *dilation == 0 || *groups == 0 {
                return Err(err(
                    "out, kernel, stride, dilation and groups must be at least 1".into(),
                ));
            }
            if !c.is_multiple_of(*groups) || !out.is_multiple_of(*groups) {
                return Err(err(format!(
                    "groups {groups} must divide both the {c} input channels and out {out}"
                )));
            }
            // Each filter sees the channels of its group only; the runtime unfolds
            // one group's input at a time.
            let cg = c / groups;
            let oh = conv_out(h, *kernel, *stride, *padding, *dilation);
            let ow = conv_out(w, *kernel, *stride, *padding, *dilation);
            match (oh, ow) {
                (Some(oh), Some(ow)) if oh > 0 && ow > 0 => {
                    let weights = mul(&[*out, cg, *kernel, *kernel])?;
                    let cols = mul(&[cg, *kernel, *kernel, oh, ow])?;
                    let n_out = mul(&[*out, oh, ow])?;
                    let macs = (weights as u64).saturating_mul((oh as u64) * (ow as u64));
                    (
                        vec![*out, oh, ow],
                        add(weights, if *bias { *out } else { 0 })?,
                        macs,
                        n_in.saturating_add(cols as u64)
                            .saturating_add(n_out as u64),
                    )
                }
                _ => {
                    return Err(err(format!(
                        "kernel {kernel} (dilation {dilation}, padding {padding}) does not fit input {}",
                        ShapeDisplay(input)
                    )))
                }
            }
        }
        Layer::ConvTranspose2d {
            out,
            kernel,
            stride,
            padding,
            output_padding,
            bias,
            ..
        } => {
            let (c, h, w) = need_image()?;
            if *out == 0 || *kernel == 0 || *stride == 0 {
                return Err(err("out, kernel and stride must be at least 1".into()));
            }
            if *output_padding >= *stride {
                return Err(err("output_padding must be smaller than stride".into()));
            }
            let f = |l: usize| -> Result<Option<usize>, SpecError> {
                let full = add(add(mul(&[l - 1, *stride])?, *kernel)?, *output_padding)?;
                Ok(full.checked_sub(mul(&[2, *padding])?))
            };
            match (f(h)?, f(w)?) {
                (Some(oh), Some(ow)) if oh > 0 && ow > 0 => {
                    let weights = mul(&[c, *out, *kernel, *kernel])?;
                    let n_out = mul(&[*out, oh, ow])?;
                    let cols = mul(&[*out, *kernel, *kernel, h, w])?;
                    let macs = (weights as u64)
                        .saturating_mul((h as u64) * (w as u64))
                        .saturating_add(cols as u64);
                    (
                        vec![*out, oh, ow],
                        add(weights, if *bias { *out } else { 0 })?,
                        macs,
                        n_in.saturating_add(cols as u64)
                            .saturating_add(n_out as u64),
                    )
                }
                _ => {
                    return Err(err(format!(
                        "padding {padding} too large for input {}",
                        ShapeDisplay(input)
                    )))
                }
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
            let (c, h, w) = need_image()?;
            let s = stride.unwrap_or(*kernel);
            if *kernel == 0 || s == 0 {
                return Err(err("kernel and stride must be at least 1".into()));
            }
            if *padding > *kernel / 2 {
                return Err(err("padding must be at most half the kernel".into()));
            }
            match (
                conv_out(h, *kernel, s, *padding, 1),
                conv_out(w, *kernel, s, *padding, 1),
            ) {
                (Some(oh), Some(ow)) if oh > 0 && ow > 0 => {
                    let n_out = mul(&[c, oh, ow])?;
                    let macs = (n_out as u64).saturating_mul((*kernel as u64).pow(2));
                    (vec![c, oh, ow], 0, macs, n_in.saturating_add(n_out as u64))
                }
                _ => {
                    return Err(err(format!(
                        "kernel {kernel} does not fit input {}",
                        ShapeDisplay(input)
                    )))
                }
            }
        }
        Layer::GlobalAvgPool => {
            let (c, _, _) = need_image()?;
            (vec![c], 0, n_in, n_in.saturating_add(c as u64))
        }
        Layer::Flatten => (vec![mul(input)?], 0, 0, n_in),
        Layer::Dropout { p } => {
            if !(0.0..1.0).contains(p) {
                return Err(err(format!("p must be in [0, 1), got {p}")));
            }
            (input.to_vec(), 0, 0, n_in)
        }
        Layer::BatchNorm { eps, momentum } => {
            if eps.is_nan() || *eps <= 0.0 || !(0.0..=1.0).contains(momentum) {
                return Err(err("eps must be > 0 and momentum in [0, 1]".into()));
            }
            // γ and β per channel/feature (running statistics are buffers, not learned).
            elementwise(mul(&[2, input[0]])?)
        }
        Layer::LayerNorm { eps } => {
            if eps.is_nan() || *eps <= 0.0 {
                return Err(err("eps must be > 0".into()));
            }
            elementwise(mul(&[2, mul(input)?])?)
        }
        Layer::Relu | Layer::Sigmoid | Layer::Tanh | Layer::HardSwish => elementwise(0),
        Layer::Clip { min, max } => {
            if min.is_nan() || max.is_nan() || min > max {
                return Err(err(format!(
                    "needs min <= max, neither NaN, got min {min}, max {max}"
                )));
            }
            elementwise(0)
        }
        Layer::HardSigmoid { alpha, beta } => {
            if !alpha.is_finite() || !beta.is_finite() {
                return Err(err(format!(
                    "alpha and beta must be finite, got alpha {alpha}, beta {beta}"
                )));
            }
            elementwise(0)
        }
        Layer::Pad2d {
            top,
            left,
            bottom,
            right,
            value,
        } => {
            let (c, h, w) = need_image()?;
            if value.is_nan() {
                return Err(err("value must not be NaN".into()));
            }
            let oh = add(add(h, *top)?, *bottom)?;
            let ow = add(add(w, *left)?, *right)?;
            let n_out = mul(&[c, oh, ow])?;
            (vec![c, oh, ow], 0, 0, n_in.saturating_add(n_out as u64))
        }
        Layer::LeakyRelu { .. } | Layer::Elu { .. } => elementwise(0),
        Layer::Rrelu { lower, upper } => {
            if !(0.0 <= *lower && lower <= upper && *upper < 1.0) {
                return Err(err(format!(
                    "needs 0 <= lower <= upper < 1, got lower {lower}, upper {upper}"
                )));
            }
            elementwise(0)
        }
        Layer::Prelu { .. } => elementwise(input[0]),
        Layer::Maxout { pieces } => {
            if *pieces < 2 {
                return Err(err("pieces must be at least 2".into()));
            }
            if !input[0].is_multiple_of(*pieces) {
                return Err(err(format!(
                    "{} channels/features are not divisible into groups of {pieces}",
                    input[0]
                )));
            }
            let mut o = input.to_vec();
            o[0] /= pieces;
            let n_out = numel_u64(&o);
            (o, 0, n_in, n_in.saturating_add(n_out))
        }
        Layer::Residual { body, shortcut } => {
            if body.is_empty() {
                return Err(err("body has no layers".into()));
            }
            let before = infos.len();
            let b = infer_list(body, &format!("{path}.body"), input, depth + 1, infos)?;
            let s = infer_list(
                shortcut,
                &format!("{path}.shortcut"),
                input,
                depth + 1,
                infos,
            )?;
            if b.shape != s.shape {
                return Err(err(format!(
                    "body gives {} but the shortcut gives {}; they must match (add a 1×1 conv or linear to the shortcut)",
                    ShapeDisplay(&b.shape),
                    ShapeDisplay(&s.shape)
                )));
            }
            let p = sum_params(&infos[before..], depth + 1)
                .ok_or_else(|| err("its parameter count overflows".into()))?;
            let n_out = numel_u64(&b.shape);
            // The input is kept while the body runs; the body's output while the
            // shortcut runs.
            let work = n_in
                .saturating_add(n_out)
                .saturating_add(b.work.max(s.work));
            (
                b.shape,
                p,
                b.macs.saturating_add(s.macs).saturating_add(n_out),
                work,
            )
        }
        Layer::Highway { body, .. } => {
            if body.is_empty() {
                return Err(err("body has no layers".into()));
            }
            let before = infos.len();
            let b = infer_list(body, &format!("{path}.body"), input, depth + 1, infos)?;
            if b.shape != input {
                return Err(err(format!(
                    "body must keep the shape {} but gives {}",
                    ShapeDisplay(input),
                    ShapeDisplay(&b.shape)
                )));
            }
            let p = sum_params(&infos[before..], depth + 1)
                .ok_or_else(|| err("its parameter count overflows".into()))?;
            // The gate: a linear layer (flat) or 1×1 conv (image), C×C + C.
            let c = input[0];
            let gate = add(mul(&[c, c])?, c)?;
            let plane = n_in / (c as u64).max(1);
            let macs = b
                .macs
                .saturating_add(((c as u64) * (c as u64)).saturating_mul(plane))
                .saturating_add(n_in.saturating_mul(3));
            // Input, gate and body output held at once, plus the body's own work.
            let work = n_in.saturating_mul(3).saturating_add(b.work);
            (b.shape, add(p, gate)?, macs, work)
        }
        Layer::Inception { branches } => {
            if branches.len() < 2 {
                return Err(err("needs at least two branches".into()));
            }
            let (_, h, w) = need_image()?;
            let before = infos.len();
            let mut channels = 0usize;
            let (mut macs, mut branch_work) = (0u64, 0u64);
            for (bi, br) in branches.iter().enumerate() {
                if br.is_empty() {
                    return Err(err(format!("branch {bi} has no layers")));
                }
                let o = infer_list(
                    br,
                    &format!("{path}.branches.{bi}"),
                    input,
                    depth + 1,
                    infos,
                )?;
                if o.shape.len() != 3 || o.shape[1] != h || o.shape[2] != w {
                    return Err(err(format!(
                        "branch {bi} gives {}, every branch must keep height and width [_, {h}, {w}] (pad the convolutions)",
                        ShapeDisplay(&o.shape)
                    )));
                }
                channels = add(channels, o.shape[0])?;
                macs = macs.saturating_add(o.macs);
                branch_work = branch_work.max(o.work);
            }
            let p = sum_params(&infos[before..], depth + 1)
                .ok_or_else(|| err("its parameter count overflows".into()))?;
            let n_out = mul(&[channels, h, w])? as u64;
            // The input and the concatenated output stay while each branch runs.
            let work = n_in.saturating_add(n_out).saturating_add(branch_work);
            (vec![channels, h, w], p, macs, work)
        }
    };
    infos[slot].output = output.clone();
    infos[slot].params = params;
    infos[slot].macs = macs;
    infos[slot].work = work;
    Ok(output)
}

/// Parameters of the layers at `depth` among `infos` (a block's direct insides).
fn sum_params(infos: &[LayerInfo], depth: usize) -> Option<usize> {
    infos
        .iter()
        .filter(|l| l.depth == depth)
        .try_fold(0usize, |a, l| a.checked_add(l.params))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LENET5: &str = r#"
name = "lenet-5"
input = [1, 28, 28]
[[layers]]
type = "conv2d"
out = 20
kernel = 5
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "conv2d"
out = 50
kernel = 5
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 500
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 10
"#;

    #[test]
    fn lenet5_shapes_and_params() {
        let spec = ModelSpec::from_toml(LENET5).unwrap();
        let (infos, out) = spec.infer().unwrap();
        assert_eq!(out, vec![10]);
        assert_eq!(infos[0].output, vec![20, 24, 24]);
        assert_eq!(infos[3].output, vec![50, 4, 4]);
        assert_eq!(infos[4].output, vec![800]);
        // Caffe's LeNet-5: 431 080 parameters.
        assert_eq!(spec.param_count().unwrap(), 520 + 25050 + 400500 + 5010);
    }

    #[test]
    fn round_trip_toml() {
        let spec = ModelSpec::from_toml(LENET5).unwrap();
        let again = ModelSpec::from_toml(&spec.to_toml()).unwrap();
        assert_eq!(spec, again);
    }

    #[test]
    fn linear_on_image_names_the_layer() {
        let text = "input = [1, 28, 28]\n[[layers]]\ntype = \"linear\"\nout = 10\n";
        let e = ModelSpec::from_toml(text).unwrap().infer().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("layers.0 (linear)"), "{msg}");
        assert!(msg.contains("[1, 28, 28]"), "{msg}");
    }

    #[test]
    fn kernel_too_big() {
        let text = "input = [1, 4, 4]\n[[layers]]\ntype = \"conv2d\"\nout = 2\nkernel = 5\n[[layers]]\ntype=\"flatten\"\n";
        let e = ModelSpec::from_toml(text).unwrap().infer().unwrap_err();
        assert!(
            e.to_string().contains("does not fit input [1, 4, 4]"),
            "{e}"
        );
    }

    #[test]
    fn residual_mismatch_and_blocks() {
        let bad = r#"
input = [8, 6, 6]
[[layers]]
type = "residual"
body = [{ type = "conv2d", out = 16, kernel = 3, padding = 1 }]
[[layers]]
type = "flatten"
"#;
        let e = ModelSpec::from_toml(bad).unwrap().infer().unwrap_err();
        assert!(e.to_string().contains("shortcut gives [8, 6, 6]"), "{e}");
        let good = r#"
input = [8, 6, 6]
[[layers]]
type = "residual"
body = [{ type = "conv2d", out = 16, kernel = 3, padding = 1 }]
shortcut = [{ type = "conv2d", out = 16, kernel = 1 }]
[[layers]]
type = "inception"
branches = [[{ type = "conv2d", out = 4, kernel = 1 }], [{ type = "conv2d", out = 4, kernel = 5, padding = 2 }], [{ type = "max_pool2d", kernel = 3, stride = 1, padding = 1 }]]
[[layers]]
type = "highway"
body = [{ type = "conv2d", out = 24, kernel = 3, padding = 1 }, { type = "relu" }]
[[layers]]
type = "global_avg_pool"
[[layers]]
type = "linear"
out = 3
"#;
        let spec = ModelSpec::from_toml(good).unwrap();
        let (infos, out) = spec.infer().unwrap();
        assert_eq!(out, vec![3]);
        let inc = infos.iter().find(|l| l.kind == "inception").unwrap();
        assert_eq!(inc.output, vec![24, 6, 6]);
    }

    #[test]
    fn linear_bottleneck_counts_both_factors_and_stays_optional() {
        let text = "input = [784]\n[[layers]]\ntype = \"linear\"\nout = 800\nbottleneck = 100\n";
        let spec = ModelSpec::from_toml(text).unwrap();
        assert_eq!(spec.param_count().unwrap(), 100 * (784 + 800) + 800);
        assert!(spec.to_toml().contains("bottleneck = 100"));
        assert_eq!(ModelSpec::from_toml(&spec.to_toml()).unwrap(), spec);
        // Omitted when absent, so older spec files and readers are unaffected.
        let plain = ModelSpec::from_toml(LENET5).unwrap();
        assert!(!plain.to_toml().contains("bottleneck"));
        let zero = ModelSpec::from_toml(&text.replace("100", "0")).unwrap();
        let e = zero.infer().unwrap_err().to_string();
        assert!(
            e.contains("layers.0 (linear): bottleneck must be at least 1"),
            "{e}"
        );
    }

    fn linear(input: usize, out: usize) -> ModelSpec {
        ModelSpec::from_toml(&format!(
            "input = [{input}]\n[[layers]]\ntype = \"linear\"\nout = {out}\n"
        ))
        .unwrap()
    }

    #[test]
    fn lenet5_cost_counts_every_multiply_add() {
        let checked = ModelSpec::from_toml(LENET5)
            .unwrap()
            .check(&Limits::DEFAULT)
            .unwrap();
        let c = checked.cost;
        // conv 20×(1·5·5)×24², pool 20×12²×2², conv 50×(20·5·5)×8², pool 50×4²×2²,
        // linear 800×500, relu 500, linear 500×10.
        let macs =
            20 * 25 * 576 + 20 * 144 * 4 + 50 * 500 * 64 + 50 * 16 * 4 + 800 * 500 + 500 + 5000;
        assert_eq!(c.macs, macs);
        assert_eq!(c.params, 431_080);
        assert_eq!(c.max_activation, 20 * 24 * 24);
        // The largest working set: conv 2's input, im2col columns and output.
        assert_eq!(c.work, 20 * 12 * 12 + 20 * 25 * 8 * 8 + 50 * 8 * 8);
        assert_eq!(c.layers, 8);
        assert!(c.max_inference_batch(&Limits::DEFAULT) > 1000);
    }

    #[test]
    fn huge_linear_layers_are_refused_by_limit_or_overflow_never_wrapped() {
        let e = linear(784, 1_000_000_000_000)
            .check(&Limits::DEFAULT)
            .unwrap_err();
        assert!(
            matches!(e, SpecError::Limit { name: "max_params", value, .. } if value == 785_000_000_000_000),
            "{e}"
        );
        let e = linear(784, 4_294_967_295)
            .check(&Limits::DEFAULT)
            .unwrap_err();
        assert!(matches!(e, SpecError::Limit { .. }), "{e}");
        // i64::MAX outputs: 784 × that does not fit in a usize.
        let huge = linear(784, 9_223_372_036_854_775_807);
        let e = huge.infer().unwrap_err().to_string();
        assert!(
            e.contains("layers.0 (linear)") && e.contains("overflows"),
            "{e}"
        );
        assert!(huge.param_count().is_err());
        // Raised limits let a large (but valid) model through.
        assert!(linear(784, 1_000_000_000).check(&Limits::NONE).is_ok());
    }

    #[test]
    fn huge_convolutions_are_refused_before_anything_is_allocated() {
        let conv = |extra: &str| {
            ModelSpec::from_toml(&format!(
                "input = [1, 28, 28]\n[[layers]]\ntype = \"{extra}\n[[layers]]\ntype = \"global_avg_pool\"\n"
            ))
            .unwrap()
        };
        for (layer, name) in [
            (
                "conv2d\"\nout = 4\nkernel = 3\npadding = 20000",
                "max_activation",
            ),
            ("conv2d\"\nout = 1000000000\nkernel = 3", "max_params"),
            (
                "conv_transpose2d\"\nout = 4\nkernel = 3\nstride = 1000000",
                "max_activation",
            ),
        ] {
            let e = conv(layer).check(&Limits::DEFAULT).unwrap_err();
            assert!(
                matches!(&e, SpecError::Limit { name: n, .. } if *n == name),
                "{layer}: {e}"
            );
        }
        // padding = 10^9: 9 × (2·10^9)² im2col columns overflow a machine word.
        let e = conv("conv2d\"\nout = 4\nkernel = 3\npadding = 1000000000")
            .check(&Limits::DEFAULT)
            .unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
        // Small but slow: 64 → 64 channels, 3×3, on 512×512 is 9.7·10^9 multiply-adds.
        let slow = ModelSpec::from_toml(
            "input = [64, 512, 512]\n[[layers]]\ntype = \"conv2d\"\nout = 64\nkernel = 3\npadding = 1\n[[layers]]\ntype = \"global_avg_pool\"\n",
        )
        .unwrap();
        let e = slow
            .check(&Limits {
                max_batch_bytes: u64::MAX,
                ..Limits::DEFAULT
            })
            .unwrap_err();
        assert!(
            matches!(
                e,
                SpecError::Limit {
                    name: "max_macs",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn deep_nesting_many_layers_and_long_text_are_bounded() {
        let mut layers = vec![Layer::Relu];
        for _ in 0..10_000 {
            layers = vec![Layer::Residual {
                body: layers,
                shortcut: vec![],
            }];
        }
        let deep = ModelSpec {
            name: String::new(),
            input: vec![4],
            normalize: None,
            class_names: vec![],
            layers,
        };
        for e in [
            deep.infer().unwrap_err(),
            deep.check(&Limits::DEFAULT).unwrap_err(),
        ] {
            let msg = e.to_string();
            assert!(msg.contains("nested more than"), "{msg}");
            assert!(msg.len() < 200, "{} bytes", msg.len());
        }
        // Dropping a 10 000-deep value recurses too; unwind it level by level.
        let mut layers = deep.layers;
        while let Some(Layer::Residual { body, .. }) = layers.pop() {
            layers = body;
        }

        let wide = ModelSpec {
            layers: vec![Layer::Relu; 100_000],
            ..linear(4, 2)
        };
        let e = wide.check(&Limits::DEFAULT).unwrap_err();
        assert!(
            matches!(
                e,
                SpecError::Limit {
                    name: "max_layers",
                    value: 100_000,
                    ..
                }
            ),
            "{e}"
        );

        let text = "input = [4]\n".to_string() + &"[[layers]]\ntype = \"relu\"\n".repeat(50_000);
        let e = ModelSpec::from_toml_limited(&text, &Limits::DEFAULT).unwrap_err();
        assert!(
            matches!(
                e,
                SpecError::Limit {
                    name: "max_spec_bytes",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn parse_errors_quote_a_short_excerpt() {
        let text = format!("input = [4]\nname = {}\n", "x".repeat(200_000));
        let e = ModelSpec::from_toml(&text).unwrap_err().to_string();
        assert!(e.len() < 600, "{} bytes: {}", e.len(), &e[..600]);
    }

    #[test]
    fn values_are_checked_not_only_structure() {
        let mut spec = linear(3, 10);
        spec.normalize = Some(NormalizeSpec {
            mean: vec![0.0, f32::NAN, 0.0],
            std: vec![1.0; 3],
        });
        let e = spec.check(&Limits::DEFAULT).unwrap_err().to_string();
        assert!(e.contains("normalize.mean must be finite"), "{e}");
        spec.normalize = Some(NormalizeSpec {
            mean: vec![0.0; 3],
            std: vec![1.0, f32::INFINITY, 1.0],
        });
        assert!(spec.check(&Limits::DEFAULT).is_err());
        spec.normalize = None;
        spec.class_names = vec!["only".into()];
        let e = spec.check(&Limits::DEFAULT).unwrap_err().to_string();
        assert!(e.contains("1 class names for 10 outputs"), "{e}");
        spec.class_names = (0..10).map(|i| format!("c{i}")).collect();
        assert!(spec.check(&Limits::DEFAULT).is_ok());
    }

    #[test]
    fn unknown_layer_type_is_a_parse_error() {
        let e = ModelSpec::from_toml("input=[3]\n[[layers]]\ntype=\"wobble\"\n").unwrap_err();
        assert!(matches!(e, SpecError::Parse(_)));
    }
}
