//! The direct convolution (`conv.rs`) against the reference: padding, dilation, odd
//! sizes, the pooling folded in (max and average, overlapping windows, the batch-1
//! shapes with constant sizes and the general one), tile shapes for short and long
//! rows, output channels with no kept weight or every weight kept, threads.

use super::*;
use crate::plan::Node;
use shrink_format::TensorData;

/// Whether every convolution of `model` took the direct path.
fn all_direct(model: &Model) -> bool {
    model.nodes.iter().all(|n| match n {
        Node::Conv { direct, .. } => direct.is_some(),
        _ => true,
    })
}

#[test]
fn stride_one_convolutions_take_the_direct_path() {
    let direct = random_model(
        &image_spec(
            "[2, 6, 6]",
            "{ type = \"conv2d\", out = 3, kernel = 3, padding = 1 }",
        ),
        1,
        true,
    );
    assert!(all_direct(&Model::from_shrk(&direct).unwrap()));
    let strided = random_model(
        &image_spec(
            "[2, 6, 6]",
            "{ type = \"conv2d\", out = 3, kernel = 3, stride = 2 }",
        ),
        1,
        true,
    );
    assert!(!all_direct(&Model::from_shrk(&strided).unwrap()));
}

#[test]
fn direct_convolution_padding_dilation_odd_sizes() {
    for layers in [
        "{ type = \"conv2d\", out = 5, kernel = 3, padding = 1 }",
        "{ type = \"conv2d\", out = 4, kernel = 3, padding = 2, dilation = 2 }",
        "{ type = \"conv2d\", out = 3, kernel = 5, bias = false }",
        "{ type = \"conv2d\", out = 2, kernel = 2, padding = 3 }",
        // Output rows of 1 value (a long tile of rows at batch 1).
        "{ type = \"conv2d\", out = 3, kernel = 9 }",
    ] {
        check(&image_spec("[3, 11, 9]", layers));
    }
    // A dilation so large that the padded input outgrows the im2col matrix: im2col runs.
    check(&image_spec(
        "[2, 20, 20]",
        "{ type = \"conv2d\", out = 3, kernel = 2, dilation = 15 }",
    ));
    // LeNet-5's shapes, smaller: 24- and 8-value rows at batch 1.
    check(&image_spec(
        "[1, 28, 28]",
        "{ type = \"conv2d\", out = 3, kernel = 5 }, { type = \"max_pool2d\", kernel = 2 }, \
         { type = \"conv2d\", out = 4, kernel = 5 }, { type = \"max_pool2d\", kernel = 2 }",
    ));
}

#[test]
fn direct_convolution_with_the_pooling_folded_in() {
    let conv = "{ type = \"conv2d\", out = 4, kernel = 3 }";
    for pool in [
        "{ type = \"max_pool2d\", kernel = 2 }",
        "{ type = \"avg_pool2d\", kernel = 2 }",
        "{ type = \"max_pool2d\", kernel = 3, stride = 2 }",
        "{ type = \"avg_pool2d\", kernel = 3, stride = 2 }",
        "{ type = \"max_pool2d\", kernel = 3 }",
        // Not one of the constant-size shapes.
        "{ type = \"max_pool2d\", kernel = 2, stride = 1 }",
        "{ type = \"avg_pool2d\", kernel = 4, stride = 3 }",
        // Padded pooling is not folded in: the convolution's output, then the pooling.
        "{ type = \"max_pool2d\", kernel = 3, stride = 2, padding = 1 }",
    ] {
        check(&image_spec("[2, 13, 12]", &format!("{conv}, {pool}")));
    }
    // An activation between them: nothing folded.
    check(&image_spec(
        "[2, 9, 9]",
        &format!("{conv}, {{ type = \"relu\" }}, {{ type = \"max_pool2d\", kernel = 2 }}"),
    ));
}

/// A LeNet-like model whose first convolution has an output channel with no kept weight
/// (only its bias) and one with every weight kept.
fn empty_and_full_rows(seed: u64) -> ShrkModel {
    let spec = image_spec(
        "[3, 16, 16]",
        "{ type = \"conv2d\", out = 6, kernel = 5, padding = 1 }, { type = \"max_pool2d\", kernel = 2 }, \
         { type = \"conv2d\", out = 5, kernel = 3 }",
    );
    let mut file = random_model(&spec, seed, true);
    let t = file
        .tensors
        .iter_mut()
        .find(|t| t.name == "layers.0.weight")
        .unwrap();
    let TensorData::Compressed(c) = &mut t.data else {
        panic!("compressed weights expected");
    };
    let per = 3 * 5 * 5;
    let (mut positions, mut clusters) = (Vec::new(), Vec::new());
    for p in 0..6 * per {
        let kept = match p / per {
            0 => None,
            1 => Some(p % c.codebook.len()),
            _ => c
                .positions
                .iter()
                .position(|&q| q as usize == p)
                .map(|j| c.clusters[j] as usize),
        };
        if let Some(k) = kept {
            positions.push(p as u32);
            clusters.push(k as u16);
        }
    }
    (c.positions, c.clusters) = (positions, clusters);
    file
}

#[test]
fn direct_convolution_empty_and_full_rows_batches_and_threads() {
    let file = empty_and_full_rows(5);
    let reference = Ref::new(&file);
    let mut model = Model::from_shrk(&file).unwrap();
    assert!(all_direct(&model));
    let spec = model.spec().clone();
    let len = model.input_len();
    for batch in [1, 2, 7, 64] {
        let x: Vec<f32> = (0..batch * len)
            .map(|i| ((i * 7919 + 13) % 1000) as f32 / 1000.0)
            .collect();
        let want: Vec<f32> = x
            .chunks(len)
            .flat_map(|e| reference.forward(&spec, e))
            .collect();
        for k in all_kernels() {
            model.set_kernels(k);
            model.set_threads(1);
            let one = model.predict(&x, batch).unwrap();
            for (i, (g, w)) in one.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "batch {batch} {k:?}: value {i} is {g}, reference {w}"
                );
            }
            // Channels split over threads: the same values, bit for bit.
            model.set_threads(3);
            assert_eq!(
                model.predict(&x, batch).unwrap(),
                one,
                "batch {batch} {k:?}"
            );
        }
    }
}
