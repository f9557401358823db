//! `shrink import model.onnx --out DIR`: an ONNX graph as a model directory.

use anyhow::Result;
use std::path::Path;

/// Import, then say what was written.
pub fn run(onnx: &Path, out: &Path, settings: Option<&Path>, json: bool) -> Result<()> {
    let s = shrink_core::onnx::import_onnx(onnx, out, settings)?;
    if json {
        return super::print_json(&s);
    }
    for n in &s.notes {
        println!("note: {n}");
    }
    println!(
        "imported {} -> {}: {} layers, {} parameters, input {:?}, {} outputs",
        onnx.display(),
        out.display(),
        s.layers,
        s.params,
        s.input,
        s.classes
    );
    Ok(())
}
