//! Re-encode a `.shrk` file as format version 2, optionally rounding its codebooks and
//! dense tensors to half precision first: what `[compress] half` and `compact` save on
//! an existing file, without compressing it again.
//!
//! ```sh
//! cargo run --release -p shrink-format --example repack -- in.shrk out.shrk [--half]
//! ```
//!
//! Not here: evaluating the result (`shrink eval out.shrk --data …`).

use shrink_format::half::round_to_f16;
use shrink_format::{read, write_compact, TensorData};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output) = match (args.first(), args.get(1)) {
        (Some(i), Some(o)) => (i, o),
        _ => {
            eprintln!("usage: repack IN.shrk OUT.shrk [--half]");
            std::process::exit(2);
        }
    };
    let half = args.iter().any(|a| a == "--half");
    let fail = |what: String| -> ! {
        eprintln!("repack: {what}");
        std::process::exit(1);
    };
    let bytes = std::fs::read(input).unwrap_or_else(|e| fail(format!("{input}: {e}")));
    let mut model = read(&bytes).unwrap_or_else(|e| fail(format!("{input}: {e}")));
    if half {
        for t in &mut model.tensors {
            let values = match &mut t.data {
                TensorData::Dense { values, .. } => values,
                TensorData::Compressed(c) => &mut c.codebook,
            };
            values.iter_mut().for_each(|v| *v = round_to_f16(*v));
        }
    }
    let (out, report) = write_compact(&model).unwrap_or_else(|e| fail(format!("{e}")));
    let tmp = format!("{output}.tmp");
    std::fs::write(&tmp, &out)
        .and_then(|_| std::fs::rename(&tmp, output))
        .unwrap_or_else(|e| fail(format!("{output}: {e}")));
    println!(
        "{input}: {} bytes (header {}) -> {output}: {} bytes (header {}), format version 2{}",
        bytes.len(),
        shrink_format::inspect(&bytes).map_or(0, |r| r.header_bytes),
        out.len(),
        report.header_bytes,
        if half { ", half precision" } else { "" }
    );
}
