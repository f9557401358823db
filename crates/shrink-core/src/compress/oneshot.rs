//! One-shot Deep Compression without data: prune → k-means → Huffman → `.shrk` on the
//! weights a model already has (initialised from its spec, or a model directory's),
//! with no retraining and no fine-tuning, then the file read back, loaded by the
//! runtime and run on one fixed pseudo-random input, its logits checked against the
//! decoded dense model run by Burn.
//!
//! This is what the papers' own networks (AlexNet, VGG-16: 60–140 M parameters) can go
//! through here, where ImageNet cannot be fetched: a structural result (file size, where
//! the bytes go, time and peak memory of each stage), not an accuracy claim. Every stage
//! is timed and its peak resident memory measured on its own (Linux: `VmHWM` after
//! resetting it through `/proc/self/clear_refs`).
//!
//! Not here: the pipeline with retraining ([`super::compress`]), the container format
//! (`shrink-format`), the kernels (`shrink-runtime`).

use super::params::ParamTable;
use super::{encode, fold, layer_bits, prune, quantize, CompressConfig, LayerRow, QuantMap};
use crate::batch;
use crate::model::{io, Net};
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use serde::Serialize;
use shrink_format::spec::ModelSpec;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Time and peak resident memory of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageCost {
    /// Stage name (`init`, `fold`, `prune`, `kmeans`, `encode`, `write`, `read`,
    /// `runtime load`, `runtime forward b1`, …).
    pub stage: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Peak resident memory of the process during the stage, bytes (what the process
    /// already held counts too). `None` where the system does not report it.
    pub peak_rss_bytes: Option<u64>,
}

/// What [`one_shot`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct OneShotReport {
    /// Model name from the spec.
    pub model: String,
    /// Where the `.shrk` file was written.
    pub shrk: String,
    /// Learned parameters of the model.
    pub params: u64,
    /// Weights of the compressed (linear and conv) layers.
    pub weights: u64,
    /// Of those, kept after pruning.
    pub kept: u64,
    /// Filler entries the relative indices needed, all layers.
    pub fillers: u64,
    /// Parameters as float32, bytes.
    pub dense_bytes: u64,
    /// `.shrk` file size, bytes.
    pub file_bytes: u64,
    /// `dense_bytes / file_bytes`.
    pub ratio: f64,
    /// Bytes of the file not attributed to a tensor (header, spec, meta).
    pub header_bytes: u64,
    /// Bytes of the compressed tensors' weight-symbol streams.
    pub weight_stream_bytes: u64,
    /// Bytes of the compressed tensors' relative-index streams.
    pub index_stream_bytes: u64,
    /// Bytes of codebooks and Huffman tables.
    pub codebook_and_table_bytes: u64,
    /// Bytes of tensors stored dense (biases).
    pub dense_tensor_bytes: u64,
    /// Per-tensor rows (the paper's per-layer table).
    pub layers: Vec<LayerRow>,
    /// Bytes the runtime holds for the loaded model (`Model::memory_bytes`).
    pub runtime_model_bytes: u64,
    /// Largest |runtime logit − decoded dense Burn logit| at batch 1.
    pub max_abs_logit_diff: f64,
    /// Time and peak memory of each stage, in order.
    pub stages: Vec<StageCost>,
    /// The settings used.
    pub config: CompressConfig,
}

/// Largest allowed |runtime − Burn| logit difference.
pub const LOGIT_TOLERANCE: f64 = 1e-4;

/// Peak-memory probe: resets the kernel's high-water mark at the start of a stage.
struct Probe {
    resettable: bool,
}

impl Probe {
    fn new() -> Probe {
        Probe {
            resettable: Path::new("/proc/self/clear_refs").exists(),
        }
    }

    fn reset(&self) {
        if self.resettable {
            // "5" resets VmHWM to the current RSS (Linux ≥ 4.0). Failure only loses
            // the per-stage split; the peak then covers the run so far.
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }
    }

    fn peak(&self) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

/// Runs stages, timing them and printing one progress line per stage.
struct Stages {
    probe: Probe,
    costs: Vec<StageCost>,
    quiet: bool,
    total: usize,
}

impl Stages {
    fn run<T>(&mut self, name: &str, f: impl FnOnce(&Progress) -> Result<T>) -> Result<T> {
        let n = self.costs.len() + 1;
        let progress = Progress {
            label: format!("[{n}/{}] {name}", self.total),
            quiet: self.quiet,
            tty: std::io::stderr().is_terminal(),
        };
        progress.show(0, 1);
        self.probe.reset();
        let t = Instant::now();
        let out = f(&progress).with_context(|| format!("stage {name}"))?;
        let cost = StageCost {
            stage: name.to_string(),
            seconds: t.elapsed().as_secs_f64(),
            peak_rss_bytes: self.probe.peak(),
        };
        if !self.quiet {
            let mem = cost.peak_rss_bytes.map_or(String::new(), |b| {
                format!(", peak {:.0} MB", b as f64 / 1e6)
            });
            eprintln!(
                "{}{} done in {:.2} s{mem}",
                if progress.tty { "\r\x1b[2K" } else { "" },
                progress.label,
                cost.seconds
            );
        }
        self.costs.push(cost);
        Ok(out)
    }
}

/// A stage's progress bar over its layers, redrawn in place on a terminal; elsewhere
/// (a log file) only each stage's final line is printed.
struct Progress {
    label: String,
    quiet: bool,
    tty: bool,
}

impl Progress {
    fn show(&self, done: usize, of: usize) {
        if self.quiet || !self.tty {
            return;
        }
        const W: usize = 30;
        let fill = (W * done) / of.max(1);
        eprint!(
            "\r\x1b[2K{} [{}{}] {done}/{of}",
            self.label,
            "#".repeat(fill),
            "-".repeat(W - fill)
        );
        let _ = std::io::stderr().flush();
    }
}

/// A fixed pseudo-random input in [0, 1) (xorshift; the same on every machine).
pub fn probe_input(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// Run the one-shot pipeline on `spec` (weights initialised from it, seeded by `seed`)
/// or on the model in `base`, writing `out/model.shrk` and `out/oneshot.json`. Runtime
/// forwards are timed at each batch size in `batches` (batch 1 is always run: it is
/// the check against Burn).
#[allow(clippy::too_many_arguments)]
pub fn one_shot(
    spec: ModelSpec,
    base: Option<&Path>,
    cfg: &CompressConfig,
    seed: u64,
    out: &Path,
    batches: &[usize],
    device: &Device,
    quiet: bool,
) -> Result<OneShotReport> {
    cfg.validate()?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut batches: Vec<usize> = batches.iter().copied().filter(|&b| b > 1).collect();
    batches.sort_unstable();
    batches.dedup();
    let mut st = Stages {
        probe: Probe::new(),
        costs: Vec::new(),
        quiet,
        total: 12 + batches.len(),
    };
    let limits = crate::limits::get();

    // Weights: initialised from the spec or read from a model directory.
    let (spec, table) = st.run("init", |_| {
        let (spec, net) = match base {
            Some(dir) => io::load_model(dir, device)?,
            None => {
                device.seed(seed);
                let net = Net::new(&spec, device)?;
                (spec, net)
            }
        };
        Ok((spec, ParamTable::from_net(&net)?))
    })?;
    let params = table.numel() as u64;
    let (spec, mut table) = st.run("fold", |_| {
        let (s, t, _) = fold::fold_batch_norm(&spec, &table)?;
        Ok((s, t))
    })?;
    let names = super::weight_names(&spec, device)?;

    // Prune each layer to its kept fraction (or quality × σ), in one round, exactly as
    // asked: no floor of kept weights per unit, no retraining.
    st.run("prune", |p| {
        for (i, name) in names.iter().enumerate() {
            p.show(i, names.len());
            let w = table.get_mut(name).expect("weight in table");
            let std = prune::std_dev(&w.data);
            let m = prune::round_mask(&w.data, None, cfg.target(name), std, 1, 1);
            for (v, k) in w.data.iter_mut().zip(&m) {
                if !k {
                    *v = 0.0;
                }
            }
        }
        Ok(())
    })?;

    // k-means weight sharing per layer over the kept weights.
    let quant: QuantMap = st.run("kmeans", |p| {
        let mut quant = QuantMap::new();
        for (i, name) in names.iter().enumerate() {
            p.show(i, names.len());
            let w = table.get(name).expect("weight in table");
            let mask: Vec<bool> = w.data.iter().map(|v| *v != 0.0).collect();
            let bits = layer_bits(cfg, name, w.shape.len());
            let q = quantize::quantize_layer(&w.data, &mask, bits, cfg.init, seed);
            quant.insert(name.clone(), (w.shape.clone(), q));
        }
        Ok(quant)
    })?;
    for (name, (_, q)) in &quant {
        table.get_mut(name).expect("weight in table").data = q.values();
    }

    // Huffman coding and the container.
    let (bytes, size) = st.run("encode", |_| {
        let mut model = encode::to_shrk(&spec, &table, &quant, cfg.index_bits)?;
        model.meta.push((
            "oneshot".into(),
            "weights not trained on data: no accuracy measured".into(),
        ));
        shrink_format::write(&model).context("cannot encode")
    })?;
    drop(quant);
    drop(table);
    let shrk_path: PathBuf = out.join("model.shrk");
    st.run("write", |_| io::write_atomic(&shrk_path, &bytes))?;
    let file_bytes = std::fs::metadata(&shrk_path)?.len();
    if file_bytes != size.total_bytes || bytes.len() as u64 != file_bytes {
        bail!(
            "internal: size report {} != file size {file_bytes}",
            size.total_bytes
        );
    }
    drop(bytes);

    // Read back: the container, then the runtime's model.
    let bytes = st.run("read", |_| {
        std::fs::read(&shrk_path).with_context(|| format!("cannot read {}", shrk_path.display()))
    })?;
    let file = st.run("parse", |_| {
        shrink_format::read(&bytes).with_context(|| shrk_path.display().to_string())
    })?;
    drop(bytes);
    let model = st.run("runtime load", |_| {
        Ok(shrink_runtime::Model::from_shrk_with(&file, &limits)?)
    })?;
    let len = model.input_len();
    let mut ws = shrink_runtime::Workspace::default();
    let mut logits = Vec::new();
    let x1 = probe_input(len, seed);
    st.run("runtime forward b1", |_| {
        model
            .forward(&x1, 1, &mut ws, &mut logits)
            .map_err(anyhow::Error::from)
    })?;
    let runtime_logits = logits.clone();
    for &b in &batches {
        let xb = probe_input(len * b, seed.wrapping_add(b as u64));
        st.run(&format!("runtime forward b{b}"), |_| {
            model
                .forward(&xb, b, &mut ws, &mut logits)
                .map_err(anyhow::Error::from)
        })?;
    }
    let runtime_model_bytes = model.memory_bytes() as u64;
    drop(ws);
    drop(model);

    // The decoded dense model, run by Burn on the same input.
    let net = st.run("burn load (decoded dense)", |_| {
        let mut net = Net::new(&spec, device)?;
        let mut dense = ParamTable::default();
        for t in &file.tensors {
            let (shape, data) = match &t.data {
                shrink_format::TensorData::Dense { shape, values } => (shape, values.clone()),
                shrink_format::TensorData::Compressed(c) => (&c.shape, c.to_dense()),
            };
            dense.params.push(super::params::Param {
                name: t.name.clone(),
                shape: shape.iter().map(|&d| d as usize).collect(),
                data,
            });
        }
        dense.load_into(&mut net)?;
        Ok(net)
    })?;
    drop(file);
    let burn_logits: Vec<f32> = st.run("burn forward b1", |_| {
        let dev = batch::inference_device(device);
        let mut x = x1.clone();
        batch::normalize(spec.normalize.as_ref(), &spec.input, &mut x);
        net.forward(batch::to_feat(x, 1, &spec.input, &dev))
            .into_data()
            .try_into_vec_as::<f32>()
            .context("cannot read the Burn logits")
    })?;
    if burn_logits.len() != runtime_logits.len() {
        bail!(
            "runtime gave {} logits, Burn {}",
            runtime_logits.len(),
            burn_logits.len()
        );
    }
    let max_abs_logit_diff = runtime_logits
        .iter()
        .zip(&burn_logits)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(0.0, f64::max);

    let comp = |f: fn(&shrink_format::TensorSize) -> u64| -> u64 {
        size.tensors.iter().filter(|t| t.compressed).map(f).sum()
    };
    let weights = comp(|t| t.numel);
    let dense_bytes = 4 * params;
    let layers = size.tensors.iter().map(LayerRow::from).collect();
    let report = OneShotReport {
        model: spec.name.clone(),
        shrk: shrk_path.display().to_string(),
        params,
        weights,
        kept: comp(|t| t.kept),
        fillers: comp(|t| t.fillers),
        dense_bytes,
        file_bytes,
        ratio: dense_bytes as f64 / file_bytes as f64,
        header_bytes: size.header_bytes,
        weight_stream_bytes: comp(|t| t.weight_stream_bytes),
        index_stream_bytes: comp(|t| t.index_stream_bytes),
        codebook_and_table_bytes: comp(|t| t.codebook_bytes + t.table_bytes),
        dense_tensor_bytes: size
            .tensors
            .iter()
            .filter(|t| !t.compressed)
            .map(|t| t.bytes)
            .sum(),
        layers,
        runtime_model_bytes,
        max_abs_logit_diff,
        stages: st.costs,
        config: cfg.clone(),
    };
    io::write_atomic(
        &out.join("oneshot.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    if max_abs_logit_diff > LOGIT_TOLERANCE {
        bail!(
            "the runtime's logits differ from the decoded dense model's by {max_abs_logit_diff:.3e} (> {LOGIT_TOLERANCE:e}); report in {}",
            out.join("oneshot.json").display()
        );
    }
    Ok(report)
}

/// The one-shot report as text: where the bytes go, then each stage's cost.
pub fn render(r: &OneShotReport) -> String {
    let mut s = String::new();
    let mb = |b: u64| b as f64 / 1e6;
    s.push_str(&format!(
        "{}: {} parameters, {} weights compressed, {:.2}% kept ({} fillers)\n",
        r.model,
        r.params,
        r.weights,
        100.0 * r.kept as f64 / r.weights.max(1) as f64,
        r.fillers
    ));
    s.push_str(&format!(
        "dense {:.2} MB -> .shrk {:.3} MB ({} bytes): {:.1}x\n",
        mb(r.dense_bytes),
        mb(r.file_bytes),
        r.file_bytes,
        r.ratio
    ));
    s.push_str(&format!(
        "bytes: weights {}  indices {}  codebooks+tables {}  biases (dense) {}  header {}  other framing {}\n",
        r.weight_stream_bytes,
        r.index_stream_bytes,
        r.codebook_and_table_bytes,
        r.dense_tensor_bytes,
        r.header_bytes,
        r.file_bytes
            - r.weight_stream_bytes
            - r.index_stream_bytes
            - r.codebook_and_table_bytes
            - r.dense_tensor_bytes
            - r.header_bytes
    ));
    s.push_str(&format!(
        "runtime: model {:.2} MB in memory; batch-1 logits vs decoded dense Burn: max |diff| {:.2e}\n",
        mb(r.runtime_model_bytes),
        r.max_abs_logit_diff
    ));
    s.push_str(&format!(
        "{:<28} {:>10} {:>12}\n",
        "stage", "seconds", "peak RSS MB"
    ));
    for c in &r.stages {
        s.push_str(&format!(
            "{:<28} {:>10.3} {:>12}\n",
            c.stage,
            c.seconds,
            c.peak_rss_bytes
                .map_or("?".to_string(), |b| format!("{:.0}", mb(b)))
        ));
    }
    s
}
