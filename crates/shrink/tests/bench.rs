//! `shrink bench train` and `shrink bench run` with their Python side absent (the line
//! saying it was skipped) and stood in for by a fake interpreter that prints fixed
//! timings (the ratios computed from them). No timing is asserted.

mod common;
use common::*;
use std::path::Path;

const MLP: &str = r#"
name = "bench-mlp"
input = [1, 6, 6]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 8
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 3
"#;

/// An executable "python" that ignores its arguments and prints `json`.
fn fake_python(dir: &Path, json: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("fake-python");
    std::fs::write(&p, format!("#!/bin/sh\ncat <<'EOF'\n{json}\nEOF\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn bench_train_without_python_says_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("mlp.toml");
    std::fs::write(&spec, MLP).unwrap();
    let missing = tmp.path().join("no-such-python");
    let out = run(&[
        "bench",
        "train",
        spec.to_str().unwrap(),
        "--batch",
        "4",
        "--steps",
        "2",
        "--threads",
        "1",
        "--python",
        missing.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("threads: 1"), "{text}");
    assert!(
        text.contains("bench-mlp") && text.contains("(2 steps)"),
        "{text}"
    );
    let skipped = text
        .lines()
        .find(|l| l.starts_with("note: pytorch skipped:"))
        .unwrap_or_else(|| panic!("no skipped line in\n{text}"));
    assert!(skipped.contains("no-such-python"), "{skipped}");

    let r = stdout_json(&run(&[
        "bench",
        "train",
        spec.to_str().unwrap(),
        "--batch",
        "4",
        "--steps",
        "2",
        "--no-python",
        "--json",
    ]));
    let case = &r["train"][0];
    assert_eq!(case["steps"], 2);
    assert_eq!(case["batch"], 4);
    assert!(case["ms_per_step"].as_f64().unwrap() > 0.0);
    assert!(case.get("speed_vs_pytorch").is_none());
    assert!(r["notes"][0].as_str().unwrap().contains("--no-python"));
}

#[test]
fn bench_train_ratio_is_pytorch_time_over_shrink_time() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("mlp.toml");
    std::fs::write(&spec, MLP).unwrap();
    let py = fake_python(
        tmp.path(),
        r#"{"torch": "fake-1.0", "threads": 1, "cases": [{"batch": 4, "steps": 3, "ms_per_step": 1000.0}]}"#,
    );
    let r = stdout_json(&run(&[
        "bench",
        "train",
        spec.to_str().unwrap(),
        "--batch",
        "4",
        "--steps",
        "2",
        "--threads",
        "1",
        "--python",
        py.to_str().unwrap(),
        "--json",
    ]));
    let case = &r["train"][0];
    let ms = case["ms_per_step"].as_f64().unwrap();
    assert_eq!(case["pytorch"]["steps"], 3);
    let ratio = case["speed_vs_pytorch"].as_f64().unwrap();
    assert!(
        (ratio - 1000.0 / ms).abs() < 1e-9 * ratio,
        "{ratio} vs {ms}"
    );
    assert_eq!(r["notes"].as_array().unwrap().len(), 0);
}

#[test]
fn bench_run_compares_with_the_python_engines_it_gets() {
    let tmp = tempfile::tempdir().unwrap();
    let model = repo_root().join("web/model.shrk");
    let missing = tmp.path().join("no-such-python");
    let base = [
        "bench",
        "run",
        model.to_str().unwrap(),
        "--seconds",
        "0.05",
        "--json",
        "--python",
    ];
    let r = stdout_json(&run(&[&base[..], &[missing.to_str().unwrap()]].concat()));
    let notes = r["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("onnxruntime and pytorch skipped")),
        "{notes:?}"
    );
    assert_eq!(
        r["engines"].as_array().unwrap().len(),
        r["runtime_vs"].as_array().unwrap().len() + 1
    );

    // A Python that has ONNX Runtime but not torch's eager engine, say.
    let t = |us: f64| {
        format!(
            r#"{{"batch": 1, "calls": 5, "median_us": {us}, "p10_us": {us}, "mean_us": {us}, "images_per_second": {}}}"#,
            1e6 / us
        )
    };
    let py = fake_python(
        tmp.path(),
        &format!(
            r#"{{"onnxruntime": {{"version": "fake", "batch1": {}, "batch64": {}}}, "pytorch": {{"skipped": "no torch here"}}}}"#,
            t(1e6),
            t(2e6)
        ),
    );
    let r = stdout_json(&run(&[&base[..], &[py.to_str().unwrap()]].concat()));
    let engines = r["engines"].as_array().unwrap();
    let rt_b1 = engines[0]["batch1"]["median_us"].as_f64().unwrap();
    let ort = r["runtime_vs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["engine"]
                .as_str()
                .unwrap()
                .starts_with("onnxruntime fake")
        })
        .expect("onnxruntime compared");
    let speedup = ort["batch1_latency_speedup"].as_f64().unwrap();
    assert!((speedup - 1e6 / rt_b1).abs() < 1e-9 * speedup);
    assert!(r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap() == "pytorch skipped: no torch here"));

    // --pytorch insists on PyTorch: one error line, non-zero exit.
    let out = run(&[&base[..], &[py.to_str().unwrap(), "--pytorch"]].concat());
    assert_clean_failure(&out, "PyTorch was not timed");
}
