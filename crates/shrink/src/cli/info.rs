//! `shrink info MODEL|SPEC`: layers, shapes, parameters, bytes.

use super::print_json;
use anyhow::Result;
use serde::Serialize;
use shrink_core::model::io::{read_spec_file, SPEC_FILE};
use shrink_format::spec::ShapeDisplay;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  shrink info zoo/lenet-5.toml")]
pub struct Args {
    /// A model directory or a spec file.
    pub model: PathBuf,
    #[arg(long)]
    pub json: bool,
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

pub fn run(a: Args) -> Result<()> {
    if a.model.extension().is_some_and(|e| e == "shrk") {
        return shrk_info(&a);
    }
    let spec_path = if a.model.is_dir() {
        a.model.join(SPEC_FILE)
    } else {
        a.model.clone()
    };
    let spec = read_spec_file(&spec_path)?.spec;
    let (infos, out) = spec.infer()?;
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
    let weights_file = a.model.join(shrink_core::model::io::WEIGHTS_FILE);
    let file_bytes = std::fs::metadata(&weights_file).ok().map(|m| m.len());
    if a.json {
        return print_json(&serde_json::json!({
            "name": spec.name, "input": spec.input, "output": out, "layers": rows,
            "params": total, "bytes_f32": 4 * total, "weights_file_bytes": file_bytes,
        }));
    }
    println!(
        "{}  input {}  output {}",
        if spec.name.is_empty() {
            "model".to_string()
        } else {
            shrink_format::limits::escape_control(&spec.name)
        },
        ShapeDisplay(&spec.input),
        ShapeDisplay(&out)
    );
    println!(
        "{:<24} {:<18} {:>16} {:>10} {:>10}",
        "layer", "type", "output", "params", "bytes"
    );
    for (r, l) in rows.iter().zip(&infos) {
        let indent = "  ".repeat(l.depth);
        println!(
            "{:<24} {:<18} {:>16} {:>10} {:>10}",
            format!("{indent}{}", r.path),
            r.kind,
            ShapeDisplay(&r.output).to_string(),
            r.params,
            r.bytes
        );
    }
    println!(
        "total: {total} parameters, {} bytes as float32{}",
        4 * total,
        file_bytes
            .map(|b| format!(" ({b} bytes on disk)"))
            .unwrap_or_default()
    );
    Ok(())
}

/// Where the bytes of a `.shrk` file go, per tensor.
fn shrk_info(a: &Args) -> Result<()> {
    let bytes = std::fs::read(&a.model)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.model.display()))?;
    let size = shrink_format::inspect(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let model =
        shrink_format::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let limits = shrink_core::limits::get();
    let spec = shrink_format::spec::ModelSpec::from_toml_limited(&model.spec_toml, &limits)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let dense: u64 = 4 * spec
        .check(&limits)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?
        .cost
        .params;
    if a.json {
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
        return print_json(&serde_json::json!({
            "name": spec.name, "input": spec.input, "file_bytes": size.total_bytes,
            "header_bytes": size.header_bytes, "dense_bytes": dense, "tensors": rows,
            "ratio": dense as f64 / size.total_bytes as f64,
            "meta": model.meta.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<String, serde_json::Value>>(),
        }));
    }
    println!(
        "{}: {} ({} input), {} bytes; {} bytes as float32 -> {:.1}x",
        a.model.display(),
        shrink_format::limits::escape_control(&spec.name),
        ShapeDisplay(&spec.input),
        size.total_bytes,
        dense,
        dense as f64 / size.total_bytes as f64
    );
    println!(
        "{:<24} {:>8} {:>7} {:>8} {:>8} {:>8}",
        "tensor", "#w", "kept%", "wbits+H", "ibits+H", "bytes"
    );
    for t in &size.tensors {
        println!(
            "{:<24} {:>8} {:>6.1}% {:>8.2} {:>8.2} {:>8}",
            shrink_format::limits::escape_control(&t.name),
            t.numel,
            100.0 * t.kept as f64 / t.numel.max(1) as f64,
            t.weight_bits_huffman,
            t.index_bits_huffman,
            t.bytes
        );
    }
    println!("{:<24} {:>50}", "header", size.header_bytes);
    // Names and values from the file: control characters escaped, so that a file
    // cannot forge or recolour output lines.
    let esc = shrink_format::limits::escape_control;
    for (k, v) in &model.meta {
        println!("{}: {}", esc(k), esc(v));
    }
    Ok(())
}
