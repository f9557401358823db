//! `export` checked by ONNX Runtime: each committed network, imported and then stored
//! as a *compressed* `.shrk` (pruned and weight-shared, as `shrink compress` stores
//! it), is exported from the decoded dense weights; ONNX Runtime's logits on the
//! reference input equal `shrink-runtime`'s on the compressed file within 1e-5.
//!
//! ONNX Runtime runs in Python (`tests/ort_run.py`): the interpreter is
//! `$SHRINK_ONNX_PYTHON`, else `~/.cache/shrink-onnx-venv/bin/python` (`.ci/run` makes
//! that venv with `onnxruntime` and `numpy` from PyPI). Without any Python on the
//! machine the test says so and passes; with Python but without that venv it fails,
//! saying how to make it.

use shrink_format::{CompressedTensor, Limits, NamedTensor, ShrkModel, TensorData};
use shrink_onnx::{export, import_file, Imported, Weight};
use std::path::{Path, PathBuf};
use std::process::Command;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SHRINK_ONNX_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let venv = home.join(".cache/shrink-onnx-venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    let has_python = Command::new("python3").arg("--version").output().is_ok();
    if !has_python {
        return None;
    }
    panic!(
        "ONNX Runtime is needed: python3 -m venv ~/.cache/shrink-onnx-venv && ~/.cache/shrink-onnx-venv/bin/pip install onnxruntime numpy (what .ci/run does), or set SHRINK_ONNX_PYTHON"
    );
}

/// Prune each weight matrix/kernel to its larger-magnitude half and share the kept
/// values among 16 evenly spaced centroids (a crude Deep Compression, enough to make
/// the file sparse and weight-shared); everything else stays dense.
fn compressed(m: &Imported) -> ShrkModel {
    let tensor = |w: &Weight| -> TensorData {
        let shape: Vec<u32> = w.shape.iter().map(|&d| d as u32).collect();
        if !w.name.ends_with("weight") || w.shape.len() < 2 {
            return TensorData::Dense {
                shape,
                values: w.data.clone(),
            };
        }
        let mut mags: Vec<f32> = w.data.iter().map(|v| v.abs()).collect();
        mags.sort_by(f32::total_cmp);
        let cut = mags[mags.len() / 2];
        let (lo, hi) = w
            .data
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let codebook: Vec<f32> = (0..16).map(|i| lo + (hi - lo) * i as f32 / 15.0).collect();
        let (mut positions, mut clusters) = (Vec::new(), Vec::new());
        for (i, &v) in w.data.iter().enumerate() {
            if v.abs() > cut {
                let k = (0..16)
                    .min_by(|&a, &b| (codebook[a] - v).abs().total_cmp(&(codebook[b] - v).abs()))
                    .unwrap();
                positions.push(i as u32);
                clusters.push(k as u16);
            }
        }
        TensorData::Compressed(CompressedTensor {
            shape,
            bits: 4,
            index_bits: 5,
            codebook,
            positions,
            clusters,
        })
    };
    let model = ShrkModel {
        spec_toml: m.spec.to_toml(),
        meta: vec![],
        tensors: m
            .weights
            .iter()
            .map(|w| NamedTensor {
                name: w.name.clone(),
                data: tensor(w),
            })
            .collect(),
    };
    shrink_format::read(&shrink_format::write(&model).unwrap().0).unwrap()
}

/// The dense weights a `.shrk` decodes to.
fn decoded(file: &ShrkModel) -> Vec<Weight> {
    file.tensors
        .iter()
        .map(|t| {
            let (shape, data) = match &t.data {
                TensorData::Dense { shape, values } => (shape.clone(), values.clone()),
                TensorData::Compressed(c) => (c.shape.clone(), c.to_dense()),
            };
            Weight {
                name: t.name.clone(),
                shape: shape.iter().map(|&d| d as usize).collect(),
                data,
            }
        })
        .collect()
}

#[test]
fn exported_compressed_models_run_in_onnx_runtime_like_shrink_run() {
    let Some(py) = python() else {
        eprintln!("skipped: no python3 on this machine, so no ONNX Runtime to check exports with");
        return;
    };
    let tmp = std::env::temp_dir().join(format!("shrink-onnx-ort-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // Export every network, then run them all in one ONNX Runtime process.
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for e in std::fs::read_dir(data_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        if v.get("refuse").is_some() {
            continue;
        }
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let m = import_file(&p.with_extension("onnx"), &Limits::DEFAULT).unwrap();
        let file = compressed(&m);
        let model = shrink_runtime::Model::from_shrk(&file).unwrap();
        let batch = v["input_shape"][0].as_u64().unwrap() as usize;
        let x: Vec<f32> = v["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let want = model.predict(&x, batch).unwrap();
        let onnx = tmp.join(format!("{name}.onnx"));
        std::fs::write(&onnx, export(&m.spec, &decoded(&file)).unwrap()).unwrap();
        let output = tmp.join(format!("{name}.out.json"));
        jobs.push(serde_json::json!({
            "model": onnx, "shape": v["input_shape"], "input": x, "output": output,
        }));
        expected.push((name, output, want));
    }
    let manifest = tmp.join("jobs.json");
    std::fs::write(&manifest, serde_json::Value::from(jobs).to_string()).unwrap();
    let run = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ort_run.py"))
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "ONNX Runtime failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut checked = 0;
    for (name, output, want) in expected {
        let out: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
        let got: Vec<f32> = out["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), want.len(), "{name}");
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff <= 1e-5,
            "{name}: max |ONNX Runtime − shrink run| = {diff}"
        );
        checked += 1;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(checked >= 10, "only {checked} networks checked");
}
