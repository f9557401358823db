//! `shrink munge`: a synthetic transfer set made by MUNGE (Buciluǎ et al. 2006) from a
//! data set's training split, written as a data set in the source's format (a CSV table
//! for a table, IDX files for images).
//!
//! Not here: MUNGE itself (`shrink_data::munge`), using a transfer set (`transfer`).

use crate::data::{CsvLabels, MungeOptions, SourceKind};
use crate::train::progress;
use crate::workflow;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct MungeReport {
    pub data: String,
    pub out: String,
    /// `csv` or `idx`.
    pub format: &'static str,
    pub source_examples: usize,
    pub size: usize,
    pub p: f64,
    pub s: f64,
    pub seed: u64,
    pub seconds: f64,
}

/// Load `data` (a CSV's `label` column), make `size` MUNGE examples (default: as many as
/// the training split has) and write them to `out`: a `.csv` file for a table, a
/// directory of IDX files for images. Each synthetic example carries the label of the
/// training example it was made from.
pub fn write_munge(
    data: &str,
    label: Option<String>,
    size: Option<usize>,
    (p, s, seed): (f64, f64, u64),
    out: &Path,
    quiet: bool,
) -> Result<MungeReport> {
    let t0 = Instant::now();
    let src = workflow::load_data(data, label)?;
    let csv = src.kind == SourceKind::Csv;
    if csv
        && !out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        bail!(
            "--out {}: the data is a CSV table, so the output is a .csv file",
            out.display()
        );
    }
    if !csv && out.is_file() {
        bail!(
            "--out {}: images are written as IDX files into a directory, and this is a file",
            out.display()
        );
    }
    let train = &src.train;
    let size = size.unwrap_or(train.len());
    if size == 0 {
        bail!("--size must be at least 1");
    }
    let opts = MungeOptions { size, p, s, seed };
    let bar = progress::bar((train.len() + size) as u64, "munge", quiet);
    let report = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let mut ds = crate::data::munge(train, src.schema.as_ref(), &opts, Some(&report))
        .with_context(|| src.name.clone())?;
    bar.finish_and_clear();
    // Synthetic example i was made from training example i mod n (one pass per copy).
    for (i, y) in ds.y.iter_mut().enumerate() {
        *y = train.y[i % train.len()];
    }
    match &src.schema {
        Some(schema) => crate::data::write_csv(out, &ds, schema, CsvLabels::ClassNames),
        None => crate::data::write_idx(out, &ds),
    }?;
    Ok(MungeReport {
        data: src.name.clone(),
        out: out.display().to_string(),
        format: if csv { "csv" } else { "idx" },
        source_examples: train.len(),
        size,
        p,
        s,
        seed,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
