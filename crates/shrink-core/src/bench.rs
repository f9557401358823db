//! What `shrink bench train` measures: training throughput of a spec at a batch size,
//! timed through the training loop's own optimiser step ([`train::step`]) on a fixed
//! synthetic batch (the data path is not what is measured).
//!
//! Not here: the cases, PyTorch beside them and printing (`shrink_lab::bench`), the
//! runtime's inference timings (`shrink bench run`, `shrink_lab::bench::run`).

use crate::batch::{to_feat, Prepared};
use crate::model::Net;
use crate::train::{self, OptimKind, Plain, TrainConfig};
use anyhow::{anyhow, Result};
use burn::prelude::*;
use serde::Serialize;
use shrink_format::spec::ModelSpec;
use std::time::Instant;

/// One measured case.
#[derive(Debug, Clone, Serialize)]
pub struct TrainCase {
    pub model: String,
    pub batch: usize,
    pub steps: usize,
    pub ms_per_step: f64,
    pub images_per_second: f64,
}

/// Time SGD steps (momentum 0.9, lr 0.01, cross-entropy) of `spec` on batches of
/// `batch` synthetic examples — exactly `steps` of them when given, else for `seconds`
/// (at least 5) — after 3 warm-up steps. `device` is an autodiff device.
pub fn train_throughput(
    spec: &ModelSpec,
    batch: usize,
    seconds: f64,
    steps: Option<usize>,
    device: &Device,
) -> Result<TrainCase> {
    let steps_wanted = steps;
    device.seed(7);
    let mut net = Net::new(spec, device)?;
    let cfg = TrainConfig {
        optimizer: OptimKind::Sgd,
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
        l1: 0.0,
        lr: 0.01,
        ..TrainConfig::default()
    };
    let mut optim = train::optimizer(&cfg);
    let el: usize = spec.input.iter().product();
    let classes = spec.output_len()?;
    let x: Vec<f32> = (0..batch * el)
        .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 1000.0)
        .collect();
    let prepared = Prepared {
        x: to_feat(x, batch, &spec.input, device),
        y: (0..batch).map(|i| (i % classes) as u32).collect(),
        classes,
        teacher: None,
    };
    let mut step = |net: Net| -> Result<Net> {
        train::step(net, &mut optim, &prepared, &cfg, cfg.lr, &mut Plain, device)
            .map(|(net, _, _)| net)
            .map_err(|e| anyhow!("the loss became {} while benchmarking", e.0))
    };
    for _ in 0..3 {
        net = step(net)?;
    }
    let t0 = Instant::now();
    let mut steps = 0;
    while match steps_wanted {
        Some(k) => steps < k,
        None => t0.elapsed().as_secs_f64() < seconds || steps < 5,
    } {
        net = step(net)?;
        steps += 1;
    }
    let dt = t0.elapsed().as_secs_f64();
    Ok(TrainCase {
        model: spec.name.clone(),
        batch,
        steps,
        ms_per_step: 1000.0 * dt / steps as f64,
        images_per_second: (steps * batch) as f64 / dt,
    })
}
