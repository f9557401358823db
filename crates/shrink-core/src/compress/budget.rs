//! A budget instead of hand tuning (issue 14, item 5): `shrink compress MODEL
//! --max-error E | --max-error-increase D | --max-bytes N` chooses every weighted layer's
//! kept fraction and weight-sharing bits itself, for any network.
//!
//! 1. **Sensitivity scans** (Han et al. 2015, Fig. 5; Distiller's sensitivity analysis):
//!    one layer at a time, without retraining, the layer is pruned to each rung of a
//!    ladder of kept fractions, and (separately) its weights are shared at each rung of a
//!    ladder of bits; each time the validation error is measured.
//! 2. **Sizes by the writer**: every (layer, kept fraction, bits) is quantized (k-means,
//!    no fine-tuning) and encoded by shrink-format; the bytes of the layer's section are
//!    its cost. They are exact for that state; retraining changes the Huffman statistics
//!    a little, which is why every attempt is checked on the file as written.
//! 3. **A greedy path** from the least compressed setting to the most: each step takes the
//!    one-rung move (a smaller kept fraction, or one bit less, in one layer) that saves
//!    the most bytes per unit of scanned error it adds. Scanned errors of different
//!    layers are assumed to add up, as sensitivity-driven schedules assume.
//! 4. **Attempts**: a point of the path goes through the whole pipeline ([`compress`]:
//!    iterative pruning with retraining, weight sharing with centroid fine-tuning, Huffman
//!    coding); the `.shrk` it writes is run by shrink-runtime on the validation split and
//!    its size read from disk. The next point is chosen by bisection between the last
//!    point that met the error budget and the first that did not, and by the measured
//!    over predicted size for a byte budget; at most `rounds` attempts.
//!
//! Every decision uses the validation split (held out from training and retraining); the
//! test error is only reported. The smallest attempt that meets the budget (for a byte
//! budget alone: the first, the least pruned one that fits) is copied to `out/model.shrk`;
//! if none meets it, `out/model.shrk` is not written and the report names the attempt that
//! came closest.
//!
//! Not here: the pipeline's stages (`super::compress`), the file format (`shrink-format`).

use super::params::ParamTable;
use super::{
    compact, compress, encode, fold, net_from, prune, quantize, weight_names, CompressConfig,
    CompressReport, Job, QuantMap, Sparsifier,
};
use crate::batch::{Batcher, Split};
use crate::classifier::{Classifier, RuntimeModel};
use crate::model::io;
use crate::workflow;
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use serde::Serialize;
use shrink_data::DataSource;
use shrink_format::spec::ModelSpec;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// What the user asks of the compressed file. Errors are fractions (0.008 = 0.8%),
/// measured on the validation split by shrink-runtime on the `.shrk` as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Budget {
    /// Most validation error of the `.shrk`.
    pub max_error: Option<f64>,
    /// Most validation error over the dense model's (0.002 = 0.2 points).
    pub max_error_increase: Option<f64>,
    /// Most bytes of the `.shrk` on disk.
    pub max_bytes: Option<u64>,
    /// Most runs of the whole pipeline (attempts).
    pub rounds: usize,
    /// The scans measure the error on at most this many validation examples (the
    /// first of the seeded split; 0: all of them). Attempts are judged on all.
    pub scan_examples: usize,
}

impl Budget {
    /// Refuse a budget that asks nothing or something meaningless.
    pub fn validate(&self) -> Result<()> {
        if self.max_error.is_none() && self.max_error_increase.is_none() && self.max_bytes.is_none()
        {
            bail!("a budget needs --max-error, --max-error-increase or --max-bytes");
        }
        for (flag, v) in [
            ("--max-error", self.max_error),
            ("--max-error-increase", self.max_error_increase),
        ] {
            if let Some(v) = v.filter(|v| !(0.0..1.0).contains(v)) {
                bail!("{flag} must be a fraction in [0, 1) or a percentage below 100%, got {v}");
            }
        }
        if self.max_bytes == Some(0) {
            bail!("--max-bytes must be at least 1");
        }
        if self.rounds == 0 {
            bail!("--budget-rounds must be at least 1");
        }
        Ok(())
    }

    /// The validation error the file may have, given the dense model's.
    pub fn error_limit(&self, dense_val_error: f64) -> Option<f64> {
        let inc = self.max_error_increase.map(|d| dense_val_error + d);
        match (self.max_error, inc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// An error given as a fraction (`0.008`) or a percentage (`0.8%`).
pub fn parse_error(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, pct) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let v: f64 = num
        .parse()
        .with_context(|| format!("{s:?}: expected a fraction (0.008) or a percentage (0.8%)"))?;
    let v = if pct { v / 100.0 } else { v };
    if !(0.0..1.0).contains(&v) || (!pct && v >= 1.0) {
        bail!("{s:?}: an error is a fraction in [0, 1) or a percentage below 100% (0.8%)");
    }
    Ok(v)
}

/// Kept fractions the scan tries (each layer's floor, `min_kept_per_unit`, is added where
/// the ladder passes it, and rungs below it dropped).
pub const KEEP_LADDER: [f64; 15] = [
    1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08, 0.06, 0.045, 0.035, 0.025, 0.018, 0.012, 0.008,
];
/// Weight-sharing bits the scan tries.
pub const BITS_LADDER: [u8; 7] = [8, 7, 6, 5, 4, 3, 2];

/// The scans of one weighted layer.
#[derive(Debug, Clone, Serialize)]
pub struct ScanLayer {
    pub name: String,
    pub weights: usize,
    /// Kept fractions tried, largest first.
    pub keeps: Vec<f64>,
    /// Validation error with only this layer pruned to `keeps[i]`, no retraining.
    pub prune_val_error: Vec<f64>,
    /// Bits tried, most first.
    pub bits: Vec<u8>,
    /// Validation error with only this layer's weights shared at `bits[j]`.
    pub bits_val_error: Vec<f64>,
    /// Bytes of the layer's section in the file, `[keep][bits]`, as the writer encodes it.
    pub bytes: Vec<Vec<u64>>,
}

impl ScanLayer {
    /// Scanned error added at rungs (ki, bi) over the dense model's, made monotone along
    /// each ladder (a smaller fraction or fewer bits never counts as better).
    fn cost(&self, e0: f64, ki: usize, bi: usize) -> f64 {
        let up_to = |v: &[f64], i: usize| {
            v[..=i]
                .iter()
                .fold(0.0f64, |m, &e| m.max((e - e0).max(0.0)))
        };
        up_to(&self.prune_val_error, ki) + up_to(&self.bits_val_error, bi)
    }
}

/// The setting chosen for one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerChoice {
    pub name: String,
    pub weights: usize,
    pub keep: f64,
    pub bits: u8,
    /// The layer's section bytes as predicted (no retraining).
    pub predicted_bytes: u64,
    /// Validation error this setting added in the scans (no retraining).
    pub scan_error_increase: f64,
}

/// One run of the pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub round: usize,
    /// Step of the greedy path (0 = least compressed).
    pub path_index: usize,
    /// The run's directory (its `model.shrk`, `report.json`, `pruned/`).
    pub dir: String,
    pub layers: Vec<LayerChoice>,
    pub predicted_bytes: u64,
    /// Size of the `.shrk` on disk.
    pub file_bytes: u64,
    /// Validation error of the `.shrk`, run by shrink-runtime (what decides).
    pub val_error: f64,
    /// Test error of the `.shrk`, run by shrink-runtime (reported only).
    pub test_error: f64,
    pub meets_error: bool,
    pub meets_bytes: bool,
    pub seconds: f64,
}

impl Attempt {
    fn meets(&self) -> bool {
        self.meets_error && self.meets_bytes
    }
}

/// What a budgeted compression reports (`budget.json`).
#[derive(Debug, Clone, Serialize)]
pub struct BudgetReport {
    pub model: String,
    pub data: String,
    pub budget: Budget,
    /// The validation error allowed (from `max_error` / `max_error_increase`).
    pub error_limit: Option<f64>,
    pub dense_val_error: f64,
    pub dense_test_error: f64,
    pub dense_bytes: u64,
    pub val_examples: usize,
    pub test_examples: usize,
    /// Validation examples the scans measured (the first of the split).
    pub scan_examples: usize,
    /// The dense model's error on them.
    pub scan_dense_error: f64,
    pub scan: Vec<ScanLayer>,
    /// Steps of the greedy path.
    pub path_len: usize,
    pub attempts: Vec<Attempt>,
    /// Whether an attempt met the budget.
    pub met: bool,
    /// The attempt copied to `out/model.shrk` (index into `attempts`).
    pub chosen: Option<usize>,
    /// When none met it: the attempt that came closest (least relative excess over the
    /// budget: bytes over / max bytes + error over / allowed error).
    pub closest: Option<usize>,
    /// `out/model.shrk` when met.
    pub shrk: Option<String>,
    pub seconds: f64,
}

impl BudgetReport {
    /// The attempt written as `out/model.shrk`, or the closest one.
    pub fn best(&self) -> Option<&Attempt> {
        self.chosen.or(self.closest).map(|i| &self.attempts[i])
    }

    /// The one line said when the budget is not met.
    pub fn not_met_line(&self) -> String {
        let mut s = format!("the budget ({}) cannot be met", self.budget_text());
        if let Some(a) = self.closest.map(|i| &self.attempts[i]) {
            s.push_str(&format!(
                " in {} attempt{}; closest: {} bytes at {:.2}% validation error ({:.2}% test), {}/model.shrk",
                self.attempts.len(),
                if self.attempts.len() == 1 { "" } else { "s" },
                a.file_bytes,
                100.0 * a.val_error,
                100.0 * a.test_error,
                a.dir
            ));
        }
        s
    }

    fn budget_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = self.error_limit {
            parts.push(format!("validation error <= {:.2}%", 100.0 * l));
        }
        if let Some(b) = self.budget.max_bytes {
            parts.push(format!("<= {b} bytes"));
        }
        parts.join(", ")
    }
}

/// The search's table, as text.
pub fn render(r: &BudgetReport) -> String {
    let mut s = format!(
        "budget: {} (dense: validation error {:.2}%, test error {:.2}%, {} bytes as float32; {} validation examples)\n",
        r.budget_text(),
        100.0 * r.dense_val_error,
        100.0 * r.dense_test_error,
        r.dense_bytes,
        r.val_examples
    );
    s.push_str(&format!(
        "{:>7} {:>5} {:>10} {:>10} {:>9} {:>9} {:>6}  dir\n",
        "attempt", "step", "predicted", "bytes", "val err", "test err", "meets"
    ));
    for (i, a) in r.attempts.iter().enumerate() {
        s.push_str(&format!(
            "{:>7} {:>5} {:>10} {:>10} {:>8.2}% {:>8.2}% {:>6}  {}\n",
            i + 1,
            a.path_index,
            a.predicted_bytes,
            a.file_bytes,
            100.0 * a.val_error,
            100.0 * a.test_error,
            if a.meets() { "yes" } else { "no" },
            a.dir
        ));
    }
    if let Some(a) = r.best() {
        s.push_str(&format!(
            "{} (attempt {}), per layer:\n",
            if r.met { "chosen" } else { "closest" },
            1 + r.chosen.or(r.closest).unwrap_or(0)
        ));
        s.push_str(&format!(
            "{:<22} {:>8} {:>7} {:>5} {:>10} {:>10}\n",
            "tensor", "#w", "kept%", "bits", "pred bytes", "scan +err"
        ));
        for l in &a.layers {
            s.push_str(&format!(
                "{:<22} {:>8} {:>6.1}% {:>5} {:>10} {:>9.2}%\n",
                l.name,
                l.weights,
                100.0 * l.keep,
                l.bits,
                l.predicted_bytes,
                100.0 * l.scan_error_increase
            ));
        }
    }
    if r.met {
        s.push_str(&format!(
            "budget met: {} ({} bytes, {:.1}x; validation error {:.2}%, test error {:.2}%)\n",
            r.shrk.as_deref().unwrap_or(""),
            r.best().map_or(0, |a| a.file_bytes),
            r.dense_bytes as f64 / r.best().map_or(1, |a| a.file_bytes.max(1)) as f64,
            100.0 * r.best().map_or(0.0, |a| a.val_error),
            100.0 * r.best().map_or(0.0, |a| a.test_error)
        ));
    }
    s
}

/// Error of `preds` against `y`.
fn error_of(preds: &[u32], y: &[u32]) -> f64 {
    let wrong = preds.iter().zip(y).filter(|(p, y)| p != y).count();
    wrong as f64 / y.len().max(1) as f64
}

/// The kept fractions tried for a layer: the ladder down to its floor, the floor itself.
fn keep_rungs(floor: f64) -> Vec<f64> {
    let mut v: Vec<f64> = KEEP_LADDER
        .iter()
        .copied()
        .filter(|&k| k > floor + 1e-9)
        .collect();
    v.push(floor);
    v
}

/// Scan every weighted layer: errors without retraining (on `examples` validation
/// examples), and sizes by the writer. Returns the scans and the dense model's error on
/// the scanned examples.
#[allow(clippy::too_many_arguments)]
fn scan(
    spec: &ModelSpec,
    table: &ParamTable,
    cfg: &CompressConfig,
    data: &Batcher,
    examples: usize,
    seed: u64,
    device: &Device,
    say: &dyn Fn(String),
) -> Result<(Vec<ScanLayer>, f64)> {
    let full = data.split(Split::Val);
    let n = if examples == 0 {
        full.len()
    } else {
        examples.min(full.len())
    };
    let val = full.subset(&(0..n).collect::<Vec<_>>());
    let val_error = |t: &ParamTable| -> Result<f64> {
        let net = net_from(spec, t, device)?;
        let preds = crate::batch::predictions(&net, &val, &data.shape, data.norm.as_ref(), device);
        Ok(error_of(&preds, &val.y))
    };
    let e0 = val_error(table)?;
    let mut out = Vec::new();
    for name in weight_names(spec, device)? {
        let p = table.get(&name).context("weight missing from the table")?;
        let keeps = keep_rungs(cfg.keep_floor(&p.shape));
        let mut prune_err = Vec::new();
        let mut masks = Vec::new();
        for &k in &keeps {
            let m = prune::prune_to_keep(&p.data, k);
            let mut t = table.clone();
            let w = &mut t.get_mut(&name).context("weight missing")?.data;
            for (v, keep) in w.iter_mut().zip(&m) {
                if !keep {
                    *v = 0.0;
                }
            }
            prune_err.push(val_error(&t)?);
            masks.push(m);
        }
        let all = vec![true; p.data.len()];
        let mut bits_err = Vec::new();
        for &b in &BITS_LADDER {
            let q = quantize::quantize_layer(&p.data, &all, b, cfg.init, seed);
            let mut t = table.clone();
            t.get_mut(&name).context("weight missing")?.data = q.values();
            bits_err.push(val_error(&t)?);
        }
        let mut bytes = Vec::new();
        for m in &masks {
            let mut row = Vec::new();
            for &b in &BITS_LADDER {
                let q = quantize::quantize_layer(&p.data, m, b, cfg.init, seed);
                row.push(section_bytes(spec, table, cfg, &name, &p.shape, q)?);
            }
            bytes.push(row);
        }
        say(format!(
            "      scan {name} ({} weights, {} validation examples): kept {:.1}% -> +{:.2}% error; {} bits -> +{:.2}% (no retraining)",
            p.data.len(),
            val.len(),
            100.0 * keeps[keeps.len() - 1],
            100.0 * (prune_err[prune_err.len() - 1] - e0).max(0.0),
            BITS_LADDER[BITS_LADDER.len() - 1],
            100.0 * (bits_err[bits_err.len() - 1] - e0).max(0.0),
        ));
        out.push(ScanLayer {
            name,
            weights: p.data.len(),
            keeps,
            prune_val_error: prune_err,
            bits: BITS_LADDER.to_vec(),
            bits_val_error: bits_err,
            bytes,
        });
    }
    Ok((out, e0))
}

fn data_acc_dense(
    spec: &ModelSpec,
    table: &ParamTable,
    data: &Batcher,
    device: &Device,
) -> Result<f64> {
    Ok(data.accuracy(&net_from(spec, table, device)?, Split::Val, device))
}

/// Bytes of `name`'s section when it alone is stored compressed as `q`.
fn section_bytes(
    spec: &ModelSpec,
    table: &ParamTable,
    cfg: &CompressConfig,
    name: &str,
    shape: &[usize],
    q: quantize::Quantized,
) -> Result<u64> {
    let mut quant: QuantMap = BTreeMap::new();
    quant.insert(name.to_string(), (shape.to_vec(), q));
    if cfg.trim_codebooks {
        compact::trim_codebooks(&mut quant);
    }
    let model = encode::to_shrk(spec, table, &quant, cfg.index_bits)?;
    let (_, size) = shrink_format::write(&model).context("cannot encode the scanned layer")?;
    size.tensors
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.bytes)
        .context("scanned layer missing from the size report")
}

/// Bytes of the file outside the compressed weight sections (header, metadata, biases
/// and other float tensors), with every weight compressed at the ladders' first rungs
/// and the test metadata that compress records.
fn rest_bytes(
    spec: &ModelSpec,
    table: &ParamTable,
    cfg: &CompressConfig,
    scans: &[ScanLayer],
    src: &DataSource,
    seed: u64,
) -> Result<u64> {
    let mut quant: QuantMap = BTreeMap::new();
    for s in scans {
        let p = table.get(&s.name).context("weight missing")?;
        let all = vec![true; p.data.len()];
        let q = quantize::quantize_layer(&p.data, &all, 2, cfg.init, seed);
        quant.insert(s.name.clone(), (p.shape.clone(), q));
    }
    let mut model = encode::to_shrk(spec, table, &quant, cfg.index_bits)?;
    crate::tables::set_table_meta(&mut model, src.schema.as_ref())?;
    encode::set_test_meta(&mut model, 0.0123, src.test.len(), &src.name);
    let (_, size) = shrink_format::write(&model).context("cannot encode the model")?;
    let weights: u64 = size
        .tensors
        .iter()
        .filter(|t| quant.contains_key(&t.name))
        .map(|t| t.bytes)
        .sum();
    Ok(size.total_bytes - weights)
}

/// The greedy path: rung indices (kept fraction, bits) per layer, least compressed first.
fn greedy_path(scans: &[ScanLayer], e0: f64, eps: f64) -> Vec<Vec<(usize, usize)>> {
    let mut cur = vec![(0usize, 0usize); scans.len()];
    let mut path = vec![cur.clone()];
    loop {
        let mut best: Option<(f64, usize, (usize, usize))> = None;
        for (l, s) in scans.iter().enumerate() {
            let (ki, bi) = cur[l];
            for (nk, nb) in [(ki + 1, bi), (ki, bi + 1)] {
                if nk >= s.keeps.len() || nb >= s.bits.len() {
                    continue;
                }
                let saved = s.bytes[ki][bi] as f64 - s.bytes[nk][nb] as f64;
                if saved <= 0.0 {
                    continue;
                }
                let added = s.cost(e0, nk, nb) - s.cost(e0, ki, bi);
                let score = saved / (added.max(0.0) + eps);
                if best.is_none_or(|(b, _, _)| score > b) {
                    best = Some((score, l, (nk, nb)));
                }
            }
        }
        let Some((_, l, step)) = best else { break };
        cur[l] = step;
        path.push(cur.clone());
    }
    path
}

/// The per-layer settings and predictions of a path point.
fn choices(scans: &[ScanLayer], point: &[(usize, usize)], e0: f64) -> Vec<LayerChoice> {
    scans
        .iter()
        .zip(point)
        .map(|(s, &(ki, bi))| LayerChoice {
            name: s.name.clone(),
            weights: s.weights,
            keep: s.keeps[ki],
            bits: s.bits[bi],
            predicted_bytes: s.bytes[ki][bi],
            scan_error_increase: s.cost(e0, ki, bi),
        })
        .collect()
}

/// Where the search stands: what is known about the path.
struct Search {
    n: usize,
    /// The last index that met the budget.
    lo: Option<usize>,
    /// The first index known to exceed the error budget.
    hi: usize,
    /// The first index predicted to fit the byte budget.
    bytes_floor: usize,
    tried: Vec<usize>,
}

impl Search {
    /// The next index to try, or None when the search has converged or cannot go on.
    fn next(&self) -> Option<usize> {
        let low = self.bytes_floor.max(self.lo.map_or(0, |l| l + 1));
        if low >= self.hi {
            return None;
        }
        let i = match self.lo {
            Some(lo) => (lo + (self.hi - lo) / 2).max(low),
            None if self.hi < self.n => low + (self.hi - low) / 2,
            None => low,
        };
        (i < self.hi && !self.tried.contains(&i)).then_some(i)
    }

    /// What the attempt at `i` measured. `floor` is the first index that fits the byte
    /// budget with the predicted sizes rescaled by that file's measured/predicted bytes:
    /// a file over the byte budget moves the floor past `i`; one within it moves the
    /// floor to `floor` but not past `i` (a file smaller than predicted opens less
    /// compressed points). An error over the budget caps the range at `i`; a point that
    /// meets both is the new `lo`.
    fn record(&mut self, i: usize, floor: usize, meets_bytes: bool, meets_error: bool) {
        self.bytes_floor = if meets_bytes {
            floor.min(i)
        } else {
            floor.max(i + 1)
        };
        if !meets_error {
            self.hi = self.hi.min(i);
        }
        if meets_bytes && meets_error {
            self.lo = Some(self.lo.map_or(i, |l| l.max(i)));
        }
    }
}

/// Compress to a budget: scan, search, run the pipeline on the chosen points, keep the
/// best file. `base` is a trained model directory, or None to train `spec` first (into
/// `out/base`). Writes `out/attempts/N/`, `out/budget.json`, `out/budget.txt`, and (when
/// met) `out/model.shrk` and `out/report.json`.
pub fn compress_to_budget(job: Job, budget: &Budget) -> Result<BudgetReport> {
    // A budget's attempts start afresh (`job.resume` is not used).
    let Job {
        spec,
        base,
        train: train_cfg,
        cfg,
        src,
        out,
        device,
        resume: _,
        quiet,
    } = job;
    budget.validate()?;
    cfg.validate()?;
    if cfg.method != Sparsifier::DeepCompression {
        bail!("a budget chooses kept fractions for magnitude pruning; it does not apply to --method sparse-vd");
    }
    let started = Instant::now();
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;

    // The dense model: given, or trained now.
    let base_dir = match base {
        Some(d) => d.to_path_buf(),
        None => {
            let dir = out.join("base");
            say("[budget] training the dense model".into());
            let opts = workflow::RunOpts {
                resume: false,
                stop_after: None,
                quiet,
                snapshot_every: None,
            };
            workflow::train_model(
                spec,
                train_cfg,
                None::<&CompressConfig>,
                src,
                &dir,
                device,
                &opts,
            )?;
            dir
        }
    };
    let (dspec, dense) = io::load_model(&base_dir, device)?;
    workflow::check_fits(&dspec, src)?;
    let mut fitted = train_cfg.clone();
    fitted.fit_to_input(&src.train.shape);
    // The split compress's retraining holds out: the same seed and fraction.
    let data = Batcher::new(
        &src.train,
        &src.test,
        dspec.normalize.clone(),
        fitted.val_fraction,
        fitted.seed,
    );
    if !data.has_val() {
        bail!("a budget is decided on a validation split: set [train] val_fraction above 0");
    }
    let dense_table = ParamTable::from_net(&dense)?;
    let (fspec, ftable, _) = fold::fold_batch_norm(&dspec, &dense_table)?;
    let e0 = 1.0 - data_acc_dense(&fspec, &ftable, &data, device)?;
    let dense_test_error = 1.0 - data.accuracy(&dense, Split::Test, device);
    let limit = budget.error_limit(e0);
    let val_n = data.split(Split::Val).len();
    say(format!(
        "[budget] dense model: validation error {:.2}%, test error {:.2}%; scanning each layer (no retraining)",
        100.0 * e0,
        100.0 * dense_test_error
    ));

    let (scans, e0s) = scan(
        &fspec,
        &ftable,
        cfg,
        &data,
        budget.scan_examples,
        fitted.seed,
        device,
        &say,
    )?;
    let scan_n = if budget.scan_examples == 0 {
        val_n
    } else {
        budget.scan_examples.min(val_n)
    };
    let rest = rest_bytes(&fspec, &ftable, cfg, &scans, src, fitted.seed)?;
    let path = greedy_path(&scans, e0s, 0.5 / scan_n as f64);
    let predicted = |i: usize| -> u64 {
        rest + scans
            .iter()
            .zip(&path[i])
            .map(|(s, &(k, b))| s.bytes[k][b])
            .sum::<u64>()
    };
    let proxy = |i: usize| -> f64 {
        scans
            .iter()
            .zip(&path[i])
            .map(|(s, &(k, b))| s.cost(e0s, k, b))
            .sum()
    };
    let n = path.len();
    let first_fit = |scale: f64| -> usize {
        match budget.max_bytes {
            None => 0,
            Some(b) => (0..n)
                .find(|&i| predicted(i) as f64 * scale <= b as f64)
                .unwrap_or(n),
        }
    };
    say(format!(
        "[budget] greedy path of {n} steps: {} bytes (scanned +{:.2}%) down to {} bytes (scanned +{:.2}%)",
        predicted(0),
        100.0 * proxy(0),
        predicted(n - 1),
        100.0 * proxy(n - 1)
    ));
    let mut search = Search {
        n,
        lo: None,
        hi: n,
        bytes_floor: first_fit(1.0),
        tried: Vec::new(),
    };
    // First try: the most compressed point whose scanned error (no retraining, so
    // pessimistic) stays within the allowance, and that fits the byte budget.
    let mut next = match limit {
        Some(l) => {
            let within = (0..n).rev().find(|&i| e0 + proxy(i) <= l).unwrap_or(0);
            Some(within.max(search.bytes_floor)).filter(|&i| i < n)
        }
        None => search.next(),
    };
    if next.is_none() {
        say("[budget] no point of the path is predicted to fit the byte budget; trying the smallest".into());
        next = Some(n - 1);
    }
    let dense_bytes = 4 * fspec.param_count()? as u64;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut reports: Vec<CompressReport> = Vec::new();
    while let Some(i) = next {
        if attempts.len() >= budget.rounds {
            break;
        }
        search.tried.push(i);
        let round = attempts.len() + 1;
        let layers = choices(&scans, &path[i], e0s);
        let mut acfg = cfg.clone();
        acfg.keep = layers.iter().map(|l| (l.name.clone(), l.keep)).collect();
        acfg.bits = layers.iter().map(|l| (l.name.clone(), l.bits)).collect();
        // The budget decides what is kept, not the per-stage guards.
        acfg.max_val_drop = 1.0;
        let dir = out.join("attempts").join(round.to_string());
        say(format!(
            "[budget] attempt {round}/{}: step {i} of {n}, predicted {} bytes, scanned +{:.2}% error",
            budget.rounds,
            predicted(i),
            100.0 * proxy(i)
        ));
        let t0 = Instant::now();
        let report = compress(Job {
            spec: dspec.clone(),
            base: Some(&base_dir),
            train: train_cfg,
            cfg: &acfg,
            src,
            out: &dir,
            device,
            resume: false,
            quiet,
        })?;
        let shrk = dir.join("model.shrk");
        let bytes =
            std::fs::read(&shrk).with_context(|| format!("cannot read {}", shrk.display()))?;
        let val = data.split(Split::Val);
        let val_error = error_of(&RuntimeModel::from_bytes(&bytes)?.predictions(val)?, &val.y);
        let a = Attempt {
            round,
            path_index: i,
            dir: dir.display().to_string(),
            layers,
            predicted_bytes: predicted(i),
            file_bytes: bytes.len() as u64,
            val_error,
            test_error: report.test_error_shrk,
            meets_error: limit.is_none_or(|l| val_error <= l),
            meets_bytes: budget.max_bytes.is_none_or(|b| bytes.len() as u64 <= b),
            seconds: t0.elapsed().as_secs_f64(),
        };
        say(format!(
            "[budget] attempt {round}: {} bytes, validation error {:.2}% -> {}",
            a.file_bytes,
            100.0 * a.val_error,
            match (a.meets_error, a.meets_bytes) {
                (true, true) => "meets the budget",
                (false, true) => "over the error budget",
                (true, false) => "over the byte budget",
                (false, false) => "over both budgets",
            }
        ));
        let scale = a.file_bytes as f64 / a.predicted_bytes.max(1) as f64;
        search.record(i, first_fit(scale), a.meets_bytes, a.meets_error);
        let done = a.meets() && limit.is_none();
        attempts.push(a);
        reports.push(report);
        if done {
            break;
        }
        next = search.next();
    }

    let chosen = attempts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.meets())
        .min_by_key(|(_, a)| a.file_bytes)
        .map(|(i, _)| i);
    let closest = if chosen.is_some() {
        None
    } else {
        let excess = |a: &Attempt| {
            let b = budget
                .max_bytes
                .map_or(0.0, |m| (a.file_bytes as f64 / m as f64 - 1.0).max(0.0));
            let e = limit.map_or(0.0, |l| ((a.val_error - l) / l.max(1e-3)).max(0.0));
            b + e
        };
        (0..attempts.len()).min_by(|&x, &y| excess(&attempts[x]).total_cmp(&excess(&attempts[y])))
    };
    let mut shrk = None;
    if let Some(c) = chosen {
        let from = Path::new(&attempts[c].dir).join("model.shrk");
        let to = out.join("model.shrk");
        io::write_atomic(&to, &std::fs::read(&from)?)?;
        let mut r = reports[c].clone();
        r.shrk = to.display().to_string();
        io::write_atomic(
            &out.join("report.json"),
            serde_json::to_string_pretty(&r)?.as_bytes(),
        )?;
        io::write_atomic(&out.join("report.txt"), super::render_table(&r).as_bytes())?;
        shrk = Some(to.display().to_string());
    }
    let report = BudgetReport {
        model: dspec.name.clone(),
        data: src.name.clone(),
        budget: budget.clone(),
        error_limit: limit,
        dense_val_error: e0,
        dense_test_error,
        dense_bytes,
        val_examples: val_n,
        test_examples: src.test.len(),
        scan_examples: scan_n,
        scan_dense_error: e0s,
        scan: scans,
        path_len: n,
        met: chosen.is_some(),
        chosen,
        closest,
        attempts,
        shrk,
        seconds: started.elapsed().as_secs_f64(),
    };
    io::write_atomic(
        &out.join("budget.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    io::write_atomic(&out.join("budget.txt"), render(&report).as_bytes())?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_parse_as_fractions_or_percentages() {
        assert_eq!(parse_error("0.008").unwrap(), 0.008);
        assert!((parse_error("0.8%").unwrap() - 0.008).abs() < 1e-12);
        assert!((parse_error(" 2 % ").unwrap() - 0.02).abs() < 1e-12);
        for bad in ["1", "1.5", "-0.1", "100%", "abc", "%"] {
            assert!(parse_error(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn error_limit_takes_the_tighter() {
        let b = Budget {
            max_error: Some(0.02),
            max_error_increase: Some(0.005),
            max_bytes: None,
            rounds: 3,
            scan_examples: 0,
        };
        assert!((b.error_limit(0.01).unwrap() - 0.015).abs() < 1e-12);
        assert!((b.error_limit(0.018).unwrap() - 0.02).abs() < 1e-12);
        assert!(Budget::default().validate().is_err());
    }

    fn layer(prune: &[f64], bits: &[f64], bytes: Vec<Vec<u64>>) -> ScanLayer {
        ScanLayer {
            name: "w".into(),
            weights: 100,
            keeps: (0..prune.len()).map(|i| 1.0 / (i + 1) as f64).collect(),
            prune_val_error: prune.to_vec(),
            bits: (0..bits.len()).map(|j| 8 - j as u8).collect(),
            bits_val_error: bits.to_vec(),
            bytes,
        }
    }

    #[test]
    fn greedy_path_spends_error_where_it_buys_most_bytes() {
        // Layer a: pruning it costs little error for many bytes; layer b: much error.
        let a = layer(
            &[0.1, 0.1, 0.11],
            &[0.1, 0.1],
            vec![vec![1000, 900], vec![500, 450], vec![200, 180]],
        );
        let b = layer(
            &[0.1, 0.3],
            &[0.1, 0.1],
            vec![vec![1000, 950], vec![600, 570]],
        );
        let path = greedy_path(&[a.clone(), b.clone()], 0.1, 0.001);
        // Free moves first (no scanned error): a's pruning step 1 and both bits steps.
        let last = path.last().unwrap();
        assert_eq!(last, &vec![(2, 1), (1, 1)]);
        let b_pruned_at = path.iter().position(|p| p[1].0 == 1).unwrap();
        let a_pruned_at = path.iter().position(|p| p[0].0 == 2).unwrap();
        assert!(a_pruned_at < b_pruned_at, "{path:?}");
        // Bytes fall along the path.
        let bytes = |p: &Vec<(usize, usize)>| a.bytes[p[0].0][p[0].1] + b.bytes[p[1].0][p[1].1];
        assert!(path.windows(2).all(|w| bytes(&w[1]) < bytes(&w[0])));
    }

    #[test]
    fn search_bisects_between_met_and_failed() {
        let mut s = Search {
            n: 20,
            lo: Some(4),
            hi: 20,
            bytes_floor: 0,
            tried: vec![4],
        };
        assert_eq!(s.next(), Some(12));
        s.hi = 12;
        s.tried.push(12);
        assert_eq!(s.next(), Some(8));
        s.lo = Some(11);
        assert_eq!(s.next(), None);
        // Nothing met yet, the error budget failed at 6, bytes need at least 4.
        let s = Search {
            n: 20,
            lo: None,
            hi: 6,
            bytes_floor: 4,
            tried: vec![6],
        };
        assert_eq!(s.next(), Some(5));
        let s = Search {
            n: 20,
            lo: None,
            hi: 4,
            bytes_floor: 4,
            tried: vec![4],
        };
        assert_eq!(s.next(), None);
    }

    #[test]
    fn measured_sizes_move_the_byte_floor_both_ways() {
        // First try at 32 (the first point predicted to fit): the file came out smaller
        // than predicted and within the bytes, but over the error budget. With the sizes
        // rescaled, points from 20 on fit: the search goes on between 20 and 32.
        let mut s = Search {
            n: 80,
            lo: None,
            hi: 80,
            bytes_floor: 32,
            tried: vec![32],
        };
        s.record(32, 20, true, false);
        assert_eq!((s.bytes_floor, s.hi, s.lo), (20, 32, None));
        assert_eq!(s.next(), Some(26));
        // A file over the bytes: the floor moves past it even if the rescaled
        // prediction says otherwise.
        s.tried.push(26);
        s.record(26, 24, false, true);
        assert_eq!(s.bytes_floor, 27);
        assert_eq!(s.next(), Some(29));
        // Within both: the new lo; a rescaled floor never passes the point that fit.
        s.tried.push(29);
        s.record(29, 40, true, true);
        assert_eq!((s.bytes_floor, s.lo), (29, Some(29)));
        assert_eq!(s.next(), Some(30));
    }
}
