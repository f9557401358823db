//! Classify the images of an IDX file with a `.shrk` model — the whole deployment: this
//! crate and `shrink-format`, nothing else (the example reads its IDX files with
//! `shrink-data`, a dev-dependency).
//!
//! ```sh
//! cargo run --release -p shrink-runtime --example classify -- runs/c300/model.shrk \
//!     data/mnist/t10k-images-idx3-ubyte.gz data/mnist/t10k-labels-idx1-ubyte.gz
//! ```
//!
//! Prints the predicted class of the first images, and the accuracy when a labels file
//! is given. IDX files may be raw or gzip.

use shrink_runtime::{Model, Workspace};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, images, rest @ ..] = args.as_slice() else {
        return Err("usage: classify MODEL.shrk IMAGES-IDX [LABELS-IDX]".into());
    };
    let bytes = std::fs::read(model_path).map_err(|e| format!("{model_path}: {e}"))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{model_path}: {e}"))?;
    let ex = shrink_data::read_idx_examples(Path::new(images), None).map_err(|e| e.to_string())?;
    let per: usize = ex.shape.iter().product();
    if per != model.input_len() {
        return Err(format!(
            "{images}: images of {per} values, the model takes {:?}",
            model.input_shape()
        ));
    }
    let (n, x) = (ex.n, ex.x);
    let mut ws = Workspace::default();
    let mut logits = Vec::new();
    let mut predicted = Vec::with_capacity(n);
    let started = std::time::Instant::now();
    for start in (0..n).step_by(64) {
        let b = (n - start).min(64);
        model
            .forward(&x[start * per..(start + b) * per], b, &mut ws, &mut logits)
            .map_err(|e| e.to_string())?;
        for row in logits.chunks(model.classes()) {
            let best = (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b });
            predicted.push(best);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let name = |k: usize| {
        model
            .class_names()
            .get(k)
            .cloned()
            .unwrap_or_else(|| k.to_string())
    };
    for (i, &k) in predicted.iter().take(10).enumerate() {
        println!("image {i}: {}", name(k));
    }
    println!(
        "{n} images in {:.1} ms ({:.0} images/s), {} bytes of weights in memory",
        seconds * 1e3,
        n as f64 / seconds,
        model.memory_bytes()
    );
    if let Some(labels) = rest.first() {
        let y = shrink_data::read_idx_labels(Path::new(labels)).map_err(|e| e.to_string())?;
        if y.len() != n {
            return Err(format!("{labels}: {} labels for {n} images", y.len()));
        }
        let right = predicted
            .iter()
            .zip(&y)
            .filter(|(p, y)| **p == **y as usize)
            .count();
        println!(
            "accuracy {:.2}% ({right} of {n})",
            100.0 * right as f64 / n as f64
        );
    }
    Ok(())
}
