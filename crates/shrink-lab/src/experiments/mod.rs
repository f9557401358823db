//! Reproductions of the papers' figures, each writing `results.json` and `report.html`
//! (see `report`):
//! - [`norm`]: Ioffe & Szegedy Fig. 1 — no normalisation vs batch norm vs layer norm on
//!   a 3×100 sigmoid MLP, plus a learning-rate sweep;
//! - [`transfer`]: Yosinski et al. Fig. 2 — BnB, BnB+, AnB, AnB+ against depth;
//! - [`ablation`]: the CNN toolbox of Gu et al. — one small CNN, one component changed
//!   at a time, several seeds;
//! - [`mimic`]: Ba & Caruana Table 1 — a deep teacher and shallow mimic nets;
//! - [`munge`]: Buciluǎ et al. — MUNGE vs RANDOM transfer sets for an ensemble;
//! - [`frontier`]: issue 14 — LeNet file size against test error, ours and published.
//!
//! Each is an [`runner::Experiment`] with its settings (quick and full) in a TOML file
//! beside its module (`norm.toml`, …), run by [`runner::run`].
//!
//! What they share lives here: options every experiment takes, loading (and
//! subsampling) the data, the per-run result store that makes long experiments
//! resumable, and small statistics.
//!
//! Not here: the training loop (`train`), the HTML (`report`).

pub mod ablation;
pub mod frontier;
pub mod mimic;
pub mod munge;
pub mod norm;
pub mod runner;
pub mod transfer;

use anyhow::{bail, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use shrink_core::batch::Batcher;
use shrink_core::model::Net;
use shrink_core::train::{self, Plain, Targets, TrainConfig, TrainHooks, TrainOutcome};
use shrink_core::workflow;
use shrink_data::{DataSource, Dataset};
use shrink_format::spec::ModelSpec;
use std::path::PathBuf;

/// Options every experiment takes.
#[derive(Debug, Clone)]
pub struct Common {
    /// `mnist` or a path (as for `shrink train`).
    pub data: String,
    /// Label column of a CSV file.
    pub label: Option<String>,
    /// Where results.json, report.html and runs/ go.
    pub out: PathBuf,
    /// The minutes-long version.
    pub quick: bool,
    /// Keep finished runs found in `out/runs/` and skip them.
    pub resume: bool,
    /// Use a seeded random subset of this many training examples.
    pub limit_train: Option<usize>,
    /// Use a seeded random subset of this many test examples.
    pub limit_test: Option<usize>,
    /// Device (without autodiff).
    pub device: Device,
    /// No progress output on stderr.
    pub quiet: bool,
}

/// Data settings as recorded in results.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataSettings {
    pub data: String,
    /// Shape of one example.
    pub shape: Vec<usize>,
    pub train_examples: usize,
    pub test_examples: usize,
    pub limit_train: Option<usize>,
    pub limit_test: Option<usize>,
    /// Made with `--quick` (small data, short training).
    #[serde(default)]
    pub quick: bool,
}

/// Seed of the subsets taken by `--limit-train`/`--limit-test` (fixed, so that every
/// run of every experiment sees the same examples).
pub const SUBSET_SEED: u64 = 7;

/// A seeded random subset of `limit` examples (all of them when `limit` is None or
/// not smaller), in their original order.
pub fn subsample(ds: &Dataset, limit: Option<usize>) -> Dataset {
    match limit {
        Some(k) if k < ds.len() => {
            let mut idx: Vec<usize> = shrink_data::shuffled_indices(ds.len(), SUBSET_SEED)
                .into_iter()
                .take(k)
                .collect();
            idx.sort_unstable();
            ds.subset(&idx)
        }
        _ => ds.clone(),
    }
}

impl Common {
    /// Load `--data` and apply the limits (a `--quick` run's come from its settings
    /// file's `[quick]` table).
    pub fn load(&self) -> Result<(DataSource, DataSettings)> {
        let mut src = workflow::load_data(&self.data, self.label.clone())?;
        let (lt, le) = (self.limit_train, self.limit_test);
        if lt == Some(0) || le == Some(0) {
            bail!("--limit-train and --limit-test must be at least 1");
        }
        src.train = subsample(&src.train, lt);
        src.test = subsample(&src.test, le);
        let settings = DataSettings {
            data: src.name.clone(),
            shape: src.train.shape.clone(),
            train_examples: src.train.len(),
            test_examples: src.test.len(),
            limit_train: lt,
            limit_test: le,
            quick: self.quick,
        };
        Ok((src, settings))
    }

    /// A per-run progress line on stderr.
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

/// Finished runs, one JSON file each under `out/runs/` (the one resumable-step store,
/// keyed by every setting that decides a run's outcome), so that a long experiment
/// killed midway continues with `--resume` where it stopped.
pub use shrink_core::store::Store;

/// A spec fitted to `src` (input shape, class count, input normalisation from `norm_from`).
pub fn fit_spec(mut spec: ModelSpec, src: &DataSource, norm_from: &Dataset) -> Result<ModelSpec> {
    workflow::adapt_spec(&mut spec, src)?;
    let n = shrink_data::compute_normalization(norm_from);
    spec.normalize = Some(shrink_format::spec::NormalizeSpec {
        mean: n.mean,
        std: n.std,
    });
    Ok(spec)
}

/// Train a freshly initialised `spec` (weights seeded by `cfg.seed`) on `src`, quietly,
/// with `hooks`. Returns the outcome and the batcher (for evaluation).
pub fn train_spec(
    spec: &ModelSpec,
    cfg: &TrainConfig,
    src: &DataSource,
    device: &Device,
    hooks: &mut dyn TrainHooks,
) -> Result<(TrainOutcome, Batcher)> {
    let dev = device.clone().autodiff();
    // The same starting weights for one seed on every device (issue 18).
    let net = shrink_core::device::init_net(spec, cfg.seed, &dev)?;
    train_net(net, spec, cfg, src, device, hooks)
}

/// Train `net` (already on the autodiff device) on `src`.
pub fn train_net(
    net: Net,
    spec: &ModelSpec,
    cfg: &TrainConfig,
    src: &DataSource,
    device: &Device,
    hooks: &mut dyn TrainHooks,
) -> Result<(TrainOutcome, Batcher)> {
    let dev = device.clone().autodiff();
    let data = Batcher::new(
        &src.train,
        &src.test,
        spec.normalize.clone(),
        cfg.val_fraction,
        cfg.seed,
    );
    let outcome = train::train(
        net,
        train::Job {
            cfg,
            data: &data,
            targets: Targets::Labels,
            device: &dev,
            run: None,
            hooks,
            quiet: true,
        },
    )?;
    Ok((outcome, data))
}

/// [`train_spec`] without hooks.
pub fn train_plain(
    spec: &ModelSpec,
    cfg: &TrainConfig,
    src: &DataSource,
    device: &Device,
) -> Result<(TrainOutcome, Batcher)> {
    train_spec(spec, cfg, src, device, &mut Plain)
}

/// Seeds 1..=n (`n` from a settings file or `--seeds`).
pub fn seed_list(n: usize) -> Result<Vec<u64>> {
    anyhow::ensure!(n >= 1, "--seeds must be at least 1");
    Ok((1..=n as u64).collect())
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, 0.0);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    if v.len() < 2 {
        return (m, 0.0);
    }
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64;
    (m, var.sqrt())
}

/// The smallest difference between two proportions (accuracies or errors, near `p`)
/// that we call real, each the mean of `k` runs scored on the same `n` test examples:
/// the larger of
/// - twice the standard error of a difference of two means of `k` runs,
///   `2·σ·sqrt(2/k)`, with `σ` the typical run-to-run standard deviation — the median of
///   `stds`, so that one variant with a failed seed does not declare everything else
///   noise (this is 0 with one seed: there is no spread to measure);
/// - twice the binomial standard error of a difference of two proportions measured on
///   `n` examples each, `2·sqrt(2·p(1−p)/n)`: the test set's own sampling error, which
///   more seeds do not shrink because every run is scored on the same examples.
///
/// At least 0.001 (0.1 points).
pub fn noise_threshold(stds: &[f64], k: usize, p: f64, n: usize) -> f64 {
    let mut finite: Vec<f64> = stds.iter().copied().filter(|s| s.is_finite()).collect();
    let seeds = if finite.is_empty() || k == 0 {
        0.0
    } else {
        finite.sort_by(f64::total_cmp);
        let m = finite.len();
        let median = if m % 2 == 1 {
            finite[m / 2]
        } else {
            (finite[m / 2 - 1] + finite[m / 2]) / 2.0
        };
        2.0 * median * (2.0 / k as f64).sqrt()
    };
    let p = if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let sampling = if n > 0 {
        2.0 * (2.0 * p * (1.0 - p) / n as f64).sqrt()
    } else {
        0.0
    };
    seeds.max(sampling).max(0.001)
}

/// The two-sided 95% Wilson score interval of a proportion `p` observed on `n` examples
/// (Wilson 1927; unlike `p ± 1.96·sqrt(p(1−p)/n)` it stays inside [0, 1] and is not
/// empty at p = 0 or 1). `(p, p)` when `n` is 0.
pub fn wilson95(p: f64, n: usize) -> (f64, f64) {
    if n == 0 || !p.is_finite() {
        return (p, p);
    }
    let z = 1.959_963_984_540_054_f64;
    let n = n as f64;
    let z2n = z * z / n;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt() / (1.0 + z2n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// How sure a reported proportion is, the way the data supports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Uncertain {
    /// The mean over runs (the value itself with one run).
    pub mean: f64,
    /// Lower and upper end of the bar drawn around it.
    pub lo: f64,
    pub hi: f64,
    /// What `lo..hi` is.
    pub kind: Spread,
}

/// What an [`Uncertain`]'s interval means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Mean ± the sample standard deviation over several seeds.
    Seeds,
    /// The 95% Wilson interval of one measurement on the test examples (one seed, or
    /// seeds that all gave the same number).
    Binomial,
}

impl Uncertain {
    /// From the runs' values (one per seed), each measured on `n` test examples: the
    /// seeds' spread when there are several that differ, else the binomial interval.
    pub fn of(values: &[f64], n: usize) -> Uncertain {
        let (mean, sd) = mean_std(values);
        Uncertain::of_summary(mean, sd, values.len(), n)
    }

    /// As [`Uncertain::of`], from the mean and sample standard deviation of `k` runs.
    pub fn of_summary(mean: f64, sd: f64, k: usize, n: usize) -> Uncertain {
        // Spread that prints as 0.00 points says nothing; the test set's sampling error
        // is then the honest bar.
        if k >= 2 && 100.0 * sd >= 0.005 {
            Uncertain {
                mean,
                lo: mean - sd,
                hi: mean + sd,
                kind: Spread::Seeds,
            }
        } else {
            let (lo, hi) = wilson95(mean, n);
            Uncertain {
                mean,
                lo,
                hi,
                kind: Spread::Binomial,
            }
        }
    }

    /// As a percentage for a table: `98.10 ± 0.20%` (seeds) or `98.10% (96.52–99.05)`
    /// (95% interval) — never `± 0.00`.
    pub fn cell(&self) -> String {
        match self.kind {
            Spread::Seeds => pct_pm(self.mean, (self.hi - self.lo) / 2.0),
            Spread::Binomial => format!(
                "{} ({:.2}–{:.2})",
                pct(self.mean),
                100.0 * self.lo,
                100.0 * self.hi
            ),
        }
    }
}

/// A sentence saying what the intervals of a table or plot are, for `values_per_cell`
/// seeds scored on `n` test examples.
pub fn spread_note(seeds: usize, n: usize) -> String {
    if seeds >= 2 {
        format!(
            "Cells read mean ± standard deviation over the {seeds} seeds (error bars: the same); where the seeds agree to 0.01 points the 95% binomial interval of the score on the {n} test examples is shown in brackets instead."
        )
    } else {
        format!(
            "One seed, so there is no seed-to-seed spread to show: the brackets (and error bars) are the 95% binomial (Wilson) interval of one score on {n} test examples — the sampling error of the test set alone; a second seed would add training noise on top."
        )
    }
}

/// The banner a `--quick` run's report opens with.
pub fn quick_banner(r: &mut crate::report::Report, data: &DataSettings) {
    if data.quick {
        r.banner(format!(
            "Quick run (--quick): {} training and {} test examples and shortened training. The numbers show the method works end to end, not the paper's results; run without --quick for those.",
            data.train_examples, data.test_examples
        ));
    }
}

/// The `q`-th percentile (0..=100) of `v` by linear interpolation between order
/// statistics (NaN for an empty slice).
pub fn percentile(v: &[f32], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s: Vec<f32> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let pos = (q / 100.0).clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let f = pos - lo as f64;
    s[lo] as f64 * (1.0 - f) + s[hi] as f64 * f
}

/// `12.34%`.
pub fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// `12.34 ± 0.56%` (percentages of fractions).
pub fn pct_pm(m: f64, s: f64) -> String {
    format!("{:.2} ± {:.2}%", 100.0 * m, 100.0 * s)
}

/// Parse `"0,1,2"` into numbers.
pub fn parse_list<T: std::str::FromStr>(s: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<T>()
                .map_err(|_| anyhow::anyhow!("'{t}' in '{s}' is not a number"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[4.0]), (4.0, 0.0));
        let v: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        assert!((percentile(&v, 15.0) - 15.0).abs() < 1e-9);
        assert!((percentile(&v, 50.0) - 50.0).abs() < 1e-9);
        assert!((percentile(&[1.0, 3.0], 50.0) - 2.0).abs() < 1e-9);
        assert_eq!(parse_list::<u32>("0, 1,2").unwrap(), vec![0, 1, 2]);
        // σ = 0.01 (the median; the outlier 0.5 is ignored), 2 runs each: 2·0.01·1 = 0.02.
        // (no test-set term: n = 0).
        assert!((noise_threshold(&[0.01, 0.01, 0.5], 2, 0.9, 0) - 0.02).abs() < 1e-12);
        assert_eq!(noise_threshold(&[0.0], 1, 0.5, 0), 0.001);
        // One seed: the test set's sampling error decides. p = 0.9 on 485 examples:
        // 2·sqrt(2·0.09/485) ≈ 0.0385 (3.9 points), not 0.1.
        let t = noise_threshold(&[0.0], 1, 0.9, 485);
        assert!((t - 2.0 * (0.18f64 / 485.0).sqrt()).abs() < 1e-12, "{t}");
        assert!(t > 0.03);
        assert!(parse_list::<u32>("0,x").is_err());
    }

    #[test]
    fn intervals_follow_the_data() {
        // Wilson interval of 90/100 (textbook: 0.8256..0.9448).
        let (lo, hi) = wilson95(0.9, 100);
        assert!(
            (lo - 0.8256).abs() < 1e-3 && (hi - 0.9448).abs() < 1e-3,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson95(1.0, 50);
        assert!(hi == 1.0 && lo < 0.95 && lo > 0.9);
        // One seed: binomial, and never "± 0.00".
        let one = Uncertain::of(&[0.95], 485);
        assert_eq!(one.kind, Spread::Binomial);
        assert!(one.lo < 0.95 && one.hi > 0.95);
        assert!(!one.cell().contains('±'), "{}", one.cell());
        assert!(one.cell().starts_with("95.00% ("), "{}", one.cell());
        // Seeds that differ: their spread.
        let many = Uncertain::of(&[0.90, 0.92, 0.94], 485);
        assert_eq!(many.kind, Spread::Seeds);
        assert_eq!(many.cell(), "92.00 ± 2.00%");
        // Seeds that agree: back to the test set's interval.
        let same = Uncertain::of(&[0.9, 0.9], 485);
        assert_eq!(same.kind, Spread::Binomial);
        assert!(!same.cell().contains("± 0.00"));
    }

    #[test]
    fn subsample_is_seeded_and_ordered() {
        let ds = Dataset::new(
            vec![1],
            (0..100).map(|i| i as f32).collect(),
            vec![0; 100],
            1,
            vec!["0".into()],
        )
        .unwrap();
        let a = subsample(&ds, Some(10));
        let b = subsample(&ds, Some(10));
        assert_eq!(a.x, b.x);
        assert_eq!(a.len(), 10);
        assert!(a.x.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(subsample(&ds, Some(1000)).len(), 100);
    }
}
