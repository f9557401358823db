//! One stage of the pipeline on its own, on a trained model directory: `shrink prune`
//! (pruning with retraining, or the sensitivity scan) and `shrink quantize` (weight
//! sharing into a `.shrk`). Each opens the model as the pipeline does ([`Opened`]: its
//! spec.toml's settings with the command's changes, the data fitted to it, batch norm
//! folded) and runs the pipeline's own stage functions (`prune_stage`,
//! `quantize_stage`, `encode_and_report` in `compress`).
//!
//! Not here: the whole pipeline and its resumable stages (`compress::compress`).

use crate::batch::{self, Batcher};
use crate::compress::{
    encode_and_report, fold, prune_stage, quantize_stage, sensitivity_scan, weight_names,
    CompressConfig, CompressReport, EncodeInputs, SensitivityPoint, Stage,
};
use crate::model::io::{load_model, save_model_with, SPEC_FILE};
use crate::model::params::ParamTable;
use crate::model::Net;
use crate::spec_file::{settings_tables, SpecFile};
use crate::train::TrainConfig;
use crate::workflow;
use anyhow::Result;
use burn::prelude::*;
use serde::Serialize;
use shrink_data::DataSource;
use shrink_format::spec::ModelSpec;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A trained model directory, ready for a stage.
pub struct Opened {
    pub spec: ModelSpec,
    pub net: Net,
    /// Its `[train]` settings, fitted to the data.
    pub train: TrainConfig,
    /// Its `[compress]` settings with the command's changes, validated.
    pub cfg: CompressConfig,
    pub src: DataSource,
    pub data: Batcher,
    pub device: Device,
    pub quiet: bool,
    /// When opening began (a report's time counts from here).
    pub started: Instant,
}

impl Opened {
    /// Open `model` (a model directory) with `data` (and a CSV's `label`); `change`
    /// applies the command's flags to the `[compress]` settings.
    pub fn open(
        model: &Path,
        data: &str,
        label: Option<String>,
        change: impl FnOnce(&mut CompressConfig),
        device: Device,
        quiet: bool,
    ) -> Result<Opened> {
        let started = Instant::now();
        let file = SpecFile::read(&model.join(SPEC_FILE))?;
        let (mut train, mut cfg) = (file.train, file.compress);
        change(&mut cfg);
        cfg.validate()?;
        let (spec, net) = load_model(model, &device)?;
        let table = crate::tables::dir_table(model)?;
        let src = crate::tables::load_data_for(data, label, table.as_ref())?;
        workflow::check_fits(&spec, &src)?;
        for n in train.fit_to_input(&src.train.shape) {
            if !quiet {
                eprintln!("note: {n}");
            }
        }
        let data = Batcher::new(
            &src.train,
            &src.test,
            spec.normalize.clone(),
            train.val_fraction,
            train.seed,
        );
        Ok(Opened {
            spec,
            net,
            train,
            cfg,
            src,
            data,
            device,
            quiet,
            started,
        })
    }

    fn stage(&self) -> Stage<'_> {
        Stage {
            train_cfg: &self.train,
            cfg: &self.cfg,
            data: &self.data,
            device: &self.device,
            quiet: self.quiet,
        }
    }
}

/// The kept fractions the sensitivity scan tries.
pub const SENSITIVITY_KEEPS: [f64; 8] = [1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02];

/// Han et al.'s sensitivity scan (each layer pruned alone, no retraining), also written
/// to `out/sensitivity.json`.
pub fn sensitivity(m: &Opened, out: &Path) -> Result<Vec<SensitivityPoint>> {
    let (fspec, ftable, _) = fold::fold_batch_norm(&m.spec, &ParamTable::from_net(&m.net)?)?;
    std::fs::create_dir_all(out)?;
    let points = sensitivity_scan(&fspec, &ftable, &m.data, &m.device, &SENSITIVITY_KEEPS)?;
    crate::model::io::write_atomic(
        &out.join("sensitivity.json"),
        serde_json::to_string_pretty(&points)?.as_bytes(),
    )?;
    Ok(points)
}

/// The scan as a table: a row per layer, a column per kept fraction.
pub fn render_sensitivity(points: &[SensitivityPoint]) -> String {
    let mut s = format!("{:<20}", "layer \\ kept");
    for k in SENSITIVITY_KEEPS {
        s += &format!(" {:>6.0}%", 100.0 * k);
    }
    s.push('\n');
    for chunk in points.chunks(SENSITIVITY_KEEPS.len()) {
        s += &format!("{:<20}", chunk[0].layer);
        for p in chunk {
            s += &format!(" {:>6.2}%", 100.0 * p.accuracy);
        }
        s.push('\n');
    }
    s
}

/// One pruned layer (fields in alphabetical order, as `--json` has always printed them).
#[derive(Debug, Clone, Serialize)]
pub struct PrunedLayer {
    /// Weights kept (non-zero).
    pub kept: usize,
    pub name: String,
    /// Weights in all.
    pub weights: usize,
}

/// What `shrink prune` did (fields in alphabetical order, as `--json` has always
/// printed them).
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub kept_percent: f64,
    pub layers: Vec<PrunedLayer>,
    /// The pruned model directory.
    pub model: PathBuf,
    /// Test examples.
    pub n: usize,
    pub test_error: f64,
    pub test_error_dense: f64,
}

/// Prune (with retraining) as the pipeline's sparsification stage does, and save the
/// pruned model directory `out` with the settings used.
pub fn prune(m: &Opened, out: &Path) -> Result<PruneReport> {
    let (fspec, ftable, _) = fold::fold_batch_norm(&m.spec, &ParamTable::from_net(&m.net)?)?;
    std::fs::create_dir_all(out)?;
    let (pspec, ptable) = prune_stage(&m.stage(), &fspec, &ftable)?;
    let mut pnet = Net::new(&pspec, &m.device)?;
    ptable.load_into(&mut pnet)?;
    save_model_with(out, &pspec, &pnet, &settings_tables(&m.train, &m.cfg)?)?;
    if let Some(schema) = &m.src.schema {
        crate::tables::save_table(out, schema)?;
    }
    let before = workflow::evaluate(&m.spec, &m.net, &m.src, &m.device, "dense")?;
    let after = workflow::evaluate(&pspec, &pnet, &m.src, &m.device, "pruned")?;
    let layers: Vec<PrunedLayer> = weight_names(&pspec, &m.device)?
        .into_iter()
        .filter_map(|name| {
            ptable.get(&name).map(|p| PrunedLayer {
                weights: p.data.len(),
                kept: p.data.iter().filter(|v| **v != 0.0).count(),
                name,
            })
        })
        .collect();
    let kept: usize = layers.iter().map(|l| l.kept).sum();
    let total: usize = layers.iter().map(|l| l.weights).sum();
    Ok(PruneReport {
        kept_percent: 100.0 * kept as f64 / total.max(1) as f64,
        layers,
        model: out.to_path_buf(),
        n: after.n,
        test_error: after.test_error,
        test_error_dense: before.test_error,
    })
}

/// The prune report as lines of text.
pub fn render_prune(r: &PruneReport) -> String {
    let mut s = String::new();
    for l in &r.layers {
        s += &format!(
            "{:<22} {:>8} weights, {:>5.1}% kept\n",
            l.name,
            l.weights,
            100.0 * l.kept as f64 / l.weights as f64
        );
    }
    let kept: usize = r.layers.iter().map(|l| l.kept).sum();
    let total: usize = r.layers.iter().map(|l| l.weights).sum();
    s += &format!(
        "kept {:.1}% of weights ({}x fewer); test error {:.2}% -> {:.2}% -> {}\n",
        r.kept_percent,
        total / kept.max(1),
        100.0 * r.test_error_dense,
        100.0 * r.test_error,
        r.model.display()
    );
    s
}

/// Weight sharing (k-means, centroid fine-tuning) as the pipeline's quantization stage
/// does, then the `.shrk` file `out` and its report.
pub fn quantize(m: &Opened, out: &Path) -> Result<CompressReport> {
    let table = ParamTable::from_net(&m.net)?;
    let before = workflow::evaluate(&m.spec, &m.net, &m.src, &m.device, "input")?;
    let (fspec, ftable, folded) = fold::fold_batch_norm(&m.spec, &table)?;
    let shared = quantize_stage(&m.stage(), &fspec, &ftable)?;
    let written_cfg = shared.file_settings(&m.cfg);
    let (qtable, quant) = (shared.table, shared.quant);
    let mut tuned = Net::new(&fspec, &m.device)?;
    qtable.load_into(&mut tuned)?;
    let tuned_preds = batch::predictions(
        &tuned,
        &m.src.test,
        &fspec.input,
        fspec.normalize.as_ref(),
        &m.device,
    );
    encode_and_report(&EncodeInputs {
        shrk_path: out,
        spec: &fspec,
        table: &qtable,
        quant: &quant,
        cfg: &written_cfg,
        src: &m.src,
        device: &m.device,
        dense_name: &m.spec.name,
        dense_table: &table,
        dense_bytes: 4 * m.spec.param_count()? as u64,
        test_error_dense: before.test_error,
        test_error_pruned: before.test_error,
        tuned_preds: &tuned_preds,
        folded,
        started: m.started,
        quiet: m.quiet,
    })
}
