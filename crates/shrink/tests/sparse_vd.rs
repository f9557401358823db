//! `shrink compress` with sparse variational dropout, dead-unit removal and bias
//! codebooks, end to end on a small data set: the file still adds up, decodes to the
//! fine-tuned model's predictions and classifies; bad settings fail cleanly.

mod common;
use common::*;

/// Appended to `TINY_CONV_NET`.
const TRAIN: &str = r#"
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
    std::fs::write(&spec, format!("{TINY_CONV_NET}{TRAIN}{SVD}")).unwrap();
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

/// `shrink compress --json` of the tiny net with `settings`, and the `.shrk` it wrote.
fn compress_tiny(
    tmp: &std::path::Path,
    data: &str,
    name: &str,
    settings: &str,
) -> (serde_json::Value, Vec<u8>) {
    let spec = tmp.join(format!("{name}.toml"));
    std::fs::write(&spec, format!("{TINY_CONV_NET}{TRAIN}{settings}")).unwrap();
    let out = tmp.join(name);
    let r = stdout_json(&run(&[
        "compress",
        spec.to_str().unwrap(),
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    (r, std::fs::read(out.join("model.shrk")).unwrap())
}

#[test]
fn half_precision_and_format_2_make_the_same_model_smaller() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 400, 200, 10, 10, 4);
    let d = data.to_str().unwrap();
    let (r1, v1) = compress_tiny(tmp.path(), d, "v1", SVD);
    let compact = SVD.replace("[compress]\n", "[compress]\nhalf = true\ncompact = true\n");
    let (r2, v2) = compress_tiny(tmp.path(), d, "v2", &compact);
    assert_eq!(shrink_format::file_version(&v1), Some(1));
    assert_eq!(shrink_format::file_version(&v2), Some(2));
    // Same pipeline up to the rounding: same kept weights, a smaller file whose rows
    // still add up, a smaller header, and the file predicts what the rounded model did.
    assert_eq!(r1["kept_percent"], r2["kept_percent"]);
    assert!(v2.len() < v1.len(), "{} >= {}", v2.len(), v1.len());
    let rows: u64 = r2["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(rows + r2["header_bytes"].as_u64().unwrap(), v2.len() as u64);
    assert!(
        r2["header_bytes"].as_u64() < r1["header_bytes"].as_u64(),
        "{r1} {r2}"
    );
    assert_eq!(r2["identical_predictions"], true);
    // Every value in the file is a half.
    let m = shrink_format::read(&v2).unwrap();
    for t in &m.tensors {
        let values = match &t.data {
            shrink_format::TensorData::Dense { values, .. } => values.clone(),
            shrink_format::TensorData::Compressed(c) => c.codebook.clone(),
        };
        assert!(
            values
                .iter()
                .all(|v| shrink_format::half::f16_exact(*v).is_some()),
            "{}",
            t.name
        );
    }
    // Half precision moved at most a few of 200 test predictions.
    let (e1, e2) = (
        r1["test_error_shrk"].as_f64().unwrap(),
        r2["test_error_shrk"].as_f64().unwrap(),
    );
    assert!((e1 - e2).abs() <= 0.02, "{e1} vs {e2}");
    // eval --record keeps the file in version 2.
    let path = tmp.path().join("v2").join("model.shrk");
    run_ok(&["eval", path.to_str().unwrap(), "--data", d, "--record"]);
    let after = std::fs::read(&path).unwrap();
    assert_eq!(shrink_format::file_version(&after), Some(2));
    assert!(shrink_format::read(&after).unwrap().tensors == m.tensors);
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
            format!("{TINY_CONV_NET}{TRAIN}")
                .replace(
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
        format!(
            "{TINY_CONV_NET}{TRAIN}{}",
            SVD.replace("lr = 0.01", "lr = -1.0")
        ),
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

#[test]
fn pruning_a_sparse_model_never_regrows_its_zeros() {
    // Stage 2 of bench/issue14: the sparse-VD-pruned model (`c/pruned`) compressed again
    // with magnitude pruning. A round that keeps every weight (keep = 1) retrains with
    // masks; the weights sparse VD set to 0 must stay 0, so each layer keeps at most
    // what stage 1 kept.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 400, 100, 10, 10, 4);
    let d = data.to_str().unwrap();
    let (r1, _) = compress_tiny(tmp.path(), d, "s1", SVD);
    let stage2 = tmp.path().join("s2-in");
    std::fs::create_dir_all(&stage2).unwrap();
    for f in ["model.safetensors", "spec.toml"] {
        std::fs::copy(tmp.path().join("s1").join("pruned").join(f), stage2.join(f)).unwrap();
    }
    let keep: Vec<String> = r1["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["name"].as_str().filter(|n| n.ends_with(".weight")))
        .map(|n| format!("\"{n}\" = 1.0"))
        .collect();
    let settings = format!(
        "\n[train]\nepochs = 4\nbatch_size = 32\nlr = 0.05\n\n[compress]\nrounds = 1\n\
         retrain_epochs = 2\nmin_kept_per_unit = 0\nfinetune_epochs = 0\nmax_val_drop = 1.0\n\
         keep = {{ {} }}\n",
        keep.join(", ")
    );
    let mut spec = std::fs::read_to_string(stage2.join("spec.toml")).unwrap();
    spec.push_str(&settings);
    std::fs::write(stage2.join("spec.toml"), spec).unwrap();
    let out = tmp.path().join("s2");
    let r2 = stdout_json(&run(&[
        "compress",
        stage2.to_str().unwrap(),
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    let kept = |r: &serde_json::Value, name: &str| {
        let l = r["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()
            .clone();
        (l["weights"].as_f64().unwrap() * l["kept_percent"].as_f64().unwrap() / 100.0).round()
    };
    let mut fewer_than_all = false;
    for l in r1["layers"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap();
        if name.ends_with(".weight") {
            assert_eq!(l["weights"], layer_weights(&r2, name), "{name}");
            assert!(kept(&r2, name) <= kept(&r1, name), "{name}: {r1} {r2}");
            fewer_than_all |= kept(&r1, name) < l["weights"].as_f64().unwrap();
        }
    }
    assert!(fewer_than_all, "stage 1 pruned nothing: {r1}");
}

/// The number of weights of `name` in a compress report.
fn layer_weights(r: &serde_json::Value, name: &str) -> serde_json::Value {
    r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap()["weights"]
        .clone()
}
