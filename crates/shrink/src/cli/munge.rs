//! `shrink munge DATA --size N --out PATH`: a synthetic transfer set made by MUNGE
//! (Buciluǎ et al. 2006) from the training split of DATA, written in DATA's format.

use super::print_json;
use anyhow::{bail, Result};
use serde::Serialize;
use shrink_core::data::{CsvLabels, MungeOptions, SourceKind};
use shrink_core::train::progress;
use shrink_core::workflow;
use std::path::PathBuf;
use std::time::Instant;

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

#[derive(Serialize)]
struct Report {
    data: String,
    out: String,
    format: &'static str,
    source_examples: usize,
    size: usize,
    p: f64,
    s: f64,
    seed: u64,
    seconds: f64,
}

pub fn run(a: Args) -> Result<()> {
    let t0 = Instant::now();
    let src = workflow::load_data(&a.data, a.label.clone())?;
    let csv = src.kind == SourceKind::Csv;
    if csv
        && !a
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        bail!(
            "--out {}: the data is a CSV table, so the output is a .csv file",
            a.out.display()
        );
    }
    if !csv && a.out.is_file() {
        bail!(
            "--out {}: images are written as IDX files into a directory, and this is a file",
            a.out.display()
        );
    }
    let train = &src.train;
    let size = a.size.unwrap_or(train.len());
    if size == 0 {
        bail!("--size must be at least 1");
    }
    let opts = MungeOptions {
        size,
        p: a.p,
        s: a.s,
        seed: a.seed,
    };
    let bar = progress::bar((train.len() + size) as u64, "munge", a.quiet);
    let report = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let mut ds = shrink_core::data::munge(train, src.schema.as_ref(), &opts, Some(&report))
        .map_err(|e| anyhow::anyhow!("{}: {e}", src.name))?;
    bar.finish_and_clear();
    // Synthetic example i was made from training example i mod n (one pass per copy).
    for (i, y) in ds.y.iter_mut().enumerate() {
        *y = train.y[i % train.len()];
    }
    match &src.schema {
        Some(schema) => shrink_core::data::write_csv(&a.out, &ds, schema, CsvLabels::ClassNames),
        None => shrink_core::data::write_idx(&a.out, &ds),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let r = Report {
        data: src.name.clone(),
        out: a.out.display().to_string(),
        format: if csv { "csv" } else { "idx" },
        source_examples: train.len(),
        size,
        p: a.p,
        s: a.s,
        seed: a.seed,
        seconds: t0.elapsed().as_secs_f64(),
    };
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
