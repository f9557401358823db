//! Exact nearest neighbours of every row of a matrix among the other rows,
//! the search MUNGE needs (one neighbour per training example).
//!
//! Not a KD-tree (useless at MNIST's 784 dimensions) and not an `O(n²)` scalar
//! loop: squared distances come from `||a − b||² = ||a||² + ||b||² − 2 a·b`,
//! with the dot products done like a matrix multiply — a register tile of
//! `MR` queries × `NR` references, `L`-lane accumulators the compiler turns
//! into SIMD FMAs (AVX-512, AVX2+FMA, or portable code, chosen at run time) —
//! over blocks of [`QUERY_BLOCK`] queries, the blocks spread over threads.
//!
//! **Exactness.** That formula in `f32` is fast but loses digits to
//! cancellation, so it only nominates candidates: each query keeps its
//! [`CANDIDATES`] nearest rows by the fast distance, those are re-measured
//! exactly (`Σ (a_k − b_k)²` summed in `f64` in feature order), and the
//! winner is certified: with `E` a rigorous bound on the fast distance's error
//! (Higham's γ bound on the blocked dot product plus the additions), every
//! row outside the list is at least `fast_K − E` away, so if
//! `fast_K − E > best_exact` nothing outside can win. Queries that fail the
//! test (near-ties, duplicates) rescan all rows and re-measure every one
//! within `best_exact + E`. The result therefore equals a brute-force scan
//! with the `f64` distance and ties broken by the lower index, whatever the
//! thread count or SIMD path, and costs one fast pass plus a few exact
//! distances per row.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::parallel::run_jobs;

/// Queries per job: the block's rows (128 × 784 × 4 B ≈ 400 KB for MNIST)
/// stay in L2 while every reference row streams past them once.
pub(crate) const QUERY_BLOCK: usize = 128;

/// Candidates kept per query by the fast distance, then measured exactly.
pub(crate) const CANDIDATES: usize = 8;

/// Feature padding (zeros), so every path uses whole SIMD steps; the widest
/// lane count of any kernel.
const PAD: usize = 16;

/// The nearest other row of each of the `n` rows of `x` (`n × dim`,
/// row-major) by Euclidean distance: `result[i] != i` is the row `j`
/// minimising `Σ_k (x[i,k] − x[j,k])²`, the sum taken in `f64`; among rows at
/// the same distance (duplicates) the lowest index wins. Exact (see the
/// module docs for how the fast `f32` pass is certified), deterministic, and
/// parallel over all available cores.
///
/// `progress(done, n)` is called from the calling thread after each block of
/// 128 queries. With `n == 1` the only row is its own "neighbour" (`[0]`).
/// Values should be finite: for a row holding NaN or an infinity the answer
/// is some other row, unspecified (huge finite values, whose squares
/// overflow `f32`, are still exact, only slow).
///
/// # Panics
/// If `x.len() != n * dim` or `n` does not fit in `u32`.
pub fn nearest_neighbours(
    x: &[f32],
    n: usize,
    dim: usize,
    progress: Option<&dyn Fn(usize, usize)>,
) -> Vec<u32> {
    nearest_neighbours_threads(x, n, dim, super::default_threads(), progress)
}

/// [`nearest_neighbours`] on `threads` threads (the result does not depend on it).
pub(crate) fn nearest_neighbours_threads(
    x: &[f32],
    n: usize,
    dim: usize,
    threads: usize,
    progress: Option<&dyn Fn(usize, usize)>,
) -> Vec<u32> {
    assert_eq!(
        Some(x.len()),
        n.checked_mul(dim),
        "x must hold n * dim values"
    );
    assert!(u32::try_from(n).is_ok(), "n must fit in u32");
    if n <= 1 {
        return vec![0; n];
    }
    let space = Space::new(x, n, dim, Kernel::detect());
    let jobs = n.div_ceil(QUERY_BLOCK);
    let mut done = 0;
    let blocks = run_jobs(
        jobs,
        threads,
        |job| {
            let start = job * QUERY_BLOCK;
            let end = (start + QUERY_BLOCK).min(n);
            (space.search_block(start..end), end - start)
        },
        |rows| {
            done += rows;
            if let Some(p) = progress {
                p(done, n);
            }
        },
    );
    blocks.concat()
}

/// `Σ (a_k − b_k)²` in `f64`, in feature order: the exact distance that
/// decides (the reference the fast pass is certified against).
pub(crate) fn exact_sq_dist(a: &[f32], b: &[f32]) -> f64 {
    let mut s = 0f64;
    for (&p, &q) in a.iter().zip(b) {
        let d = p as f64 - q as f64;
        s += d * d;
    }
    s
}

/// The SIMD code path of the fast pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    fn detect() -> Kernel {
        Kernel::available()[0]
    }

    /// The kernels this CPU runs, fastest first.
    fn available() -> Vec<Kernel> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx2") && has!("fma") {
                v.push(Kernel::Avx512);
            }
            if has!("avx2") && has!("fma") {
                v.push(Kernel::Avx2);
            }
        }
        v.push(Kernel::Portable);
        v
    }
}

/// The rows to search, padded for the kernels, with their squared norms.
struct Space<'a> {
    /// The code path of the fast pass.
    kernel: Kernel,
    /// The rows as given (exact distances).
    x: &'a [f32],
    /// The rows padded with zeros to `dim_p` features (fast pass).
    xp: Cow<'a, [f32]>,
    n: usize,
    dim: usize,
    dim_p: usize,
    /// `||x_i||²`, summed in `f64`, rounded to `f32`.
    norms: Vec<f32>,
    /// The largest norm (f64), for the error bound.
    norm_max: f64,
    /// Error bound constants: see [`Space::error_bound`].
    gamma: f64,
}

impl<'a> Space<'a> {
    fn new(x: &'a [f32], n: usize, dim: usize, kernel: Kernel) -> Self {
        let dim_p = dim.div_ceil(PAD).max(1) * PAD;
        let xp: Cow<'a, [f32]> = if dim_p == dim {
            Cow::Borrowed(x)
        } else {
            let mut v = vec![0f32; n * dim_p];
            for (dst, src) in v.chunks_exact_mut(dim_p).zip(x.chunks_exact(dim.max(1))) {
                dst[..dim].copy_from_slice(&src[..dim]);
            }
            Cow::Owned(v)
        };
        let norms: Vec<f32> = (0..n)
            .map(|i| {
                let r = &x[i * dim..(i + 1) * dim];
                r.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32
            })
            .collect();
        let norm_max = norms.iter().fold(0f64, |m, &v| m.max(v as f64));
        // Each fast dot product is a sum of dim_p/L products per lane (L >= 4
        // lanes on every path), then a lane tree of depth <= 4, plus one
        // rounding per product without FMA: at most m roundings on any term.
        let m = (dim_p / 4 + 5) as f64;
        let u = f32::EPSILON as f64 / 2.0;
        let gamma = m * u / (1.0 - m * u);
        Space {
            kernel,
            x,
            xp,
            n,
            dim,
            dim_p,
            norms,
            norm_max,
            gamma,
        }
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// A bound on `|fast(i, j) − exact(i, j)|` for every `j`, where
    /// `fast = fl(fl(n_i + n_j) − 2·dot)`:
    /// the dot product errs by at most `γ_m Σ|a_k b_k| ≤ γ_m ||a|| ||b||`
    /// (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1);
    /// rounding each norm to `f32` and the two additions add at most
    /// `4u (n_i + n_j)`; the exact `f64` sum errs by far less than the 25 %
    /// margin on top. Negative data makes no difference (the bound uses |·|).
    fn error_bound(&self, i: usize) -> f64 {
        let ni = self.norms[i] as f64;
        let u = f32::EPSILON as f64 / 2.0;
        let e = 2.0 * self.gamma * (ni * self.norm_max).sqrt() + 4.0 * u * (ni + self.norm_max);
        1.25 * e + f64::MIN_POSITIVE
    }

    /// The nearest neighbours of the queries `rows` (a block).
    fn search_block(&self, rows: std::ops::Range<usize>) -> Vec<u32> {
        let queries: Vec<usize> = rows.collect();
        // 1. Fast pass: the CANDIDATES nearest rows of each query.
        let mut lists = vec![Candidates::EMPTY; queries.len()];
        self.scan(&queries, |slot, j, fast| {
            if j != queries[slot] {
                lists[slot].offer(fast, j as u32);
            }
        });
        // 2. Exact re-measure of the candidates, and the certificate.
        let mut best: Vec<(f64, u32)> = Vec::with_capacity(queries.len());
        let mut recheck: Vec<usize> = Vec::new(); // slots
        for (slot, (&i, list)) in queries.iter().zip(&lists).enumerate() {
            let mut b = (f64::INFINITY, u32::MAX);
            for &j in list.idx.iter().filter(|&&j| j != u32::MAX) {
                let d = exact_sq_dist(self.row(i), self.row(j as usize));
                if (d, j) < b {
                    b = (d, j);
                }
            }
            // Certified if the list holds every other row, or if a full list's
            // last fast distance, less the error bound, still beats the best.
            let listed = list.idx.iter().filter(|&&j| j != u32::MAX).count();
            let kth = list.dist[CANDIDATES - 1] as f64;
            let certified =
                listed == self.n - 1 || (listed == CANDIDATES && kth - self.error_bound(i) > b.0);
            if b.1 == u32::MAX || !certified {
                recheck.push(slot);
            }
            best.push(b);
        }
        // 3. Uncertified queries: every row within best + E is measured exactly.
        if !recheck.is_empty() {
            let rq: Vec<usize> = recheck.iter().map(|&s| queries[s]).collect();
            let limits: Vec<f64> = recheck
                .iter()
                .map(|&s| best[s].0 + self.error_bound(queries[s]))
                .collect();
            self.scan(&rq, |k, j, fast| {
                let i = rq[k];
                // NaN (norms overflowing f32) counts as within the limit.
                if j != i && (fast as f64).partial_cmp(&limits[k]) != Some(Ordering::Greater) {
                    let d = exact_sq_dist(self.row(i), self.row(j));
                    let b = &mut best[recheck[k]];
                    if (d, j as u32) < *b {
                        *b = (d, j as u32);
                    }
                }
            });
        }
        queries
            .iter()
            .zip(best)
            .map(|(&i, (_, j))| {
                if j == u32::MAX {
                    // Only for non-finite data: any other row.
                    ((i + 1) % self.n) as u32
                } else {
                    j
                }
            })
            .collect()
    }

    /// Calls `visit(slot, j, fast)` with the fast squared distance between
    /// `queries[slot]` and every row `j`, for every `slot` in ascending `j`
    /// order, on the best kernel this CPU has.
    fn scan(&self, queries: &[usize], mut visit: impl FnMut(usize, usize, f32)) {
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::detect` (or the tests, after checking) chose
            // this kernel because the CPU has the features it is compiled for.
            Kernel::Avx512 => unsafe { self.scan_avx512(queries, &mut visit) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Kernel::Avx2 => unsafe { self.scan_avx2(queries, &mut visit) },
            // 3 × 4 tiles of 4 lanes (SSE2 / NEON width; best of the shapes
            // tried under SSE2), FMA only where every CPU has it (elsewhere
            // `mul_add` would be a slow library call).
            Kernel::Portable => {
                self.scan_tiles::<3, 4, 4, { cfg!(target_arch = "aarch64") }>(queries, &mut visit)
            }
        }
    }

    /// 4 × 4 tiles of 16-lane (zmm) accumulators. Shapes measured on a Zen 5
    /// core: 4×4 and 2×6 best (≈ 53 G FMA/s on one core); some wider tiles
    /// (2×8, 1×8) made LLVM spill badly.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn scan_avx512(&self, queries: &[usize], visit: &mut impl FnMut(usize, usize, f32)) {
        self.scan_tiles::<4, 4, 16, true>(queries, visit)
    }

    /// 4 × 3 tiles of 8-lane (ymm) accumulators: 12 of the 16 registers
    /// (measured best of 3×4, 4×3, 4×4, 2×6).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn scan_avx2(&self, queries: &[usize], visit: &mut impl FnMut(usize, usize, f32)) {
        self.scan_tiles::<4, 3, 8, true>(queries, visit)
    }

    /// The blocked loop: for each panel of `NR` reference rows (kept in L1),
    /// for each panel of `MR` queries (from L2), the `MR × NR` dot products
    /// over all features at once ([`dot_tile`]). Panels past the end repeat
    /// the last row; those results are dropped.
    #[inline(always)]
    fn scan_tiles<const MR: usize, const NR: usize, const L: usize, const FMA: bool>(
        &self,
        queries: &[usize],
        visit: &mut impl FnMut(usize, usize, f32),
    ) {
        let (n, dp) = (self.n, self.dim_p);
        let xp: &[f32] = &self.xp;
        let nq = queries.len();
        for r0 in (0..n).step_by(NR) {
            let refs: [&[f32]; NR] = std::array::from_fn(|c| {
                let j = (r0 + c).min(n - 1);
                &xp[j * dp..(j + 1) * dp]
            });
            for q0 in (0..nq).step_by(MR) {
                let qs: [&[f32]; MR] = std::array::from_fn(|r| {
                    let i = queries[(q0 + r).min(nq - 1)];
                    &xp[i * dp..(i + 1) * dp]
                });
                let dots = dot_tile::<MR, NR, L, FMA>(&qs, &refs);
                for (r, row) in dots.iter().enumerate().take(nq - q0) {
                    let ni = self.norms[queries[q0 + r]];
                    for (c, &dot) in row.iter().enumerate().take(n - r0) {
                        let j = r0 + c;
                        visit(q0 + r, j, (ni + self.norms[j]) - 2.0 * dot);
                    }
                }
            }
        }
    }
}

/// `dots[r][c] = qs[r] · refs[c]` over all features (a multiple of `L`):
/// `MR × NR` accumulators of `L` lanes, one FMA (or multiply-add) per lane
/// per step, summed across lanes by a fixed pairwise tree at the end. Plain
/// array code that LLVM vectorises under the caller's target features (the
/// `l` loop becomes one SIMD instruction).
#[inline(always)]
fn dot_tile<const MR: usize, const NR: usize, const L: usize, const FMA: bool>(
    qs: &[&[f32]; MR],
    refs: &[&[f32]; NR],
) -> [[f32; NR]; MR] {
    let steps = qs[0].len() / L;
    for row in qs.iter().chain(refs) {
        assert_eq!(row.len(), steps * L, "rows are padded to whole steps");
    }
    let mut acc = [[[0f32; L]; NR]; MR];
    for s in 0..steps {
        let k = s * L;
        let qv: [[f32; L]; MR] = std::array::from_fn(|r| load_lanes(qs[r], k));
        let rv: [[f32; L]; NR] = std::array::from_fn(|c| load_lanes(refs[c], k));
        for r in 0..MR {
            for c in 0..NR {
                let a = &mut acc[r][c];
                for l in 0..L {
                    a[l] = if FMA {
                        qv[r][l].mul_add(rv[c][l], a[l])
                    } else {
                        a[l] + qv[r][l] * rv[c][l]
                    };
                }
            }
        }
    }
    let mut out = [[0f32; NR]; MR];
    for r in 0..MR {
        for c in 0..NR {
            out[r][c] = sum_lanes(acc[r][c]);
        }
    }
    out
}

/// `L` values of `row` from `k`, without a bounds check in the hot loop (a
/// panic exit there also keeps LLVM from holding values in registers).
#[inline(always)]
fn load_lanes<const L: usize>(row: &[f32], k: usize) -> [f32; L] {
    debug_assert!(k + L <= row.len());
    // SAFETY: `dot_tile` asserts `row.len() == steps * L` and passes
    // `k = s * L` with `s < steps`; `[f32; L]` has the alignment of f32.
    unsafe { std::ptr::read_unaligned(row.as_ptr().add(k).cast::<[f32; L]>()) }
}

/// The sum of the lanes by a fixed pairwise tree (depth log2 L).
#[inline(always)]
fn sum_lanes<const L: usize>(mut a: [f32; L]) -> f32 {
    let mut w = L / 2;
    while w > 0 {
        for l in 0..w {
            a[l] += a[l + w];
        }
        w /= 2;
    }
    a[0]
}

/// A query's nearest rows so far by the fast distance, ascending; a new row
/// that ties an old one goes after it (rows arrive in ascending index order).
#[derive(Clone, Copy)]
struct Candidates {
    dist: [f32; CANDIDATES],
    /// `u32::MAX` marks an empty slot.
    idx: [u32; CANDIDATES],
}

impl Candidates {
    const EMPTY: Candidates = Candidates {
        dist: [f32::INFINITY; CANDIDATES],
        idx: [u32::MAX; CANDIDATES],
    };

    #[inline(always)]
    fn offer(&mut self, d: f32, j: u32) {
        if d.partial_cmp(&self.dist[CANDIDATES - 1]) != Some(Ordering::Less) {
            return; // also drops NaN
        }
        let mut p = CANDIDATES - 1;
        while p > 0 && self.dist[p - 1] > d {
            self.dist[p] = self.dist[p - 1];
            self.idx[p] = self.idx[p - 1];
            p -= 1;
        }
        self.dist[p] = d;
        self.idx[p] = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    /// The definition: every other row, f64 distance, lower index on ties.
    fn brute_force(x: &[f32], n: usize, dim: usize) -> Vec<u32> {
        (0..n)
            .map(|i| {
                let mut best = (f64::INFINITY, 0usize);
                for j in (0..n).filter(|&j| j != i) {
                    let mut s = 0f64;
                    for k in 0..dim {
                        let d = x[i * dim + k] as f64 - x[j * dim + k] as f64;
                        s += d * d;
                    }
                    if s < best.0 {
                        best = (s, j);
                    }
                }
                best.1 as u32
            })
            .collect()
    }

    fn uniform(seed: u64, len: usize, lo: f32, hi: f32) -> Vec<f32> {
        let mut rng = crate::seeded_rng(seed);
        (0..len)
            .map(|_| lo + (hi - lo) * (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32)
            .collect()
    }

    #[test]
    fn matches_brute_force_on_random_data() {
        // Sizes around the block and tile sizes, dims around the padding.
        for (n, dim) in [
            (2, 1),
            (3, 5),
            (17, 3),
            (129, 16),
            (200, 37),
            (300, 784),
            (QUERY_BLOCK * 2 + 5, 9),
        ] {
            let x = uniform(n as u64 * 31 + dim as u64, n * dim, -1.0, 1.0);
            let want = brute_force(&x, n, dim);
            for threads in [1, 3] {
                let got = nearest_neighbours_threads(&x, n, dim, threads, None);
                assert_eq!(got, want, "n {n} dim {dim} threads {threads}");
                assert!(got.iter().enumerate().all(|(i, &j)| j as usize != i));
            }
            // Every SIMD path this CPU has (the default one is covered above).
            for kernel in Kernel::available() {
                let space = Space::new(&x, n, dim, kernel);
                let got: Vec<u32> = (0..n)
                    .step_by(QUERY_BLOCK)
                    .flat_map(|s| space.search_block(s..(s + QUERY_BLOCK).min(n)))
                    .collect();
                assert_eq!(got, want, "n {n} dim {dim} kernel {kernel:?}");
            }
        }
    }

    #[test]
    fn fast_distances_stay_within_the_error_bound() {
        // Offsets make the fast formula cancel; the bound must still hold.
        for (n, dim, offset) in [(70, 784, 0.0), (50, 30, 5.0), (40, 3, 300.0)] {
            let mut x = uniform(dim as u64, n * dim, -1.0, 1.0);
            for v in x.iter_mut() {
                *v += offset;
            }
            for kernel in Kernel::available() {
                let space = Space::new(&x, n, dim, kernel);
                let queries: Vec<usize> = (0..n).collect();
                let mut seen = 0;
                space.scan(&queries, |i, j, fast| {
                    let exact = exact_sq_dist(space.row(i), space.row(j));
                    let err = (fast as f64 - exact).abs();
                    assert!(err <= space.error_bound(i), "{kernel:?} {i} {j} {err}");
                    seen += 1;
                });
                assert_eq!(seen, n * n);
            }
        }
    }

    #[test]
    fn near_ties_and_large_offsets_stay_exact() {
        // Large norms (offset 1000) make the fast formula cancel badly; the
        // certificate must send these queries to the exact recheck.
        let (n, dim) = (150, 20);
        let mut x = uniform(5, n * dim, 0.0, 1e-3);
        for v in x.iter_mut() {
            *v += 1000.0;
        }
        assert_eq!(
            nearest_neighbours(&x, n, dim, None),
            brute_force(&x, n, dim)
        );
        // Squares overflow f32: the fast pass is useless, the recheck exact.
        let (n, dim) = (40, 3);
        let mut x = uniform(6, n * dim, -1.0, 1.0);
        for v in x.iter_mut() {
            *v *= 1e25;
        }
        assert_eq!(
            nearest_neighbours(&x, n, dim, None),
            brute_force(&x, n, dim)
        );
        // A grid: many exactly equal distances; lower index must win.
        let (n, dim) = (64, 2);
        let x: Vec<f32> = (0..n)
            .flat_map(|i| [(i % 8) as f32, (i / 8) as f32])
            .collect();
        assert_eq!(
            nearest_neighbours(&x, n, dim, None),
            brute_force(&x, n, dim)
        );
    }

    #[test]
    fn duplicates_pick_the_lowest_other_index() {
        // Rows 0, 3, 5 and 7 are identical; 1, 2, 4, 6 are distinct and far apart.
        let dim = 4;
        let rows: [[f32; 4]; 8] = [
            [1.0, 2.0, 3.0, 4.0],
            [10.0, 0.0, 0.0, 0.0],
            [0.0, 20.0, 0.0, 0.0],
            [1.0, 2.0, 3.0, 4.0],
            [0.0, 0.0, 30.0, 0.0],
            [1.0, 2.0, 3.0, 4.0],
            [0.0, 0.0, 0.0, 40.0],
            [1.0, 2.0, 3.0, 4.0],
        ];
        let x: Vec<f32> = rows.iter().flatten().copied().collect();
        let got = nearest_neighbours(&x, 8, dim, None);
        assert_eq!(got, brute_force(&x, 8, dim));
        assert_eq!((got[0], got[3], got[5], got[7]), (3, 0, 0, 0));
        // Many copies of one row (more than the candidate list holds).
        let n = 3 * CANDIDATES + 1;
        let x = vec![0.5f32; n * 3];
        let got = nearest_neighbours(&x, n, 3, None);
        assert_eq!(got[0], 1);
        assert!(got[1..].iter().all(|&j| j == 0), "{got:?}");
    }

    #[test]
    fn trivial_sizes_and_progress() {
        assert!(nearest_neighbours(&[], 0, 3, None).is_empty());
        assert_eq!(nearest_neighbours(&[1.0, 2.0], 1, 2, None), vec![0]);
        assert_eq!(nearest_neighbours(&[0.0, 5.0], 2, 1, None), vec![1, 0]);
        // dim 0: all rows coincide.
        assert_eq!(nearest_neighbours(&[], 3, 0, None), vec![1, 0, 0]);
        let n = QUERY_BLOCK * 3 + 1;
        let x = uniform(1, n * 2, 0.0, 1.0);
        let calls = std::cell::RefCell::new(Vec::new());
        let record = |d: usize, t: usize| calls.borrow_mut().push((d, t));
        nearest_neighbours_threads(&x, n, 2, 2, Some(&record));
        let calls = calls.into_inner();
        assert_eq!(calls.len(), 4);
        assert!(calls.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(*calls.last().unwrap(), (n, n));
    }
}
