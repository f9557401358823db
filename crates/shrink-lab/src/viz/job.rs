//! `shrink viz` end to end: open the model (a model directory or a `.shrk`) and an
//! optional compressed version, load the data, [`visualize`](super::visualize), and
//! write `results.json` + `report.html`.
//!
//! Not here: the pictures themselves (the sibling modules), the flags (the binary).

use super::{Compressed, Subject, VizOptions};
use crate::viz;
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use shrink_core::classifier::{open, BurnModel};
use shrink_core::compress::encode::read_shrk;
use shrink_core::workflow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What one `shrink viz` looks at and where it writes.
pub struct VizJob<'a> {
    /// A model directory or a `.shrk` file.
    pub model: &'a Path,
    /// A `.shrk` compressed from it, shown beside it.
    pub compressed: Option<&'a Path>,
    /// `mnist` or a path (its test split is shown), and a CSV's label column.
    pub data: &'a str,
    pub label: Option<String>,
    pub opts: VizOptions,
    /// Output directory.
    pub out: &'a Path,
    pub device: &'a Device,
}

/// What was written.
pub struct VizDone {
    /// `out/report.html`.
    pub html: PathBuf,
    /// results.json's `results`.
    pub results: serde_json::Value,
    pub seconds: f64,
}

fn is_shrk(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "shrk")
}

/// Run `shrink viz`.
pub fn run(job: VizJob) -> Result<VizDone> {
    let t0 = Instant::now();
    let VizJob {
        model,
        compressed,
        data,
        label,
        opts,
        out,
        device,
    } = job;
    if opts.top_features == 0 {
        bail!("--k must be at least 1");
    }
    if opts.occluder_size == Some(0) || opts.occluder_stride == Some(0) {
        bail!("--occluder-size and --occluder-stride must be at least 1");
    }
    let name = viz::display_path(model);
    let BurnModel { spec, net, .. } = open(model)?.into_burn(device)?;
    let subject = if is_shrk(model) {
        let (_, _, file) = read_shrk(model)?;
        Subject {
            name,
            spec,
            net,
            shrk: Some(file),
            run_dir: None,
        }
    } else {
        Subject {
            name,
            spec,
            net,
            shrk: None,
            run_dir: Some(model.to_path_buf()),
        }
    };
    let compressed = match compressed {
        Some(p) => {
            if !is_shrk(p) {
                bail!("--compressed {}: expected a .shrk file", p.display());
            }
            let (spec, table, shrk) = read_shrk(p)?;
            Some(Compressed::new(
                viz::display_path(p),
                &spec,
                table,
                shrk,
                &subject,
            )?)
        }
        None => None,
    };
    let src = workflow::load_data(data, label)?;
    let (report, results) = viz::visualize(
        &subject,
        compressed.as_ref(),
        &src.test,
        &src.name,
        &opts,
        device,
    )?;
    if let Some(c) = compressed.as_ref().filter(|c| !c.check.same_model) {
        eprintln!(
            "warning: {} does not look like a compression of {} (its kept weights hardly correlate \
             with the model's); the report says so",
            c.name, subject.name
        );
    }
    let seconds = t0.elapsed().as_secs_f64();
    // The settings as used (defaults filled in), not the options as given.
    let mut results = results;
    let settings = results
        .as_object_mut()
        .and_then(|o| o.remove("settings"))
        .unwrap_or_default();
    let envelope = crate::report::envelope("viz", &settings, &results, seconds);
    report
        .write(out, &envelope)
        .with_context(|| format!("cannot write the report to {}", out.display()))?;
    Ok(VizDone {
        html: out.join("report.html"),
        results,
        seconds,
    })
}
