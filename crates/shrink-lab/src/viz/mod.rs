//! Looking inside a trained CNN (Zeiler & Fergus, ECCV 2014; docs/PAPERS.md §5), for
//! `shrink viz`: first-layer filters, the top-9 activating examples of chosen feature
//! maps with their deconvnet projections to pixel space, occlusion sensitivity maps,
//! weight histograms before and after Deep Compression, and the evolution of features
//! across training epochs — all in one self-contained `report.html` (via
//! [`crate::report`]) with the numbers in `results.json`.
//!
//! The projections are computed by the model's own layers
//! ([`shrink_core::model::deconv`]); this module chooses what to project and draws it.
//!
//! Not here: the command line (the binary's `cli/viz.rs`; [`job`] does the rest of
//! `shrink viz`), the HTML (`report`).

pub mod draw;
pub mod evolution;
pub mod features;
pub mod job;
pub mod names;
pub mod occlusion;
pub mod weights;

use crate::report::{ColorBar, LinePlot, Picture, Report, Series, Style};
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use features::{Inputs, Unit};
use image::RgbImage;
use serde::Serialize;
use serde_json::json;
use shrink_core::model::params::ParamTable;
use shrink_core::model::{io, Net, WeightRef};
use shrink_format::spec::{ModelSpec, ShapeDisplay};
use shrink_format::{CompressedTensor, ShrkModel, TensorData as ShrkData};

/// What to show; every field has a default that suits MNIST-sized nets.
#[derive(Debug, Clone, Serialize)]
pub struct VizOptions {
    /// Top-level layers whose feature maps to look at (default: every conv layer's
    /// output after its nonlinearity / pooling, see [`features::default_layers`]).
    pub layers: Option<Vec<usize>>,
    /// Feature maps (channels) to show in each chosen layer (default: the
    /// `top_features` most active on average).
    pub features: Option<Vec<usize>>,
    pub top_features: usize,
    /// Examples shown per feature map (the paper: 9).
    pub top_images: usize,
    /// Scan only the first N test examples (default: all).
    pub limit: Option<usize>,
    /// How many test images to occlude.
    pub occlusion_examples: usize,
    /// Side of the grey square (default: a third of the image side).
    pub occluder_size: Option<usize>,
    /// Step between square positions (default: a quarter of the square).
    pub occluder_stride: Option<usize>,
    /// The square's value in normalised space (0 = the data set's mean).
    pub occluder_value: f32,
    /// Epochs of the snapshots to compare (default: up to 6, evenly spread).
    pub epochs: Option<Vec<usize>>,
    #[serde(skip)]
    pub quiet: bool,
}

impl Default for VizOptions {
    fn default() -> Self {
        VizOptions {
            layers: None,
            features: None,
            top_features: 6,
            top_images: 9,
            limit: None,
            occlusion_examples: 4,
            occluder_size: None,
            occluder_stride: None,
            occluder_value: 0.0,
            epochs: None,
            quiet: false,
        }
    }
}

/// The model looked at.
pub struct Subject {
    /// How the report names it (its path, relative to the working directory: see
    /// [`display_path`]).
    pub name: String,
    pub spec: ModelSpec,
    /// The inference copy.
    pub net: Net,
    /// When the model is a `.shrk` file: the file (its compressed tensors).
    pub shrk: Option<ShrkModel>,
    /// A run directory (for snapshots and metrics.jsonl), when the model is one.
    pub run_dir: Option<std::path::PathBuf>,
}

/// A compressed version to compare with (`--compressed FILE.shrk`).
pub struct Compressed {
    pub name: String,
    /// Its decoded parameters.
    pub table: ParamTable,
    pub shrk: ShrkModel,
    /// For each weight tensor of the subject (in model order), the name of the matching
    /// tensor here. Names differ when batch norm was folded away, which renumbers the
    /// layers; the k-th weight still matches the k-th.
    pub counterparts: Vec<(String, String)>,
    /// Whether it looks like a compression of the subject itself (see [`Match`]).
    pub check: Match,
}

/// How well a compressed file matches the model it is compared with. Matching shapes
/// are required; they do not tell a compression of *this* training run from one of
/// another run of the same spec. The weights do: pruning keeps the large weights and
/// quantization moves each by at most half a centroid gap, so the kept weights of a
/// compression of this model correlate strongly with the model's own (r ≈ 0.9 or more,
/// retraining included), while another run's are unrelated (r ≈ 0).
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    /// Both specs have the same name.
    pub same_name: bool,
    /// Per weight tensor: Pearson correlation of the model's weights with the compressed
    /// ones, over the positions the compressed file keeps.
    pub weight_correlation: Vec<(String, f64)>,
    /// The verdict: the compressed file comes from this model.
    pub same_model: bool,
}

/// Correlations below this say "another training run".
pub const SAME_MODEL_MIN_CORRELATION: f64 = 0.5;

/// Pearson correlation of `a` and `b` over the positions where `b` is not zero (NaN
/// with fewer than two such positions or no spread).
fn kept_correlation(a: &[f32], b: &[f32]) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(_, y)| **y != 0.0)
        .map(|(x, y)| (*x as f64, *y as f64))
        .collect();
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

/// `path` as the report shows it: relative to the working directory when it is inside
/// it, else its last two components — never an absolute path of this machine.
pub fn display_path(path: &std::path::Path) -> String {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        return path.display().to_string();
    };
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = abs.strip_prefix(&cwd) {
            return rel.display().to_string();
        }
    }
    let parts: Vec<_> = abs.components().rev().take(2).collect();
    parts
        .into_iter()
        .rev()
        .collect::<std::path::PathBuf>()
        .display()
        .to_string()
}

impl Compressed {
    /// Match the weight tensors of the compressed spec with those of `subject`, in model
    /// order; errs when they do not line up (count or shapes).
    pub fn new(
        name: String,
        spec: &ModelSpec,
        table: ParamTable,
        shrk: ShrkModel,
        subject: &Subject,
    ) -> Result<Compressed> {
        let names =
            |net: &Net| -> Vec<String> { net.weights().into_iter().map(|(n, _)| n).collect() };
        let ours = names(&subject.net);
        let theirs = names(&Net::new(spec, &Device::flex())?);
        let own = ParamTable::from_net(&subject.net)?;
        let shape = |t: &ParamTable, n: &str| t.get(n).map(|p| p.shape.clone());
        if ours.len() != theirs.len()
            || ours
                .iter()
                .zip(&theirs)
                .any(|(a, b)| shape(&own, a) != shape(&table, b))
        {
            bail!(
                "{name}: its weight tensors do not line up with those of {} (another network?)",
                subject.name
            );
        }
        let weight_correlation: Vec<(String, f64)> = ours
            .iter()
            .zip(&theirs)
            .filter_map(|(a, b)| {
                let r = kept_correlation(&own.get(a)?.data, &table.get(b)?.data);
                Some((a.clone(), r))
            })
            .collect();
        let finite: Vec<f64> = weight_correlation
            .iter()
            .map(|(_, r)| *r)
            .filter(|r| r.is_finite())
            .collect();
        let same_model = !finite.is_empty()
            && finite.iter().sum::<f64>() / finite.len() as f64 >= SAME_MODEL_MIN_CORRELATION;
        Ok(Compressed {
            name,
            table,
            shrk,
            counterparts: ours.into_iter().zip(theirs).collect(),
            check: Match {
                same_name: spec.name == subject.spec.name,
                weight_correlation,
                same_model,
            },
        })
    }

    /// The name here of the subject's weight tensor `name`.
    fn counterpart(&self, name: &str) -> Option<&str> {
        self.counterparts
            .iter()
            .find(|(a, _)| a == name)
            .map(|(_, b)| b.as_str())
    }
}

fn compressed_tensor<'a>(shrk: &'a ShrkModel, name: &str) -> Option<&'a CompressedTensor> {
    shrk.tensors.iter().find_map(|t| match &t.data {
        ShrkData::Compressed(c) if t.name == name => Some(c),
        _ => None,
    })
}

const GREY_BG: [u8; 3] = [255, 255, 255];
const FIELD_COLOR: [u8; 3] = [230, 159, 0];

fn picture(img: &RgbImage, caption: impl Into<String>) -> Result<Picture> {
    Ok(Picture::new(draw::png(img)?, caption))
}

/// Compute everything the report shows and lay it out: returns the report and the
/// numbers for results.json. Errors name the option or layer at fault, before any long
/// computation where possible.
pub fn visualize(
    subject: &Subject,
    compressed: Option<&Compressed>,
    data: &shrink_data::Dataset,
    data_name: &str,
    opts: &VizOptions,
    device: &Device,
) -> Result<(Report, serde_json::Value)> {
    let spec = &subject.spec;
    let net = &subject.net;
    if spec.input.len() != 3 {
        bail!(
            "viz needs an image model (input [channels, height, width]); {} takes {}",
            subject.name,
            ShapeDisplay(&spec.input)
        );
    }
    if spec.input != data.shape {
        bail!(
            "{} takes inputs of shape {} but {data_name} has {}",
            subject.name,
            ShapeDisplay(&spec.input),
            ShapeDisplay(&data.shape)
        );
    }
    let classes = spec.output_len()?;
    if let Some(&m) = data.y.iter().max() {
        if m as usize >= classes {
            bail!(
                "{data_name} has label {m} but {} outputs only {classes} classes",
                subject.name
            );
        }
    }
    let (infos, _) = spec.infer()?;
    let top_infos: Vec<_> = infos.iter().filter(|i| i.depth == 0).collect();
    let names = names::layer_names(spec);
    let layers = match &opts.layers {
        Some(l) => l.clone(),
        None => features::default_layers(spec),
    };
    if layers.is_empty() {
        bail!(
            "{} has no convolutional layer to look at; name layers with --layers",
            subject.name
        );
    }
    for &l in &layers {
        if l >= spec.layers.len() {
            bail!(
                "--layers {l}: the model has layers 0..{} (see `shrink info {}`)",
                spec.layers.len() - 1,
                subject.name
            );
        }
    }
    if let Some(f) = &opts.features {
        for &l in &layers {
            let channels = top_infos[l].output[0];
            if let Some(bad) = f.iter().find(|&&c| c >= channels) {
                bail!(
                    "--features {bad}: layers.{l} ({}) has {channels} feature maps (0..{})",
                    names[l],
                    channels - 1
                );
            }
        }
    }
    let snapshots = plan_snapshots(subject, opts)?;
    let inputs = Inputs::new(data, spec, opts.limit);
    if inputs.is_empty() {
        bail!("the test split of {data_name} is empty");
    }
    let (h, w) = (spec.input[1], spec.input[2]);
    let deepest = *layers.iter().max().expect("layers is not empty");
    // Fail early, with the layer's name, if a layer has no projection.
    features::project_units(
        net,
        &inputs,
        deepest,
        &[Unit {
            example: 0,
            feature: 0,
            pos: (0, 0),
        }],
        device,
    )?;

    let mut report = Report::new(format!(
        "Inside {}: filters, deconvnet projections, occlusion",
        if spec.name.is_empty() {
            subject.name.as_str()
        } else {
            spec.name.as_str()
        }
    ));
    report.text(format!(
        "Model {} on {} ({} test examples scanned). After Zeiler & Fergus, \
         \"Visualizing and Understanding Convolutional Networks\" (ECCV 2014). \
         Projections are signed: red is positive, blue negative, white zero, each image \
         scaled to its own largest value. Orange boxes mark the receptive field of the unit \
         projected. Layers are named conv1, pool1, fc1 … in model order (layers.N in `shrink \
         info`: {}).",
        subject.name,
        data_name,
        inputs.len(),
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n} = layers.{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(c) = compressed {
        let rs: Vec<String> = c
            .check
            .weight_correlation
            .iter()
            .map(|(n, r)| format!("{} r = {r:.2}", names::tensor_name(&names, n)))
            .collect();
        report.text(if c.check.same_model {
            format!(
                "{} matches this model: the same weight shapes{}, and its kept weights correlate with \
                 this model's ({}), as a compression of this very training run does.",
                c.name,
                if c.check.same_name { " and spec name" } else { "" },
                rs.join(", ")
            )
        } else {
            format!(
                "Warning: {} has the same weight shapes but does not look like a compression of this \
                 model: its kept weights hardly correlate with this model's ({}; a compression of \
                 this run gives about 0.9 or more). It probably comes from another training run{}, \
                 so the side-by-side pictures below compare two different nets.",
                c.name,
                rs.join(", "),
                if c.check.same_name {
                    ""
                } else {
                    " (and its spec has another name)"
                }
            )
        });
    }

    // Scan the data set once for every chosen layer.
    let bar = shrink_core::train::progress::bar(inputs.len() as u64, "scanning", opts.quiet);
    let scans = features::scan(net, &inputs, &layers, device, &bar);
    bar.finish_and_clear();
    let mut chosen: Vec<(usize, Vec<usize>)> = Vec::new();
    for s in &scans {
        let f = match &opts.features {
            Some(f) => f.clone(),
            None => s.most_active(opts.top_features),
        };
        chosen.push((s.layer, f));
    }
    report.table(
        &["layer", "stage", "output", "feature maps shown"],
        chosen
            .iter()
            .map(|(l, f)| {
                vec![
                    format!("{} (layers.{l})", names[*l]),
                    stage(spec, *l),
                    ShapeDisplay(&top_infos[*l].output).to_string(),
                    f.iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect(),
    );

    // 1. First-layer filters.
    let table = ParamTable::from_net(net)?;
    let first_conv = net.weights().into_iter().find_map(|(name, w)| match w {
        WeightRef::W4(_) => Some(name),
        _ => None,
    });
    if let Some(name) = &first_conv {
        let p = table.get(name).context("first conv weight")?;
        report.heading(format!(
            "First-layer filters ({})",
            names::tensor_name(&names, name)
        ));
        report.text(
            "Each filter scaled on its own: mid-grey is 0, black and white its most negative \
             and positive weight. Pruned weights are exactly 0, so they show as grey.",
        );
        let mut pics = vec![picture(
            &weights::filter_grid(&p.data, &p.shape),
            format!(
                "{}: {} filters {}",
                subject.name,
                p.shape[0],
                ShapeDisplay(&p.shape[1..])
            ),
        )?];
        if let Some(c) = compressed {
            if let Some(q) = c.counterpart(name).and_then(|n| c.table.get(n)) {
                let kept = q.data.iter().filter(|v| **v != 0.0).count();
                pics.push(picture(
                    &weights::filter_grid(&q.data, &q.shape),
                    format!("{}: {kept} of {} weights kept", c.name, q.data.len()),
                )?);
            }
        }
        report.image_grid(pics);
    } else {
        report.heading("First-layer filters");
        report.text(format!(
            "Skipped: {} has no convolution, so there are no filters to draw.",
            subject.name
        ));
    }

    // 2. Top activations and their projections.
    report.heading(format!(
        "Top {} activations per feature map, projected to pixel space",
        opts.top_images
    ));
    report.text(format!(
        "For each feature map, the {} test examples with the strongest single activation \
         in it. Left: the deconvnet projection of that one activation (every other unit of \
         the layer set to zero, then unpooled with this image's switches, rectified at each \
         ReLU, and filtered with the transposed filters, down to the pixels), cropped to \
         the unit's receptive field. Right: the examples, the receptive field outlined.",
        opts.top_images
    ));
    let mut layer_results = Vec::new();
    for ((layer, feats), s) in chosen.iter().zip(&scans) {
        report.heading(format!(
            "{} ({}), {} maps of {}×{}",
            names[*layer],
            stage(spec, *layer),
            s.channels,
            s.map[0],
            s.map[1]
        ));
        let mut pics = Vec::new();
        let mut feat_results = Vec::new();
        for &f in feats {
            let (pic, result) = top_activations(spec, net, &inputs, s, f, opts.top_images, device)?;
            pics.push(pic);
            feat_results.push(result);
        }
        report.image_grid(pics);
        layer_results.push(json!({
            "layer": layer,
            "name": names[*layer],
            "kind": top_infos[*layer].kind,
            "output": top_infos[*layer].output,
            "features": feat_results,
        }));
    }

    // 3. Occlusion.
    let side = h.min(w);
    let occluder_size = opts
        .occluder_size
        .unwrap_or(((side as f64) / 3.0).round().max(2.0) as usize)
        .clamp(1, side);
    let occluder_stride = opts
        .occluder_stride
        .unwrap_or((occluder_size / 4).max(1))
        .max(1);
    let occl = occlusion_section(
        &mut report,
        subject,
        &inputs,
        deepest,
        (occluder_size, occluder_stride),
        opts,
        device,
    )?;

    // 4. Weight histograms.
    let hists = histogram_section(&mut report, subject, compressed, &table, &names)?;

    // 5. Feature evolution.
    let resolved_epochs = snapshots.as_ref().map(|(_, e)| e.clone());
    let evo = evolution_section(
        &mut report,
        subject,
        snapshots,
        &inputs,
        &chosen,
        opts,
        device,
    )?;

    // The settings as used, every default filled in.
    let settings = json!({
        "layers": layers,
        "layer_names": layers.iter().map(|&l| names[l].clone()).collect::<Vec<_>>(),
        "features": chosen.iter().map(|(l, f)| json!({"layer": l, "features": f})).collect::<Vec<_>>(),
        "top_features": opts.top_features,
        "top_images": opts.top_images,
        "limit": opts.limit.unwrap_or(inputs.len()),
        "occlusion_examples": opts.occlusion_examples,
        "occluder_size": occluder_size,
        "occluder_stride": occluder_stride,
        "occluder_value": opts.occluder_value,
        "epochs": resolved_epochs.unwrap_or_default(),
    });
    let results = json!({
        "settings": settings,
        "model": subject.name,
        "compressed": compressed.map(|c| c.name.clone()),
        "compressed_check": compressed.map(|c| &c.check),
        "data": data_name,
        "examples": inputs.len(),
        "layers": layer_results,
        "occlusion": occl,
        "histograms": hists,
        "evolution": evo,
    });
    Ok((report, results))
}

/// The snapshots of a run directory, and the epochs picked to show.
type Snapshots = (Vec<(usize, std::path::PathBuf)>, Vec<usize>);

/// Which snapshots the evolution section shows (checked before any work is done).
fn plan_snapshots(subject: &Subject, opts: &VizOptions) -> Result<Option<Snapshots>> {
    let snaps = match &subject.run_dir {
        Some(dir) => io::list_snapshots(dir)?,
        None => vec![],
    };
    if snaps.is_empty() {
        if opts.epochs.is_some() {
            bail!(
                "--epochs: {} has no snapshots (train it with --snapshot-every N)",
                subject.name
            );
        }
        return Ok(None);
    }
    let available: Vec<usize> = snaps.iter().map(|(e, _)| *e).collect();
    let epochs = evolution::pick_epochs(&available, opts.epochs.as_deref(), 6)?;
    Ok(Some((snaps, epochs)))
}

/// The top activations of feature map `feature` in one scanned layer: a picture (their
/// projections | the examples) and the numbers.
fn top_activations(
    spec: &ModelSpec,
    net: &Net,
    inputs: &Inputs,
    s: &features::LayerScan,
    feature: usize,
    count: usize,
    device: &Device,
) -> Result<(Picture, serde_json::Value)> {
    let (h, w) = (spec.input[1], spec.input[2]);
    let scale = (96 / h.max(w)).max(1);
    let top = s.top_examples(feature, count);
    let units: Vec<Unit> = top
        .iter()
        .map(|&i| Unit {
            example: i,
            feature,
            pos: s.unit(i, feature),
        })
        .collect();
    let proj = features::project_units(net, inputs, s.layer, &units, device)?;
    let (mut left, mut right, mut tops) = (Vec::new(), Vec::new(), Vec::new());
    for (u, p) in units.iter().zip(&proj) {
        left.push(projection_patch(spec, s.layer, u.pos, p, &inputs.shape));
        let mut img = draw::enlarge(
            &draw::picture(inputs.raw(u.example), &inputs.shape, 0.0, 1.0),
            scale,
        );
        let field = features::receptive_field(spec, s.layer, u.pos);
        if field.rows != (0, h - 1) || field.cols != (0, w - 1) {
            let s32 = scale as u32;
            draw::outline(
                &mut img,
                (field.cols.0 as u32 * s32, field.rows.0 as u32 * s32),
                (
                    (field.cols.1 as u32 + 1) * s32 - 1,
                    (field.rows.1 as u32 + 1) * s32 - 1,
                ),
                FIELD_COLOR,
            );
        }
        right.push(img);
        tops.push(json!({
            "example": u.example,
            "label": inputs.y[u.example],
            "activation": s.activation(u.example, feature),
            "unit": [u.pos.0, u.pos.1],
            "field": field,
        }));
    }
    let composite = draw::row(
        &[
            draw::grid(&left, 3, 2, GREY_BG),
            draw::grid(&right, 3, 2, GREY_BG),
        ],
        8,
        GREY_BG,
    );
    let acts: Vec<f32> = top.iter().map(|&i| s.activation(i, feature)).collect();
    let pic = picture(
        &composite,
        format!(
            "feature {feature}: activations {:.2} … {:.2} (classes {})",
            acts.first().copied().unwrap_or(0.0),
            acts.last().copied().unwrap_or(0.0),
            top.iter()
                .map(|&i| inputs.class_name(inputs.y[i] as usize))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )?;
    let result = json!({
        "feature": feature,
        "mean_max_activation": s.mean_max(feature),
        "top": tops,
    });
    Ok((pic, result))
}

/// A projection cropped to the unit's receptive field — all a projection can reach, as
/// the paper shows image patches — or the whole image when the field covers it;
/// enlarged to about 84 pixels.
fn projection_patch(
    spec: &ModelSpec,
    layer: usize,
    unit: (usize, usize),
    projection: &[f32],
    shape: &[usize],
) -> RgbImage {
    let (h, w) = (shape[1] as i64, shape[2] as i64);
    let (rows, cols) = features::receptive_window(spec, layer, unit);
    let covers = rows.1.saturating_sub(rows.0) >= h - 1 && cols.1.saturating_sub(cols.0) >= w - 1;
    let (rows, cols) = if covers {
        ((0, h - 1), (0, w - 1))
    } else {
        (rows, cols)
    };
    let (patch, pshape) = draw::crop(projection, shape, rows, cols);
    let scale = (84 / pshape[1].max(pshape[2])).max(1);
    draw::enlarge(&draw::signed_picture(&patch, &pshape), scale)
}

/// The layers from the convolution to `layer`, e.g. `conv2d → batch_norm → relu`.
fn stage(spec: &ModelSpec, layer: usize) -> String {
    let mut first = layer;
    while first > 0 && features::follows_conv(&spec.layers[first]) {
        first -= 1;
    }
    spec.layers[first..=layer]
        .iter()
        .map(|l| l.kind())
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The test images to occlude: the first ones of distinct classes.
fn occlusion_examples(inputs: &Inputs, n: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = Vec::new();
    for i in 0..inputs.len() {
        if picked.len() == n {
            break;
        }
        if !picked.iter().any(|&j| inputs.y[j] == inputs.y[i]) {
            picked.push(i);
        }
    }
    let mut i = 0;
    while picked.len() < n.min(inputs.len()) {
        if !picked.contains(&i) {
            picked.push(i);
        }
        i += 1;
    }
    picked
}

/// The ends of a colour bar as short numbers.
fn bar_label(v: f32) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 || v == 0.0 {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{v:.3}")
    }
}

/// A colour bar for `cmap` from `lo` to `hi`.
fn colorbar(cmap: draw::ColorMap, lo: f32, hi: f32) -> ColorBar {
    ColorBar {
        stops: cmap.stops(11),
        low: bar_label(lo),
        high: bar_label(hi),
    }
}

/// Occlude `opts.occlusion_examples` test images with a `size`×`size` square every
/// `stride` pixels, following the strongest feature map of top-level layer `layer`.
fn occlusion_section(
    report: &mut Report,
    subject: &Subject,
    inputs: &Inputs,
    layer: usize,
    (size, stride): (usize, usize),
    opts: &VizOptions,
    device: &Device,
) -> Result<serde_json::Value> {
    let net = &subject.net;
    let shape = &inputs.shape;
    let (h, w) = (shape[1], shape[2]);
    // Pictures about 128 pixels wide.
    let scale = (128 / h.max(w)).max(1);
    let layer_name = &names::layer_names(&subject.spec)[layer];
    let picked = occlusion_examples(inputs, opts.occlusion_examples);
    report.heading("Occlusion sensitivity");
    if picked.is_empty() {
        report.text(if opts.occlusion_examples == 0 {
            "Skipped: --occlude 0 asks for no occluded images."
        } else {
            "Skipped: the test split has no images to occlude."
        });
        return Ok(json!([]));
    }
    report.text(format!(
        "A {size}×{size} square of value {} in normalised space ({}) slid over each image \
         every {stride} pixels; each map pixel shows the result with the square centred \
         nearest to it. One row per test image, from left: the image, outlined where the \
         square hurts the right answer most; how strongly the feature map of {layer_name} that \
         responds most to the whole image still responds with the square at each place; what \
         that map responds to (its strongest unit projected back to pixels: red positive, blue \
         negative); the probability the net gives the right class with the square at each \
         place; and the class it picks there (colours in the legend below). Each map has its \
         own colour bar: the colours' values run from its left end to its right end.",
        opts.occluder_value,
        if opts.occluder_value == 0.0 {
            "the data set's mean: grey"
        } else {
            "set with --occluder-value"
        }
    ));
    let mut results = Vec::new();
    for &i in &picked {
        let o = occlusion::occlude(
            net,
            inputs.normalized(i),
            shape,
            inputs.y[i],
            layer,
            size,
            stride,
            opts.occluder_value,
            device,
        );
        let label = inputs.class_name(o.label as usize);
        // The image, with the most damaging square outlined.
        let worst = shrink_core::batch::argmax(&o.true_prob.iter().map(|p| -p).collect::<Vec<_>>());
        let (r, c) = (o.rows[worst / o.cols.len()], o.cols[worst % o.cols.len()]);
        let mut image = draw::enlarge(&draw::picture(inputs.raw(i), shape, 0.0, 1.0), scale);
        let s32 = scale as u32;
        draw::outline(
            &mut image,
            (c as u32 * s32, r as u32 * s32),
            (((c + size) as u32) * s32 - 1, ((r + size) as u32) * s32 - 1),
            FIELD_COLOR,
        );
        // Total activation of the followed feature map.
        let (lo, hi) = o
            .feature_total
            .iter()
            .chain([&o.feature_base])
            .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        let act = draw::enlarge(
            &draw::heat(
                &o.aligned(&o.feature_total, h, w),
                w,
                h,
                lo,
                hi,
                draw::INFERNO,
            ),
            scale,
        );
        let proj = features::project_units(
            net,
            inputs,
            layer,
            &[Unit {
                example: i,
                feature: o.feature,
                pos: o.feature_unit,
            }],
            device,
        )?;
        let proj = draw::enlarge(&draw::signed_picture(&proj[0], shape), scale);
        // The probability's own range, so that a dip from 1.00 to 0.95 is visible; a
        // range under 0.01 is drawn on the full 0..1 scale (nothing to see there).
        let (min_p, max_p) = o
            .true_prob
            .iter()
            .fold((1.0f32, 0.0f32), |(l, h), p| (l.min(*p), h.max(*p)));
        let (p_lo, p_hi) = if max_p - min_p >= 0.01 {
            (min_p, max_p)
        } else {
            (0.0, 1.0)
        };
        let prob = draw::enlarge(
            &draw::heat(
                &o.aligned(&o.true_prob, h, w),
                w,
                h,
                p_lo,
                p_hi,
                draw::VIRIDIS,
            ),
            scale,
        );
        let top = o.aligned(&o.top_class, h, w);
        let top = draw::enlarge(
            &RgbImage::from_fn(w as u32, h as u32, |x, y| {
                image::Rgb(draw::class_color(top[y as usize * w + x as usize] as usize))
            }),
            scale,
        );
        let changed = o.top_class.iter().filter(|k| **k != o.label).count();
        report.image_grid(vec![
            picture(
                &image,
                format!(
                    "Test image #{i}, a {label}: the net gives \"{label}\" p = {:.3}. Orange box: where the square lowers that most.",
                    o.probs[o.label as usize]
                ),
            )?,
            Picture {
                colorbar: Some(colorbar(draw::INFERNO, lo, hi)),
                ..picture(
                    &act,
                    format!(
                        "Response of {layer_name} map {} with the square at each place (unoccluded: {}). Dark = weak, yellow = strong.",
                        o.feature,
                        bar_label(o.feature_base)
                    ),
                )?
            },
            picture(
                &proj,
                format!("What {layer_name} map {} responds to in this image", o.feature),
            )?,
            Picture {
                colorbar: Some(colorbar(draw::VIRIDIS, p_lo, p_hi)),
                ..picture(
                    &prob,
                    if max_p - min_p >= 0.01 {
                        format!(
                            "Probability of \"{label}\" with the square at each place: purple = {}, yellow = {}.",
                            bar_label(min_p),
                            bar_label(max_p)
                        )
                    } else {
                        format!(
                            "Probability of \"{label}\" with the square at each place: it stays between {} and {} wherever the square is.",
                            bar_label(min_p),
                            bar_label(max_p)
                        )
                    },
                )?
            },
            picture(
                &top,
                if changed == 0 {
                    format!("The class the net picks with the square at each place: always \"{label}\".")
                } else {
                    format!(
                        "The class the net picks with the square at each place: not \"{label}\" at {changed} of {} places.",
                        o.top_class.len()
                    )
                },
            )?,
        ]);
        let mut v = serde_json::to_value(&o)?;
        v["example"] = json!(i);
        results.push(v);
    }
    // Every class of the data set, so that any colour in the maps can be looked up.
    let classes = subject.spec.output_len()?;
    let swatches = (0..classes)
        .map(|k| {
            let img = RgbImage::from_pixel(18, 18, image::Rgb(draw::class_color(k)));
            picture(&img, inputs.class_name(k))
        })
        .collect::<Result<Vec<_>>>()?;
    report.text(format!(
        "Class colours of the last maps{}:",
        if classes > draw::CATEGORICAL.len() {
            format!(
                " ({classes} classes share {} colours, so colours repeat)",
                draw::CATEGORICAL.len()
            )
        } else {
            String::new()
        }
    ));
    report.image_grid(swatches);
    Ok(json!(results))
}

fn histogram_section(
    report: &mut Report,
    subject: &Subject,
    compressed: Option<&Compressed>,
    table: &ParamTable,
    layer_names: &[String],
) -> Result<serde_json::Value> {
    let names: Vec<String> = subject.net.weights().into_iter().map(|(n, _)| n).collect();
    report.heading("Weight histograms");
    report.text(match (compressed, &subject.shrk) {
        (Some(c), _) => format!(
            "Left: the weights of {}. Right: those of {} after pruning and trained \
             quantization (Deep Compression, Han et al. 2016, Fig. 4/5): the pruned weights \
             are gone (the hole around zero) and every kept weight sits on one of a few \
             shared values, drawn as spikes at the centroids.",
            subject.name, c.name
        ),
        (None, Some(_)) => "The compressed weights: the pruned ones are gone and every kept \
                            weight sits on one of a few shared values, drawn as spikes at the \
                            centroids (Deep Compression, Han et al. 2016, Fig. 4/5)."
            .to_string(),
        (None, None) => "The distribution of each layer's weights. Give a compressed \
                         version with --compressed FILE.shrk to see it after pruning and \
                         quantization beside it."
            .to_string(),
    });
    let mut out = Vec::new();
    let mut pending: Vec<LinePlot> = Vec::new();
    for name in names {
        let own = subject
            .shrk
            .as_ref()
            .and_then(|s| compressed_tensor(s, &name));
        let dense = match own {
            Some(_) => None,
            None => table.get(&name).map(|p| p.data.as_slice()),
        };
        let comp = compressed
            .and_then(|c| compressed_tensor(&c.shrk, c.counterpart(&name)?))
            .or(own);
        let pretty = names::tensor_name(layer_names, &name);
        let plots = weights::histograms(pretty.trim_end_matches(" weights"), dense, comp);
        if plots.is_empty() {
            continue;
        }
        out.push(json!({
            "name": name,
            "layer": pretty.trim_end_matches(" weights"),
            "weights": dense.map(|d| d.len()).or(comp.map(|c| c.numel())),
            "kept": comp.map(|c| c.positions.len()),
            "codebook": comp.map(|c| c.codebook.len()),
        }));
        // A layer with its compressed form fills a row; single panels go two to a row.
        if plots.len() > 1 {
            report.plot_row(plots, (520, 300));
        } else {
            pending.extend(plots);
            if pending.len() == 2 {
                report.plot_row(std::mem::take(&mut pending), (520, 300));
            }
        }
    }
    if !pending.is_empty() {
        report.plot_row(pending, (520, 300));
    }
    Ok(json!(out))
}

fn evolution_section(
    report: &mut Report,
    subject: &Subject,
    plan: Option<Snapshots>,
    inputs: &Inputs,
    chosen: &[(usize, Vec<usize>)],
    opts: &VizOptions,
    device: &Device,
) -> Result<serde_json::Value> {
    let layer_names = names::layer_names(&subject.spec);
    let Some((snaps, epochs)) = plan else {
        report.heading("Feature evolution during training");
        report.text(match &subject.run_dir {
            None => format!(
                "Skipped: {} is a .shrk file, which keeps only the final weights; give the run \
                 directory it was compressed from, trained with --snapshot-every N, to see features \
                 change across epochs.",
                subject.name
            ),
            Some(_) => format!(
                "Skipped: {} has no weight snapshots; train it with --snapshot-every N to see \
                 features change across epochs.",
                subject.name
            ),
        });
        return Ok(json!([]));
    };
    let dir = subject
        .run_dir
        .as_deref()
        .expect("snapshots come from a run directory");
    report.heading("Feature evolution during training");
    report.text(format!(
        "For each feature map (rows), the strongest activation over the {} examples under \
         the weights of each epoch (columns: epochs {}), projected to pixel space \
         (Zeiler & Fergus Fig. 4). Snapshots from {}.",
        inputs.len(),
        epochs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        display_path(&dir.join(io::SNAPSHOT_DIR))
    ));
    let metrics = dir.join("metrics.jsonl");
    if let Ok(text) = std::fs::read_to_string(&metrics) {
        let m: Vec<shrink_core::train::EpochMetrics> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if !m.is_empty() {
            let all = m
                .iter()
                .map(|m| (m.epoch as f64, 100.0 * (1.0 - m.test_accuracy)))
                .collect();
            let shown = m
                .iter()
                .filter(|m| epochs.contains(&m.epoch))
                .map(|m| (m.epoch as f64, 100.0 * (1.0 - m.test_accuracy)))
                .collect();
            report.plot_row(
                vec![
                    LinePlot::new("Test error by epoch", "epoch", "test error (%)")
                        .series(Series::new("all epochs", all, Style::Line))
                        .series(Series::new("shown below", shown, Style::Points).color(1)),
                ],
                (520, 300),
            );
        }
    }
    let bar = shrink_core::train::progress::bar(
        (epochs.len() * inputs.len()) as u64,
        "epochs",
        opts.quiet,
    );
    let mut per_epoch = Vec::new();
    for &e in &epochs {
        let path = &snaps.iter().find(|(a, _)| *a == e).expect("picked").1;
        let mut net = Net::new(&subject.spec, device)?;
        io::load_weights(&mut net, path, None)?;
        per_epoch.push((e, evolution::strongest(&net, inputs, chosen, device, &bar)?));
    }
    bar.finish_and_clear();
    let mut results = Vec::new();
    let mut pics = Vec::new();
    for (layer, feats) in chosen {
        let mut tiles = Vec::new();
        for &f in feats {
            for (e, found) in &per_epoch {
                let s = found
                    .iter()
                    .find(|s| s.layer == *layer && s.feature == f)
                    .expect("every chosen feature is projected");
                tiles.push(projection_patch(
                    &subject.spec,
                    *layer,
                    s.pos,
                    &s.projection,
                    &inputs.shape,
                ));
                results.push(json!({
                    "epoch": e,
                    "layer": layer,
                    "feature": f,
                    "example": s.example,
                    "activation": s.activation,
                }));
            }
        }
        pics.push(picture(
            &draw::grid(&tiles, epochs.len(), 2, GREY_BG),
            format!(
                "{}: rows = feature maps {}; columns = epochs {}",
                layer_names[*layer],
                feats
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                epochs
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )?);
    }
    report.image_grid(pics);
    Ok(json!(results))
}
