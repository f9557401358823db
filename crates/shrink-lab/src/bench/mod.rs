//! `shrink bench`: training throughput (images/s) of specs at given batch sizes, on
//! synthetic batches through the training loop's own step, and inference latency and
//! throughput of a `.shrk` on shrink-runtime against the same weights dense in Burn —
//! each beside PyTorch (and ONNX Runtime) timed in the same run when a Python has them
//! ([`side`]). The results go to BENCHMARKS.md.
//!
//! Not here: the step being timed (`shrink_core::bench`, `train::step`), the flags (the
//! binary's `cli/bench.rs`).

pub mod side;

use anyhow::Result;
use serde::Serialize;
use shrink_core::batch::to_feat;
use shrink_core::classifier::{open, BurnModel};
use shrink_core::device::parse_device;
use shrink_core::model::io::read_spec_file;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One `bench train` case.
#[derive(Serialize)]
pub struct Case {
    pub model: String,
    pub batch: usize,
    pub steps: usize,
    pub ms_per_step: f64,
    pub images_per_second: f64,
    /// PyTorch's time for the same step, and `pytorch_ms / ms_per_step` (≥ 1: shrink as
    /// fast or faster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pytorch: Option<side::TorchCase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_vs_pytorch: Option<f64>,
}

/// What `bench train` asks for.
pub struct TrainBench<'a> {
    pub specs: &'a [PathBuf],
    pub batches: &'a [usize],
    /// Seconds per case (after warm-up), unless `steps`.
    pub seconds: f64,
    pub steps: Option<usize>,
    /// `--threads` (None: `RAYON_NUM_THREADS`, else every core).
    pub threads: Option<usize>,
    pub device: &'a str,
    pub python: &'a side::PythonArgs,
}

/// Time every spec at every batch size (and PyTorch beside each); `line` gets each
/// finished case's text line(s) as it comes. Returns `{train, threads, notes}`.
pub fn train(b: &TrainBench, mut line: impl FnMut(&str)) -> Result<serde_json::Value> {
    let threads = side::init_threads(b.threads);
    let device = parse_device(b.device)?.autodiff();
    let mut cases = Vec::new();
    let mut notes = Vec::new();
    line(&format!(
        "threads: {threads} (Burn's Flex pool; PyTorch the same)"
    ));
    for path in b.specs {
        let spec = read_spec_file(path)?;
        for &batch in b.batches {
            let t =
                shrink_core::bench::train_throughput(&spec, batch, b.seconds, b.steps, &device)?;
            let mut case = Case {
                model: t.model,
                batch: t.batch,
                steps: t.steps,
                ms_per_step: t.ms_per_step,
                images_per_second: t.images_per_second,
                pytorch: None,
                speed_vs_pytorch: None,
            };
            line(&format!(
                "{:<16} batch {:>4}: {:>8.2} ms/step  {:>9.0} images/s  ({} steps)",
                case.model, case.batch, case.ms_per_step, case.images_per_second, case.steps
            ));
            match side::torch_train(b.python, path, batch, threads, b.seconds, b.steps) {
                Ok(t) => {
                    let r = t.case.ms_per_step / case.ms_per_step;
                    line(&format!(
                        "{:<16} batch {:>4}: {:>8.2} ms/step  (pytorch {}, {} threads, {} steps)  speed shrink/pytorch {r:.2}x",
                        "", batch, t.case.ms_per_step, t.version, t.threads, t.case.steps
                    ));
                    case.pytorch = Some(t.case);
                    case.speed_vs_pytorch = Some(r);
                }
                Err(why) => notes.push(format!("pytorch skipped: {why}")),
            }
            cases.push(case);
        }
    }
    notes.dedup();
    for n in &notes {
        line(&format!("note: {n}"));
    }
    Ok(serde_json::json!({ "train": cases, "threads": threads, "notes": notes }))
}

/// Per-call times of one case.
#[derive(Serialize, serde::Deserialize, Clone)]
pub struct Timing {
    batch: usize,
    calls: usize,
    median_us: f64,
    p10_us: f64,
    mean_us: f64,
    /// `batch / median`.
    images_per_second: f64,
}

#[derive(Serialize)]
struct EngineTimes {
    engine: String,
    batch1: Timing,
    batch64: Timing,
}

#[derive(Serialize)]
struct Agreement {
    data: String,
    n: usize,
    max_abs_logit_diff: f32,
    same_predictions: usize,
}

/// Call `f` repeatedly for `seconds` after a warm-up; time every call.
fn time_calls(seconds: f64, batch: usize, mut f: impl FnMut()) -> Timing {
    let warm = Instant::now();
    let mut n = 0;
    while n < 3 || warm.elapsed().as_secs_f64() < seconds / 10.0 {
        f();
        n += 1;
    }
    let mut t = Vec::new();
    let start = Instant::now();
    while t.len() < 5 || start.elapsed().as_secs_f64() < seconds {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    t.sort_by(f64::total_cmp);
    let median = t[t.len() / 2];
    Timing {
        batch,
        calls: t.len(),
        median_us: median,
        p10_us: t[t.len() / 10],
        mean_us: t.iter().sum::<f64>() / t.len() as f64,
        images_per_second: batch as f64 * 1e6 / median,
    }
}

/// Threads of this process (Linux), to show what RAYON_NUM_THREADS left running.
fn process_threads() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

/// What `bench run` asks for.
pub struct RunBench<'a> {
    /// A `.shrk` file.
    pub model: &'a Path,
    /// Threads for the runtime and for Burn.
    pub threads: usize,
    /// Seconds per case (after warm-up).
    pub seconds: f64,
    /// Also compare the runtime's logits with Burn's on this data set's test split.
    pub check: Option<&'a str>,
    /// Fail unless dense PyTorch was timed.
    pub pytorch: bool,
    pub python: &'a side::PythonArgs,
}

/// Time the runtime, Burn dense and the Python engines on `b.model`. Returns
/// results as JSON and as text.
pub fn run(job: &RunBench) -> Result<(serde_json::Value, String)> {
    // Burn's Flex backend runs on rayon's global pool, sized from RAYON_NUM_THREADS when
    // first used: set it before any Burn call.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", job.threads.to_string());
    }
    let mut model = open(job.model)?.into_runtime()?.model;
    model.set_threads(job.threads);
    let device = parse_device("flex")?;
    let BurnModel { spec, net, .. } = open(job.model)?.into_burn(&device)?;
    let len = model.input_len();
    // Deterministic inputs in [0, 1], like images.
    let x: Vec<f32> = (0..64 * len)
        .map(|i| ((i as u64 * 2_654_435_761) % 1000) as f32 / 1000.0)
        .collect();
    let burn_logits = |x: &[f32], b: usize| -> Vec<f32> {
        let mut v = x.to_vec();
        shrink_core::batch::normalize(spec.normalize.as_ref(), &spec.input, &mut v);
        net.forward(to_feat(v, b, &spec.input, &device))
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap_or_default()
    };
    let mut ws = shrink_runtime::Workspace::default();
    let mut out = Vec::new();
    let mut engines = Vec::new();
    let mut runtime_case = |b: usize| {
        time_calls(job.seconds, b, || {
            model
                .forward(&x[..b * len], b, &mut ws, &mut out)
                .expect("input length checked");
        })
    };
    engines.push(EngineTimes {
        engine: format!("shrink-runtime ({:?})", model.kernels()),
        batch1: runtime_case(1),
        batch64: runtime_case(64),
    });
    let compact_bytes = model.memory_bytes();
    // The same with the batch-1 lookup layout (AVX-512 only): more memory, lower latency.
    let lookup_layers = model.add_lookup_layout();
    let lookup_bytes = model.memory_bytes();
    if lookup_layers > 0 {
        let batch1 = time_calls(job.seconds, 1, || {
            model
                .forward(&x[..len], 1, &mut ws, &mut out)
                .expect("input length checked");
        });
        engines.push(EngineTimes {
            engine: "shrink-runtime + lookup layout".into(),
            batch1,
            batch64: engines[0].batch64.clone(),
        });
    }
    let burn_case = |b: usize| {
        time_calls(job.seconds, b, || {
            std::hint::black_box(burn_logits(&x[..b * len], b));
        })
    };
    engines.push(EngineTimes {
        engine: "burn flex (dense)".into(),
        batch1: burn_case(1),
        batch64: burn_case(64),
    });
    let burn_threads = process_threads();
    let mut notes = Vec::new();
    let (side, side_notes) = side::python_engines(job.python, job.model, job.threads, job.seconds)?;
    for (engine, batch1, batch64) in side {
        engines.push(EngineTimes {
            engine,
            batch1,
            batch64,
        });
    }
    notes.extend(side_notes);
    if job.pytorch && !engines.iter().any(|e| e.engine.starts_with("pytorch")) {
        anyhow::bail!("--pytorch: PyTorch was not timed ({})", notes.join("; "));
    }
    let check = match job.check {
        Some(d) => {
            let src = shrink_core::workflow::load_data(d, None)?;
            shrink_core::workflow::check_fits(&spec, &src)?;
            let ds = &src.test;
            let want = shrink_core::batch::logits_of(
                &net,
                ds,
                &spec.input,
                spec.normalize.as_ref(),
                &device,
            );
            let got = model.predict(&ds.x, ds.len())?;
            let k = model.classes();
            let max_abs_logit_diff = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (g - w).abs())
                .fold(0.0f32, f32::max);
            let same_predictions = got
                .chunks(k)
                .zip(want.chunks(k))
                .filter(|(g, w)| shrink_core::batch::argmax(g) == shrink_core::batch::argmax(w))
                .count();
            Some(Agreement {
                data: src.name.clone(),
                n: ds.len(),
                max_abs_logit_diff,
                same_predictions,
            })
        }
        None => None,
    };
    let rt = &engines[0];
    let burn = engines
        .iter()
        .find(|e| e.engine.starts_with("burn"))
        .expect("burn timed");
    let fastest = engines
        .iter()
        .filter(|e| e.engine.starts_with("shrink-runtime"))
        .map(|e| e.batch1.median_us)
        .fold(f64::INFINITY, f64::min);
    let latency_speedup = burn.batch1.median_us / rt.batch1.median_us;
    let lookup_speedup = burn.batch1.median_us / fastest;
    let throughput_ratio = rt.batch64.images_per_second / burn.batch64.images_per_second;
    // The runtime against each dense engine: batch-1 latency lower by, batch-64 throughput.
    let vs: Vec<_> = engines
        .iter()
        .skip(1)
        .filter(|e| !e.engine.starts_with("shrink-runtime"))
        .map(|e| {
            let latency = e.batch1.median_us / rt.batch1.median_us;
            let lookup = e.batch1.median_us / fastest;
            let throughput = rt.batch64.images_per_second / e.batch64.images_per_second;
            (e.engine.clone(), latency, lookup, throughput)
        })
        .collect();
    let json = {
        let runtime_vs: Vec<_> = vs
            .iter()
            .map(|(e, l, k, t)| serde_json::json!({ "engine": e, "batch1_latency_speedup": l, "batch1_latency_speedup_lookup_layout": k, "batch64_throughput_ratio": t }))
            .collect();
        serde_json::json!({
            "runtime_vs": runtime_vs,
            "model": job.model.display().to_string(),
            "threads": job.threads,
            "rayon_num_threads": std::env::var("RAYON_NUM_THREADS").ok(),
            "process_threads_after_burn": burn_threads,
            "runtime_memory_bytes": compact_bytes,
            "runtime_lookup_memory_bytes": (lookup_layers > 0).then_some(lookup_bytes),
            "dense_f32_bytes": 4 * spec.param_count()?,
            "engines": engines,
            "batch1_latency_speedup_vs_burn": latency_speedup,
            "batch1_latency_speedup_vs_burn_lookup_layout": lookup_speedup,
            "batch64_throughput_ratio_vs_burn": throughput_ratio,
            "check": check,
            "notes": notes,
        })
    };
    let mut text = String::new();
    let t = &mut text;
    let _ = writeln!(
        t,
        "{}: {} threads (RAYON_NUM_THREADS={}, {} process threads after Burn ran)",
        job.model.display(),
        job.threads,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
        burn_threads.map_or("?".into(), |n| n.to_string())
    );
    let _ = writeln!(
        t,
        "weights in memory: runtime {compact_bytes} bytes ({lookup_bytes} with the lookup layout), dense float32 {} bytes",
        4 * spec.param_count()?
    );
    for e in &engines {
        let _ = writeln!(
            t,
            "{:<28} batch 1: median {:>9.1} us (p10 {:>9.1})   batch 64: median {:>10.1} us, {:>9.0} images/s",
            e.engine, e.batch1.median_us, e.batch1.p10_us, e.batch64.median_us, e.batch64.images_per_second
        );
    }
    let _ = writeln!(
        t,
        "runtime vs burn: batch-1 latency {latency_speedup:.2}x lower ({lookup_speedup:.2}x with the lookup layout), batch-64 throughput {throughput_ratio:.2}x"
    );
    for (e, latency, lookup, throughput) in vs.iter().filter(|v| !v.0.starts_with("burn")) {
        let _ = writeln!(
            t,
            "runtime vs {e}: batch-1 latency {latency:.2}x lower ({lookup:.2}x with the lookup layout), batch-64 throughput {throughput:.2}x"
        );
    }
    if let Some(c) = &check {
        let _ = writeln!(
            t,
            "check on {} ({} test examples): max |logit difference| {:.2e}, same prediction on {}",
            c.data, c.n, c.max_abs_logit_diff, c.same_predictions
        );
    }
    for n in &notes {
        let _ = writeln!(t, "note: {n}");
    }
    Ok((json, text))
}
