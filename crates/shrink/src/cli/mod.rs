//! Subcommands, one file each. Every command takes `--json` and exits non-zero with one
//! line on stderr when something is wrong.

mod bench;
mod bench_run; // H1: `shrink bench run` (was in bench.rs)
mod compress;
mod compress_args; // H1: the flags of `shrink compress` (were in compress.rs)
mod compress_budget;
mod compress_flags;
mod data;
mod demo; // H1: `shrink demo` (was in train.rs)
mod eval;
mod experiment;
mod export;
mod import;
mod import_onnx;
mod info;
mod limits;
mod mimic;
mod mimic_flags; // H1: the flags of `shrink mimic` (were in mimic.rs)
mod munge;
mod progress;
mod prune;
mod quantize;
mod quantize_flags; // H1: the weight-sharing flags (were in compress_flags.rs)
mod run;
mod train;
mod train_flags; // H1: --epochs/--lr/--batch-size/--seed of train and mimic
mod viz;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "shrink", version, about = "Train deep nets, then make them small and fast.", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Limits on what a spec or a .shrk file may declare (every command).
    #[command(flatten)]
    pub limits: limits::LimitArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a model from a spec.
    Train(train::Args),
    /// Test accuracy of a saved model.
    Eval(eval::Args),
    /// Predict with a .shrk file as it is (the runtime: sparse, weight-shared kernels).
    Run(run::Args),
    /// Layers, shapes, parameters and bytes of a model or spec.
    Info(info::Args),
    /// Data sets: check one.
    #[command(subcommand)]
    Data(data::Cmd),
    /// Magnitude pruning with retraining (or a sensitivity scan).
    Prune(prune::Args),
    /// Trained quantization (k-means weight sharing) of a (pruned) model into a .shrk file.
    Quantize(quantize::Args),
    /// Deep Compression: prune, quantize, Huffman-code into a .shrk file.
    Compress(compress::Args),
    /// Import an ONNX model, or a PyTorch state_dict (safetensors) for a spec.
    Import(import::Args),
    /// Write a model directory or .shrk as an ONNX model.
    Export(export::Args),
    /// Train a small student from a teacher or an ensemble: logit regression, knowledge
    /// distillation, or hard labels, on a transfer set (augmented, MUNGE, RANDOM, a file).
    Mimic(mimic::Args),
    /// Write a synthetic data set made by MUNGE from a data set's training split.
    Munge(munge::Args),
    /// Reproduce the papers' figures (batch/layer norm, feature transfer, the CNN
    /// toolbox) into results.json + report.html.
    #[command(subcommand)]
    Experiment(experiment::Cmd),
    /// Look inside a CNN: filters, deconvnet projections, occlusion maps, weight
    /// histograms, feature evolution (Zeiler & Fergus) into report.html.
    Viz(viz::Args),
    /// Benchmarks (results for BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::Cmd),
    /// The main job: train LeNet-300-100 on the bundled MNIST, compress it into a .shrk
    /// file, evaluate the file, print the table.
    Demo(demo::DemoArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    shrink_core::limits::set(cli.limits.limits());
    shrink_core::train::progress::set_reporter(Box::new(progress::StderrBars));
    // This thread joins Flex's rayon pool (issue 12); `bench` does it once `--threads`
    // has set the pool's size (shrink_lab::bench::side::init_threads).
    if !matches!(cli.command, Command::Bench(_)) {
        shrink_core::model::kernels::share_calling_thread();
    }
    // A limit error names its limit, e.g. "(max_params)": say which flag raises it.
    run_command(cli.command).map_err(shrink_core::limits::with_flag_hint)
}

fn run_command(command: Command) -> Result<()> {
    match command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Run(a) => run::run(a),
        Command::Info(a) => info::run(a),
        Command::Data(c) => data::run(c),
        Command::Prune(a) => prune::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Compress(a) => compress::run(a),
        Command::Import(a) => import::run(a),
        Command::Export(a) => export::run(a),
        Command::Mimic(a) => mimic::run(a),
        Command::Munge(a) => munge::run(a),
        Command::Experiment(c) => experiment::run(c),
        Command::Viz(a) => viz::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Demo(a) => demo::run(a),
    }
}

/// Print a value as one JSON object on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}
