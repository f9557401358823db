//! Near-tie rows survive compression on small data (issue 11): on a 200-row table, a
//! fidelity-pool guard counting only changed predictions (`[compress.small_data]
//! safety = 1`, no estimate of unseen rows flipped at ties: `tie_risk = 1`) lets
//! weight sharing flip a test row on which the dense model is near a tie, one row of 40
//! (+2.5 points); the defaults keep every test row. With no room at all for flips at ties
//! (`tie_risk = 0`), the weights are stored as they are and every row is predicted
//! as the dense model predicts it.

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
    let only_changes = compress(
        &tmp.path().join("s1"),
        "small_data = { safety = 1, tie_risk = 1.0 }",
    );
    let (dense, shrk) = errors(&only_changes);
    assert_eq!(only_changes["n"].as_u64(), Some(40));
    assert!(
        shrk > dense + 0.01,
        "counting changed predictions only, the .shrk was expected to lose the near-tie test row: dense {dense}, .shrk {shrk}"
    );
    // The defaults: near flips and flips at ties counted, no test row lost.
    let near = compress(&tmp.path().join("s2"), "");
    let (dense2, shrk2) = errors(&near);
    assert_eq!(dense2, dense, "same seed, same dense model");
    assert!(
        shrk2 <= dense2,
        "with near flips counted: dense {dense2}, .shrk {shrk2}"
    );
    // Smaller than float32 still (half precision, the defaults' rung on this table).
    assert!(
        near["ratio"].as_f64().unwrap() > 1.5,
        "still compressed: {near}"
    );
}

/// Each example's logits from `shrink run MODEL CSV --json --logits`, in file order.
fn logits(model: &Path, csv: &Path) -> Vec<Vec<f64>> {
    let out = stdout_json(&run(&[
        "run",
        model.to_str().unwrap(),
        csv.to_str().unwrap(),
        "--json",
        "--logits",
        "--top-k",
        "1",
    ]));
    out["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["logits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn the_last_rung_keeps_the_weights_as_they_are() {
    // No room for any estimated flip at a near-tie (`tie_risk = 0`): pruning is
    // undone, sharing fails at 8 bits, half precision moves margins too: the weights are
    // stored as they are, and the file predicts every row as the dense model does.
    let tmp = tempfile::tempdir().unwrap();
    let r = compress(&tmp.path().join("x"), "small_data = { tie_risk = 0.0 }");
    let (dense, shrk) = errors(&r);
    assert_eq!(dense, shrk, "{r}");
    let weights: Vec<&serde_json::Value> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["name"].as_str().unwrap().ends_with("weight"))
        .collect();
    assert_eq!(weights.len(), 3);
    for l in &weights {
        assert_eq!(l["compressed"], false, "{l}");
        assert_eq!(l["weight_bits"].as_f64(), Some(32.0), "{l}");
    }
    assert!(r["ratio"].as_f64().unwrap() < 1.1, "{r}");
    assert_eq!(
        r["unshared_weights"].as_array().map(Vec::len),
        Some(3),
        "{r}"
    );
    let txt = std::fs::read_to_string(tmp.path().join("x/out/report.txt")).unwrap();
    assert!(txt.contains("weights not shared: layers.1.weight"), "{txt}");
    assert_eq!(r["kept_percent"].as_f64(), Some(100.0), "{r}");
    // Every row of the table, the dense model's classes and (to float rounding) logits.
    let csv = repo_root().join("crates/shrink/tests/data/bc12-200.csv");
    let out = tmp.path().join("x/out");
    let (a, b) = (
        logits(&out.join("base"), &csv),
        logits(&out.join("model.shrk"), &csv),
    );
    assert_eq!(a.len(), 200);
    for (x, y) in a.iter().zip(&b) {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() < 1e-4, "dense {x:?} vs .shrk {y:?}");
        }
        let top = |r: &[f64]| (0..r.len()).max_by(|&i, &j| r[i].total_cmp(&r[j])).unwrap();
        assert_eq!(top(x), top(y), "dense {x:?} vs .shrk {y:?}");
    }
}
