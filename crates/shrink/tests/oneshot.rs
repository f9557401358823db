//! `shrink compress --one-shot` (no data, no retraining) on a scaled-down case of the
//! papers' ImageNet nets: a convolution, then a fully connected layer with more inputs
//! (99 856) than a u16 column index reaches, pruned hard enough that its relative
//! indices need fillers. The file must be accounted to the byte by `shrink info` and
//! run by the runtime with the decoded dense model's logits.

mod common;
use common::*;

const WIDE: &str = r#"
name = "wide-oneshot"
input = [3, 160, 160]
[[layers]]
type = "conv2d"
out = 4
kernel = 3
[[layers]]
type = "relu"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 4
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 3
[compress]
conv_bits = 8
fc_bits = 5
index_bits = 4
keep = { "layers.0.weight" = 0.6, "layers.3.weight" = 0.02, "layers.5.weight" = 0.5 }
"#;

#[test]
fn one_shot_compresses_a_layer_wider_than_u16_and_checks_its_logits() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("wide.toml");
    std::fs::write(&spec, WIDE).unwrap();
    let out = tmp.path().join("c");
    let r = stdout_json(&run(&[
        "compress",
        spec.to_str().unwrap(),
        "--one-shot",
        "--batches",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    // The runtime's batch-1 logits against the decoded dense model's (Burn).
    let diff = r["max_abs_logit_diff"].as_f64().unwrap();
    assert!((0.0..=1e-4).contains(&diff), "{diff}");

    // Kept exactly the asked fraction of each layer; the wide layer needed fillers.
    let layers = r["layers"].as_array().unwrap();
    let row = |name: &str| layers.iter().find(|l| l["name"] == name).unwrap().clone();
    let fc = row("layers.3.weight");
    let fc_n = fc["weights"].as_u64().unwrap();
    assert_eq!(fc_n, 4 * 4 * 158 * 158);
    let kept = (fc["kept_percent"].as_f64().unwrap() * fc_n as f64 / 100.0).round() as u64;
    assert_eq!(kept, (0.02 * fc_n as f64).round() as u64);
    assert!(fc["fillers"].as_u64().unwrap() > 0, "{fc}");
    assert!(fc["compressed"].as_bool().unwrap());

    // Every stage timed, the runtime at batches 1 and 2.
    let stages: Vec<String> = r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap().to_string())
        .collect();
    for s in [
        "init",
        "prune",
        "kmeans",
        "encode",
        "write",
        "runtime load",
        "runtime forward b1",
        "runtime forward b2",
        "burn forward b1",
    ] {
        assert!(stages.iter().any(|x| x == s), "{s} missing from {stages:?}");
    }

    // `shrink info` accounts the file to the byte, and agrees with the report.
    let shrk = out.join("model.shrk");
    let on_disk = std::fs::metadata(&shrk).unwrap().len();
    assert_eq!(r["file_bytes"], on_disk);
    let i = stdout_json(&run(&["info", shrk.to_str().unwrap(), "--json"]));
    assert_eq!(i["file_bytes"], on_disk);
    let tensor_bytes: u64 = i["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(tensor_bytes + i["header_bytes"].as_u64().unwrap(), on_disk);
    // The report's split of the bytes adds up to the file too.
    let parts: u64 = [
        "weight_stream_bytes",
        "index_stream_bytes",
        "codebook_and_table_bytes",
        "dense_tensor_bytes",
        "header_bytes",
    ]
    .iter()
    .map(|k| r[*k].as_u64().unwrap())
    .sum();
    // What is left is each compressed tensor's framing (name, shape, fields, CRC).
    let framing_bound = 100 * layers.len() as u64;
    assert!(
        parts <= on_disk && on_disk - parts < framing_bound,
        "{parts} vs {on_disk}"
    );
    assert!(i["meta"]["oneshot"].as_str().is_some(), "{i}");
}

#[test]
fn one_shot_needs_no_data_but_compress_without_it_does() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&[
        "compress",
        "zoo/lenet-5.toml",
        "--out",
        tmp.path().join("c").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--data"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
