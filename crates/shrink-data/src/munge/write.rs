//! Writing a (synthetic) dataset back in its source's format, so the other
//! tools, and [`crate::load`], can read it: a CSV table with the original
//! header, or an IDX image/label pair. Each file is written under a temporary
//! name beside the target and renamed into place, so a reader never sees half
//! a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::table::{ColumnKind, TableSchema};

/// What [`write_csv`] puts in the label column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvLabels {
    /// The class name of each example's `y` (a labelled set, e.g. after the
    /// teacher labelled a synthetic one).
    ClassNames,
    /// An empty field: the set has no labels yet (what [`crate::munge`] and
    /// [`crate::random_marginals`] produce; their `y` is a placeholder 0).
    /// [`crate::load`] refuses such a file (it needs labels); it is meant
    /// for tools that label it.
    Empty,
}

/// Writes `ds` as a CSV table with `schema`'s header (all columns, in file
/// order). Numeric columns hold the `f32` value in its shortest form that
/// reads back to the same `f32`; each one-hot group is decoded to its level
/// (the feature above 0.5 with the largest value; an all-zero group, which
/// only an unseen test level produces, becomes an empty, i.e. missing,
/// field); the label column is filled as `labels` says. Written to a
/// temporary file beside `path`, then renamed.
pub fn write_csv(
    path: &Path,
    ds: &Dataset,
    schema: &TableSchema,
    labels: CsvLabels,
) -> Result<(), DataError> {
    ds.validate()?;
    super::check_schema(ds, schema)?;
    let el = ds.example_len();
    write_atomically(path, |file| {
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
        w.write_record(&schema.header).map_err(csv_io)?;
        let mut fields = vec![String::new(); schema.header.len()];
        for (i, &y) in ds.y.iter().enumerate() {
            let row = &ds.x[i * el..(i + 1) * el];
            for c in &schema.columns {
                let part = &row[c.offset..c.offset + c.width];
                fields[c.index] = match &c.kind {
                    ColumnKind::Numeric { .. } => part[0].to_string(),
                    ColumnKind::Categorical { levels } => part
                        .iter()
                        .enumerate()
                        .filter(|(_, &v)| v > 0.5)
                        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                        .map(|(k, _)| levels[k].clone())
                        .unwrap_or_default(),
                };
            }
            fields[schema.label_index] = match labels {
                CsvLabels::ClassNames => ds.class_names[y as usize].clone(),
                CsvLabels::Empty => String::new(),
            };
            w.write_record(&fields).map_err(csv_io)?;
        }
        w.into_inner()
            .map_err(|e| e.into_error())?
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()
    })
}

/// Writes an image set into the folder `dir` (created if missing) as
/// `train-images-idx3-ubyte` (`[n, h, w]`, for shape `[1, h, w]`) or
/// `train-images-idx4-ubyte` (`[n, c, h, w]`) and `train-labels-idx1-ubyte`:
/// pixels `round(x · 255)` clamped to `0..=255`, labels `y` (all 0 for a
/// synthetic set that is not labelled yet). Each file is written to a
/// temporary name, then renamed. [`crate::load`] reads the folder back
/// (splitting a test set off, as for any IDX folder without `t10k-*` files).
pub fn write_idx(dir: &Path, ds: &Dataset) -> Result<(), DataError> {
    ds.validate()?;
    let bad = |msg: String| Err(DataError::InvalidOption { msg });
    let [c, h, w] = ds.shape[..] else {
        return bad(format!(
            "IDX images need an example shape [channels, height, width], got {:?}",
            ds.shape
        ));
    };
    let mut dims: Vec<usize> = vec![ds.len()];
    if c != 1 {
        dims.push(c);
    }
    dims.extend([h, w]);
    let Ok(dims) = dims
        .iter()
        .map(|&d| u32::try_from(d))
        .collect::<Result<Vec<u32>, _>>()
    else {
        return bad(format!("IDX dimensions {dims:?} do not fit in u32"));
    };
    if let Some((i, &l)) = ds.y.iter().enumerate().find(|(_, &l)| l > 255) {
        return bad(format!(
            "label {l} of example {i} does not fit in an IDX byte (0..=255)"
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let images = dir.join(format!("train-images-idx{}-ubyte", dims.len()));
    write_atomically(&images, |file| {
        let mut out = std::io::BufWriter::new(file);
        out.write_all(&idx_header(&dims))?;
        let pixels: Vec<u8> = ds.x.iter().map(|&v| to_byte(v)).collect();
        out.write_all(&pixels)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })?;
    let labels = dir.join("train-labels-idx1-ubyte");
    write_atomically(&labels, |file| {
        let mut out = std::io::BufWriter::new(file);
        out.write_all(&idx_header(&[dims[0]]))?;
        let bytes: Vec<u8> = ds.y.iter().map(|&l| l as u8).collect();
        out.write_all(&bytes)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })
}

/// `00 00 08 ndim` and the big-endian sizes.
fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

/// A `[0, 1]` intensity as a byte (NaN becomes 0).
fn to_byte(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// Runs `write` on a new temporary file beside `path` and renames it to
/// `path`; on failure the temporary file is removed and the error names `path`.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(std::fs::File) -> std::io::Result<()>,
) -> Result<(), DataError> {
    let tmp = temp_path(path);
    let result = std::fs::File::create(&tmp)
        .and_then(write)
        .and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

/// `.NAME.tmp-PID` in the folder of `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}
