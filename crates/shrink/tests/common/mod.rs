//! Helpers for the CLI tests: run the real binary, make small data sets.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The tiny convolutional net several tests train on 10×10 single-channel images of 4
/// classes (`idx_dataset(.., 10, 10, 4)`): conv 6@3×3, ReLU, 2×2 max pool, linear 40,
/// ReLU, linear 4. Layers only: each test appends its own `[train]` and `[compress]`.
pub const TINY_CONV_NET: &str = r#"
name = "tiny"
input = [1, 10, 10]
[[layers]]
type = "conv2d"
out = 6
kernel = 3
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 40
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 4
"#;

pub fn shrink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shrink"));
    c.current_dir(repo_root());
    c
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn run(args: &[&str]) -> Output {
    shrink().args(args).output().expect("run shrink")
}

/// Runs the binary and asserts it succeeded, showing its stderr when it did not.
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "shrink failed: {}\nstderr: {}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the command failed cleanly: non-zero exit, one `error:` line, no panic.
pub fn assert_clean_failure(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        !err.contains("internal error") && !err.contains("panicked"),
        "{err}"
    );
    assert!(
        lines[0].contains(needle),
        "error line should mention {needle:?}: {err}"
    );
}

/// Synthetic image classes: class c has a bright 3×3 blob at a class-specific place,
/// plus seeded noise. Returns (images u8 [n, h, w], labels).
pub fn blobs(n: usize, h: usize, w: usize, classes: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = shrink_testkit::Lcg::new(seed);
    rng.next_u64();
    let mut next = || (rng.next_u64() >> 33) as u32;
    let mut img = vec![0u8; n * h * w];
    let mut lab = vec![0u8; n];
    for i in 0..n {
        let c = i % classes;
        lab[i] = c as u8;
        let cy = 2 + (c * 5) % (h - 4);
        let cx = 2 + (c * 3) % (w - 4);
        for y in 0..h {
            for x in 0..w {
                let noise = (next() % 60) as i32;
                let near = (y as i32 - cy as i32).abs() <= 1 && (x as i32 - cx as i32).abs() <= 1;
                let v = if near { 200 + noise / 2 } else { noise };
                img[i * h * w + y * w + x] = v.clamp(0, 255) as u8;
            }
        }
    }
    (img, lab)
}

pub use shrink_testkit::{write_idx_images, write_idx_labels};

/// An IDX data set directory (train + t10k) of `h`×`w` blobs with `classes` classes.
pub fn idx_dataset(dir: &Path, n_train: usize, n_test: usize, h: usize, w: usize, classes: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let (a, b) = blobs(n_train, h, w, classes, 1);
    write_idx_images(&dir.join("train-images-idx3-ubyte"), &a, n_train, h, w);
    write_idx_labels(&dir.join("train-labels-idx1-ubyte"), &b);
    let (a, b) = blobs(n_test, h, w, classes, 2);
    write_idx_images(&dir.join("t10k-images-idx3-ubyte"), &a, n_test, h, w);
    write_idx_labels(&dir.join("t10k-labels-idx1-ubyte"), &b);
}

/// A CSV table: two numeric columns, one categorical, label decided by a rule.
pub fn csv_table(path: &Path, n: usize) {
    let mut s = String::from("x1,x2,colour,label\n");
    let mut r = shrink_testkit::Lcg::new(12345);
    for _ in 0..n {
        let x1 = r.unit_f64() * 4.0 - 2.0;
        let x2 = r.unit_f64() * 4.0 - 2.0;
        let colour = ["red", "green", "blue"][(r.next_u64() >> 50) as usize % 3];
        let score = x1 + x2 + if colour == "red" { 1.5 } else { -0.5 };
        let label = if score > 0.3 { "yes" } else { "no" };
        s.push_str(&format!("{x1:.4},{x2:.4},{colour},{label}\n"));
    }
    std::fs::write(path, s).unwrap();
}

/// The first `n_train` training and `n_test` test images of the bundled MNIST, written
/// as an IDX directory (issue 18's device tests: real digits, small enough for seconds).
pub fn mnist_subset(dir: &Path, n_train: usize, n_test: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mnist = repo_root().join("data/mnist");
    let src =
        shrink_data::load(mnist.to_str().unwrap(), &Default::default()).expect("bundled MNIST");
    let write = |ds: &shrink_data::Dataset, n: usize, prefix: &str| {
        let px: Vec<u8> = ds.x[..n * 784]
            .iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect();
        let y: Vec<u8> = ds.y[..n].iter().map(|&c| c as u8).collect();
        write_idx_images(
            &dir.join(format!("{prefix}-images-idx3-ubyte")),
            &px,
            n,
            28,
            28,
        );
        write_idx_labels(&dir.join(format!("{prefix}-labels-idx1-ubyte")), &y);
    };
    write(&src.train, n_train, "train");
    write(&src.test, n_test, "t10k");
}

/// The per-epoch training losses a `shrink train --out DIR` run wrote to
/// `DIR/metrics.jsonl`.
pub fn train_losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["train_loss"]
                .as_f64()
                .unwrap()
        })
        .collect()
}
