//! `shrink munge DATA --size N --out PATH`: a synthetic transfer set made by MUNGE
//! (Buciluǎ et al. 2006) from the training split of DATA, written in DATA's format.

use super::print_json;
use anyhow::Result;
use shrink_core::distill::munge_file::write_munge;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "A CSV table gives a CSV file with the same header; images (IDX/MNIST, CIFAR,
image folders) give a directory of IDX files (train-images-idx*-ubyte,
train-labels-idx1-ubyte). Each synthetic example carries the label of the training
example it was made from, a placeholder that keeps the output a normal data set:
`shrink mimic --transfer PATH` ignores it and asks the teacher.

Examples:
  shrink munge data/credit/credit.csv --size 50000 --out runs/credit-munge.csv
  shrink munge mnist --size 60000 --p 0.5 --s 2 --out runs/mnist-munge"
)]
pub struct Args {
    /// `mnist`, or a path: an IDX or CIFAR directory, a CSV file, an image folder.
    pub data: String,
    /// Synthetic examples to make [default: as many as the training split has].
    #[arg(long)]
    pub size: Option<usize>,
    /// Probability of swapping/jittering each attribute with the nearest neighbour's.
    #[arg(long, default_value_t = shrink_core::data::DEFAULT_P)]
    pub p: f64,
    /// Local-variance divisor: continuous values move by N(0, |a − b| / s).
    #[arg(long, default_value_t = shrink_core::data::DEFAULT_S)]
    pub s: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Label column of a CSV file.
    #[arg(long)]
    pub label: Option<String>,
    /// Output: a .csv file for a table, a directory for images.
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    let r = write_munge(
        &a.data,
        a.label.clone(),
        a.size,
        (a.p, a.s, a.seed),
        &a.out,
        a.quiet,
    )?;
    if a.json {
        print_json(&r)
    } else {
        println!(
            "{}: {} MUNGE examples from {} (p {}, s {}) in {:.1}s -> {}",
            r.data, r.size, r.source_examples, r.p, r.s, r.seconds, r.out
        );
        Ok(())
    }
}
