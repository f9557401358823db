//! `shrink export MODEL --onnx out.onnx`: a model directory or `.shrk` as ONNX.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink export runs/c-lenet-5/model.shrk --onnx lenet5.onnx\n  shrink export runs/lenet-5 --onnx lenet5.onnx\n\nThe ONNX model (opset 17, batch dimension `batch`) takes the same raw input as `shrink run` (the spec's normalisation is its first nodes) and outputs the logits. A .shrk is decoded to dense weights."
)]
pub struct Args {
    /// A model directory or a `.shrk` file.
    pub model: PathBuf,
    /// The ONNX file to write (replaced if it exists).
    #[arg(long)]
    pub onnx: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let bytes = shrink_core::onnx::export_onnx(&a.model, &a.onnx)?;
    println!(
        "exported {} -> {} ({bytes} bytes)",
        a.model.display(),
        a.onnx.display()
    );
    Ok(())
}
