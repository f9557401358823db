//! shrink-runtime against Burn: the same `.shrk` file run by the runtime (compressed
//! weights as stored) and decoded into a dense Burn model must give the same logits
//! (within 1e-4) — for a model of every layer type with made-up compressed weights, and
//! for a model trained and compressed by `shrink compress`. Then `shrink run` as a user
//! calls it: on a PNG, on an IDX file, and on a damaged file.

mod common;
use burn::prelude::*;
use common::*;
use shrink_core::batch::{normalize, to_feat};
use shrink_core::compress::encode::load_shrk;
use shrink_core::model::params::ParamTable;
use shrink_core::model::Net;
use shrink_format::spec::ModelSpec;
use shrink_format::{CompressedTensor, NamedTensor, ShrkModel, TensorData as ShrkData};
use std::path::Path;

/// Every layer type, with the options that change the arithmetic: the shared fixture
/// (crates/shrink-testkit/fixtures/all_layers.toml).
const EVERY_LAYER: &str = shrink_testkit::ALL_LAYERS;

/// The parameters of `net` as a `.shrk` model: every weight matrix pruned (|w| below
/// the median dropped) and shared over a 16-entry codebook (nearest of 16 evenly spaced
/// values); batch-norm statistics made non-trivial; the rest dense.
fn compressed_model(spec: &ModelSpec, net: &Net) -> ShrkModel {
    let table = ParamTable::from_net(net).unwrap();
    let mut rng = shrink_testkit::Lcg::new(11);
    let mut tensors = Vec::new();
    for p in &table.params {
        let shape: Vec<u32> = p.shape.iter().map(|&d| d as u32).collect();
        let data = if p.name.ends_with("weight") && p.shape.len() >= 2 {
            let mut mags: Vec<f32> = p.data.iter().map(|v| v.abs()).collect();
            mags.sort_by(f32::total_cmp);
            let threshold = mags[mags.len() / 2];
            let (lo, hi) = p
                .data
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let codebook: Vec<f32> = (0..16).map(|i| lo + (hi - lo) * i as f32 / 15.0).collect();
            let (mut positions, mut clusters) = (Vec::new(), Vec::new());
            for (i, &v) in p.data.iter().enumerate() {
                if v.abs() > threshold {
                    positions.push(i as u32);
                    clusters.push(((v - lo) / (hi - lo) * 15.0).round() as u16);
                }
            }
            ShrkData::Compressed(CompressedTensor {
                shape,
                bits: 4,
                index_bits: 5,
                codebook,
                positions,
                clusters,
            })
        } else {
            let values = if p.name.ends_with("running_var") {
                p.data.iter().map(|_| 0.3 + rng.unit()).collect()
            } else if p.name.ends_with("running_mean") || p.name.ends_with(".bias") {
                p.data.iter().map(|_| rng.unit() - 0.5).collect()
            } else {
                p.data.clone()
            };
            ShrkData::Dense { shape, values }
        };
        tensors.push(NamedTensor {
            name: p.name.clone(),
            data,
        });
    }
    ShrkModel {
        spec_toml: spec.to_toml(),
        meta: vec![],
        tensors,
    }
}

/// Burn's logits for raw inputs `x` (`n` examples).
fn burn_logits(spec: &ModelSpec, net: &Net, x: &[f32], n: usize, device: &Device) -> Vec<f32> {
    let mut v = x.to_vec();
    normalize(spec.normalize.as_ref(), &spec.input, &mut v);
    net.forward(to_feat(v, n, &spec.input, device))
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-4, "{what}: logits differ by up to {worst}");
}

#[test]
fn every_layer_matches_burn_on_the_same_file() {
    let spec = ModelSpec::from_toml(EVERY_LAYER).unwrap();
    let device = Device::flex();
    device.seed(21);
    let net = Net::new(&spec, &device).unwrap();
    let file = compressed_model(&spec, &net);
    let (bytes, _) = shrink_format::write(&file).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("every.shrk");
    std::fs::write(&path, &bytes).unwrap();

    let (spec, decoded) = load_shrk(&path, &device).unwrap();
    let mut model = shrink_runtime::Model::from_bytes(&bytes).unwrap();
    let len = model.input_len();
    let mut rng = shrink_testkit::Lcg::new(5);
    for n in [1, 7] {
        // Image-like inputs in [0, 1], a third of them exactly zero.
        let x: Vec<f32> = (0..n * len)
            .map(|_| {
                let v = rng.unit();
                if v < 0.33 {
                    0.0
                } else {
                    v
                }
            })
            .collect();
        let want = burn_logits(&spec, &decoded, &x, n, &device);
        for k in [
            shrink_runtime::Kernels::Portable,
            shrink_runtime::Kernels::detect(),
        ] {
            model.set_kernels(k);
            assert_close(
                &model.predict(&x, n).unwrap(),
                &want,
                &format!("batch {n}, {k:?}"),
            );
        }
    }
}

/// Appended to `TINY_CONV_NET`.
const CONV_SETTINGS: &str = r#"
[train]
epochs = 2
batch_size = 32
lr = 0.05
[compress]
rounds = 1
retrain_epochs = 1
finetune_epochs = 1
"#;

/// Train and compress a small conv + linear model with the real binary; returns the
/// `.shrk` path and the data folder.
fn compressed_conv_net(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = tmp.join("blobs");
    idx_dataset(&data, 600, 150, 10, 10, 4);
    let spec = tmp.join("tiny.toml");
    std::fs::write(&spec, format!("{TINY_CONV_NET}{CONV_SETTINGS}")).unwrap();
    let out = tmp.join("c");
    let r = run(&[
        "compress",
        spec.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    (out.join("model.shrk"), data)
}

#[test]
fn compressed_model_matches_burn_on_every_test_example_and_runs_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let (shrk, data) = compressed_conv_net(tmp.path());

    // Library level: the runtime's logits equal the decoded Burn model's.
    let device = Device::flex();
    let (spec, net) = load_shrk(&shrk, &device).unwrap();
    let model = shrink_runtime::Model::from_bytes(&std::fs::read(&shrk).unwrap()).unwrap();
    let src = shrink_core::workflow::load_data(data.to_str().unwrap(), None).unwrap();
    let ds = &src.test;
    let want =
        shrink_core::batch::logits_of(&net, ds, &spec.input, spec.normalize.as_ref(), &device);
    assert_close(
        &model.predict(&ds.x, ds.len()).unwrap(),
        &want,
        "test split, one batch",
    );
    for i in 0..ds.len() {
        let got = model.predict(ds.example(i), 1).unwrap();
        assert_close(
            &got,
            &want[i * 4..(i + 1) * 4],
            &format!("test example {i}"),
        );
    }

    // eval runs the file with the runtime; --burn decodes it: same accuracy.
    let d = data.to_str().unwrap();
    let e = stdout_json(&run(&[
        "eval",
        shrk.to_str().unwrap(),
        "--data",
        d,
        "--json",
    ]));
    let b = stdout_json(&run(&[
        "eval",
        shrk.to_str().unwrap(),
        "--data",
        d,
        "--burn",
        "--json",
    ]));
    assert_eq!(e["test_accuracy"], b["test_accuracy"]);
    assert_eq!(e["n"], 150);

    // `shrink run` on an IDX file: one prediction per image, the runtime's argmax.
    let idx = data.join("t10k-images-idx3-ubyte");
    let r = stdout_json(&run(&[
        "run",
        shrk.to_str().unwrap(),
        idx.to_str().unwrap(),
        "--limit",
        "5",
        "--top-k",
        "2",
        "--json",
    ]));
    let preds = r["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 5);
    for (i, p) in preds.iter().enumerate() {
        assert_eq!(p["example"], i);
        let top = p["top"].as_array().unwrap();
        assert_eq!(top.len(), 2);
        let row = &want[i * 4..(i + 1) * 4];
        assert_eq!(
            top[0]["index"],
            shrink_core::batch::argmax(row),
            "example {i}"
        );
        assert!(top[0]["score"].as_f64().unwrap() >= top[1]["score"].as_f64().unwrap());
    }

    // On a PNG of test image 0: the same prediction as the IDX path.
    let png = tmp.path().join("digit.png");
    let pixels: Vec<u8> = ds
        .example(0)
        .iter()
        .map(|&v| (v * 255.0).round() as u8)
        .collect();
    image::GrayImage::from_raw(10, 10, pixels)
        .unwrap()
        .save(&png)
        .unwrap();
    let r = stdout_json(&run(&[
        "run",
        shrk.to_str().unwrap(),
        png.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(
        r["predictions"][0]["top"][0]["index"],
        preds[0]["top"][0]["index"]
    );
    assert_eq!(r["predictions"][0]["top"].as_array().unwrap().len(), 3);
    // Plain text: one line per input.
    let text = run(&["run", shrk.to_str().unwrap(), png.to_str().unwrap()]);
    assert!(text.status.success());
    assert_eq!(String::from_utf8_lossy(&text.stdout).lines().count(), 1);

    // `shrink run` on a model directory (the pruned stage, dense Burn weights): every test
    // image's logits are the Burn network's, in file order.
    let dir = shrk.parent().unwrap().join("pruned");
    let (dspec, dnet) = shrink_core::model::io::load_model(&dir, &device).unwrap();
    let dwant =
        shrink_core::batch::logits_of(&dnet, ds, &dspec.input, dspec.normalize.as_ref(), &device);
    let r = stdout_json(&run(&[
        "run",
        dir.to_str().unwrap(),
        idx.to_str().unwrap(),
        "--logits",
        "--top-k",
        "1",
        "--json",
    ]));
    let preds = r["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), ds.len());
    for (i, p) in preds.iter().enumerate() {
        assert_eq!(p["example"], i);
        let got: Vec<f32> = p["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let row = &dwant[i * 4..(i + 1) * 4];
        assert_close(&got, row, &format!("model directory, example {i}"));
        assert_eq!(p["top"][0]["index"], shrink_core::batch::argmax(row));
    }

    // A PNG of the wrong size is refused, naming the file.
    let big = tmp.path().join("big.png");
    image::GrayImage::new(12, 10).save(&big).unwrap();
    assert_clean_failure(
        &run(&["run", shrk.to_str().unwrap(), big.to_str().unwrap()]),
        "big.png",
    );

    // Damaged files: one clean error line naming the file, exit code 1.
    let bytes = std::fs::read(&shrk).unwrap();
    let bad = tmp.path().join("bad.shrk");
    for cut in [0, 10, bytes.len() / 2] {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        assert_clean_failure(
            &run(&["run", bad.to_str().unwrap(), png.to_str().unwrap()]),
            "bad.shrk",
        );
    }
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 3] ^= 0x40;
    std::fs::write(&bad, &flipped).unwrap();
    assert_clean_failure(
        &run(&["run", bad.to_str().unwrap(), png.to_str().unwrap()]),
        "bad.shrk",
    );
}
