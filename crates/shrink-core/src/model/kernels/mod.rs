//! Faster kernels for the CPU training path, and the one place that chooses between them
//! and Burn's own ops.
//!
//! On Burn's Flex backend with `f32` tensors, [`conv2d`] runs the convolution of
//! [`conv2d`](mod@conv2d) (im2col + gemm forward, gemm weight gradient, `Wᵀ·dY` + col2im
//! input gradient; issue 12, crates/shrink/PERF.md). On any other backend (wgpu, CUDA) or
//! dtype it calls Burn's `conv2d`, so a model runs everywhere Burn does. Setting the
//! environment variable `SHRINK_KERNELS=burn` forces Burn's ops on Flex too (to compare
//! the two in one build). [`max_pool2d`] likewise, with the kernel of [`pool`], and
//! [`linear`] with the kernel of [`linear`](mod@linear) (same values as Burn's, its
//! products split once over the threads).
//!
//! Not here: the layers themselves (`model`), Burn's backend-extension plumbing details
//! (the `conv2d` submodule).

pub mod conv2d;
pub mod linear;
pub mod memory;
pub mod pool;
pub mod threads;

pub use memory::keep_freed_memory;
pub use threads::share_calling_thread;

use burn::backend::DispatchDevice;
use burn::nn::conv::Conv2d;
use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::DType;
use std::sync::OnceLock;

/// Whether `SHRINK_KERNELS=burn` asks for Burn's own ops everywhere (read once).
fn burn_only() -> bool {
    static BURN_ONLY: OnceLock<bool> = OnceLock::new();
    *BURN_ONLY.get_or_init(|| std::env::var("SHRINK_KERNELS").is_ok_and(|v| v == "burn"))
}

/// `max_pool2d(x)` with square windows: on Flex (`f32`) through this crate's kernel,
/// elsewhere through Burn's.
pub fn max_pool2d(x: Tensor<4>, kernel: usize, stride: usize, padding: usize) -> Tensor<4> {
    let fits = pool::PoolGeometry::new(x.dims(), [kernel; 2], [stride; 2], [padding; 2]).is_some();
    if !fits || !own_kernels_apply(&x) {
        return burn::tensor::module::max_pool2d(
            x,
            MaxPoolOptions::new([kernel, kernel])
                .with_stride([stride, stride])
                .with_padding([padding, padding]),
        );
    }
    let out = <burn::backend::Dispatch as pool::PoolKernels>::shrink_max_pool2d(
        x.into_dispatch(),
        [kernel; 2],
        [stride; 2],
        [padding; 2],
    );
    Tensor::from_dispatch(out)
}

/// Whether `x` lives on Flex (with or without autodiff) as `f32`, where the own kernels run.
pub fn own_kernels_apply<const D: usize>(x: &Tensor<D>) -> bool {
    !burn_only()
        && x.dtype() == DType::F32
        && matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// The options Burn's `Conv2d::forward` uses, for the padding kinds that do not depend on
/// the input size (`Same` goes to Burn's own op).
fn options(conv: &Conv2d) -> Option<ConvOptions<2>> {
    let ((top, bottom), (left, right)) = match conv.padding {
        PaddingConfig2d::Valid => ((0, 0), (0, 0)),
        PaddingConfig2d::Explicit(top, left, bottom, right) => ((top, bottom), (left, right)),
        PaddingConfig2d::Same => return None,
    };
    Some(ConvOptions::new_with_padding(
        conv.stride,
        [(top, bottom), (left, right)],
        conv.dilation,
        conv.groups,
    ))
}

/// `conv.forward(x)`: on Flex (`f32`) through this crate's kernel, elsewhere through Burn's.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(options) = options(conv).filter(|_| own_kernels_apply(&x)) else {
        return conv.forward(x);
    };
    let weight = conv.weight.val();
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([weight.dims()[0]], &x.device()),
    };
    let out = <burn::backend::Dispatch as conv2d::ConvKernels>::shrink_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    );
    Tensor::from_dispatch(out)
}

/// `burn::tensor::module::conv2d(x, weight, bias, options)` for a layer that is not a
/// [`Conv2d`] module (sparse VD's mean and variance convolutions): on Flex (`f32`)
/// through this crate's kernel when the shapes fit it, elsewhere through Burn's.
pub fn conv2d_op(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let fits = conv2d::Geometry::new(x.dims(), weight.dims(), &options).is_some();
    if !fits || !own_kernels_apply(&x) {
        return burn::tensor::module::conv2d(x, weight, bias, options);
    }
    let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &x.device()));
    let out = <burn::backend::Dispatch as conv2d::ConvKernels>::shrink_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    );
    Tensor::from_dispatch(out)
}

/// `layer.forward(x)` for a batch of rows: on Flex (`f32`, with a bias) through this
/// crate's kernel ([`linear`](mod@linear), the same values as Burn's), elsewhere through
/// Burn's.
pub fn linear(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let Some(bias) = layer.bias.as_ref().filter(|_| own_kernels_apply(&x)) else {
        return layer.forward(x);
    };
    let out = <burn::backend::Dispatch as linear::LinearKernels>::shrink_linear(
        x.into_dispatch(),
        layer.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
    );
    Tensor::from_dispatch(out)
}

#[cfg(test)]
mod tests;
