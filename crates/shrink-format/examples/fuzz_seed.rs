//! Writes small valid `.shrk` files as the fuzz seed corpus:
//! `cargo run -p shrink-format --example fuzz_seed -- fuzz/corpus/read`.

#[path = "../tests/common/mod.rs"]
mod common;

use shrink_format::{write, ShrkModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: fuzz_seed <corpus dir>")?;
    std::fs::create_dir_all(&dir)?;
    let mut all_dense = common::small_model();
    all_dense
        .tensors
        .retain(|t| matches!(t.data, shrink_format::TensorData::Dense { .. }));
    for (name, model) in [
        ("small.shrk", common::small_model()),
        ("dense.shrk", all_dense),
        ("empty.shrk", ShrkModel::default()),
    ] {
        let (bytes, _) = write(&model)?;
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, &bytes)?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}
