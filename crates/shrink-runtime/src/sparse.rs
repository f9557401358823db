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
//! `n == 1` the product is a sparse mat-vec (a gather per kept weight).
//!
//! The kernels are written once, generically, and compiled three times: plain (any
//! target), and on x86-64 with AVX2+FMA and with AVX-512 enabled (chosen at run time
//! with `is_x86_feature_detected!`). The compiler vectorises the tile loops itself.

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
        #[cfg(target_arch = "x86_64")]
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
pub struct SparseMatrix {
    rows: usize,
    cols: usize,
    /// Entries of row `r` are `row_start[r]..row_start[r + 1]`.
    row_start: Vec<u32>,
    col: Cols,
    val: Values,
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
        // Counting sort by row (stable).
        let mut row_start = vec![0u32; rows + 1];
        for &(r, _) in coords {
            row_start[r as usize + 1] += 1;
        }
        for r in 0..rows {
            row_start[r + 1] += row_start[r];
        }
        let mut next: Vec<u32> = row_start[..rows].to_vec();
        let mut order = vec![0u32; coords.len()];
        for (j, &(r, _)) in coords.iter().enumerate() {
            let slot = &mut next[r as usize];
            order[*slot as usize] = j as u32;
            *slot += 1;
        }
        let col = if cols <= 1 << 16 {
            Cols::U16(order.iter().map(|&j| coords[j as usize].1 as u16).collect())
        } else {
            Cols::U32(order.iter().map(|&j| coords[j as usize].1).collect())
        };
        let val = match values {
            EntryValues::Shared { codebook, clusters } => Values::Shared {
                codebook: codebook.to_vec(),
                index: order.iter().map(|&j| clusters[j as usize] as u8).collect(),
            },
            EntryValues::Plain(v) => Values::Plain(order.iter().map(|&j| v[j as usize]).collect()),
        };
        SparseMatrix {
            rows,
            cols,
            row_start,
            col,
            val,
        }
    }

    /// Output units.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input units.
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
        4 * self.row_start.len() + cols + vals
    }

    /// Whether columns are stored as `u16`.
    pub fn narrow_columns(&self) -> bool {
        matches!(self.col, Cols::U16(_))
    }

    /// The value at `(row, col)` (zero where nothing is kept); for tests and tools.
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
                        s.spawn(move || self.mul_rows(r0, r1, x, n, bias, chunk, kernels));
                    }
                });
                return;
            }
        }
        let _ = threads;
        self.mul_rows(0, self.rows, x, n, bias, y, kernels);
    }

    /// Rows `r0..r1` of the product into `y` (`(r1 − r0) × n`).
    fn mul_rows(
        &self,
        r0: usize,
        r1: usize,
        x: &[f32],
        n: usize,
        bias: Option<&[f32]>,
        y: &mut [f32],
        kernels: Kernels,
    ) {
        let job = Job {
            r0,
            r1,
            x,
            n,
            bias,
            row_start: &self.row_start,
        };
        match (&self.col, &self.val) {
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
        product::<C, W, true, 8>(job, col, w, y)
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
        a.mul_add(b, c)
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
    // row walks it; the accumulators of one row's tile live in registers.
    let mut t = 0;
    while t + 4 * Q <= job.n {
        tile4::<C, W, FMA, Q>(job, col, w, y, t);
        t += 4 * Q;
    }
    while t < job.n {
        tile1(job, col, w, y, t);
        t += 1;
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
        for j in s..e {
            let wj = w.at(j);
            let at = col[j].idx() * n + t;
            let xr = &job.x[at..at + 4 * Q];
            for (a, part) in [&mut a0, &mut a1, &mut a2, &mut a3].into_iter().zip(xr.chunks_exact(Q)) {
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

/// Column `t` of every row (the tail of `n` that fills no whole tile).
#[inline(always)]
fn tile1<C: Col, W: Weight>(job: &Job<'_>, col: &[C], w: W, y: &mut [f32], t: usize) {
    let n = job.n;
    for r in job.r0..job.r1 {
        let mut acc = job.bias.map_or(0.0, |b| b[r]);
        let (s, e) = (job.row_start[r] as usize, job.row_start[r + 1] as usize);
        for j in s..e {
            acc += w.at(j) * job.x[col[j].idx() * n + t];
        }
        y[(r - job.r0) * n + t] = acc;
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
