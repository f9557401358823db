//! Near-tie rows survive compression on small data (issue 11): on a 200-row table, the
//! fidelity pool's guard counting only changed predictions (`[compress.small_data]
//! safety = 1`) lets weight sharing flip a test row on which the dense model is near a
//! tie, one row of 40 (+2.5 points); counting rows pushed half-way to a flip (the
//! default, `safety = 2`) keeps every test row.

mod common;
use common::*;
use std::path::Path;

/// Compress `tests/data/bc12-200.csv` with `zoo/lenet-300-100.toml`, `lines` added to its
/// `[compress]` table; the report.
fn compress(dir: &Path, lines: &str) -> serde_json::Value {
    std::fs::create_dir_all(dir).unwrap();
    let zoo = std::fs::read_to_string(repo_root().join("zoo/lenet-300-100.toml")).unwrap();
    assert!(
        zoo.contains("[compress]\n"),
        "the zoo spec has a [compress] table"
    );
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        zoo.replacen("[compress]\n", &format!("[compress]\n{lines}\n"), 1),
    )
    .unwrap();
    let csv = repo_root().join("crates/shrink/tests/data/bc12-200.csv");
    stdout_json(&run(&[
        "compress",
        spec.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "--json",
        "--quiet",
    ]))
}

fn errors(r: &serde_json::Value) -> (f64, f64) {
    (
        r["test_error_dense"].as_f64().unwrap(),
        r["test_error_shrk"].as_f64().unwrap(),
    )
}

#[test]
fn counting_near_flips_keeps_a_near_tie_test_row() {
    let tmp = tempfile::tempdir().unwrap();
    // Changed predictions only: the near-tie test row flips (1 of 40 = 2.5 points).
    let only_changes = compress(&tmp.path().join("s1"), "small_data = { safety = 1 }");
    let (dense, shrk) = errors(&only_changes);
    assert_eq!(only_changes["n"].as_u64(), Some(40));
    assert!(
        shrk > dense + 0.01,
        "counting changed predictions only, the .shrk was expected to lose the near-tie test row: dense {dense}, .shrk {shrk}"
    );
    // The default: near flips counted, no test row lost.
    let near = compress(&tmp.path().join("s2"), "");
    let (dense2, shrk2) = errors(&near);
    assert_eq!(dense2, dense, "same seed, same dense model");
    assert!(
        shrk2 <= dense2,
        "with near flips counted: dense {dense2}, .shrk {shrk2}"
    );
    assert!(
        near["ratio"].as_f64().unwrap() > 2.0,
        "still compressed: {near}"
    );
}
