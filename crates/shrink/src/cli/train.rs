//! `shrink train SPEC --data D --out DIR`.

use super::print_json;
use super::train_flags::TrainFlags;
use anyhow::Result;
use shrink_core::device::parse_device;
use shrink_core::spec_file::SpecFile;
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
    #[command(flatten)]
    pub train: TrainFlags,
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
    let file = SpecFile::read(&a.spec)?;
    let cfg = file.train.with(&a.train.overrides())?;
    if a.snapshot_every == Some(0) {
        anyhow::bail!("--snapshot-every must be at least 1");
    }
    let device = parse_device(&a.device)?;
    let src = workflow::load_data(&a.data, a.label.clone())?;
    let name = file.name(&a.spec, "model");
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
        Some(&file.compress),
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
