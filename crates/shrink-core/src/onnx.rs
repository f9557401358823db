//! ONNX files in and out of model directories and `.shrk` files (issue 13), over the
//! `shrink-onnx` crate: `shrink import model.onnx --out DIR` and
//! `shrink export MODEL --onnx out.onnx`.
//!
//! Import maps the graph (every unsupported node listed in one error), builds the Burn
//! model for the spec and loads the weights into it — so the directory is checked to load
//! exactly as every command will load it — and only then writes `spec.toml` and
//! `model.safetensors` (each through a temporary name). Export decodes a `.shrk` to dense
//! weights (or reads a model directory) and writes the ONNX file atomically.
//!
//! Not here: the ONNX mapping itself (`shrink-onnx`), the command-line flags (`cli`).

use crate::model::io::read_shrk;
use crate::model::io::{load_model, save_model_with, write_atomic, SPEC_FILE};
use crate::model::params::{Param, ParamTable};
use crate::model::Net;
use anyhow::{bail, Context, Result};
use burn::prelude::Device;
use shrink_format::spec::ModelSpec;
use shrink_onnx::Weight;
use std::path::Path;

/// What an import wrote, for the user.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    /// Top-level layers of the spec.
    pub layers: usize,
    /// Learned parameters.
    pub params: usize,
    /// Input shape (without the batch).
    pub input: Vec<usize>,
    /// Outputs (classes).
    pub classes: usize,
    /// Notes from the mapping (a dropped softmax, …).
    pub notes: Vec<String>,
}

/// Import `onnx` into the model directory `out`. With `settings`, the `[train]` and
/// `[compress]` tables of that spec file (a zoo spec of the same network) are kept in
/// the directory's `spec.toml`, so `shrink train`/`compress` on it use them. Nothing is
/// written unless the whole model maps and loads.
pub fn import_onnx(onnx: &Path, out: &Path, settings: Option<&Path>) -> Result<ImportSummary> {
    if out.join(SPEC_FILE).exists() {
        bail!(
            "{}: already holds a model (spec.toml); choose another --out",
            out.display()
        );
    }
    if out.exists() && !out.is_dir() {
        bail!("{}: exists and is not a directory", out.display());
    }
    let limits = crate::limits::get();
    let m =
        shrink_onnx::import_file(onnx, &limits).with_context(|| format!("{}", onnx.display()))?;
    let mut extra = toml::Table::new();
    if let Some(s) = settings {
        // `[train]` and `[compress]` as written.
        let text = std::fs::read_to_string(s)
            .with_context(|| format!("cannot read spec {}", s.display()))?;
        let (_, tables) = crate::model::io::parse_spec_text(&text)
            .with_context(|| format!("spec {}", s.display()))?;
        extra.extend(tables);
    }
    let device = Device::flex();
    let mut net = Net::new(&m.spec, &device).with_context(|| format!("{}", onnx.display()))?;
    table_of(&m.weights)
        .load_into(&mut net)
        .with_context(|| format!("{}: the weights do not fit the spec", onnx.display()))?;
    save_model_with(out, &m.spec, &net, &extra)?;
    let (infos, output) = m.spec.infer()?;
    Ok(ImportSummary {
        layers: m.spec.layers.len(),
        params: infos
            .iter()
            .filter(|i| i.depth == 0)
            .map(|i| i.params)
            .sum(),
        input: m.spec.input.clone(),
        classes: output[0],
        notes: m.notes,
    })
}

fn table_of(weights: &[Weight]) -> ParamTable {
    ParamTable {
        params: weights
            .iter()
            .map(|w| Param {
                name: w.name.clone(),
                shape: w.shape.clone(),
                data: w.data.clone(),
            })
            .collect(),
    }
}

/// The spec and dense weights of a model directory or a `.shrk` file (decoded).
pub fn dense_model(model: &Path) -> Result<(ModelSpec, Vec<Weight>)> {
    let (spec, table) = if model.is_dir() {
        let (spec, net) = load_model(model, &Device::flex())?;
        (spec, ParamTable::from_net(&net)?)
    } else if model.is_file() {
        let (spec, table, _) = read_shrk(model)?;
        (spec, table)
    } else {
        bail!("{}: no such model directory or .shrk file", model.display());
    };
    let weights = table
        .params
        .into_iter()
        .map(|p| Weight {
            name: p.name,
            shape: p.shape,
            data: p.data,
        })
        .collect();
    Ok((spec, weights))
}

/// Write `model` (a directory or a `.shrk`) as the ONNX file `out`; returns its size.
pub fn export_onnx(model: &Path, out: &Path) -> Result<usize> {
    crate::model::io::check_output_file(out, true)?;
    let (spec, weights) = dense_model(model)?;
    let bytes = shrink_onnx::export(&spec, &weights)
        .with_context(|| format!("{}: cannot export", model.display()))?;
    write_atomic(out, &bytes)?;
    Ok(bytes.len())
}
