//! `shrink compress` with sparse variational dropout, dead-unit removal and bias
//! codebooks, end to end on a small data set: the file still adds up, decodes to the
//! fine-tuned model's predictions and classifies; bad settings fail cleanly.

mod common;
use common::*;

const NET: &str = r#"
name = "tiny"
input = [1, 10, 10]
[[layers]]
type = "conv2d"
out = 6
kernel = 3
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
type = "linear"
out = 4
[train]
epochs = 4
batch_size = 32
lr = 0.05
"#;

const SVD: &str = r#"
[compress]
method = "sparse_vd"
remove_units = true
bias_bits = 3
trim_codebooks = true
finetune_epochs = 1
[compress.sparse_vd]
epochs = 4
lr = 0.01
"#;

#[test]
fn sparse_vd_compresses_and_the_file_adds_up() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 800, 200, 10, 10, 4);
    let spec = tmp.path().join("tiny.toml");
    std::fs::write(&spec, format!("{NET}{SVD}")).unwrap();
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
    assert_eq!(r["config"]["method"], "sparse_vd");
    let on_disk = std::fs::metadata(out.join("model.shrk")).unwrap().len();
    assert_eq!(r["file_bytes"], on_disk);
    let layers = r["layers"].as_array().unwrap();
    let rows: u64 = layers.iter().map(|l| l["bytes"].as_u64().unwrap()).sum();
    assert_eq!(rows + r["header_bytes"].as_u64().unwrap(), on_disk);
    assert_eq!(r["identical_predictions"], true);
    // Sparse VD removed weights (the KL term over 800 examples prunes hard) and the
    // file still classifies the four blob classes.
    assert!(r["kept_percent"].as_f64().unwrap() < 50.0, "{r}");
    assert!(r["test_error_shrk"].as_f64().unwrap() < 0.2, "{r}");
    // Units: the layers' row counts agree between weight and bias, and a bias long
    // enough for a 3-bit codebook to pay is stored as one.
    let row = |name: &str| layers.iter().find(|l| l["name"] == name).unwrap().clone();
    let hidden = row("layers.4.bias")["weights"].as_u64().unwrap();
    assert_eq!(
        row("layers.4.weight")["weights"].as_u64().unwrap() % hidden,
        0
    );
    assert_eq!(
        row("layers.6.weight")["weights"].as_u64().unwrap(),
        4 * hidden
    );
    if hidden >= 20 {
        assert_eq!(row("layers.4.bias")["compressed"], true, "{r}");
    }
    // Trimmed codebooks: no layer stores more centroids than it has kept weights
    // (the first conv has 54 weights and 8-bit sharing: 256 centroids untrimmed).
    let conv = row("layers.0.weight");
    let kept = (conv["weights"].as_f64().unwrap() * conv["kept_percent"].as_f64().unwrap() / 100.0)
        .round() as u64;
    assert!(conv["bytes"].as_u64().unwrap() < 4 * kept + 200, "{conv}");
    // The output layer keeps its 4 classes.
    assert_eq!(row("layers.6.bias")["weights"], 4);
    // shrink eval of the file gives the pipeline's number.
    let e = stdout_json(&run(&[
        "eval",
        out.join("model.shrk").to_str().unwrap(),
        "--data",
        d,
        "--json",
    ]));
    assert!(
        (e["test_error"].as_f64().unwrap() - r["test_error_shrk"].as_f64().unwrap()).abs() < 1e-12
    );
}

#[test]
fn sparse_vd_refuses_what_it_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 100, 50, 10, 10, 4);
    let d = data.to_str().unwrap();
    // A layer sparse VD has no variational form for.
    let spec = tmp.path().join("gap.toml");
    std::fs::write(
        &spec,
        format!(
            "{}{SVD}",
            NET.replace(
                "[[layers]]\ntype = \"flatten\"",
                "[[layers]]\ntype = \"global_avg_pool\""
            )
            .replace("[train]\nepochs = 4", "[train]\nepochs = 1")
        ),
    )
    .unwrap();
    let out = tmp.path().join("c");
    assert_clean_failure(
        &run(&[
            "compress",
            spec.to_str().unwrap(),
            "--data",
            d,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]),
        "global_avg_pool",
    );
    // Bad settings are refused before anything runs.
    let spec = tmp.path().join("bad.toml");
    std::fs::write(
        &spec,
        format!("{NET}{}", SVD.replace("lr = 0.01", "lr = -1.0")),
    )
    .unwrap();
    assert_clean_failure(
        &run(&[
            "compress",
            spec.to_str().unwrap(),
            "--data",
            d,
            "--out",
            tmp.path().join("d").to_str().unwrap(),
            "--quiet",
        ]),
        "sparse_vd.lr",
    );
}
