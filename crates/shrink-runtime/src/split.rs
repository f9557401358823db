//! A batch split by examples over threads (feature `threads`): each thread runs the
//! whole forward pass on its own consecutive examples, with its own scratch pool, and
//! writes its own rows of the logits — one spawn per part and call, instead of one per
//! large layer, and no layer too small to share.
//!
//! The logits are the same bits as with one thread: every kernel computes an example's
//! values the same way whatever the batch width, as long as it is at least 2 (the
//! sparse product's tiles, single vectors and single columns all add the bias, then
//! one multiply-add per kept weight in row order; the direct convolution's lanes and
//! the pooling are per position). Batch 1 takes the mat-vec kernels (another summation
//! order), so no part is given fewer than 2 examples, and batches of 2 or 3 are not
//! split at all.
//!
//! Not here: splitting one layer's output units over threads (what batches of 1 to 3
//! do: `SparseMatrix::mul`, `conv::try_run`); the kernels.

use crate::plan::Node;
use crate::prelude::*;
use crate::Model;
use shrink_format::spec::Cost;

/// Least estimated multiply-adds (with the kept weights) per part: below it a thread's
/// start and join cost more than its share of the work saves. On the project's 2-vCPU
/// VM a spawn and join cost ~150–400 µs of wall time (a woken vCPU, a fresh stack), and
/// the estimate runs at ~0.14 ns per multiply-add (LeNet-5 and LeNet-300-100 alike), so
/// a part must hold ~600 µs of work: LeNet-5 splits from ~54 examples, LeNet-300-100
/// from ~370 (PERF.md row 30).
pub(crate) const MIN_WORK_PER_PART: u64 = 4_000_000;

/// Fewest examples per part (see the module docs: batch 1 sums in another order).
const MIN_EXAMPLES_PER_PART: usize = 2;

/// The smallest batch that can be split. A smaller one may split its large layers
/// instead (`Model::forward_piece`); a larger one with too little work to split runs on
/// one thread (less work than two parts need means less in each layer, too).
pub(crate) const MIN_SPLIT_BATCH: usize = 2 * MIN_EXAMPLES_PER_PART;

/// Multiply-adds of one example with the kept weights, estimated as the dense count
/// times the fraction of parameters kept (at least 1).
pub(crate) fn sparse_macs(cost: &Cost, nodes: &[Node]) -> u64 {
    let kept: usize = nodes.iter().map(Node::kept_weights).sum();
    let params = u128::from(cost.params.max(1));
    let est = u128::from(cost.macs) * (kept as u128).min(params) / params;
    u64::try_from(est).unwrap_or(u64::MAX).max(1)
}

/// Into how many parts a batch is split: at most `threads`, each of at least
/// [`MIN_EXAMPLES_PER_PART`] examples and `min_work` estimated multiply-adds (0: no
/// work bound); 1 means not split.
pub(crate) fn parts(threads: usize, batch: usize, macs: u64, min_work: u64) -> usize {
    if threads < 2 || batch < MIN_SPLIT_BATCH {
        return 1;
    }
    let by_work = match min_work {
        0 => usize::MAX,
        w => usize::try_from(macs.saturating_mul(batch as u64) / w).unwrap_or(usize::MAX),
    };
    threads
        .min(batch / MIN_EXAMPLES_PER_PART)
        .min(by_work)
        .max(1)
}

/// Logits of `batch` examples `x` into `out` (`batch · classes`), in `parts` parts of
/// consecutive examples (sizes differing by at most one), part `i` on its own thread
/// with scratch pool `pools[i]` (the first on the calling thread).
pub(crate) fn forward(
    model: &Model,
    x: &[f32],
    batch: usize,
    parts: usize,
    pools: &mut Vec<Vec<Vec<f32>>>,
    out: &mut [f32],
) {
    if pools.len() < parts {
        pools.resize_with(parts, Vec::new);
    }
    let (per, extra) = (batch / parts, batch % parts);
    let (input_len, classes) = (model.input_len, model.classes);
    std::thread::scope(|s| {
        let (mut x, mut out) = (x, out);
        let mut first = None;
        for (i, pool) in pools.iter_mut().take(parts).enumerate() {
            let n = per + usize::from(i < extra);
            let (xi, x_rest) = x.split_at(n * input_len);
            let (oi, out_rest) = core::mem::take(&mut out).split_at_mut(n * classes);
            (x, out) = (x_rest, out_rest);
            if i == 0 {
                first = Some((xi, n, pool, oi));
            } else {
                s.spawn(move || model.forward_one(xi, n, pool, 1, oi));
            }
        }
        if let Some((xi, n, pool, oi)) = first {
            model.forward_one(xi, n, pool, 1, oi);
        }
    });
}
