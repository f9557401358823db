//! A fully connected layer (`y = x·W + b`, Burn's `[d_in, d_out]` weight layout) for
//! Burn's Flex backend with its own backward pass, and the one place that splits a gemm
//! over threads for the kernels here ([`gemm_new`], [`gemm_split_strided`]).
//!
//! Flex's matmul hands a big product to gemm's own rayon mode, which opens one parallel
//! region per depth block and per packing pass; called from the training thread (not a
//! pool worker) each region is a wake-up and a wait. For LeNet-300-100 at batch 64 that
//! made the 2-thread step slower than the 1-thread one (issue 12). Here a product is
//! split once, into as many row or column blocks of the output as there are threads,
//! each block one single-threaded gemm.
//!
//! The arithmetic is Burn's, value for value: the same gemm calls (one sum per output in
//! `k` order, in the same depth blocks, which depend on `k` only, never on the split),
//! the bias added after the product, the bias gradient summed row after row from zero as
//! Flex's `sum_dim` does. So a model trains to the same bits as through Burn's `linear`,
//! at any thread count (`kernels::tests`).
//!
//! Not here: the choice between this kernel and Burn's op (the parent module), the model
//! (`model`).

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::flex::FlexTensor;
use burn::backend::{backend_extension, tensor::FloatTensor, Backend, Flex};
use rayon::prelude::*;

use super::conv2d::{contiguous, tensor};

/// Products smaller than this many multiply-adds run on one thread (a split costs a
/// wake-up of the other threads, tens of microseconds).
const SPLIT_MIN_WORK: usize = 1 << 20;

/// gemm's own small-product shortcut: when both output dimensions are at most this, it
/// takes depth blocks of 512 instead of its balanced ones, which would change the order
/// of a sum whose depth is over 512. A split never makes a block that small unless the
/// whole product already is.
const GEMM_SMALL: usize = 64;

/// A matrix operand: pointer and (row, column) strides in elements.
#[derive(Clone, Copy)]
pub(super) struct Operand {
    ptr: *const f32,
    rs: usize,
    cs: usize,
}

impl Operand {
    /// `slice` read with row stride `rs` and column stride `cs`.
    pub(super) fn new(slice: &[f32], rs: usize, cs: usize) -> Self {
        Self {
            ptr: slice.as_ptr(),
            rs,
            cs,
        }
    }
}

/// The output pointer, shared by the blocks (each writes its own rows or columns).
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: blocks write disjoint parts of the output; the operands are only read.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}
unsafe impl Send for Operand {}
unsafe impl Sync for Operand {}

/// `lhs[m×k] · rhs[k×n]` into a new row-major `m×n` vector, exactly as one
/// single-threaded `gemm::gemm` call computes it, split over the current rayon pool's
/// threads when the product is big enough. The vector is not zeroed first (a full pass
/// over it, ~2–3% of an MLP step): gemm with `read_dst` false writes every element of
/// its output before it reads any.
///
/// # Panics
/// When `m·n` overflows. The operands must hold every index `r·rs + c·cs` of their
/// `m×k` / `k×n` shapes (checked by the callers' shape asserts).
pub(super) fn gemm_new((m, n, k): (usize, usize, usize), lhs: Operand, rhs: Operand) -> Vec<f32> {
    let len = m.checked_mul(n).expect("gemm: output size overflows");
    if k == 0 {
        // Nothing to sum: gemm would have no depth block to write the output in.
        return vec![0.0; len];
    }
    let mut dst = Vec::<f32>::with_capacity(len);
    // SAFETY: `dst` has room for the m×n output (row stride n); gemm writes all of it
    // (k > 0, `read_dst` false) before anything reads it, so every element is
    // initialised when the length is set.
    unsafe {
        gemm_split_raw((m, n, k), Out(dst.as_mut_ptr()), (n, 1), lhs, rhs);
        dst.set_len(len);
    }
    dst
}

/// The product of [`gemm_new`] into a `dst` with (row, column) strides `dst_rs`, `dst_cs`.
///
/// # Panics
/// When `dst` does not hold every index `r·dst_rs + c·dst_cs` of `m×n`. The operands
/// as for [`gemm_new`].
pub(super) fn gemm_split_strided(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    (dst_rs, dst_cs): (usize, usize),
    lhs: Operand,
    rhs: Operand,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1) * dst_rs + (n - 1) * dst_cs < dst.len(),
        "gemm: output too short"
    );
    // SAFETY: `dst` holds every index of the m×n output (asserted above).
    unsafe { gemm_split_raw((m, n, k), Out(dst.as_mut_ptr()), (dst_rs, dst_cs), lhs, rhs) }
}

/// The split product into `out` with (row, column) strides `dst_rs`, `dst_cs`.
///
/// # Safety
/// `out` must be valid for writes (and reads of what the product wrote) at every index
/// `r·dst_rs + c·dst_cs` of `m×n`; the operands must hold their `m×k` / `k×n` shapes.
unsafe fn gemm_split_raw(
    (m, n, k): (usize, usize, usize),
    out: Out,
    (dst_rs, dst_cs): (usize, usize),
    lhs: Operand,
    rhs: Operand,
) {
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    // Split the longer output dimension; never into blocks gemm would treat as small
    // when the whole product is not.
    let (along_rows, len, other) = if m >= n { (true, m, n) } else { (false, n, m) };
    let mut blocks = if m * n * k < SPLIT_MIN_WORK {
        1
    } else {
        threads.min(len)
    };
    if other <= GEMM_SMALL && len > GEMM_SMALL {
        blocks = blocks.min(len / (GEMM_SMALL + 1));
    }
    // Blocks of a few rows would take gemm's matrix-vector paths (another order).
    blocks = blocks.min(len / 16).max(1);
    let run = |i: usize| {
        // Whole operands, not their pointer fields, are captured (they are Sync).
        let (out, lhs, rhs) = (out, lhs, rhs);
        let (lo, hi) = (len * i / blocks, len * (i + 1) / blocks);
        let (bm, bn, dst_off, lhs_off, rhs_off) = if along_rows {
            (hi - lo, n, lo * dst_rs, lo * lhs.rs, 0)
        } else {
            (m, hi - lo, lo * dst_cs, 0, lo * rhs.cs)
        };
        // SAFETY: the block's rows (columns) lo..hi are inside the output and the
        // operands (the caller's promise); blocks do not overlap.
        unsafe {
            gemm::gemm(
                bm,
                bn,
                k,
                out.0.add(dst_off),
                dst_cs as isize,
                dst_rs as isize,
                false,
                lhs.ptr.add(lhs_off),
                lhs.cs as isize,
                lhs.rs as isize,
                rhs.ptr.add(rhs_off),
                rhs.cs as isize,
                rhs.rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    };
    if blocks == 1 {
        run(0);
    } else {
        (0..blocks).into_par_iter().for_each(run);
    }
}

/// Shapes of one fully connected layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearGeometry {
    /// Rows of the input (batch size).
    pub rows: usize,
    /// Input features.
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
}

/// `x·W + b`: `x` `[rows, d_in]`, `weight` `[d_in, d_out]`, `bias` `[d_out]`.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], g: &LinearGeometry) -> Vec<f32> {
    assert_eq!(x.len(), g.rows * g.d_in, "linear: input length");
    assert_eq!(weight.len(), g.d_in * g.d_out, "linear: weight length");
    assert_eq!(bias.len(), g.d_out, "linear: bias length");
    let mut y = gemm_new(
        (g.rows, g.d_out, g.d_in),
        Operand::new(x, g.d_in, 1),
        Operand::new(weight, g.d_out, 1),
    );
    add_bias(&mut y, bias);
    y
}

/// Element-wise passes over fewer values than this run on one thread.
const SPLIT_MIN_VALUES: usize = 1 << 15;

/// Blocks for an element-wise pass over `values` values: the pool's threads for big
/// passes, else 1 (then it runs on the calling thread).
fn pass_blocks(values: usize) -> usize {
    if values < SPLIT_MIN_VALUES {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// `y[r, c] += bias[c]` for every row `r` (blocks of rows over the pool's threads).
fn add_bias(y: &mut [f32], bias: &[f32]) {
    let d = bias.len();
    if d == 0 || y.is_empty() {
        return;
    }
    let add = |rows: &mut [f32]| {
        for row in rows.chunks_mut(d) {
            for (v, b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
    };
    let blocks = pass_blocks(y.len());
    if blocks == 1 {
        add(y);
    } else {
        let rows = (y.len() / d).div_ceil(blocks).max(1);
        y.par_chunks_mut(rows * d).for_each(add);
    }
}

/// `dy·Wᵀ`: the input gradient `[rows, d_in]`.
pub fn input_grad(dy: &[f32], weight: &[f32], g: &LinearGeometry) -> Vec<f32> {
    assert_eq!(dy.len(), g.rows * g.d_out, "linear: output gradient length");
    assert_eq!(weight.len(), g.d_in * g.d_out, "linear: weight length");
    gemm_new(
        (g.rows, g.d_in, g.d_out),
        Operand::new(dy, g.d_out, 1),
        Operand::new(weight, 1, g.d_out),
    )
}

/// `xᵀ·dy`: the weight gradient `[d_in, d_out]`.
pub fn weight_grad(x: &[f32], dy: &[f32], g: &LinearGeometry) -> Vec<f32> {
    assert_eq!(x.len(), g.rows * g.d_in, "linear: input length");
    assert_eq!(dy.len(), g.rows * g.d_out, "linear: output gradient length");
    gemm_new(
        (g.d_in, g.d_out, g.rows),
        Operand::new(x, 1, g.d_in),
        Operand::new(dy, g.d_out, 1),
    )
}

/// The bias gradient: `dy`'s rows summed in order from zero (each column's sum in row
/// order whatever the split: blocks of columns over the pool's threads).
pub fn bias_grad(dy: &[f32], g: &LinearGeometry) -> Vec<f32> {
    assert_eq!(dy.len(), g.rows * g.d_out, "linear: output gradient length");
    let mut db = vec![0.0f32; g.d_out];
    if g.d_out == 0 {
        return db;
    }
    // Columns from `lo` on, summed into `out`.
    let sum = |lo: usize, out: &mut [f32]| {
        for row in dy.chunks(g.d_out) {
            for (s, v) in out.iter_mut().zip(&row[lo..]) {
                *s += v;
            }
        }
    };
    let blocks = pass_blocks(dy.len()).min(g.d_out);
    if blocks == 1 {
        sum(0, &mut db);
    } else {
        let cols = g.d_out.div_ceil(blocks);
        db.par_chunks_mut(cols)
            .enumerate()
            .for_each(|(i, out)| sum(i * cols, out));
    }
    db
}

/// Burn's backend extension: a fully connected layer (`f32`) with a bias, whose backward
/// pass is the one in this module.
#[backend_extension(Flex, Autodiff)]
pub trait LinearKernels: Backend {
    /// `x·weight + bias` for a 2-d `x` `[rows, d_in]`, `weight` `[d_in, d_out]`.
    fn shrink_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

fn geometry(x: &FlexTensor, weight: &FlexTensor) -> LinearGeometry {
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    assert!(
        xs.num_dims() == 2 && ws.num_dims() == 2 && xs[1] == ws[0],
        "linear: input {xs:?} and weight {ws:?} do not fit"
    );
    LinearGeometry {
        rows: xs[0],
        d_in: xs[1],
        d_out: ws[1],
    }
}

fn flex_forward(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> FlexTensor {
    let g = geometry(x, weight);
    let y = forward(&contiguous(x), &contiguous(weight), &contiguous(bias), &g);
    tensor(y, [g.rows, g.d_out])
}

impl LinearKernels for Flex {
    fn shrink_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        flex_forward(&x, &weight, &bias)
    }
}

/// What the backward pass keeps: the input (for the weight gradient) and the weight (for
/// the input gradient), each only when that gradient is wanted.
#[derive(Clone)]
struct LinearState {
    x: Option<FlexTensor>,
    weight: Option<FlexTensor>,
    geometry: LinearGeometry,
}

impl std::fmt::Debug for LinearState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinearState")
            .field("geometry", &self.geometry)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 3> for LinearBackward {
    type State = LinearState;

    fn backward(self, ops: Ops<LinearState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let dy = contiguous(&dy);
        let LinearState {
            x,
            weight,
            geometry: g,
        } = ops.state;
        if let (Some(node), Some(weight)) = (node_x, weight) {
            let dx = input_grad(&dy, &contiguous(&weight), &g);
            grads.register::<Flex>(node.id, tensor(dx, [g.rows, g.d_in]));
        }
        if let (Some(node), Some(x)) = (node_w, x) {
            let dw = weight_grad(&contiguous(&x), &dy, &g);
            grads.register::<Flex>(node.id, tensor(dw, [g.d_in, g.d_out]));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, tensor(bias_grad(&dy, &g), [g.d_out]));
        }
    }
}

impl<C: CheckpointStrategy> LinearKernels for Autodiff<Flex, C> {
    fn shrink_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x_tracked, w_tracked) = (x.is_tracked(), weight.is_tracked());
        match LinearBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = flex_forward(x.primitive(), weight.primitive(), bias.primitive());
                let state = LinearState {
                    x: w_tracked.then(|| x.primitive().clone()),
                    weight: x_tracked.then(|| weight.primitive().clone()),
                    geometry: geometry(x.primitive(), weight.primitive()),
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.primitive(),
                weight.primitive(),
                bias.primitive(),
            )),
        }
    }
}
