//! Time [`Model::forward`] on a `.shrk` model: the driver behind the A/B rows of
//! `crates/shrink-runtime/PERF.md`.
//!
//! ```sh
//! cargo run --release -p shrink-runtime --example forward_time -- web/model.shrk 1 20000
//! perf stat -e task-clock target/release/examples/forward_time web/model.shrk 64 2000
//! ```
//!
//! Arguments: model, batch, calls, and optionally threads (default 1). Inputs are
//! synthetic (fixed pseudo-random values in [0, 1]); prints the median and mean wall
//! time per call. Under load, `perf stat -e task-clock` (CPU time) is the steadier
//! measure: divide by the number of calls.
//!
//! Not here: comparisons with other engines (`bench/python_bench.py`, `shrink bench run`).

use shrink_runtime::{Model, Workspace};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: forward_time MODEL.shrk BATCH CALLS [THREADS]".into());
    }
    let number = |i: usize, what: &str| -> Result<usize, String> {
        args[i]
            .parse::<usize>()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("{what} must be a positive integer, got {:?}", args[i]))
    };
    let (batch, calls) = (number(1, "BATCH")?, number(2, "CALLS")?);
    let threads = if args.len() > 3 {
        number(3, "THREADS")?
    } else {
        1
    };
    let bytes = std::fs::read(&args[0]).map_err(|e| format!("{}: {e}", args[0]))?;
    let mut model = Model::from_bytes(&bytes).map_err(|e| format!("{}: {e}", args[0]))?;
    model.set_threads(threads);
    let len = model.input_len() * batch;
    // A fixed linear congruential sequence in [0, 1).
    let mut s = 12345u32;
    let x: Vec<f32> = (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32
        })
        .collect();
    let mut ws = Workspace::default();
    let mut out = Vec::new();
    model
        .forward(&x, batch, &mut ws, &mut out)
        .map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        model
            .forward(&x, batch, &mut ws, &mut out)
            .map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = start.elapsed().as_secs_f64() * 1e6;
    times.sort_by(f64::total_cmp);
    let checksum: f64 = out.iter().map(|&v| v as f64).sum();
    println!(
        "{}: batch {batch}, {threads} thread(s), {:?} kernels: median {:.2} µs, mean {:.2} µs per call ({calls} calls; logit sum {checksum:.6})",
        args[0],
        model.kernels(),
        times[calls / 2],
        total / calls as f64,
    );
    Ok(())
}
