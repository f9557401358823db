//! `shrink run FILE.shrk INPUT…`: class predictions of a `.shrk` model, computed by
//! shrink-runtime on the compressed weights as they are stored (no Burn, no dense copy).
//!
//! Inputs: PNG/JPEG images (grey or RGB as the model takes, exactly its size, pixels
//! / 255), IDX image files (raw or `.gz`, every image), and CSV tables (loaded as
//! `train` loads them, so the features encode the same way; every row of the train split
//! and then of the test split is predicted).

use super::print_json;
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use shrink_runtime::{Model, Workspace};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink run runs/c300/model.shrk digit.png\n  shrink run runs/c300/model.shrk data/mnist/t10k-images-idx3-ubyte.gz --limit 5 --json\n  shrink run runs/table/model.shrk table.csv --label income --top-k 1"
)]
pub struct Args {
    /// A `.shrk` file (from `shrink compress` or `shrink quantize`).
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
    /// Threads for large layers.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long)]
    pub json: bool,
}

/// One class and its softmax probability.
#[derive(Serialize)]
struct Scored {
    class: String,
    index: usize,
    score: f32,
}

#[derive(Serialize)]
struct Prediction {
    /// The input file.
    input: String,
    /// Index of the example within an IDX or CSV input.
    example: Option<usize>,
    /// The true label, when the input has one (CSV).
    label: Option<String>,
    top: Vec<Scored>,
}

/// Examples read from one input file.
struct Examples {
    x: Vec<f32>,
    n: usize,
    /// Per example: index within the file (IDX, CSV) and true label (CSV).
    index: Vec<Option<usize>>,
    label: Vec<Option<String>>,
}

pub fn run(a: Args) -> Result<()> {
    let bytes =
        std::fs::read(&a.model).with_context(|| format!("cannot read {}", a.model.display()))?;
    let mut model = Model::from_bytes_with(&bytes, &shrink::limits::get()).map_err(|e| anyhow!("{}: {e}", a.model.display()))?;
    model.set_threads(a.threads);
    let mut ws = Workspace::default();
    let mut logits = Vec::new();
    let mut out = Vec::new();
    for input in &a.inputs {
        let ex = read_input(input, &model, &a)?;
        let len = model.input_len();
        const BATCH: usize = 64;
        for start in (0..ex.n).step_by(BATCH) {
            let end = (start + BATCH).min(ex.n);
            model
                .forward(
                    &ex.x[start * len..end * len],
                    end - start,
                    &mut ws,
                    &mut logits,
                )
                .map_err(|e| anyhow!("{}: {e}", input.display()))?;
            for (i, row) in logits.chunks(model.classes()).enumerate() {
                out.push(Prediction {
                    input: input.display().to_string(),
                    example: ex.index[start + i],
                    label: ex.label[start + i].clone(),
                    top: top_k(row, a.top_k, model.class_names()),
                });
            }
        }
    }
    if a.json {
        return print_json(
            &serde_json::json!({ "model": a.model.display().to_string(), "predictions": out }),
        );
    }
    // Class names and labels come from the files: control characters are escaped so
    // that a name cannot forge or recolour an output line (JSON escapes them itself).
    let esc = shrink_format::limits::escape_control;
    for p in &out {
        let mut line = p.input.clone();
        if let Some(i) = p.example {
            line.push_str(&format!("#{i}"));
        }
        line.push(':');
        for s in &p.top {
            line.push_str(&format!("  {} ({:.3})", esc(&s.class), s.score));
        }
        if let Some(l) = &p.label {
            line.push_str(&format!("  [label {}]", esc(l)));
        }
        println!("{line}");
    }
    Ok(())
}

/// The `k` best classes by softmax probability.
fn top_k(logits: &[f32], k: usize, names: &[String]) -> Vec<Scored> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&z| (z - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    order
        .into_iter()
        .take(k.max(1))
        .map(|i| Scored {
            class: names.get(i).cloned().unwrap_or_else(|| i.to_string()),
            index: i,
            score: exp[i] / sum,
        })
        .collect()
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn read_input(path: &Path, model: &Model, a: &Args) -> Result<Examples> {
    match extension(path).as_str() {
        "png" | "jpg" | "jpeg" => read_image(path, model),
        "csv" => read_csv(path, model, a),
        _ => read_idx(path, model, a.limit),
    }
}

/// One image as `[C, H, W]` values in [0, 1].
fn read_image(path: &Path, model: &Model) -> Result<Examples> {
    let shape = model.input_shape();
    if shape.len() != 3 || !(shape[0] == 1 || shape[0] == 3) {
        bail!(
            "{}: the model takes inputs of shape {:?}, not grey or RGB images",
            path.display(),
            shape
        );
    }
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let img =
        image::open(path).map_err(|e| anyhow!("{}: cannot read the image: {e}", path.display()))?;
    if (img.width() as usize, img.height() as usize) != (w, h) {
        bail!(
            "{}: the image is {}×{} pixels, the model takes {w}×{h}",
            path.display(),
            img.width(),
            img.height()
        );
    }
    let x: Vec<f32> = if c == 1 {
        img.to_luma8()
            .into_raw()
            .into_iter()
            .map(|v| v as f32 / 255.0)
            .collect()
    } else {
        let rgb = img.to_rgb8().into_raw();
        // Interleaved RGB → channel planes.
        (0..3)
            .flat_map(|ch| {
                rgb.iter()
                    .skip(ch)
                    .step_by(3)
                    .map(|&v| v as f32 / 255.0)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    Ok(Examples {
        x,
        n: 1,
        index: vec![None],
        label: vec![None],
    })
}

/// Every image of an IDX file of unsigned bytes `[n, h, w]` (raw or gzip), / 255.
fn read_idx(path: &Path, model: &Model, limit: Option<usize>) -> Result<Examples> {
    // shrink-data's checked reader (the one `data check` uses): overflowing or
    // oversized headers are errors, gzip is unpacked only as far as the header says.
    let ex = shrink_data::read_idx_examples(path, limit).map_err(|e| anyhow!("{e}"))?;
    let per: usize = ex.shape.iter().product();
    if per != model.input_len() {
        bail!(
            "{}: examples of shape {:?} have {per} values, the model takes {:?} ({} values)",
            path.display(),
            ex.shape,
            model.input_shape(),
            model.input_len()
        );
    }
    let n = ex.n;
    Ok(Examples {
        x: ex.x,
        n,
        index: (0..n).map(Some).collect(),
        label: vec![None; n],
    })
}

/// Every row of a CSV table, encoded as `train` encodes it: the train split, then the
/// test split.
fn read_csv(path: &Path, model: &Model, a: &Args) -> Result<Examples> {
    let src = shrink::workflow::load_data(&path.display().to_string(), a.label.clone())?;
    let shape = &src.train.shape;
    if shape.as_slice() != model.input_shape() {
        bail!(
            "{}: the table encodes to {:?} features, the model takes {:?}",
            path.display(),
            shape,
            model.input_shape()
        );
    }
    let mut ex = Examples {
        x: Vec::new(),
        n: 0,
        index: Vec::new(),
        label: Vec::new(),
    };
    for ds in [&src.train, &src.test] {
        for i in 0..ds.len() {
            if a.limit.is_some_and(|l| ex.n >= l) {
                break;
            }
            ex.x.extend_from_slice(ds.example(i));
            ex.index.push(Some(ex.n));
            let y = ds.y[i] as usize;
            ex.label.push(Some(
                ds.class_names
                    .get(y)
                    .cloned()
                    .unwrap_or_else(|| y.to_string()),
            ));
            ex.n += 1;
        }
    }
    Ok(ex)
}
