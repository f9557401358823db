//! `shrink bench train`: training throughput (images/s) of zoo models at given batch
//! sizes, on synthetic MNIST-shaped batches (the data path is not what is measured).
//! `shrink bench run`: inference latency (batch 1) and throughput (batch 64) of a
//! `.shrk` on shrink-runtime against the same weights dense in Burn (and PyTorch).
//! The measuring is `shrink_lab::bench`.

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
    Run(RunArgs),
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
    fn args(&self) -> PythonArgs {
        PythonArgs {
            python: self.python.clone(),
            no_python: self.no_python,
        }
    }
}

pub fn run(c: Cmd) -> Result<()> {
    match c {
        Cmd::Train(a) => run_train(a),
        Cmd::Run(a) => run_inference(a),
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

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink bench run runs/c300/model.shrk --threads 1\n  shrink bench run runs/c5/model.shrk --check mnist --json\n\n--threads also sets RAYON_NUM_THREADS (Burn's Flex pool) unless it is already set;\nrun `RAYON_NUM_THREADS=1 shrink bench run ...` to pin it yourself."
)]
pub struct RunArgs {
    /// A `.shrk` file.
    pub model: PathBuf,
    /// Threads for the runtime and for Burn.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seconds to measure each case for (after warm-up).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Also compare the runtime's logits with Burn's on this data set's test split.
    #[arg(long)]
    pub check: Option<String>,
    /// Fail unless dense PyTorch was timed (it is timed whenever the Python has torch).
    #[arg(long)]
    pub pytorch: bool,
    #[command(flatten)]
    pub python: PythonFlags,
    #[arg(long)]
    pub json: bool,
}

fn run_inference(a: RunArgs) -> Result<()> {
    let (json, text) = bench::run(&bench::RunBench {
        model: &a.model,
        threads: a.threads,
        seconds: a.seconds,
        check: a.check.as_deref(),
        pytorch: a.pytorch,
        python: &a.python.args(),
    })?;
    if a.json {
        return print_json(&json);
    }
    print!("{text}");
    Ok(())
}
