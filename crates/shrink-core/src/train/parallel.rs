//! Data-parallel training over several devices (`--device wgpu:0,wgpu:1`, `flex,flex`,
//! `wgpu,flex`): each optimiser step splits its batch into one shard per device, runs
//! forward and backward of a replica of the model on each device at once, averages the
//! gradients on the first device and takes one optimiser step there.
//!
//! Built from Burn 0.22's own multi-device pieces, the ones burn-train's multi-device
//! learner uses: `Module::fork` puts a replica on a device (same parameter ids),
//! `GradientsParams::to_device` brings a replica's gradients home, `GradientsAccumulator`
//! sums them, and batch-norm statistics live in Burn's `RunningState`, which keeps one
//! update per thread and averages them — so each device gets its own persistent worker
//! thread. Burn's collective `all_reduce` (burn-tensor `distributed`) is not used: in 0.22
//! only the CUDA runtime implements it (NCCL); wgpu answers `NoDeviceTransport` and Flex
//! has no distributed support at all.
//!
//! Each shard's loss is weighted by its share of the batch, so the summed gradient is the
//! gradient of the whole batch's mean loss: the same step one device takes, up to float
//! rounding (batch norm normalises each shard by its own statistics, as in PyTorch's DDP
//! without SyncBatchNorm). Augmentation draws from one generator in example order, so a
//! split batch is augmented exactly as the whole one.
//!
//! The step ends as one device's does, in `train::descend` (hooks, the optimiser's
//! update); the L1 penalty and a hook's extra loss term are added once, to the training
//! device's shard.
//!
//! Not here: parsing device lists (`device`), the single-device step (`train::step`),
//! the loop (`train::train`).

use super::{descend, loss, objective, NonFinite, TrainConfig, TrainHooks, Trainee};
use crate::batch::{Batcher, Prepared, Targets};
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use std::sync::{mpsc, Mutex};
use std::thread::JoinHandle;

/// The devices besides the first of the current `--device` list (empty: one device).
static REPLICAS: Mutex<Vec<Device>> = Mutex::new(Vec::new());

/// Make every later training run of this process data-parallel over its own device
/// plus `devices` (empty: back to one device). Set by [`crate::device::parse_device`]
/// from a device list.
pub fn set_replicas(devices: Vec<Device>) {
    *REPLICAS.lock().unwrap_or_else(|e| e.into_inner()) = devices;
}

/// The devices set by [`set_replicas`].
pub fn replicas() -> Vec<Device> {
    REPLICAS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

type Task = Box<dyn FnOnce() + Send>;

/// One persistent thread that runs what it is sent, in order.
struct Worker {
    tx: Option<mpsc::Sender<Task>>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(name: String) -> Worker {
        let (tx, rx) = mpsc::channel::<Task>();
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                for task in rx {
                    task();
                }
            })
            .expect("spawning a data-parallel worker thread");
        Worker {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Run `f` on this worker; its result comes back on the returned channel (which
    /// closes without a value if `f` panics).
    fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> mpsc::Receiver<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        let task: Task = Box::new(move || {
            let _ = tx.send(f());
        });
        if let Some(sender) = &self.tx {
            let _ = sender.send(task);
        }
        rx
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Replicas on the devices besides the training device, each with its worker thread.
pub struct DataParallel {
    /// The extra devices (autodiff), in `--device` order.
    devices: Vec<Device>,
    workers: Vec<Worker>,
}

/// What one replica hands back: its gradients (already on the first device), its
/// weighted loss and how many of its examples it classified right.
type ShardResult = (GradientsParams, f64, usize);

impl DataParallel {
    /// Data parallelism over `device` and the process's [`replicas`], or None when there
    /// are none. `device` is the training (autodiff) device.
    pub fn from_replicas(device: &Device) -> Option<DataParallel> {
        let extra = replicas();
        if extra.is_empty() {
            return None;
        }
        let devices: Vec<Device> = extra
            .into_iter()
            .map(|d| {
                if device.is_autodiff() {
                    d.autodiff()
                } else {
                    d
                }
            })
            .collect();
        let workers = (0..devices.len())
            .map(|i| Worker::spawn(format!("shrink-replica-{}", i + 1)))
            .collect();
        Some(DataParallel { devices, workers })
    }

    /// How many devices take part (the training device included).
    pub fn len(&self) -> usize {
        self.devices.len() + 1
    }

    /// Always false: there is at least the training device.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The devices for progress lines: `flex (CPU) + wgpu llvmpipe`.
    pub fn label(&self, device: &Device) -> String {
        std::iter::once(device)
            .chain(&self.devices)
            .map(crate::device::label)
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// One optimiser step on the training examples `chunk`, split over the devices.
    /// Returns what [`super::step`] returns for the whole batch.
    #[allow(clippy::too_many_arguments)]
    pub fn step<M: Trainee>(
        &self,
        net: M,
        optim: &mut ModuleOptimizer,
        data: &Batcher,
        chunk: &[usize],
        targets: &Targets<'_>,
        rng: &mut impl rand::Rng,
        cfg: &TrainConfig,
        lr: f64,
        hooks: &mut dyn TrainHooks<M>,
        device: &Device,
    ) -> Result<(M, f64, usize), NonFinite> {
        let n = chunk.len();
        let shards = split(chunk, self.len());
        let weight = |s: &[usize]| s.len() as f64 / n as f64;
        // Every shard is built now, in order (one augmentation stream), on its device.
        let main_batch = data.train_batch(shards[0], targets, cfg.augment.as_ref(), rng, device);
        let mut pending = Vec::new();
        for ((shard, dev), worker) in shards[1..].iter().zip(&self.devices).zip(&self.workers) {
            if shard.is_empty() {
                continue;
            }
            let batch = data.train_batch(shard, targets, cfg.augment.as_ref(), rng, dev);
            let (replica, dev, home) = (net.clone(), dev.clone(), device.clone());
            let (kind, w) = (cfg.loss, weight(shard));
            pending.push(worker.run(move || -> ShardResult {
                let replica = replica.fork(&dev);
                let logits = replica.forward_train(batch.x.clone());
                let l = loss(kind, logits.clone(), &batch, &dev) * w;
                let value = l.clone().into_scalar::<f32>() as f64;
                let grads = GradientsParams::from_grads(l.backward(), &replica);
                let correct = batch.correct(logits.inner());
                (grads.to_device(&home, &replica), value, correct)
            }));
        }
        // The training device's own shard, on this thread, with the L1 penalty and the
        // hooks' extra term (once).
        let (grads, mut value, mut correct) =
            shard_step(&net, &main_batch, cfg, weight(shards[0]), hooks, device)?;
        let mut acc = GradientsAccumulator::<M>::new();
        acc.accumulate(&net, grads);
        for rx in pending {
            // A worker that panicked closes its channel: stop as Burn would have on one
            // device, with the panic already printed by the worker thread.
            let (g, v, c) = rx
                .recv()
                .expect("a data-parallel replica failed (see above)");
            acc.accumulate(&net, g);
            value += v;
            correct += c;
        }
        if !value.is_finite() {
            return Err(NonFinite(value));
        }
        let net = descend(net, optim, acc.grads(), lr, hooks);
        Ok((net, value, correct))
    }
}

/// Forward and backward of `batch` on `net`, its loss weighted by `w`, plus the L1
/// penalty and the hooks' extra term.
fn shard_step<M: Trainee>(
    net: &M,
    batch: &Prepared,
    cfg: &TrainConfig,
    w: f64,
    hooks: &mut dyn TrainHooks<M>,
    device: &Device,
) -> Result<ShardResult, NonFinite> {
    let logits = net.forward_train(batch.x.clone());
    let mut l = loss(cfg.loss, logits.clone(), batch, device) * w;
    if cfg.l1 > 0.0 {
        l = net.add_l1(l, cfg.l1);
    }
    let (l, value) = objective(l, hooks.extra_loss(net))?;
    let grads = GradientsParams::from_grads(l.backward(), net);
    Ok((grads, value, batch.correct(logits.inner())))
}

/// `chunk` in `parts` consecutive pieces whose sizes differ by at most one (the first
/// ones larger); pieces are empty when the chunk is shorter than `parts`.
fn split(chunk: &[usize], parts: usize) -> Vec<&[usize]> {
    let (q, r) = (chunk.len() / parts, chunk.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..parts {
        let len = q + usize::from(i < r);
        out.push(&chunk[start..start + len]);
        start += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_covers_the_chunk_in_order() {
        let c: Vec<usize> = (0..10).collect();
        let s = split(&c, 3);
        assert_eq!(s.iter().map(|p| p.len()).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!(s.concat(), c);
        assert_eq!(split(&c[..1], 2)[1].len(), 0);
    }
}
