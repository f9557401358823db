//! `shrink import --spec SPEC --weights state.safetensors --out DIR`.

use anyhow::Result;
use shrink_core::model::io::{import_pytorch, read_spec_file, save_model};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  shrink import --spec zoo/lenet-300-100.toml --weights net.safetensors --out runs/imported"
)]
pub struct Args {
    /// A spec whose layers mirror the PyTorch nn.Sequential one-to-one.
    #[arg(long)]
    pub spec: PathBuf,
    /// safetensors.torch.save_file(model.state_dict(), ...)
    #[arg(long)]
    pub weights: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let spec = read_spec_file(&a.spec)?.spec;
    let device = burn::prelude::Device::flex();
    let net = import_pytorch(&spec, &a.weights, &device)?;
    save_model(&a.out, &spec, &net)?;
    println!("imported {} -> {}", a.weights.display(), a.out.display());
    Ok(())
}
