//! A 2-D convolution for Burn's Flex backend with its own backward pass: im2col once in
//! the forward pass (kept for the backward), the forward as one gemm per example written
//! straight into NCHW, the weight gradient as one gemm over the whole batch
//! (`dY · colᵀ`), the input gradient as `Wᵀ · dY` per example followed by col2im.
//!
//! Burn's generic path does the weight gradient as a convolution whose kernel is the
//! output gradient (two dim swaps, contiguous copies, and for a one-channel input a
//! parallel loop with a single item); this one is a plain gemm (crates/shrink/PERF.md).
//!
//! Every sum runs in an order fixed by the shapes alone, never by the number of threads:
//! parallel loops split over independent outputs (examples, rows), and the one gemm over
//! the batch splits its output blocks, not its reduction. Same inputs → same bits at any
//! `RAYON_NUM_THREADS`.
//!
//! Reached through Burn's backend-extension mechanism ([`ConvKernels`], implemented for
//! `Flex` and for `Autodiff<Flex>` with a hand-written [`Backward`]).
//!
//! Not here: the choice between this kernel and Burn's own op (the parent module), the
//! model (`model`).

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::flex::FlexTensor;
use burn::backend::{backend_extension, tensor::FloatTensor, Backend, Flex};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Shape, TensorData};
use rayon::prelude::*;
use std::sync::Arc;

use super::linear::{gemm_split_strided, Operand};

/// Shapes and options of one convolution, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub cin: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub cout: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Channel groups.
    pub groups: usize,
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Padding before (top, left).
    pub pad: [usize; 2],
    /// Dilation (height, width).
    pub dilation: [usize; 2],
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl Geometry {
    /// The geometry of `conv2d(x, weight)` with `options`, or `None` when the shapes do
    /// not fit together or the output would be empty.
    pub fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Option<Self> {
        let [n, cin, h, w] = x;
        let [cout, cin_g, kh, kw] = weight;
        let groups = options.groups;
        if groups == 0 || cin_g * groups != cin || !cout.is_multiple_of(groups) || cout == 0 {
            return None;
        }
        let out = |len: usize, (before, after): (usize, usize), k: usize, s: usize, d: usize| {
            let padded = len.checked_add(before)?.checked_add(after)?;
            let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
            (padded >= span && s > 0).then(|| (padded - span) / s + 1)
        };
        let oh = out(
            h,
            options.padding[0],
            kh,
            options.stride[0],
            options.dilation[0],
        )?;
        let ow = out(
            w,
            options.padding[1],
            kw,
            options.stride[1],
            options.dilation[1],
        )?;
        (n > 0 && oh > 0 && ow > 0).then_some(Self {
            n,
            cin,
            h,
            w,
            cout,
            kh,
            kw,
            groups,
            stride: options.stride,
            pad: [options.padding[0].0, options.padding[1].0],
            dilation: options.dilation,
            oh,
            ow,
        })
    }

    /// Output pixels per channel.
    fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// Rows of the im2col matrix (all groups).
    fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }
    /// Rows of the im2col matrix per group (columns of the weight matrix).
    fn kg(&self) -> usize {
        self.k() / self.groups
    }
    /// Output channels per group.
    fn cog(&self) -> usize {
        self.cout / self.groups
    }

    /// For kernel row `i` (column `j`), the input row (column) of output row `o`, if inside.
    fn src(&self, axis: usize, o: usize, i: usize) -> Option<usize> {
        let len = [self.h, self.w][axis];
        let at = (o * self.stride[axis] + i * self.dilation[axis]).checked_sub(self.pad[axis])?;
        (at < len).then_some(at)
    }

    /// Whether every kernel tap at every output pixel reads inside the input (no
    /// padding is ever read): then im2col writes every place of its matrix.
    fn reads_inside_only(&self) -> bool {
        (0..self.kh).all(|i| (0..self.oh).all(|y| self.src(0, y, i).is_some()))
            && (0..self.kw).all(|j| self.valid_cols(j) == (0, self.ow))
    }

    /// The output columns `lo..hi` whose input column (for kernel column `j`) is inside.
    fn valid_cols(&self, j: usize) -> (usize, usize) {
        let lo = (0..self.ow)
            .find(|&o| self.src(1, o, j).is_some())
            .unwrap_or(self.ow);
        let hi = (lo..self.ow)
            .rev()
            .find(|&o| self.src(1, o, j).is_some())
            .map_or(lo, |o| o + 1);
        (lo, hi)
    }
}

/// The im2col matrix `[cin·kh·kw, n·oh·ow]` of `x` (NCHW, contiguous): row
/// `(c·kh + i)·kw + j`, column `b·oh·ow + y·ow + x` holds the input pixel that kernel tap
/// `(i, j)` of channel `c` sees at output pixel `(y, x)` of example `b` (0 in the padding).
pub fn im2col(x: &[f32], g: &Geometry) -> Vec<f32> {
    let np = g.n * g.p();
    let mut col = vec![0.0f32; g.k() * np];
    // SAFETY: col holds k rows of n·p columns.
    unsafe { im2col_examples(x, g, 0..g.n, col.as_mut_ptr(), np) };
    col
}

/// The columns of examples `examples` of the im2col matrix, written at `out` (row
/// stride `stride`, column 0 = the first example's first pixel); positions in the
/// padding are left as they are (zero in a zeroed buffer).
///
/// # Safety
/// `out` must be valid for writes at `row·stride + c` for every row `< cin·kh·kw` and
/// column `c < examples.len()·oh·ow`, and nothing else may access those places meanwhile.
unsafe fn im2col_examples(
    x: &[f32],
    g: &Geometry,
    examples: std::ops::Range<usize>,
    out: *mut f32,
    stride: usize,
) {
    let (p, plane) = (g.p(), g.h * g.w);
    let first_b = examples.start;
    for row in 0..g.k() {
        let (c, i, j) = (row / (g.kh * g.kw), (row / g.kw) % g.kh, row % g.kw);
        let (lo, hi) = g.valid_cols(j);
        if lo >= hi {
            continue;
        }
        let first = lo * g.stride[1] + j * g.dilation[1] - g.pad[1];
        for b in examples.clone() {
            let src = &x[(b * g.cin + c) * plane..][..plane];
            for y in 0..g.oh {
                let Some(ih) = g.src(0, y, i) else { continue };
                // SAFETY: one output row of example b inside row `row` (caller's bounds).
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(
                        out.add(row * stride + (b - first_b) * p + y * g.ow),
                        g.ow,
                    )
                };
                let line = &src[ih * g.w..][..g.w];
                if g.stride[1] == 1 {
                    dst[lo..hi].copy_from_slice(&line[first..first + (hi - lo)]);
                } else {
                    for (k, d) in dst[lo..hi].iter_mut().enumerate() {
                        *d = line[first + k * g.stride[1]];
                    }
                }
            }
        }
    }
}

/// Examples per tile of the forward pass: the tile's im2col block (`cin·kh·kw` rows of
/// `tile·oh·ow`) about 1 MB, so that the gemm reads it back from the cache it was
/// written to (LeNet-5's conv2 at batch 256 has a 33 MB im2col matrix).
fn tile_examples(g: &Geometry) -> usize {
    ((1usize << 18) / (g.k() * g.p()).max(1)).clamp(1, g.n)
}

/// Add the im2col-shaped `dcol` (`[cin·kh·kw, oh·ow]`, one example) back onto the input
/// gradient `dx` (`[cin, h, w]`) of that example: the adjoint of [`im2col`].
fn col2im_add(dcol: &[f32], dx: &mut [f32], g: &Geometry) {
    let (p, plane) = (g.p(), g.h * g.w);
    for row in 0..g.k() {
        let (c, i, j) = (row / (g.kh * g.kw), (row / g.kw) % g.kh, row % g.kw);
        let (lo, hi) = g.valid_cols(j);
        if lo >= hi {
            continue;
        }
        let dst = &mut dx[c * plane..][..plane];
        let src = &dcol[row * p..][..p];
        for y in 0..g.oh {
            let Some(ih) = g.src(0, y, i) else { continue };
            let first = lo * g.stride[1] + j * g.dilation[1] - g.pad[1];
            let line = &mut dst[ih * g.w..][..g.w];
            let run = &src[y * g.ow + lo..y * g.ow + hi];
            if g.stride[1] == 1 {
                // Contiguous on both sides: one vectorised add (the same sums).
                for (d, v) in line[first..first + run.len()].iter_mut().zip(run) {
                    *d += v;
                }
            } else {
                for (k, v) in run.iter().enumerate() {
                    line[first + k * g.stride[1]] += v;
                }
            }
        }
    }
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`, each given by its pointer and (row, column)
/// strides in elements.
///
/// # Safety
/// Every index `r·rs + c·cs` inside the three matrices must be in bounds of the slices the
/// pointers come from, and `dst` must not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): (usize, usize),
    accumulate: bool,
    lhs: *const f32,
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: *const f32,
    (rhs_rs, rhs_cs): (usize, usize),
    par: gemm::Parallelism,
) {
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// The forward pass: `y` (`[n, cout, oh, ow]`) of `x` (`[n, cin, h, w]`), `weight`
/// (`[cout, cin/groups, kh, kw]`) and `bias` (`[cout]`), with the im2col matrix that the
/// backward pass needs when `keep_col` (else an empty one).
///
/// Tiles of [`tile_examples`] examples run in parallel, each writing its im2col columns
/// (into the kept matrix, or a buffer of the thread's own) and at once the gemm of each
/// of its examples; every output is one gemm sum, the same at any tiling and thread count.
pub fn forward(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    g: &Geometry,
    keep_col: bool,
) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), g.n * g.cin * g.h * g.w, "conv2d: input length");
    assert_eq!(weight.len(), g.cout * g.kg(), "conv2d: weight length");
    assert_eq!(bias.len(), g.cout, "conv2d: bias length");
    let (p, np, kg, cog) = (g.p(), g.n * g.p(), g.kg(), g.cog());
    let tile = tile_examples(g);
    // Zeros only where padding is read; otherwise im2col writes every place.
    let inside = g.reads_inside_only();
    let mut col: Vec<f32> = match (keep_col, inside) {
        (false, _) => Vec::new(),
        (true, true) => Vec::with_capacity(g.k() * np),
        (true, false) => vec![0.0f32; g.k() * np],
    };
    let kept = SharedCol(col.as_mut_ptr());
    let mut y = vec![0.0f32; g.n * g.cout * p];
    y.par_chunks_mut(tile * g.cout * p)
        .enumerate()
        .for_each_init(
            || {
                if keep_col {
                    Vec::new()
                } else {
                    vec![0.0f32; g.k() * tile * p]
                }
            },
            |own, (t, yt)| {
                let b0 = t * tile;
                let count = yt.len() / (g.cout * p);
                // The tile's im2col block: columns b0·p.. of the kept matrix (row stride
                // n·p), or the thread's buffer (row stride tile·p).
                let (block, stride): (*mut f32, usize) = if keep_col {
                    // SAFETY: column b0·p of row 0 is inside the kept k × n·p matrix.
                    (unsafe { kept.at(b0 * p) }, np)
                } else {
                    // Padding positions must read 0: clear what the last tile left.
                    if !inside {
                        own.fill(0.0);
                    }
                    (own.as_mut_ptr(), tile * p)
                };
                // SAFETY: the block has k rows of at least count·p columns (stride
                // `stride`); this tile alone writes them (its own columns of the kept
                // matrix, or its thread's buffer), and reads them only below.
                unsafe { im2col_examples(x, g, b0..b0 + count, block, stride) };
                for (e, yb) in yt.chunks_mut(g.cout * p).enumerate() {
                    for (co, row) in yb.chunks_mut(p).enumerate() {
                        row.fill(bias[co]);
                    }
                    for gi in 0..g.groups {
                        // SAFETY: y_b's rows gi·cog.. (stride p), the weight rows of group
                        // gi (stride kg) and the block's rows of group gi at example e's
                        // columns (row stride `stride`) are all inside their slices; y
                        // is not aliased.
                        unsafe {
                            matmul(
                                (cog, p, kg),
                                yb.as_mut_ptr().add(gi * cog * p),
                                (p, 1),
                                true,
                                weight.as_ptr().add(gi * cog * kg),
                                (kg, 1),
                                block.add(gi * kg * stride + e * p),
                                (stride, 1),
                                gemm::Parallelism::None,
                            )
                        }
                    }
                }
            },
        );
    if keep_col && inside {
        // SAFETY: the tiles wrote every one of the k × n·p places (`reads_inside_only`:
        // each row's columns for every example and output pixel).
        unsafe { col.set_len(g.k() * np) };
    }
    (y, col)
}

/// The kept im2col matrix, written by the forward pass's tiles in disjoint columns.
#[derive(Clone, Copy)]
struct SharedCol(*mut f32);

impl SharedCol {
    /// The element `offset` places in.
    ///
    /// # Safety
    /// `offset` must be inside the matrix.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}
// SAFETY: the tiles write disjoint columns (see `forward`).
unsafe impl Send for SharedCol {}
unsafe impl Sync for SharedCol {}

/// The gradients of the weight (`[cout, cin/groups, kh, kw]`) and the bias (`[cout]`)
/// from the output gradient `dy` (`[n, cout, oh, ow]`) and the forward pass's im2col.
pub fn weight_bias_grad(dy: &[f32], col: &[f32], g: &Geometry) -> (Vec<f32>, Vec<f32>) {
    let (p, np, kg, cog) = (g.p(), g.n * g.p(), g.kg(), g.cog());
    assert_eq!(dy.len(), g.cout * np, "conv2d: output gradient length");
    assert_eq!(col.len(), g.k() * np, "conv2d: im2col length");
    // dy as [cout, n·p]: one gemm over the whole batch instead of one per example.
    let mut dyt = vec![0.0f32; g.cout * np];
    dyt.par_chunks_mut(np).enumerate().for_each(|(co, row)| {
        for b in 0..g.n {
            row[b * p..][..p].copy_from_slice(&dy[(b * g.cout + co) * p..][..p]);
        }
    });
    let db = dyt
        .par_chunks(np)
        .map(|row| row.iter().map(|&v| v as f64).sum::<f64>() as f32)
        .collect();
    // dW computed column-major (`[kg, cout]`): gemm then packs the small `dy` operand
    // instead of the whole im2col matrix, whose rows run along the reduction.
    let mut dwt = vec![0.0f32; kg * g.cout];
    for gi in 0..g.groups {
        // dwt columns gi·cog.. (row stride 1, column stride cout) = dyt rows gi·cog..
        // (stride n·p) times the im2col rows of group gi read transposed (k index =
        // column, stride 1; n index = row, stride n·p). Split once over the threads
        // (`linear::gemm_split_strided`) rather than by gemm's own rayon mode.
        gemm_split_strided(
            (cog, kg, np),
            &mut dwt[gi * cog..],
            (1, g.cout),
            Operand::new(&dyt[gi * cog * np..], np, 1),
            Operand::new(&col[gi * kg * np..], 1, np),
        );
    }
    let mut dw = vec![0.0f32; g.cout * kg];
    for (co, row) in dw.chunks_mut(kg).enumerate() {
        for (kk, v) in row.iter_mut().enumerate() {
            *v = dwt[kk * g.cout + co];
        }
    }
    (dw, db)
}

/// The gradient of the input (`[n, cin, h, w]`) from the output gradient `dy` and the
/// weight.
pub fn input_grad(dy: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    let (p, kg, cog) = (g.p(), g.kg(), g.cog());
    assert_eq!(dy.len(), g.n * g.cout * p, "conv2d: output gradient length");
    assert_eq!(weight.len(), g.cout * kg, "conv2d: weight length");
    let mut dx = vec![0.0f32; g.n * g.cin * g.h * g.w];
    dx.par_chunks_mut(g.cin * g.h * g.w)
        .enumerate()
        .for_each_init(
            || vec![0.0f32; g.k() * p],
            |dcol, (b, dxb)| {
                let dyb = &dy[b * g.cout * p..][..g.cout * p];
                for gi in 0..g.groups {
                    // SAFETY: dcol rows gi·kg.. (stride p), the weight of group gi read
                    // transposed (row kk = column of the weight, stride 1; column co =
                    // weight row, stride kg) and dy_b rows gi·cog.. (stride p) are inside
                    // their slices; dcol is this closure's own buffer.
                    unsafe {
                        matmul(
                            (kg, p, cog),
                            dcol.as_mut_ptr().add(gi * kg * p),
                            (p, 1),
                            false,
                            weight.as_ptr().add(gi * cog * kg),
                            (1, kg),
                            dyb.as_ptr().add(gi * cog * p),
                            (p, 1),
                            gemm::Parallelism::None,
                        )
                    }
                }
                col2im_add(dcol, dxb, g);
            },
        );
    dx
}

/// Burn's backend extension: a 2-D convolution (NCHW, `f32`) with a bias, whose backward
/// pass is the one in this module.
#[backend_extension(Flex, Autodiff)]
pub trait ConvKernels: Backend {
    /// `conv2d(x, weight) + bias`; `bias` has one value per output channel.
    fn shrink_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

/// The values of a Flex tensor as a contiguous `f32` slice (copied only when it is a
/// strided view).
pub(super) fn contiguous(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().unwrap().to_vec()),
    }
}

pub(super) fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    assert_eq!(s.num_dims(), 4, "conv2d: expected a 4-d tensor, got {s:?}");
    [s[0], s[1], s[2], s[3]]
}

pub(super) fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// Forward on Flex tensors; the im2col matrix too when `keep_col` (else empty).
fn flex_forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    options: &ConvOptions<2>,
    keep_col: bool,
) -> (FlexTensor, Vec<f32>, Geometry) {
    let g = Geometry::new(dims4(x), dims4(weight), options)
        .unwrap_or_else(|| panic!("conv2d: input {x:?} and weight {weight:?} do not fit"));
    let (y, col) = forward(
        &contiguous(x),
        &contiguous(weight),
        &contiguous(bias),
        &g,
        keep_col,
    );
    (tensor(y, [g.n, g.cout, g.oh, g.ow]), col, g)
}

impl ConvKernels for Flex {
    fn shrink_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        flex_forward(&x, &weight, &bias, &options, false).0
    }
}

/// What the backward pass keeps from the forward pass.
#[derive(Clone)]
struct ConvState {
    col: Arc<Vec<f32>>,
    weight: FlexTensor,
    geometry: Geometry,
}

impl std::fmt::Debug for ConvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvState")
            .field("geometry", &self.geometry)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let dy = contiguous(&dy);
        let ConvState {
            col,
            weight,
            geometry: g,
        } = ops.state;
        if node_w.is_some() || node_b.is_some() {
            let (dw, db) = weight_bias_grad(&dy, &col, &g);
            if let Some(node) = node_w {
                grads.register::<Flex>(node.id, tensor(dw, [g.cout, g.cin / g.groups, g.kh, g.kw]));
            }
            if let Some(node) = node_b {
                grads.register::<Flex>(node.id, tensor(db, [g.cout]));
            }
        }
        drop(col);
        if let Some(node) = node_x {
            let dx = input_grad(&dy, &contiguous(&weight), &g);
            grads.register::<Flex>(node.id, tensor(dx, [g.n, g.cin, g.h, g.w]));
        }
    }
}

impl<C: CheckpointStrategy> ConvKernels for Autodiff<Flex, C> {
    fn shrink_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, col, geometry) = flex_forward(
                    x.primitive(),
                    weight.primitive(),
                    bias.primitive(),
                    &options,
                    true,
                );
                let state = ConvState {
                    col: Arc::new(col),
                    weight: weight.primitive().clone(),
                    geometry,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(
                flex_forward(
                    x.primitive(),
                    weight.primitive(),
                    bias.primitive(),
                    &options,
                    false,
                )
                .0,
            ),
        }
    }
}
