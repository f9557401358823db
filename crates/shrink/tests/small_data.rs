//! Compression on small data keeps the dense model's predictions (issue 11): on a
//! 400-row table, `zoo/lenet-300-100.toml` compressed the way it was before the small-data
//! step (`[compress.small_data] below_rows = 0`) loses a test row of 80, which is more
//! than one point; with the step (the default: fewer than 5 000 training rows) the
//! `.shrk` predicts every row of the table as the dense model does.

mod common;
use common::*;
use std::path::Path;

/// `zoo/lenet-300-100.toml` with `lines` added to its `[compress]` table.
fn zoo_spec_with(dir: &Path, lines: &str) -> String {
    let zoo = std::fs::read_to_string(repo_root().join("zoo/lenet-300-100.toml")).unwrap();
    assert!(
        zoo.contains("[compress]\n"),
        "the zoo spec has a [compress] table"
    );
    let p = dir.join("spec.toml");
    std::fs::write(
        &p,
        zoo.replacen("[compress]\n", &format!("[compress]\n{lines}\n"), 1),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

/// The predicted class of every row of `csv` by `model`, in file order.
fn classes(model: &Path, csv: &str) -> Vec<String> {
    let r = stdout_json(&run(&[
        "run",
        model.to_str().unwrap(),
        csv,
        "--top-k",
        "1",
        "--json",
    ]));
    r["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["top"][0]["class"].as_str().unwrap().to_string())
        .collect()
}

/// Compress with `lines` in `[compress]`; the report and how many rows of the table the
/// `.shrk` predicts otherwise than the dense model.
fn compress(dir: &Path, lines: &str) -> (serde_json::Value, usize) {
    let csv = repo_root().join("crates/shrink/tests/data/credit400.csv");
    let csv = csv.to_str().unwrap();
    let out = dir.join("out");
    let report = stdout_json(&run(&[
        "compress",
        &zoo_spec_with(dir, lines),
        "--data",
        csv,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    let dense = classes(&out.join("base"), csv);
    let shrk = classes(&out.join("model.shrk"), csv);
    assert_eq!(dense.len(), 400);
    let changed = dense.iter().zip(&shrk).filter(|(a, b)| a != b).count();
    (report, changed)
}

fn errors(r: &serde_json::Value) -> (f64, f64) {
    (
        r["test_error_dense"].as_f64().unwrap(),
        r["test_error_shrk"].as_f64().unwrap(),
    )
}

#[test]
fn the_small_data_step_keeps_the_test_rows_that_compression_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let (off_dir, on_dir) = (tmp.path().join("off"), tmp.path().join("on"));
    std::fs::create_dir_all(&off_dir).unwrap();
    std::fs::create_dir_all(&on_dir).unwrap();

    // Without the step: a test row lost (80 test rows: one row is 1.25 points).
    let (off, off_changed) = compress(&off_dir, "small_data = { below_rows = 0 }");
    let (dense, shrk) = errors(&off);
    assert_eq!(off["n"].as_u64(), Some(80));
    assert!(
        shrk > dense + 0.01,
        "without the small-data step the .shrk was expected to lose a test row: dense {dense}, .shrk {shrk}"
    );
    assert!(off_changed > 0);

    // With it (the default): no test row lost, and the .shrk predicts (nearly) every row
    // of the table as the dense model.
    let (on, on_changed) = compress(&on_dir, "");
    let (dense_on, shrk_on) = errors(&on);
    assert_eq!(dense_on, dense, "same seed, same dense model");
    assert!(
        shrk_on <= dense_on,
        "with the small-data step: dense {dense_on}, .shrk {shrk_on}"
    );
    assert!(
        on_changed < off_changed && on_changed <= 1,
        "rows predicted otherwise than the dense model: {on_changed} with the step, {off_changed} without"
    );
    // Smaller than float32 still (half precision: the defaults' rung on this table).
    assert!(
        on["ratio"].as_f64().unwrap() > 1.5,
        "still compressed: {on}"
    );
}
