//! `shrink viz MODEL --data D --out DIR`: filters, deconvnet projections, occlusion
//! maps, weight histograms and feature evolution in one report.html (see `shrink_lab::viz`).

use super::print_json;
use anyhow::{bail, Context, Result};
use shrink_core::classifier::{open, BurnModel};
use shrink_core::compress::encode::read_shrk;
use shrink_core::device::parse_device;
use shrink_core::workflow;
use shrink_lab::viz::{self, Compressed, Subject, VizOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    shrink viz runs/lenet-5 --data mnist --out runs/lenet-5/viz\n  \
    shrink viz runs/lenet-5 --data mnist --compressed runs/c5/model.shrk --out runs/c5/viz\n  \
    shrink viz runs/teacher-cnn --data mnist --layers 3,11 --features 0,5,9 --limit 2000 --out runs/teacher-cnn/viz\n\n\
A run directory trained with `shrink train --snapshot-every N` also gets the feature\n\
evolution across its snapshots (--epochs picks which).")]
pub struct Args {
    /// A model directory (a run directory of `shrink train`) or a `.shrk` file.
    pub model: PathBuf,
    /// `mnist` or a path (as for train); its test split is scanned.
    #[arg(long)]
    pub data: String,
    /// Where report.html and results.json go.
    #[arg(long)]
    pub out: PathBuf,
    /// A compressed version of the model to compare with: its filters beside the
    /// original's, its weight histograms after pruning and quantization.
    #[arg(long, value_name = "FILE.shrk")]
    pub compressed: Option<PathBuf>,
    /// Top-level layers to look at, e.g. 1,3 (default: every conv layer's output after its
    /// nonlinearity and pooling; `shrink info MODEL` lists the layers).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// Feature maps to show in each chosen layer (default: the --k most active on average).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<usize>>,
    /// How many feature maps per layer when --features is not given.
    #[arg(long, default_value_t = 6)]
    pub k: usize,
    /// Scan only the first N test examples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// How many test images to occlude.
    #[arg(long, default_value_t = 4)]
    pub occlude: usize,
    /// Side of the occluding square in pixels (default: a third of the image side).
    #[arg(long)]
    pub occluder_size: Option<usize>,
    /// Step between positions of the square (default: a quarter of its side).
    #[arg(long)]
    pub occluder_stride: Option<usize>,
    /// Value of the square in normalised space (0 = the data set's mean, grey).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub occluder_value: f32,
    /// Snapshot epochs to compare, e.g. 1,2,5,12 (default: up to 6, evenly spread).
    #[arg(long, value_delimiter = ',')]
    pub epochs: Option<Vec<usize>>,
    /// Label column of a CSV file.
    #[arg(long)]
    pub label: Option<String>,
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

fn is_shrk(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "shrk")
}

pub fn run(a: Args) -> Result<()> {
    let t0 = Instant::now();
    if a.k == 0 {
        bail!("--k must be at least 1");
    }
    if a.occluder_size == Some(0) || a.occluder_stride == Some(0) {
        bail!("--occluder-size and --occluder-stride must be at least 1");
    }
    let device = parse_device(&a.device)?;
    let name = viz::display_path(&a.model);
    let subject = if is_shrk(&a.model) {
        let BurnModel { spec, net, .. } = open(&a.model)?.into_burn(&device)?;
        let (_, _, file) = read_shrk(&a.model)?;
        Subject {
            name,
            spec,
            net,
            shrk: Some(file),
            run_dir: None,
        }
    } else {
        let BurnModel { spec, net, .. } = open(&a.model)?.into_burn(&device)?;
        Subject {
            name,
            spec,
            net,
            shrk: None,
            run_dir: Some(a.model.clone()),
        }
    };
    let compressed = match &a.compressed {
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
    let src = workflow::load_data(&a.data, a.label.clone())?;
    let opts = VizOptions {
        layers: a.layers.clone(),
        features: a.features.clone(),
        top_features: a.k,
        top_images: 9,
        limit: a.limit,
        occlusion_examples: a.occlude,
        occluder_size: a.occluder_size,
        occluder_stride: a.occluder_stride,
        occluder_value: a.occluder_value,
        epochs: a.epochs.clone(),
        quiet: a.quiet || a.json,
    };
    let (report, results) = viz::visualize(
        &subject,
        compressed.as_ref(),
        &src.test,
        &src.name,
        &opts,
        &device,
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
    let envelope = shrink_lab::report::envelope("viz", &settings, &results, seconds);
    report
        .write(&a.out, &envelope)
        .with_context(|| format!("cannot write the report to {}", a.out.display()))?;
    let html = a.out.join("report.html");
    if a.json {
        print_json(&serde_json::json!({
            "report": html,
            "results": a.out.join("results.json"),
            "examples": results["examples"],
            "layers": results["layers"].as_array().map(|l| l.iter().map(|x| x["layer"].clone()).collect::<Vec<_>>()),
            "seconds": seconds,
        }))?;
    } else {
        println!("{} ({:.0}s)", html.display(), seconds);
    }
    Ok(())
}
