//! The layers imported networks need (issue 13) through the whole pipeline: a small
//! spec with a grouped and a depthwise convolution, asymmetric padding (`pad2d`, with
//! `-inf` before a max pool), an average pool that counts only the positions inside,
//! `clip` (ReLU6), `hard_sigmoid` and `hard_swish` trains with `shrink train`, and its
//! weights written densely to a `.shrk` give Burn's logits under the runtime (within
//! 1e-4); `shrink compress` prunes and quantizes it (grouped weights included) and the
//! compressed file still gives the decoded Burn model's logits.

mod common;
use burn::prelude::*;
use common::*;
use shrink_core::batch::{normalize, to_feat};
use shrink_core::compress::encode::load_shrk;
use shrink_core::compress::params::ParamTable;
use shrink_core::model::io::load_model;
use shrink_core::model::Net;
use shrink_format::spec::{Layer, ModelSpec};
use shrink_format::{NamedTensor, ShrkModel, TensorData};
use std::path::Path;

const NET: &str = r#"
name = "onnx-layers"
input = [1, 10, 10]
[[layers]]
type = "pad2d"
bottom = 1
right = 1
[[layers]]
type = "conv2d"
out = 6
kernel = 3
[[layers]]
type = "batch_norm"
[[layers]]
type = "clip"
min = 0.0
max = 6.0
[[layers]]
type = "residual"
body = [{ type = "conv2d", out = 12, kernel = 1, bias = false }, { type = "hard_swish" }, { type = "conv2d", out = 12, kernel = 3, padding = 1, groups = 12 }, { type = "batch_norm" }, { type = "hard_sigmoid" }, { type = "conv2d", out = 6, kernel = 1, groups = 2 }]
[[layers]]
type = "conv2d"
out = 6
kernel = 3
padding = 1
groups = 3
[[layers]]
type = "pad2d"
bottom = 1
right = 1
value = -inf
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "avg_pool2d"
kernel = 3
stride = 2
padding = 1
count_include_pad = false
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 4
[train]
epochs = 2
batch_size = 32
lr = 0.05
[compress]
rounds = 1
retrain_epochs = 1
finetune_epochs = 1
"#;

fn setup(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = tmp.join("blobs");
    idx_dataset(&data, 400, 100, 10, 10, 4);
    let spec = tmp.join("net.toml");
    std::fs::write(&spec, NET).unwrap();
    (spec, data)
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

fn max_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max)
}

/// Every parameter of `net` as a dense tensor: the unpruned, unquantized `.shrk`.
fn dense_file(spec: &ModelSpec, net: &Net) -> Vec<u8> {
    let table = ParamTable::from_net(net).unwrap();
    let tensors = table
        .params
        .iter()
        .map(|p| NamedTensor {
            name: p.name.clone(),
            data: TensorData::Dense {
                shape: p.shape.iter().map(|&d| d as u32).collect(),
                values: p.data.clone(),
            },
        })
        .collect();
    let file = ShrkModel {
        spec_toml: spec.to_toml(),
        meta: vec![],
        tensors,
    };
    shrink_format::write(&file).unwrap().0
}

#[test]
fn new_layers_train_run_dense_and_compress() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec_path, data) = setup(tmp.path());
    let d = data.to_str().unwrap();
    let device = Device::flex();

    // Train a few steps, then the dense file under the runtime vs Burn.
    let out = tmp.path().join("trained");
    let r = run(&[
        "train",
        spec_path.to_str().unwrap(),
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "1",
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let (spec, net) = load_model(&out, &device).unwrap();
    let model = shrink_runtime::Model::from_bytes(&dense_file(&spec, &net)).unwrap();
    let src = shrink_core::workflow::load_data(d, None).unwrap();
    let ds = &src.test;
    let want = burn_logits(&spec, &net, &ds.x, ds.len(), &device);
    let worst = max_diff(&model.predict(&ds.x, ds.len()).unwrap(), &want);
    assert!(worst <= 1e-4, "dense .shrk vs Burn: {worst}");
    // Training moved the weights away from their start (the spec's layers learn).
    let spread = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    assert!(spread > 0.0 && spread.is_finite());

    // Compress: pruned and quantized, grouped and depthwise weights included.
    let c = tmp.path().join("c");
    let r = run(&[
        "compress",
        spec_path.to_str().unwrap(),
        "--data",
        d,
        "--out",
        c.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let shrk = c.join("model.shrk");
    let bytes = std::fs::read(&shrk).unwrap();
    let file = shrink_format::read(&bytes).unwrap();
    // The grouped convolutions of the file's spec (batch norms folded into the
    // convolutions before them change the layer numbers): each one stored as shared
    // weights (a codebook). Their units have fewer weights than the per-unit floor of
    // kept weights, so pruning may keep them all.
    let file_spec = ModelSpec::from_toml(&file.spec_toml).unwrap();
    let mut grouped = Vec::new();
    grouped_convs(&file_spec.layers, "layers", &mut grouped);
    assert_eq!(grouped.len(), 3, "{grouped:?}");
    for name in &grouped {
        let t = file.tensors.iter().find(|t| &t.name == name).unwrap();
        assert!(
            matches!(t.data, TensorData::Compressed(_)),
            "{name} is not compressed"
        );
    }
    let (spec, decoded) = load_shrk(&shrk, &device).unwrap();
    let model = shrink_runtime::Model::from_bytes(&bytes).unwrap();
    let want = burn_logits(&spec, &decoded, &ds.x, ds.len(), &device);
    let worst = max_diff(&model.predict(&ds.x, ds.len()).unwrap(), &want);
    assert!(worst <= 1e-4, "compressed .shrk vs Burn: {worst}");
}

/// The weight names of the convolutions with `groups > 1` under `prefix`.
fn grouped_convs(layers: &[Layer], prefix: &str, out: &mut Vec<String>) {
    for (i, l) in layers.iter().enumerate() {
        let path = format!("{prefix}.{i}");
        match l {
            Layer::Conv2d { groups, .. } if *groups > 1 => out.push(format!("{path}.weight")),
            Layer::Residual { body, shortcut } => {
                grouped_convs(body, &format!("{path}.body"), out);
                grouped_convs(shortcut, &format!("{path}.shortcut"), out);
            }
            _ => {}
        }
    }
}

/// Burn vs the runtime on freshly initialised weights and inputs in [-1, 3], wide
/// enough that clip, hard sigmoid and hard swish reach both of their bounds.
#[test]
fn untrained_net_matches_burn() {
    let spec = ModelSpec::from_toml(NET.split("[train]").next().unwrap()).unwrap();
    let device = Device::flex();
    device.seed(3);
    let net = Net::new(&spec, &device).unwrap();
    let model = shrink_runtime::Model::from_bytes(&dense_file(&spec, &net)).unwrap();
    let mut rng = shrink_testkit::Lcg::new(9);
    let n = 5;
    let x: Vec<f32> = (0..n * 100).map(|_| rng.unit() * 4.0 - 1.0).collect();
    let want = burn_logits(&spec, &net, &x, n, &device);
    let worst = max_diff(&model.predict(&x, n).unwrap(), &want);
    assert!(worst <= 1e-4, "{worst}");
}
