//! `shrink experiment norm|transfer|ablation|mimic|munge|frontier`: reproduce the papers' figures, each into
//! `--out DIR` as results.json + report.html (+ runs/ for --resume). Each experiment's
//! settings (quick and full) are in its TOML file beside its module in shrink-lab
//! (`crates/shrink-lab/src/experiments/NAME.toml`); a flag given here overrides one.

mod args;
mod common;
mod distill;
mod frontier;

use super::print_json;
use anyhow::Result;
use args::{AblationArgs, CommonArgs, NormArgs, TransferArgs};
use serde::Serialize;
use shrink_core::device::parse_device;
use shrink_lab::experiments::frontier::FrontierExperiment;
use shrink_lab::experiments::runner::{self, Experiment, Options};
use shrink_lab::experiments::{ablation, mimic, munge, norm, transfer};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Ioffe & Szegedy Fig. 1: a 3×100 sigmoid MLP without normalisation, with batch
    /// norm and with layer norm; accuracy and one unit's input distribution over
    /// training; a learning-rate sweep.
    #[command(
        after_help = "Examples:\n  shrink experiment norm --quick\n  shrink experiment norm --steps 50000 --out runs/experiments/norm"
    )]
    Norm(NormArgs),
    /// Yosinski et al. Fig. 2: BnB, BnB+, AnB, AnB+ against the number of layers copied.
    #[command(
        after_help = "Examples:\n  shrink experiment transfer --quick\n  shrink experiment transfer --seeds 3 --split-a 0,1,2,3,4"
    )]
    Transfer(TransferArgs),
    /// Gu et al.'s CNN components, one at a time on a small CNN: activations,
    /// initialisation, dropout, batch norm, augmentation, shortcuts, loss.
    #[command(
        after_help = "Examples:\n  shrink experiment ablation --quick\n  shrink experiment ablation --seeds 3 --only base,batch_norm,residual"
    )]
    Ablation(AblationArgs),
    /// Ba & Caruana Table 1: a deep CNN teacher and one shallow net (with and without a
    /// linear bottleneck) trained on labels, by logit regression, by KD, and on
    /// augmented and MUNGE transfer sets; parameters and test errors side by side.
    #[command(
        after_help = "Examples:\n  shrink experiment mimic --quick\n  shrink experiment mimic --teacher runs/teacher-cnn --out runs/experiments/mimic"
    )]
    Mimic(distill::MimicArgs),
    /// Buciluǎ et al.: an MLP ensemble compressed into a small net through RANDOM and
    /// MUNGE transfer sets of growing size, against the small net on labels, on a CSV
    /// table (numeric and categorical columns).
    #[command(
        after_help = "Examples:\n  shrink experiment munge --quick\n  shrink experiment munge --data data/credit/credit.csv --train-size 400 --sizes 1,10,100"
    )]
    Munge(distill::MungeArgs),
    /// Issue 14: LeNet-300-100 and LeNet-5 file size against test error — Deep
    /// Compression (with and without distillation), sparse VD, byte budgets — with the
    /// papers' published points on the same axes; each point's command in results.json.
    #[command(
        after_help = "Examples:\n  shrink experiment frontier --quick --nets lenet-300-100\n  shrink experiment frontier --points bench/frontier/points.toml"
    )]
    Frontier(frontier::FrontierArgs),
}

/// Run experiment `E` with the shared options and `args` (the flags given) as overrides;
/// print where the results are (or results.json with `--json`).
fn run_one<E: Experiment>(c: &CommonArgs, args: &impl Serialize) -> Result<()> {
    let opts = Options {
        out: c.out.clone(),
        quick: c.quick,
        resume: c.resume,
        label: c.label.clone(),
        device: parse_device(&c.device)?,
        quiet: c.quiet,
        settings_file: c.settings.clone(),
    };
    let mut overrides = serde_json::to_value(args)?;
    if let Some(m) = overrides.as_object_mut() {
        m.insert("data".into(), serde_json::json!(c.data));
        m.insert("limit_train".into(), serde_json::json!(c.limit_train));
        m.insert("limit_test".into(), serde_json::json!(c.limit_test));
    }
    let json = runner::run::<E>(&opts, overrides)?;
    if c.json {
        print_json(&json)?;
    } else {
        let out = c
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs/experiments").join(E::NAME));
        println!(
            "{}: results in {}, report in {}",
            E::NAME,
            out.join("results.json").display(),
            out.join("report.html").display()
        );
    }
    Ok(())
}

pub fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Norm(a) => run_one::<norm::NormExperiment>(&a.common, &a),
        Cmd::Transfer(a) => run_one::<transfer::TransferExperiment>(&a.common, &a),
        Cmd::Ablation(a) => run_one::<ablation::AblationExperiment>(&a.common, &a),
        Cmd::Mimic(a) => run_one::<mimic::MimicExperiment>(&a.common, &a),
        Cmd::Munge(a) => run_one::<munge::MungeExperiment>(&a.common, &a),
        Cmd::Frontier(a) => run_one::<FrontierExperiment>(&a.common(), &a),
    }
}
