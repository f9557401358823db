//! `shrink info`: what a spec, a model directory or a `.shrk` file holds — layers,
//! shapes, parameters, and where a `.shrk` file's bytes go — as JSON and as text.
//!
//! Not here: reading the files (`model::io`, shrink-format), printing (the command).

use crate::model::io::{read_spec_file, SPEC_FILE, WEIGHTS_FILE};
use anyhow::{Context, Result};
use serde::Serialize;
use shrink_format::limits::escape_control;
use shrink_format::spec::{LayerInfo, ModelSpec, ShapeDisplay};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A spec or a model directory.
pub struct SpecSummary {
    spec: ModelSpec,
    infos: Vec<LayerInfo>,
    output: Vec<usize>,
    rows: Vec<Row>,
    total: usize,
    file_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Row {
    path: String,
    kind: String,
    input: Vec<usize>,
    output: Vec<usize>,
    params: usize,
    bytes: usize,
}

/// The layers of the spec file or model directory `path`.
pub fn spec_summary(path: &Path) -> Result<SpecSummary> {
    let spec_path = if path.is_dir() {
        path.join(SPEC_FILE)
    } else {
        path.to_path_buf()
    };
    let spec = read_spec_file(&spec_path)?;
    let (infos, output) = spec.infer()?;
    let rows: Vec<Row> = infos
        .iter()
        .map(|l| Row {
            path: l.path.clone(),
            kind: l.kind.to_string(),
            input: l.input.clone(),
            output: l.output.clone(),
            params: l.params,
            bytes: l.params.saturating_mul(4),
        })
        .collect();
    // Checked against the limits when the spec was read: no overflow here.
    let total: usize = spec.param_count()?;
    let file_bytes = std::fs::metadata(path.join(WEIGHTS_FILE))
        .ok()
        .map(|m| m.len());
    Ok(SpecSummary {
        spec,
        infos,
        output,
        rows,
        total,
        file_bytes,
    })
}

impl SpecSummary {
    /// As one JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.spec.name, "input": self.spec.input, "output": self.output,
            "layers": self.rows, "params": self.total, "bytes_f32": 4 * self.total,
            "weights_file_bytes": self.file_bytes,
        })
    }

    /// As a table.
    pub fn render(&self) -> String {
        let spec = &self.spec;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}  input {}  output {}",
            if spec.name.is_empty() {
                "model".to_string()
            } else {
                escape_control(&spec.name)
            },
            ShapeDisplay(&spec.input),
            ShapeDisplay(&self.output)
        );
        let _ = writeln!(
            s,
            "{:<24} {:<18} {:>16} {:>10} {:>10}",
            "layer", "type", "output", "params", "bytes"
        );
        for (r, l) in self.rows.iter().zip(&self.infos) {
            let indent = "  ".repeat(l.depth);
            let _ = writeln!(
                s,
                "{:<24} {:<18} {:>16} {:>10} {:>10}",
                format!("{indent}{}", r.path),
                r.kind,
                ShapeDisplay(&r.output).to_string(),
                r.params,
                r.bytes
            );
        }
        let _ = writeln!(
            s,
            "total: {} parameters, {} bytes as float32{}",
            self.total,
            4 * self.total,
            self.file_bytes
                .map(|b| format!(" ({b} bytes on disk)"))
                .unwrap_or_default()
        );
        s
    }
}

/// Where the bytes of a `.shrk` file go, per tensor.
pub struct ShrkSummary {
    path: PathBuf,
    spec: ModelSpec,
    size: shrink_format::SizeReport,
    meta: Vec<(String, String)>,
    dense: u64,
}

/// The tensors and sizes of the `.shrk` file `path`.
pub fn shrk_summary(path: &Path) -> Result<ShrkSummary> {
    let shown = || path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let size = shrink_format::inspect(&bytes).with_context(shown)?;
    let model = shrink_format::read(&bytes).with_context(shown)?;
    let limits = crate::limits::get();
    let spec = ModelSpec::from_toml_limited(&model.spec_toml, &limits).with_context(shown)?;
    let dense: u64 = 4 * spec.check(&limits).with_context(shown)?.cost.params;
    Ok(ShrkSummary {
        path: path.to_path_buf(),
        spec,
        size,
        meta: model
            .meta
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        dense,
    })
}

impl ShrkSummary {
    /// As one JSON object.
    pub fn json(&self) -> serde_json::Value {
        let (size, spec, dense) = (&self.size, &self.spec, self.dense);
        let rows: Vec<_> = size
            .tensors
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name, "numel": t.numel, "kept": t.kept, "fillers": t.fillers,
                    "compressed": t.compressed, "bytes": t.bytes,
                    "weight_bits": t.weight_bits_fixed, "weight_bits_huffman": t.weight_bits_huffman,
                    "index_bits": t.index_bits_fixed, "index_bits_huffman": t.index_bits_huffman,
                })
            })
            .collect();
        serde_json::json!({
            "name": spec.name, "input": spec.input, "file_bytes": size.total_bytes,
            "header_bytes": size.header_bytes, "dense_bytes": dense, "tensors": rows,
            "ratio": dense as f64 / size.total_bytes as f64,
            "meta": self.meta.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<String, serde_json::Value>>(),
        })
    }

    /// As a table. Names and values from the file have their control characters
    /// escaped, so that a file cannot forge or recolour output lines.
    pub fn render(&self) -> String {
        let (size, spec, dense) = (&self.size, &self.spec, self.dense);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} ({} input), {} bytes; {} bytes as float32 -> {:.1}x",
            self.path.display(),
            escape_control(&spec.name),
            ShapeDisplay(&spec.input),
            size.total_bytes,
            dense,
            dense as f64 / size.total_bytes as f64
        );
        let _ = writeln!(
            s,
            "{:<24} {:>8} {:>7} {:>8} {:>8} {:>8}",
            "tensor", "#w", "kept%", "wbits+H", "ibits+H", "bytes"
        );
        for t in &size.tensors {
            let _ = writeln!(
                s,
                "{:<24} {:>8} {:>6.1}% {:>8.2} {:>8.2} {:>8}",
                escape_control(&t.name),
                t.numel,
                100.0 * t.kept as f64 / t.numel.max(1) as f64,
                t.weight_bits_huffman,
                t.index_bits_huffman,
                t.bytes
            );
        }
        let _ = writeln!(s, "{:<24} {:>50}", "header", size.header_bytes);
        for (k, v) in &self.meta {
            let _ = writeln!(s, "{}: {}", escape_control(k), escape_control(v));
        }
        s
    }
}
