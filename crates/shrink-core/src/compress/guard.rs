//! The validation guard of the compression stages: may a pruning round or weight sharing
//! cost more test accuracy than its budget?
//!
//! Deep Compression prunes and shares "until accuracy suffers" (Han et al. 2016 §2–3).
//! Here a stage may cost at most `budget` = half of `max_val_drop` (the other half is the
//! other stage's), judged against the model the stage starts from, on the validation
//! split only (never the test split). Two instruments:
//!
//! 1. **Accuracy.** The validation accuracy lost, `(lost − gained) / n` over the examples
//!    whose prediction went from right to wrong and back. This is the check of earlier
//!    versions, unchanged: a large split (MNIST's 6 000 images) measures a loss of the
//!    budget's size well.
//! 2. **Flip rate, where accuracy cannot see the budget** (opt-in: `[compress]
//!    small_split_guard = true`). When one validation example is
//!    worth more than the budget (`n · budget < 1`: under 200 rows at the default 1%),
//!    accuracy moves in steps larger than what it is asked to bound, and a stage that
//!    changes no validation prediction may still change a test one (weight sharing at
//!    4 bits did so on a 400-row table with 32 validation rows). So the guard also
//!    estimates how often the stage changes a prediction at all, at a finer grain than
//!    `1/n`: each example's *margin* `mᵢ` (the starting model's top logit minus its
//!    runner-up) and how far the stage *closes* that gap, `dⱼ = mⱼ − (the same top
//!    class's logit minus the largest other one, afterwards)`. A prediction changes when
//!    `d ≥ m` (whichever class overtakes); pairing every
//!    example's closing with every example's margin (they are taken as independent)
//!    estimates the rate from `n²` pairs:
//!
//!    ```text
//!    flip rate = max( #{i : dᵢ ≥ mᵢ} / n ,  #{(i, j) : dⱼ ≥ mᵢ} / n² )
//!    ```
//!
//!    Every changed prediction may be a lost one, so the stage fails when the flip rate
//!    exceeds the budget.
//!
//! A failed pruning round is undone (pruning stops there); failed weight sharing is done
//! again with one more bit for every layer below 8 bits, or, with `small_split_guard`, for
//! the layers whose sharing alone fails the guard ([`sharing_culprits`]) when any does.
//!
//! Why the flip rate is off by default: measured on the small sets of issue 11
//! (BENCHMARKS.md), it fixed two of the three misses of the sets it was built on, but on
//! held-out sets 20 of 24 rows stayed within a point against 23 of 24 without it, at about
//! half the compression. With 20–40 validation rows the estimate does not see the test
//! rows that retraining and fine-tuning move (see BENCHMARKS.md for the rows).
//!
//! On small data (`fidelity`) the split is the fidelity pool, labelled by the dense model,
//! and a stage is also judged by the rows it moves near a flip
//! (`fidelity::near_flip_rate`), which must stay within the budget, and by an estimate of
//! how many unseen rows at near-ties it flips (`fidelity::tie_flip_rate`), which must stay
//! within a budget from `[compress.small_data] tie_risk` (`fidelity::tie_budget`).
//!
//! Not here: the stages themselves (`prune_stage`, `quantize_stage` in `compress`), k-means
//! (`quantize`), the masks (`prune`).

use super::{layer_bits, net_from, quantize, CompressConfig, Stage};
use crate::batch::{argmax, Split};
use crate::model::params::ParamTable;
use anyhow::Result;
use shrink_format::spec::ModelSpec;
use std::collections::BTreeMap;

/// Validation logits of one model, `[n, k]` row-major, with the labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ValOutputs {
    /// Label of each validation example.
    pub labels: Vec<u32>,
    /// Logits, `[n, k]` row-major.
    pub logits: Vec<f32>,
}

impl ValOutputs {
    /// Logits per example (classes).
    pub(super) fn k(&self) -> usize {
        self.logits.len() / self.labels.len().max(1)
    }

    /// The logits of example `i`.
    pub(super) fn row(&self, i: usize) -> &[f32] {
        let k = self.k();
        &self.logits[i * k..(i + 1) * k]
    }

    /// Predicted class of each example.
    pub fn predictions(&self) -> Vec<u32> {
        (0..self.labels.len())
            .map(|i| argmax(self.row(i)) as u32)
            .collect()
    }
}

/// How a stage's validation outputs differ from those of the model it started from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Verdict {
    /// Validation examples.
    pub n: usize,
    /// Examples whose prediction changed (also from one wrong class to another).
    pub changed: usize,
    /// Examples that were right and are now wrong.
    pub lost: usize,
    /// Examples that were wrong and are now right.
    pub gained: usize,
    /// Estimated rate of changed predictions (module docs), when the split is too small
    /// for accuracy to see the budget; `None` otherwise.
    pub flip_rate: Option<f64>,
    /// On small data (`fidelity`, the split is the fidelity pool): the fraction of rows
    /// moved near a flip (`fidelity::near_flip_rate`), judged against the budget instead
    /// of accuracy alone; `None` otherwise.
    pub near_flips: Option<f64>,
    /// On small data: the estimated fraction of unseen rows whose prediction the stage
    /// flips (`fidelity::tie_flip_rate`), judged against `tie_budget`; `None` otherwise.
    pub tie_flips: Option<f64>,
    /// The budget judged against (a fraction of accuracy).
    pub budget: f64,
    /// The budget of `tie_flips` (`fidelity::tie_budget` of `[compress.small_data]
    /// tie_risk`).
    pub tie_budget: f64,
}

impl Verdict {
    /// Judge `after` against `before` (the same validation split) with `budget`; the flip
    /// rate too when `cfg.small_split_guard` is on and the split is small.
    pub fn judge(
        before: &ValOutputs,
        after: &ValOutputs,
        budget: f64,
        cfg: &CompressConfig,
    ) -> Verdict {
        let n = before.labels.len();
        let (p0, p1) = (before.predictions(), after.predictions());
        let mut v = Verdict {
            n,
            budget,
            ..Verdict::default()
        };
        for ((a, b), y) in p0.iter().zip(&p1).zip(&before.labels) {
            if a != b {
                v.changed += 1;
                if a == y {
                    v.lost += 1;
                } else if b == y {
                    v.gained += 1;
                }
            }
        }
        if cfg.small_split_guard && (n as f64) * budget < 1.0 && n > 0 && before.k() >= 2 {
            v.flip_rate = Some(flip_rate(before, after));
        }
        if cfg.small_data.judging {
            v.near_flips = Some(super::fidelity::near_flip_rate(
                before,
                after,
                cfg.small_data.safety,
            ));
            v.tie_flips = Some(super::fidelity::tie_flip_rate(
                before,
                after,
                cfg.small_data.unseen_rows,
            ));
            v.tie_budget = cfg.small_data.tie_budget;
        }
        v
    }

    /// Validation accuracy lost (a fraction; negative when gained).
    pub fn accuracy_loss(&self) -> f64 {
        (self.lost as f64 - self.gained as f64) / self.n.max(1) as f64
    }

    /// Whether the stage stays within its budget.
    pub fn passes(&self) -> bool {
        self.accuracy_loss() <= self.budget
            && self.flip_rate.is_none_or(|f| f <= self.budget)
            && self.near_flips.is_none_or(|f| f <= self.budget)
            && self.tie_flips.is_none_or(|f| f <= self.tie_budget)
    }

    /// Whether the stage stays within its budget leaving the near flips aside: what
    /// decides whether sharing at 8 bits, the last shared rung, is kept on small data.
    /// Near flips choose the bits below it; above it storage doubles (half precision), and
    /// only the calibrated estimate of flips at ties (`tie_flips`) and the accuracy
    /// justify that.
    pub fn passes_leaving_near_flips(&self) -> bool {
        Verdict {
            near_flips: None,
            ..*self
        }
        .passes()
    }

    /// `"2 of 32 validation predictions changed (1 lost, 1 gained), estimated flip rate
    /// 3.1%"`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} of {} validation predictions changed ({} lost, {} gained)",
            self.changed, self.n, self.lost, self.gained
        );
        if let Some(f) = self.flip_rate {
            s.push_str(&format!(
                ", estimated flip rate {:.2}% (budget {:.2}%)",
                100.0 * f,
                100.0 * self.budget
            ));
        }
        if let Some(f) = self.near_flips {
            s.push_str(&format!(
                ", {:.2}% moved near a flip (budget {:.2}%)",
                100.0 * f,
                100.0 * self.budget
            ));
        }
        if let Some(f) = self.tie_flips {
            s.push_str(&format!(
                ", unseen rows flipped at ties ~{:.4}% (budget {:.4}%)",
                100.0 * f,
                100.0 * self.tie_budget
            ));
        }
        s
    }
}

/// Margin of class `t` in `row`: `row[t]` minus the largest other logit.
pub(super) fn margin(row: &[f32], t: usize) -> f32 {
    let other = row
        .iter()
        .enumerate()
        .filter(|&(c, _)| c != t)
        .map(|(_, &z)| z)
        .fold(f32::NEG_INFINITY, f32::max);
    row[t] - other
}

/// The estimated rate of changed predictions (module docs): the larger of the observed
/// rate and the all-pairs rate of closings reaching margins.
pub fn flip_rate(before: &ValOutputs, after: &ValOutputs) -> f64 {
    let n = before.labels.len();
    if n == 0 {
        return 0.0;
    }
    let (mut margins, closings) = margins_and_closings(before, after);
    let direct = (0..n).filter(|&i| closings[i] >= margins[i]).count() as f64 / n as f64;
    margins.sort_by(f32::total_cmp);
    // For each closing, how many margins it reaches.
    let pairs: usize = closings
        .iter()
        .map(|&d| margins.partition_point(|&m| m <= d))
        .sum();
    direct.max(pairs as f64 / (n * n) as f64)
}

/// Each example's margin before (its top class's logit minus the largest other one) and
/// how far `after` closes it (the same class's margin afterwards subtracted from it).
pub(super) fn margins_and_closings(
    before: &ValOutputs,
    after: &ValOutputs,
) -> (Vec<f32>, Vec<f32>) {
    (0..before.labels.len())
        .map(|i| {
            let r0 = before.row(i);
            let t = argmax(r0);
            let m = margin(r0, t);
            (m, m - margin(after.row(i), t))
        })
        .unzip()
}

/// The validation outputs of (spec, parameters), when there is a validation split.
pub fn val_outputs(st: &Stage, spec: &ModelSpec, table: &ParamTable) -> Result<Option<ValOutputs>> {
    if !st.data.has_val() {
        return Ok(None);
    }
    let net = net_from(spec, table, st.device)?;
    Ok(Some(ValOutputs {
        labels: st.data.split(Split::Val).y.clone(),
        logits: st.data.logits(&net, Split::Val, st.device),
    }))
}

/// The layers (below 8 bits) whose weight sharing alone — k-means at their current bits,
/// every other layer as in `table`, no fine-tuning — fails the guard against `reference`
/// (the outputs of `table`): those that need more centroids.
pub fn sharing_culprits(
    st: &Stage,
    spec: &ModelSpec,
    table: &ParamTable,
    reference: &ValOutputs,
    extra: &BTreeMap<String, u8>,
    budget: f64,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in super::weight_names(spec, st.device)? {
        let p = table.get(&name).expect("weight in table");
        let bits = shared_bits(st, &name, p.shape.len(), extra);
        if bits >= 8 {
            continue;
        }
        let mask: Vec<bool> = p.data.iter().map(|v| *v != 0.0).collect();
        let q = quantize::quantize_layer(&p.data, &mask, bits, st.cfg.init, st.train_cfg.seed);
        let mut t = table.clone();
        t.get_mut(&name).expect("weight in table").data = q.values();
        if let Some(after) = val_outputs(st, spec, &t)? {
            if !Verdict::judge(reference, &after, budget, st.cfg).passes() {
                out.push(name);
            }
        }
    }
    Ok(out)
}

/// Bits of layer `name` (of tensor rank `rank`): the settings' plus what the guard added.
pub fn shared_bits(st: &Stage, name: &str, rank: usize, extra: &BTreeMap<String, u8>) -> u8 {
    (layer_bits(st.cfg, name, rank) + extra.get(name).copied().unwrap_or(0)).min(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings with the small-split guard on.
    fn on() -> CompressConfig {
        CompressConfig {
            small_split_guard: true,
            ..CompressConfig::default()
        }
    }

    /// Two-class outputs with logits `[0, z]` for each `z`.
    fn two(labels: &[u32], z: &[f32]) -> ValOutputs {
        ValOutputs {
            labels: labels.to_vec(),
            logits: z.iter().flat_map(|&v| [0.0, v]).collect(),
        }
    }

    #[test]
    fn counts_changes_lost_and_gained() {
        // Three classes; example 0 right → wrong, 1 wrong → right, 2 wrong → other wrong.
        let labels = [0, 1, 2, 0];
        let row = |c: usize| {
            let mut r = [0.0f32; 3];
            r[c] = 1.0;
            r
        };
        let out = |cs: &[usize]| ValOutputs {
            labels: labels.to_vec(),
            logits: cs.iter().flat_map(|&c| row(c)).collect(),
        };
        let v = Verdict::judge(&out(&[0, 0, 0, 0]), &out(&[1, 1, 1, 0]), 0.5, &on());
        assert_eq!((v.n, v.changed, v.lost, v.gained), (4, 3, 1, 1));
        assert_eq!(v.accuracy_loss(), 0.0);
    }

    #[test]
    fn large_splits_keep_the_accuracy_check() {
        // 6000 examples, budget 0.5% = 30: 25 net losses pass, 31 fail; no flip rate.
        let labels = vec![1u32; 6000];
        let before = two(&labels, &vec![1.0; 6000]);
        let mut z = vec![1.0; 6000];
        for v in z.iter_mut().take(25) {
            *v = -1.0;
        }
        let v = Verdict::judge(&before, &two(&labels, &z), 0.005, &on());
        assert!(v.flip_rate.is_none() && v.passes());
        for v in z.iter_mut().take(31) {
            *v = -1.0;
        }
        assert!(!Verdict::judge(&before, &two(&labels, &z), 0.005, &on()).passes());
    }

    #[test]
    fn small_splits_see_closing_margins_before_any_prediction_changes() {
        // 32 examples, margins 0.1, 0.2, …, 3.2 (all right). Closing every gap by 0.05
        // changes nothing and reaches no margin; closing by 0.15 changes one prediction
        // (the 0.1 margin) and reaches one margin from each of 32 closings: 1/32.
        let labels = vec![1u32; 32];
        let margins: Vec<f32> = (1..=32).map(|i| 0.1 * i as f32).collect();
        let before = two(&labels, &margins);
        let shifted = |d: f32| two(&labels, &margins.iter().map(|m| m - d).collect::<Vec<_>>());
        let v = Verdict::judge(&before, &shifted(0.05), 0.005, &on());
        assert_eq!(v.flip_rate, Some(0.0));
        assert!(v.passes());
        let v = Verdict::judge(&before, &shifted(0.15), 0.005, &on());
        assert_eq!(v.changed, 1);
        assert!((v.flip_rate.unwrap() - 1.0 / 32.0).abs() < 1e-9);
        assert!(!v.passes());
        // A stage that moves no prediction but closes one large gap a lot: the all-pairs
        // estimate sees it (its closing, 3.15, reaches 31 of the 32 margins: 3.0%).
        let mut z = margins.clone();
        z[31] = 0.05;
        let v = Verdict::judge(&before, &two(&labels, &z), 0.005, &on());
        assert_eq!(v.changed, 0);
        assert!((v.flip_rate.unwrap() - 31.0 / 1024.0).abs() < 1e-9, "{v:?}");
        assert!(!v.passes());
        // Off (the default): accuracy only, and no prediction changed.
        let off = CompressConfig::default();
        let v = Verdict::judge(&before, &two(&labels, &z), 0.005, &off);
        assert!(v.flip_rate.is_none() && v.passes());
    }

    #[test]
    fn any_class_overtaking_counts() {
        // Three classes: class 0 leads class 1 by 1; afterwards class 2 leads class 0.
        let before = ValOutputs {
            labels: vec![0],
            logits: vec![2.0, 1.0, 0.0],
        };
        let after = ValOutputs {
            labels: vec![0],
            logits: vec![2.0, 1.0, 2.5],
        };
        assert_eq!(flip_rate(&before, &after), 1.0);
        assert_eq!(Verdict::judge(&before, &after, 0.5, &on()).changed, 1);
    }

    #[test]
    fn opening_gaps_is_no_flip() {
        let labels = vec![1u32; 10];
        let before = two(&labels, &[1.0; 10]);
        let after = two(&labels, &[5.0; 10]);
        assert_eq!(flip_rate(&before, &after), 0.0);
    }
}
