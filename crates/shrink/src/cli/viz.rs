//! `shrink viz MODEL --data D --out DIR`: filters, deconvnet projections, occlusion
//! maps, weight histograms and feature evolution in one report.html (see `shrink_lab::viz`).

use super::print_json;
use anyhow::Result;
use shrink_core::device::parse_device;
use shrink_lab::viz::job::{self, VizJob};
use shrink_lab::viz::VizOptions;
use std::path::PathBuf;

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

pub fn run(a: Args) -> Result<()> {
    let device = parse_device(&a.device)?;
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
    let done = job::run(VizJob {
        model: &a.model,
        compressed: a.compressed.as_deref(),
        data: &a.data,
        label: a.label.clone(),
        opts,
        out: &a.out,
        device: &device,
    })?;
    let (html, results) = (&done.html, &done.results);
    if a.json {
        print_json(&serde_json::json!({
            "report": html,
            "results": a.out.join("results.json"),
            "examples": results["examples"],
            "layers": results["layers"].as_array().map(|l| l.iter().map(|x| x["layer"].clone()).collect::<Vec<_>>()),
            "seconds": done.seconds,
        }))
    } else {
        println!("{} ({:.0}s)", html.display(), done.seconds);
        Ok(())
    }
}
