//! The own conv2d against Burn's: forward values and the three gradients on random
//! shapes (stride, asymmetric padding, dilation, groups), and the same bits at 1 and 2
//! threads.

use super::conv2d::ConvKernels;
use burn::backend::Dispatch;
use burn::prelude::*;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::TensorData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Case {
    x: [usize; 4],
    w: [usize; 4],
    options: ConvOptions<2>,
}

fn own(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>, options: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvKernels>::shrink_conv2d(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
        options,
    ))
}

/// A tensor of values drawn from a seeded generator of the test's own (Burn's device
/// RNG is shared by the tests running in parallel).
fn fixed<const D: usize>(shape: [usize; D], seed: u64, dev: &Device) -> Tensor<D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product::<usize>();
    let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * scale,
            "{what}[{i}]: own {x} vs burn {y} (scale {scale})"
        );
    }
}

/// Forward and all three gradients of the own kernel and of Burn's, for one case, with
/// the loss `sum(y · r)` for a random `r`.
fn check(case: &Case, seed: u64) {
    let dev = Device::flex().autodiff();
    let x = fixed(case.x, seed, &dev);
    let w = fixed(case.w, seed + 1, &dev);
    let b = fixed([case.w[0]], seed + 2, &dev);
    let run = |ours: bool| {
        let (x, w, b) = (
            x.clone().require_grad(),
            w.clone().require_grad(),
            b.clone().require_grad(),
        );
        let y = if ours {
            own(x.clone(), w.clone(), b.clone(), case.options.clone())
        } else {
            burn_conv2d(x.clone(), w.clone(), Some(b.clone()), case.options.clone())
        };
        let r = Tensor::<4>::from_data(
            TensorData::new(
                (0..y.dims().iter().product::<usize>())
                    .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
                    .collect::<Vec<f32>>(),
                y.dims(),
            ),
            &dev,
        );
        let grads = (y.clone() * r).sum().backward();
        (
            values(y),
            values(x.grad(&grads).unwrap()),
            values(w.grad(&grads).unwrap()),
            values(b.grad(&grads).unwrap()),
        )
    };
    let (ours, theirs) = (run(true), run(false));
    let name = format!("x {:?} w {:?} {:?}", case.x, case.w, case.options);
    assert_close(&format!("{name} forward"), &ours.0, &theirs.0);
    assert_close(&format!("{name} dx"), &ours.1, &theirs.1);
    assert_close(&format!("{name} dw"), &ours.2, &theirs.2);
    assert_close(&format!("{name} db"), &ours.3, &theirs.3);
}

#[test]
fn lenet5_layers_match_burn() {
    let plain = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    for case in [
        Case {
            x: [3, 1, 28, 28],
            w: [20, 1, 5, 5],
            options: plain.clone(),
        },
        Case {
            x: [3, 20, 12, 12],
            w: [50, 20, 5, 5],
            options: plain.clone(),
        },
    ] {
        check(&case, 1);
    }
}

#[test]
fn random_shapes_match_burn() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut checked = 0;
    while checked < 24 {
        let groups = [1, 1, 2, 3][rng.gen_range(0..4)];
        let cin = groups * rng.gen_range(1..4);
        let cout = groups * rng.gen_range(1..4);
        let (kh, kw) = (rng.gen_range(1..5), rng.gen_range(1..5));
        let options = ConvOptions::new_with_padding(
            [rng.gen_range(1..4), rng.gen_range(1..4)],
            [
                (rng.gen_range(0..3), rng.gen_range(0..3)),
                (rng.gen_range(0..3), rng.gen_range(0..3)),
            ],
            [rng.gen_range(1..3), rng.gen_range(1..3)],
            groups,
        );
        let case = Case {
            x: [
                rng.gen_range(1..4),
                cin,
                rng.gen_range(1..11),
                rng.gen_range(1..11),
            ],
            w: [cout, cin / groups, kh, kw],
            options,
        };
        // Shapes whose output would be empty are not convolutions; draw again.
        if super::conv2d::Geometry::new(case.x, case.w, &case.options).is_none() {
            continue;
        }
        check(&case, 100 + checked);
        checked += 1;
    }
}

#[test]
fn same_bits_at_one_and_two_threads() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let dev = Device::flex().autodiff();
                let x = fixed([64, 20, 12, 12], 5, &dev).require_grad();
                let w = fixed([50, 20, 5, 5], 6, &dev).require_grad();
                let b = fixed([50], 7, &dev).require_grad();
                let y = own(
                    x.clone(),
                    w.clone(),
                    b.clone(),
                    ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
                );
                let grads = (y.clone() * y.clone()).sum().backward();
                let bits = |v: Vec<f32>| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
                (
                    bits(values(y)),
                    bits(values(x.grad(&grads).unwrap())),
                    bits(values(w.grad(&grads).unwrap())),
                    bits(values(b.grad(&grads).unwrap())),
                )
            })
    };
    assert!(
        run(1) == run(2),
        "the own conv2d differs between 1 and 2 threads"
    );
}

#[test]
fn conv_layer_through_kernels_matches_its_own_forward() {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    let dev = Device::flex().autodiff();
    assert_eq!(
        super::own_kernels_apply(&Tensor::<4>::zeros([1, 1, 4, 4], &dev)),
        !super::burn_only()
    );
    for (padding, bias) in [
        (PaddingConfig2d::Valid, true),
        (PaddingConfig2d::Explicit(2, 1, 0, 1), false),
        (PaddingConfig2d::Same, true),
    ] {
        let conv = Conv2dConfig::new([4, 6], [3, 2])
            .with_stride([2, 1])
            .with_groups(2)
            .with_padding(padding.clone())
            .with_bias(bias)
            .init(&dev);
        let x = fixed([2, 4, 9, 7], 9, &dev);
        assert_close(
            &format!("{padding:?}"),
            &values(super::conv2d(&conv, x.clone())),
            &values(conv.forward(x)),
        );
    }
}

#[test]
fn max_pool_matches_burn() {
    use super::pool::{PoolGeometry, PoolKernels};
    use burn::tensor::module::max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let dev = Device::flex().autodiff();
    let mut checked = 0;
    while checked < 24 {
        let kernel = [rng.gen_range(1..4), rng.gen_range(1..4)];
        let stride = [rng.gen_range(1..4), rng.gen_range(1..4)];
        // Burn takes padding up to half the window.
        let padding = [
            rng.gen_range(0..=kernel[0] / 2),
            rng.gen_range(0..=kernel[1] / 2),
        ];
        let shape = [
            rng.gen_range(1..4),
            rng.gen_range(1..4),
            rng.gen_range(1..12),
            rng.gen_range(1..12),
        ];
        if PoolGeometry::new(shape, kernel, stride, padding).is_none() {
            continue;
        }
        let x = fixed(shape, 40 + checked, &dev);
        let run = |ours: bool| {
            let x = x.clone().require_grad();
            let y = if ours {
                Tensor::<4>::from_dispatch(<Dispatch as PoolKernels>::shrink_max_pool2d(
                    x.clone().into_dispatch(),
                    kernel,
                    stride,
                    padding,
                ))
            } else {
                max_pool2d(
                    x.clone(),
                    MaxPoolOptions::new(kernel)
                        .with_stride(stride)
                        .with_padding(padding),
                )
            };
            let r = fixed(y.dims(), 99, &dev);
            let grads = (y.clone() * r).sum().backward();
            (values(y), values(x.grad(&grads).unwrap()))
        };
        let (ours, theirs) = (run(true), run(false));
        let name = format!("{shape:?} kernel {kernel:?} stride {stride:?} padding {padding:?}");
        assert_eq!(ours.0, theirs.0, "{name}: forward");
        assert_close(&format!("{name} dx"), &ours.1, &theirs.1);
        checked += 1;
    }
}

/// Forward and the three gradients of the own linear layer and of Burn's `linear`, as
/// bits, at `threads` rayon threads.
fn linear_run(
    rows: usize,
    d_in: usize,
    d_out: usize,
    seed: u64,
    ours: bool,
    threads: usize,
) -> [Vec<u32>; 4] {
    use super::linear::LinearKernels;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| {
            let dev = Device::flex().autodiff();
            let x = fixed([rows, d_in], seed, &dev).require_grad();
            let w = fixed([d_in, d_out], seed + 1, &dev).require_grad();
            let b = fixed([d_out], seed + 2, &dev).require_grad();
            let y = if ours {
                Tensor::<2>::from_dispatch(<Dispatch as LinearKernels>::shrink_linear(
                    x.clone().into_dispatch(),
                    w.clone().into_dispatch(),
                    b.clone().into_dispatch(),
                ))
            } else {
                burn::tensor::module::linear(x.clone(), w.clone(), Some(b.clone()))
            };
            let r = fixed(y.dims(), seed + 3, &dev);
            let grads = (y.clone() * r).sum().backward();
            let bits = |v: Vec<f32>| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
            [
                bits(values(y)),
                bits(values(x.grad(&grads).unwrap())),
                bits(values(w.grad(&grads).unwrap())),
                bits(values(b.grad(&grads).unwrap())),
            ]
        })
}

#[test]
fn linear_matches_burn_bit_for_bit() {
    // The MLP's and LeNet-5's layers at batch 64 and 256 (products split over threads,
    // depths over 512), then random small and mid-sized shapes.
    let mut shapes = vec![
        (64, 784, 300),
        (256, 784, 300),
        (64, 300, 100),
        (256, 100, 10),
        (64, 800, 500),
        (3, 700, 2000),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for _ in 0..16 {
        shapes.push((
            rng.gen_range(1..300),
            rng.gen_range(1..900),
            rng.gen_range(1..300),
        ));
    }
    for (i, &(rows, d_in, d_out)) in shapes.iter().enumerate() {
        let seed = 200 + 10 * i as u64;
        let theirs = linear_run(rows, d_in, d_out, seed, false, 2);
        for threads in [1, 2, 3] {
            let ours = linear_run(rows, d_in, d_out, seed, true, threads);
            for (what, (a, b)) in ["forward", "dx", "dw", "db"]
                .iter()
                .zip(ours.iter().zip(&theirs))
            {
                assert!(
                    a == b,
                    "linear [{rows}, {d_in}] -> {d_out}, {threads} threads: {what} differs from Burn's"
                );
            }
        }
    }
}

#[test]
fn tiled_convolution_matches_burn() {
    // One example per forward tile (cin·kh·kw · oh·ow > 2^18), with padding, stride and
    // a partial last tile: the kept im2col matrix (training) and the per-thread tile
    // buffers (inference, reused from tile to tile) both against Burn's.
    let options = ConvOptions::new_with_padding([1, 2], [(2, 1), (0, 2)], [1, 1], 1);
    let case = Case {
        x: [5, 16, 24, 40],
        w: [6, 16, 5, 5],
        options: options.clone(),
    };
    check(&case, 300);
    let dev = Device::flex();
    let x = fixed(case.x, 310, &dev);
    let w = fixed(case.w, 311, &dev);
    let b = fixed([case.w[0]], 312, &dev);
    assert_close(
        "inference, tiled",
        &values(own(x.clone(), w.clone(), b.clone(), options.clone())),
        &values(burn_conv2d(x, w, Some(b), options)),
    );
}

#[test]
fn max_pool_2x2_path_matches_the_general_loop() {
    use super::pool::{forward, PoolGeometry};
    // Values from a small set (many ties) with NaNs, odd and even sizes: the unrolled
    // 2×2 path's outputs and positions, bit for bit, against the general rule written
    // out here.
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    for &(h, w) in &[(24, 24), (8, 8), (7, 9), (2, 2), (3, 5)] {
        let shape = [2, 3, h, w];
        let n = shape.iter().product::<usize>();
        let x: Vec<f32> = (0..n)
            .map(|_| match rng.gen_range(0..10) {
                0 => f32::NAN,
                k => (k % 4) as f32 - 1.5,
            })
            .collect();
        let g = PoolGeometry::new(shape, [2, 2], [2, 2], [0, 0]).unwrap();
        let (y, at) = forward(&x, &g);
        let (oh, ow) = (h / 2, w / 2);
        for plane in 0..6 {
            let xp = &x[plane * h * w..][..h * w];
            for oy in 0..oh {
                for ox in 0..ow {
                    // The general rule: first value, then any larger one or any NaN,
                    // rows outer, columns inner.
                    let mut best = (f32::NEG_INFINITY, usize::MAX);
                    for r in 2 * oy..2 * oy + 2 {
                        for c in 2 * ox..2 * ox + 2 {
                            let v = xp[r * w + c];
                            if best.1 == usize::MAX || v > best.0 || v.is_nan() {
                                best = (v, r * w + c);
                            }
                        }
                    }
                    let o = plane * oh * ow + oy * ow + ox;
                    assert_eq!(
                        (y[o].to_bits(), at[o] as usize),
                        (best.0.to_bits(), best.1),
                        "{h}×{w} plane {plane} output ({oy}, {ox})"
                    );
                }
            }
        }
    }
}
