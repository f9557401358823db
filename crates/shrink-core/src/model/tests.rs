//! Every layer type builds, runs, and produces the shape the spec inferred; weights
//! round-trip through safetensors and import under PyTorch names.

use super::io::{import_pytorch, load_weights, save_weights};
use super::*;

/// Every layer kind: the shared fixture (crates/shrink-testkit/fixtures/all_layers.toml).
const ALL_LAYERS: &str = shrink_testkit::ALL_LAYERS;

fn spec() -> ModelSpec {
    ModelSpec::from_toml(ALL_LAYERS).unwrap()
}

fn input(n: usize, device: &Device) -> Feat {
    Feat::Image(Tensor::random(
        [n, 2, 12, 12],
        Distribution::Normal(0.0, 1.0),
        device,
    ))
}

#[test]
fn every_layer_runs_with_the_inferred_shapes() {
    let spec = spec();
    let (infos, out) = spec.infer().unwrap();
    let dev = Device::flex();
    dev.seed(3);
    let net = Net::new(&spec, &dev).unwrap();
    let (logits, trace) = net.valid().forward_trace(input(2, &dev));
    assert_eq!(logits.dims(), [2, out[0]]);
    let top: Vec<_> = infos.iter().filter(|l| l.depth == 0).collect();
    assert_eq!(trace.len(), top.len());
    for (t, info) in trace.iter().zip(top) {
        let mut want = vec![2];
        want.extend(&info.output);
        assert_eq!(t.dims(), want, "{} ({})", info.path, info.kind);
    }
    // Parameter count of the Burn module equals the spec's (running stats excluded).
    let burn_params = net.num_params();
    // Running mean and variance of the two batch norms (8 channels, 12 features).
    let bn_buffers = 2 * 8 + 2 * 12;
    assert_eq!(burn_params - bn_buffers, spec.param_count().unwrap());
}

#[test]
fn training_mode_backpropagates_through_every_layer() {
    let spec = spec();
    let dev = Device::flex().autodiff();
    dev.seed(4);
    let net = Net::new(&spec, &dev).unwrap();
    let loss = net.forward(input(4, &dev)).powf_scalar(2.0).mean();
    let grads = loss.backward();
    for (path, w) in net.weights() {
        let g = match w {
            WeightRef::W2(p) => p
                .val()
                .grad(&grads)
                .map(|g| g.abs().sum().into_scalar::<f32>()),
            WeightRef::W4(p) => p
                .val()
                .grad(&grads)
                .map(|g| g.abs().sum().into_scalar::<f32>()),
        };
        assert!(g.is_some_and(|v| v > 0.0), "no gradient reaches {path}");
    }
}

#[test]
fn weights_round_trip_and_import_under_pytorch_names() {
    let spec = spec();
    let dev = Device::flex();
    dev.seed(5);
    let net = Net::new(&spec, &dev).unwrap();
    let x = input(3, &dev);
    let want = net.valid().forward(x.clone()).into_data();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.safetensors");
    save_weights(&net, &path).unwrap();

    dev.seed(6);
    let mut other = Net::new(&spec, &dev).unwrap();
    load_weights(&mut other, &path, None).unwrap();
    assert_eq!(other.valid().forward(x.clone()).into_data(), want);

    // The file uses PyTorch names and layouts: linear weights [out, in].
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let lin = st.tensor("layers.15.weight").unwrap();
    assert_eq!(lin.shape(), &[12, 4]);
    assert!(
        st.tensor("layers.2.weight").is_ok(),
        "batch norm gamma is saved as weight"
    );

    // Strip the "layers." prefix, as an nn.Sequential state_dict would have it.
    let names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = names
        .iter()
        .map(|n| {
            (
                n.trim_start_matches("layers.").to_string(),
                st.tensor(n).unwrap(),
            )
        })
        .collect();
    let torch_path = tmp.path().join("torch.safetensors");
    safetensors::serialize_to_file(views, None, &torch_path).unwrap();
    let imported = import_pytorch(&spec, &torch_path, &dev).unwrap();
    assert_eq!(imported.valid().forward(x).into_data(), want);
}

#[test]
fn loading_mismatched_weights_is_an_error() {
    let dev = Device::flex();
    let a = ModelSpec::from_toml("input = [4]\n[[layers]]\ntype = \"linear\"\nout = 3\n").unwrap();
    let b = ModelSpec::from_toml("input = [5]\n[[layers]]\ntype = \"linear\"\nout = 3\n").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.safetensors");
    save_weights(&Net::new(&a, &dev).unwrap(), &path).unwrap();
    let mut net = Net::new(&b, &dev).unwrap();
    assert!(load_weights(&mut net, &path, None).is_err());
}

#[test]
fn linear_bottleneck_is_two_factors_under_pytorch_names() {
    let text = "input = [6]\n[[layers]]\ntype = \"linear\"\nout = 5\nbottleneck = 2\n[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"linear\"\nout = 3\n";
    let spec = ModelSpec::from_toml(text).unwrap();
    let dev = Device::flex();
    dev.seed(7);
    let net = Net::new(&spec, &dev).unwrap();
    assert_eq!(net.num_params(), spec.param_count().unwrap());
    assert_eq!(spec.param_count().unwrap(), 2 * (6 + 5) + 5 + 5 * 3 + 3);
    // Both factors are weights (pruned and quantized like any linear weight).
    let names: Vec<String> = net.weights().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["layers.0.u.weight", "layers.0.v.weight", "layers.2.weight"]
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.safetensors");
    save_weights(&net, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("layers.0.u.weight").unwrap().shape(), &[2, 6]);
    assert_eq!(st.tensor("layers.0.v.weight").unwrap().shape(), &[5, 2]);
    assert_eq!(st.tensor("layers.0.v.bias").unwrap().shape(), &[5]);
    assert!(st.tensor("layers.0.u.bias").is_err(), "U has no bias");
    // y = V(Ux) + b: the same as one linear layer with W = V·U.
    let x = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &dev);
    let Block::Bottleneck(b) = &net.layers[0] else {
        panic!("not a bottleneck block")
    };
    let w = b.u.weight.val().matmul(b.v.weight.val()); // Burn layout [in, k]·[k, out]
    let direct = x.clone().matmul(w) + b.v.bias.as_ref().unwrap().val().unsqueeze();
    let got = net.layers[0].forward(Feat::Flat(x)).flat();
    let diff: f32 = (got - direct).abs().max().into_scalar();
    assert!(diff < 1e-5, "{diff}");
}
