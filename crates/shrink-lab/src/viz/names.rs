//! Names a person recognises for a spec's layers and weight tensors — `conv1`, `pool1`,
//! `fc2` — counted by kind in model order, the way papers name LeNet-5's or AlexNet's
//! layers, instead of module paths such as `layers.5.weight`.
//!
//! A layer without weights or pooling (an activation, batch norm, dropout, flatten) is
//! named after the layer it follows: `conv2+relu`. Blocks (residual, highway, inception)
//! are `block1`, `block2`, …
//!
//! Not here: the spec itself (`shrink_format::spec`).

use shrink_format::spec::{Layer, ModelSpec};

/// One name per top-level layer of `spec`, in order.
pub fn layer_names(spec: &ModelSpec) -> Vec<String> {
    let (mut conv, mut deconv, mut fc, mut pool, mut block) = (0, 0, 0, 0, 0);
    let mut last: Option<String> = None;
    spec.layers
        .iter()
        .map(|l| {
            let numbered = |n: &mut usize, stem: &str| {
                *n += 1;
                format!("{stem}{n}")
            };
            let own = match l {
                Layer::Conv2d { .. } => Some(numbered(&mut conv, "conv")),
                Layer::ConvTranspose2d { .. } => Some(numbered(&mut deconv, "deconv")),
                Layer::Linear { .. } => Some(numbered(&mut fc, "fc")),
                l if l.is_pool() => Some(numbered(&mut pool, "pool")),
                l if l.is_block() => Some(numbered(&mut block, "block")),
                _ => None,
            };
            match own {
                Some(name) => {
                    last = Some(name.clone());
                    name
                }
                None => match &last {
                    Some(prev) => format!("{prev}+{}", l.kind()),
                    None => l.kind().to_string(),
                },
            }
        })
        .collect()
}

/// A parameter's name for people: `layers.3.weight` → `conv2 weights`,
/// `layers.3.bias` → `conv2 bias`, `layers.4.body.0.weight` → `block1 body.0.weight`;
/// anything else unchanged.
pub fn tensor_name(names: &[String], raw: &str) -> String {
    let Some(rest) = raw.strip_prefix("layers.") else {
        return raw.to_string();
    };
    let (index, tail) = rest.split_once('.').unwrap_or((rest, ""));
    let Some(layer) = index.parse::<usize>().ok().and_then(|i| names.get(i)) else {
        return raw.to_string();
    };
    match tail {
        "weight" => format!("{layer} weights"),
        "" => layer.clone(),
        t => format!("{layer} {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet5_reads_like_the_paper() {
        let spec =
            shrink_core::model::io::parse_spec_text(include_str!("../../../../zoo/lenet-5.toml"))
                .unwrap()
                .0;
        let names = layer_names(&spec);
        assert_eq!(
            names,
            [
                "conv1",
                "pool1",
                "conv2",
                "pool2",
                "pool2+flatten",
                "fc1",
                "fc1+relu",
                "fc2"
            ]
        );
        assert_eq!(tensor_name(&names, "layers.0.weight"), "conv1 weights");
        assert_eq!(tensor_name(&names, "layers.5.bias"), "fc1 bias");
        assert_eq!(tensor_name(&names, "layers.7.weight"), "fc2 weights");
        // Unknown shapes of name stay as they are.
        assert_eq!(tensor_name(&names, "layers.99.weight"), "layers.99.weight");
        assert_eq!(tensor_name(&names, "embedding"), "embedding");
    }
}
