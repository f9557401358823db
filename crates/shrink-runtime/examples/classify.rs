//! Classify the images of an IDX file with a `.shrk` model — the whole deployment: this
//! crate and `shrink-format`, nothing else.
//!
//! ```sh
//! gunzip -k data/mnist/t10k-images-idx3-ubyte.gz data/mnist/t10k-labels-idx1-ubyte.gz
//! cargo run --release -p shrink-runtime --example classify -- runs/c300/model.shrk \
//!     data/mnist/t10k-images-idx3-ubyte data/mnist/t10k-labels-idx1-ubyte
//! ```
//!
//! Prints the predicted class of the first images, and the accuracy when a labels file
//! is given. IDX files must be uncompressed (`gunzip` them first).

use shrink_runtime::{Model, Workspace};
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

/// The payload of an IDX file of unsigned bytes, and its dimensions.
fn read_idx(path: &str) -> Result<(Vec<usize>, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.len() < 4 || bytes[..3] != [0, 0, 8] {
        return Err(format!(
            "{path}: not an (uncompressed) IDX file of unsigned bytes"
        ));
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(format!("{path}: truncated header"));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let data = bytes[header..].to_vec();
    if data.len() as u64 != dims.iter().map(|&d| d as u64).product::<u64>() {
        return Err(format!(
            "{path}: {} data bytes for dimensions {dims:?}",
            data.len()
        ));
    }
    Ok((dims, data))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, images, rest @ ..] = args.as_slice() else {
        return Err("usage: classify MODEL.shrk IMAGES-IDX [LABELS-IDX]".into());
    };
    let bytes = std::fs::read(model_path).map_err(|e| format!("{model_path}: {e}"))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{model_path}: {e}"))?;
    let (dims, pixels) = read_idx(images)?;
    let per: usize = dims.iter().skip(1).product();
    if dims.is_empty() || per != model.input_len() {
        return Err(format!(
            "{images}: images of {per} values, the model takes {:?}",
            model.input_shape()
        ));
    }
    let n = dims[0];
    let x: Vec<f32> = pixels.iter().map(|&v| v as f32 / 255.0).collect();
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
        let (_, y) = read_idx(labels)?;
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
