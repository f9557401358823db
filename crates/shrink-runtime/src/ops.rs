//! Running the nodes of a plan on a batch.
//!
//! Layout: one batch of activations is `[values of one example][batch]` row-major —
//! `[C][H][W][B]` for images, `[F][B]` for flat features — so the batch is the
//! innermost, contiguous index. Every per-position loop below (pooling, im2col copies,
//! normalisation) then runs over `B` contiguous floats, flattening moves nothing, and a
//! channel concatenation is an append. Shapes follow Burn's layers in
//! `crates/shrink-core/src/model/mod.rs` value for value (to float rounding).

use crate::math;
use crate::plan::{Affine, ConvGeom, ConvTGeom, Node, PadGeom, PoolGeom};
use crate::prelude::*;
use crate::sparse::Kernels;
use core::ops::Range;

/// What a forward pass needs besides the nodes: scratch buffers and kernel settings.
pub(crate) struct Ctx<'a> {
    /// Scratch vectors, reused call after call (a stack: the order of takes is the same
    /// in every pass, so after the first pass nothing grows).
    pub pool: &'a mut Vec<Vec<f32>>,
    pub kernels: Kernels,
    pub threads: usize,
}

impl Ctx<'_> {
    /// A buffer of `len` values whose contents are unspecified (callers overwrite it).
    pub fn take(&mut self, len: usize) -> Vec<f32> {
        let mut v = self.pool.pop().unwrap_or_default();
        if v.len() < len {
            v.resize(len, 0.0);
        } else {
            v.truncate(len);
        }
        v
    }

    pub fn give(&mut self, v: Vec<f32>) {
        self.pool.push(v);
    }

    /// Replace `x` by a fresh buffer of `len` values computed by `f(x, y)`.
    fn map_into(
        &mut self,
        x: &mut Vec<f32>,
        len: usize,
        f: impl FnOnce(&[f32], &mut [f32], &mut Self),
    ) {
        let mut y = self.take(len);
        f(x, &mut y, self);
        core::mem::swap(x, &mut y);
        self.give(y);
    }
}

/// Run `nodes` on `x` (`b` examples), leaving the result in `x`.
pub(crate) fn run_list(nodes: &[Node], x: &mut Vec<f32>, b: usize, ctx: &mut Ctx<'_>) {
    let mut i = 0;
    while let Some(node) = nodes.get(i) {
        // A stride-1 convolution (and the pooling after it) by the direct path.
        i += crate::conv::try_run(node, nodes.get(i + 1), x, b, ctx).unwrap_or_else(|| {
            run(node, x, b, ctx);
            1
        });
    }
}

fn run(node: &Node, x: &mut Vec<f32>, b: usize, ctx: &mut Ctx<'_>) {
    match node {
        Node::Affine { a, plane } => {
            let n = plane * b;
            ctx.map_into(x, a.w.rows() * n, |x, y, ctx| {
                a.w.mul(x, n, a.bias.as_deref(), y, ctx.kernels, ctx.threads)
            });
        }
        Node::Bottleneck { u, v } => {
            // [in][b] → [k][b] → [out][b]
            for a in [u, v] {
                ctx.map_into(x, a.w.rows() * b, |x, y, ctx| {
                    a.w.mul(x, b, a.bias.as_deref(), y, ctx.kernels, ctx.threads)
                });
            }
        }
        Node::Conv { a, g, .. } => {
            let n = g.oh * g.ow * b;
            let mut cols = ctx.take(g.c * g.k * g.k * n);
            im2col(x, g, b, 0..g.oh, &mut cols);
            ctx.map_into(x, a.w.rows() * n, |_, y, ctx| {
                a.w.mul(&cols, n, a.bias.as_deref(), y, ctx.kernels, ctx.threads)
            });
            ctx.give(cols);
        }
        Node::ConvT { a, g } => {
            let n = g.h * g.w * b;
            let mut cols = ctx.take(a.w.rows() * n);
            a.w.mul(x, n, None, &mut cols, ctx.kernels, ctx.threads);
            ctx.map_into(x, g.o * g.oh * g.ow * b, |_, y, _| {
                col2im(&cols, g, a.bias.as_deref(), b, y)
            });
            ctx.give(cols);
        }
        Node::MaxPool(g) => ctx.map_into(x, g.c * g.oh * g.ow * b, |x, y, _| max_pool(x, g, b, y)),
        Node::AvgPool(g) => ctx.map_into(x, g.c * g.oh * g.ow * b, |x, y, _| avg_pool(x, g, b, y)),
        Node::AvgPoolValid(g) => ctx.map_into(x, g.c * g.oh * g.ow * b, |x, y, _| {
            avg_pool_valid(x, g, b, y)
        }),
        Node::Pad(g) => ctx.map_into(x, g.c * g.oh * g.ow * b, |x, y, _| pad(x, g, b, y)),
        Node::Grouped {
            parts,
            in_len,
            out_len,
        } => {
            let (n_in, n_out) = (in_len * b, out_len * b);
            let mut out = ctx.take(parts.len() * n_out);
            for (j, part) in parts.iter().enumerate() {
                let mut t = ctx.take(n_in);
                t.copy_from_slice(&x[j * n_in..][..n_in]);
                run(part, &mut t, b, ctx);
                out[j * n_out..][..n_out].copy_from_slice(&t);
                ctx.give(t);
            }
            core::mem::swap(x, &mut out);
            ctx.give(out);
        }
        Node::GlobalAvgPool { c, plane } => {
            ctx.map_into(x, c * b, |x, y, _| global_avg_pool(x, *plane, b, y))
        }
        Node::LayerNorm { .. } => {
            let mut stats = ctx.take(2 * b);
            in_place(node, x, b, &mut stats);
            ctx.give(stats);
        }
        Node::Maxout {
            groups,
            pieces,
            plane,
        } => ctx.map_into(x, groups * plane * b, |x, y, _| {
            maxout(x, *pieces, plane * b, y)
        }),
        Node::Residual { body, shortcut } => {
            let mut s = ctx.take(x.len());
            s.copy_from_slice(x);
            run_list(body, x, b, ctx);
            run_list(shortcut, &mut s, b, ctx);
            add_into(x, &s);
            ctx.give(s);
        }
        Node::Highway { body, gate, plane } => {
            let mut orig = ctx.take(x.len());
            orig.copy_from_slice(x);
            run_list(body, x, b, ctx);
            let mut t = ctx.take(x.len());
            gate.w.mul(
                &orig,
                plane * b,
                gate.bias.as_deref(),
                &mut t,
                ctx.kernels,
                ctx.threads,
            );
            for ((v, &t), &o) in x.iter_mut().zip(&t).zip(&orig) {
                let t = sigmoid(t);
                *v = t * *v + (1.0 - t) * o;
            }
            ctx.give(t);
            ctx.give(orig);
        }
        Node::Inception { branches } => {
            let mut out = ctx.take(0);
            for br in branches {
                let mut t = ctx.take(x.len());
                t.copy_from_slice(x);
                run_list(br, &mut t, b, ctx);
                out.extend_from_slice(&t);
                ctx.give(t);
            }
            core::mem::swap(x, &mut out);
            ctx.give(out);
        }
        // Elementwise and per-channel layers.
        _ => {
            in_place(node, x, b, &mut []);
        }
    }
}

/// Run a node that works in place on `x` (activations, per-channel affine, layer norm
/// with `stats` of `2·b` values); returns false, touching nothing, for any other node.
fn in_place(node: &Node, x: &mut [f32], b: usize, stats: &mut [f32]) -> bool {
    match node {
        Node::ChannelAffine {
            scale,
            shift,
            plane,
        } => {
            for (ch, block) in x.chunks_exact_mut(plane * b).enumerate() {
                let (s, t) = (scale[ch], shift[ch]);
                block.iter_mut().for_each(|v| *v = *v * s + t);
            }
        }
        Node::LayerNorm { eps, gamma, beta } => layer_norm(x, b, *eps, gamma, beta, stats),
        Node::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        Node::LeakyRelu(s) => x.iter_mut().for_each(|v| {
            if *v < 0.0 {
                *v *= s
            }
        }),
        Node::Prelu { slope, plane } => {
            for (ch, block) in x.chunks_exact_mut(plane * b).enumerate() {
                let s = slope[ch];
                block.iter_mut().for_each(|v| {
                    if *v < 0.0 {
                        *v *= s
                    }
                });
            }
        }
        Node::Elu(alpha) => x.iter_mut().for_each(|v| {
            if *v <= 0.0 {
                *v = alpha * (math::exp(*v) - 1.0)
            }
        }),
        Node::Sigmoid => x.iter_mut().for_each(|v| *v = sigmoid(*v)),
        Node::Tanh => x.iter_mut().for_each(|v| *v = math::tanh(*v)),
        Node::Clip { min, max } => x.iter_mut().for_each(|v| *v = v.max(*min).min(*max)),
        Node::HardSigmoid { alpha, beta } => x
            .iter_mut()
            .for_each(|v| *v = (*alpha * *v + *beta).clamp(0.0, 1.0)),
        Node::HardSwish => x
            .iter_mut()
            .for_each(|v| *v *= (*v / 6.0 + 0.5).clamp(0.0, 1.0)),
        _ => return false,
    }
    true
}

/// Mean over each channel's `plane` positions: `[C][plane][b]` → `[C][b]`.
fn global_avg_pool(x: &[f32], plane: usize, b: usize, y: &mut [f32]) {
    y.fill(0.0);
    for (ch, out) in y.chunks_exact_mut(b).enumerate() {
        for p in x[ch * plane * b..(ch + 1) * plane * b].chunks_exact(b) {
            add_into(out, p);
        }
        let inv = plane as f32;
        out.iter_mut().for_each(|v| *v /= inv);
    }
}

/// Max over each group of `pieces` consecutive blocks of `block` values.
fn maxout(x: &[f32], pieces: usize, block: usize, y: &mut [f32]) {
    for (g, out) in y.chunks_exact_mut(block).enumerate() {
        let first = g * pieces;
        out.copy_from_slice(&x[first * block..(first + 1) * block]);
        for q in 1..pieces {
            let src = &x[(first + q) * block..(first + q + 1) * block];
            out.iter_mut().zip(src).for_each(|(o, s)| *o = o.max(*s));
        }
    }
}

// ---------------------------------------------------------------------------------
// The pass in one caller-provided buffer (`Model::forward_in`): no allocation.
//
// The buffer is used from both ends: a layer reads its input at one end and writes its
// output at the other, its scratch next to its input; the next layer goes the other
// way. So the working memory is the largest `input + scratch + output` of any layer.
// Convolutions run one output row at a time (im2col columns for one row, not for the
// whole image), which keeps their scratch small; a convolution followed by a pooling
// layer whose windows tile its output (no padding, stride = kernel, as in LeNet-5) pools
// each row as it comes, so the convolution's full output never exists.

/// One step of the one-buffer pass: a node, or a convolution and the pooling after it.
pub(crate) enum Step<'a> {
    Node(&'a Node),
    ConvPool {
        a: &'a Affine,
        g: &'a ConvGeom,
        pool: &'a PoolGeom,
        max: bool,
    },
}

/// The steps of the one-buffer pass over `nodes`.
pub(crate) fn steps(nodes: &[Node]) -> impl Iterator<Item = Step<'_>> {
    let mut i = 0;
    core::iter::from_fn(move || {
        let node = nodes.get(i)?;
        i += 1;
        if let (Node::Conv { a, g, .. }, Some(next @ (Node::MaxPool(pool) | Node::AvgPool(pool)))) =
            (node, nodes.get(i))
        {
            if pool.pad == 0 && pool.stride == pool.k {
                i += 1;
                let max = matches!(next, Node::MaxPool(_));
                return Some(Step::ConvPool { a, g, pool, max });
            }
        }
        Some(Step::Node(node))
    })
}

/// What one step needs in the one-buffer pass, in values: its output (0 when it works
/// in place) and its scratch.
pub(crate) struct StepMemory {
    pub out: usize,
    pub scratch: usize,
}

/// [`StepMemory`] of `step` for `b` examples; `None` for blocks (residual, highway,
/// inception), which only [`Model::forward`] runs, or when a count overflows.
///
/// [`Model::forward`]: crate::Model::forward
pub(crate) fn step_memory(step: &Step<'_>, b: usize) -> Option<StepMemory> {
    let mul = |f: &[usize]| f.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let node = match step {
        Step::Node(node) => node,
        Step::ConvPool { a, g, pool, .. } => {
            // One convolution row's im2col columns and product; the pooled output.
            let row = mul(&[g.ow, b])?;
            let cols = mul(&[g.c, g.k, g.k, row])?;
            return Some(StepMemory {
                out: mul(&[pool.c, pool.oh, pool.ow, b])?,
                scratch: cols.checked_add(mul(&[a.w.rows(), row])?)?,
            });
        }
    };
    let (out, scratch) = match node {
        Node::Affine { a, plane } => (mul(&[a.w.rows(), *plane, b])?, 0),
        Node::Bottleneck { u, v } => (mul(&[v.w.rows(), b])?, mul(&[u.w.rows(), b])?),
        Node::Conv { a, g, .. } => {
            // One output row: its im2col columns and its product.
            let row = mul(&[g.ow, b])?;
            let cols = mul(&[g.c, g.k, g.k, row])?;
            (
                mul(&[a.w.rows(), g.oh, row])?,
                cols.checked_add(mul(&[a.w.rows(), row])?)?,
            )
        }
        Node::ConvT { a, g } => (
            mul(&[g.o, g.oh, g.ow, b])?,
            mul(&[a.w.rows(), g.h, g.w, b])?,
        ),
        Node::MaxPool(g) | Node::AvgPool(g) | Node::AvgPoolValid(g) => {
            (mul(&[g.c, g.oh, g.ow, b])?, 0)
        }
        Node::Pad(g) => (mul(&[g.c, g.oh, g.ow, b])?, 0),
        Node::Grouped { parts, out_len, .. } => {
            // Each group writes its slice of the output; the scratch of one at a time.
            let mut scratch = 0;
            for part in parts {
                scratch = scratch.max(step_memory(&Step::Node(part), b)?.scratch);
            }
            (mul(&[parts.len(), *out_len, b])?, scratch)
        }
        Node::GlobalAvgPool { c, .. } => (mul(&[*c, b])?, 0),
        Node::Maxout { groups, plane, .. } => (mul(&[*groups, *plane, b])?, 0),
        Node::LayerNorm { .. } => (0, mul(&[2, b])?),
        Node::Residual { .. } | Node::Highway { .. } | Node::Inception { .. } => return None,
        _ => (0, 0),
    };
    Some(StepMemory { out, scratch })
}

/// Run a step that is not a block: input `x`, output `y` (empty for a node that works
/// in place, which then writes `x`), `scratch` as [`step_memory`] says.
pub(crate) fn run_in(
    step: &Step<'_>,
    x: &mut [f32],
    y: &mut [f32],
    scratch: &mut [f32],
    b: usize,
    kernels: Kernels,
) {
    let node = match step {
        Step::Node(node) => node,
        Step::ConvPool { a, g, pool, max } => {
            return conv_pool(a, g, pool, *max, x, y, scratch, b, kernels)
        }
    };
    match node {
        Node::Affine { a, plane } => a.w.mul(x, plane * b, a.bias.as_deref(), y, kernels, 1),
        Node::Bottleneck { u, v } => {
            u.w.mul(x, b, None, scratch, kernels, 1);
            v.w.mul(scratch, b, v.bias.as_deref(), y, kernels, 1);
        }
        Node::Conv { a, g, .. } => {
            let row = g.ow * b;
            let n = g.oh * row;
            let rows = a.w.rows();
            let (cols, prod) = scratch.split_at_mut(g.c * g.k * g.k * row);
            for oy in 0..g.oh {
                im2col(x, g, b, oy..oy + 1, cols);
                a.w.mul(cols, row, a.bias.as_deref(), prod, kernels, 1);
                for (r, src) in prod.chunks_exact(row).enumerate().take(rows) {
                    y[r * n + oy * row..][..row].copy_from_slice(src);
                }
            }
        }
        Node::ConvT { a, g } => {
            a.w.mul(x, g.h * g.w * b, None, scratch, kernels, 1);
            col2im(scratch, g, a.bias.as_deref(), b, y);
        }
        Node::MaxPool(g) => max_pool(x, g, b, y),
        Node::AvgPool(g) => avg_pool(x, g, b, y),
        Node::AvgPoolValid(g) => avg_pool_valid(x, g, b, y),
        Node::Pad(g) => pad(x, g, b, y),
        Node::Grouped {
            parts,
            in_len,
            out_len,
        } => {
            let (n_in, n_out) = (in_len * b, out_len * b);
            for (j, part) in parts.iter().enumerate() {
                run_in(
                    &Step::Node(part),
                    &mut x[j * n_in..][..n_in],
                    &mut y[j * n_out..][..n_out],
                    scratch,
                    b,
                    kernels,
                );
            }
        }
        Node::GlobalAvgPool { plane, .. } => global_avg_pool(x, *plane, b, y),
        Node::Maxout { pieces, plane, .. } => maxout(x, *pieces, plane * b, y),
        _ => {
            let done = in_place(node, x, b, scratch);
            debug_assert!(done, "blocks are refused before the pass");
        }
    }
}

/// A convolution and the pooling after it (windows that tile the output: no padding,
/// stride = kernel), one pooled row at a time: each convolution row is computed into
/// `scratch` and folded into its pooled row at once — the same comparisons (max) and
/// the same order of additions (average) as [`max_pool`] and [`avg_pool`].
#[allow(clippy::too_many_arguments)]
fn conv_pool(
    a: &Affine,
    g: &ConvGeom,
    pool: &PoolGeom,
    max: bool,
    x: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
    b: usize,
    kernels: Kernels,
) {
    let row = g.ow * b;
    let (cols, prod) = scratch.split_at_mut(g.c * g.k * g.k * row);
    let (k, prow) = (pool.k, pool.ow * b);
    let plane = pool.oh * prow;
    for py in 0..pool.oh {
        for ky in 0..k {
            let oy = py * k + ky;
            im2col(x, g, b, oy..oy + 1, cols);
            a.w.mul(cols, row, a.bias.as_deref(), prod, kernels, 1);
            for (ch, src) in prod.chunks_exact(row).enumerate() {
                let dst = &mut y[ch * plane + py * prow..][..prow];
                if ky == 0 {
                    dst.fill(if max { f32::NEG_INFINITY } else { 0.0 });
                }
                for (px, d) in dst.chunks_exact_mut(b).enumerate() {
                    for kx in 0..k {
                        let s = &src[(px * k + kx) * b..][..b];
                        if max {
                            d.iter_mut()
                                .zip(s)
                                .for_each(|(d, &s)| *d = if s > *d { s } else { *d });
                        } else {
                            add_into(d, s);
                        }
                    }
                }
            }
        }
        if !max {
            let count = (k * k) as f32;
            for ch in 0..pool.c {
                y[ch * plane + py * prow..][..prow]
                    .iter_mut()
                    .for_each(|v| *v /= count);
            }
        }
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + math::exp(-v))
}

/// Fill with zeros; most calls in im2col are empty (no padding), skip those cheaply.
fn zero(x: &mut [f32]) {
    if !x.is_empty() {
        x.fill(0.0);
    }
}

fn add_into(acc: &mut [f32], x: &[f32]) {
    acc.iter_mut().zip(x).for_each(|(a, v)| *a += v);
}

/// Range of output positions `o` (of `out_len`) whose input position
/// `o·stride + offset` lies in `0..in_len`.
fn valid_range(out_len: usize, in_len: usize, stride: usize, offset: isize) -> (usize, usize) {
    let (s, n) = (stride as isize, in_len as isize);
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + s - 1) / s
    };
    let hi = if n - offset <= 0 {
        0
    } else {
        (n - offset - 1) / s + 1
    };
    let hi = (hi as usize).min(out_len);
    (lo.min(hi as isize) as usize, hi)
}

/// `cols[(c, ky, kx)][(oy, ox, b)] = x[c][oy·s − p + ky·d][ox·s − p + kx·d][b]` for the
/// output rows `oys`, zero outside the input: the row order matches the weight's
/// `[out][in][kh][kw]` columns.
fn im2col(x: &[f32], g: &ConvGeom, b: usize, oys: Range<usize>, cols: &mut [f32]) {
    let run = g.ow * b;
    let n = oys.len() * run;
    for c in 0..g.c {
        for ky in 0..g.k {
            for kx in 0..g.k {
                let row = &mut cols[((c * g.k + ky) * g.k + kx) * n..][..n];
                let dx = (kx * g.dilation) as isize - g.pad as isize;
                let dy = (ky * g.dilation) as isize - g.pad as isize;
                let (ox0, ox1) = valid_range(g.ow, g.w, g.stride, dx);
                let (oy0, oy1) = valid_range(g.oh, g.h, g.stride, dy);
                let clamp = |oy: usize| oy.clamp(oys.start, oys.end);
                let (oy0, oy1) = (clamp(oy0), clamp(oy1));
                zero(&mut row[..(oy0 - oys.start) * run]);
                zero(&mut row[(oy1 - oys.start) * run..]);
                for oy in oy0..oy1 {
                    let iy = (oy * g.stride) as isize + dy;
                    let src = &x[(c * g.h + iy as usize) * g.w * b..][..g.w * b];
                    let dst = &mut row[(oy - oys.start) * run..][..run];
                    zero(&mut dst[..ox0 * b]);
                    zero(&mut dst[ox1 * b..]);
                    if g.stride == 1 {
                        let ix0 = (ox0 as isize + dx) as usize;
                        dst[ox0 * b..ox1 * b].copy_from_slice(&src[ix0 * b..(ix0 + ox1 - ox0) * b]);
                    } else {
                        for ox in ox0..ox1 {
                            let ix = ((ox * g.stride) as isize + dx) as usize;
                            dst[ox * b..(ox + 1) * b].copy_from_slice(&src[ix * b..(ix + 1) * b]);
                        }
                    }
                }
            }
        }
    }
}

/// `y[o][oy][ox] = bias[o] + Σ cols[(o, ky, kx)][(iy, ix)]` over `oy = iy·s − p + ky`,
/// `ox = ix·s − p + kx`: the scatter half of a transposed convolution.
fn col2im(cols: &[f32], g: &ConvTGeom, bias: Option<&[f32]>, b: usize, y: &mut [f32]) {
    let plane = g.oh * g.ow * b;
    let n = g.h * g.w * b;
    for o in 0..g.o {
        let out = &mut y[o * plane..(o + 1) * plane];
        out.fill(bias.map_or(0.0, |bias| bias[o]));
        for ky in 0..g.k {
            for kx in 0..g.k {
                let src = &cols[((o * g.k + ky) * g.k + kx) * n..][..n];
                let dy = ky as isize - g.pad as isize;
                let dx = kx as isize - g.pad as isize;
                for iy in 0..g.h {
                    let oy = (iy * g.stride) as isize + dy;
                    if oy < 0 || oy >= g.oh as isize {
                        continue;
                    }
                    for ix in 0..g.w {
                        let ox = (ix * g.stride) as isize + dx;
                        if ox < 0 || ox >= g.ow as isize {
                            continue;
                        }
                        let at = (oy as usize * g.ow + ox as usize) * b;
                        add_into(&mut out[at..at + b], &src[(iy * g.w + ix) * b..][..b]);
                    }
                }
            }
        }
    }
}

/// Calls `f(dst, src)` for every output position and each in-bounds position of its
/// window (`dst`, `src`: the `b` values of the batch).
fn pool_windows(
    x: &[f32],
    g: &PoolGeom,
    b: usize,
    y: &mut [f32],
    mut f: impl FnMut(&mut [f32], &[f32]),
) {
    let (out_row, in_row) = (g.ow * b, g.w * b);
    // The valid output columns of each kx, computed once; on the stack, since the
    // one-buffer pass (`run_in`) allocates nothing (kernels wider than 16 recompute).
    let range = |kx: usize| valid_range(g.ow, g.w, g.stride, kx as isize - g.pad as isize);
    let mut ranges = [(0, 0); 16];
    let cached = g.k <= ranges.len();
    if cached {
        for (kx, r) in ranges.iter_mut().enumerate().take(g.k) {
            *r = range(kx);
        }
    }
    for c in 0..g.c {
        for oy in 0..g.oh {
            let dst = &mut y[(c * g.oh + oy) * out_row..][..out_row];
            for ky in 0..g.k {
                let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                if iy < 0 || iy >= g.h as isize {
                    continue;
                }
                let src = &x[(c * g.h + iy as usize) * in_row..][..in_row];
                for kx in 0..g.k {
                    let (ox0, ox1) = match ranges.get(kx) {
                        Some(&r) if cached => r,
                        _ => range(kx),
                    };
                    for ox in ox0..ox1 {
                        let ix = ox * g.stride + kx - g.pad;
                        f(&mut dst[ox * b..(ox + 1) * b], &src[ix * b..(ix + 1) * b]);
                    }
                }
            }
        }
    }
}

/// Max over the window; padding never wins (it is −∞).
fn max_pool(x: &[f32], g: &PoolGeom, b: usize, y: &mut [f32]) {
    y.fill(f32::NEG_INFINITY);
    // A select rather than `f32::max` (NaN rules) or a conditional store: one `maxps`.
    pool_windows(x, g, b, y, |d, s| {
        d.iter_mut()
            .zip(s)
            .for_each(|(d, &s)| *d = if s > *d { s } else { *d })
    });
}

/// Mean over the window, padding counted as zeros (`count_include_pad`, Burn's and
/// PyTorch's default).
fn avg_pool(x: &[f32], g: &PoolGeom, b: usize, y: &mut [f32]) {
    y.fill(0.0);
    pool_windows(x, g, b, y, add_into);
    let count = (g.k * g.k) as f32;
    y.iter_mut().for_each(|v| *v /= count);
}

/// Mean over the window's positions inside the input (`count_include_pad = false`):
/// the sum as [`avg_pool`] makes it, divided by how many rows times columns of the
/// window fall inside.
fn avg_pool_valid(x: &[f32], g: &PoolGeom, b: usize, y: &mut [f32]) {
    y.fill(0.0);
    pool_windows(x, g, b, y, add_into);
    // Positions of a window (start `o·stride − pad`, `k` long) inside `0..len`.
    let inside = |o: usize, len: usize| {
        let start = (o * g.stride) as isize - g.pad as isize;
        let lo = start.max(0);
        let hi = (start + g.k as isize).min(len as isize);
        (hi - lo).max(1) as f32
    };
    for (i, out) in y.chunks_exact_mut(b).enumerate() {
        let (oy, ox) = ((i / g.ow) % g.oh, i % g.ow);
        let count = inside(oy, g.h) * inside(ox, g.w);
        out.iter_mut().for_each(|v| *v /= count);
    }
}

/// Padding: every output position `value`, then each input row copied to its place.
fn pad(x: &[f32], g: &PadGeom, b: usize, y: &mut [f32]) {
    y.fill(g.value);
    let (in_row, out_row) = (g.w * b, g.ow * b);
    for c in 0..g.c {
        for iy in 0..g.h {
            let src = &x[(c * g.h + iy) * in_row..][..in_row];
            let dst = &mut y[(c * g.oh + iy + g.top) * out_row + g.left * b..][..in_row];
            dst.copy_from_slice(src);
        }
    }
}

/// Layer norm over all values of each example: biased variance, `eps` inside the root.
fn layer_norm(x: &mut [f32], b: usize, eps: f32, gamma: &[f32], beta: &[f32], stats: &mut [f32]) {
    let len = gamma.len() as f32;
    let (mean, var) = stats[..2 * b].split_at_mut(b);
    mean.fill(0.0);
    var.fill(0.0);
    for row in x.chunks_exact(b) {
        add_into(mean, row);
    }
    mean.iter_mut().for_each(|m| *m /= len);
    for row in x.chunks_exact(b) {
        for ((v, &xi), &m) in var.iter_mut().zip(row).zip(mean.iter()) {
            *v += (xi - m) * (xi - m);
        }
    }
    // var becomes 1 / sqrt(var / len + eps).
    var.iter_mut()
        .for_each(|v| *v = 1.0 / math::sqrt(*v / len + eps));
    for ((row, &g), &bt) in x.chunks_exact_mut(b).zip(gamma).zip(beta) {
        for ((xi, &m), &r) in row.iter_mut().zip(mean.iter()).zip(var.iter()) {
            *xi = (*xi - m) * r * g + bt;
        }
    }
}
