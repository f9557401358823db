//! `shrink bench train`: training throughput (images/s) of zoo models at given batch
//! sizes, on synthetic MNIST-shaped batches (the data path is not what is measured).

use super::print_json;
use anyhow::Result;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use serde::Serialize;
use shrink::batch::to_feat;
use shrink::device::parse_device;
use shrink::model::io::read_spec_file;
use shrink::model::Net;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Training images/s for each spec and batch size.
    #[command(
        after_help = "Example:\n  shrink bench train zoo/lenet-300-100.toml zoo/lenet-5.toml --batch 64 --batch 256"
    )]
    Train {
        specs: Vec<PathBuf>,
        #[arg(long = "batch", default_values_t = vec![64usize, 256])]
        batches: Vec<usize>,
        /// Seconds to measure each case for (after warm-up).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value = "flex")]
        device: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct Case {
    model: String,
    batch: usize,
    steps: usize,
    ms_per_step: f64,
    images_per_second: f64,
}

pub fn run(c: Cmd) -> Result<()> {
    let Cmd::Train {
        specs,
        batches,
        seconds,
        device,
        json,
    } = c;
    let device = parse_device(&device)?.autodiff();
    let mut cases = Vec::new();
    for path in &specs {
        let spec = read_spec_file(path)?.spec;
        for &b in &batches {
            device.seed(7);
            let mut net = Net::new(&spec, &device)?;
            let mut optim = SgdConfig::new()
                .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
                .init();
            let el: usize = spec.input.iter().product();
            let classes = spec.output_len()?;
            let x: Vec<f32> = (0..b * el)
                .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 1000.0)
                .collect();
            let mut onehot = vec![0.0f32; b * classes];
            for i in 0..b {
                onehot[i * classes + i % classes] = 1.0;
            }
            let y = Tensor::<2>::from_data(TensorData::new(onehot, [b, classes]), &device);
            let mut step = |net: Net| -> Net {
                let logits = net.forward(to_feat(x.clone(), b, &spec.input, &device));
                let loss = (burn::tensor::activation::log_softmax(logits, 1) * y.clone())
                    .sum_dim(1)
                    .mean()
                    .neg();
                let _ = loss.clone().into_scalar::<f32>();
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                optim.step(0.01, net, grads)
            };
            for _ in 0..3 {
                net = step(net);
            }
            let t0 = Instant::now();
            let mut steps = 0;
            while t0.elapsed().as_secs_f64() < seconds || steps < 5 {
                net = step(net);
                steps += 1;
            }
            let dt = t0.elapsed().as_secs_f64();
            let case = Case {
                model: spec.name.clone(),
                batch: b,
                steps,
                ms_per_step: 1000.0 * dt / steps as f64,
                images_per_second: (steps * b) as f64 / dt,
            };
            if !json {
                println!(
                    "{:<16} batch {:>4}: {:>8.2} ms/step  {:>9.0} images/s  ({} steps)",
                    case.model, case.batch, case.ms_per_step, case.images_per_second, case.steps
                );
            }
            cases.push(case);
        }
    }
    if json {
        print_json(&serde_json::json!({ "train": cases }))?;
    }
    Ok(())
}
