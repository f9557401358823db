//! ONNX through the `shrink` binary (issue 13): each committed network
//! (`crates/shrink-onnx/tests/data`, made with PyTorch) imports with
//! `shrink import NET.onnx --out DIR`, and the directory, loaded as every command loads
//! it, gives ONNX Runtime's reference logits under Burn within 1e-4. `shrink export`
//! writes ONNX from a directory and from a `.shrk`. Unsupported and corrupt files fail
//! with one error line and write nothing.

mod common;
use burn::prelude::*;
use common::*;
use shrink_core::batch::{normalize, to_feat};
use shrink_core::model::io::load_model;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    repo_root().join("crates/shrink-onnx/tests/data")
}

fn nets(refused: bool) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(data_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            if v.get("refuse").is_some() == refused {
                out.push((p.file_stem().unwrap().to_string_lossy().into_owned(), v));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn burn_logits(dir: &Path, x: &[f32], n: usize) -> Vec<f32> {
    let device = Device::flex();
    let (spec, net) = load_model(dir, &device).unwrap();
    let mut v = x.to_vec();
    normalize(spec.normalize.as_ref(), &spec.input, &mut v);
    net.forward(to_feat(v, n, &spec.input, &device))
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap()
}

#[test]
fn every_committed_network_imports_and_burn_gives_the_reference_logits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (name, v) in nets(false) {
        let dir = tmp.path().join(&name);
        let onnx = data_dir().join(format!("{name}.onnx"));
        let out = run(&[
            "import",
            onnx.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let batch = v["input_shape"][0].as_u64().unwrap() as usize;
        let got = burn_logits(&dir, &floats(&v["input"]), batch);
        let want = floats(&v["output"]);
        let got = match v["ops"].as_array().unwrap().last().unwrap().as_str() {
            Some("Softmax") => shrink_testkit::softmax(&got, want.len() / batch, false),
            Some("LogSoftmax") => shrink_testkit::softmax(&got, want.len() / batch, true),
            _ => got,
        };
        assert_eq!(got.len(), want.len(), "{name}");
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{name}: max |Burn − ONNX Runtime| = {worst}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} networks");
}

#[test]
fn export_writes_onnx_from_a_directory_and_from_a_shrk_and_it_imports_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lenet5");
    let onnx = data_dir().join("lenet5.onnx");
    run_ok(&[
        "import",
        onnx.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let again = tmp.path().join("again.onnx");
    run_ok(&[
        "export",
        dir.to_str().unwrap(),
        "--onnx",
        again.to_str().unwrap(),
    ]);
    let back = tmp.path().join("back");
    run_ok(&[
        "import",
        again.to_str().unwrap(),
        "--out",
        back.to_str().unwrap(),
    ]);
    let a = std::fs::read(dir.join("model.safetensors")).unwrap();
    let b = std::fs::read(back.join("model.safetensors")).unwrap();
    assert_eq!(a, b, "weights changed through export and import");
    // From a .shrk (the compressed model of a directory): shrink's own test writes one.
    let shrk = tmp.path().join("m.shrk");
    let (spec, table) = {
        let (s, net) = load_model(&dir, &Device::flex()).unwrap();
        (
            s,
            shrink_core::compress::params::ParamTable::from_net(&net).unwrap(),
        )
    };
    let file =
        shrink_core::compress::encode::to_shrk(&spec, &table, &Default::default(), 5).unwrap();
    shrink_core::compress::encode::write_shrk(&shrk, &file).unwrap();
    let from_shrk = tmp.path().join("from_shrk.onnx");
    run_ok(&[
        "export",
        shrk.to_str().unwrap(),
        "--onnx",
        from_shrk.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&from_shrk).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn unsupported_and_corrupt_files_fail_with_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, v) in nets(true) {
        let dir = tmp.path().join(&name);
        let onnx = data_dir().join(format!("{name}.onnx"));
        let out = run(&[
            "import",
            onnx.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ]);
        let first = v["mentions"]
            .as_array()
            .unwrap()
            .first()
            .and_then(|m| m.as_str())
            .unwrap_or("");
        assert_clean_failure(&out, first);
        assert!(!dir.exists(), "{name}: {} was written", dir.display());
    }
    // A file that is not ONNX at all, and a missing one.
    let junk = tmp.path().join("junk.onnx");
    std::fs::write(&junk, b"\x08\x07this is not a protobuf\xff\xff").unwrap();
    let dir = tmp.path().join("junk");
    let out = run(&[
        "import",
        junk.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_clean_failure(&out, "junk.onnx");
    assert!(!dir.exists());
    let out = run(&["import", "no/such.onnx", "--out", dir.to_str().unwrap()]);
    assert_clean_failure(&out, "no/such.onnx");
    let out = run(&["export", "no/such/model", "--onnx", junk.to_str().unwrap()]);
    assert_clean_failure(&out, "no/such/model");
}
