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

use crate::prelude::*;
use serde::{Deserialize, Serialize};
use core::fmt;

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

/// One layer. In TOML: `[[layers]]` tables with a `type` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Layer {
    /// Fully connected: `[F] → [out]`.
    ///
    /// With `bottleneck = k`, the weight matrix is factored as `W = V·U` through `k`
    /// linear units (Ba & Caruana's linear bottleneck, PAPERS.md §2): `U` is `[k, F]`
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
    /// Average pooling; `stride` defaults to `kernel`.
    AvgPool2d {
        kernel: usize,
        #[serde(default)]
        stride: Option<usize>,
        #[serde(default)]
        padding: usize,
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
    #[error("spec is not valid TOML: {0}")]
    Parse(String),
    #[error("layer {path} ({kind}): {msg}")]
    Shape {
        path: String,
        kind: &'static str,
        msg: String,
    },
    #[error("spec: {0}")]
    Invalid(String),
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
    /// Nesting depth: 0 for top-level layers.
    pub depth: usize,
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
    /// Parse TOML text.
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let spec: ModelSpec = toml::from_str(text).map_err(|e| SpecError::Parse(e.to_string()))?;
        Ok(spec)
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
                return Err(SpecError::Invalid("normalize.std must be positive".into()));
            }
        }
        let mut infos = Vec::new();
        let out = infer_list(&self.layers, "layers", &self.input, 0, &mut infos)?;
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

    /// Total learned parameters.
    pub fn param_count(&self) -> Result<usize, SpecError> {
        Ok(self
            .infer()?
            .0
            .iter()
            .filter(|l| l.depth == 0)
            .map(|l| l.params)
            .sum())
    }
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

fn infer_list(
    layers: &[Layer],
    prefix: &str,
    input: &[usize],
    depth: usize,
    infos: &mut Vec<LayerInfo>,
) -> Result<Vec<usize>, SpecError> {
    let mut shape = input.to_vec();
    for (i, layer) in layers.iter().enumerate() {
        let path = format!("{prefix}.{i}");
        shape = infer_layer(layer, &path, &shape, depth, infos)?;
    }
    Ok(shape)
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
    let slot = infos.len();
    infos.push(LayerInfo {
        path: path.to_string(),
        kind,
        input: input.to_vec(),
        output: vec![],
        params: 0,
        depth,
    });
    let (output, params): (Vec<usize>, usize) = match layer {
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
            match bottleneck {
                None => (vec![*out], input[0] * out + b),
                Some(0) => return Err(err("bottleneck must be at least 1".into())),
                // U: [k, in] and V: [out, k].
                Some(k) => (vec![*out], k * (input[0] + out) + b),
            }
        }
        Layer::Conv2d {
            out,
            kernel,
            stride,
            padding,
            dilation,
            bias,
            ..
        } => {
            let (c, h, w) = need_image()?;
            if *out == 0 || *kernel == 0 || *stride == 0 || *dilation == 0 {
                return Err(err(
                    "out, kernel, stride and dilation must be at least 1".into()
                ));
            }
            let oh = conv_out(h, *kernel, *stride, *padding, *dilation);
            let ow = conv_out(w, *kernel, *stride, *padding, *dilation);
            match (oh, ow) {
                (Some(oh), Some(ow)) if oh > 0 && ow > 0 => (
                    vec![*out, oh, ow],
                    out * c * kernel * kernel + if *bias { *out } else { 0 },
                ),
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
            let f = |l: usize| -> Option<usize> {
                ((l - 1) * stride + kernel + output_padding).checked_sub(2 * padding)
            };
            match (f(h), f(w)) {
                (Some(oh), Some(ow)) if oh > 0 && ow > 0 => (
                    vec![*out, oh, ow],
                    c * out * kernel * kernel + if *bias { *out } else { 0 },
                ),
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
        } => {
            let (c, h, w) = need_image()?;
            let s = stride.unwrap_or(*kernel);
            if *kernel == 0 || s == 0 {
                return Err(err("kernel and stride must be at least 1".into()));
            }
            if *padding * 2 > *kernel {
                return Err(err("padding must be at most half the kernel".into()));
            }
            match (
                conv_out(h, *kernel, s, *padding, 1),
                conv_out(w, *kernel, s, *padding, 1),
            ) {
                (Some(oh), Some(ow)) if oh > 0 && ow > 0 => (vec![c, oh, ow], 0),
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
            (vec![c], 0)
        }
        Layer::Flatten => (vec![input.iter().product()], 0),
        Layer::Dropout { p } => {
            if !(0.0..1.0).contains(p) {
                return Err(err(format!("p must be in [0, 1), got {p}")));
            }
            (input.to_vec(), 0)
        }
        Layer::BatchNorm { eps, momentum } => {
            if eps.is_nan() || *eps <= 0.0 || !(0.0..=1.0).contains(momentum) {
                return Err(err("eps must be > 0 and momentum in [0, 1]".into()));
            }
            // γ and β per channel/feature (running statistics are buffers, not learned).
            (input.to_vec(), 2 * input[0])
        }
        Layer::LayerNorm { eps } => {
            if eps.is_nan() || *eps <= 0.0 {
                return Err(err("eps must be > 0".into()));
            }
            let n: usize = input.iter().product();
            (input.to_vec(), 2 * n)
        }
        Layer::Relu | Layer::Sigmoid | Layer::Tanh => (input.to_vec(), 0),
        Layer::LeakyRelu { .. } | Layer::Elu { .. } => (input.to_vec(), 0),
        Layer::Rrelu { lower, upper } => {
            if !(0.0 <= *lower && lower <= upper && *upper < 1.0) {
                return Err(err(format!(
                    "needs 0 <= lower <= upper < 1, got lower {lower}, upper {upper}"
                )));
            }
            (input.to_vec(), 0)
        }
        Layer::Prelu { .. } => (input.to_vec(), input[0]),
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
            (o, 0)
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
            if b != s {
                return Err(err(format!(
                    "body gives {} but the shortcut gives {}; they must match (add a 1×1 conv or linear to the shortcut)",
                    ShapeDisplay(&b),
                    ShapeDisplay(&s)
                )));
            }
            let p = infos[before..]
                .iter()
                .filter(|l| l.depth == depth + 1)
                .map(|l| l.params)
                .sum();
            (b, p)
        }
        Layer::Highway { body, .. } => {
            if body.is_empty() {
                return Err(err("body has no layers".into()));
            }
            let before = infos.len();
            let b = infer_list(body, &format!("{path}.body"), input, depth + 1, infos)?;
            if b != input {
                return Err(err(format!(
                    "body must keep the shape {} but gives {}",
                    ShapeDisplay(input),
                    ShapeDisplay(&b)
                )));
            }
            let p: usize = infos[before..]
                .iter()
                .filter(|l| l.depth == depth + 1)
                .map(|l| l.params)
                .sum();
            // The gate: a linear layer (flat) or 1×1 conv (image), C×C + C.
            (b, p + input[0] * input[0] + input[0])
        }
        Layer::Inception { branches } => {
            if branches.len() < 2 {
                return Err(err("needs at least two branches".into()));
            }
            let (_, h, w) = need_image()?;
            let before = infos.len();
            let mut channels = 0;
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
                if o.len() != 3 || o[1] != h || o[2] != w {
                    return Err(err(format!(
                        "branch {bi} gives {}, every branch must keep height and width [_, {h}, {w}] (pad the convolutions)",
                        ShapeDisplay(&o)
                    )));
                }
                channels += o[0];
            }
            let p = infos[before..]
                .iter()
                .filter(|l| l.depth == depth + 1)
                .map(|l| l.params)
                .sum();
            (vec![channels, h, w], p)
        }
    };
    infos[slot].output = output.clone();
    infos[slot].params = params;
    Ok(output)
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

    #[test]
    fn unknown_layer_type_is_a_parse_error() {
        let e = ModelSpec::from_toml("input=[3]\n[[layers]]\ntype=\"wobble\"\n").unwrap_err();
        assert!(matches!(e, SpecError::Parse(_)));
    }
}
