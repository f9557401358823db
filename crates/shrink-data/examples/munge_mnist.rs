//! Times MUNGE on all 60 000 bundled MNIST training images: the exact
//! nearest-neighbour search and the whole run (search + one pass).
//!
//! ```text
//! cargo run --release -p shrink-data --example munge_mnist [-- SIZE]
//! ```

use std::cell::Cell;
use std::time::Instant;

use shrink_data::{load, munge, LoadOptions, MungeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size: usize = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 60_000,
    };
    let src = load("mnist", &LoadOptions::default())?;
    let train = &src.train;
    let n = train.len();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    println!(
        "MUNGE of {n} MNIST images ({} values each) into {size}, {threads} threads",
        train.example_len()
    );
    let start = Instant::now();
    let search_done = Cell::new(None);
    let next_report = Cell::new(0usize);
    let progress = |done: usize, total: usize| {
        if done >= n && search_done.get().is_none() {
            search_done.set(Some(start.elapsed().as_secs_f64()));
        }
        if done >= next_report.get() {
            eprintln!(
                "  {done:>7} / {total} ({:.1} s)",
                start.elapsed().as_secs_f64()
            );
            next_report.set(done + total / 10);
        }
    };
    let out = munge(train, None, &MungeOptions::new(size), Some(&progress))?;
    let total = start.elapsed().as_secs_f64();
    let search = search_done.get().unwrap_or(total);
    println!("nearest-neighbour search: {search:.1} s");
    println!("MUNGE pass(es):           {:.1} s", total - search);
    println!(
        "total:                    {total:.1} s ({} examples)",
        out.len()
    );
    Ok(())
}
