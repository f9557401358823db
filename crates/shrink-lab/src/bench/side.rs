//! Side-by-side timings for `shrink bench`: the same training step in PyTorch
//! (`bench/torch_train_bench.py`) and the same inference in ONNX Runtime and PyTorch
//! (`bench/ort_run_bench.py`), run in the same invocation by a Python found at run time,
//! with the ratios against shrink's own figures.
//!
//! The Python is `--python PATH`, else `$SHRINK_PYTHON`, else `python3`; when it cannot
//! import what a script needs that side is skipped with one line saying why, and shrink's
//! own timings stand alone. The scripts are compiled into the binary (`SCRIPTS`), so an
//! installed `shrink` does not look for the repository. Threads: one count for both
//! sides, Burn's Flex pool (rayon, `RAYON_NUM_THREADS`) and `torch.set_num_threads`.
//!
//! Not here: shrink's own timings (`bench`), the flags (the binary's `cli/bench.rs`).

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which Python times the other engines.
#[derive(Clone, Debug, Default)]
pub struct PythonArgs {
    /// Python that times PyTorch (and ONNX Runtime for `bench run`) side by side
    /// (None: `$SHRINK_PYTHON`, else python3).
    pub python: Option<PathBuf>,
    /// Time shrink only (no Python side).
    pub no_python: bool,
}

impl PythonArgs {
    /// The interpreter to use, or why the Python side is skipped.
    fn interpreter(&self) -> std::result::Result<PathBuf, String> {
        if self.no_python {
            return Err("--no-python".into());
        }
        Ok(self
            .python
            .clone()
            .or_else(|| std::env::var_os("SHRINK_PYTHON").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("python3")))
    }
}

/// Fix the thread count of Burn's Flex pool before any Burn call and return it: `threads`
/// if given (it sets `RAYON_NUM_THREADS` unless that is already set), else
/// `RAYON_NUM_THREADS`, else the cores available.
pub fn init_threads(threads: Option<usize>) -> usize {
    if let Some(n) = threads {
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        }
    }
    // The calling thread joins Flex's rayon pool (issue 12; `kernels::threads`).
    shrink_core::model::kernels::share_calling_thread();
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The Python side's scripts, embedded in the binary so an installed `shrink` finds them
/// wherever it runs (the repository's `bench/` need not exist there). `run_script` writes
/// them into a fresh temporary folder for each call; `pytorch_bench.py` is the module the
/// other two import from their own folder.
const SCRIPTS: [(&str, &str); 3] = [
    (
        "torch_train_bench.py",
        include_str!("../../../../bench/torch_train_bench.py"),
    ),
    (
        "ort_run_bench.py",
        include_str!("../../../../bench/ort_run_bench.py"),
    ),
    (
        "pytorch_bench.py",
        include_str!("../../../../bench/pytorch_bench.py"),
    ),
];

/// Run `python script args...` and parse the one JSON object it prints; Err is the
/// one-line reason it could not.
fn run_script<T: DeserializeOwned>(
    py: &PythonArgs,
    name: &str,
    args: &[String],
) -> std::result::Result<T, String> {
    let python = py.interpreter()?;
    let dir = tempfile_dir().map_err(|e| format!("{e:#}"))?;
    let result = (|| {
        for (file, text) in SCRIPTS {
            std::fs::write(dir.join(file), text)
                .map_err(|e| format!("cannot write {}: {e}", dir.join(file).display()))?;
        }
        let out = Command::new(&python)
            .arg(dir.join(name))
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty());
            return Err(format!(
                "{} {name}: {}",
                python.display(),
                last.unwrap_or("failed")
            ));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{name} printed no JSON object: {e}"))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One PyTorch training case.
#[derive(serde::Deserialize, serde::Serialize, Clone, Debug)]
pub struct TorchCase {
    /// Batch size.
    pub batch: usize,
    /// Steps timed.
    pub steps: usize,
    /// Mean wall time of a step.
    pub ms_per_step: f64,
}

#[derive(serde::Deserialize)]
struct TorchTrain {
    torch: String,
    threads: usize,
    cases: Vec<TorchCase>,
}

/// The PyTorch side of one `bench train` case, with `torch_version` and its thread count.
pub struct TorchTrainResult {
    /// `torch.__version__`.
    pub version: String,
    /// `torch.get_num_threads()` as the script saw it.
    pub threads: usize,
    /// The case.
    pub case: TorchCase,
}

/// Time one training case in PyTorch: `spec`'s network at `batch`, `threads` threads, for
/// `seconds` (or exactly `steps` steps). Err: why it was skipped.
pub fn torch_train(
    py: &PythonArgs,
    spec: &Path,
    batch: usize,
    threads: usize,
    seconds: f64,
    steps: Option<usize>,
) -> std::result::Result<TorchTrainResult, String> {
    let mut args = vec![
        spec.display().to_string(),
        "--batch".into(),
        batch.to_string(),
        "--threads".into(),
        threads.to_string(),
        "--seconds".into(),
        seconds.to_string(),
    ];
    if let Some(k) = steps {
        args.extend(["--steps".into(), k.to_string()]);
    }
    let r: TorchTrain = run_script(py, "torch_train_bench.py", &args)?;
    let case = r
        .cases
        .into_iter()
        .next()
        .ok_or_else(|| "torch_train_bench.py timed no case".to_string())?;
    Ok(TorchTrainResult {
        version: r.torch,
        threads: r.threads,
        case,
    })
}

/// Engines timed on the Python side: (name, batch-1 timing, batch-64 timing).
pub type Engines<T> = Vec<(String, T, T)>;

/// Dense engines timed by `bench/ort_run_bench.py` on a .shrk file's decoded weights:
/// (engine name, batch-1 timing, batch-64 timing) for each of ONNX Runtime and PyTorch
/// that the Python can import, and a note for each that it cannot.
pub fn python_engines<T: DeserializeOwned>(
    py: &PythonArgs,
    model: &Path,
    threads: usize,
    seconds: f64,
) -> Result<(Engines<T>, Vec<String>)> {
    let mut notes = Vec::new();
    if let Err(why) = py.interpreter() {
        notes.push(format!("onnxruntime and pytorch skipped: {why}"));
        return Ok((Vec::new(), notes));
    }
    let (spec, table, _) = shrink_core::compress::encode::read_shrk(model)?;
    let dir = tempfile_dir()?;
    let result = (|| -> Result<serde_json::Value> {
        std::fs::write(dir.join("spec.toml"), spec.to_toml())?;
        // Weights: raw little-endian f32 back to back, described by weights.json.
        let mut raw = Vec::new();
        let mut index = Vec::new();
        for p in &table.params {
            index.push(
                serde_json::json!({ "name": p.name, "shape": p.shape, "offset": raw.len() / 4 }),
            );
            raw.extend(p.data.iter().flat_map(|v| v.to_le_bytes()));
        }
        std::fs::write(dir.join("weights.bin"), raw)?;
        std::fs::write(dir.join("weights.json"), serde_json::to_string(&index)?)?;
        let args = [
            dir.display().to_string(),
            "--threads".into(),
            threads.to_string(),
            "--seconds".into(),
            seconds.to_string(),
        ];
        match run_script::<serde_json::Value>(py, "ort_run_bench.py", &args) {
            Ok(v) => Ok(v),
            Err(why) => bail!("{why}"),
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let v = match result {
        Ok(v) => v,
        Err(e) => {
            notes.push(format!("onnxruntime and pytorch skipped: {e:#}"));
            return Ok((Vec::new(), notes));
        }
    };
    let mut engines = Vec::new();
    for key in ["onnxruntime", "pytorch"] {
        let e = &v[key];
        if let Some(why) = e["skipped"].as_str() {
            notes.push(format!("{key} skipped: {why}"));
            continue;
        }
        let name = format!("{key} {} (dense)", e["version"].as_str().unwrap_or("?"));
        let b1 = serde_json::from_value(e["batch1"].clone())
            .with_context(|| format!("ort_run_bench.py: {key} batch1"))?;
        let b64 = serde_json::from_value(e["batch64"].clone())
            .with_context(|| format!("ort_run_bench.py: {key} batch64"))?;
        engines.push((name, b1, b64));
    }
    Ok((engines, notes))
}

/// A fresh private folder under the system's temporary directory.
fn tempfile_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for i in 0..1000u32 {
        let d = base.join(format!("shrink-bench-{}-{i}", std::process::id()));
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", d.display())),
        }
    }
    bail!("cannot create a temporary folder in {}", base.display())
}
