//! `shrink bench run MODEL.shrk`: inference latency (batch 1) and throughput (batch 64)
//! of a `.shrk` on shrink-runtime against the same weights dense in Burn (and PyTorch,
//! ONNX Runtime).
//!
//! Not here: the measuring (`shrink_lab::bench`), `bench train` (`bench.rs`).

use super::bench::PythonFlags;
use super::print_json;
use anyhow::Result;
use shrink_lab::bench;
use std::path::PathBuf;

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

pub fn run(a: RunArgs) -> Result<()> {
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
