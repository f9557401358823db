//! 2-D max pooling for Burn's Flex backend with its own backward pass: the forward pass
//! keeps, per output, the position of its maximum inside its input plane (`u32`), and the
//! backward pass adds each output gradient there.
//!
//! Burn's Flex max pooling works out each window's valid range with divisions per output
//! and keeps `i64` indices; for LeNet-5 it took about a sixth of a training step
//! (crates/shrink/PERF.md). Same semantics: windows are clipped to the input (padding
//! never wins), the first maximum wins ties, the last NaN wins over everything.
//!
//! Parallel loops split over input planes (one example, one channel), each computed in a
//! fixed order: same bits at any thread count.
//!
//! Not here: the choice between this kernel and Burn's op (the parent module).

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::flex::FlexTensor;
use burn::backend::{backend_extension, tensor::FloatTensor, Backend, Flex};
use rayon::prelude::*;
use std::sync::Arc;

use super::conv2d::{contiguous, dims4, tensor};

/// Shapes and options of one max pooling, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Batch size × channels (input planes).
    pub planes: usize,
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window (height, width).
    pub kernel: [usize; 2],
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Padding each side (height, width).
    pub pad: [usize; 2],
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl PoolGeometry {
    /// The geometry of max pooling `x` (`[n, c, h, w]`), or `None` when a window would
    /// not fit, the padding is not smaller than the window, or the output is empty.
    pub fn new(
        x: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
    ) -> Option<Self> {
        let [n, c, h, w] = x;
        let out = |len: usize, k: usize, s: usize, p: usize| {
            let padded = len.checked_add(2 * p)?;
            (k > 0 && s > 0 && p < k && padded >= k).then(|| (padded - k) / s + 1)
        };
        let oh = out(h, kernel[0], stride[0], pad[0])?;
        let ow = out(w, kernel[1], stride[1], pad[1])?;
        let planes = n.checked_mul(c)?;
        (planes > 0 && oh > 0 && ow > 0 && h * w <= u32::MAX as usize).then_some(Self {
            planes,
            n,
            c,
            h,
            w,
            kernel,
            stride,
            pad,
            oh,
            ow,
        })
    }

    /// The input rows (columns) that output row `o` along `axis` covers.
    fn window(&self, axis: usize, o: usize) -> std::ops::Range<usize> {
        let len = [self.h, self.w][axis];
        let start = o * self.stride[axis];
        let lo = start.saturating_sub(self.pad[axis]);
        let hi = (start + self.kernel[axis])
            .saturating_sub(self.pad[axis])
            .min(len);
        lo..hi
    }
}

/// Max pooling of `x` (`[n, c, h, w]`, contiguous): the outputs, and for each the position
/// of its maximum inside its input plane.
pub fn forward(x: &[f32], g: &PoolGeometry) -> (Vec<f32>, Vec<u32>) {
    assert_eq!(x.len(), g.planes * g.h * g.w, "max_pool2d: input length");
    let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
    let mut y = vec![0.0f32; g.planes * plane_out];
    let mut at = vec![0u32; g.planes * plane_out];
    let rows: Vec<_> = (0..g.oh).map(|o| g.window(0, o)).collect();
    let cols: Vec<_> = (0..g.ow).map(|o| g.window(1, o)).collect();
    let two_by_two = g.kernel == [2, 2] && g.stride == [2, 2] && g.pad == [0, 0];
    y.par_chunks_mut(plane_out)
        .zip(at.par_chunks_mut(plane_out))
        .enumerate()
        .for_each(|(plane, (yp, ap))| {
            let xp = &x[plane * plane_in..][..plane_in];
            if two_by_two {
                pool_2x2(xp, yp, ap, g);
                return;
            }
            for (oy, rs) in rows.iter().enumerate() {
                for (ox, cs) in cols.iter().enumerate() {
                    let mut best = f32::NEG_INFINITY;
                    let mut best_at = usize::MAX;
                    for r in rs.clone() {
                        let line = &xp[r * g.w..][..g.w];
                        for c in cs.clone() {
                            let v = line[c];
                            if best_at == usize::MAX || v > best || v.is_nan() {
                                best = v;
                                best_at = r * g.w + c;
                            }
                        }
                    }
                    yp[oy * g.ow + ox] = best;
                    ap[oy * g.ow + ox] = best_at as u32;
                }
            }
        });
    (y, at)
}

/// One plane of 2×2 windows at stride 2 without padding (LeNet's pooling), branch-free
/// so that it vectorises: the same four values in the same order and the same rule as
/// the general loop (the first value, then any larger one or any NaN), so the same
/// outputs and positions.
fn pool_2x2(xp: &[f32], yp: &mut [f32], ap: &mut [u32], g: &PoolGeometry) {
    let w = g.w as u32;
    for oy in 0..g.oh {
        let r0 = 2 * oy * g.w;
        let (l0, l1) = (&xp[r0..][..2 * g.ow], &xp[r0 + g.w..][..2 * g.ow]);
        let (yrow, arow) = (&mut yp[oy * g.ow..][..g.ow], &mut ap[oy * g.ow..][..g.ow]);
        let base = r0 as u32;
        for (ox, ((y, a), (p0, p1))) in yrow
            .iter_mut()
            .zip(arow.iter_mut())
            .zip(l0.chunks_exact(2).zip(l1.chunks_exact(2)))
            .enumerate()
        {
            #[allow(clippy::eq_op)] // `v != v`: v is NaN
            let take = |v: f32, best: f32| v > best || v != v;
            let (mut best, mut off) = (p0[0], 0u32);
            if take(p0[1], best) {
                (best, off) = (p0[1], 1);
            }
            if take(p1[0], best) {
                (best, off) = (p1[0], w);
            }
            if take(p1[1], best) {
                (best, off) = (p1[1], w + 1);
            }
            *y = best;
            *a = base + 2 * ox as u32 + off;
        }
    }
}

/// The input gradient (`[n, c, h, w]`) of max pooling from the output gradient `dy` and
/// the forward pass's positions of the maxima.
pub fn backward(dy: &[f32], at: &[u32], g: &PoolGeometry) -> Vec<f32> {
    let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
    assert_eq!(
        dy.len(),
        g.planes * plane_out,
        "max_pool2d: output gradient length"
    );
    assert_eq!(at.len(), dy.len(), "max_pool2d: positions length");
    let mut dx = vec![0.0f32; g.planes * plane_in];
    dx.par_chunks_mut(plane_in)
        .enumerate()
        .for_each(|(plane, dxp)| {
            let dyp = &dy[plane * plane_out..][..plane_out];
            let ap = &at[plane * plane_out..][..plane_out];
            for (&i, &d) in ap.iter().zip(dyp) {
                dxp[i as usize] += d;
            }
        });
    dx
}

/// Burn's backend extension: 2-D max pooling (NCHW, `f32`, dilation 1, floor mode) whose
/// backward pass is the one in this module.
#[backend_extension(Flex, Autodiff)]
pub trait PoolKernels: Backend {
    /// Max pooling with windows `kernel`, steps `stride`, `padding` on each side.
    fn shrink_max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;
}

fn flex_forward(
    x: &FlexTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> (FlexTensor, Vec<u32>, PoolGeometry) {
    let g = PoolGeometry::new(dims4(x), kernel, stride, padding).unwrap_or_else(|| {
        panic!("max_pool2d: input {x:?} does not fit windows {kernel:?} (padding {padding:?})")
    });
    let (y, at) = forward(&contiguous(x), &g);
    (tensor(y, [g.n, g.c, g.oh, g.ow]), at, g)
}

impl PoolKernels for Flex {
    fn shrink_max_pool2d(
        x: FlexTensor,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FlexTensor {
        flex_forward(&x, kernel, stride, padding).0
    }
}

/// What the backward pass keeps: where each maximum was.
#[derive(Clone)]
struct PoolState {
    at: Arc<Vec<u32>>,
    geometry: PoolGeometry,
}

impl std::fmt::Debug for PoolState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolState")
            .field("geometry", &self.geometry)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = PoolState;

    fn backward(self, ops: Ops<PoolState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node_x {
            let g = ops.state.geometry;
            let dx = backward(&contiguous(&dy), &ops.state.at, &g);
            grads.register::<Flex>(node.id, tensor(dx, [g.n, g.c, g.h, g.w]));
        }
    }
}

impl<C: CheckpointStrategy> PoolKernels for Autodiff<Flex, C> {
    fn shrink_max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        match PoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, at, geometry) = flex_forward(x.primitive(), kernel, stride, padding);
                let state = PoolState {
                    at: Arc::new(at),
                    geometry,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(flex_forward(x.primitive(), kernel, stride, padding).0)
            }
        }
    }
}
