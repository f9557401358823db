//! `shrink train SPEC --data D --out DIR` and the main job `shrink demo`.

use super::print_json;
use anyhow::{Context, Result};
use shrink_core::device::parse_device;
use shrink_core::model::io::read_spec_file;
use shrink_core::train::TrainConfig;
use shrink_core::workflow;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  shrink train zoo/lenet-300-100.toml --data mnist --out runs/lenet-300-100"
)]
pub struct Args {
    /// The model spec (TOML), e.g. zoo/lenet-5.toml. Its [train] table gives the defaults.
    pub spec: PathBuf,
    /// `mnist` (bundled), or a path: an IDX or CIFAR directory, a CSV file, an image folder.
    #[arg(long)]
    pub data: String,
    /// Output model directory (default: runs/<spec name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Label column of a CSV file.
    #[arg(long)]
    pub label: Option<String>,
    /// flex (CPU, default), cuda[:N], wgpu[:N]; a comma-separated list (wgpu:0,wgpu:1)
    /// trains data-parallel, one replica per device.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Continue from the checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many epochs of this invocation, keeping the checkpoint (for
    /// time-sliced or preemptible runs); continue later with --resume.
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Keep the weights after every N-th epoch in <out>/snapshots/epoch-NNN.safetensors
    /// (`shrink viz <out>` then shows how the features evolved).
    #[arg(long, value_name = "N")]
    pub snapshot_every: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    let file = read_spec_file(&a.spec)?;
    let mut cfg = TrainConfig::from_table(file.train.as_ref())
        .with_context(|| format!("spec {}", a.spec.display()))?;
    if let Some(v) = a.epochs {
        cfg.epochs = v;
    }
    if let Some(v) = a.lr {
        cfg.lr = v;
    }
    if let Some(v) = a.batch_size {
        cfg.batch_size = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    cfg.validate()?;
    if a.snapshot_every == Some(0) {
        anyhow::bail!("--snapshot-every must be at least 1");
    }
    let device = parse_device(&a.device)?;
    let src = workflow::load_data(&a.data, a.label.clone())?;
    let name = if file.spec.name.is_empty() {
        a.spec
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "model".into())
    } else {
        file.spec.name.clone()
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&name));
    shrink_core::model::io::check_run_dir(
        &out,
        a.resume,
        &[
            "spec.toml",
            "model.safetensors",
            "checkpoint",
            "metrics.jsonl",
        ],
    )?;
    let opts = workflow::RunOpts {
        resume: a.resume,
        stop_after: a.stop_after,
        quiet: a.quiet,
        snapshot_every: a.snapshot_every,
    };
    let (report, _, _) = workflow::train_model(
        file.spec,
        &cfg,
        file.compress.as_ref(),
        &src,
        &out,
        &device,
        &opts,
    )?;
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "{}: test error {:.2}% ({} of {} wrong), {} epochs, {:.0}s -> {}",
            name,
            100.0 * report.test_error,
            (report.test_error * report.n as f64).round() as usize,
            report.n,
            report.epochs,
            report.seconds,
            out.display()
        );
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where to put the runs.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// The main job: Deep Compression of LeNet-300-100 on the bundled MNIST.
pub fn demo(a: DemoArgs) -> Result<()> {
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
