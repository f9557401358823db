//! `shrink bench train`: training throughput (images/s) of zoo models at given batch
//! sizes, on synthetic MNIST-shaped batches (the data path is not what is measured).
//! `shrink bench run` is in `bench_run.rs`. The measuring is `shrink_lab::bench`.

use super::print_json;
use anyhow::Result;
use shrink_lab::bench::{self, side::PythonArgs};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Training images/s for each spec and batch size.
    #[command(
        after_help = "Example:\n  shrink bench train zoo/lenet-300-100.toml zoo/lenet-5.toml --batch 64 --batch 256\n\nThreads: Burn's Flex backend runs on one rayon pool of every core the machine gives, or\nRAYON_NUM_THREADS (which --threads sets); training (`shrink train`, `compress`, ...) follows\nthe same setting. Same seed and thread count: same weights. PyTorch is timed in the same\nrun with the same thread count when the Python (--python, $SHRINK_PYTHON, python3) has torch;\notherwise a note says it was skipped."
    )]
    Train(TrainArgs),
    /// Inference: the runtime on a .shrk vs the same weights dense in Burn.
    Run(super::bench_run::RunArgs),
}

#[derive(clap::Args)]
pub struct TrainArgs {
    pub specs: Vec<PathBuf>,
    #[arg(long = "batch", default_values_t = vec![64usize, 256])]
    pub batches: Vec<usize>,
    /// Seconds to measure each case for (after warm-up).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Exactly this many steps per case instead of --seconds.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Threads for Burn and PyTorch [default: $RAYON_NUM_THREADS, else all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub python: PythonFlags,
    #[arg(long)]
    pub json: bool,
}

/// Which Python times the other engines.
#[derive(clap::Args, Clone, Debug)]
pub struct PythonFlags {
    /// Python that times PyTorch (and ONNX Runtime for `bench run`) side by side
    /// [default: $SHRINK_PYTHON, else python3].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Time shrink only (no Python side).
    #[arg(long)]
    pub no_python: bool,
}

impl PythonFlags {
    /// The library's side-by-side settings.
    pub fn args(&self) -> PythonArgs {
        PythonArgs {
            python: self.python.clone(),
            no_python: self.no_python,
        }
    }
}

pub fn run(c: Cmd) -> Result<()> {
    match c {
        Cmd::Train(a) => run_train(a),
        Cmd::Run(a) => super::bench_run::run(a),
    }
}

fn run_train(a: TrainArgs) -> Result<()> {
    let json = a.json;
    let r = bench::train(
        &bench::TrainBench {
            specs: &a.specs,
            batches: &a.batches,
            seconds: a.seconds,
            steps: a.steps,
            threads: a.threads,
            device: &a.device,
            python: &a.python.args(),
        },
        |l| {
            if !json {
                println!("{l}");
            }
        },
    )?;
    if json {
        print_json(&r)?;
    }
    Ok(())
}
