//! `shrink import --spec SPEC --weights state.safetensors --out DIR`, and
//! `shrink import model.onnx --out DIR` (`import_onnx`).

use anyhow::Result;
use shrink_core::model::io::{import_pytorch, read_spec_file, save_model};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink import model.onnx --out runs/imported\n  shrink import lenet5.onnx --settings zoo/lenet-5.toml --out runs/imported-lenet5\n  shrink import --spec zoo/lenet-300-100.toml --weights net.safetensors --out runs/imported"
)]
pub struct Args {
    /// An ONNX model (torch.onnx.export, tf2onnx, skl2onnx) of a CNN or MLP.
    #[arg(conflicts_with_all = ["spec", "weights"])]
    pub onnx: Option<PathBuf>,
    /// With an ONNX model: keep the [train] and [compress] tables of this spec file (a
    /// zoo spec of the same network) in the imported spec.toml.
    #[arg(long, requires = "onnx")]
    pub settings: Option<PathBuf>,
    /// A spec whose layers mirror the PyTorch nn.Sequential one-to-one.
    #[arg(long, required_unless_present = "onnx", requires = "weights")]
    pub spec: Option<PathBuf>,
    /// safetensors.torch.save_file(model.state_dict(), ...)
    #[arg(long, required_unless_present = "onnx", requires = "spec")]
    pub weights: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    /// With an ONNX model: print what was imported as JSON.
    #[arg(long, requires = "onnx")]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    if let Some(onnx) = &a.onnx {
        return super::import_onnx::run(onnx, &a.out, a.settings.as_deref(), a.json);
    }
    let (Some(spec), Some(weights)) = (a.spec, a.weights) else {
        anyhow::bail!("give a model.onnx, or --spec and --weights");
    };
    let a = PytorchArgs {
        spec,
        weights,
        out: a.out,
    };
    let spec = read_spec_file(&a.spec)?;
    let device = burn::prelude::Device::flex();
    let net = import_pytorch(&spec, &a.weights, &device)?;
    save_model(&a.out, &spec, &net)?;
    println!("imported {} -> {}", a.weights.display(), a.out.display());
    Ok(())
}

/// The arguments of a PyTorch state_dict import.
struct PytorchArgs {
    spec: PathBuf,
    weights: PathBuf,
    out: PathBuf,
}
