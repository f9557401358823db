//! `shrink experiment norm|transfer|ablation --quick`, run as a user would: each writes
//! results.json and report.html with the expected structure, resumes from its finished
//! runs, and its report opens in headless Chromium and renders (a screenshot that is not
//! blank, every embedded PNG decodes).

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The envelope every experiment writes.
fn check_envelope(v: &Value, experiment: &str) {
    assert_eq!(v["experiment"], experiment);
    assert!(v["settings"].is_object());
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
    let m = &v["machine"];
    assert!(!m["cpu"].as_str().unwrap().is_empty());
    assert!(m["cores"].as_u64().unwrap() >= 1);
    assert_eq!(m["burn_version"], "0.22.1");
    assert!(m["shrink_version"].is_string());
}

/// Every `data:image/png;base64,…` in the page decodes as an image.
fn check_embedded_pngs(html: &str) -> usize {
    use base64::Engine;
    let mut n = 0;
    for part in html.split("data:image/png;base64,").skip(1) {
        let b64 = &part[..part.find('"').expect("closing quote")];
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let img = image::load_from_memory(&bytes).expect("embedded PNG decodes");
        assert!(img.width() > 0 && img.height() > 0);
        n += 1;
    }
    n
}

/// Open `report.html` in headless Chromium, take a screenshot, and check that it shows
/// a rendered page: many distinct colours and a fair share of non-white pixels.
fn check_renders(html: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let profile = dir.path().join("profile");
    let out = Command::new("timeout")
        .arg("120")
        .arg(shrink_testkit::chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,2000")
        .arg(format!("file://{}", html.canonicalize().unwrap().display()))
        .output()
        .expect("run chromium");
    assert!(
        shot.is_file(),
        "chromium wrote no screenshot of {}: {}",
        html.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).unwrap().to_rgb8();
    let total = (img.width() * img.height()) as f64;
    let mut colours = std::collections::HashSet::new();
    let mut ink = 0usize;
    for p in img.pixels() {
        colours.insert((p[0] >> 4, p[1] >> 4, p[2] >> 4));
        if p.0.iter().any(|&c| c < 235) {
            ink += 1;
        }
    }
    assert!(
        colours.len() >= 8,
        "{}: the screenshot has only {} colours",
        html.display(),
        colours.len()
    );
    let share = ink as f64 / total;
    assert!(
        share > 0.02,
        "{}: the screenshot is almost blank ({:.2}% non-white)",
        html.display(),
        100.0 * share
    );
}

fn check_report(dir: &Path, stdout: &Value, title: &str, min_plots: usize) -> String {
    assert_eq!(
        &read_json(&dir.join("results.json")),
        stdout,
        "--json prints results.json"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(title), "title {title:?} missing");
    assert!(
        html.matches("<svg").count() >= min_plots,
        "expected at least {min_plots} plots"
    );
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained"
    );
    assert!(html.contains("Burn 0.22.1"));
    // What a reader checks: every table of results has a plot, uncertainty is never
    // a spread of zero, and a quick run says it is one.
    let tables = html.matches("<table>").count();
    let plots = html.matches("<svg").count();
    assert!(plots >= tables, "{tables} tables but {plots} plots");
    assert!(!html.contains("± 0.00"), "a spread of 0.00 says nothing");
    if stdout["settings"]["data"]["quick"] == true {
        assert!(
            html.contains("class=\"banner\"") && html.contains("Quick run (--quick)"),
            "a quick run says so"
        );
    }
    check_embedded_pngs(&html);
    check_renders(&dir.join("report.html"));
    html
}

#[test]
fn norm_quick_reports_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("norm");
    let args = [
        "experiment",
        "norm",
        "--quick",
        "--data",
        "mnist",
        "--limit-train",
        "1200",
        "--limit-test",
        "500",
        "--sweep",
        "1,30",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    let r = run(&args);
    let v = stdout_json(&r);
    check_envelope(&v, "norm");
    let s = &v["settings"];
    assert_eq!(s["batch_size"], 60);
    assert_eq!(s["data"]["train_examples"], 1200);
    assert_eq!(s["data"]["test_examples"], 500);
    let runs = v["results"]["runs"].as_array().unwrap();
    let variants: Vec<&str> = runs
        .iter()
        .map(|r| r["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["none", "batch", "layer"]);
    let steps = s["steps"].as_u64().unwrap();
    let every = s["eval_every"].as_u64().unwrap();
    for run in runs {
        let curve = run["curve"].as_array().unwrap();
        assert_eq!(
            curve.len() as u64,
            steps / every + 1,
            "evaluated at 0, K, 2K, …"
        );
        assert_eq!(curve.last().unwrap()["step"].as_u64().unwrap(), steps);
        for p in curve {
            let (a, b, c) = (
                p["p15"].as_f64().unwrap(),
                p["p50"].as_f64().unwrap(),
                p["p85"].as_f64().unwrap(),
            );
            assert!(a <= b && b <= c, "percentiles in order: {p}");
        }
        // Even a quick run learns something.
        assert!(
            run["final_accuracy"].as_f64().unwrap() > 0.5,
            "{}",
            run["variant"]
        );
    }
    assert_eq!(v["results"]["sweep"].as_array().unwrap().len(), 6);
    let sentence = v["results"]["headline"]["sentence"].as_str().unwrap();
    assert!(sentence.contains("Without normalisation"), "{sentence}");
    let html = check_report(&out, &v, "Ioffe", 3);
    assert!(check_embedded_pngs(&html) >= 8, "first-layer weight images");
    assert_eq!(v["settings"]["data"]["quick"], true);
    // One seed: each compared accuracy carries its 95% interval, and "N× fewer steps"
    // its resolution.
    assert!(
        html.matches("% (").count() >= 3,
        "intervals on the accuracies"
    );
    assert!(
        sentence.contains(&format!("evaluations every {every} steps"))
            || !sentence.contains("fewer"),
        "{sentence}"
    );
    // The weights are pictured, not dumped into results.json (unless --weights).
    let size = std::fs::metadata(out.join("results.json")).unwrap().len();
    assert!(size < 100_000, "results.json is {size} bytes");
    assert!(runs.iter().all(|r| r.get("first_layer").is_none()));
    assert!(out.join("runs").read_dir().unwrap().count() >= 9);

    // Resume: every run is found and skipped; the numbers are the same.
    let mut resumed_args = args.to_vec();
    resumed_args.push("--resume");
    let r2 = run(&resumed_args);
    let v2 = stdout_json(&r2);
    let err = String::from_utf8_lossy(&r2.stderr);
    assert_eq!(err.matches("done earlier").count(), 9, "{err}");
    assert_eq!(v2["results"]["runs"], v["results"]["runs"]);
}

#[test]
fn transfer_quick_on_another_data_set() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    // 12×12 images, 6 classes: transfer works on any labelled images, not only MNIST.
    idx_dataset(&data, 1200, 300, 12, 12, 6);
    let out = tmp.path().join("transfer");
    let v = stdout_json(&run(&[
        "experiment",
        "transfer",
        "--quick",
        "--data",
        data.to_str().unwrap(),
        "--split-a",
        "0,2,4",
        "--seeds",
        "2",
        "--depth",
        "5",
        "--width",
        "32",
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    check_envelope(&v, "transfer");
    assert_eq!(v["settings"]["split_a"], serde_json::json!([0, 2, 4]));
    assert_eq!(v["settings"]["split_b"], serde_json::json!([1, 3, 5]));
    let res = &v["results"];
    assert_eq!(
        res["base"].as_array().unwrap().len(),
        4,
        "baseA and baseB per seed"
    );
    let runs = res["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2 * 4 * 4, "2 seeds × 4 variants × n = 1..4");
    for r in runs {
        let change = r["copied_max_change"].as_f64().unwrap();
        let v = r["variant"].as_str().unwrap();
        if v.ends_with('+') {
            assert!(
                change > 0.0,
                "{v} n={} fine-tunes its copied layers",
                r["n"]
            );
        } else {
            assert_eq!(
                change, 0.0,
                "{v} n={} keeps its copied layers frozen",
                r["n"]
            );
        }
        let acc = r["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }
    let summary = res["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 4);
    assert_eq!(summary[0][1].as_array().unwrap().len(), 4);
    let findings = res["findings"].as_array().unwrap();
    assert!(findings
        .iter()
        .any(|f| f.as_str().unwrap().starts_with("Co-adaptation")));
    assert!(findings
        .iter()
        .any(|f| f.as_str().unwrap().starts_with("Specificity")));
    let html = check_report(&out, &v, "Yosinski", 1);
    assert!(html.contains("AnB+") && html.contains("baseB"));
}

#[test]
fn ablation_quick_covers_every_component() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ablation");
    let v = stdout_json(&run(&[
        "experiment",
        "ablation",
        "--quick",
        "--limit-train",
        "1200",
        "--limit-test",
        "300",
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    check_envelope(&v, "ablation");
    let summary = v["results"]["summary"].as_array().unwrap();
    let names: Vec<&str> = summary
        .iter()
        .map(|s| s["variant"].as_str().unwrap())
        .collect();
    for want in [
        "base",
        "leaky_relu",
        "prelu",
        "rrelu",
        "elu",
        "maxout",
        "sigmoid",
        "tanh",
        "xavier",
        "small_normal",
        "dropout",
        "batch_norm",
        "augment",
        "residual",
        "hinge",
    ] {
        assert!(
            names.contains(&want),
            "variant {want} missing from {names:?}"
        );
    }
    for s in summary {
        let e = s["test_error_mean"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&e), "{s}");
        assert!(s["params"].as_u64().unwrap() > 0);
        assert!(s["seconds_mean"].as_f64().unwrap() >= 0.0);
    }
    let base = summary.iter().find(|s| s["variant"] == "base").unwrap();
    assert!(
        base["test_error_mean"].as_f64().unwrap() < 0.6,
        "the base learns: {base}"
    );
    let html = check_report(&out, &v, "CNN toolbox", 1);
    assert!(html.contains("<table>") && html.contains("maxout"));
    // One seed: a bar chart with an error bar per variant, an interval in every cell,
    // no per-seed column repeating the mean.
    assert_eq!(html.matches("class=\"bar\"").count(), summary.len());
    assert_eq!(html.matches("class=\"error-bar\"").count(), summary.len());
    assert!(html.matches("% (").count() >= summary.len());
    assert!(!html.contains("per seed"));
    assert!(html.contains("within the noise — "));
}

#[test]
fn experiment_rejects_bad_input_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let r = run(&[
        "experiment",
        "ablation",
        "--quick",
        "--only",
        "base,wobble",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&r, "unknown variant 'wobble'");
    let r = run(&[
        "experiment",
        "transfer",
        "--quick",
        "--split-a",
        "0,12",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&r, "class 12");
}
