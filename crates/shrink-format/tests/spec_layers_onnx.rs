//! The layers and options real exported networks need (issue 13): grouped and
//! depthwise convolution, asymmetric padding (`pad2d`), `count_include_pad`, `clip`,
//! `hard_sigmoid`, `hard_swish` — TOML round trips, shape inference, parameter and
//! cost counts, and the errors. Old specs must read and write exactly as before.

use shrink_format::spec::{Layer, ModelSpec, SpecError};
use shrink_format::Limits;

fn spec(text: &str) -> ModelSpec {
    ModelSpec::from_toml(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The error message of a spec that must not check.
fn refused(text: &str) -> String {
    match spec(text).check(&Limits::default()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_serialise_away() {
    let text = "input = [3, 8, 8]\n\
        layers = [{ type = \"conv2d\", out = 4, kernel = 3 }, \
        { type = \"avg_pool2d\", kernel = 2 }, { type = \"flatten\" }]\n";
    let s = spec(text);
    let out = s.to_toml();
    assert!(!out.contains("groups"), "{out}");
    assert!(!out.contains("count_include_pad"), "{out}");
    assert_eq!(ModelSpec::from_toml(&out).unwrap(), s);
    match &s.layers[0] {
        Layer::Conv2d { groups, .. } => assert_eq!(*groups, 1),
        l => panic!("{l:?}"),
    }
    match &s.layers[1] {
        Layer::AvgPool2d {
            count_include_pad, ..
        } => assert!(*count_include_pad),
        l => panic!("{l:?}"),
    }
}

#[test]
fn grouped_and_depthwise_conv() {
    // 6 channels in 3 groups of 2, 9 filters in 3 groups of 3: weight [9, 2, 3, 3].
    let s = spec(
        "input = [6, 8, 8]\nlayers = [{ type = \"conv2d\", out = 9, kernel = 3, groups = 3 }, \
         { type = \"conv2d\", out = 9, kernel = 3, padding = 1, groups = 9, bias = false }, \
         { type = \"flatten\" }]\n",
    );
    let checked = s.check(&Limits::default()).unwrap();
    let (g, dw) = (&checked.infos[0], &checked.infos[1]);
    assert_eq!(g.output, vec![9, 6, 6]);
    assert_eq!(g.params, 9 * 2 * 3 * 3 + 9);
    assert_eq!(g.macs, (9 * 2 * 3 * 3 * 6 * 6) as u64);
    // Depthwise: one 3×3 filter per channel.
    assert_eq!(dw.output, vec![9, 6, 6]);
    assert_eq!(dw.params, 9 * 3 * 3);
    assert_eq!(dw.macs, (9 * 9 * 6 * 6) as u64);
    let out = s.to_toml();
    assert!(
        out.contains("groups = 3") && out.contains("groups = 9"),
        "{out}"
    );
    assert_eq!(ModelSpec::from_toml(&out).unwrap(), s);

    let e = refused(
        "input = [6, 8, 8]\nlayers = [{ type = \"conv2d\", out = 8, kernel = 3, groups = 4 }, { type = \"flatten\" }]\n",
    );
    assert!(
        e.contains("groups 4 must divide") && e.contains("layers.0"),
        "{e}"
    );
    let e = refused(
        "input = [6, 8, 8]\nlayers = [{ type = \"conv2d\", out = 6, kernel = 3, groups = 0 }, { type = \"flatten\" }]\n",
    );
    assert!(e.contains("groups must be at least 1"), "{e}");
}

#[test]
fn pad2d_asymmetric_and_max_pool_padding() {
    let s = spec(
        "input = [2, 5, 6]\nlayers = [\
         { type = \"pad2d\", top = 1, bottom = 2, right = 3 }, \
         { type = \"conv2d\", out = 3, kernel = 3, stride = 2 }, \
         { type = \"pad2d\", right = 1, bottom = 1, value = -inf }, \
         { type = \"max_pool2d\", kernel = 2 }, { type = \"flatten\" }]\n",
    );
    let (infos, out) = s.infer().unwrap();
    assert_eq!(infos[0].output, vec![2, 8, 9]);
    assert_eq!(infos[0].params, 0);
    assert_eq!(infos[1].output, vec![3, 3, 4]);
    assert_eq!(infos[2].output, vec![3, 4, 5]);
    assert_eq!(infos[3].output, vec![3, 2, 2]);
    assert_eq!(out, vec![12]);
    match &s.layers[2] {
        Layer::Pad2d { value, left, .. } => {
            assert_eq!(*value, f64::NEG_INFINITY);
            assert_eq!(*left, 0);
        }
        l => panic!("{l:?}"),
    }
    // Zero sides and a zero value are not written; -inf survives the round trip.
    let text = s.to_toml();
    assert!(!text.contains("left"), "{text}");
    assert!(text.contains("-inf"), "{text}");
    assert_eq!(ModelSpec::from_toml(&text).unwrap(), s);

    let e = refused("input = [4]\nlayers = [{ type = \"pad2d\", top = 1 }]\n");
    assert!(e.contains("needs an image input"), "{e}");
    let e = refused("input = [1, 2, 2]\nlayers = [{ type = \"pad2d\", top = 1, value = nan }, { type = \"flatten\" }]\n");
    assert!(e.contains("NaN"), "{e}");
}

#[test]
fn avg_pool_count_include_pad() {
    let s = spec(
        "input = [2, 7, 7]\nlayers = [{ type = \"avg_pool2d\", kernel = 3, stride = 2, padding = 1, count_include_pad = false }, { type = \"flatten\" }]\n",
    );
    assert_eq!(s.infer().unwrap().0[0].output, vec![2, 4, 4]);
    let text = s.to_toml();
    assert!(text.contains("count_include_pad = false"), "{text}");
    assert_eq!(ModelSpec::from_toml(&text).unwrap(), s);
}

#[test]
fn clip_and_hard_activations() {
    let s = spec(
        "input = [3, 4, 4]\nlayers = [{ type = \"clip\", min = 0.0, max = 6.0 }, \
         { type = \"hard_sigmoid\" }, { type = \"hard_swish\" }, \
         { type = \"clip\", min = -inf, max = 1.0 }, { type = \"flatten\" }]\n",
    );
    let (infos, out) = s.infer().unwrap();
    assert_eq!(out, vec![48]);
    for i in &infos[..4] {
        assert_eq!((i.output.clone(), i.params, i.macs), (vec![3, 4, 4], 0, 48));
    }
    match &s.layers[1] {
        Layer::HardSigmoid { alpha, beta } => assert_eq!((*alpha, *beta), (1.0 / 6.0, 0.5)),
        l => panic!("{l:?}"),
    }
    assert_eq!(ModelSpec::from_toml(&s.to_toml()).unwrap(), s);
    let kinds: Vec<&str> = s.layers.iter().map(Layer::kind).collect();
    assert_eq!(
        kinds,
        ["clip", "hard_sigmoid", "hard_swish", "clip", "flatten"]
    );

    let e = refused("input = [3]\nlayers = [{ type = \"clip\", min = 6.0, max = 0.0 }]\n");
    assert!(e.contains("min <= max"), "{e}");
    let e = refused("input = [3]\nlayers = [{ type = \"clip\", min = nan, max = 1.0 }]\n");
    assert!(e.contains("NaN"), "{e}");
    let e = refused("input = [3]\nlayers = [{ type = \"hard_sigmoid\", alpha = inf }]\n");
    assert!(e.contains("finite"), "{e}");
    // A clip needs both bounds.
    assert!(matches!(
        ModelSpec::from_toml("input = [3]\nlayers = [{ type = \"clip\", max = 6.0 }]\n"),
        Err(SpecError::Parse(_))
    ));
}
