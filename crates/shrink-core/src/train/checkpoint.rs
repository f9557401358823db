//! A training run's directory, kept by an observer of the loop: `metrics.jsonl` (one line
//! per epoch), the checkpoint after every epoch (model, optimiser, best weights, state;
//! written atomically) that `--resume` continues from, weight snapshots every N epochs,
//! and stopping an invocation after K epochs (`--stop-after`).
//!
//! Not here: the loop itself and early stopping (`train`), model files (`model::io`).

use super::{Best, EpochMetrics, TrainConfig, Trainee};
use crate::model::io::{save_weights, snapshot_path, SNAPSHOT_DIR};
use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a run writes its checkpoints and metrics (None: keep everything in memory).
pub struct RunDir {
    pub dir: PathBuf,
    pub resume: bool,
    /// Stop this invocation after this many epochs (as if interrupted); the checkpoint
    /// lets a later `--resume` carry on.
    pub stop_after: Option<usize>,
    /// Keep the weights after every N-th epoch as `snapshots/epoch-NNN.safetensors`
    /// (for watching features evolve, `shrink viz`).
    pub snapshot_every: Option<usize>,
}

/// What is persisted next to the checkpointed model and optimiser.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    /// Epochs completed.
    epoch: usize,
    best_val: Option<f64>,
    best_epoch: usize,
    seconds: f64,
    config: TrainConfig,
}

/// Where a run starts: from scratch, or after the epochs a checkpoint holds.
pub(super) struct Start<M> {
    pub net: M,
    pub optim: ModuleOptimizer,
    /// Epochs already done.
    pub epoch: usize,
    pub best: Best<M>,
    /// Training seconds before this invocation.
    pub seconds: f64,
    pub metrics: Vec<EpochMetrics>,
}

impl<M> Start<M> {
    /// From scratch.
    pub(super) fn fresh(net: M, optim: ModuleOptimizer) -> Start<M> {
        Start {
            net,
            optim,
            epoch: 0,
            best: Best::default(),
            seconds: 0.0,
            metrics: Vec::new(),
        }
    }
}

impl RunDir {
    fn ckpt(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }

    /// Prepare the directory: with `resume` and a checkpoint, load the net, optimiser and
    /// progress from it; without `resume`, clear what an older run left.
    pub(super) fn start<M: Trainee>(
        &self,
        net: M,
        optim: ModuleOptimizer,
        cfg: &TrainConfig,
        quiet: bool,
    ) -> Result<Start<M>> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let ckpt = self.ckpt();
        let fresh = Start::fresh(net, optim);
        if !self.resume {
            // A fresh run: drop stale metrics from an older run in the same directory.
            let _ = std::fs::remove_file(self.dir.join("metrics.jsonl"));
            let _ = std::fs::remove_dir_all(&ckpt);
            let _ = std::fs::remove_dir_all(self.dir.join(SNAPSHOT_DIR));
            return Ok(fresh);
        }
        if !ckpt.join("state.json").is_file() {
            if !quiet {
                eprintln!(
                    "no checkpoint in {}, starting from scratch",
                    self.dir.display()
                );
            }
            return Ok(fresh);
        }
        let state: CheckpointState =
            serde_json::from_slice(&std::fs::read(ckpt.join("state.json"))?)
                .with_context(|| format!("{}: corrupt checkpoint state", ckpt.display()))?;
        if state.config.seed != cfg.seed || state.config.batch_size != cfg.batch_size {
            bail!(
                "{}: the checkpoint was made with seed {} and batch size {}, not {} and {}; resume with the same settings",
                ckpt.display(),
                state.config.seed,
                state.config.batch_size,
                cfg.seed,
                cfg.batch_size
            );
        }
        let net = fresh
            .net
            .try_load_file(ckpt.join("model.bpk"))
            .with_context(|| format!("{}: cannot load checkpointed model", ckpt.display()))?;
        let optim = fresh
            .optim
            .load(ckpt.join("optim.bpk"))
            .with_context(|| format!("{}: cannot load optimiser state", ckpt.display()))?;
        let metrics = read_metrics(&self.dir.join("metrics.jsonl"))?
            .into_iter()
            .filter(|m| m.epoch <= state.epoch)
            .collect();
        if !quiet {
            eprintln!(
                "resuming after epoch {} from {}",
                state.epoch,
                ckpt.display()
            );
        }
        // The best weights so far (by validation accuracy), for early stopping.
        let best_file = ckpt.join("best.bpk");
        let best_net = if best_file.is_file() && state.epoch > 0 {
            Some(
                net.clone()
                    .try_load_file(&best_file)
                    .with_context(|| best_file.display().to_string())?,
            )
        } else {
            None
        };
        Ok(Start {
            net,
            optim,
            epoch: state.epoch,
            best: Best {
                val: state.best_val,
                epoch: state.best_epoch,
                net: best_net,
            },
            seconds: state.seconds,
            metrics,
        })
    }

    /// After epoch `m`: append it to `metrics.jsonl`, checkpoint (with the best weights
    /// when this epoch `improved` them), snapshot when one is due.
    #[allow(clippy::too_many_arguments)] // what one epoch's end records
    pub(super) fn epoch_done<M: Trainee>(
        &self,
        m: &EpochMetrics,
        net: &M,
        optim: &ModuleOptimizer,
        best: &Best<M>,
        improved: bool,
        seconds: f64,
        cfg: &TrainConfig,
    ) -> Result<()> {
        append_metrics(&self.dir.join("metrics.jsonl"), m)?;
        let state = CheckpointState {
            epoch: m.epoch,
            best_val: best.val,
            best_epoch: best.epoch,
            seconds,
            config: cfg.clone(),
        };
        write_checkpoint(&self.ckpt(), net, optim, &state, improved.then_some(net))?;
        if self
            .snapshot_every
            .is_some_and(|k| k > 0 && m.epoch.is_multiple_of(k))
        {
            let path = snapshot_path(&self.dir, m.epoch);
            std::fs::create_dir_all(path.parent().expect("snapshot path has a folder"))?;
            save_weights(&net.net()?, &path)?;
        }
        Ok(())
    }

    /// Whether this invocation should stop after `epoch` (`--stop-after`), having
    /// started after `start` of `epochs`; says so unless `quiet`.
    pub(super) fn stop_here(&self, epoch: usize, start: usize, epochs: usize, quiet: bool) -> bool {
        let stop = self.stop_after.is_some_and(|k| epoch - start >= k) && epoch < epochs;
        if stop && !quiet {
            eprintln!("stopping after epoch {epoch} as asked; continue with --resume");
        }
        stop
    }
}

fn append_metrics(path: &Path, m: &EpochMetrics) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(f, "{}", serde_json::to_string(m)?)?;
    Ok(())
}

fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).with_context(|| {
            format!("{}: line {} is not a metrics record", path.display(), i + 1)
        })?);
    }
    // A run killed after writing metrics but before its checkpoint replays that epoch:
    // keep the last record of each epoch.
    out.dedup_by(|b: &mut EpochMetrics, a: &mut EpochMetrics| a.epoch == b.epoch);
    Ok(out)
}

/// Write the checkpoint directory atomically: build it under a temporary name, then swap.
fn write_checkpoint<M: Module>(
    dir: &Path,
    net: &M,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
    best: Option<&M>,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    net.clone()
        .save_file(tmp.join("model.bpk"))
        .context("cannot write checkpoint")?;
    optim
        .save(tmp.join("optim.bpk"))
        .context("cannot write optimiser checkpoint")?;
    match best {
        Some(b) => b
            .clone()
            .save_file(tmp.join("best.bpk"))
            .context("cannot write checkpoint")?,
        None => {
            if dir.join("best.bpk").is_file() {
                std::fs::copy(dir.join("best.bpk"), tmp.join("best.bpk"))?;
            }
        }
    }
    std::fs::write(tmp.join("state.json"), serde_json::to_vec_pretty(state)?)?;
    let old = dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&tmp, dir)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
