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

use super::print_json;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use shrink_core::classifier::{open, Classifier};
use shrink_core::device::parse_device;
use std::path::{Path, PathBuf};

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
    /// The model's raw outputs, with `--logits`.
    #[serde(skip_serializing_if = "Option::is_none")]
    logits: Option<Vec<f32>>,
    /// CSV: `column=value` for each category value the model never saw.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unseen: Vec<String>,
}

/// Examples read from one input file.
struct Examples {
    x: Vec<f32>,
    n: usize,
    /// Per example: index within the file (IDX, CSV) and true label (CSV).
    index: Vec<Option<usize>>,
    label: Vec<Option<String>>,
    /// Per example: unseen category values (CSV).
    unseen: Vec<Vec<String>>,
}

pub fn run(a: Args) -> Result<()> {
    let opened = open(&a.model)?;
    let mut model: Box<dyn Classifier> = if opened.is_shrk() {
        let mut m = opened.into_runtime()?;
        m.model.set_threads(a.threads);
        Box::new(m)
    } else {
        Box::new(opened.into_burn(&parse_device(&a.device)?)?)
    };
    let input_shape = model.spec().input.clone();
    let names = model.spec().class_names.clone();
    let len: usize = input_shape.iter().product();
    let batch = model.batch_size().clamp(1, 64);
    let mut out = Vec::new();
    for input in &a.inputs {
        let ex = read_input(input, &input_shape, &a)?;
        for start in (0..ex.n).step_by(batch) {
            let end = (start + batch).min(ex.n);
            let logits = model
                .logits(&ex.x[start * len..end * len], end - start)
                .with_context(|| input.display().to_string())?;
            let classes = logits.len() / (end - start);
            for (i, row) in logits.chunks(classes.max(1)).enumerate() {
                out.push(Prediction {
                    input: input.display().to_string(),
                    example: ex.index[start + i],
                    label: ex.label[start + i].clone(),
                    top: top_k(row, a.top_k, &names),
                    logits: a.logits.then(|| row.to_vec()),
                    unseen: ex.unseen[start + i].clone(),
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
        if let Some(z) = &p.logits {
            let z: Vec<String> = z.iter().map(|v| format!("{v}")).collect();
            line.push_str(&format!("  logits {}", z.join(" ")));
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

/// The examples of one input, read by shrink-data (the one image decoder and IDX
/// reader); a CSV input with the model's table encoding, its unseen category values
/// noted on stderr.
fn read_input(path: &Path, input_shape: &[usize], a: &Args) -> Result<Examples> {
    let table = match shrink_data::InputKind::of(path) {
        shrink_data::InputKind::Csv => Some(table_encoding(path, a)?),
        _ => None,
    };
    // The DataError's message names the file and says everything.
    let ex = shrink_data::read_inputs(path, input_shape, table.as_ref(), a.limit)?;
    let mut unseen = vec![Vec::new(); ex.n];
    for u in &ex.unseen {
        unseen[u.row].push(format!("{}={}", u.column, u.value));
    }
    for u in ex.unseen.iter().take(5) {
        eprintln!(
            "note: {} line {}: {:?} = {:?} was not seen in training; encoded as no category",
            path.display(),
            u.line,
            u.column,
            u.value
        );
    }
    if ex.unseen.len() > 5 {
        eprintln!(
            "note: … and {} more unseen category values",
            ex.unseen.len() - 5
        );
    }
    Ok(Examples {
        x: ex.x,
        n: ex.n,
        index: ex.index,
        label: ex.label,
        unseen,
    })
}

/// The table encoding of the model. A `.shrk` file made before files carried one is
/// read with the encoding `train` fits to this file (right when it is the training
/// file).
fn table_encoding(path: &Path, a: &Args) -> Result<shrink_data::TableSchema> {
    Ok(match shrink_core::tables::model_table(&a.model)? {
        Some(s) => {
            if let Some(l) = a
                .label
                .as_ref()
                .filter(|l| !l.eq_ignore_ascii_case(&s.label_column))
            {
                bail!(
                    "{}: the model was trained with label column {:?}, not {l:?}",
                    a.model.display(),
                    s.label_column
                );
            }
            s
        }
        None => {
            eprintln!(
                "note: {} carries no table encoding (an older file); encoding {} as training on it would",
                a.model.display(),
                path.display()
            );
            shrink_core::workflow::load_data(&path.display().to_string(), a.label.clone())?
                .schema
                .context("a CSV source has a table schema")?
        }
    })
}
