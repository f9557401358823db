//! The steps the commands share: load data for a spec, fit the spec to the data, train
//! and save a model directory, evaluate one.

use crate::batch::{Batcher, Split};
use crate::classifier::{BurnModel, Classifier, RuntimeModel};
use crate::model::{io, Net};
use crate::train::{self, Plain, RunDir, Targets, TrainConfig};
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use serde::Serialize;
use shrink_data::DataSource;
use shrink_format::spec::{Layer, ModelSpec, NormalizeSpec, ShapeDisplay};
use std::path::Path;
use std::time::Instant;

pub use crate::tables::{load_data, SPLIT_SEED};

/// Make `spec` fit the data: its input shape and its last linear layer's width (the
/// class count). Returns a note per change, so the same zoo spec trains unchanged on
/// another image size, class count or a table.
pub fn adapt_spec(spec: &mut ModelSpec, src: &DataSource) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let shape = src.train.shape.clone();
    if spec.input != shape {
        notes.push(format!(
            "input {} -> {} to fit the data",
            ShapeDisplay(&spec.input),
            ShapeDisplay(&shape)
        ));
        spec.input = shape;
        spec.normalize = None;
    }
    let classes = src.train.classes.max(src.test.classes);
    if let Some(Layer::Linear { out, .. }) = spec
        .layers
        .iter_mut()
        .rev()
        .find(|l| matches!(l, Layer::Linear { .. }))
    {
        if *out != classes {
            notes.push(format!("output {out} -> {classes} classes to fit the data"));
            *out = classes;
        }
    }
    spec.infer().context("the spec does not fit this data")?;
    let out = spec.output_len()?;
    if out < classes {
        bail!("the network outputs {out} values but the data has {classes} classes");
    }
    spec.class_names = src.train.class_names.clone();
    Ok(notes)
}

/// Per-channel (images) or per-feature (tables) mean/std of the train split.
pub fn fit_normalization(spec: &mut ModelSpec, src: &DataSource) {
    let n = shrink_data::compute_normalization(&src.train);
    spec.normalize = Some(NormalizeSpec {
        mean: n.mean,
        std: n.std,
    });
}

/// Check that a trained model can read this data.
pub fn check_fits(spec: &ModelSpec, src: &DataSource) -> Result<()> {
    if spec.input != src.test.shape {
        bail!(
            "the model takes inputs of shape {} but the data has {}",
            ShapeDisplay(&spec.input),
            ShapeDisplay(&src.test.shape)
        );
    }
    crate::tables::check_has_test(src)?;
    let classes = spec.output_len()?;
    if let Some(&m) = src.test.y.iter().max() {
        if m as usize >= classes {
            bail!("the data has label {m} but the model outputs only {classes} classes");
        }
    }
    Ok(())
}

/// What `shrink train` reports.
#[derive(Debug, Serialize)]
pub struct TrainReport {
    pub model: String,
    pub data: String,
    pub test_accuracy: f64,
    pub test_error: f64,
    pub n: usize,
    pub val_accuracy: Option<f64>,
    pub epochs: usize,
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub params: usize,
    pub seconds: f64,
    pub notes: Vec<String>,
    pub config: TrainConfig,
}

/// How a training run is driven (not what it learns).
#[derive(Debug, Clone, Default)]
pub struct RunOpts {
    /// Continue from the checkpoint in the output directory.
    pub resume: bool,
    /// Stop after this many epochs of this invocation (checkpoint kept).
    pub stop_after: Option<usize>,
    /// No progress output.
    pub quiet: bool,
    /// Keep a weight snapshot every N epochs (`snapshots/` in the run directory).
    pub snapshot_every: Option<usize>,
}

/// Refuse, before anything is allocated, a spec (as fitted to the data) beyond the
/// limits in force, or a batch whose activations and gradients would need more than
/// `max_batch_bytes` (an estimate: every layer's output and its gradient).
pub fn check_training_cost(spec: &ModelSpec, batch_size: usize) -> Result<()> {
    let limits = crate::limits::get();
    let cost = spec.check(&limits)?.cost;
    let need = cost.training_bytes(batch_size as u64);
    if need > limits.max_batch_bytes {
        let fits = limits.max_batch_bytes / cost.training_bytes(1).max(1);
        bail!(
            "training batches of {batch_size} need about {need} bytes of activations and \
             gradients, more than the limit of {} (max_batch_bytes); use batch_size {} or \
             less",
            limits.max_batch_bytes,
            fits
        );
    }
    Ok(())
}

/// Train `spec` on `src` and save the model directory `out` (with `compress`, the
/// spec file's compression settings, kept in its spec.toml as `[compress]`).
pub fn train_model<C: serde::Serialize>(
    mut spec: ModelSpec,
    cfg: &TrainConfig,
    compress: Option<&C>,
    src: &DataSource,
    out: &Path,
    device: &Device,
    opts: &RunOpts,
) -> Result<(TrainReport, ModelSpec, Net)> {
    let RunOpts {
        resume,
        stop_after,
        quiet,
        snapshot_every,
    } = *opts;
    let started = Instant::now();
    crate::tables::check_trainable(src)?;
    let mut notes = adapt_spec(&mut spec, src)?;
    // Settings written for 28×28 digits, fitted to this data; what runs is what is saved.
    let mut fitted = cfg.clone();
    notes.extend(fitted.fit_to_input(&src.train.shape));
    let cfg = &fitted;
    if !quiet {
        for n in &notes {
            eprintln!("note: {n}");
        }
    }
    fit_normalization(&mut spec, src);
    check_training_cost(&spec, cfg.batch_size)?;
    let train_dev = device.clone().autodiff();
    // The same starting weights for one seed on every device (issue 18).
    let net = crate::device::init_net(&spec, cfg.seed, &train_dev)?;
    let data = Batcher::new(
        &src.train,
        &src.test,
        spec.normalize.clone(),
        cfg.val_fraction,
        cfg.seed,
    );
    if !quiet {
        eprintln!(
            "training {} ({} parameters) on {}: {} train, {} val, {} test examples",
            if spec.name.is_empty() {
                "model"
            } else {
                &spec.name
            },
            spec.param_count()?,
            src.name,
            data.train_len(),
            data.val.as_ref().map_or(0, |v| v.len()),
            data.test.len()
        );
    }
    let run = RunDir {
        dir: out.to_path_buf(),
        resume,
        stop_after,
        snapshot_every,
    };
    let outcome = train::train(
        net,
        train::Job {
            cfg,
            data: &data,
            targets: Targets::Labels,
            device: &train_dev,
            run: Some(&run),
            hooks: &mut Plain,
            quiet,
        },
    )?;
    let mut extra = toml::Table::new();
    extra.insert(
        "train".into(),
        toml::Value::try_from(cfg).context("[train] as TOML")?,
    );
    if let Some(c) = compress {
        extra.insert(
            "compress".into(),
            toml::Value::try_from(c).context("[compress] as TOML")?,
        );
    }
    io::save_model_with(out, &spec, &outcome.net, &extra)?;
    if let Some(schema) = &src.schema {
        crate::tables::save_table(out, schema)?;
    }
    let valid = outcome.net.valid();
    let acc = data.accuracy(&valid, Split::Test, device);
    let val = data
        .has_val()
        .then(|| data.accuracy(&valid, Split::Val, device));
    let report = TrainReport {
        model: out.display().to_string(),
        data: src.name.clone(),
        test_accuracy: acc,
        test_error: 1.0 - acc,
        n: data.test.len(),
        val_accuracy: val,
        epochs: outcome.epochs_run,
        best_epoch: outcome.best_epoch,
        stopped_early: outcome.stopped_early,
        params: spec.param_count()?,
        seconds: started.elapsed().as_secs_f64().max(outcome.seconds),
        notes,
        config: cfg.clone(),
    };
    io::write_atomic(
        &out.join("result.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    Ok((report, spec, valid))
}

/// What `shrink eval` reports.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub data: String,
    pub test_accuracy: f64,
    pub test_error: f64,
    pub n: usize,
    pub seconds: f64,
    pub per_class_accuracy: Vec<f64>,
}

/// Test accuracy of a (spec, inference net) on the test split of `src`.
pub fn evaluate(
    spec: &ModelSpec,
    net: &Net,
    src: &DataSource,
    device: &Device,
    name: &str,
) -> Result<EvalReport> {
    check_fits(spec, src)?;
    let mut model = BurnModel::new(spec.clone(), net.clone(), device)?;
    evaluate_classifier(&mut model, src, name)
}

/// Test accuracy of any [`Classifier`] (a Burn net, a `.shrk` file on the runtime) on
/// the test split of `src`.
pub fn evaluate_classifier(
    model: &mut dyn Classifier,
    src: &DataSource,
    name: &str,
) -> Result<EvalReport> {
    let t0 = Instant::now();
    check_fits(model.spec(), src)?;
    let preds = model.predictions(&src.test)?;
    Ok(eval_report(name, src, &preds, t0.elapsed().as_secs_f64()))
}

/// Predictions of the `.shrk` file `bytes` run by shrink-runtime — the compressed
/// weights as they are stored, as a deployed model runs them — on the examples of `ds`.
pub fn runtime_predictions(bytes: &[u8], ds: &shrink_data::Dataset) -> Result<Vec<u32>> {
    RuntimeModel::from_bytes(bytes)?.predictions(ds)
}

/// Build an [`EvalReport`] from predictions on the test split.
pub fn eval_report(name: &str, src: &DataSource, preds: &[u32], seconds: f64) -> EvalReport {
    let ds = &src.test;
    let classes = ds.classes.max(1);
    let mut hit = vec![0usize; classes];
    let mut tot = vec![0usize; classes];
    for (p, &y) in preds.iter().zip(&ds.y) {
        tot[y as usize] += 1;
        if *p == y {
            hit[y as usize] += 1;
        }
    }
    let correct: usize = hit.iter().sum();
    let acc = correct as f64 / ds.len().max(1) as f64;
    EvalReport {
        model: name.to_string(),
        data: src.name.clone(),
        test_accuracy: acc,
        test_error: 1.0 - acc,
        n: ds.len(),
        seconds,
        per_class_accuracy: hit
            .iter()
            .zip(&tot)
            .map(|(h, t)| *h as f64 / (*t).max(1) as f64)
            .collect(),
    }
}
