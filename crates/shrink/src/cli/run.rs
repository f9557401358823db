//! `shrink run MODEL INPUT…`: class predictions of a model for each example. A `.shrk`
//! file runs on shrink-runtime on the compressed weights as they are stored (no Burn, no
//! dense copy); a model directory (`shrink train`, `shrink import`) runs on Burn.
//!
//! Inputs: PNG/JPEG images (grey or RGB as the model takes, exactly its size, pixels
//! / 255), IDX image files (raw or `.gz`, every image), and CSV tables: every row, in
//! file order, encoded with the table encoding the `.shrk` file carries (the training
//! file's columns, category levels and imputed means), with or without the label
//! column. A category value the model never saw encodes as all zeros in its one-hot
//! block (as in training's test split) and is named on stderr and in `--json`.
//! The work is `shrink_core::predict`.

use super::print_json;
use anyhow::Result;
use shrink_core::predict::{predict, render, PredictJob};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink run runs/c300/model.shrk digit.png\n  shrink run runs/c300/model.shrk data/mnist/t10k-images-idx3-ubyte.gz --limit 5 --json --logits\n  shrink run runs/table/model.shrk table.csv --label income --top-k 1"
)]
pub struct Args {
    /// A `.shrk` file (from `shrink compress` or `shrink quantize`), or a model
    /// directory (from `shrink train` or `shrink import`).
    pub model: PathBuf,
    /// PNG/JPEG images, IDX image files (raw or .gz), or CSV tables.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// How many classes to list per example, best first.
    #[arg(long, default_value_t = 3)]
    pub top_k: usize,
    /// At most this many examples from each IDX or CSV input.
    #[arg(long)]
    pub limit: Option<usize>,
    /// CSV: the label column (as for `train`).
    #[arg(long)]
    pub label: Option<String>,
    /// Threads for large layers (`.shrk` files).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The Burn device for a model directory.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Also give each example's raw outputs (logits, before softmax).
    #[arg(long)]
    pub logits: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let out = predict(&PredictJob {
        model: &a.model,
        inputs: &a.inputs,
        top_k: a.top_k,
        limit: a.limit,
        label: a.label.clone(),
        threads: a.threads,
        device: &a.device,
        logits: a.logits,
    })?;
    if a.json {
        return print_json(
            &serde_json::json!({ "model": a.model.display().to_string(), "predictions": out }),
        );
    }
    print!("{}", render(&out));
    Ok(())
}
