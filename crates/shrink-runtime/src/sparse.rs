//! One layer's weight matrix as the runtime keeps it — compressed rows (CSR), never a
//! dense float expansion — and the kernels that multiply with it.
//!
//! Layout (Deep Compression §2–3 kept in memory, minus the Huffman coding): rows are
//! output units; for each kept weight, its column as `u16` (when every column index
//! fits) or `u32`, and its codebook index as `u8` next to the layer's small f32
//! codebook. Three bytes per kept weight for a LeNet layer, plus `4·(rows+1)` of row
//! starts. A weight tensor stored dense in the file keeps its nonzeros with plain f32
//! values instead (a layer that was not quantized).
//!
//! Activations are `[cols][n]` row-major with `n` = batch (a linear layer) or
//! `H'·W'·batch` (an im2col'd convolution): the loop over `n` is contiguous, so one
//! kept weight is one broadcast multiply-add over a tile of `n` held in registers. For
//! `n == 1` the product is a sparse mat-vec: on x86-64 with AVX2, eight kept weights per
//! gather of their inputs, the codebook looked up in registers; with the optional
//! lookup layout (AVX-512), inputs permuted out of registers instead (see [`Lookup`]).
//!
//! The tile kernels are written once, generically, and compiled three times: plain (any
//! target), and on x86-64 with AVX2+FMA and with AVX-512 enabled (chosen at run time
//! with `is_x86_feature_detected!`). The compiler vectorises the tile loops itself; the
//! two mat-vec kernels use `std::arch` intrinsics. PERF.md logs what each choice bought.

use crate::prelude::*;

/// Zero entries after the last kept weight (see [`SparseMatrix::build`]).
const PAD: usize = 16;

/// Column indices of the kept weights.
#[derive(Debug, Clone)]
enum Cols {
    U16(Vec<u16>),
    U32(Vec<u32>),
}

/// Values of the kept weights.
#[derive(Debug, Clone)]
enum Values {
    /// Weight sharing: `codebook[index[j]]`.
    Shared { codebook: Vec<f32>, index: Vec<u8> },
    /// A weight tensor that was stored dense: its nonzero values.
    Plain(Vec<f32>),
}

/// Where the values of the entries handed to [`SparseMatrix::build`] come from.
pub(crate) enum EntryValues<'a> {
    /// Entry `j` is `codebook[clusters[j]]` (every cluster `< codebook.len() <= 256`).
    Shared {
        codebook: &'a [f32],
        clusters: &'a [u16],
    },
    /// Entry `j` is `values[j]`.
    Plain(&'a [f32]),
}

/// Which compiled version of the kernels runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// Portable code (any target; what wasm32 runs).
    Portable,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512F (and AVX2, FMA).
    Avx512,
}

impl Kernels {
    /// The best version this CPU supports.
    pub fn detect() -> Kernels {
        // Run-time feature detection needs std; without it the portable kernels run.
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Kernels::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Kernels::Avx2;
            }
        }
        Kernels::Portable
    }

    /// Whether this CPU can run `self`.
    pub fn supported(self) -> bool {
        match self {
            Kernels::Portable => true,
            Kernels::Avx2 => matches!(Kernels::detect(), Kernels::Avx2 | Kernels::Avx512),
            Kernels::Avx512 => Kernels::detect() == Kernels::Avx512,
        }
    }
}

/// A `rows × cols` sparse matrix in compressed-row form.
#[derive(Debug, Clone)]
pub(crate) struct SparseMatrix {
    rows: usize,
    cols: usize,
    /// Entries of row `r` are `row_start[r]..row_start[r + 1]`.
    row_start: Vec<u32>,
    col: Cols,
    val: Values,
    /// The optional batch-1 layout (see [`SparseMatrix::add_lookup_layout`]).
    lookup: Option<Box<Lookup>>,
}

/// Columns per block of the lookup layout: their inputs fill four AVX-512 registers.
const BLOCK: usize = 64;
/// Rows per slice of the lookup layout: one per AVX-512 lane.
const LANES: usize = 16;

/// The batch-1 lookup layout of a weight-shared matrix. Rows go in slices of 16, one
/// per SIMD lane (longest rows first, so that a slice's rows are alike); columns go in
/// blocks of 64, whose inputs sit in four registers, so that a kept weight's input is a
/// register permute (`vpermt2ps`) instead of a gather from memory. For each slice and
/// block, every lane's kept weights in that block, the shorter lanes padded with a zero
/// weight: 2 bytes per slot (column within the block, codebook index).
#[derive(Debug, Clone)]
// Read only by the x86-64 kernels (elsewhere `Model::add_lookup_layout` adds none).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Lookup {
    /// The row of each lane, slice after slice.
    order: Vec<u32>,
    blocks: usize,
    /// Per (slice, block): how many groups of 16 slots.
    groups: Vec<u8>,
    /// Per slot: column within the block.
    col: Vec<u8>,
    /// Per slot: codebook index; the padding weight is index `codebook.len()`.
    index: Vec<u8>,
    /// The codebook, then zeros (so the padding index reads 0.0).
    table: [f32; 32],
}

impl SparseMatrix {
    /// Build from entries given as `(row, col)` in any row order (columns of one row in
    /// increasing order stay so). Callers guarantee `row < rows`, `col < cols`, at most
    /// `u32::MAX` entries, and for shared values `clusters[j] < codebook.len() <= 256`.
    pub(crate) fn build(
        rows: usize,
        cols: usize,
        coords: &[(u32, u32)],
        values: EntryValues<'_>,
    ) -> SparseMatrix {
        SparseMatrix::build_with(rows, cols, coords.len(), |j| coords[j], values)
    }

    /// [`SparseMatrix::build`] with entry `j` at `coord(j)`, `j < n`: no list of
    /// coordinates is materialised (8 bytes per kept weight less at load, which is what
    /// bounds a microcontroller's heap), and entries already in row order (a linear or
    /// convolution weight read in flat order) are not permuted.
    pub(crate) fn build_with(
        rows: usize,
        cols: usize,
        n: usize,
        coord: impl Fn(usize) -> (u32, u32),
        values: EntryValues<'_>,
    ) -> SparseMatrix {
        // Counting sort by row (stable), skipped when the rows already ascend.
        let mut row_start = vec![0u32; rows + 1];
        let (mut sorted, mut last) = (true, 0u32);
        for j in 0..n {
            let r = coord(j).0;
            row_start[r as usize + 1] += 1;
            sorted &= r >= last;
            last = r;
        }
        for r in 0..rows {
            row_start[r + 1] += row_start[r];
        }
        let order = (!sorted).then(|| {
            let mut next: Vec<u32> = row_start[..rows].to_vec();
            let mut order = vec![0u32; n];
            for j in 0..n {
                let slot = &mut next[coord(j).0 as usize];
                order[*slot as usize] = j as u32;
                *slot += 1;
            }
            order
        });
        // Entry `k` in row order is entry `at(k)` as given.
        let at = |k: usize| order.as_ref().map_or(k, |o| o[k] as usize);
        // Column and codebook-index arrays end in PAD zeros, so that the gather kernels
        // may load a whole vector of them at the last kept weight (the lanes past a
        // row's end are masked off).
        let pad = core::iter::repeat_n(0, PAD);
        let col = if cols <= 1 << 16 {
            Cols::U16(
                (0..n)
                    .map(|k| coord(at(k)).1 as u16)
                    .chain(pad.clone())
                    .collect(),
            )
        } else {
            Cols::U32((0..n).map(|k| coord(at(k)).1).collect())
        };
        let val = match values {
            EntryValues::Shared { codebook, clusters } => Values::Shared {
                codebook: codebook.to_vec(),
                index: (0..n)
                    .map(|k| clusters[at(k)] as u8)
                    .chain(pad.map(|_| 0))
                    .collect(),
            },
            EntryValues::Plain(v) => Values::Plain((0..n).map(|k| v[at(k)]).collect()),
        };
        SparseMatrix {
            rows,
            cols,
            row_start,
            col,
            val,
            lookup: None,
        }
    }

    /// Add the batch-1 lookup layout (used by the AVX-512 kernels; see [`Lookup`]) when
    /// the matrix can take it: weight-shared with at most 31 centroids, `u16` columns.
    /// It comes on top of the rows, which batches > 1 keep using. Returns whether it
    /// was added.
    pub(crate) fn add_lookup_layout(&mut self) -> bool {
        let (Cols::U16(col), Values::Shared { codebook, index }) = (&self.col, &self.val) else {
            return false;
        };
        let k = codebook.len();
        if k >= 32 || self.lookup.is_some() {
            return false;
        }
        let len = |r: u32| self.row_start[r as usize + 1] - self.row_start[r as usize];
        let mut order: Vec<u32> = (0..self.rows as u32).collect();
        order.sort_by_key(|&r| core::cmp::Reverse(len(r)));
        let blocks = self.cols.div_ceil(BLOCK);
        let (mut groups, mut slot_col, mut slot_index) = (Vec::new(), Vec::new(), Vec::new());
        for slice in order.chunks(LANES) {
            // Per lane, per block: (column within the block, codebook index).
            let mut lanes = vec![vec![Vec::new(); blocks]; LANES];
            for (lane, &r) in lanes.iter_mut().zip(slice) {
                for j in
                    self.row_start[r as usize] as usize..self.row_start[r as usize + 1] as usize
                {
                    let c = col[j] as usize;
                    lane[c / BLOCK].push(((c % BLOCK) as u8, index[j]));
                }
            }
            for b in 0..blocks {
                let most = lanes.iter().map(|l| l[b].len()).max().unwrap_or(0);
                groups.push(most as u8);
                for g in 0..most {
                    for lane in &lanes {
                        let (c, i) = lane[b].get(g).copied().unwrap_or((0, k as u8));
                        slot_col.push(c);
                        slot_index.push(i);
                    }
                }
            }
        }
        // A slot reads 16 bytes from its position.
        slot_col.extend([0; LANES]);
        slot_index.extend([0; LANES]);
        let mut table = [0.0f32; 32];
        table[..k].copy_from_slice(codebook);
        self.lookup = Some(Box::new(Lookup {
            order,
            blocks,
            groups,
            col: slot_col,
            index: slot_index,
            table,
        }));
        true
    }

    /// Output units.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input units.
    #[cfg(test)]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Kept weights.
    pub fn nnz(&self) -> usize {
        *self.row_start.last().unwrap_or(&0) as usize
    }

    /// Bytes this matrix occupies (its arrays, not the struct).
    pub fn memory_bytes(&self) -> usize {
        let cols = match &self.col {
            Cols::U16(c) => 2 * c.len(),
            Cols::U32(c) => 4 * c.len(),
        };
        let vals = match &self.val {
            Values::Shared { codebook, index } => 4 * codebook.len() + index.len(),
            Values::Plain(v) => 4 * v.len(),
        };
        let lookup = self.lookup.as_ref().map_or(0, |l| {
            4 * l.order.len() + l.groups.len() + l.col.len() + l.index.len() + 4 * l.table.len()
        });
        4 * self.row_start.len() + cols + vals + lookup
    }

    /// Whether columns are stored as `u16`.
    #[cfg(test)]
    pub fn narrow_columns(&self) -> bool {
        matches!(self.col, Cols::U16(_))
    }

    /// Where each row's kept weights are: row `r` is entries `row_starts()[r]..row_starts()[r
    /// + 1]` (what the direct convolution in `conv.rs` walks).
    pub(crate) fn row_starts(&self) -> &[u32] {
        &self.row_start
    }

    /// Column and value of kept weight `j` (in row order, `j < nnz()`).
    pub(crate) fn entry(&self, j: usize) -> (usize, f32) {
        let c = match &self.col {
            Cols::U16(c) => c[j] as usize,
            Cols::U32(c) => c[j] as usize,
        };
        let v = match &self.val {
            Values::Shared { codebook, index } => codebook[index[j] as usize],
            Values::Plain(v) => v[j],
        };
        (c, v)
    }

    /// The value at `(row, col)` (zero where nothing is kept).
    #[cfg(test)]
    pub fn get(&self, row: usize, col: usize) -> f32 {
        let (s, e) = (
            self.row_start[row] as usize,
            self.row_start[row + 1] as usize,
        );
        for j in s..e {
            let c = match &self.col {
                Cols::U16(c) => c[j] as usize,
                Cols::U32(c) => c[j] as usize,
            };
            if c == col {
                return match &self.val {
                    Values::Shared { codebook, index } => codebook[index[j] as usize],
                    Values::Plain(v) => v[j],
                };
            }
        }
        0.0
    }

    /// `y[r][..n] = bias[r] + Σ_c W[r][c] · x[c][..n]` with `x` as `[cols][n]` and `y` as
    /// `[rows][n]`, row-major. With `threads > 1` (feature `threads`), large products
    /// are split by rows over scoped threads.
    pub(crate) fn mul(
        &self,
        x: &[f32],
        n: usize,
        bias: Option<&[f32]>,
        y: &mut [f32],
        kernels: Kernels,
        threads: usize,
    ) {
        assert!(x.len() >= self.cols * n, "input too short for the matrix");
        assert!(y.len() >= self.rows * n, "output too short for the matrix");
        if let Some(b) = bias {
            assert_eq!(b.len(), self.rows, "one bias per row");
        }
        let y = &mut y[..self.rows * n];
        #[cfg(feature = "threads")]
        {
            // Below this many multiply-adds a thread costs more than it saves.
            const MIN_WORK_PER_THREAD: usize = 100_000;
            let work = self.nnz() * n;
            let parts = threads.min(work / MIN_WORK_PER_THREAD).min(self.rows);
            if parts > 1 {
                let per = self.rows.div_ceil(parts);
                std::thread::scope(|s| {
                    for (i, chunk) in y.chunks_mut(per * n).enumerate() {
                        let r0 = i * per;
                        let r1 = (r0 + per).min(self.rows);
                        s.spawn(move || self.mul_rows(r0..r1, x, n, bias, chunk, kernels));
                    }
                });
                return;
            }
        }
        let _ = threads;
        self.mul_rows(0..self.rows, x, n, bias, y, kernels);
    }

    /// Rows `rows` of the product into `y` (`rows.len() × n`).
    fn mul_rows(
        &self,
        rows: core::ops::Range<usize>,
        x: &[f32],
        n: usize,
        bias: Option<&[f32]>,
        y: &mut [f32],
        kernels: Kernels,
    ) {
        let job = Job {
            r0: rows.start,
            r1: rows.end,
            x,
            n,
            bias,
            row_start: &self.row_start,
        };
        match (&self.col, &self.val) {
            #[cfg(target_arch = "x86_64")]
            _ if n == 1
                && kernels == Kernels::Avx512
                && self.lookup.is_some()
                && (job.r0, job.r1) == (0, self.rows) =>
            {
                let lookup = self.lookup.as_ref().expect("checked");
                // SAFETY: AVX-512F is present (Kernels::Avx512); `lookup` was built from
                // this matrix (columns < cols <= x.len(), indices <= codebook.len() < 32).
                unsafe { x86::matvec_lookup(&job, lookup, self.cols, y) }
            }
            #[cfg(target_arch = "x86_64")]
            (Cols::U16(c), Values::Shared { codebook, index })
                if n == 1 && kernels != Kernels::Portable =>
            {
                // SAFETY: AVX2 and FMA are present (kernels is not Portable, see
                // `dispatch`); the arrays are padded and every column is < cols <= x.len().
                unsafe { x86::matvec_gather(&job, c, codebook, index, y) }
            }
            (Cols::U16(c), Values::Shared { codebook, index }) => {
                dispatch(kernels, &job, c, Shared { codebook, index }, y)
            }
            (Cols::U32(c), Values::Shared { codebook, index }) => {
                dispatch(kernels, &job, c, Shared { codebook, index }, y)
            }
            (Cols::U16(c), Values::Plain(v)) => dispatch(kernels, &job, c, Plain(v), y),
            (Cols::U32(c), Values::Plain(v)) => dispatch(kernels, &job, c, Plain(v), y),
        }
    }
}

/// The arguments every kernel shares.
struct Job<'a> {
    r0: usize,
    r1: usize,
    x: &'a [f32],
    n: usize,
    bias: Option<&'a [f32]>,
    row_start: &'a [u32],
}

trait Col: Copy {
    fn idx(self) -> usize;
}
impl Col for u16 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
}
impl Col for u32 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
}

/// The value of kept weight `j`.
trait Weight: Copy {
    fn at(&self, j: usize) -> f32;
}

#[derive(Clone, Copy)]
struct Shared<'a> {
    codebook: &'a [f32],
    index: &'a [u8],
}
impl Weight for Shared<'_> {
    #[inline(always)]
    fn at(&self, j: usize) -> f32 {
        self.codebook[self.index[j] as usize]
    }
}

#[derive(Clone, Copy)]
struct Plain<'a>(&'a [f32]);
impl Weight for Plain<'_> {
    #[inline(always)]
    fn at(&self, j: usize) -> f32 {
        self.0[j]
    }
}

fn dispatch<C: Col, W: Weight>(kernels: Kernels, job: &Job<'_>, col: &[C], w: W, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        match kernels {
            // SAFETY: `Kernels::Avx512`/`Avx2` are only chosen when `detect` found the
            // features (Model::set_kernels checks `supported`).
            Kernels::Avx512 => return unsafe { x86::avx512(job, col, w, y) },
            Kernels::Avx2 => return unsafe { x86::avx2(job, col, w, y) },
            Kernels::Portable => {}
        }
    }
    let _ = kernels;
    product::<C, W, false, 4>(job, col, w, y)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn avx512<C: Col, W: Weight>(job: &Job<'_>, col: &[C], w: W, y: &mut [f32]) {
        product::<C, W, true, 16>(job, col, w, y)
    }

    /// Sparse mat-vec, 8 kept weights at a time: gather 8 inputs by column, look the 8
    /// weights up in the codebook (held in registers when it has at most 16 entries,
    /// else gathered too), one fused multiply-add; a row's last < 8 weights one by one.
    ///
    /// Safety: the CPU has AVX2 and FMA; `col` and `index` have at least 8 entries past
    /// the last kept weight; every column is `< job.x.len()`, every index `<
    /// codebook.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn matvec_gather(
        job: &Job<'_>,
        col: &[u16],
        codebook: &[f32],
        index: &[u8],
        y: &mut [f32],
    ) {
        use core::arch::x86_64::*;
        let k = codebook.len();
        let mut cb = [0.0f32; 16];
        cb[..k.min(16)].copy_from_slice(&codebook[..k.min(16)]);
        let cb_lo = _mm256_loadu_ps(cb.as_ptr());
        let cb_hi = _mm256_loadu_ps(cb.as_ptr().add(8));
        let seven = _mm256_set1_epi32(7);
        let x = job.x.as_ptr();
        for r in job.r0..job.r1 {
            let (s, e) = (job.row_start[r] as usize, job.row_start[r + 1] as usize);
            let mut acc = _mm256_setzero_ps();
            let mut j = s;
            while j + 8 <= e {
                let cols =
                    _mm256_cvtepu16_epi32(_mm_loadu_si128(col.as_ptr().add(j) as *const __m128i));
                let idx =
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64(index.as_ptr().add(j) as *const __m128i));
                let xv = _mm256_i32gather_ps::<4>(x, cols);
                let wv = if k <= 8 {
                    _mm256_permutevar8x32_ps(cb_lo, idx)
                } else if k <= 16 {
                    // Index ≥ 8 picks from the high half: bit 3 moved to the sign bit.
                    let lo = _mm256_permutevar8x32_ps(cb_lo, idx);
                    let hi = _mm256_permutevar8x32_ps(cb_hi, idx);
                    let high = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(_mm256_andnot_si256(
                        seven, idx,
                    )));
                    _mm256_blendv_ps(lo, hi, high)
                } else {
                    _mm256_i32gather_ps::<4>(codebook.as_ptr(), idx)
                };
                acc = _mm256_fmadd_ps(wv, xv, acc);
                j += 8;
            }
            // The last few kept weights of the row, one at a time.
            let mut t = [0.0f32; 4];
            while j + 4 <= e {
                for (u, t) in t.iter_mut().enumerate() {
                    let w = *codebook.as_ptr().add(*index.as_ptr().add(j + u) as usize);
                    *t = crate::math::mul_add(w, *x.add(*col.as_ptr().add(j + u) as usize), *t);
                }
                j += 4;
            }
            while j < e {
                let w = *codebook.as_ptr().add(*index.as_ptr().add(j) as usize);
                t[0] = crate::math::mul_add(w, *x.add(*col.as_ptr().add(j) as usize), t[0]);
                j += 1;
            }
            let tail = (t[0] + t[1]) + (t[2] + t[3]);
            // Horizontal sum of the 8 lanes.
            let h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
            let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            let h = _mm_add_ss(h, _mm_shuffle_ps::<1>(h, h));
            y[r - job.r0] = job.bias.map_or(0.0, |b| b[r]) + _mm_cvtss_f32(h) + tail;
        }
    }

    /// Sparse mat-vec on the [`Lookup`] layout: per slice of 16 rows and block of 64
    /// inputs, the block's inputs in four registers; per group of 16 slots, each lane's
    /// input by two register permutes and a blend, its weight by a permute of the
    /// codebook, one fused multiply-add. The 16 lanes end as the slice's 16 outputs.
    ///
    /// Safety: the CPU has AVX-512F; `lookup` was built from this matrix; `cols <=
    /// job.x.len()`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn matvec_lookup(job: &Job<'_>, lookup: &Lookup, cols: usize, y: &mut [f32]) {
        use core::arch::x86_64::*;
        let cb_lo = _mm512_loadu_ps(lookup.table.as_ptr());
        let cb_hi = _mm512_loadu_ps(lookup.table.as_ptr().add(16));
        let bit5 = _mm512_set1_epi32(32);
        let x = job.x.as_ptr();
        let mut at = 0;
        for (s, rows) in lookup.order.chunks(LANES).enumerate() {
            let mut acc = _mm512_setzero_ps();
            for b in 0..lookup.blocks {
                let groups = lookup.groups[s * lookup.blocks + b] as usize;
                if groups == 0 {
                    continue;
                }
                // The block's 64 inputs (masked loads past the last column).
                let mut xr = [_mm512_setzero_ps(); 4];
                for (q, reg) in xr.iter_mut().enumerate() {
                    let start = BLOCK * b + 16 * q;
                    if start < cols {
                        let live = (cols - start).min(16);
                        *reg = _mm512_maskz_loadu_ps(((1u32 << live) - 1) as u16, x.add(start));
                    }
                }
                for _ in 0..groups {
                    let c = _mm512_cvtepu8_epi32(_mm_loadu_si128(
                        lookup.col.as_ptr().add(at) as *const __m128i
                    ));
                    let i = _mm512_cvtepu8_epi32(_mm_loadu_si128(
                        lookup.index.as_ptr().add(at) as *const __m128i
                    ));
                    let low = _mm512_permutex2var_ps(xr[0], c, xr[1]);
                    let high = _mm512_permutex2var_ps(xr[2], c, xr[3]);
                    let xv = _mm512_mask_blend_ps(_mm512_test_epi32_mask(c, bit5), low, high);
                    let wv = _mm512_permutex2var_ps(cb_lo, i, cb_hi);
                    acc = _mm512_fmadd_ps(wv, xv, acc);
                    at += LANES;
                }
            }
            let mut sums = [0.0f32; LANES];
            _mm512_storeu_ps(sums.as_mut_ptr(), acc);
            for (&r, v) in rows.iter().zip(sums) {
                let r = r as usize;
                y[r] = job.bias.map_or(0.0, |b| b[r]) + v;
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<C: Col, W: Weight>(job: &Job<'_>, col: &[C], w: W, y: &mut [f32]) {
        product::<C, W, true, 8>(job, col, w, y)
    }
}

/// `a·b + c`, fused where the target has FMA (without it `mul_add` is a slow libm call).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        crate::math::mul_add(a, b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn product<C: Col, W: Weight, const FMA: bool, const Q: usize>(
    job: &Job<'_>,
    col: &[C],
    w: W,
    y: &mut [f32],
) {
    if job.n == 1 {
        matvec::<C, W, FMA>(job, col, w, y);
        return;
    }
    // Tiles of n outermost: the x tile (cols × 4Q floats) stays in cache while every
    // row walks it; the accumulators of one row's tile live in registers. Then single
    // vectors, then single columns. Every column is computed the same way whichever of
    // the three covers it (the bias, then one `madd` per kept weight in row order), so
    // an example's outputs do not depend on its position in the batch or on the batch
    // size (n ≥ 2): a batch split over threads by examples gives the same bits.
    let mut t = 0;
    while t + 4 * Q <= job.n {
        tile4::<C, W, FMA, Q>(job, col, w, y, t);
        t += 4 * Q;
    }
    while t + Q <= job.n {
        tile_vec::<C, W, FMA, Q>(job, col, w, y, t);
        t += Q;
    }
    while t < job.n {
        tile_vec::<C, W, FMA, 1>(job, col, w, y, t);
        t += 1;
    }
}

/// Columns `t..t + Q` of every row: one `Q`-wide accumulator, as [`tile4`] computes
/// each of its four (`Q = 1`: the single columns of the tail).
#[inline(always)]
fn tile_vec<C: Col, W: Weight, const FMA: bool, const Q: usize>(
    job: &Job<'_>,
    col: &[C],
    w: W,
    y: &mut [f32],
    t: usize,
) {
    let n = job.n;
    for r in job.r0..job.r1 {
        let mut a = [job.bias.map_or(0.0, |b| b[r]); Q];
        let (s, e) = (job.row_start[r] as usize, job.row_start[r + 1] as usize);
        for (c, j) in col[s..e].iter().zip(s..) {
            let wj = w.at(j);
            let at = c.idx() * n + t;
            for (a, &x) in a.iter_mut().zip(&job.x[at..at + Q]) {
                *a = madd::<FMA>(wj, x, *a);
            }
        }
        let at = (r - job.r0) * n + t;
        y[at..at + Q].copy_from_slice(&a);
    }
}

/// Columns `t..t + 4Q` of every row of the product: four separate `Q`-wide
/// accumulators (one SIMD register each; a single `4Q` array would be kept in memory).
#[inline(always)]
fn tile4<C: Col, W: Weight, const FMA: bool, const Q: usize>(
    job: &Job<'_>,
    col: &[C],
    w: W,
    y: &mut [f32],
    t: usize,
) {
    let n = job.n;
    for r in job.r0..job.r1 {
        let b = job.bias.map_or(0.0, |b| b[r]);
        let (mut a0, mut a1, mut a2, mut a3) = ([b; Q], [b; Q], [b; Q], [b; Q]);
        let (s, e) = (job.row_start[r] as usize, job.row_start[r + 1] as usize);
        for (c, j) in col[s..e].iter().zip(s..) {
            let wj = w.at(j);
            let at = c.idx() * n + t;
            let xr = &job.x[at..at + 4 * Q];
            for (a, part) in [&mut a0, &mut a1, &mut a2, &mut a3]
                .into_iter()
                .zip(xr.chunks_exact(Q))
            {
                for k in 0..Q {
                    a[k] = madd::<FMA>(wj, part[k], a[k]);
                }
            }
        }
        let at = (r - job.r0) * n + t;
        for (q, a) in [a0, a1, a2, a3].iter().enumerate() {
            y[at + q * Q..at + (q + 1) * Q].copy_from_slice(a);
        }
    }
}

/// `n == 1`: one gather and multiply-add per kept weight, four independent sums.
#[inline(always)]
fn matvec<C: Col, W: Weight, const FMA: bool>(job: &Job<'_>, col: &[C], w: W, y: &mut [f32]) {
    let x = job.x;
    for r in job.r0..job.r1 {
        let (s, e) = (job.row_start[r] as usize, job.row_start[r + 1] as usize);
        let mut a = [0.0f32; 4];
        let mut j = s;
        while j + 4 <= e {
            for (u, acc) in a.iter_mut().enumerate() {
                *acc = madd::<FMA>(w.at(j + u), x[col[j + u].idx()], *acc);
            }
            j += 4;
        }
        while j < e {
            a[0] = madd::<FMA>(w.at(j), x[col[j].idx()], a[0]);
            j += 1;
        }
        let b = job.bias.map_or(0.0, |b| b[r]);
        y[r - job.r0] = b + ((a[0] + a[1]) + (a[2] + a[3]));
    }
}
