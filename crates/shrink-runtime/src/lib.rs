//! shrink-runtime: run a `.shrk` model as it is stored — pruned and weight-shared —
//! without expanding it back to dense floats and without an ML framework.
//!
//! Deep Compression (Han, Mao, Dally, ICLR 2016) stores a layer as sparse positions and
//! codebook indices; this crate keeps exactly that in memory (compressed rows with `u16`
//! column indices and `u8` codebook indices, see `sparse.rs`) and multiplies with
//! it directly. The paper measured pruned layers 3× faster than dense at batch 1 and
//! slower at batch 64; here the batch is laid out innermost so that the sparse product
//! vectorises over it (see `crates/shrink-runtime/PERF.md`). Batch 1 is a sparse
//! mat-vec (AVX2 gathers on x86-64); [`Model::add_lookup_layout`] trades memory for a
//! faster one on AVX-512 CPUs. Kernels are chosen at run time ([`Kernels`]); other
//! targets run the portable ones.
//!
//! ```no_run
//! let bytes = std::fs::read("runs/c300/model.shrk").unwrap();
//! let model = shrink_runtime::Model::from_bytes(&bytes)?;
//! let mut ws = shrink_runtime::Workspace::default();
//! let image = vec![0.0f32; model.input_len()]; // raw values, images in [0, 1]
//! let mut logits = Vec::new();
//! model.forward(&image, 1, &mut ws, &mut logits)?;
//! # Ok::<(), shrink_runtime::RuntimeError>(())
//! ```
//!
//! On a microcontroller: without the default `std` feature the crate is `no_std` +
//! `alloc` (portable kernels, `libm` math; `firmware/cortex-m4` runs it on a Cortex-M4).
//! [`Model::working_memory`] says before running how many bytes a batch needs, and
//! [`Model::forward_in`] runs in a caller-provided buffer of that size, allocating
//! nothing (the weights are allocated once, at load).
//!
//! Not here: reading images or data sets (the caller hands over `f32` values), training,
//! writing `.shrk` files (`shrink-format`). The core path uses neither threads nor files,
//! so it builds for `wasm32-unknown-unknown`; threads are the `threads` feature.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod conv;
mod error;
mod math;
mod ops;
mod plan;
mod prelude;
mod sparse;
#[cfg(feature = "threads")]
mod split;

pub use error::RuntimeError;
pub use sparse::Kernels;

use ops::Ctx;
use plan::{Node, Tensors};
use prelude::*;
use shrink_format::spec::{Cost, ModelSpec};
use shrink_format::{Limits, ShrkModel};

/// A model ready to run: the spec, and one executable node per layer holding its
/// weights in compressed form.
#[derive(Debug)]
pub struct Model {
    spec: ModelSpec,
    input_len: usize,
    classes: usize,
    /// Per channel (images) or feature (tables): `(mean, std)`, and the values per
    /// channel of one example.
    normalize: Option<(Vec<f32>, Vec<f32>)>,
    plane: usize,
    nodes: Vec<Node>,
    kernels: Kernels,
    threads: usize,
    cost: Cost,
    /// Largest batch one pass runs; [`Model::forward`] splits larger ones.
    max_batch: usize,
    /// Estimated multiply-adds per example with the kept weights (see `split`).
    #[cfg(feature = "threads")]
    sparse_macs: u64,
    /// Least estimated work per thread for a batch to be split by examples (`split`;
    /// tests lower it to split tiny models).
    #[cfg(feature = "threads")]
    min_split_work: u64,
}

/// Scratch buffers for [`Model::forward`]. Reuse one across calls: after the first call
/// at a given batch size, further calls allocate nothing.
#[derive(Debug, Default)]
pub struct Workspace {
    pool: Vec<Vec<f32>>,
    /// One scratch pool per part of a batch split over threads (`split`).
    #[cfg(feature = "threads")]
    parts: Vec<Vec<Vec<f32>>>,
}

impl Model {
    /// Decode a `.shrk` file's bytes and build the model, within [`Limits::DEFAULT`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, RuntimeError> {
        Model::from_bytes_with(bytes, &Limits::DEFAULT)
    }

    /// [`Model::from_bytes`] within other limits.
    pub fn from_bytes_with(bytes: &[u8], limits: &Limits) -> Result<Model, RuntimeError> {
        Model::from_shrk_with(&shrink_format::read(bytes)?, limits)
    }

    /// Build from an already decoded container, within [`Limits::DEFAULT`].
    pub fn from_shrk(file: &ShrkModel) -> Result<Model, RuntimeError> {
        Model::from_shrk_with(file, &Limits::DEFAULT)
    }

    /// Build from a decoded container within `limits`. This is the one validation of a
    /// `.shrk` model (the Burn path of `shrink` runs it too): the spec's size, cost and
    /// values ([`ModelSpec::check`]) before anything is allocated for it, then every
    /// tensor: present, of the shape its layer needs, finite, used by some layer, and
    /// batch-norm variances positive.
    pub fn from_shrk_with(file: &ShrkModel, limits: &Limits) -> Result<Model, RuntimeError> {
        let spec = ModelSpec::from_toml_limited(&file.spec_toml, limits)?;
        let checked = spec.check(limits)?;
        let (infos, out) = (checked.infos, checked.output);
        plan::check_finite(&file.tensors)?;
        let tensors = Tensors::new(&file.tensors);
        let nodes = plan::compile_list(&spec.layers, "layers", &plan::shapes(&infos), &tensors)?;
        tensors.check_all_used()?;
        let input_len = spec.input.iter().product();
        let plane = if spec.input.len() == 3 {
            spec.input[1] * spec.input[2]
        } else {
            1
        };
        let normalize = spec
            .normalize
            .as_ref()
            .map(|n| (n.mean.clone(), n.std.clone()));
        #[cfg(feature = "threads")]
        let sparse_macs = split::sparse_macs(&checked.cost, &nodes);
        Ok(Model {
            normalize,
            input_len,
            classes: out[0],
            plane,
            spec,
            nodes,
            kernels: Kernels::detect(),
            threads: 1,
            cost: checked.cost,
            max_batch: checked.cost.max_inference_batch(limits),
            #[cfg(feature = "threads")]
            sparse_macs,
            #[cfg(feature = "threads")]
            min_split_work: split::MIN_WORK_PER_PART,
        })
    }

    /// What one example costs to run (multiply-adds, working memory, parameters), from
    /// the spec.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// The largest batch [`Model::forward`] runs in one pass: its working memory stays
    /// within the limits the model was loaded with (`max_batch_bytes`). Larger batches
    /// are run in pieces of this size.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The spec stored in the file.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Shape of one example: `[C, H, W]` or `[F]`.
    pub fn input_shape(&self) -> &[usize] {
        &self.spec.input
    }

    /// Values in one example (product of [`Model::input_shape`]).
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Number of outputs (logits per example).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Class names from the spec (may be empty).
    pub fn class_names(&self) -> &[String] {
        &self.spec.class_names
    }

    /// Bytes of weights and other parameters held in memory (the compressed matrices,
    /// codebooks, biases, norm parameters).
    pub fn memory_bytes(&self) -> usize {
        self.nodes.iter().map(Node::memory_bytes).sum()
    }

    /// Kept (nonzero) weights over all weight matrices.
    pub fn kept_weights(&self) -> usize {
        self.nodes.iter().map(Node::kept_weights).sum()
    }

    /// The kernel version in use (detected at load time).
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Choose the kernel version; one this CPU cannot run falls back to the detected one.
    pub fn set_kernels(&mut self, kernels: Kernels) {
        self.kernels = if kernels.supported() {
            kernels
        } else {
            Kernels::detect()
        };
    }

    /// Add the batch-1 lookup layout to every linear layer that can take it (AVX-512
    /// CPUs; weight-shared layers with at most 31 centroids): batch-1 latency drops
    /// (inputs are permuted in registers instead of gathered from memory) for more
    /// memory (see [`Model::memory_bytes`]; the compressed rows stay, batches > 1 use
    /// them). Returns how many layers got it; 0 on CPUs without AVX-512.
    pub fn add_lookup_layout(&mut self) -> usize {
        if Kernels::detect() != Kernels::Avx512 {
            return 0;
        }
        plan::add_lookup_layouts(&mut self.nodes)
    }

    /// Threads (default 1): a batch of at least 4 examples with enough work is split by
    /// examples over this many threads, each running the whole forward pass on its part
    /// (the logits are the same bits as with one thread); one with too little work runs
    /// on one thread; batches of 1 to 3 split their large layers' output units instead.
    /// Without the `threads` feature this has no effect.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Logits `[batch, classes]` (row-major, into `out`) for `batch` raw examples `x`
    /// (`[batch, …input]` row-major, values as the data loader gives them: images in
    /// [0, 1]); the spec's normalisation is applied here. A batch larger than
    /// [`Model::max_batch`] runs in pieces, so working memory stays bounded.
    pub fn forward(
        &self,
        x: &[f32],
        batch: usize,
        ws: &mut Workspace,
        out: &mut Vec<f32>,
    ) -> Result<(), RuntimeError> {
        self.check_input(x, batch)?;
        out.clear();
        if batch == 0 {
            return Ok(());
        }
        if batch > self.max_batch {
            let mut piece = Vec::new();
            for chunk in x.chunks(self.max_batch * self.input_len) {
                self.forward_piece(chunk, chunk.len() / self.input_len, ws, &mut piece);
                out.extend_from_slice(&piece);
            }
        } else {
            self.forward_piece(x, batch, ws, out);
        }
        Ok(())
    }

    /// One pass over `batch` examples (`x` of the right length, `batch` ≥ 1), split
    /// over threads by examples when that pays (`split`).
    fn forward_piece(&self, x: &[f32], batch: usize, ws: &mut Workspace, out: &mut Vec<f32>) {
        out.resize(batch * self.classes, 0.0);
        #[cfg(feature = "threads")]
        {
            let parts = split::parts(self.threads, batch, self.sparse_macs, self.min_split_work);
            if parts > 1 {
                split::forward(self, x, batch, parts, &mut ws.parts, out);
                return;
            }
            if batch >= split::MIN_SPLIT_BATCH {
                // Too little work to split by examples, so too little in any one layer
                // to pay for a spawn per layer either: one thread.
                self.forward_one(x, batch, &mut ws.pool, 1, out);
                return;
            }
        }
        self.forward_one(x, batch, &mut ws.pool, self.threads, out);
    }

    /// One pass over `batch` examples on this thread (layers split over `threads`),
    /// logits into `out` (`batch · classes` values).
    fn forward_one(
        &self,
        x: &[f32],
        batch: usize,
        pool: &mut Vec<Vec<f32>>,
        threads: usize,
        out: &mut [f32],
    ) {
        let mut ctx = Ctx {
            pool,
            kernels: self.kernels,
            threads,
        };
        // [batch][values] → [values][batch], normalised.
        let mut cur = ctx.take(x.len());
        transpose(x, batch, self.input_len, &mut cur);
        if let Some((mean, std)) = &self.normalize {
            for ((block, &m), &s) in cur.chunks_exact_mut(self.plane * batch).zip(mean).zip(std) {
                block.iter_mut().for_each(|v| *v = (*v - m) / s);
            }
        }
        ops::run_list(&self.nodes, &mut cur, batch, &mut ctx);
        // [classes][batch] → [batch][classes].
        transpose(&cur, self.classes, batch, out);
        ctx.give(cur);
    }

    /// [`Model::forward`] with a fresh workspace, returning the logits.
    pub fn predict(&self, x: &[f32], batch: usize) -> Result<Vec<f32>, RuntimeError> {
        let mut out = Vec::new();
        self.forward(x, batch, &mut Workspace::default(), &mut out)?;
        Ok(out)
    }

    /// Bytes of working memory [`Model::forward_in`] needs for `batch` examples: known
    /// before running, so a device can reserve it statically. It is the largest
    /// `input + scratch + output` of any one layer (the buffer is used from both ends,
    /// layer after layer; convolutions run one output row at a time, and pool it at
    /// once when a pooling layer with non-overlapping windows follows), and at least
    /// the input. Models with blocks (residual, highway, inception) are refused: only
    /// [`Model::forward`] runs those.
    pub fn working_memory(&self, batch: usize) -> Result<usize, RuntimeError> {
        let too_large = || RuntimeError::TooLarge {
            layer: "layers".to_string(),
            msg: format!("the working memory of {batch} examples overflows"),
        };
        let mut len = self.input_len.checked_mul(batch).ok_or_else(too_large)?;
        let mut peak = len;
        for step in ops::steps(&self.nodes) {
            let m = ops::step_memory(&step, batch).ok_or_else(|| self.block_error())?;
            let need = len
                .checked_add(m.scratch)
                .and_then(|v| v.checked_add(m.out))
                .ok_or_else(too_large)?;
            peak = peak.max(need);
            if m.out > 0 {
                len = m.out;
            }
        }
        peak.checked_mul(4).ok_or_else(too_large)
    }

    /// `x` holds exactly `batch` examples.
    fn check_input(&self, x: &[f32], batch: usize) -> Result<(), RuntimeError> {
        let want = batch.checked_mul(self.input_len);
        if want != Some(x.len()) {
            return Err(RuntimeError::InputLength {
                got: x.len(),
                batch,
                per_example: self.input_len,
                want: want.unwrap_or(usize::MAX),
            });
        }
        Ok(())
    }

    /// Logits `[batch, classes]` into `out` for `batch` raw examples `x`, as
    /// [`Model::forward`] computes them, using only `work` for activations and scratch:
    /// nothing is allocated, so a microcontroller can run it from a static buffer of
    /// [`Model::working_memory`] bytes (`work.len() · 4` must be at least that). One
    /// thread; a model with blocks is refused.
    pub fn forward_in(
        &self,
        x: &[f32],
        batch: usize,
        work: &mut [f32],
        out: &mut [f32],
    ) -> Result<(), RuntimeError> {
        self.check_input(x, batch)?;
        let want = batch.saturating_mul(self.classes);
        if out.len() != want {
            return Err(RuntimeError::OutputLength {
                got: out.len(),
                batch,
                classes: self.classes,
                want,
            });
        }
        let need = self.working_memory(batch)?;
        if work.len().saturating_mul(4) < need {
            return Err(RuntimeError::WorkTooSmall {
                got: work.len().saturating_mul(4),
                need,
                batch,
            });
        }
        if batch == 0 {
            return Ok(());
        }
        // Input at the low end, output at the high end, then the other way round.
        let arena = &mut work[..need / 4];
        let total = arena.len();
        let mut len = x.len();
        let mut at_low_end = true;
        transpose(x, batch, self.input_len, &mut arena[..len]);
        if let Some((mean, std)) = &self.normalize {
            for ((block, &m), &s) in arena[..len]
                .chunks_exact_mut(self.plane * batch)
                .zip(mean)
                .zip(std)
            {
                block.iter_mut().for_each(|v| *v = (*v - m) / s);
            }
        }
        for step in ops::steps(&self.nodes) {
            let m = ops::step_memory(&step, batch).ok_or_else(|| self.block_error())?;
            let (cur, scratch, y) = if at_low_end {
                let (cur, rest) = arena.split_at_mut(len);
                let (scratch, rest) = rest.split_at_mut(m.scratch);
                let free = rest.len();
                (cur, scratch, &mut rest[free - m.out..])
            } else {
                let (rest, cur) = arena.split_at_mut(total - len);
                let (y, rest) = rest.split_at_mut(m.out);
                let free = rest.len();
                (cur, &mut rest[free - m.scratch..], y)
            };
            ops::run_in(&step, cur, y, scratch, batch, self.kernels);
            if m.out > 0 {
                len = m.out;
                at_low_end = !at_low_end;
            }
        }
        let cur = if at_low_end {
            &arena[..len]
        } else {
            &arena[total - len..]
        };
        // [classes][batch] → [batch][classes].
        transpose(cur, self.classes, batch, out);
        Ok(())
    }

    /// The error for the first block layer of the spec (see [`Model::working_memory`]).
    fn block_error(&self) -> RuntimeError {
        let found = self
            .spec
            .layers
            .iter()
            .enumerate()
            .find(|(_, l)| l.is_block())
            .map(|(i, l)| (format!("layers.{i}"), l.kind()));
        let (layer, kind) = found.unwrap_or_else(|| ("layers".to_string(), "block"));
        RuntimeError::BlockInOneBufferPass { layer, kind }
    }
}

/// `dst[c][r] = src[r][c]` for a `rows × cols` row-major `src` (contiguous writes; a
/// 16×16-blocked version measured slower here, see PERF.md).
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    if rows == 1 || cols == 1 {
        dst.copy_from_slice(src);
        return;
    }
    for (c, out) in dst.chunks_exact_mut(rows).enumerate() {
        for (r, v) in out.iter_mut().enumerate() {
            *v = src[r * cols + c];
        }
    }
}

#[cfg(test)]
mod tests;
