//! Synthetic transfer sets for model compression (Buciluǎ, Caruana,
//! Niculescu-Mizil, "Model Compression", KDD 2006; docs/PAPERS.md §3): the
//! teacher labels a large synthetic set and the small model learns from it.
//! Two of the paper's generators, on a [`Dataset`]'s features (labels play no
//! part; the outputs have the placeholder label 0 until a teacher labels them):
//!
//! - [`munge`], the paper's MUNGE: each example swaps attributes with its
//!   nearest neighbour, and continuous ones are jittered towards each other.
//! - [`random_marginals`], the paper's RANDOM baseline: every attribute drawn
//!   independently from its marginal, which keeps no joint structure.
//!
//! Attributes: with a [`TableSchema`] (CSV), a numeric column is one
//! continuous attribute and a categorical column (a one-hot group) one nominal
//! attribute; without one (images), every value is a continuous attribute, a
//! pixel intensity in `[0, 1]`. The exact nearest-neighbour search is
//! [`nearest_neighbours`] (module `nearest`), and [`write_csv`] /
//! [`write_idx`] write a synthetic set in its source's format. Not here: NBE
//! (the paper's naive-Bayes generator), labelling, and normalisation (MUNGE
//! runs on the data as loaded).

mod nearest;
mod parallel;
mod write;

use std::borrow::Cow;
use std::sync::Mutex;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::split::below;
use crate::table::{ColumnKind, TableSchema};
use parallel::run_jobs;

pub use nearest::nearest_neighbours;
pub use write::{write_csv, write_idx, CsvLabels};

/// Default swap probability `p` of [`MungeOptions`]: 0.5, the value that
/// mixes `e` and `e'` the most (each attribute equally likely to come from
/// either side). The paper treats `p` as a tuning parameter; its own values
/// are unverified here (docs/PAPERS.md §3).
pub const DEFAULT_P: f64 = 0.5;

/// Default local-variance divisor `s` of [`MungeOptions`]: 2.0, so the
/// jitter's standard deviation is half the gap between the two neighbours —
/// the new value usually lands within the pair's span rather than far beyond
/// it. A tuning parameter in the paper too (values unverified here).
pub const DEFAULT_S: f64 = 2.0;

/// Settings of [`munge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MungeOptions {
    /// Synthetic examples to produce (whole passes over the data, the last
    /// one truncated).
    pub size: usize,
    /// Probability that an attribute is swapped / jittered, in `[0, 1]`.
    pub p: f64,
    /// Local-variance divisor, `> 0`: `sd = |e_a − e'_a| / s`.
    pub s: f64,
    /// Seed; the output depends only on it, the data and the options.
    pub seed: u64,
}

impl MungeOptions {
    /// `size` examples with the defaults [`DEFAULT_P`], [`DEFAULT_S`], seed 0.
    pub fn new(size: usize) -> Self {
        MungeOptions {
            size,
            p: DEFAULT_P,
            s: DEFAULT_S,
            seed: 0,
        }
    }
}

/// One attribute of the paper: a value or a one-hot group of features.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Attribute {
    /// Feature `feature`, with the range `[lo, hi]` that scales it to
    /// `[0, 1]` for the distance and bounds munged values: the column's
    /// observed range for tables, `[0, 1]` for pixels.
    Continuous { feature: usize, lo: f32, hi: f32 },
    /// A one-hot group: features `offset..offset + width`.
    Nominal { offset: usize, width: usize },
}

/// Threads used by the generators: all the machine offers.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// MUNGE (Buciluǎ et al. 2006; docs/PAPERS.md §3): `opts.size` synthetic examples
/// that follow the data's joint distribution more closely than [`random_marginals`].
///
/// One pass, as in the paper: take a copy `T` of the data; for each example
/// `e` in order, with `e'` its nearest neighbour (in the original data,
/// [`nearest_neighbours_mixed`]), for each attribute `a`, with probability `p`:
/// - nominal: swap `e_a` and `e'_a` in `T` (the whole one-hot group);
/// - continuous: with `sd = |e_a − e'_a| / s` from the values before this
///   step, set `e_a ~ N(e'_a, sd)` and `e'_a ~ N(e_a, sd)`.
///
/// Both `e` and `e'` change in `T`, so an example can be munged again when it
/// is someone's neighbour later in the pass. A pass yields `n` examples;
/// passes repeat, each on a fresh copy of the original data with fresh
/// randomness (they do not compound), until `size` are made; the last pass is
/// truncated. Passes run in parallel.
///
/// Continuous values stay in their original units (the `[0, 1]` scaling is
/// linear, so jittering before or after it is the same draw) and are
/// clamped: pixels to `[0, 1]`, the intensity range; table columns to the
/// range observed in `ds`, so that the teacher is never asked to extrapolate
/// and the written table has no impossible values (negative counts, ages
/// past the oldest). Clamping puts a little mass on the bounds; with `s >= 1`
/// few draws leave the pair's neighbourhood anyway.
///
/// Randomness: each (pass, example) step draws from its own ChaCha8 stream
/// keyed by `(seed, pass, example)`, so the output does not depend on the
/// thread count (and uses the platform's `ln`/`cos`/`sin` for the Gaussian).
///
/// Returns a dataset with `ds`'s shape, classes and class names, and labels
/// all 0. Errors: `p` outside `[0, 1]`, `s` not positive and finite, an
/// empty `ds` (with `size > 0`), a schema that does not describe `ds`,
/// non-finite values, or, without a schema, values outside `[0, 1]` (MUNGE
/// runs on pixels as loaded, before normalisation). A single example is its
/// own neighbour, and comes out unchanged.
///
/// `progress(done, total)`, with `total = n + size`, is called on the calling
/// thread: up to `n` during the neighbour search, then as passes complete.
pub fn munge(
    ds: &Dataset,
    schema: Option<&TableSchema>,
    opts: &MungeOptions,
    progress: Option<&dyn Fn(usize, usize)>,
) -> Result<Dataset, DataError> {
    munge_threads(ds, schema, opts, default_threads(), progress)
}

/// [`munge`] on `threads` threads (the result does not depend on it).
fn munge_threads(
    ds: &Dataset,
    schema: Option<&TableSchema>,
    opts: &MungeOptions,
    threads: usize,
    progress: Option<&dyn Fn(usize, usize)>,
) -> Result<Dataset, DataError> {
    if !(0.0..=1.0).contains(&opts.p) {
        return Err(DataError::InvalidOption {
            msg: format!("MUNGE p must be in [0, 1], got {}", opts.p),
        });
    }
    if !(opts.s.is_finite() && opts.s > 0.0) {
        return Err(DataError::InvalidOption {
            msg: format!("MUNGE s must be positive and finite, got {}", opts.s),
        });
    }
    ds.validate()?;
    let (n, el) = (ds.len(), ds.example_len());
    if opts.size == 0 || el == 0 {
        return Ok(synthetic(ds, Vec::new(), opts.size));
    }
    if n == 0 {
        return Err(DataError::InvalidDataset {
            msg: "MUNGE needs at least one example".into(),
        });
    }
    if schema.is_none() {
        if let Some(k) = ds.x.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(DataError::InvalidDataset {
                msg: format!(
                    "without a table schema MUNGE expects pixel intensities in [0, 1] (as \
                     loaded, before normalisation); example {} has {}",
                    k / el,
                    ds.x[k]
                ),
            });
        }
    }
    let attrs = attributes(ds, schema)?;
    let total = n + opts.size;
    let report = |done: usize| {
        if let Some(p) = progress {
            p(done, total);
        }
    };

    let features = distance_features(ds, &attrs);
    let nn_progress = |done: usize, _: usize| report(done);
    let nn = nearest::nearest_neighbours_threads(&features, n, el, threads, Some(&nn_progress));
    drop(features);

    // Each pass writes its examples straight into its slice of the output.
    let mut x = vec![0f32; opts.size * el];
    let slots: Vec<Mutex<&mut [f32]>> = x.chunks_mut(n * el).map(Mutex::new).collect();
    let mut done = n;
    run_jobs(
        slots.len(),
        threads,
        |pass| {
            let mut out = slots[pass].lock().unwrap_or_else(|e| e.into_inner());
            if out.len() == ds.x.len() {
                out.copy_from_slice(&ds.x);
                munge_pass(&mut out, el, &nn, &attrs, opts, pass as u64);
            } else {
                // The truncated last pass: a whole pass, of which a prefix is kept.
                let mut t = ds.x.clone();
                munge_pass(&mut t, el, &nn, &attrs, opts, pass as u64);
                let keep = out.len();
                out.copy_from_slice(&t[..keep]);
            }
            ((), out.len() / el)
        },
        |made| {
            done += made;
            report(done);
        },
    );
    drop(slots);
    Ok(synthetic(ds, x, opts.size))
}

/// One MUNGE pass over `t` (a copy of the data, `el` values per example), in place.
fn munge_pass(
    t: &mut [f32],
    el: usize,
    nn: &[u32],
    attrs: &[Attribute],
    opts: &MungeOptions,
    pass: u64,
) {
    for (e, &nb) in nn.iter().enumerate() {
        let e2 = nb as usize;
        if e2 == e {
            continue; // a single example has no neighbour
        }
        let mut rng = stream(STREAM_MUNGE, opts.seed, pass, e as u64);
        let (a0, b0) = (e * el, e2 * el);
        for attr in attrs {
            if uniform(&mut rng) >= opts.p {
                continue;
            }
            match *attr {
                Attribute::Nominal { offset, width } => {
                    for k in offset..offset + width {
                        t.swap(a0 + k, b0 + k);
                    }
                }
                Attribute::Continuous { feature, lo, hi } => {
                    let (a, b) = (t[a0 + feature] as f64, t[b0 + feature] as f64);
                    let sd = (a - b).abs() / opts.s;
                    let (z1, z2) = if sd > 0.0 {
                        normal_pair(&mut rng)
                    } else {
                        (0.0, 0.0)
                    };
                    let clamp = |v: f64| (v as f32).clamp(lo, hi);
                    t[a0 + feature] = clamp(b + sd * z1);
                    t[b0 + feature] = clamp(a + sd * z2);
                }
            }
        }
    }
}

/// The nearest neighbour of each example of `ds` under MUNGE's distance:
/// Euclidean over the continuous attributes scaled to `[0, 1]` (by the
/// column's observed range; pixels are already in `[0, 1]`) plus the Hamming
/// distance over the nominal ones — squared: `Σ_cont (Δ scaled)² + #(nominal
/// attributes that differ)`. See [`nearest_neighbours`] for exactness, ties
/// and `progress`.
///
/// The Hamming part reuses the Euclidean kernel: two different one-hot
/// groups are at squared distance `1² + 1² = 2`, so each group is scaled by
/// `1/√2` and then contributes exactly `0` or `1` (up to `f32` rounding of
/// `1/√2`).
pub fn nearest_neighbours_mixed(
    ds: &Dataset,
    schema: Option<&TableSchema>,
    progress: Option<&dyn Fn(usize, usize)>,
) -> Result<Vec<u32>, DataError> {
    ds.validate()?;
    let attrs = attributes(ds, schema)?;
    let features = distance_features(ds, &attrs);
    Ok(nearest_neighbours(
        &features,
        ds.len(),
        ds.example_len(),
        progress,
    ))
}

/// The features the distance is measured on (see [`nearest_neighbours_mixed`]);
/// borrowed when they are the data itself (pixels).
fn distance_features<'a>(ds: &'a Dataset, attrs: &[Attribute]) -> Cow<'a, [f32]> {
    let identity = attrs
        .iter()
        .all(|a| matches!(a, Attribute::Continuous { lo, hi, .. } if *lo == 0.0 && *hi == 1.0));
    if identity {
        return Cow::Borrowed(&ds.x);
    }
    let el = ds.example_len();
    let mut f = ds.x.clone();
    for row in f.chunks_exact_mut(el.max(1)) {
        for attr in attrs {
            match *attr {
                Attribute::Continuous { feature, lo, hi } => {
                    let v = &mut row[feature];
                    *v = if hi > lo { (*v - lo) / (hi - lo) } else { 0.0 };
                }
                Attribute::Nominal { offset, width } => {
                    for v in &mut row[offset..offset + width] {
                        *v *= std::f32::consts::FRAC_1_SQRT_2;
                    }
                }
            }
        }
    }
    Cow::Owned(f)
}

/// RANDOM (Buciluǎ et al. 2006): `size` examples whose attributes are drawn
/// independently, each from its marginal in `ds`: a continuous value is that
/// attribute's value in a uniformly drawn example (so every value occurs in
/// the data), a one-hot group is copied whole from a uniformly drawn example
/// (a level drawn with its frequency). All joint structure is lost: the
/// paper's baseline. Deterministic per `seed` (a ChaCha8 stream per example),
/// whatever the thread count. Same shape, classes and class names as `ds`;
/// labels all 0. Errors: an empty `ds` (with `size > 0`), or a schema that
/// does not describe `ds`.
pub fn random_marginals(
    ds: &Dataset,
    schema: Option<&TableSchema>,
    size: usize,
    seed: u64,
) -> Result<Dataset, DataError> {
    random_marginals_threads(ds, schema, size, seed, default_threads())
}

/// Examples per job of [`random_marginals`].
const RANDOM_CHUNK: usize = 4096;

fn random_marginals_threads(
    ds: &Dataset,
    schema: Option<&TableSchema>,
    size: usize,
    seed: u64,
    threads: usize,
) -> Result<Dataset, DataError> {
    ds.validate()?;
    let (n, el) = (ds.len(), ds.example_len());
    if size == 0 || el == 0 {
        return Ok(synthetic(ds, Vec::new(), size));
    }
    if n == 0 {
        return Err(DataError::InvalidDataset {
            msg: "RANDOM needs at least one example to sample from".into(),
        });
    }
    let attrs = attributes(ds, schema)?;
    let mut x = vec![0f32; size * el];
    let slots: Vec<Mutex<&mut [f32]>> = x.chunks_mut(RANDOM_CHUNK * el).map(Mutex::new).collect();
    run_jobs(
        size.div_ceil(RANDOM_CHUNK),
        threads,
        |job| {
            let mut out = slots[job].lock().unwrap_or_else(|e| e.into_inner());
            let first = job * RANDOM_CHUNK;
            let rows = ((job + 1) * RANDOM_CHUNK).min(size) - first;
            for (r, row) in out.chunks_exact_mut(el).enumerate() {
                let mut rng = stream(STREAM_RANDOM, seed, 0, (first + r) as u64);
                for attr in &attrs {
                    let (offset, width) = match *attr {
                        Attribute::Continuous { feature, .. } => (feature, 1),
                        Attribute::Nominal { offset, width } => (offset, width),
                    };
                    let src = below(&mut rng, n as u64) as usize * el + offset;
                    row[offset..offset + width].copy_from_slice(&ds.x[src..src + width]);
                }
            }
            ((), rows)
        },
        |_| {},
    );
    drop(slots);
    Ok(synthetic(ds, x, size))
}

/// A synthetic dataset like `ds` (shape, classes, names) with features `x`
/// for `size` examples and the placeholder label 0.
fn synthetic(ds: &Dataset, x: Vec<f32>, size: usize) -> Dataset {
    Dataset {
        shape: ds.shape.clone(),
        x,
        y: vec![0; size],
        classes: ds.classes,
        class_names: ds.class_names.clone(),
    }
}

/// The attributes of `ds`: per schema column with a schema (which must
/// describe `ds`), else one continuous `[0, 1]` attribute per value.
/// Continuous table columns get their observed range in `ds`.
fn attributes(ds: &Dataset, schema: Option<&TableSchema>) -> Result<Vec<Attribute>, DataError> {
    let el = ds.example_len();
    let Some(schema) = schema else {
        return Ok((0..el)
            .map(|feature| Attribute::Continuous {
                feature,
                lo: 0.0,
                hi: 1.0,
            })
            .collect());
    };
    check_schema(ds, schema)?;
    let mut attrs = Vec::with_capacity(schema.columns.len());
    for c in &schema.columns {
        attrs.push(match c.kind {
            ColumnKind::Numeric { .. } => {
                let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
                for (i, row) in ds.x.chunks_exact(el).enumerate() {
                    let v = row[c.offset];
                    if !v.is_finite() {
                        return Err(DataError::InvalidDataset {
                            msg: format!("column {:?} of example {i} is {v}", c.name),
                        });
                    }
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
                Attribute::Continuous {
                    feature: c.offset,
                    lo,
                    hi,
                }
            }
            ColumnKind::Categorical { .. } => Attribute::Nominal {
                offset: c.offset,
                width: c.width,
            },
        });
    }
    Ok(attrs)
}

/// Checks that `schema` describes `ds`: example shape `[schema.width]`, and
/// the columns' feature ranges tile `0..width` in order, each as wide as its
/// kind says (1 for numeric, its level count for categorical).
fn check_schema(ds: &Dataset, schema: &TableSchema) -> Result<(), DataError> {
    let bad = |msg: String| Err(DataError::InvalidOption { msg });
    if ds.shape != [schema.width] {
        return bad(format!(
            "the table schema has {} features, the dataset's example shape is {:?}",
            schema.width, ds.shape
        ));
    }
    let mut next = 0;
    for c in &schema.columns {
        let width = match &c.kind {
            ColumnKind::Numeric { .. } => 1,
            ColumnKind::Categorical { levels } => levels.len(),
        };
        if c.offset != next || c.width != width || c.index >= schema.header.len() {
            return bad(format!(
                "table schema column {:?} (header index {}) covers features {}..{} but \
                 {next}..{} was expected",
                c.name,
                c.index,
                c.offset,
                c.offset + c.width,
                next + width
            ));
        }
        next += width;
    }
    if next != schema.width || schema.label_index >= schema.header.len() {
        return bad(format!(
            "table schema columns cover {next} of {} features (label index {} of {} columns)",
            schema.width,
            schema.label_index,
            schema.header.len()
        ));
    }
    Ok(())
}

/// Stream tags, so MUNGE and RANDOM with the same seed draw different numbers.
const STREAM_MUNGE: u64 = 1;
const STREAM_RANDOM: u64 = 2;

/// The ChaCha8 stream of one step: the 256-bit key is `(tag, seed, pass,
/// index)`, so every step has its own stream, independent of thread order.
fn stream(tag: u64, seed: u64, pass: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (k, v) in key.chunks_exact_mut(8).zip([tag, seed, pass, index]) {
        k.copy_from_slice(&v.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// Uniform in `[0, 1)` with 53 random bits.
fn uniform(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Two independent standard normals (Box–Muller).
fn normal_pair(rng: &mut impl RngCore) -> (f64, f64) {
    let u1 = 1.0 - uniform(rng); // (0, 1]: ln is finite
    let u2 = uniform(rng);
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

#[cfg(test)]
mod tests;
