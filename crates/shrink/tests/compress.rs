//! `shrink compress` end to end on a small data set: the table adds up to the file on
//! disk, the file evaluates to the fine-tuned model's predictions, and damaged files are
//! refused cleanly.

mod common;
use common::*;

const SPEC: &str = r#"
name = "tiny"
input = [1, 10, 10]
[[layers]]
type = "conv2d"
out = 6
kernel = 3
[[layers]]
type = "batch_norm"
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 40
[[layers]]
type = "relu"
[[layers]]
type = "dropout"
p = 0.2
[[layers]]
type = "linear"
out = 4
[train]
epochs = 4
batch_size = 32
lr = 0.05
[compress]
rounds = 2
retrain_epochs = 1
finetune_epochs = 1
keep = { "layers.4.weight" = 0.2 }
# below the default floor of 24 weights per unit (96 inputs): this test checks `keep`
min_kept_per_unit = 8
"#;

#[test]
fn compress_table_adds_up_and_the_file_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 800, 200, 10, 10, 4);
    let spec = tmp.path().join("tiny.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let out = tmp.path().join("c");
    let d = data.to_str().unwrap();
    let r = stdout_json(&run(&[
        "compress",
        spec.to_str().unwrap(),
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    let shrk = out.join("model.shrk");
    let on_disk = std::fs::metadata(&shrk).unwrap().len();
    assert_eq!(r["file_bytes"], on_disk);
    let rows: u64 = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(
        rows + r["header_bytes"].as_u64().unwrap(),
        on_disk,
        "table must add up to the file"
    );
    assert_eq!(r["batch_norm_folded"], 1);
    assert_eq!(r["identical_predictions"], true);
    let linear = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "layers.4.weight")
        .unwrap();
    assert!(
        (linear["kept_percent"].as_f64().unwrap() - 20.0).abs() < 0.1,
        "{linear}"
    );
    assert!(r["test_error_shrk"].as_f64().unwrap() < 0.2, "{r}");

    // eval of the file reproduces the pipeline's number.
    let e = stdout_json(&run(&[
        "eval",
        shrk.to_str().unwrap(),
        "--data",
        d,
        "--json",
    ]));
    assert!(
        (e["test_error"].as_f64().unwrap() - r["test_error_shrk"].as_f64().unwrap()).abs() < 1e-12
    );
    let i = stdout_json(&run(&["info", shrk.to_str().unwrap(), "--json"]));
    assert_eq!(i["file_bytes"], on_disk);
    // The file records the test error measured on it (by the runtime, as eval does).
    let recorded: f64 = i["meta"]["test_error"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        (recorded * 200.0).round(),
        (r["test_error_shrk"].as_f64().unwrap() * 200.0).round()
    );
    assert_eq!(i["meta"]["test_examples"], "200");
    assert_eq!(i["meta"]["test_data"], "blobs");
    // The report says what measured the file's error: the runtime, on the file written.
    assert_eq!(
        r["test_error_shrk_measured_by"],
        "shrink-runtime on the file as written"
    );
    let table = std::fs::read_to_string(out.join("report.txt")).unwrap();
    assert!(
        table.contains(".shrk measured by shrink-runtime on the file as written"),
        "{table}"
    );

    // Damaged files: truncated, bit-flipped, not a .shrk at all.
    let bytes = std::fs::read(&shrk).unwrap();
    let bad = tmp.path().join("bad.shrk");
    for cut in [0, 3, 10, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        assert_clean_failure(
            &run(&["eval", bad.to_str().unwrap(), "--data", d]),
            "bad.shrk",
        );
        assert_clean_failure(&run(&["info", bad.to_str().unwrap()]), "bad.shrk");
    }
    for pos in [5, bytes.len() / 3, bytes.len() - 2] {
        let mut b = bytes.clone();
        b[pos] ^= 0x10;
        std::fs::write(&bad, &b).unwrap();
        assert_clean_failure(
            &run(&["eval", bad.to_str().unwrap(), "--data", d]),
            "bad.shrk",
        );
    }
    std::fs::write(&bad, b"hello, world, this is not a model").unwrap();
    assert_clean_failure(
        &run(&["eval", bad.to_str().unwrap(), "--data", d]),
        "bad.shrk",
    );

    // Resume skips finished stages and gives the same file.
    let r2 = stdout_json(&run(&[
        "compress",
        spec.to_str().unwrap(),
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--resume",
        "--json",
        "--quiet",
    ]));
    assert_eq!(r2["file_bytes"], r["file_bytes"]);
    assert_eq!(std::fs::read(&shrk).unwrap(), bytes);
}
