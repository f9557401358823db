//! Logits already computed in this process, given again instead of computed again: the
//! same network (its structure and every parameter, bit for bit) on the same examples
//! (bit for bit), with the same normalisation, batch size and device, computes the same
//! logits (Burn's Flex kernels sum in an order fixed by the shapes), so nothing a
//! command prints or writes changes. A compression run evaluates one model several
//! times: after its last training epoch, for the run's `result.json`, as the dense or
//! pruned or fine-tuned model of the report, as the guard's reference after each
//! round; each of those after the first is a lookup here.
//!
//! Keys are exact: the network's `Debug` form with parameter ids taken out (layer kinds,
//! strides, paddings, dilations, groups, epsilons, pooling ops, blocks), its parameters
//! read out as values, and a copy of the examples; compared whole, never hashed. A
//! network with batch norm (running statistics, which have no such form) is not
//! cached; neither are data sets over [`MAX_VALUES`] values nor networks over
//! [`MAX_PARAMS`] parameters (the key's copies would cost too much memory). The last
//! [`ENTRIES`] results are kept (a validation and a test split).
//!
//! Not here: computing logits (`batch::logits_in_batches`, which asks here first).

use crate::model::params::ParamTable;
use crate::model::Net;
use burn::module::Module;
use burn::prelude::Device;
use shrink_format::spec::NormalizeSpec;
use std::sync::Mutex;

/// Results kept: the latest network's validation and test logits.
const ENTRIES: usize = 2;

/// Largest data set (values) whose logits are kept: a copy of it is part of the key.
const MAX_VALUES: usize = 1 << 24;

/// Largest network (parameters) that is cached: its parameters are read out for the key.
const MAX_PARAMS: usize = 1 << 24;

/// What decides a batch of logits besides the examples.
#[derive(PartialEq)]
pub(crate) struct Key {
    structure: String,
    params: ParamTable,
    device: String,
    shape: Vec<usize>,
    norm: Option<NormalizeSpec>,
    batch: usize,
}

struct Entry {
    key: Key,
    x: Vec<f32>,
    logits: Vec<f32>,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

impl Key {
    /// The key of `net` run on `device` in batches of `batch` over `values` input
    /// values of `shape` normalised by `norm`; `None` when it is not cached (batch norm,
    /// parameters that cannot be read, more than [`MAX_VALUES`] or [`MAX_PARAMS`]).
    pub(crate) fn of(
        net: &Net,
        shape: &[usize],
        norm: Option<&NormalizeSpec>,
        device: &Device,
        batch: usize,
        values: usize,
    ) -> Option<Key> {
        if values > MAX_VALUES || net.num_params() > MAX_PARAMS {
            return None;
        }
        let structure = structure(&format!("{net:?}"))?;
        Some(Key {
            structure,
            params: ParamTable::from_net(net).ok()?,
            device: format!("{device:?}"),
            shape: shape.to_vec(),
            norm: norm.cloned(),
            batch,
        })
    }

    /// The logits kept for this key on examples `x`, if any.
    pub(crate) fn get(&self, x: &[f32]) -> Option<Vec<f32>> {
        let cache = CACHE.lock().ok()?;
        cache
            .iter()
            .find(|e| e.key == *self && same_bits(&e.x, x))
            .map(|e| e.logits.clone())
    }

    /// Keep `logits` for this key on examples `x` (the oldest entry goes).
    pub(crate) fn put(self, x: &[f32], logits: &[f32]) {
        let Ok(mut cache) = CACHE.lock() else {
            return;
        };
        if cache.len() >= ENTRIES {
            cache.remove(0);
        }
        cache.push(Entry {
            key: self,
            x: x.to_vec(),
            logits: logits.to_vec(),
        });
    }
}

/// Equal as bits (`==` on floats would take 0.0 for -0.0 and never match a NaN).
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits())
}

/// A network's `Debug` form without its parameter ids (`Param: <id> - `), which differ
/// between two copies of one network; `None` when it holds running statistics.
fn structure(debug: &str) -> Option<String> {
    if debug.contains("RunningState") {
        return None;
    }
    const MARK: &str = "Param: ";
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at + MARK.len()]);
        let after = &rest[at + MARK.len()..];
        let skip = after.find(" - ")?;
        rest = &after[skip + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests;
