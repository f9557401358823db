//! Deep Compression (Han, Mao, Dally, ICLR 2016) as one pipeline:
//! train-or-load → fold batch norm → prune + retrain (iterative) → k-means weight
//! sharing + centroid fine-tuning → Huffman-coded `.shrk` file → evaluate the file.
//!
//! Each stage writes its result under the output directory before the next starts, so an
//! interrupted run resumes at the stage it was in (`--resume`).

pub mod budget;
pub mod compact;
pub mod encode;
pub mod fidelity;
pub mod fold;
pub mod guard;
pub mod oneshot;
pub mod overrides;
/// The parameter table compression works on lives with the model ([`crate::model::params`]).
pub use crate::model::params;
pub mod prune;
pub mod quantize;
pub mod sparse_vd;

use crate::batch::{self, Batcher};
use crate::classifier::{open, Classifier};
use crate::model::{io, Net};
use crate::store::Store;
use crate::train::{self, DistillLoss, Targets, TrainConfig};
use crate::workflow;
use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::prelude::*;
use params::ParamTable;
use prune::{Mask, MaskHooks, PruneTarget};
use quantize::{CentroidInit, Quantized, ShareHooks};
use serde::{Deserialize, Serialize};
use shrink_data::DataSource;
use shrink_format::spec::{Layer, ModelSpec};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Settings of the pipeline: a `[compress]` table in a spec file, overridden by flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompressConfig {
    /// Prune → retrain rounds (iterative pruning beats one-shot).
    pub rounds: usize,
    /// Retraining epochs after each pruning round.
    pub retrain_epochs: usize,
    /// Retraining learning rate as a fraction of the training rate (Han: 1/10 for LeNet).
    pub lr_scale: f64,
    /// Threshold = quality × std of the layer's weights, for layers without `keep`.
    pub quality: f64,
    /// Per-layer quality factors, by weight name (`layers.1.weight`).
    pub layer_quality: BTreeMap<String, f64>,
    /// Per-layer fraction of weights to keep (instead of a quality factor), by weight
    /// name after batch-norm folding (`shrink info` of the pruned model lists them).
    pub keep: BTreeMap<String, f64>,
    /// Quantization bits for conv (and conv-transpose) layers.
    pub conv_bits: u8,
    /// Quantization bits for linear layers.
    pub fc_bits: u8,
    /// Per-layer bits, by weight name.
    pub bits: BTreeMap<String, u8>,
    /// Width of a relative sparse index (gap) field.
    pub index_bits: u8,
    /// Centroid fine-tuning epochs.
    pub finetune_epochs: usize,
    /// Centroid fine-tuning learning rate as a fraction of the training rate. A centroid's
    /// gradient sums those of all its weights, so it wants a smaller rate than retraining.
    pub finetune_lr_scale: f64,
    /// Centroid initialisation.
    pub init: CentroidInit,
    /// At least this many optimiser steps of retraining per pruning round, whatever
    /// `retrain_epochs` gives: on 100 rows an epoch is 2 steps, and a net retrained for
    /// 6 steps has not recovered from losing most of its weights.
    pub min_retrain_steps: usize,
    /// At least this many optimiser steps of centroid fine-tuning.
    pub min_finetune_steps: usize,
    /// Pruning keeps, per layer, at least this many weights per output unit on average
    /// (a fraction `min(1, this / fan-in)`), whatever `keep` or `quality` ask: kept
    /// fractions chosen for 784 inputs leave one weight per unit of a 13-input layer.
    pub min_kept_per_unit: usize,
    /// Most validation accuracy (a fraction) compression may lose against the dense
    /// model: a pruning round that loses more than half of it on validation is undone
    /// (pruning stops there), weight sharing that does is redone with one more bit per
    /// layer (`guard`).
    pub max_val_drop: f64,
    /// On a validation split too small for accuracy to see half of `max_val_drop` (fewer
    /// than `2 / max_val_drop` rows), also judge each stage by an estimate of how often it
    /// changes a prediction, from the validation rows' margins (`guard`), and give more
    /// bits only to the layers whose sharing alone fails. Off by default: on the held-out
    /// small sets it halved compression without fewer misses (BENCHMARKS.md, issue 11).
    pub small_split_guard: bool,
    /// Retrain and fine-tune towards the outputs of the model being compressed (soft
    /// targets: distillation at temperature 1) rather than the labels, so that the
    /// compressed model keeps predicting as the dense one did; retraining on labels
    /// re-fits a small, noisy data set and moves its borderline predictions. Labels are
    /// used anyway with augmentation (the model's outputs are for the examples as they
    /// are).
    pub distill: bool,
    /// How weights are removed: Deep Compression's magnitude pruning with retraining
    /// (the default) or sparse variational dropout (`sparse_vd`, settings below).
    pub method: Sparsifier,
    /// Settings of `method = "sparse_vd"` (`[compress.sparse_vd]`).
    pub sparse_vd: sparse_vd::SparseVdConfig,
    /// After sparsification, remove units whose incoming or outgoing weights are all
    /// pruned (rows, columns, filters, channels, biases; see `compact`).
    pub remove_units: bool,
    /// Store biases as codebooks of this many bits where smaller than float32 (none:
    /// float32).
    pub bias_bits: Option<u8>,
    /// Drop the centroids no weight uses (layers with fewer kept weights than
    /// `2^bits`), so that the file does not store them.
    pub trim_codebooks: bool,
    /// Round the codebooks and the tensors stored as they are (biases) to half
    /// precision, so that a `compact` file stores them in 16 bits each (`compact`).
    pub half: bool,
    /// Write `.shrk` format version 2 (docs/FORMAT.md): spec and metadata deflated,
    /// half-precision tensors and codebooks in 16 bits. Readers older than it refuse it.
    pub compact: bool,
    /// Small data (`[compress.small_data]`, see `fidelity`): below a number of training
    /// rows, retrain and fine-tune on MUNGE rows labelled by the dense model, and judge
    /// each stage by agreement with the dense model on thousands of rows.
    pub small_data: fidelity::SmallDataConfig,
}

/// The sparsification stage of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sparsifier {
    /// Han et al.: prune by magnitude, retrain, `rounds` times.
    #[default]
    DeepCompression,
    /// Molchanov et al. 2017: learn a dropout rate per weight, drop those above
    /// `sparse_vd.log_alpha_threshold` (see `sparse_vd`).
    SparseVd,
}

impl Default for CompressConfig {
    fn default() -> Self {
        CompressConfig {
            rounds: 3,
            retrain_epochs: 3,
            lr_scale: 0.1,
            quality: 1.0,
            layer_quality: BTreeMap::new(),
            keep: BTreeMap::new(),
            conv_bits: 8,
            fc_bits: 5,
            bits: BTreeMap::new(),
            index_bits: 5,
            finetune_epochs: 3,
            finetune_lr_scale: 0.01,
            init: CentroidInit::Linear,
            min_retrain_steps: 300,
            min_finetune_steps: 300,
            min_kept_per_unit: 24,
            max_val_drop: 0.01,
            small_split_guard: false,
            distill: true,
            method: Sparsifier::DeepCompression,
            sparse_vd: sparse_vd::SparseVdConfig::default(),
            remove_units: false,
            bias_bits: None,
            trim_codebooks: false,
            half: false,
            compact: false,
            small_data: fidelity::SmallDataConfig::default(),
        }
    }
}

impl CompressConfig {
    pub fn from_table(v: Option<&toml::Value>) -> Result<Self> {
        match v {
            None => Ok(Self::default()),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| anyhow::anyhow!("[compress]: {}", e.message())),
        }
    }

    pub fn validate(&self) -> Result<()> {
        for b in [self.conv_bits, self.fc_bits]
            .iter()
            .chain(self.bits.values())
        {
            if !(1..=8).contains(b) {
                bail!("quantization bits must be 1 to 8, got {b}");
            }
        }
        if !(1..=16).contains(&self.index_bits) {
            bail!("index bits must be 1 to 16, got {}", self.index_bits);
        }
        self.sparse_vd.validate()?;
        self.small_data.validate()?;
        if let Some(b) = self.bias_bits.filter(|b| !(1..=8).contains(b)) {
            bail!("bias bits must be 1 to 8, got {b}");
        }
        if let Some((k, v)) = self.keep.iter().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
            bail!("keep fraction of {k} must be in [0, 1], got {v}");
        }
        if self.quality < 0.0 {
            bail!("quality must be non-negative");
        }
        Ok(())
    }

    /// The least fraction of a weight tensor of PyTorch shape `shape` (`[out, in]` or
    /// `[out, in, kh, kw]`) that pruning keeps: `min_kept_per_unit` per output unit.
    pub fn keep_floor(&self, shape: &[usize]) -> f64 {
        let fan_in: usize = shape.iter().skip(1).product();
        (self.min_kept_per_unit as f64 / fan_in.max(1) as f64).min(1.0)
    }

    fn target(&self, name: &str) -> PruneTarget {
        match (self.keep.get(name), self.layer_quality.get(name)) {
            (Some(k), _) => PruneTarget::Keep(*k),
            (None, Some(q)) => PruneTarget::Quality(*q),
            (None, None) => PruneTarget::Quality(self.quality),
        }
    }
}

/// One row of the paper's per-layer table (Tables 2–3 of Deep Compression).
#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub weights: u64,
    pub kept_percent: f64,
    pub fillers: u64,
    pub weight_bits: f64,
    pub weight_bits_huffman: f64,
    pub index_bits: f64,
    pub index_bits_huffman: f64,
    /// Bytes of this tensor's section in the file.
    pub bytes: u64,
    /// Bytes without Huffman coding (P+Q).
    pub bytes_fixed: u64,
    /// Bytes as float32.
    pub dense_bytes: u64,
    pub compressed: bool,
}

impl From<&shrink_format::TensorSize> for LayerRow {
    /// The row of one tensor as the file accounts it (`shrink_format::inspect`).
    fn from(t: &shrink_format::TensorSize) -> Self {
        LayerRow {
            name: t.name.clone(),
            weights: t.numel,
            kept_percent: 100.0 * t.kept as f64 / t.numel.max(1) as f64,
            fillers: t.fillers,
            weight_bits: t.weight_bits_fixed,
            weight_bits_huffman: t.weight_bits_huffman,
            index_bits: t.index_bits_fixed,
            index_bits_huffman: t.index_bits_huffman,
            bytes: t.bytes,
            bytes_fixed: t.fixed_payload_bytes,
            dense_bytes: 4 * t.numel,
            compressed: t.compressed,
        }
    }
}

/// What `shrink compress` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CompressReport {
    pub model: String,
    pub shrk: String,
    pub data: String,
    pub n: usize,
    pub test_error_dense: f64,
    pub test_error_pruned: f64,
    /// The `.shrk` file's test error, as a deployed model gets it: measured by
    /// shrink-runtime on the file as written (not on a Burn decode of it).
    pub test_error_shrk: f64,
    /// What measured `test_error_shrk` (said in the report, so nobody has to guess).
    pub test_error_shrk_measured_by: &'static str,
    /// The `.shrk` decodes to exactly the predictions of the fine-tuned model.
    pub identical_predictions: bool,
    pub dense_bytes: u64,
    pub file_bytes: u64,
    pub header_bytes: u64,
    pub ratio: f64,
    pub kept_percent: f64,
    pub batch_norm_folded: usize,
    pub layers: Vec<LayerRow>,
    /// Weight tensors stored without weight sharing: in half precision or as they are
    /// (small data, when sharing at 8 bits failed the guard: `fidelity::unshared`).
    pub unshared_weights: Vec<String>,
    /// General-purpose compression of the same weights, for comparison.
    pub gzip_dense_bytes: u64,
    pub gzip_pruned_quantized_bytes: u64,
    pub zstd_pruned_quantized_bytes: u64,
    pub seconds: f64,
    pub config: CompressConfig,
}

/// The store entry of a finished stage, in the stage's directory.
const STAGE: &str = "stage";

fn layer_bits(cfg: &CompressConfig, name: &str, rank: usize) -> u8 {
    cfg.bits.get(name).copied().unwrap_or(if rank == 4 {
        cfg.conv_bits
    } else {
        cfg.fc_bits
    })
}

fn masks_from_nonzero(
    table: &ParamTable,
    names: &[String],
) -> BTreeMap<String, (Vec<usize>, Mask)> {
    names
        .iter()
        .filter_map(|n| table.get(n))
        .map(|p| {
            (
                p.name.clone(),
                (p.shape.clone(), p.data.iter().map(|v| *v != 0.0).collect()),
            )
        })
        .collect()
}

/// Rescale each dropout by sqrt(kept fraction) of the weighted layer it feeds (Han et
/// al. 2015 §3.5), starting from the rates in `original`.
fn rescale_dropout(
    original: &ModelSpec,
    spec: &mut ModelSpec,
    masks: &BTreeMap<String, (Vec<usize>, Mask)>,
) {
    for i in 0..spec.layers.len() {
        let Layer::Dropout { p: p0 } = original.layers[i] else {
            continue;
        };
        let next = (i + 1..spec.layers.len()).find(|&j| spec.layers[j].has_weight());
        if let Some(j) = next {
            if let Some((_, m)) = masks.get(&format!("layers.{j}.weight")) {
                let kept = m.iter().filter(|k| **k).count();
                spec.layers[i] = Layer::Dropout {
                    p: prune::rescaled_dropout(p0, kept, m.len()),
                };
            }
        }
    }
}

fn net_from(spec: &ModelSpec, table: &ParamTable, device: &Device) -> Result<Net> {
    let mut net = Net::new(spec, device)?;
    table.load_into(&mut net)?;
    Ok(net)
}

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes)?;
    Ok(e.finish()?.len() as u64)
}

/// What the retraining stages share.
pub struct Stage<'a> {
    pub train_cfg: &'a TrainConfig,
    pub cfg: &'a CompressConfig,
    pub data: &'a Batcher,
    pub device: &'a Device,
    pub quiet: bool,
}

impl Stage<'_> {
    fn say(&self, s: String) {
        if !self.quiet {
            eprintln!("{s}");
        }
    }

    /// The outputs retraining fits: the logits of (spec, parameters) on the training
    /// split when distilling, else none (the labels).
    fn soft_targets(&self, spec: &ModelSpec, table: &ParamTable) -> Result<Option<Vec<f32>>> {
        if !self.cfg.distill || self.train_cfg.augment.is_some() {
            return Ok(None);
        }
        let net = net_from(spec, table, self.device)?;
        Ok(Some(self.data.logits(
            &net,
            batch::Split::Train,
            self.device,
        )))
    }

    /// Retraining settings: the training ones at `lr_scale` of the rate, for `epochs`
    /// but at least `min_steps` optimiser steps.
    fn retrain_cfg(
        &self,
        epochs: usize,
        min_steps: usize,
        lr: f64,
        seed_offset: u64,
    ) -> TrainConfig {
        let mut r = self.train_cfg.clone();
        r.lr = lr;
        r.epochs = epochs;
        r.min_steps = if epochs > 0 { min_steps } else { 0 };
        r.patience = None;
        r.restore_best = false;
        r.seed = self.train_cfg.seed.wrapping_add(seed_offset);
        r
    }
}

/// Soft targets (distillation at temperature 1) when there are logits, else labels.
fn targets(logits: &Option<Vec<f32>>) -> Targets<'_> {
    match logits {
        Some(z) => Targets::Teacher {
            logits: z,
            loss: DistillLoss::Kd {
                temperature: 1.0,
                alpha: 1.0,
            },
        },
        None => Targets::Labels,
    }
}

/// Names of the weights compression acts on (linear, conv, conv-transpose), in model order.
pub fn weight_names(spec: &ModelSpec, device: &Device) -> Result<Vec<String>> {
    Ok(Net::new(spec, device)?
        .weights()
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// Han et al.'s iterative pruning: `rounds` × (raise the threshold, prune, retrain the
/// survivors with masked gradients and updates). Returns the spec (dropout rescaled)
/// and the pruned parameters.
pub fn prune_stage(
    st: &Stage,
    spec: &ModelSpec,
    table: &ParamTable,
) -> Result<(ModelSpec, ParamTable)> {
    let cfg = st.cfg;
    let train_dev = st.device.clone().autodiff();
    let names = weight_names(spec, st.device)?;
    // σ of each layer's dense weights: the threshold's unit for every round.
    let stds: BTreeMap<String, f64> = names
        .iter()
        .filter_map(|n| table.get(n).map(|p| (n.clone(), prune::std_dev(&p.data))))
        .collect();
    for name in &names {
        let p = table.get(name).expect("weight in table");
        let floor = cfg.keep_floor(&p.shape);
        if let Some(&k) = cfg.keep.get(name).filter(|&&k| k < floor) {
            st.say(format!(
                "note: {name} keeps {:.0}% rather than {:.0}%: at least {} weights per unit of {} inputs",
                100.0 * floor,
                100.0 * k,
                cfg.min_kept_per_unit,
                p.shape.iter().skip(1).product::<usize>()
            ));
        }
    }
    let dense_val = guard::val_outputs(st, spec, table)?;
    let dense_logits = st.soft_targets(spec, table)?;
    let mut table = table.clone();
    let mut pspec = spec.clone();
    // Weights that are already 0 (an input pruned before, e.g. by sparse VD) stay
    // pruned: retraining never regrows them, whatever fraction a round keeps.
    let mut masks = masks_from_nonzero(&table, &names);
    let rounds = cfg.rounds.max(1);
    for round in 1..=rounds {
        let undo = (table.clone(), pspec.clone());
        for name in &names {
            let p = table.get_mut(name).expect("weight in table");
            let prev = masks.get(name).map(|(_, m)| m);
            let mut m =
                prune::round_mask(&p.data, prev, cfg.target(name), stds[name], round, rounds);
            // Never below the floor of weights per unit (approached like the target).
            let floor = cfg.keep_floor(&p.shape);
            let at_least = 1.0 - (1.0 - floor) * round as f64 / rounds as f64;
            if (m.iter().filter(|k| **k).count() as f64) < (at_least * m.len() as f64).round() {
                m = prune::round_mask(
                    &p.data,
                    prev,
                    PruneTarget::Keep(floor),
                    stds[name],
                    round,
                    rounds,
                );
            }
            for (v, k) in p.data.iter_mut().zip(&m) {
                if !k {
                    *v = 0.0;
                }
            }
            masks.insert(name.clone(), (p.shape.clone(), m));
        }
        rescale_dropout(spec, &mut pspec, &masks);
        let kept: usize = masks
            .values()
            .map(|(_, m)| m.iter().filter(|k| **k).count())
            .sum();
        let total: usize = masks.values().map(|(_, m)| m.len()).sum();
        let r = st.retrain_cfg(
            cfg.retrain_epochs,
            cfg.min_retrain_steps,
            st.train_cfg.lr * cfg.lr_scale,
            100 + round as u64,
        );
        st.say(format!(
            "[2/4] pruning round {round}/{rounds}: {:.1}% of weights kept; retraining {} epochs at lr {:.2e}",
            100.0 * kept as f64 / total.max(1) as f64,
            r.epochs_for(st.data.train_len()),
            r.lr
        ));
        if r.epochs > 0 {
            let net = net_from(&pspec, &table, &train_dev)?;
            let mut hooks = MaskHooks::new(&net, &masks, &train_dev);
            let net = hooks.apply(net);
            let o = train::train(
                net,
                train::Job {
                    cfg: &r,
                    data: st.data,
                    targets: targets(&dense_logits),
                    device: &train_dev,
                    run: None,
                    hooks: &mut hooks,
                    quiet: st.quiet,
                },
            )?;
            table = ParamTable::from_net(&o.net.valid())?;
        }
        // Han et al. prune until accuracy suffers: a round whose validation predictions
        // may cost more than half of `max_val_drop` against the dense model's is undone
        // (`guard`).
        if let Some(dense) = &dense_val {
            let after = guard::val_outputs(st, &pspec, &table)?.unwrap_or(dense.clone());
            let v = guard::Verdict::judge(dense, &after, cfg.max_val_drop / 2.0, cfg);
            if !v.passes() {
                st.say(format!(
                    "      round {round}: {}: undone; pruning stops at round {}",
                    v.describe(),
                    round - 1
                ));
                (table, pspec) = undo;
                break;
            }
            st.say(format!("      round {round}: {}: kept", v.describe()));
        }
    }
    Ok((pspec, table))
}

/// Shared weights and their indices, by weight name.
pub type QuantMap = BTreeMap<String, (Vec<usize>, Quantized)>;

/// Deep Compression §3: k-means weight sharing per layer over the kept weights (pruned
/// weights are the zeros of `table`), then centroid fine-tuning. Returns the parameters
/// with every shared weight set to its centroid, and the codebooks/indices ([`Sharing`]).
pub fn quantize_stage(st: &Stage, spec: &ModelSpec, table: &ParamTable) -> Result<Sharing> {
    let cfg = st.cfg;
    let train_dev = st.device.clone().autodiff();
    let names = weight_names(spec, st.device)?;
    let masks = masks_from_nonzero(table, &names);
    let r = st.retrain_cfg(
        cfg.finetune_epochs,
        cfg.min_finetune_steps,
        st.train_cfg.lr * cfg.finetune_lr_scale,
        200,
    );
    // Weight sharing whose validation predictions may cost more than half of
    // `max_val_drop` against the input's is done again with one more bit (up to 8) for
    // the layers that cause it (`guard`): small layers may need more centroids than the
    // settings written for MNIST give them.
    let before = guard::val_outputs(st, spec, table)?;
    let input_logits = st.soft_targets(spec, table)?;
    let mut extra: BTreeMap<String, u8> = BTreeMap::new();
    loop {
        let mut quant: QuantMap = BTreeMap::new();
        for name in &names {
            let p = table.get(name).expect("weight in table");
            let (_, m) = &masks[name];
            let bits = guard::shared_bits(st, name, p.shape.len(), &extra);
            let q = quantize::quantize_layer(&p.data, m, bits, cfg.init, st.train_cfg.seed);
            quant.insert(name.clone(), (p.shape.clone(), q));
        }
        st.say(format!(
            "[3/4] weight sharing ({:?} init, conv {} bits, fc {} bits{}); fine-tuning centroids {} epochs",
            cfg.init,
            cfg.conv_bits,
            cfg.fc_bits,
            extra
                .iter()
                .map(|(n, b)| format!(", {n} +{b}"))
                .collect::<String>(),
            if cfg.finetune_epochs > 0 {
                r.epochs_for(st.data.train_len())
            } else {
                0
            }
        ));
        let mut qtable = table.clone();
        // Small data: plain k-means centroids, kept when fine-tuning moves the fidelity
        // pool further (`fidelity::closer_sharing`).
        let kmeans_only = (cfg.small_data.judging && cfg.finetune_epochs > 0 && before.is_some())
            .then(|| quant.clone());
        if cfg.finetune_epochs > 0 {
            let net = net_from(spec, table, &train_dev)?;
            let mut hooks = ShareHooks::new(&net, &quant, st.train_cfg.momentum, &train_dev);
            let net = hooks.apply(net);
            let o = train::train(
                net,
                train::Job {
                    cfg: &r,
                    data: st.data,
                    targets: targets(&input_logits),
                    device: &train_dev,
                    run: None,
                    hooks: &mut hooks,
                    quiet: st.quiet,
                },
            )?;
            for (name, cb) in hooks.codebooks() {
                if let Some((_, q)) = quant.get_mut(&name) {
                    q.codebook = cb;
                }
            }
            qtable = ParamTable::from_net(&o.net.valid())?;
        }
        for (name, (_, q)) in &quant {
            qtable.get_mut(name).expect("weight in table").data = q.values();
        }
        if let (Some(plain), Some(reference)) = (kmeans_only, &before) {
            ((qtable, quant), _) =
                fidelity::closer_sharing(st, spec, table, reference, (qtable, quant), plain)?;
        }
        let all_at_8_bits = quant.values().all(|(_, q)| q.bits >= 8);
        // On small data the guard also judges sharing at 8 bits: what fails there is
        // stored without sharing (`fidelity::unshared`). Elsewhere 8 bits is kept as is.
        let judged = !all_at_8_bits || cfg.small_data.judging;
        if let (Some(reference), true) = (&before, judged) {
            let budget = cfg.max_val_drop / 2.0;
            let after = guard::val_outputs(st, spec, &qtable)?.unwrap_or(reference.clone());
            let v = guard::Verdict::judge(reference, &after, budget, cfg);
            if v.passes() {
                st.say(format!("      weight sharing: {}: kept", v.describe()));
            } else if all_at_8_bits {
                if !v.passes_leaving_near_flips() {
                    return fidelity::unshared(st, spec, &names, table, reference, &v);
                }
                st.say(format!(
                    "      weight sharing at 8 bits: {}: kept (the last shared rung: judged by accuracy and flips at ties)",
                    v.describe()
                ));
            } else {
                let mut more = Vec::new();
                if cfg.small_split_guard {
                    more = guard::sharing_culprits(st, spec, table, reference, &extra, budget)?;
                }
                if more.is_empty() {
                    more = quant
                        .iter()
                        .filter(|(_, (_, q))| q.bits < 8)
                        .map(|(n, _)| n.clone())
                        .collect();
                }
                st.say(format!(
                    "      weight sharing: {}: again with one more bit for {}",
                    v.describe(),
                    more.join(", ")
                ));
                for n in more {
                    *extra.entry(n).or_default() += 1;
                }
                continue;
            }
        }
        return Ok(Sharing {
            table: qtable,
            quant,
            weights_in_half: false,
        });
    }
}

impl Sharing {
    /// The settings the file is written with: `cfg`, in format version 2 (`compact`)
    /// when the weights not shared were rounded to half precision, so that it stores them
    /// in 16 bits.
    pub fn file_settings(&self, cfg: &CompressConfig) -> CompressConfig {
        CompressConfig {
            compact: cfg.compact || self.weights_in_half,
            ..cfg.clone()
        }
    }
}

/// What [`quantize_stage`] gives.
pub struct Sharing {
    /// The parameters: every shared weight set to its centroid.
    pub table: ParamTable,
    /// Codebooks and indices of the shared weights; a weight tensor not in it is stored
    /// as it is in `table` (on small data, when sharing at 8 bits moved the fidelity
    /// pool too far: `fidelity::unshared`).
    pub quant: QuantMap,
    /// The weights not shared were rounded to half precision: the file must be written
    /// in format version 2 to store them in 16 bits (`compact`).
    pub weights_in_half: bool,
}

/// What one run of the pipeline takes.
pub struct Job<'a> {
    /// The network (trained first when `base` is `None`).
    pub spec: ModelSpec,
    /// A trained model directory to start from.
    pub base: Option<&'a Path>,
    /// Training settings (dense training, retraining, fine-tuning).
    pub train: &'a TrainConfig,
    /// Compression settings.
    pub cfg: &'a CompressConfig,
    pub src: &'a DataSource,
    /// Everything is written under this directory.
    pub out: &'a Path,
    pub device: &'a Device,
    /// Skip the stages finished there with the same settings.
    pub resume: bool,
    /// No progress on stderr.
    pub quiet: bool,
}

/// Run the whole pipeline: the dense model (given or trained), sparsification, weight
/// sharing, the `.shrk` file and its report.
pub fn compress(job: Job) -> Result<CompressReport> {
    let Job {
        spec,
        base,
        train: train_cfg,
        cfg,
        src,
        out,
        device,
        resume,
        quiet,
    } = job;
    cfg.validate()?;
    let started = Instant::now();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };

    // Each finished stage is an entry of the resumable-step store, keyed by the settings
    // that decide it (`base/stage.json`, `pruned/stage.json`); under --resume a stage
    // made with other settings is done again.
    let stage_key = serde_json::json!({ "train": train_cfg, "compress": cfg, "data": src.name });
    let done = |dir: &Path| -> Result<bool> {
        Ok(dir.join(io::WEIGHTS_FILE).is_file()
            && Store::at(dir, resume)
                .reuse::<()>(STAGE, &stage_key)?
                .is_some())
    };

    // 1. The dense model: given, resumed, or trained now.
    let base_dir = out.join("base");
    let (spec, dense) = match base {
        Some(dir) => io::load_model(dir, device)?,
        None if done(&base_dir)? => {
            say(format!(
                "[1/4] dense model: resuming from {}",
                base_dir.display()
            ));
            io::load_model(&base_dir, device)?
        }
        None => {
            say("[1/4] training the dense model".into());
            let opts = workflow::RunOpts {
                resume,
                stop_after: None,
                quiet,
                snapshot_every: None,
            };
            let (_, s, n) =
                workflow::train_model(spec, train_cfg, Some(cfg), src, &base_dir, device, &opts)?;
            Store::at(&base_dir, resume).put(STAGE, &stage_key, &())?;
            (s, n)
        }
    };
    workflow::check_fits(&spec, src)?;
    // Retraining settings fitted to the data as the dense training's were.
    let mut fitted = train_cfg.clone();
    for n in fitted.fit_to_input(&src.train.shape) {
        say(format!("note: {n}"));
    }
    let train_cfg = &fitted;
    let data = Batcher::new(
        &src.train,
        &src.test,
        spec.normalize.clone(),
        train_cfg.val_fraction,
        train_cfg.seed,
    );
    let dense_table = ParamTable::from_net(&dense)?;
    let dense_bytes = 4 * spec.param_count()? as u64;
    let dense_preds = batch::predictions(
        &dense,
        &src.test,
        &spec.input,
        spec.normalize.as_ref(),
        device,
    );
    let err_of = |preds: &[u32]| {
        1.0 - preds
            .iter()
            .zip(&src.test.y)
            .filter(|(p, y)| p == y)
            .count() as f64
            / src.test.len().max(1) as f64
    };
    let test_error_dense = err_of(&dense_preds);
    say(format!(
        "      dense test error {:.2}%",
        100.0 * test_error_dense
    ));

    // 2. Fold batch norm so that only linear/conv weights remain to compress.
    let (fspec, ftable, folded) = fold::fold_batch_norm(&spec, &dense_table)?;
    if folded > 0 {
        say(format!(
            "      folded {folded} batch-norm layers into their preceding layers"
        ));
    }
    // On small data, compression learns from and is judged on the dense model's outputs
    // on many rows near the data (`fidelity`).
    let (data, small_cfg, note) = fidelity::for_small_data(
        data,
        &fspec,
        &ftable,
        src.schema.as_ref(),
        cfg,
        train_cfg.seed,
        device,
    )?;
    if let Some(n) = note {
        say(n);
    }
    let cfg = &small_cfg;
    // 3. Prune → retrain, iteratively.
    let pruned_dir = out.join("pruned");
    let stage = Stage {
        train_cfg,
        cfg,
        data: &data,
        device,
        quiet,
    };
    let (pspec, ptable) = if done(&pruned_dir)? {
        say(format!(
            "[2/4] pruning: resuming from {}",
            pruned_dir.display()
        ));
        let (s, n) = io::load_model(&pruned_dir, device)?;
        (s, ParamTable::from_net(&n)?)
    } else {
        let (s, t) = match cfg.method {
            Sparsifier::DeepCompression => prune_stage(&stage, &fspec, &ftable)?,
            Sparsifier::SparseVd => (
                fspec.clone(),
                sparse_vd::sparsify(&stage, &cfg.sparse_vd, &fspec, &ftable)?,
            ),
        };
        let (s, t) = if cfg.remove_units {
            let (s, t, removed) = compact::remove_dead_units(&s, &t)?;
            for r in removed.iter().filter(|r| r.after < r.before) {
                say(format!(
                    "      {}: {} of {} units removed ({} constant, folded into the next layer's bias)",
                    r.layer,
                    r.before - r.after,
                    r.before,
                    r.folded_constant
                ));
            }
            (s, t)
        } else {
            (s, t)
        };
        io::save_model(&pruned_dir, &s, &net_from(&s, &t, device)?)?;
        Store::at(&pruned_dir, resume).put(STAGE, &stage_key, &())?;
        (s, t)
    };
    let pruned_net = net_from(&pspec, &ptable, device)?;
    let test_error_pruned = err_of(&batch::predictions(
        &pruned_net,
        &src.test,
        &pspec.input,
        pspec.normalize.as_ref(),
        device,
    ));
    say(format!(
        "      pruned test error {:.2}%",
        100.0 * test_error_pruned
    ));

    // 4. Weight sharing: k-means per layer, then fine-tune the centroids.
    let shared = quantize_stage(&stage, &pspec, &ptable)?;
    let written_cfg = shared.file_settings(cfg);
    let (mut qtable, mut quant) = (shared.table, shared.quant);
    if cfg.trim_codebooks {
        let n = compact::trim_codebooks(&mut quant);
        say(format!(
            "      {n} unused centroids dropped from the codebooks"
        ));
    }
    if let Some(bits) = cfg.bias_bits {
        let shared = compact::share_vectors(&mut qtable, &mut quant, bits, train_cfg.seed);
        say(format!(
            "      {} bias vectors as {bits}-bit codebooks: {}",
            shared.len(),
            shared.join(", ")
        ));
    }
    if cfg.half {
        let n = compact::round_to_half(&mut qtable, &mut quant);
        say(format!(
            "      {n} tensors and codebooks rounded to half precision"
        ));
    }
    let tuned = net_from(&pspec, &qtable, device)?;
    let tuned_preds = batch::predictions(
        &tuned,
        &src.test,
        &pspec.input,
        pspec.normalize.as_ref(),
        device,
    );

    // 5. Encode, then evaluate the file itself.
    let report = encode_and_report(&EncodeInputs {
        shrk_path: &out.join("model.shrk"),
        spec: &pspec,
        table: &qtable,
        quant: &quant,
        cfg: &written_cfg,
        src,
        device,
        dense_name: &spec.name,
        dense_table: &dense_table,
        dense_bytes,
        test_error_dense,
        test_error_pruned,
        tuned_preds: &tuned_preds,
        folded,
        started,
        quiet,
    })?;
    io::write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    io::write_atomic(&out.join("report.txt"), render_table(&report).as_bytes())?;
    Ok(report)
}

/// What [`encode_and_report`] needs.
pub struct EncodeInputs<'a> {
    pub shrk_path: &'a Path,
    pub spec: &'a ModelSpec,
    pub table: &'a ParamTable,
    pub quant: &'a QuantMap,
    pub cfg: &'a CompressConfig,
    pub src: &'a DataSource,
    pub device: &'a Device,
    pub dense_name: &'a str,
    pub dense_table: &'a ParamTable,
    pub dense_bytes: u64,
    pub test_error_dense: f64,
    pub test_error_pruned: f64,
    /// Test predictions of the fine-tuned model the file is written from.
    pub tuned_preds: &'a [u32],
    pub folded: usize,
    pub started: Instant,
    pub quiet: bool,
}

/// Write the `.shrk` (Huffman coding happens in shrink-format), decode it, evaluate the
/// file itself on the test split, and account for every byte.
pub fn encode_and_report(e: &EncodeInputs) -> Result<CompressReport> {
    let mut model = encode::to_shrk(e.spec, e.table, e.quant, e.cfg.index_bits)?;
    // A model of a table carries the table's encoding (`shrink run` reads CSV with it).
    crate::tables::set_table_meta(&mut model, e.src.schema.as_ref())?;
    encode::write_shrk_as(e.shrk_path, &model, e.cfg.compact)?;
    if !e.quiet {
        eprintln!("[4/4] wrote {}; evaluating the file", e.shrk_path.display());
    }
    let test = &e.src.test;
    // Cross-check: the file decoded into a dense Burn model must predict exactly what
    // the fine-tuned model did.
    let shrk_preds = open(e.shrk_path)?.into_burn(e.device)?.predictions(test)?;
    // The file's test error as a deployed model gets it: run by shrink-runtime on the
    // weights as stored. It goes into the file's metadata, so that whoever opens the
    // file (`shrink info`, the web page) reads what it scored.
    let runtime_preds = open(e.shrk_path)?
        .into_runtime()
        .and_then(|mut m| m.predictions(test))
        .with_context(|| format!("{}: shrink-runtime cannot run it", e.shrk_path.display()))?;
    let test_error_shrk = 1.0
        - runtime_preds
            .iter()
            .zip(&test.y)
            .filter(|(p, y)| p == y)
            .count() as f64
            / test.len().max(1) as f64;
    encode::set_test_meta(&mut model, test_error_shrk, test.len(), &e.src.name);
    let size = encode::write_shrk_as(e.shrk_path, &model, e.cfg.compact)?;
    let file_bytes = std::fs::metadata(e.shrk_path)?.len();
    if file_bytes != size.total_bytes {
        bail!(
            "internal: size report {} != file size {file_bytes}",
            size.total_bytes
        );
    }
    if !e.quiet {
        eprintln!(
            "[4/4] {}: {file_bytes} bytes, test error {:.2}% recorded in its metadata",
            e.shrk_path.display(),
            100.0 * test_error_shrk
        );
    }
    let layers: Vec<LayerRow> = size.tensors.iter().map(LayerRow::from).collect();
    // Kept weights: the compressed tensors' entries, and the nonzero values of weights
    // stored as they are (small data's last rung, `fidelity::unshared`).
    let weights = weight_names(e.spec, e.device)?;
    let (mut kept, mut total_w) = (0u64, 0u64);
    let mut unshared_weights = Vec::new();
    for t in &size.tensors {
        if t.compressed {
            kept += t.kept;
        } else if weights.contains(&t.name) {
            let p = e.table.get(&t.name).context("weight in table")?;
            kept += p.data.iter().filter(|v| **v != 0.0).count() as u64;
            unshared_weights.push(t.name.clone());
        } else {
            continue;
        }
        total_w += t.numel;
    }
    let dense_file = e.dense_table.to_safetensors()?;
    let pq = e.table.to_safetensors()?;
    Ok(CompressReport {
        model: e.dense_name.to_string(),
        shrk: e.shrk_path.display().to_string(),
        data: e.src.name.clone(),
        n: test.len(),
        test_error_dense: e.test_error_dense,
        test_error_pruned: e.test_error_pruned,
        test_error_shrk,
        test_error_shrk_measured_by: "shrink-runtime on the file as written",
        identical_predictions: shrk_preds == e.tuned_preds,
        dense_bytes: e.dense_bytes,
        file_bytes,
        header_bytes: size.header_bytes,
        ratio: e.dense_bytes as f64 / file_bytes as f64,
        kept_percent: 100.0 * kept as f64 / total_w.max(1) as f64,
        batch_norm_folded: e.folded,
        layers,
        unshared_weights,
        gzip_dense_bytes: gzip_len(&dense_file)?,
        gzip_pruned_quantized_bytes: gzip_len(&pq)?,
        zstd_pruned_quantized_bytes: zstd::bulk::compress(&pq, 19)?.len() as u64,
        seconds: e.started.elapsed().as_secs_f64(),
        config: e.cfg.clone(),
    })
}

/// The paper's table, as text.
pub fn render_table(r: &CompressReport) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{:<22} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}\n",
        "tensor",
        "#w",
        "kept%",
        "wbits",
        "wbits+H",
        "ibits",
        "ibits+H",
        "bytes P+Q",
        "bytes",
        "ratio"
    ));
    for l in &r.layers {
        if l.compressed {
            s.push_str(&format!(
                "{:<22} {:>8} {:>6.1}% {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>9} {:>6.1}x\n",
                l.name,
                l.weights,
                l.kept_percent,
                l.weight_bits,
                l.weight_bits_huffman,
                l.index_bits,
                l.index_bits_huffman,
                l.bytes_fixed,
                l.bytes,
                l.dense_bytes as f64 / l.bytes.max(1) as f64
            ));
        } else {
            s.push_str(&format!(
                "{:<22} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}\n",
                l.name,
                l.weights,
                "dense",
                l.weight_bits,
                l.weight_bits_huffman,
                "-",
                "-",
                l.bytes_fixed,
                l.bytes,
                ""
            ));
        }
    }
    s.push_str(&format!(
        "{:<22} {:>90}\n",
        "header (spec, meta, framing)", r.header_bytes
    ));
    let sum: u64 = r.layers.iter().map(|l| l.bytes).sum::<u64>() + r.header_bytes;
    s.push_str(&format!(
        "total: {} bytes on disk (rows + header = {}), {} bytes as float32 -> {:.1}x smaller; {:.1}% of weights kept\n",
        r.file_bytes, sum, r.dense_bytes, r.ratio, r.kept_percent
    ));
    s.push_str(&format!(
        "test error: dense {:.2}%  pruned {:.2}%  .shrk {:.2}%  (n = {}; .shrk measured by shrink-runtime on the file as written; its Burn decode's predictions identical to the fine-tuned model: {})\n",
        100.0 * r.test_error_dense,
        100.0 * r.test_error_pruned,
        100.0 * r.test_error_shrk,
        r.n,
        if r.identical_predictions { "yes" } else { "NO" }
    ));
    s.push_str(&format!(
        "general-purpose compression: dense float32 safetensors gzip -9: {} bytes ({:.1}x); pruned+quantized float32 gzip -9: {} bytes ({:.1}x), zstd -19: {} bytes ({:.1}x)\n",
        r.gzip_dense_bytes,
        r.dense_bytes as f64 / r.gzip_dense_bytes as f64,
        r.gzip_pruned_quantized_bytes,
        r.dense_bytes as f64 / r.gzip_pruned_quantized_bytes as f64,
        r.zstd_pruned_quantized_bytes,
        r.dense_bytes as f64 / r.zstd_pruned_quantized_bytes as f64
    ));
    s.push_str(
        "biases and any unfolded normalisation parameters are stored dense (32 bits, or 16 with `half` and `compact`) unless `bias_bits` shares them.\n",
    );
    if !r.unshared_weights.is_empty() {
        s.push_str(&format!(
            "weights not shared: {} (stored in half precision or as they are: on small data, sharing at 8 bits moved the dense model's predictions more than `[compress.small_data]` allows; the compress log says by how much).\n",
            r.unshared_weights.join(", ")
        ));
    }
    s
}

/// One point of a pruning sensitivity scan.
#[derive(Debug, Clone, Serialize)]
pub struct SensitivityPoint {
    pub layer: String,
    pub keep: f64,
    pub accuracy: f64,
}

/// Han et al. 2015 Fig. 5: prune one layer at a time (no retraining) to each `keep`
/// fraction and measure accuracy on the validation split (test split if there is none),
/// to choose per-layer settings.
pub fn sensitivity_scan(
    spec: &ModelSpec,
    table: &ParamTable,
    data: &Batcher,
    device: &Device,
    keeps: &[f64],
) -> Result<Vec<SensitivityPoint>> {
    let split = if data.has_val() {
        batch::Split::Val
    } else {
        batch::Split::Test
    };
    let mut out = Vec::new();
    for name in weight_names(spec, device)? {
        for &keep in keeps {
            let mut t = table.clone();
            let p = t.get_mut(&name).expect("weight in table");
            let m = prune::prune_to_keep(&p.data, keep);
            for (v, k) in p.data.iter_mut().zip(&m) {
                if !k {
                    *v = 0.0;
                }
            }
            let net = net_from(spec, &t, device)?;
            out.push(SensitivityPoint {
                layer: name.clone(),
                keep,
                accuracy: data.accuracy(&net, split, device),
            });
        }
    }
    Ok(out)
}
