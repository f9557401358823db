//! `shrink demo`: the main job — Deep Compression of LeNet-300-100 on the bundled MNIST
//! (`shrink compress zoo/lenet-300-100.toml --data mnist`).

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where to put the runs.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// The main job: Deep Compression of LeNet-300-100 on the bundled MNIST.
pub fn run(a: DemoArgs) -> Result<()> {
    let spec = shrink_core::data::repo_data_dir().join("../zoo/lenet-300-100.toml");
    let spec = if spec.is_file() {
        spec
    } else {
        PathBuf::from("zoo/lenet-300-100.toml")
    };
    super::compress::run(super::compress::Args {
        model: spec,
        data: Some("mnist".into()),
        label: None,
        out: a.out.join("lenet-300-100"),
        prune: Default::default(),
        quantize: Default::default(),
        budget: Default::default(),
        epochs: None,
        seed: None,
        device: "flex".into(),
        resume: false,
        replace: true,
        one_shot: false,
        batches: Vec::new(),
        json: a.json,
        quiet: false,
    })
}
