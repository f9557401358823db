//! Between shrink's compressed state (spec, parameters, masks, codebooks) and the `.shrk`
//! container of `shrink-format` (Huffman coding happens there, Deep Compression §4).

use super::params::ParamTable;
use super::quantize::Quantized;
use anyhow::{anyhow, Context, Result};
use shrink_format::spec::ModelSpec;
use shrink_format::{CompressedTensor, NamedTensor, ShrkModel, SizeReport, TensorData as ShrkData};
use std::collections::BTreeMap;
use std::path::Path;

/// Build the container model: quantized weights compressed, everything else dense f32.
pub fn to_shrk(
    spec: &ModelSpec,
    table: &ParamTable,
    quant: &BTreeMap<String, (Vec<usize>, Quantized)>,
    index_bits: u8,
) -> Result<ShrkModel> {
    let mut tensors = Vec::new();
    for p in &table.params {
        let shape: Vec<u32> = p
            .shape
            .iter()
            .map(|&d| u32::try_from(d).map_err(|_| anyhow!("{}: dimension too large", p.name)))
            .collect::<Result<_>>()?;
        let data = match quant.get(&p.name) {
            Some((_, q)) => {
                let mut positions = Vec::new();
                let mut clusters = Vec::new();
                for (i, a) in q.assign.iter().enumerate() {
                    if let Some(k) = a {
                        positions.push(i as u32);
                        clusters.push(*k);
                    }
                }
                ShrkData::Compressed(CompressedTensor {
                    shape,
                    bits: q.bits,
                    index_bits,
                    codebook: q.codebook.clone(),
                    positions,
                    clusters,
                })
            }
            None => ShrkData::Dense {
                shape,
                values: p.data.clone(),
            },
        };
        tensors.push(NamedTensor {
            name: p.name.clone(),
            data,
        });
    }
    Ok(ShrkModel {
        spec_toml: spec.to_toml(),
        meta: vec![(
            "producer".into(),
            format!("shrink {}", env!("CARGO_PKG_VERSION")),
        )],
        tensors,
    })
}

/// Metadata key: the test error (a fraction, e.g. `0.0072`) measured on the file itself
/// by shrink-runtime, written by `shrink compress` and `shrink eval --record`.
pub const META_TEST_ERROR: &str = "test_error";
/// Metadata key: how many test examples [`META_TEST_ERROR`] was measured on.
pub const META_TEST_EXAMPLES: &str = "test_examples";
/// Metadata key: the data set of [`META_TEST_ERROR`] (`mnist`, a path's name, …).
pub const META_TEST_DATA: &str = "test_data";

/// Record a measured test error in `model`'s metadata, replacing an earlier record.
/// The error is written as the exact ratio of wrong predictions to `examples`
/// (`0.0072`, not `0.007199999999999984`). A data path is recorded by its last
/// component only (`mnist`, `credit.csv`): the file travels, this machine's directories
/// should not.
pub fn set_test_meta(model: &mut ShrkModel, test_error: f64, examples: usize, data: &str) {
    let wrong = (test_error * examples as f64).round();
    let test_error = wrong / examples.max(1) as f64;
    let data = Path::new(data)
        .file_name()
        .map_or(data.to_string(), |n| n.to_string_lossy().to_string());
    let data = data.as_str();
    let keys = [META_TEST_ERROR, META_TEST_EXAMPLES, META_TEST_DATA];
    model.meta.retain(|(k, _)| !keys.contains(&k.as_str()));
    model.meta.extend([
        (META_TEST_ERROR.to_string(), format!("{test_error}")),
        (META_TEST_EXAMPLES.to_string(), examples.to_string()),
        (META_TEST_DATA.to_string(), data.to_string()),
    ]);
}

/// Encode and write a `.shrk` file atomically; returns where every byte went.
pub fn write_shrk(path: &Path, model: &ShrkModel) -> Result<SizeReport> {
    write_shrk_as(path, model, false)
}

/// [`write_shrk`] in format version 2 when `compact` (`shrink_format::write_compact`:
/// header deflated, half-precision values in 16 bits), else version 1.
pub fn write_shrk_as(path: &Path, model: &ShrkModel, compact: bool) -> Result<SizeReport> {
    let written = if compact {
        shrink_format::write_compact(model)
    } else {
        shrink_format::write(model)
    };
    let (bytes, report) = written.with_context(|| format!("cannot encode {}", path.display()))?;
    crate::model::io::write_atomic(path, &bytes)?;
    Ok(report)
}

/// Reading a `.shrk` back (its spec and dense parameters, or a Burn model) is model
/// file I/O: [`crate::model::io`].
pub use crate::model::io::{load_shrk, read_shrk};

/// Write a measured test error (of `examples` examples of `data`) into the metadata of
/// the `.shrk` file `path` (`shrink eval --record`), rewriting it atomically in its own
/// format version. The tensors are re-encoded from their decoded form, which reproduces
/// them bit for bit — checked before anything is written. Returns the file's length
/// before and after.
pub fn record_test_error(
    path: &Path,
    test_error: f64,
    examples: usize,
    data: &str,
) -> Result<(usize, usize)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut file = shrink_format::read(&bytes).with_context(|| path.display().to_string())?;
    let before = file.tensors.clone();
    set_test_meta(&mut file, test_error, examples, data);
    // A version-2 file stays version 2 (its header deflated, its halves in 16 bits).
    let written = if shrink_format::file_version(&bytes) == Some(shrink_format::VERSION_1) {
        shrink_format::write(&file)
    } else {
        shrink_format::write_compact(&file)
    };
    let (new_bytes, _) = written.with_context(|| format!("cannot encode {}", path.display()))?;
    let back = shrink_format::read(&new_bytes).context("internal")?;
    anyhow::ensure!(
        back.tensors == before,
        "internal: re-encoding {} would change its weights; nothing written",
        path.display()
    );
    crate::model::io::write_atomic(path, &new_bytes)?;
    Ok((bytes.len(), new_bytes.len()))
}
