//! Direct convolution: a stride-1 convolution computed from its (zero-padded) input as it
//! lies, without im2col, and the pooling layer after it folded in channel by channel.
//!
//! Activations are `[C][H][W][B]` (batch innermost, see `ops`). With stride 1, the
//! values an output row `oy` of channel `o` needs from input channel `c` at kernel tap
//! `(ky, kx)` are one contiguous run of the padded input: `OW·B` floats starting at row
//! `oy + ky·d`, column `kx·d`. So a kept weight `w` of the compressed row `o` (column
//! `(c, ky, kx)`) adds `w ·` that run to the output row — no copy of the input per tap
//! (im2col wrote `C·k²·OH·OW·B` floats for it; LeNet-5's conv2 at batch 64, 8 MB).
//!
//! The kernel holds a tile of `R` output rows × `V` SIMD vectors of one channel in
//! registers and walks the channel's kept weights once per tile: per weight one
//! broadcast of its value and one tap position (both prepared at load, see [`Direct`]),
//! then `R·V` loads and fused multiply-adds. Tile shapes
//! follow the row length `OW·B`: long rows (batches) go in chunks of 4 vectors × 3 rows,
//! short rows (batch 1: 24 and 8 floats in LeNet-5) in 1–3 vectors × 8–4 rows, so batch 1
//! vectorises as well as batch 64. Output rows are computed to a whole number of vectors
//! (the inputs past a row's end are read, and the outputs they make dropped), which is
//! why the padded input carries [`SLACK`] floats at its end and output rows a stride
//! rounded up to [`SLACK`].
//!
//! Each channel is computed into a small buffer (`OH` rows) and then pooled (max or
//! average with windows without padding, as `ops::max_pool`/`ops::avg_pool` compute
//! them, same order of operations) or copied into the layer's output, so the
//! convolution's full output never exists when a pooling layer follows. Per output, the
//! kept weights are summed in the order of the compressed row, starting from the bias —
//! as the im2col path's tile kernel does. With `threads > 1` (feature `threads`) the
//! output channels are split over scoped threads; results do not depend on the split.
//!
//! The kernels are written once and compiled three times like `sparse.rs`'s (portable,
//! AVX2+FMA, AVX-512; the compiler vectorises the tile loops). PERF.md logs what this
//! bought over im2col.
//!
//! Not here: strided convolutions, builds without `std` and the one-buffer pass
//! (`Model::forward_in`), which keep the im2col path in `ops`; transposed convolutions
//! (`ops::col2im`).

use crate::ops::Ctx;
use crate::plan::{Affine, ConvGeom, Node, PoolGeom};
use crate::prelude::*;
use crate::sparse::Kernels;

/// Floats read past the end of a padded input (at most one SIMD vector less one), and
/// the multiple output rows are stored at: the widest vector, AVX-512's 16 floats.
const SLACK: usize = 16;

/// A convolution's direct-path data, built at load: each kept weight decoded to `f32`
/// with the position of its tap in the padded input. 8 bytes per kept weight next to the
/// compressed rows' 3, which is why builds without `std` (microcontrollers, where RAM is
/// what bounds the model) do not build it and run every convolution through im2col.
#[derive(Debug)]
pub(crate) struct Direct {
    /// Padded input height and width.
    hp: usize,
    wp: usize,
    /// Per kept weight, in the order of the compressed rows: its value (the codebook
    /// looked up once) and, for its column `(c, ky, kx)`, `(c·Hp + ky·d)·Wp + kx·d` — the
    /// padded input's position (in units of `B` floats) of its tap for output `(0, 0)`.
    tap_w: Vec<f32>,
    tap_pos: Vec<u32>,
    /// The largest `tap_pos` (0 without kept weights).
    max_pos: usize,
}

impl Direct {
    /// The direct path for a convolution with stride 1 (with `std`); `None` otherwise, or
    /// when a padded input's positions overflow `u32`.
    pub(crate) fn new(g: &ConvGeom, a: &Affine) -> Option<Direct> {
        if g.stride != 1 || !cfg!(feature = "std") {
            return None;
        }
        let hp = g.h.checked_add(2 * g.pad)?;
        let wp = g.w.checked_add(2 * g.pad)?;
        let plane = hp.checked_mul(wp)?;
        u32::try_from(g.c.checked_mul(plane)?).ok()?;
        let kk = g.k * g.k;
        let (tap_pos, tap_w): (Vec<u32>, Vec<f32>) = (0..a.w.nnz())
            .map(|j| {
                let (col, w) = a.w.entry(j);
                let (c, ky, kx) = (col / kk, col % kk / g.k, col % g.k);
                // < c·plane + (hp − 1)·wp + wp ≤ C·Hp·Wp, which fits u32 (checked above).
                let pos = c * plane + ky * g.dilation * wp + kx * g.dilation;
                (pos as u32, w)
            })
            .unzip();
        let max_pos = tap_pos.iter().max().map_or(0, |&p| p as usize);
        Some(Direct {
            hp,
            wp,
            tap_w,
            tap_pos,
            max_pos,
        })
    }

    /// Bytes held (the decoded weights and their tap positions).
    pub(crate) fn memory_bytes(&self) -> usize {
        4 * (self.tap_w.len() + self.tap_pos.len())
    }
}

/// Run `node` with the direct path if it is a convolution that has one, together with
/// `next` when that is a pooling layer without padding: returns how many nodes ran (1
/// or 2), or `None` (nothing done) for any other node.
pub(crate) fn try_run(
    node: &Node,
    next: Option<&Node>,
    x: &mut Vec<f32>,
    b: usize,
    ctx: &mut Ctx<'_>,
) -> Option<usize> {
    let Node::Conv {
        a,
        g,
        direct: Some(d),
    } = node
    else {
        return None;
    };
    let pool = match next {
        Some(Node::MaxPool(p)) if p.pad == 0 => Some((p, true)),
        Some(Node::AvgPool(p)) if p.pad == 0 => Some((p, false)),
        _ => None,
    };
    let row_start = a.w.row_starts();
    let len = g.ow * b;
    let lq = len.next_multiple_of(SLACK);
    // The padded input must not be larger than the im2col matrix it replaces (which the
    // model's working-memory limit accounts for): with a large padding or dilation it
    // can be, and then the im2col path runs.
    let padded_len = [g.c, d.hp, d.wp, b]
        .iter()
        .try_fold(1usize, |n, &f| n.checked_mul(f))?
        .checked_add(SLACK)?;
    let im2col_len = [g.c, g.k, g.k, g.oh, g.ow, b]
        .iter()
        .try_fold(1usize, |n, &f| n.checked_mul(f))
        .unwrap_or(usize::MAX);
    if padded_len > im2col_len.saturating_add(SLACK) {
        return None;
    }
    // The input as the kernel reads it: padded and with slack, unless it needs neither.
    let padded = (g.pad > 0 || !len.is_multiple_of(SLACK)).then(|| {
        let mut p = ctx.take(g.c * d.hp * d.wp * b + SLACK);
        pad_input(x, g, d, b, &mut p);
        p
    });
    let out_plane = match pool {
        Some((p, _)) => p.oh * p.ow * b,
        None => g.oh * len,
    };
    let rows = a.w.rows();
    let mut y = ctx.take(rows * out_plane);
    // A channel is computed into a buffer of its own unless it is the output as it is.
    let scratch = if pool.is_some() || lq != len {
        g.oh * lq
    } else {
        0
    };
    let job = Job {
        x: padded.as_deref().unwrap_or(x),
        b,
        row_in: d.wp * b,
        oh: g.oh,
        len,
        lq,
        bias: a.bias.as_deref(),
        row_start,
        tap_w: &d.tap_w,
        tap_pos: &d.tap_pos,
        pool,
    };
    // Every read of the kernels lies in `job.x` (see `channels_with`): the last tap of the
    // last output row, a row rounded up to SLACK floats.
    assert!(
        d.max_pos * b + g.oh.saturating_sub(1) * job.row_in + lq <= job.x.len(),
        "direct convolution input too short"
    );
    let kernels = ctx.kernels;
    // Below this many multiply-adds a thread costs more than it saves.
    const MIN_WORK_PER_THREAD: usize = 100_000;
    let work = a.w.nnz().saturating_mul(g.oh * len);
    let parts = if cfg!(feature = "threads") {
        ctx.threads
            .min(work / MIN_WORK_PER_THREAD)
            .clamp(1, rows.max(1))
    } else {
        1
    };
    let run = |o0: usize, out: &mut [f32], buf: &mut [f32]| {
        channels(kernels, &job, o0, out_plane, out, buf)
    };
    if parts == 1 {
        // One buffer from the pool: nothing allocated once the workspace has grown.
        let mut buf = ctx.take(scratch);
        run(0, &mut y, &mut buf);
        ctx.give(buf);
    } else {
        #[cfg(feature = "threads")]
        {
            let mut bufs: Vec<Vec<f32>> = (0..parts).map(|_| ctx.take(scratch)).collect();
            let per = rows.div_ceil(parts);
            std::thread::scope(|s| {
                for (i, (out, buf)) in y.chunks_mut(per * out_plane).zip(&mut bufs).enumerate() {
                    let run = &run;
                    s.spawn(move || run(i * per, out, buf));
                }
            });
            for buf in bufs {
                ctx.give(buf);
            }
        }
    }
    if let Some(p) = padded {
        ctx.give(p);
    }
    core::mem::swap(x, &mut y);
    ctx.give(y);
    Some(if pool.is_some() { 2 } else { 1 })
}

/// `p[c][iy + pad][ix + pad][..b] = x[c][iy][ix][..b]`, zero elsewhere (border and slack).
fn pad_input(x: &[f32], g: &ConvGeom, d: &Direct, b: usize, p: &mut [f32]) {
    let (row, prow) = (g.w * b, d.wp * b);
    if g.pad == 0 {
        p[..x.len()].copy_from_slice(x);
        p[x.len()..].fill(0.0);
        return;
    }
    p.fill(0.0);
    for c in 0..g.c {
        for iy in 0..g.h {
            let at = (c * d.hp + iy + g.pad) * prow + g.pad * b;
            p[at..at + row].copy_from_slice(&x[(c * g.h + iy) * row..][..row]);
        }
    }
}

/// Everything the kernels read for one layer.
struct Job<'a> {
    /// The (padded) input `[C][Hp][Wp][B]`, [`SLACK`] floats past its end readable.
    x: &'a [f32],
    b: usize,
    /// Floats per padded input row, `Wp·B`.
    row_in: usize,
    oh: usize,
    /// Floats per output row, `OW·B`, and the stride of the rows as computed.
    len: usize,
    lq: usize,
    bias: Option<&'a [f32]>,
    row_start: &'a [u32],
    tap_w: &'a [f32],
    tap_pos: &'a [u32],
    pool: Option<(&'a PoolGeom, bool)>,
}

/// Output channels `o0..` (as many as `out` holds planes of `out_plane`) with the
/// kernel version `kernels`.
fn channels(
    kernels: Kernels,
    job: &Job<'_>,
    o0: usize,
    out_plane: usize,
    out: &mut [f32],
    buf: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        match kernels {
            // SAFETY: `Kernels::Avx512`/`Avx2` are only chosen when `detect` found the
            // features (Model::set_kernels checks `supported`); `try_run` checked that
            // every read of `job.x` is in bounds.
            Kernels::Avx512 => return unsafe { x86::avx512(job, o0, out_plane, out, buf) },
            Kernels::Avx2 => return unsafe { x86::avx2(job, o0, out_plane, out, buf) },
            Kernels::Portable => {}
        }
    }
    let _ = kernels;
    // SAFETY: `try_run` checked that every read of `job.x` is in bounds.
    unsafe { channels_with::<Portable>(job, o0, out_plane, out, buf) }
}

/// One SIMD vector of [`Vector::Q`] floats as a kernel version holds it.
trait Vector: Copy {
    const Q: usize;
    /// Safety (every method): the CPU has the version's features; pointers are valid
    /// for `Q` floats.
    unsafe fn splat(v: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// `self + w·x`, fused where the version has FMA.
    unsafe fn madd(self, w: Self, x: Self) -> Self;
    /// Per lane `if x > self { x } else { self }` (max pooling's select).
    unsafe fn max(self, x: Self) -> Self;
    /// `self + x`.
    unsafe fn add(self, x: Self) -> Self;
}

/// Four floats, multiply then add (any target; what the Cortex-M4 and wasm run).
#[derive(Clone, Copy)]
struct Portable([f32; 4]);

impl Vector for Portable {
    const Q: usize = 4;
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Portable([v; 4])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Portable(core::ptr::read_unaligned(p as *const [f32; 4]))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        core::ptr::write_unaligned(p as *mut [f32; 4], self.0)
    }
    #[inline(always)]
    unsafe fn madd(self, w: Self, x: Self) -> Self {
        Portable(core::array::from_fn(|k| self.0[k] + w.0[k] * x.0[k]))
    }
    #[inline(always)]
    unsafe fn max(self, x: Self) -> Self {
        Portable(core::array::from_fn(|k| {
            if x.0[k] > self.0[k] {
                x.0[k]
            } else {
                self.0[k]
            }
        }))
    }
    #[inline(always)]
    unsafe fn add(self, x: Self) -> Self {
        Portable(core::array::from_fn(|k| self.0[k] + x.0[k]))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use core::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub(super) struct Avx2(__m256);

    impl Vector for Avx2 {
        const Q: usize = 8;
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            Avx2(_mm256_set1_ps(v))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx2(_mm256_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            _mm256_storeu_ps(p, self.0)
        }
        #[inline(always)]
        unsafe fn madd(self, w: Self, x: Self) -> Self {
            Avx2(_mm256_fmadd_ps(w.0, x.0, self.0))
        }
        #[inline(always)]
        unsafe fn max(self, x: Self) -> Self {
            // maxps(a, b) is `a > b ? a : b` per lane.
            Avx2(_mm256_max_ps(x.0, self.0))
        }
        #[inline(always)]
        unsafe fn add(self, x: Self) -> Self {
            Avx2(_mm256_add_ps(self.0, x.0))
        }
    }

    #[derive(Clone, Copy)]
    pub(super) struct Avx512(__m512);

    impl Vector for Avx512 {
        const Q: usize = 16;
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            Avx512(_mm512_set1_ps(v))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx512(_mm512_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            _mm512_storeu_ps(p, self.0)
        }
        #[inline(always)]
        unsafe fn madd(self, w: Self, x: Self) -> Self {
            Avx512(_mm512_fmadd_ps(w.0, x.0, self.0))
        }
        #[inline(always)]
        unsafe fn max(self, x: Self) -> Self {
            // vmaxps(a, b) is `a > b ? a : b` per lane.
            Avx512(_mm512_max_ps(x.0, self.0))
        }
        #[inline(always)]
        unsafe fn add(self, x: Self) -> Self {
            Avx512(_mm512_add_ps(self.0, x.0))
        }
    }

    /// Safety: the CPU has AVX-512F, AVX2 and FMA; as [`channels_with`].
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn avx512(
        job: &Job<'_>,
        o0: usize,
        out_plane: usize,
        out: &mut [f32],
        buf: &mut [f32],
    ) {
        channels_with::<Avx512>(job, o0, out_plane, out, buf)
    }

    /// Safety: the CPU has AVX2 and FMA; as [`channels_with`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(
        job: &Job<'_>,
        o0: usize,
        out_plane: usize,
        out: &mut [f32],
        buf: &mut [f32],
    ) {
        channels_with::<Avx2>(job, o0, out_plane, out, buf)
    }
}

/// Safety: the CPU runs `L`; `job.x` holds every position the tiles read (checked by
/// `try_run`: the last tap of the last row plus a row rounded up to [`SLACK`]).
#[inline(always)]
unsafe fn channels_with<L: Vector>(
    job: &Job<'_>,
    o0: usize,
    out_plane: usize,
    out: &mut [f32],
    buf: &mut [f32],
) {
    for (i, dst) in out.chunks_exact_mut(out_plane).enumerate() {
        let o = o0 + i;
        match job.pool {
            None if job.lq == job.len => conv_channel::<L>(job, o, dst),
            None => {
                conv_channel::<L>(job, o, buf);
                for (oy, d) in dst.chunks_exact_mut(job.len).enumerate() {
                    d.copy_from_slice(&buf[oy * job.lq..][..job.len]);
                }
            }
            Some((p, max)) => {
                conv_channel::<L>(job, o, buf);
                pool_channel::<L>(buf, job.lq, job.b, p, max, dst);
            }
        }
    }
}

/// Channel `o` into `y` (`OH` rows at stride `lq`), in tiles of rows × vectors.
#[inline(always)]
unsafe fn conv_channel<L: Vector>(job: &Job<'_>, o: usize, y: &mut [f32]) {
    assert!(y.len() >= job.oh * job.lq, "channel buffer too short");
    let y = y.as_mut_ptr();
    let mut left = job.len.div_ceil(L::Q);
    let mut t = 0;
    while left >= 4 {
        rows::<L, 3, 4>(job, o, t, y);
        t += 4 * L::Q;
        left -= 4;
    }
    match left {
        1 => rows::<L, 8, 1>(job, o, t, y),
        2 => rows::<L, 4, 2>(job, o, t, y),
        3 => rows::<L, 4, 3>(job, o, t, y),
        _ => {}
    }
}

/// Columns `t..t + V·Q` of every output row: `R` rows per tile, then single rows.
#[inline(always)]
unsafe fn rows<L: Vector, const R: usize, const V: usize>(
    job: &Job<'_>,
    o: usize,
    t: usize,
    y: *mut f32,
) {
    let mut oy = 0;
    while oy + R <= job.oh {
        tile::<L, R, V>(job, o, oy, t, y);
        oy += R;
    }
    while oy < job.oh {
        tile::<L, 1, V>(job, o, oy, t, y);
        oy += 1;
    }
}

/// Rows `oy..oy + R`, columns `t..t + V·Q` of channel `o` (`y`: the channel's `OH` rows
/// at stride `lq`): `R·V` vector accumulators, one pass over the channel's kept weights.
#[inline(always)]
unsafe fn tile<L: Vector, const R: usize, const V: usize>(
    job: &Job<'_>,
    o: usize,
    oy: usize,
    t: usize,
    y: *mut f32,
) {
    let bias = L::splat(job.bias.map_or(0.0, |b| b[o]));
    let mut acc = [[bias; V]; R];
    let (s, e) = (job.row_start[o] as usize, job.row_start[o + 1] as usize);
    let x = job.x.as_ptr().add(oy * job.row_in + t);
    for (&w, &pos) in job.tap_w[s..e].iter().zip(&job.tap_pos[s..e]) {
        let w = L::splat(w);
        let mut p = x.add(pos as usize * job.b);
        for acc in acc.iter_mut() {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = a.madd(w, L::load(p.add(v * L::Q)));
            }
            p = p.wrapping_add(job.row_in);
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (v, a) in acc.iter().enumerate() {
            a.store(y.add((oy + r) * job.lq + t + v * L::Q));
        }
    }
}

/// Pool one channel `src` (`OH` rows at stride `lq`, `B` floats per position) into `dst`
/// (`[POH][POW][B]`): windows without padding; the same comparisons (max) and order of
/// additions (average) as `ops::max_pool` and `ops::avg_pool`.
#[inline(always)]
unsafe fn pool_channel<L: Vector>(
    src: &[f32],
    lq: usize,
    b: usize,
    p: &PoolGeom,
    max: bool,
    dst: &mut [f32],
) {
    let pick = |d: f32, s: f32| {
        if !max {
            d + s
        } else if s > d {
            s
        } else {
            d
        }
    };
    let init = if max { f32::NEG_INFINITY } else { 0.0 };
    let count = (p.k * p.k) as f32;
    if b == 1 {
        // One value per position: each output from its window at once; the common
        // window shapes with constant sizes, which the compiler vectorises over outputs.
        match (p.k, p.stride) {
            (2, 2) => pool_one::<2, 2>(src, lq, p, dst, pick, init, max, count),
            (3, 2) => pool_one::<3, 2>(src, lq, p, dst, pick, init, max, count),
            (3, 3) => pool_one::<3, 3>(src, lq, p, dst, pick, init, max, count),
            _ => {
                for (py, d) in dst.chunks_exact_mut(p.ow).enumerate() {
                    let win = &src[py * p.stride * lq..];
                    for (px, d) in d.iter_mut().enumerate() {
                        let mut m = init;
                        for ky in 0..p.k {
                            for &s in &win[ky * lq + px * p.stride..][..p.k] {
                                m = pick(m, s);
                            }
                        }
                        *d = if max { m } else { m / count };
                    }
                }
            }
        }
        return;
    }
    let prow = p.ow * b;
    for (py, d) in dst.chunks_exact_mut(prow).enumerate() {
        d.fill(init);
        for ky in 0..p.k {
            let row = &src[(py * p.stride + ky) * lq..][..lq];
            for (px, d) in d.chunks_exact_mut(b).enumerate() {
                for kx in 0..p.k {
                    let s = &row[(px * p.stride + kx) * b..][..b];
                    // Whole vectors (a select written plainly compiled to masked stores
                    // here), then the rest one by one.
                    let whole = b - b % L::Q;
                    for i in (0..whole).step_by(L::Q) {
                        let (dv, sv) = (L::load(d.as_ptr().add(i)), L::load(s.as_ptr().add(i)));
                        let r = if max { dv.max(sv) } else { dv.add(sv) };
                        r.store(d.as_mut_ptr().add(i));
                    }
                    for (d, &s) in d[whole..].iter_mut().zip(&s[whole..]) {
                        *d = pick(*d, s);
                    }
                }
            }
        }
        if !max {
            d.iter_mut().for_each(|v| *v /= count);
        }
    }
}

/// [`pool_channel`] at batch 1 with window `K` and stride `S` known at compile time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pool_one<const K: usize, const S: usize>(
    src: &[f32],
    lq: usize,
    p: &PoolGeom,
    dst: &mut [f32],
    pick: impl Fn(f32, f32) -> f32,
    init: f32,
    max: bool,
    count: f32,
) {
    let span = (p.ow - 1) * S + K;
    for (py, d) in dst.chunks_exact_mut(p.ow).enumerate() {
        let rows: [&[f32]; K] = core::array::from_fn(|ky| &src[(py * S + ky) * lq..][..span]);
        for (px, d) in d.iter_mut().enumerate() {
            let mut m = init;
            for row in &rows {
                for kx in 0..K {
                    m = pick(m, row[px * S + kx]);
                }
            }
            *d = if max { m } else { m / count };
        }
    }
}
