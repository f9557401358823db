//! `shrink bench train`: training throughput (images/s) of zoo models at given batch
//! sizes, on synthetic MNIST-shaped batches (the data path is not what is measured).
//! `shrink bench run`: inference latency (batch 1) and throughput (batch 64) of a
//! `.shrk` on shrink-runtime against the same weights dense in Burn (and PyTorch).

use super::print_json;
use anyhow::Result;
use serde::Serialize;
use shrink_core::batch::to_feat;
use shrink_core::classifier::{open, BurnModel};
use shrink_core::device::parse_device;
use shrink_core::model::io::read_spec_file;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Training images/s for each spec and batch size.
    #[command(
        after_help = "Example:\n  shrink bench train zoo/lenet-300-100.toml zoo/lenet-5.toml --batch 64 --batch 256"
    )]
    Train {
        specs: Vec<PathBuf>,
        #[arg(long = "batch", default_values_t = vec![64usize, 256])]
        batches: Vec<usize>,
        /// Seconds to measure each case for (after warm-up).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value = "flex")]
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Inference: the runtime on a .shrk vs the same weights dense in Burn.
    Run(RunArgs),
}

pub fn run(c: Cmd) -> Result<()> {
    let (specs, batches, seconds, device, json) = match c {
        Cmd::Train {
            specs,
            batches,
            seconds,
            device,
            json,
        } => (specs, batches, seconds, device, json),
        Cmd::Run(a) => return run_inference(a),
    };
    let device = parse_device(&device)?.autodiff();
    let mut cases = Vec::new();
    for path in &specs {
        let spec = read_spec_file(path)?.spec;
        for &b in &batches {
            let case = shrink_core::bench::train_throughput(&spec, b, seconds, &device)?;
            if !json {
                println!(
                    "{:<16} batch {:>4}: {:>8.2} ms/step  {:>9.0} images/s  ({} steps)",
                    case.model, case.batch, case.ms_per_step, case.images_per_second, case.steps
                );
            }
            cases.push(case);
        }
    }
    if json {
        print_json(&serde_json::json!({ "train": cases }))?;
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
    /// Also time dense PyTorch with bench/pytorch_bench.py (python3 with torch).
    #[arg(long)]
    pub pytorch: bool,
    #[arg(long)]
    pub json: bool,
}

/// Per-call times of one case.
#[derive(Serialize, serde::Deserialize, Clone)]
struct Timing {
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

fn run_inference(a: RunArgs) -> Result<()> {
    use anyhow::anyhow;
    // Burn's Flex backend runs on rayon's global pool, sized from RAYON_NUM_THREADS when
    // first used: set it before any Burn call.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", a.threads.to_string());
    }
    let mut model = open(&a.model)?.into_runtime()?.model;
    model.set_threads(a.threads);
    let device = parse_device("flex")?;
    let BurnModel { spec, net, .. } = open(&a.model)?.into_burn(&device)?;
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
        time_calls(a.seconds, b, || {
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
        let batch1 = time_calls(a.seconds, 1, || {
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
        time_calls(a.seconds, b, || {
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
    if a.pytorch {
        match pytorch_times(&a) {
            Ok(t) => engines.push(t),
            Err(e) => notes.push(format!("pytorch not timed: {e:#}")),
        }
    }
    let check = match &a.check {
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
            let got = model.predict(&ds.x, ds.len()).map_err(|e| anyhow!("{e}"))?;
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
    if a.json {
        return print_json(&serde_json::json!({
            "model": a.model.display().to_string(),
            "threads": a.threads,
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
        }));
    }
    println!(
        "{}: {} threads (RAYON_NUM_THREADS={}, {} process threads after Burn ran)",
        a.model.display(),
        a.threads,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
        burn_threads.map_or("?".into(), |n| n.to_string())
    );
    println!(
        "weights in memory: runtime {compact_bytes} bytes ({lookup_bytes} with the lookup layout), dense float32 {} bytes",
        4 * spec.param_count()?
    );
    for e in &engines {
        println!(
            "{:<28} batch 1: median {:>9.1} us (p10 {:>9.1})   batch 64: median {:>10.1} us, {:>9.0} images/s",
            e.engine, e.batch1.median_us, e.batch1.p10_us, e.batch64.median_us, e.batch64.images_per_second
        );
    }
    println!(
        "runtime vs burn: batch-1 latency {latency_speedup:.2}x lower ({lookup_speedup:.2}x with the lookup layout), batch-64 throughput {throughput_ratio:.2}x"
    );
    if let Some(c) = &check {
        println!(
            "check on {} ({} test examples): max |logit difference| {:.2e}, same prediction on {}",
            c.data, c.n, c.max_abs_logit_diff, c.same_predictions
        );
    }
    for n in &notes {
        println!("note: {n}");
    }
    Ok(())
}

/// Dense PyTorch on the same weights: writes the spec and the decoded weights to a
/// temporary folder and runs `bench/pytorch_bench.py` (which prints one JSON object).
fn pytorch_times(a: &RunArgs) -> Result<EngineTimes> {
    use anyhow::{anyhow, bail};
    let (spec, table, _) = shrink_core::compress::encode::read_shrk(&a.model)?;
    let dir = std::env::temp_dir().join(format!("shrink-pytorch-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("spec.toml"), spec.to_toml())?;
    // Weights: raw little-endian f32 back to back, described by weights.json.
    let mut raw = Vec::new();
    let mut index = Vec::new();
    for p in &table.params {
        index
            .push(serde_json::json!({ "name": p.name, "shape": p.shape, "offset": raw.len() / 4 }));
        raw.extend(p.data.iter().flat_map(|v| v.to_le_bytes()));
    }
    std::fs::write(dir.join("weights.bin"), raw)?;
    std::fs::write(dir.join("weights.json"), serde_json::to_string(&index)?)?;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/pytorch_bench.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .args([
            "--threads",
            &a.threads.to_string(),
            "--seconds",
            &a.seconds.to_string(),
        ])
        .output()
        .map_err(|e| anyhow!("cannot run python3: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        bail!(
            "{}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(EngineTimes {
        engine: format!("pytorch {} (dense)", v["torch"].as_str().unwrap_or("?")),
        batch1: serde_json::from_value(v["batch1"].clone())?,
        batch64: serde_json::from_value(v["batch64"].clone())?,
    })
}
