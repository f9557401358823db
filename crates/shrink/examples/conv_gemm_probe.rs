//! Probe (issue 12): LeNet-5's convolutions as Burn's `conv2d` against the same
//! convolution written as unfold (im2col) + one matmul, forward and backward on Flex's
//! autodiff; values and gradients compared, time per forward+backward printed.
//!
//! `cargo run --release -p shrink --example conv_gemm_probe [ITERS]`
//!
//! Not here: any change to the models (this only measures).

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Distribution;
use std::time::Instant;

/// Stride-1, unpadded conv2d as im2col (`unfold`) and one matmul.
fn conv_gemm(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Tensor<4> {
    let [n, c, h, wd] = x.dims();
    let [co, _, kh, kw] = w.dims();
    let (oh, ow) = (h - kh + 1, wd - kw + 1);
    // [n, c, oh, ow, kh, kw]
    let cols: Tensor<6> = x.unfold::<5, _>(2, kh, 1).unfold::<6, _>(3, kw, 1);
    let cols = cols
        .permute([0, 2, 3, 1, 4, 5])
        .reshape([n * oh * ow, c * kh * kw]);
    let wm = w.reshape([co, c * kh * kw]).transpose();
    let y = cols.matmul(wm) + b.unsqueeze::<2>();
    y.reshape([n, oh, ow, co]).permute([0, 3, 1, 2])
}

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dev = Device::flex().autodiff();
    dev.seed(1);
    for (name, n, c, hw, co, k, x_grad) in [
        ("conv1", 64usize, 1usize, 28usize, 20usize, 5usize, false),
        ("conv2", 64, 20, 12, 50, 5, true),
    ] {
        let x0 = Tensor::<4>::random([n, c, hw, hw], Distribution::Normal(0.0, 1.0), &dev);
        let w0 = Tensor::<4>::random([co, c, k, k], Distribution::Normal(0.0, 0.1), &dev);
        let b0 = Tensor::<1>::random([co], Distribution::Normal(0.0, 0.1), &dev);
        let r = Tensor::<4>::random(
            [n, co, hw - k + 1, hw - k + 1],
            Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let run = |gemm: bool| {
            let x = if x_grad {
                x0.clone().require_grad()
            } else {
                x0.clone()
            };
            let w = w0.clone().require_grad();
            let b = b0.clone().require_grad();
            let y = if gemm {
                conv_gemm(x.clone(), w.clone(), b.clone())
            } else {
                conv2d(
                    x.clone(),
                    w.clone(),
                    Some(b.clone()),
                    ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
                )
            };
            let loss = (y.clone() * r.clone()).sum();
            let g = loss.backward();
            let gw = w.grad(&g).unwrap();
            let gx = if x_grad { x.grad(&g) } else { None };
            (y.inner(), gw, gx)
        };
        let (ya, gwa, gxa) = run(false);
        let (yb, gwb, gxb) = run(true);
        let diff = |a: Tensor<4>, b: Tensor<4>| -> f32 { (a - b).abs().max().into_scalar::<f32>() };
        let dy = diff(ya, yb);
        let dw = diff(gwa, gwb);
        let dx = match (gxa, gxb) {
            (Some(a), Some(b)) => diff(a, b),
            _ => 0.0,
        };
        let mut times = [0.0f64; 2];
        for _ in 0..iters {
            for (i, gemm) in [false, true].into_iter().enumerate() {
                let t = Instant::now();
                let (y, gw, _) = run(gemm);
                let _ = gw.into_data();
                let _ = y.into_data();
                times[i] += t.elapsed().as_secs_f64();
            }
        }
        println!(
            "{name} (batch {n}): burn conv2d {:.2} ms, unfold+matmul {:.2} ms per forward+backward; max |diff| y {dy:.2e}, dW {dw:.2e}, dX {dx:.2e}",
            1e3 * times[0] / iters as f64,
            1e3 * times[1] / iters as f64
        );
    }
}
