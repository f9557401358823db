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
//! No test label plays any part: the pool's labels are the dense model's predictions.
//! With many training rows (MNIST's 54 000) nothing changes (`below_rows`).
//!
//! Not here: the stages and the guard themselves (`compress`, `guard`), MUNGE
//! (`shrink_data::munge`), the distillation losses (`train::loss`).

use super::{net_from, CompressConfig};
use crate::batch::{self, Batcher};
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
}

impl Default for SmallDataConfig {
    fn default() -> Self {
        SmallDataConfig {
            below_rows: 5000,
            transfer_rows: 10_000,
            pool_rows: 5000,
            max_disagreement: 0.002,
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
    let judged = CompressConfig {
        max_val_drop: if cfg.max_val_drop >= 1.0 {
            cfg.max_val_drop
        } else {
            sd.max_disagreement
        },
        ..cfg.clone()
    };
    let said = format!(
        "note: small data ({n} training rows < {}): retraining and fine-tuning fit the dense model on {} rows ({n} + {} MUNGE); each stage may change at most {:.2}% of its predictions on {} rows (validation, training, {} MUNGE)",
        sd.below_rows,
        transfer.len(),
        transfer.len() - n,
        100.0 * judged.max_val_drop / 2.0,
        pool.len(),
        synthetic.len()
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
