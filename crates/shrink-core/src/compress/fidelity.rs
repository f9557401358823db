//! Compression on small data judged by fidelity: the compressed model's job is to agree
//! with the dense one.
//!
//! On a table of a few hundred rows, the test split has 25–110 rows, so one point of test
//! error is less than one row: the `.shrk` must predict (nearly) every test row as the
//! dense model does. Retraining after pruning, and centroid fine-tuning, on the 100–500
//! labelled training rows re-fit a small, noisy set and move borderline predictions that
//! nothing measured — the 20–40 validation rows cannot see the one or two test rows that
//! move (issue 11, BENCHMARKS.md "Held-out small sets").
//!
//! What Buciluǎ, Caruana and Niculescu-Mizil ("Model Compression", KDD 2006;
//! docs/PAPERS.md §3) do for a small model that must imitate a large one applies here:
//! label many synthetic examples near the data (MUNGE, `shrink_data::munge`) with the
//! model to be imitated, and let the imitator learn from all of them. When the training
//! split has fewer than [`SmallDataConfig::below_rows`] rows, [`for_small_data`] turns
//! the compression's data into
//!
//! 1. a **transfer set** as the training split: the training rows plus
//!    [`SmallDataConfig::transfer_rows`] MUNGE rows, labelled by the dense model's
//!    predictions. Retraining and fine-tuning fit the model's own outputs on every row
//!    (distillation, `[compress] distill`, on by default), so the compressed model is
//!    taught the dense model's function where the data lie, not the few labels again;
//! 2. a **fidelity pool** as the validation split: the validation rows, the training rows
//!    and [`SmallDataConfig::pool_rows`] MUNGE rows of another seed, each labelled by the
//!    dense model's prediction. The stages' guard (`guard`) then measures, on thousands
//!    of rows instead of 20–40, how many predictions a stage moves away from the dense
//!    model's: a pruning round that moves more than half of
//!    [`SmallDataConfig::max_disagreement`] of them is undone (pruning stops), and weight
//!    sharing that does is redone with one more bit.
//!
//! Refinements (issue 11, third and fifth sessions), for the test rows that the dense
//! model nearly ties on, which any change of its logits may flip:
//!
//! 3. **near flips**: the guard counts a pool row as moved when a stage closes at least
//!    `1 / safety` of its margin ([`SmallDataConfig::safety`], [`near_flip_rate`]), not
//!    only when its prediction changes, so a stage must stay well short of flipping the
//!    pool's near-ties;
//! 4. **k-means or fine-tuned centroids**: fine-tuning centroids on a few hundred rows
//!    can move the pool more than k-means alone did; the one closer to the pruned
//!    model's pool outputs is kept ([`closer_sharing`]).
//!
//! 5. **flips at ties on unseen rows**: the pool is a poor judge of near-ties (its rows
//!    are training rows and MUNGE rows near them, which the dense model is sure of), so
//!    every stage is also judged by an estimate of the fraction of unseen rows it flips
//!    ([`tie_flip_rate`]: the validation rows' density of margins near 0 times the
//!    pool's mean closing), at most [`tie_budget`]: the rate at which flips cost more
//!    than `max_val_drop` of the test split with a chance of [`SmallDataConfig::tie_risk`];
//! 6. **weights not shared** as the last rungs: when every layer at 8 bits still fails
//!    the guard on accuracy or flips at ties (near flips choose the bits below 8 only),
//!    the weights are stored in half precision, or as they are if that fails too
//!    ([`unshared`]); a 256-centroid codebook moves a small net's logits enough to
//!    flip a test row at a near-exact tie, and one row of 50 is 2 points. On the small
//!    sets of issue 11 about two thirds of the runs end in half precision (about 1.95×
//!    smaller than float32), a quarter keep 8-bit sharing, a few their weights as they
//!    are, and pruning is mostly undone (BENCHMARKS.md, "Ties on unseen rows").
//!
//! No test label plays any part: the pool's labels are the dense model's predictions.
//! With many training rows (MNIST's 54 000) nothing changes (`below_rows`).
//!
//! Not here: the stages and the guard themselves (`compress`, `guard`), MUNGE
//! (`shrink_data::munge`), the distillation losses (`train::loss`).

use super::guard::{self, margin, ValOutputs};
use super::{net_from, CompressConfig, QuantMap, Sharing, Stage};
use crate::batch::{self, argmax, Batcher};
use crate::model::params::ParamTable;
use anyhow::{Context, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use shrink_data::{Dataset, MungeOptions, TableSchema};
use shrink_format::spec::ModelSpec;

/// Settings of the small-data step (`[compress.small_data]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmallDataConfig {
    /// The step is on when the training split (after the validation rows are split off)
    /// has fewer rows than this; 0 turns it off.
    pub below_rows: usize,
    /// MUNGE rows added to the training split (the transfer set).
    pub transfer_rows: usize,
    /// MUNGE rows (another seed) in the fidelity pool, besides the training and
    /// validation rows.
    pub pool_rows: usize,
    /// Most of the fidelity pool whose dense prediction compression may change (a
    /// fraction; half of it per stage): replaces `max_val_drop` when the step is on. The
    /// pool's rows are near training rows, where the dense model is surer than on unseen
    /// rows, so unseen rows change more often than pool rows do: 0.5% per stage still
    /// moved 2–3 test rows of 60–110 (BENCHMARKS.md, issue 11). A `max_val_drop` of 1
    /// or more (no guard at all, as `budget`'s attempts ask) is kept.
    pub max_disagreement: f64,
    /// Near-ties weigh more: on the fidelity pool a row counts as moved by a stage when
    /// the stage closes at least `1 / safety` of its margin (the starting model's top
    /// logit minus its runner-up), not only when its prediction changes. An unseen row
    /// near the decision boundary flips under a smaller push than any pool row does, so
    /// the guard bounds how close the stage comes to flipping pool rows (see
    /// [`near_flip_rate`]). 1 counts changed predictions only.
    pub safety: f64,
    /// The most chance a stage may take that the rows it flips at near-ties cost more
    /// than `max_val_drop` of the test split ([`tie_budget`] turns it into a most
    /// fraction of unseen rows flipped, judged by [`tie_flip_rate`]). On 96 test rows at
    /// the default 1% and 0.005 that is 1.0e-4 of the rows (one lost row is over a
    /// point); on 120 rows, 1.7e-3 (two are). 0 allows no flip at all: weight sharing
    /// that fails even at 8 bits is stored in half precision, or as it is ([`unshared`]).
    pub tie_risk: f64,
    /// Set by [`for_small_data`] on the settings it returns (the step is on): the guard
    /// then judges by [`near_flip_rate`] and [`tie_flip_rate`], and weight sharing keeps
    /// plain k-means centroids when fine-tuning them moves the pool further
    /// (`quantize_stage`). Not a setting.
    #[serde(skip)]
    pub judging: bool,
    /// Set by [`for_small_data`]: how many of the fidelity pool's first rows are the
    /// validation rows (rows no training saw, whose margins [`tie_flip_rate`] takes as
    /// those of unseen rows). Not a setting.
    #[serde(skip)]
    pub unseen_rows: usize,
    /// Set by [`for_small_data`]: the most fraction of unseen rows a stage may be
    /// estimated to flip at near-ties ([`tie_budget`] of `tie_risk`). Not a setting.
    #[serde(skip)]
    pub tie_budget: f64,
}

impl Default for SmallDataConfig {
    fn default() -> Self {
        SmallDataConfig {
            below_rows: 5000,
            transfer_rows: 10_000,
            pool_rows: 5000,
            max_disagreement: 0.002,
            safety: 2.0,
            tie_risk: 0.005,
            judging: false,
            unseen_rows: 0,
            tie_budget: 0.0,
        }
    }
}

impl SmallDataConfig {
    /// Checks that the settings can be used.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.max_disagreement) {
            anyhow::bail!(
                "small_data.max_disagreement must be in [0, 1], got {}",
                self.max_disagreement
            );
        }
        if !(self.safety.is_finite() && self.safety >= 1.0) {
            anyhow::bail!("small_data.safety must be at least 1, got {}", self.safety);
        }
        if !(0.0..=1.0).contains(&self.tie_risk) {
            anyhow::bail!(
                "small_data.tie_risk must be in [0, 1], got {}",
                self.tie_risk
            );
        }
        Ok(())
    }

    /// Whether the step applies to a training split of `train_rows` rows.
    pub fn applies(&self, train_rows: usize) -> bool {
        train_rows > 0 && train_rows < self.below_rows
    }
}

/// Seeds of the two MUNGE samples, apart from each other and from the training seed.
const TRANSFER_SEED: u64 = 0x5EED_0001;
const POOL_SEED: u64 = 0x5EED_0002;

/// `data` itself when its training split is not small (see [`SmallDataConfig`]);
/// otherwise `data` with the transfer set as its training split and the fidelity pool as
/// its validation split (module docs), both labelled by the predictions of (`spec`,
/// `table`), the dense model being compressed, and the settings with `max_val_drop` set
/// to [`SmallDataConfig::max_disagreement`] (unless it is 1 or more: no guard). Returns a
/// line saying what was done.
pub fn for_small_data(
    data: Batcher,
    spec: &ModelSpec,
    table: &ParamTable,
    schema: Option<&TableSchema>,
    cfg: &CompressConfig,
    seed: u64,
    device: &Device,
) -> Result<(Batcher, CompressConfig, Option<String>)> {
    let sd = &cfg.small_data;
    let n = data.train_len();
    if !sd.applies(n) {
        return Ok((data, cfg.clone(), None));
    }
    let net = net_from(spec, table, device)?;
    let label = |mut ds: Dataset| -> Dataset {
        ds.y = batch::predictions(&net, &ds, &data.shape, data.norm.as_ref(), device);
        ds
    };
    let made = |size: usize, s: u64| -> Result<Dataset> {
        let opts = MungeOptions {
            size,
            seed: seed ^ s,
            ..MungeOptions::new(size)
        };
        shrink_data::munge(&data.train, schema, &opts, None).context("MUNGE for small data")
    };
    // 1. Transfer set: the training rows (labelled by the model, like the rest) and MUNGE
    // rows near them.
    let transfer = label(concat(&[
        &data.train,
        &made(sd.transfer_rows, TRANSFER_SEED)?,
    ]));
    // 2. Fidelity pool: validation + training rows + MUNGE rows of another seed.
    let synthetic = made(sd.pool_rows, POOL_SEED)?;
    let mut parts: Vec<&Dataset> = Vec::new();
    if let Some(v) = data.val.as_ref() {
        parts.push(v);
    }
    parts.push(&data.train);
    parts.push(&synthetic);
    let pool = label(concat(&parts));
    let guarded = cfg.max_val_drop < 1.0;
    let judged = CompressConfig {
        max_val_drop: if guarded {
            sd.max_disagreement
        } else {
            cfg.max_val_drop
        },
        small_data: SmallDataConfig {
            judging: guarded,
            unseen_rows: data.val.as_ref().map_or(0, |v| v.len()),
            tie_budget: tie_budget(sd.tie_risk, cfg.max_val_drop, data.test.len()),
            ..sd.clone()
        },
        ..cfg.clone()
    };
    let said = format!(
        "note: small data ({n} training rows < {}): retraining and fine-tuning fit the dense model on {} rows ({n} + {} MUNGE); each stage may move at most {:.2}% of its predictions ({}) on {} rows (validation, training, {} MUNGE), and flip an estimated {:.4}% of unseen rows at near-ties (on {} test rows, a chance of {} that flips cost more than {:.1}%)",
        sd.below_rows,
        transfer.len(),
        transfer.len() - n,
        100.0 * judged.max_val_drop / 2.0,
        if sd.safety > 1.0 {
            format!("counting rows whose margin closes by 1/{} or more", sd.safety)
        } else {
            "changed ones".to_string()
        },
        pool.len(),
        synthetic.len(),
        100.0 * judged.small_data.tie_budget,
        data.test.len(),
        sd.tie_risk,
        100.0 * cfg.max_val_drop
    );
    Ok((
        Batcher {
            train: transfer,
            val: Some(pool),
            ..data
        },
        judged,
        Some(said),
    ))
}

/// The fraction of rows that a stage moves *near* a flip: those where `after` closes at
/// least `1 / safety` of the margin `before` gives its top class (`m − m' ≥ m / safety`,
/// `m'` the same class's margin afterwards). Every changed prediction counts (`m' < 0`),
/// and so do rows pushed most of the way: a row of margin 0.4 whose margin drops to 0.15
/// counts at `safety` 2. Near-ties weigh more in effect: a small push already counts for
/// them, as it would flip an unseen row a little closer to the boundary.
pub fn near_flip_rate(before: &ValOutputs, after: &ValOutputs, safety: f64) -> f64 {
    let n = before.labels.len();
    if n == 0 || before.logits.len() != after.logits.len() {
        return if n == 0 { 0.0 } else { 1.0 };
    }
    if before.k() < 2 {
        return 0.0;
    }
    let moved = (0..n)
        .filter(|&i| {
            let (r0, r1) = (before.row(i), after.row(i));
            let t = argmax(r0);
            let m = margin(r0, t);
            let closing = m - margin(r1, t);
            argmax(r1) != t || f64::from(closing) >= f64::from(m) / safety
        })
        .count();
    moved as f64 / n as f64
}

/// The most fraction of unseen rows a stage may flip at near-ties so that, on a test
/// split of `n` rows, the chance that they cost more than `max_drop` of its accuracy is
/// at most `risk`. A flip at a tie loses the row or gains it about equally often; counting
/// only the losses (a bound), they are Poisson with mean `μ = rate · n / 2`, and more than
/// `max_drop` is `k = ⌊max_drop · n⌋ + 1` of them: the rate is `2 μ / n` for the largest
/// `μ` with `P(Poisson(μ) ≥ k) ≤ risk`. On fewer than `1 / max_drop` test rows one lost row
/// is too many (`k = 1`, `μ = −ln(1 − risk)`); on more, `k` grows and so does the rate.
/// `risk` 0 gives 0 (no flip allowed), 1 gives 1.
pub fn tie_budget(risk: f64, max_drop: f64, n: usize) -> f64 {
    if risk >= 1.0 || n == 0 {
        return 1.0;
    }
    if risk <= 0.0 {
        return 0.0;
    }
    let k = (max_drop.max(0.0) * n as f64 + 1e-9).floor() as u64 + 1;
    // P(Poisson(mu) >= k) = 1 - sum_{i<k} e^-mu mu^i / i!, increasing in mu.
    let tail = |mu: f64| -> f64 {
        let (mut term, mut sum) = ((-mu).exp(), 0.0);
        for i in 0..k {
            sum += term;
            term *= mu / (i + 1) as f64;
        }
        (1.0 - sum).max(0.0)
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while tail(hi) <= risk && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if tail(mid) <= risk {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (2.0 * lo / n as f64).min(1.0)
}

/// Width of the margin window (in logits) whose share of the unseen rows estimates their
/// margins' density near 0 ([`tie_flip_rate`]): for two classes, probabilities between
/// 0.27 and 0.73.
pub const TIE_WINDOW: f32 = 1.0;

/// An estimate of the fraction of *unseen* rows whose prediction a stage flips: the
/// density of unseen rows' margins near 0 times how far the stage closes margins on
/// average. A row of margin `m` flips when the stage closes it by `d ≥ m`; with margins
/// spread evenly near 0 at density `g` (rows per unit of margin), that happens to a
/// fraction `g · E[max(d, 0)]` of the rows.
///
/// `g` comes from the validation rows, the first `unseen` rows of the pool: rows no
/// training saw, whose share within [`TIE_WINDOW`] of a tie, divided by its width,
/// estimates it (or from the whole pool, when that is larger or there are no validation
/// rows). The closing `d` comes from every pool row. The pool itself is a poor judge of
/// ties: its training rows and the MUNGE rows near them are ones the dense model is
/// sure of (a 5 384-row pool had no margin under 0.008 where a 96-row test split had
/// one of 0.0013), so counting pool rows that flip ([`near_flip_rate`]) misses what
/// half-precision weights, moving margins by ~0.001, do to unseen rows at a near-tie.
pub fn tie_flip_rate(before: &ValOutputs, after: &ValOutputs, unseen: usize) -> f64 {
    let n = before.labels.len();
    if n == 0 || before.logits.len() != after.logits.len() {
        return if n == 0 { 0.0 } else { 1.0 };
    }
    if before.k() < 2 {
        return 0.0;
    }
    let (margins, closings) = guard::margins_and_closings(before, after);
    // Rows within the window of a tie, per row and per logit of width.
    let density = |m: &[f32]| -> f64 {
        let near = m.iter().filter(|&&m| m < TIE_WINDOW).count();
        near as f64 / (m.len().max(1) as f64 * f64::from(TIE_WINDOW))
    };
    let g = density(&margins[..unseen.min(n)]).max(density(&margins));
    let closing: f64 = closings.iter().map(|&d| f64::from(d.max(0.0))).sum();
    (g * closing / n as f64).min(1.0)
}

/// Of two weight-sharing results for the same layers — centroids fine-tuned, and plain
/// k-means centroids (`plain`: the pruned `table` with each shared weight set to its
/// k-means centroid) — the one closer to `reference` (the pruned model's pool outputs):
/// fewer near flips ([`near_flip_rate`]), then the smaller mean squared logit distance.
/// Fine-tuning on a few hundred rows (and MUNGE rows near them) can move the pool further
/// than k-means alone did. Returns the chosen parameters and codebooks, and whether the
/// plain ones were chosen.
pub fn closer_sharing(
    st: &Stage,
    spec: &ModelSpec,
    table: &ParamTable,
    reference: &ValOutputs,
    tuned: (ParamTable, QuantMap),
    plain: QuantMap,
) -> Result<((ParamTable, QuantMap), bool)> {
    let mut ptable = table.clone();
    for (name, (_, q)) in &plain {
        ptable.get_mut(name).context("shared weight in table")?.data = q.values();
    }
    let score = |t: &ParamTable| -> Result<(f64, f64)> {
        let Some(out) = guard::val_outputs(st, spec, t)? else {
            return Ok((0.0, 0.0));
        };
        let d2 = reference
            .logits
            .iter()
            .zip(&out.logits)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / reference.logits.len().max(1) as f64;
        Ok((
            near_flip_rate(reference, &out, st.cfg.small_data.safety),
            d2,
        ))
    };
    let (t, p) = (score(&tuned.0)?, score(&ptable)?);
    st.say(format!(
        "      centroids: fine-tuned {:.2}% near flips (mean squared logit change {:.2e}), k-means only {:.2}% ({:.2e}): {}",
        100.0 * t.0,
        t.1,
        100.0 * p.0,
        p.1,
        if p < t { "k-means kept" } else { "fine-tuned kept" }
    ));
    Ok(if p < t {
        ((ptable, plain), true)
    } else {
        (tuned, false)
    })
}

/// The last rungs of weight sharing on small data, when sharing every layer at 8 bits
/// still fails the guard on accuracy or flips at ties (`v`, against `reference`: the pool
/// outputs of `table`, the pruned model; near flips only choose the bits below 8): the
/// weights `names` are not shared. First each is rounded to half precision (the file
/// then stores them in 16 bits, format version 2): kept when the guard passes on the
/// same terms; else they are kept exactly as in `table` (32 bits). The other tensors
/// (biases) stay as in `table`, and nothing is fine-tuned: what the guard measured is
/// what is written.
///
/// Why: a 256-centroid codebook moves a small net's logits by about 0.02 (root mean
/// square), enough to flip a test row on which the dense model is at a near-exact tie
/// (probabilities 0.504 / 0.496); on 50 test rows that row is 2 points. Half precision
/// moved a 480-row table's margins by 0.001 (root mean square), twenty times less; only
/// the weights as they are move nothing.
pub fn unshared(
    st: &Stage,
    spec: &ModelSpec,
    names: &[String],
    table: &ParamTable,
    reference: &ValOutputs,
    v: &guard::Verdict,
) -> Result<Sharing> {
    st.say(format!(
        "      weight sharing at 8 bits: {}: weights not shared",
        v.describe()
    ));
    let mut half = table.clone();
    for name in names {
        let p = half.get_mut(name).context("weight in table")?;
        p.data
            .iter_mut()
            .for_each(|w| *w = shrink_format::half::round_to_f16(*w));
    }
    let after = guard::val_outputs(st, spec, &half)?.unwrap_or(reference.clone());
    let v = guard::Verdict::judge(reference, &after, v.budget, st.cfg);
    let passes = v.passes_leaving_near_flips();
    st.say(format!(
        "      weights in half precision: {}: {}",
        v.describe(),
        if passes {
            "kept (16 bits each)"
        } else {
            "weights kept as they are (32 bits each)"
        }
    ));
    Ok(Sharing {
        table: if passes { half } else { table.clone() },
        quant: QuantMap::new(),
        weights_in_half: passes,
    })
}

/// The examples of `parts`, one after another (labels kept).
fn concat(parts: &[&Dataset]) -> Dataset {
    let first = parts[0];
    let mut out = Dataset {
        x: Vec::with_capacity(parts.iter().map(|d| d.x.len()).sum()),
        y: Vec::with_capacity(parts.iter().map(|d| d.len()).sum()),
        ..first.clone()
    };
    out.x.clear();
    out.y.clear();
    for d in parts {
        out.x.extend_from_slice(&d.x);
        out.y.extend_from_slice(&d.y);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_below_the_row_count_only() {
        let c = SmallDataConfig::default();
        assert!(c.applies(100) && c.applies(4999));
        assert!(!c.applies(5000) && !c.applies(54_000) && !c.applies(0));
        let off = SmallDataConfig { below_rows: 0, ..c };
        assert!(!off.applies(100));
    }

    /// Two-class pool outputs with logits `[0, z]` for each `z` (labels: class 1).
    fn two(z: &[f32]) -> ValOutputs {
        ValOutputs {
            labels: vec![1; z.len()],
            logits: z.iter().flat_map(|&v| [0.0, v]).collect(),
        }
    }

    #[test]
    fn near_flips_count_pushes_most_of_the_way_to_a_flip() {
        // Margins 0.1 (a near-tie), 1, 2, 4. A stage closes each by 0.06: no prediction
        // changes, but the near-tie row is pushed more than half of its way.
        let before = two(&[0.1, 1.0, 2.0, 4.0]);
        let after = two(&[0.04, 0.94, 1.94, 3.94]);
        assert_eq!(near_flip_rate(&before, &after, 2.0), 0.25);
        // Counting changed predictions only (safety 1) sees nothing.
        assert_eq!(near_flip_rate(&before, &after, 1.0), 0.0);
        // A changed prediction always counts; widening a margin never does.
        assert_eq!(
            near_flip_rate(&before, &two(&[-0.01, 1.0, 2.0, 4.0]), 1.0),
            0.25
        );
        assert_eq!(
            near_flip_rate(&before, &two(&[0.5, 1.5, 2.5, 4.5]), 2.0),
            0.0
        );
        // Three classes: class 2 overtakes the runner-up without passing the top class
        // (margin 1 → 0.4: closed by 0.6, more than half).
        let three = |r: [f32; 3]| ValOutputs {
            labels: vec![0],
            logits: r.to_vec(),
        };
        assert_eq!(
            near_flip_rate(&three([2.0, 1.0, 0.0]), &three([2.0, 1.0, 1.6]), 2.0),
            1.0
        );
        assert_eq!(
            near_flip_rate(&three([2.0, 1.0, 0.0]), &three([2.0, 1.0, 1.4]), 2.0),
            0.0
        );
    }

    #[test]
    fn the_guard_judges_near_flips_on_small_data_only() {
        // 1000 pool rows; 3 near-ties (margin 0.1) closed by 0.08, none changed. The budget
        // (0.1%) allows one row: accuracy sees nothing, near flips see 0.3%.
        let mut z0 = vec![3.0f32; 1000];
        z0[..3].fill(0.1);
        let z1: Vec<f32> = z0.iter().map(|z| z - 0.08).collect();
        let (before, after) = (two(&z0), two(&z1));
        let mut cfg = CompressConfig::default();
        let v = guard::Verdict::judge(&before, &after, 0.001, &cfg);
        assert!(v.passes() && v.near_flips.is_none() && v.changed == 0);
        assert!(v.tie_flips.is_none());
        cfg.small_data.judging = true;
        // Near flips alone here (the tie estimate: `tie_flips_estimate_unseen_rows_at_ties`).
        cfg.small_data.tie_budget = 1.0;
        let v = guard::Verdict::judge(&before, &after, 0.001, &cfg);
        assert_eq!(v.near_flips, Some(0.003));
        assert!(!v.passes(), "{}", v.describe());
        // Closed by 0.04 only (less than half of 0.1): passes.
        let z2: Vec<f32> = z0.iter().map(|z| z - 0.04).collect();
        assert!(guard::Verdict::judge(&before, &two(&z2), 0.001, &cfg).passes());
    }

    #[test]
    fn tie_flips_estimate_unseen_rows_at_ties() {
        // 10 validation rows (2 within a logit of a tie: density 0.2 per logit), then
        // 990 pool rows far from ties. A stage closing every margin by 0.01 is estimated
        // to flip 0.2 · 0.01 = 0.2% of unseen rows, though no pool row comes near a flip.
        let mut z0 = vec![4.0f32; 1000];
        z0[..10].copy_from_slice(&[0.3, 0.8, 2.0, 2.5, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let z1: Vec<f32> = z0.iter().map(|z| z - 0.01).collect();
        let (before, after) = (two(&z0), two(&z1));
        let r = tie_flip_rate(&before, &after, 10);
        assert!((r - 0.002).abs() < 1e-6, "{r}");
        assert_eq!(near_flip_rate(&before, &after, 2.0), 0.0);
        // Without validation rows the pool's own density (2 in 1000) is all there is.
        let r = tie_flip_rate(&before, &after, 0);
        assert!((r - 2e-5).abs() < 1e-8, "{r}");
        // Margins that widen or stay count nothing; the same outputs flip nothing.
        assert_eq!(tie_flip_rate(&before, &before, 10), 0.0);
        let wider: Vec<f32> = z0.iter().map(|z| z + 0.5).collect();
        assert_eq!(tie_flip_rate(&before, &two(&wider), 10), 0.0);
        // The guard fails such a stage on small data (a budget of 0.01%).
        let mut cfg = CompressConfig::default();
        cfg.small_data.judging = true;
        cfg.small_data.unseen_rows = 10;
        cfg.small_data.tie_budget = 1e-4;
        let v = guard::Verdict::judge(&before, &after, 0.001, &cfg);
        assert_eq!(v.near_flips, Some(0.0));
        assert!(!v.passes(), "{}", v.describe());
        // Closing margins by 0.0001 instead (half-precision weights' order): 2e-5, passes.
        let z2: Vec<f32> = z0.iter().map(|z| z - 0.0001).collect();
        assert!(guard::Verdict::judge(&before, &two(&z2), 0.001, &cfg).passes());
    }

    #[test]
    fn safety_below_one_is_refused() {
        let c = SmallDataConfig {
            safety: 0.5,
            ..SmallDataConfig::default()
        };
        assert!(c.validate().is_err());
        assert!(SmallDataConfig::default().validate().is_ok());
        let c = SmallDataConfig {
            tie_risk: -1e-4,
            ..SmallDataConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn the_tie_budget_follows_the_test_split() {
        // Under 100 test rows at 1%, one lost row is too many: P(Poisson(mu) >= 1) =
        // 1 - e^-mu = 0.005, so the rate is 2 mu / n.
        let mu = -(1.0f64 - 0.005).ln();
        for n in [20usize, 50, 96, 99] {
            let b = tie_budget(0.005, 0.01, n);
            assert!((b - 2.0 * mu / n as f64).abs() < 1e-9, "{n}: {b}");
        }
        // From 100 rows one lost row is within 1% (k = 2): P(Poisson(mu) >= 2) = 0.005
        // at mu = 0.1035.
        let b = tie_budget(0.005, 0.01, 120);
        assert!((b * 120.0 / 2.0 - 0.1035).abs() < 1e-3, "{b}");
        // Larger test splits allow more; a smaller risk or drop allows less.
        assert!(tie_budget(0.005, 0.01, 500) > tie_budget(0.005, 0.01, 120));
        assert!(tie_budget(0.001, 0.01, 96) < tie_budget(0.005, 0.01, 96));
        assert!(tie_budget(0.005, 0.0, 500) < tie_budget(0.005, 0.01, 500));
        // 0 allows no flip; 1 (or no test rows) anything.
        assert_eq!(tie_budget(0.0, 0.01, 96), 0.0);
        assert_eq!(tie_budget(1.0, 0.01, 96), 1.0);
        assert_eq!(tie_budget(0.005, 0.01, 0), 1.0);
    }

    #[test]
    fn concat_keeps_every_row_in_order() {
        let names = vec!["a".to_string(), "b".to_string()];
        let a = Dataset::new(vec![2], vec![1., 2., 3., 4.], vec![0, 1], 2, names.clone()).unwrap();
        let b = Dataset::new(vec![2], vec![5., 6.], vec![1], 2, names).unwrap();
        let c = concat(&[&a, &b]);
        assert_eq!(c.x, vec![1., 2., 3., 4., 5., 6.]);
        assert_eq!(c.y, vec![0, 1, 1]);
        assert_eq!(c.shape, vec![2]);
    }
}
