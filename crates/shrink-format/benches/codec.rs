//! Encode/decode timing of a LeNet-300-100-sized model (266k weights, ~8% kept), plus
//! its per-layer size table. Run with `cargo bench -p shrink-format`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use shrink_format::{inspect, read, write};

/// Median wall time of `runs` calls.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let model = common::lenet_300_100(1);
    let (bytes, report) = write(&model).unwrap();

    println!("LeNet-300-100-like model: {} bytes", bytes.len());
    println!(
        "{:<11} {:>7} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "tensor", "numel", "kept", "fill", "w fix", "w huff", "i fix", "i huff", "bytes", "P+Q"
    );
    for t in &report.tensors {
        println!(
            "{:<11} {:>7} {:>6} {:>6} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7} {:>8}",
            t.name,
            t.numel,
            t.kept,
            t.fillers,
            t.weight_bits_fixed,
            t.weight_bits_huffman,
            t.index_bits_fixed,
            t.index_bits_huffman,
            t.bytes,
            t.fixed_payload_bytes
        );
    }
    println!("header {} bytes", report.header_bytes);

    let runs = 101;
    let encode = median(runs, || {
        black_box(write(black_box(&model)).unwrap());
    });
    let decode = median(runs, || {
        black_box(read(black_box(&bytes)).unwrap());
    });
    let sizes = median(runs, || {
        black_box(inspect(black_box(&bytes)).unwrap());
    });
    println!("write   (median of {runs}): {encode:?}");
    println!("read    (median of {runs}): {decode:?}");
    println!("inspect (median of {runs}): {sizes:?}");
}
