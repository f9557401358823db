//! The committed ONNX networks (`tests/data`, made by `make_nets.py` with PyTorch and
//! ONNX Runtime): each one imports, and the imported spec and weights, written as a
//! `.shrk` with dense tensors and run by `shrink-runtime`, give ONNX Runtime's reference
//! outputs within 1e-4. The files that must be refused are, with one error naming what
//! is wrong. Then each imported net goes back out through `export` and in again: same
//! spec, same weights.

use shrink_format::{Limits, NamedTensor, ShrkModel, TensorData};
use shrink_onnx::{export, import_bytes, import_file, Imported, OnnxError};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Every `<net>.json` with its parsed contents.
fn nets() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(data_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((p.file_stem().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 10,
        "only {} test networks in tests/data",
        out.len()
    );
    out
}

/// A file that must be refused (`"refuse": true`).
fn is_refusal(v: &serde_json::Value) -> bool {
    v.get("refuse").is_some_and(|r| r.as_bool() == Some(true))
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The imported model as a `.shrk` with every tensor dense, through the container's
/// writer and reader.
fn dense_shrk(m: &Imported) -> ShrkModel {
    let model = ShrkModel {
        spec_toml: m.spec.to_toml(),
        meta: vec![],
        tensors: m
            .weights
            .iter()
            .map(|w| NamedTensor {
                name: w.name.clone(),
                data: TensorData::Dense {
                    shape: w.shape.iter().map(|&d| d as u32).collect(),
                    values: w.data.clone(),
                },
            })
            .collect(),
    };
    let bytes = shrink_format::write(&model).unwrap();
    shrink_format::read(&bytes.0).unwrap()
}

#[test]
fn every_committed_network_imports_and_runs_like_onnx_runtime() {
    let mut checked = 0;
    for (name, v) in nets() {
        if is_refusal(&v) {
            continue;
        }
        let m = import_file(&data_dir().join(format!("{name}.onnx")), &Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let model = shrink_runtime::Model::from_shrk(&dense_shrk(&m))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", m.spec.to_toml()));
        let shape: Vec<usize> = v["input_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let x = floats(&v["input"]);
        let want = floats(&v["output"]);
        let got = model.predict(&x, shape[0]).unwrap();
        // The reference is after a final (Log)Softmax; shrink outputs the logits.
        let got = match v["ops"].as_array().unwrap().last().unwrap().as_str() {
            Some("Softmax") => shrink_testkit::softmax(&got, want.len() / shape[0], false),
            Some("LogSoftmax") => shrink_testkit::softmax(&got, want.len() / shape[0], true),
            _ => got,
        };
        assert_eq!(got.len(), want.len(), "{name}");
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff <= 1e-4,
            "{name}: max |shrink run − ONNX Runtime| = {diff}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} networks checked");
}

#[test]
fn refused_files_give_one_error_naming_the_cause() {
    let mut refused = 0;
    for (name, v) in nets() {
        if !is_refusal(&v) {
            continue;
        }
        let e = match import_file(&data_dir().join(format!("{name}.onnx")), &Limits::DEFAULT) {
            Ok(m) => panic!("{name}: imported\n{}", m.spec.to_toml()),
            Err(e) => e.to_string(),
        };
        assert!(!e.contains('\n'), "{name}: more than one line: {e}");
        for want in v["mentions"].as_array().unwrap() {
            let want = want.as_str().unwrap();
            assert!(e.contains(want), "{name}: {e:?} does not mention {want:?}");
        }
        refused += 1;
    }
    assert!(refused >= 4, "only {refused} refusals checked");
}

#[test]
fn every_imported_network_exports_and_imports_back_the_same() {
    for (name, v) in nets() {
        if is_refusal(&v) {
            continue;
        }
        let m = import_file(&data_dir().join(format!("{name}.onnx")), &Limits::DEFAULT).unwrap();
        let bytes = export(&m.spec, &m.weights).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = import_bytes(&bytes, None, &Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{name}: exported file does not import: {e}"));
        let mut spec = back.spec.clone();
        spec.name = m.spec.name.clone();
        assert_eq!(spec, m.spec, "{name}");
        let mut a = m.weights.clone();
        let mut b = back.weights.clone();
        a.sort_by(|x, y| x.name.cmp(&y.name));
        b.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn truncated_and_corrupt_bytes_are_one_clear_error() {
    let bytes = std::fs::read(data_dir().join("mlp.onnx")).unwrap();
    for cut in [1, 7, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        match import_bytes(&bytes[..cut], None, &Limits::DEFAULT) {
            Ok(_) => panic!("imported the first {cut} bytes"),
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
    let e = import_bytes(b"not an onnx file at all", None, &Limits::DEFAULT).unwrap_err();
    assert!(
        matches!(e, OnnxError::Decode(_) | OnnxError::Invalid(_)),
        "{e}"
    );
    // Every single-byte corruption of the header region is an error or a valid model,
    // never a panic.
    for i in 0..bytes.len().min(400) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = import_bytes(&b, None, &Limits::DEFAULT);
    }
}
