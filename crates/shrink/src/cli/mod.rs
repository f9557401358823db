//! Subcommands, one file each. Every command takes `--json` and exits non-zero with one
//! line on stderr when something is wrong.

mod bench;
mod compress;
mod data;
mod eval;
mod import;
mod info;
mod prune;
mod quantize;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "shrink", version, about = "Train deep nets, then make them small and fast.", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a model from a spec.
    Train(train::Args),
    /// Test accuracy of a saved model.
    Eval(eval::Args),
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
    /// Import a PyTorch state_dict (safetensors) for a spec.
    Import(import::Args),
    /// Benchmarks (results for BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::Cmd),
    /// The main job: train LeNet-300-100 on the bundled MNIST, compress it into a .shrk
    /// file, evaluate the file, print the table.
    Demo(train::DemoArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Info(a) => info::run(a),
        Command::Data(c) => data::run(c),
        Command::Prune(a) => prune::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Compress(a) => compress::run(a),
        Command::Import(a) => import::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Demo(a) => train::demo(a),
    }
}

/// Print a value as one JSON object on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}
