//! The cache's keys: equal for copies of one network, different for networks that
//! differ only where parameters cannot tell (an activation, a pooling window), and
//! the logits it gives the same as computing them.

use super::*;
use crate::batch::logits_in_batches;
use shrink_data::Dataset;
use shrink_format::spec::ModelSpec;

fn net(layers: &str, seed: u64) -> Net {
    let spec = ModelSpec::from_toml(&format!("input = [1, 6, 6]\nlayers = [{layers}]\n")).unwrap();
    crate::device::init_net(&spec, seed, &Device::flex()).unwrap()
}

const CONV: &str = r#"{ type = "conv2d", out = 3, kernel = 3 }"#;
const TAIL: &str = r#"{ type = "flatten" }, { type = "linear", out = 4 }"#;

fn key(n: &Net) -> Option<Key> {
    Key::of(n, &[1, 6, 6], None, &Device::flex(), 8, 36)
}

fn data(n: usize, offset: f32) -> Dataset {
    let x = (0..n * 36)
        .map(|i| (i % 13) as f32 / 13.0 + offset)
        .collect();
    Dataset::new(
        vec![1, 6, 6],
        x,
        vec![0; n],
        4,
        (0..4).map(|c| c.to_string()).collect(),
    )
    .unwrap()
}

#[test]
fn keys_tell_networks_apart_exactly() {
    let relu = |seed| net(&format!(r#"{CONV}, {{ type = "relu" }}, {TAIL}"#), seed);
    let (a, b) = (relu(1), relu(1));
    // Two copies: other parameter ids, same key.
    assert!(
        format!("{a:?}") != format!("{b:?}"),
        "parameter ids should differ"
    );
    assert!(key(&a).unwrap() == key(&b).unwrap());
    // Other weights.
    assert!(key(&a).unwrap() != key(&relu(2)).unwrap());
    // Same parameters, another activation or pooling: told apart by the structure.
    let tanh = net(&format!(r#"{CONV}, {{ type = "tanh" }}, {TAIL}"#), 1);
    assert_eq!(
        ParamTable::from_net(&a).unwrap(),
        ParamTable::from_net(&tanh).unwrap()
    );
    assert!(key(&a).unwrap() != key(&tanh).unwrap());
    let pool = |k| {
        net(
            &format!(
                r#"{CONV}, {{ type = "max_pool2d", kernel = {k}, stride = 1 }}, {{ type = "avg_pool2d", kernel = {}, stride = 1 }}, {TAIL}"#,
                4 - k
            ),
            1,
        )
    };
    assert!(key(&pool(1)).unwrap() != key(&pool(3)).unwrap());
    // Other settings of the same network.
    let k = key(&a).unwrap();
    assert!(k != Key::of(&a, &[1, 6, 6], None, &Device::flex(), 9, 36).unwrap());
    assert!(Key::of(&a, &[1, 6, 6], None, &Device::flex(), 8, MAX_VALUES + 1).is_none());
    // Running statistics: not cached.
    let bn = net(&format!(r#"{CONV}, {{ type = "batch_norm" }}, {TAIL}"#), 1);
    assert!(key(&bn).is_none());
}

#[test]
fn cached_logits_are_the_computed_ones() {
    let dev = Device::flex();
    let fresh = |n: &Net, ds: &Dataset| {
        // Computed without the cache: the loop of `logits_in_batches`, by hand.
        let mut out = Vec::new();
        for chunk in ds.x.chunks(8 * 36) {
            let b = chunk.len() / 36;
            let x = crate::batch::to_feat(chunk.to_vec(), b, &[1, 6, 6], &dev);
            out.extend(n.forward(x).into_data().try_into_vec_as::<f32>().unwrap());
        }
        out
    };
    let a = net(&format!(r#"{CONV}, {{ type = "relu" }}, {TAIL}"#), 3);
    let tanh = net(&format!(r#"{CONV}, {{ type = "tanh" }}, {TAIL}"#), 3);
    let (d1, d2) = (data(20, 0.0), data(20, 0.5));
    for _ in 0..2 {
        for (n, d) in [(&a, &d1), (&tanh, &d1), (&a, &d2), (&tanh, &d2)] {
            let got = logits_in_batches(n, d, &[1, 6, 6], None, &dev, 8);
            assert!(same_bits(&got, &fresh(n, d)));
        }
    }
    // Keys of different data sets never match an entry.
    let k = key(&a).unwrap();
    k.put(&d1.x, &[1.0, 2.0]);
    assert_eq!(key(&a).unwrap().get(&d1.x), Some(vec![1.0, 2.0]));
    assert_eq!(key(&a).unwrap().get(&d2.x), None);
}

#[test]
fn structure_drops_only_parameter_ids() {
    let s = "Net { w: Param: 12 - ParamMapper { load: false }, b: Some(Param: 7 - ParamMapper { load: false }), k: 3 }";
    assert_eq!(
        structure(s).unwrap(),
        "Net { w: Param: ParamMapper { load: false }, b: Some(Param: ParamMapper { load: false }), k: 3 }"
    );
    assert!(structure("x: RunningState { id: 3 }").is_none());
}
