//! What each feature map responds to (Zeiler & Fergus §2.1, Fig. 2): the layers worth
//! looking at, the examples of a data set that activate each feature map most, and the
//! deconvnet projections of those activations down to pixel space — computed by the
//! model's own layers ([`Net::forward_record`], [`Net::project_down`]).
//!
//! Also the receptive field of a unit, computed from the spec's kernels, strides and
//! paddings, to outline the input patch a unit can see (and to test the projections).

use burn::prelude::*;
use shrink_core::batch::{normalize, to_feat};
use shrink_core::model::deconv::ProjectError;
use shrink_core::model::{Feat, Net};
use shrink_core::train::progress::Progress;
use shrink_data::Dataset;
use shrink_format::spec::{Layer, ModelSpec};

/// The examples a report looks at: raw for display, normalised for the model.
pub struct Inputs {
    /// `[C, H, W]`.
    pub shape: Vec<usize>,
    /// `n · C·H·W` values in [0, 1], as the data set holds them.
    pub raw: Vec<f32>,
    /// The same, normalised with the model's statistics.
    pub x: Vec<f32>,
    pub y: Vec<u32>,
    pub class_names: Vec<String>,
}

impl Inputs {
    /// The first `limit` examples of `ds` (all of them without a limit).
    pub fn new(ds: &Dataset, spec: &ModelSpec, limit: Option<usize>) -> Inputs {
        let n = limit.unwrap_or(usize::MAX).min(ds.len());
        let el = ds.example_len();
        let raw = ds.x[..n * el].to_vec();
        let mut x = raw.clone();
        normalize(spec.normalize.as_ref(), &ds.shape, &mut x);
        let class_names = (0..ds.classes)
            .map(|k| {
                ds.class_names
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| k.to_string())
            })
            .collect();
        Inputs {
            shape: ds.shape.clone(),
            raw,
            x,
            y: ds.y[..n].to_vec(),
            class_names,
        }
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn example_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Raw values of example `i`.
    pub fn raw(&self, i: usize) -> &[f32] {
        let el = self.example_len();
        &self.raw[i * el..(i + 1) * el]
    }

    /// Normalised values of example `i`.
    pub fn normalized(&self, i: usize) -> &[f32] {
        let el = self.example_len();
        &self.x[i * el..(i + 1) * el]
    }

    /// The normalised examples `idx` as one batch `[b, C, H, W]`.
    pub fn batch(&self, idx: &[usize], device: &Device) -> Feat {
        let mut x = Vec::with_capacity(idx.len() * self.example_len());
        for &i in idx {
            x.extend_from_slice(self.normalized(i));
        }
        to_feat(x, idx.len(), &self.shape, device)
    }

    /// Name of class `k`.
    pub fn class_name(&self, k: usize) -> String {
        self.class_names
            .get(k)
            .cloned()
            .unwrap_or_else(|| k.to_string())
    }
}

fn has_conv(layer: &Layer) -> bool {
    layer.any(&|l| matches!(l, Layer::Conv2d { .. }))
}

/// Layers that keep an image an image and come after a convolution: its nonlinearity,
/// normalisation, pooling.
pub(crate) fn follows_conv(layer: &Layer) -> bool {
    layer.keeps_image()
}

/// The default layers to look at: for every top-level layer that convolves (a conv, or a
/// block with one inside), the last of the nonlinearity / normalisation / pooling layers
/// that follow it — the conv layer's output as the next stage sees it. LeNet-5 (conv,
/// pool, conv, pool, …) gives `[1, 3]`.
pub fn default_layers(spec: &ModelSpec) -> Vec<usize> {
    let layers = &spec.layers;
    let mut out = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        if has_conv(&layers[i]) {
            let mut j = i;
            while j + 1 < layers.len() && follows_conv(&layers[j + 1]) {
                j += 1;
            }
            out.push(j);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The input rows and columns (inclusive, clipped to the image) that one unit can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Field {
    pub rows: (usize, usize),
    pub cols: (usize, usize),
}

impl Field {
    pub fn contains(&self, y: usize, x: usize) -> bool {
        (self.rows.0..=self.rows.1).contains(&y) && (self.cols.0..=self.cols.1).contains(&x)
    }
}

/// An interval of positions, unclipped (padding reaches outside the image).
type Span = (i64, i64);

const EVERYWHERE: Span = (i64::MIN, i64::MAX);

/// The input span that output span `s` of `layer` depends on.
fn field_of_layer(layer: &Layer, s: Span) -> Span {
    let window = |s: Span, k: usize, stride: usize, pad: usize, dil: usize| {
        let (k, st, p, d) = (k as i64, stride as i64, pad as i64, dil as i64);
        // Saturating: a span that is already "everywhere" stays so through the pooling.
        (
            s.0.saturating_mul(st).saturating_sub(p),
            s.1.saturating_mul(st)
                .saturating_sub(p)
                .saturating_add(d * (k - 1)),
        )
    };
    let union = |a: Span, b: Span| (a.0.min(b.0), a.1.max(b.1));
    match layer {
        Layer::Conv2d {
            kernel,
            stride,
            padding,
            dilation,
            ..
        } => window(s, *kernel, *stride, *padding, *dilation),
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
        } => window(s, *kernel, stride.unwrap_or(*kernel), *padding, 1),
        // Output row `i` is input row `i − top`, column `j` input column `j − left`:
        // one span for both axes, so the union of the two shifts (exact when the
        // padding is the same on both).
        Layer::Pad2d { top, left, .. } => {
            let (a, b) = (*top.min(left) as i64, *top.max(left) as i64);
            (s.0.saturating_sub(b), s.1.saturating_sub(a))
        }
        Layer::Residual { body, shortcut } => {
            union(field_of_list(body, s), field_of_list(shortcut, s))
        }
        Layer::Highway { body, .. } => union(field_of_list(body, s), s),
        Layer::Inception { branches } => branches
            .iter()
            .map(|b| field_of_list(b, s))
            .reduce(union)
            .unwrap_or(s),
        // Every output sees the whole input.
        Layer::Linear { .. }
        | Layer::Flatten
        | Layer::GlobalAvgPool
        | Layer::LayerNorm { .. }
        | Layer::ConvTranspose2d { .. } => EVERYWHERE,
        _ => s,
    }
}

fn field_of_list(layers: &[Layer], mut s: Span) -> Span {
    for l in layers.iter().rev() {
        s = field_of_layer(l, s);
    }
    s
}

/// The receptive field of unit `(row, col)` of top-level layer `layer`'s output before
/// clipping to the image: `(rows, cols)`, inclusive, reaching into the padding (every
/// unit of a layer gets a window of the same size).
pub fn receptive_window(
    spec: &ModelSpec,
    layer: usize,
    (row, col): (usize, usize),
) -> ((i64, i64), (i64, i64)) {
    let rows = field_of_list(&spec.layers[..=layer], (row as i64, row as i64));
    let cols = field_of_list(&spec.layers[..=layer], (col as i64, col as i64));
    (rows, cols)
}

/// The receptive field of unit `(row, col)` of top-level layer `layer`'s output: the
/// input pixels that can change its value.
pub fn receptive_field(spec: &ModelSpec, layer: usize, unit: (usize, usize)) -> Field {
    let (h, w) = (spec.input[1] as i64, spec.input[2] as i64);
    let (rows, cols) = receptive_window(spec, layer, unit);
    let clip = |(a, b): Span, n: i64| (a.clamp(0, n - 1) as usize, b.clamp(0, n - 1) as usize);
    Field {
        rows: clip(rows, h),
        cols: clip(cols, w),
    }
}

/// Per example and feature map of one layer: the strongest activation and where it is.
pub struct LayerScan {
    /// Top-level layer index.
    pub layer: usize,
    pub channels: usize,
    /// Height and width of the maps (1×1 for a flat layer).
    pub map: [usize; 2],
    /// `[n, channels]`: the largest activation in each map.
    pub max: Vec<f32>,
    /// `[n, channels]`: its position in the map, `row·width + col`.
    pub argmax: Vec<usize>,
}

impl LayerScan {
    pub fn examples(&self) -> usize {
        self.max.len() / self.channels.max(1)
    }

    /// Mean over the examples of the strongest activation of map `c`.
    pub fn mean_max(&self, c: usize) -> f32 {
        let n = self.examples();
        (0..n).map(|i| self.max[i * self.channels + c]).sum::<f32>() / n.max(1) as f32
    }

    /// The `k` feature maps most active on average, most active first.
    pub fn most_active(&self, k: usize) -> Vec<usize> {
        let mut c: Vec<usize> = (0..self.channels).collect();
        c.sort_by(|a, b| self.mean_max(*b).total_cmp(&self.mean_max(*a)));
        c.truncate(k);
        c
    }

    /// The `k` examples that activate map `c` most, strongest first.
    pub fn top_examples(&self, c: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.examples()).collect();
        let at = |i: usize| self.max[i * self.channels + c];
        idx.sort_by(|a, b| at(*b).total_cmp(&at(*a)).then(a.cmp(b)));
        idx.truncate(k);
        idx
    }

    /// The unit (map position) where example `i` activates map `c` most.
    pub fn unit(&self, i: usize, c: usize) -> (usize, usize) {
        let p = self.argmax[i * self.channels + c];
        (p / self.map[1], p % self.map[1])
    }

    pub fn activation(&self, i: usize, c: usize) -> f32 {
        self.max[i * self.channels + c]
    }
}

/// A layer output as `[b, channels, positions]` (a flat layer: one position per unit).
fn as_maps(f: Feat) -> (Tensor<3>, [usize; 2]) {
    match f {
        Feat::Image(t) => {
            let [b, c, h, w] = t.dims();
            (t.reshape([b, c, h * w]), [h, w])
        }
        Feat::Flat(t) => {
            let [b, c] = t.dims();
            (t.reshape([b, c, 1]), [1, 1])
        }
    }
}

fn host(t: Tensor<3>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap_or_default()
}

/// Run every example through the net once (in batches) and record, for each layer of
/// `layers`, each example's strongest activation per feature map and its position.
pub fn scan(
    net: &Net,
    inputs: &Inputs,
    layers: &[usize],
    device: &Device,
    bar: &Progress,
) -> Vec<LayerScan> {
    const BATCH: usize = 250;
    let deepest = layers.iter().copied().max().unwrap_or(0);
    let mut scans: Vec<LayerScan> = layers
        .iter()
        .map(|&layer| LayerScan {
            layer,
            channels: 0,
            map: [1, 1],
            max: Vec::new(),
            argmax: Vec::new(),
        })
        .collect();
    let all: Vec<usize> = (0..inputs.len()).collect();
    for chunk in all.chunks(BATCH) {
        let mut x = inputs.batch(chunk, device);
        for i in 0..=deepest {
            x = net.forward_range(x, i, i + 1);
            for s in scans.iter_mut().filter(|s| s.layer == i) {
                // [b, c, h·w] → max over positions: [b, c, 1]
                let (maps, hw) = as_maps(x.clone());
                let [_, c, _] = maps.dims();
                let (v, at) = maps.max_dim_with_indices(2);
                s.channels = c;
                s.map = hw;
                s.max.extend(host(v));
                s.argmax.extend(
                    at.into_data()
                        .try_into_vec_as::<i64>()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|p| p as usize),
                );
            }
        }
        bar.inc(chunk.len() as u64);
    }
    scans
}

/// One unit to project: example `example`'s activation of map `feature` at map position
/// `(row, col)` of layer `layer`.
#[derive(Clone, Copy, Debug)]
pub struct Unit {
    pub example: usize,
    pub feature: usize,
    pub pos: (usize, usize),
}

/// Deconvnet projections (Zeiler & Fergus §2.1): for each unit, its example goes through
/// the net up to `layer` (recording the pooling switches), every activation of that
/// layer except the unit's own is set to zero, and the result is mapped down to pixel
/// space by the layers' projections. Returns one `[C, H, W]` array per unit.
pub fn project_units(
    net: &Net,
    inputs: &Inputs,
    layer: usize,
    units: &[Unit],
    device: &Device,
) -> Result<Vec<Vec<f32>>, ProjectError> {
    if units.is_empty() {
        return Ok(vec![]);
    }
    let idx: Vec<usize> = units.iter().map(|u| u.example).collect();
    let (out, records) = net.forward_record(inputs.batch(&idx, device), layer);
    let dims = out.dims();
    let (maps, [_, w]) = as_maps(out);
    let [b, c, p] = maps.dims();
    let acts = host(maps);
    // The signal: zero everywhere but at each example's own unit, which keeps its value.
    let mut signal = vec![0.0f32; b * c * p];
    for (i, u) in units.iter().enumerate() {
        let at = i * c * p + u.feature * p + u.pos.0 * w + u.pos.1;
        signal[at] = acts[at];
    }
    let signal = match dims[..] {
        [b, c, h, w] => Feat::Image(Tensor::from_data(
            TensorData::new(signal, [b, c, h, w]),
            device,
        )),
        _ => Feat::Flat(Tensor::from_data(TensorData::new(signal, [b, c]), device)),
    };
    let down = net.project_down(signal, layer, &records)?;
    let el = inputs.example_len();
    let v = down
        .flat()
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    Ok(v.chunks(el).map(|c| c.to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shrink_core::model::io::parse_spec_text;

    fn lenet() -> ModelSpec {
        parse_spec_text(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zoo/lenet-5.toml"),
            )
            .unwrap(),
        )
        .unwrap()
        .0
    }

    #[test]
    fn default_layers_are_conv_outputs_after_their_pooling() {
        assert_eq!(default_layers(&lenet()), vec![1, 3]);
        let teacher = parse_spec_text(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zoo/teacher-cnn.toml"),
            )
            .unwrap(),
        )
        .unwrap()
        .0;
        assert_eq!(default_layers(&teacher), vec![3, 6, 9, 11]);
    }

    #[test]
    fn receptive_fields_of_lenet_units() {
        let spec = lenet();
        // conv 5×5: unit (0, 0) of layer 0 sees rows/cols 0..=4.
        let f = receptive_field(&spec, 0, (0, 0));
        assert_eq!((f.rows, f.cols), ((0, 4), (0, 4)));
        // after pool 2: unit (1, 2) covers conv units 2..=3, 4..=5 → pixels 2..=7, 4..=9.
        let f = receptive_field(&spec, 1, (1, 2));
        assert_eq!((f.rows, f.cols), ((2, 7), (4, 9)));
        // pool2 unit (0, 0): 16×16 pixels; the flattened layers see everything.
        let f = receptive_field(&spec, 3, (0, 0));
        assert_eq!((f.rows, f.cols), ((0, 15), (0, 15)));
        let f = receptive_field(&spec, 5, (0, 0));
        assert_eq!((f.rows, f.cols), ((0, 27), (0, 27)));
    }
}
