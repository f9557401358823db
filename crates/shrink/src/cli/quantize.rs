//! `shrink quantize MODEL --data D --out FILE.shrk`: k-means weight sharing with
//! centroid fine-tuning, Huffman-coded into a `.shrk` file (pruned weights, the zeros of
//! the model, stay pruned).

use super::print_json;
use super::quantize_flags::QuantizeFlags;
use anyhow::Result;
use shrink_core::compress::render_table;
use shrink_core::device::parse_device;
use shrink_core::standalone::{self, Opened};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  shrink quantize runs/lenet-5-pruned --data mnist --out lenet-5.shrk --conv-bits 8 --fc-bits 5"
)]
pub struct Args {
    /// A model directory (typically the output of `shrink prune`).
    pub model: PathBuf,
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub label: Option<String>,
    /// The .shrk file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub quantize: QuantizeFlags,
    #[arg(long, default_value = "flex")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    shrink_core::model::io::check_output_file(&a.out, a.force)?;
    let m = Opened::open(
        &a.model,
        &a.data,
        a.label.clone(),
        |cfg| a.quantize.overrides().apply(cfg),
        parse_device(&a.device)?,
        a.quiet,
    )?;
    let report = standalone::quantize(&m, &a.out)?;
    if a.json {
        print_json(&report)
    } else {
        print!("{}", render_table(&report));
        Ok(())
    }
}
