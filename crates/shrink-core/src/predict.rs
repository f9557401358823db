//! `shrink run`: class predictions of a model for every example of some input files. A
//! `.shrk` file runs on shrink-runtime on the compressed weights as they are stored; a
//! model directory runs on Burn (both through [`classifier::open`]).
//!
//! Inputs are read by shrink-data (the one image decoder and IDX reader): PNG/JPEG
//! images, IDX image files, and CSV tables — every row in file order, encoded with the
//! table encoding the model carries; a category value the model never saw encodes as no
//! category and is noted on stderr and in the prediction.
//!
//! Not here: reading the inputs (`shrink_data::read_inputs`), running models
//! (`classifier`), the flags and printing (the binary's `cli/run.rs`).

use crate::classifier::{self, Classifier};
use crate::device::parse_device;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What to predict and how.
pub struct PredictJob<'a> {
    /// A `.shrk` file or a model directory.
    pub model: &'a Path,
    pub inputs: &'a [PathBuf],
    /// Classes listed per example, best first.
    pub top_k: usize,
    /// At most this many examples from each IDX or CSV input.
    pub limit: Option<usize>,
    /// CSV: the label column.
    pub label: Option<String>,
    /// Threads for `.shrk` files: a batch's examples split over them (batch 1: large
    /// layers).
    pub threads: usize,
    /// The Burn device for a model directory.
    pub device: &'a str,
    /// Keep each example's raw outputs.
    pub logits: bool,
}

/// One class and its softmax probability.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    pub class: String,
    pub index: usize,
    pub score: f32,
}

/// The prediction for one example.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The input file.
    pub input: String,
    /// Index of the example within an IDX or CSV input.
    pub example: Option<usize>,
    /// The true label, when the input has one (CSV).
    pub label: Option<String>,
    pub top: Vec<Scored>,
    /// The model's raw outputs, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logits: Option<Vec<f32>>,
    /// CSV: `column=value` for each category value the model never saw.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unseen: Vec<String>,
}

/// Examples read from one input file.
struct Examples {
    x: Vec<f32>,
    n: usize,
    index: Vec<Option<usize>>,
    label: Vec<Option<String>>,
    unseen: Vec<Vec<String>>,
}

/// Every example's prediction, input by input.
pub fn predict(job: &PredictJob) -> Result<Vec<Prediction>> {
    let opened = classifier::open(job.model)?;
    let mut model: Box<dyn Classifier> = if opened.is_shrk() {
        let mut m = opened.into_runtime()?;
        m.model.set_threads(job.threads);
        Box::new(m)
    } else {
        Box::new(opened.into_burn(&parse_device(job.device)?)?)
    };
    let input_shape = model.spec().input.clone();
    let names = model.spec().class_names.clone();
    let len: usize = input_shape.iter().product();
    let batch = model.batch_size().clamp(1, 64);
    let mut out = Vec::new();
    for input in job.inputs {
        let ex = read_input(input, &input_shape, job)?;
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
                    top: top_k(row, job.top_k, &names),
                    logits: job.logits.then(|| row.to_vec()),
                    unseen: ex.unseen[start + i].clone(),
                });
            }
        }
    }
    Ok(out)
}

/// One line per prediction. Class names and labels come from the files: control
/// characters are escaped so that a name cannot forge or recolour an output line.
pub fn render(predictions: &[Prediction]) -> String {
    let esc = shrink_format::limits::escape_control;
    let mut s = String::new();
    for p in predictions {
        let mut line = p.input.clone();
        if let Some(i) = p.example {
            line.push_str(&format!("#{i}"));
        }
        line.push(':');
        for c in &p.top {
            line.push_str(&format!("  {} ({:.3})", esc(&c.class), c.score));
        }
        if let Some(l) = &p.label {
            line.push_str(&format!("  [label {}]", esc(l)));
        }
        if let Some(z) = &p.logits {
            let z: Vec<String> = z.iter().map(|v| format!("{v}")).collect();
            line.push_str(&format!("  logits {}", z.join(" ")));
        }
        s.push_str(&line);
        s.push('\n');
    }
    s
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

/// The examples of one input; a CSV input with the model's table encoding, its unseen
/// category values noted on stderr.
fn read_input(path: &Path, input_shape: &[usize], job: &PredictJob) -> Result<Examples> {
    let table = match shrink_data::InputKind::of(path) {
        shrink_data::InputKind::Csv => Some(table_encoding(path, job)?),
        _ => None,
    };
    // The DataError's message names the file and says everything.
    let ex = shrink_data::read_inputs(path, input_shape, table.as_ref(), job.limit)?;
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
fn table_encoding(path: &Path, job: &PredictJob) -> Result<shrink_data::TableSchema> {
    Ok(match crate::tables::model_table(job.model)? {
        Some(s) => {
            if let Some(l) = job
                .label
                .as_ref()
                .filter(|l| !l.eq_ignore_ascii_case(&s.label_column))
            {
                bail!(
                    "{}: the model was trained with label column {:?}, not {l:?}",
                    job.model.display(),
                    s.label_column
                );
            }
            s
        }
        None => {
            eprintln!(
                "note: {} carries no table encoding (an older file); encoding {} as training on it would",
                job.model.display(),
                path.display()
            );
            crate::workflow::load_data(&path.display().to_string(), job.label.clone())?
                .schema
                .context("a CSV source has a table schema")?
        }
    })
}
