//! shrink-data: the data layer of shrink, pure Rust and free of any ML framework.
//!
//! [`load`] turns a spec (`"mnist"` for the bundled, checksummed copy, or a
//! path: an IDX folder, a CIFAR-10/100 binary folder, a `.csv` table, or a
//! folder of class sub-folders of PNG/JPEG images) into a [`DataSource`] with
//! train and test [`Dataset`]s of `f32` features in row-major order. Around it:
//! [`compute_normalization`] / [`Normalization::apply`] for standardisation,
//! [`shuffled_indices`] / [`split_indices`] for seeded, machine-independent
//! shuffles and splits, and [`Augment`] for image augmentation. For model
//! compression (Buciluǎ et al. 2006): [`munge`] and [`random_marginals`]
//! generate synthetic transfer sets (with the exact, blocked
//! [`nearest_neighbours`] search MUNGE needs), and [`write_csv`] /
//! [`write_idx`] write them in the source's format.
//! [`read_inputs`] reads what a trained model is run on (an image, an IDX file,
//! a CSV file's rows in the model's table encoding), with the one image decoder
//! ([`decode_image`]) and the one IDX reader that loading uses.
//!
//! Errors are a [`DataError`] that names the file and what is wrong, with the
//! byte offset (IDX, CIFAR) or line and column (CSV). Loaders never panic on
//! bad input and size allocations only from header fields already checked
//! against the file's actual length.
//!
//! ```no_run
//! use shrink_data::{compute_normalization, load, shuffled_indices, Augment, LoadOptions};
//!
//! let src = load("mnist", &LoadOptions::default())?;
//! println!("{}", shrink_data::describe(&src));
//! let norm = compute_normalization(&src.train);
//! let mut test_x = src.test.x.clone();
//! norm.apply(&src.test.shape, &mut test_x);
//! let aug = Augment { max_shift: 2, hflip: false, max_rotate_deg: 10.0 };
//! let mut rng = shrink_data::seeded_rng(1);
//! for i in shuffled_indices(src.train.len(), 0) {
//!     let mut ex = src.train.example(i).to_vec();
//!     aug.apply(&src.train.shape, &mut ex, &mut rng);
//!     norm.apply(&src.train.shape, &mut ex);
//!     // ... batch `ex` with label src.train.y[i]
//! }
//! # Ok::<(), shrink_data::DataError>(())
//! ```

#![warn(missing_docs)]

mod augment;
mod cifar;
mod dataset;
mod error;
mod folder;
mod idx;
mod inputs;
mod io;
mod munge;
mod normalize;
mod split;
mod table;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use augment::Augment;
pub use dataset::Dataset;
pub use error::DataError;
pub use idx::{read_idx_examples, read_idx_labels, IdxExamples, MAX_IDX_ELEMENTS, MNIST_FILES};
pub use inputs::{decode_image, read_image, read_inputs, InputKind, Inputs};
pub use munge::{
    munge, nearest_neighbours, nearest_neighbours_mixed, random_marginals, write_csv, write_idx,
    CsvLabels, MungeOptions, DEFAULT_P, DEFAULT_S,
};
pub use normalize::{compute_normalization, Normalization, STD_FLOOR};
pub use split::{seeded_rng, shuffled_indices, split_indices, stratified_split_indices};
pub use table::{
    encode_with_schema, is_missing, read_rows, ColumnKind, ColumnSchema, EncodedRows, TableSchema,
    UnseenLevel, LABEL_NAMES, MAX_LEVELS,
};

/// The kind of a loaded source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// IDX files (MNIST and its relatives), gzip or raw.
    Idx,
    /// CIFAR-10 binary batches.
    Cifar10,
    /// CIFAR-100 binary files (fine labels).
    Cifar100,
    /// A CSV table.
    Csv,
    /// A folder of class sub-folders of PNG/JPEG images.
    ImageFolder,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceKind::Idx => "IDX",
            SourceKind::Cifar10 => "CIFAR-10",
            SourceKind::Cifar100 => "CIFAR-100",
            SourceKind::Csv => "CSV",
            SourceKind::ImageFolder => "image folder",
        })
    }
}

/// A loaded data source: train and test splits (+ the table schema for CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// `"mnist"`, or the path given.
    pub name: String,
    /// What was loaded.
    pub kind: SourceKind,
    /// The train split.
    pub train: Dataset,
    /// The test split (the source's own, or split off the train data).
    pub test: Dataset,
    /// For CSV: how the columns map to encoded features.
    pub schema: Option<TableSchema>,
}

/// Options for [`load`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// CSV only: the label column (exact name, else the unique case-insensitive match).
    pub label_column: Option<String>,
    /// Fraction split off as the test set (seeded, stratified by class) when a
    /// source has no test split; must be in `(0, 1)` then. Default 0.2.
    pub test_fraction: f32,
    /// Seed of that split. Default 0.
    pub seed: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            label_column: None,
            test_fraction: 0.2,
            seed: 0,
        }
    }
}

/// A split as a loader produces it, before classes are known.
#[derive(Debug)]
pub(crate) struct RawSplit {
    pub shape: Vec<usize>,
    pub x: Vec<f32>,
    pub y: Vec<u32>,
    /// The file or folder it came from (for error messages).
    pub source: PathBuf,
}

/// Validates `opts.test_fraction` for a split and returns it.
pub(crate) fn check_test_fraction(opts: &LoadOptions) -> Result<f32, DataError> {
    let f = opts.test_fraction;
    if f.is_finite() && f > 0.0 && f < 1.0 {
        Ok(f)
    } else {
        Err(DataError::InvalidOption {
            msg: format!(
                "test_fraction must be between 0 and 1 (exclusive) when the source has no \
                 test split, got {f}"
            ),
        })
    }
}

/// The data folders searched, in order: `$SHRINK_DATA_DIR` alone if set
/// (non-empty); else `<current dir>/data`, then the `data/` folder of the
/// repository this crate was built in.
pub fn data_dir_candidates() -> Vec<PathBuf> {
    candidates_from(
        std::env::var_os("SHRINK_DATA_DIR"),
        std::env::current_dir().ok(),
    )
}

fn candidates_from(env: Option<OsString>, cwd: Option<PathBuf>) -> Vec<PathBuf> {
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(v)];
    }
    let mut v: Vec<PathBuf> = cwd.into_iter().map(|c| c.join("data")).collect();
    v.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data"
    )));
    v
}

fn pick_data_dir(candidates: &[PathBuf]) -> PathBuf {
    candidates
        .iter()
        .find(|c| c.join("mnist").is_dir())
        .or_else(|| candidates.iter().find(|c| c.is_dir()))
        .or(candidates.last())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Where the bundled data lives: among [`data_dir_candidates`] (in that order:
/// `$SHRINK_DATA_DIR`, `<current dir>/data`, `<repo>/data`), the first that
/// holds `mnist/`, else the first that exists, else the last.
pub fn repo_data_dir() -> PathBuf {
    pick_data_dir(&data_dir_candidates())
}

/// Loads a data source. `spec` is `"mnist"` (any case: the bundled copy under
/// [`repo_data_dir`]`/mnist`, md5-verified) or a path to a `.csv` file or a
/// folder (IDX files, CIFAR binaries, or image class folders; a folder holding
/// only `cifar-10-batches-bin/` or `cifar-100-binary/` is entered). To load a
/// folder that is literally named `mnist`, write `./mnist`.
pub fn load(spec: &str, opts: &LoadOptions) -> Result<DataSource, DataError> {
    if spec.eq_ignore_ascii_case("mnist") {
        let dir = repo_data_dir().join("mnist");
        if !dir.is_dir() {
            return Err(DataError::BundledMissing {
                msg: format!(
                    "no mnist/ folder in any data folder searched ({}); run from the shrink \
                     repository, or set SHRINK_DATA_DIR to the folder that holds mnist/ with \
                     the four *-ubyte.gz files",
                    data_dir_candidates()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let (train, test) = idx::load_bundled_mnist(&dir)?;
        let (train, test) = assemble(train, Some(test), 10, numbered(10), opts)?;
        return Ok(DataSource {
            name: "mnist".into(),
            kind: SourceKind::Idx,
            train,
            test,
            schema: None,
        });
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(DataError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let (kind, train, test, schema) = if path.is_dir() {
        let (k, tr, te) = load_dir(path, opts, true)?;
        (k, tr, te, None)
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        let (tr, te, s) = table::load_csv(path, opts)?;
        (SourceKind::Csv, tr, te, Some(s))
    } else {
        return Err(DataError::Unrecognized {
            path: path.to_path_buf(),
            msg: "a file that is not .csv; give a .csv table, a folder of IDX files, a folder \
                  of CIFAR binaries, a folder of image class folders, or \"mnist\""
                .into(),
        });
    };
    Ok(DataSource {
        name: spec.to_string(),
        kind,
        train,
        test,
        schema,
    })
}

/// Loads `spec` for a model trained on a table: a CSV file (and its `NAME.test.csv`
/// sibling) encoded with the model's `schema` rather than one fitted to this file, so
/// that features, category levels, imputed means and class ids are the ones the model
/// learned. The label column is the schema's (`opts.label_column`, if given, must name
/// it); the test split is chosen as [`load`] chooses it.
pub fn load_with_schema(
    spec: &str,
    opts: &LoadOptions,
    schema: &TableSchema,
) -> Result<DataSource, DataError> {
    let path = Path::new(spec);
    if !path.is_file()
        || !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        if !path.exists() {
            return Err(DataError::NotFound {
                path: path.to_path_buf(),
            });
        }
        return Err(DataError::Unrecognized {
            path: path.to_path_buf(),
            msg: format!(
                "the model was trained on a table (label {:?}); give a .csv file with its columns",
                schema.label_column
            ),
        });
    }
    if let Some(l) = &opts.label_column {
        if !l.eq_ignore_ascii_case(&schema.label_column) {
            return Err(DataError::Unrecognized {
                path: path.to_path_buf(),
                msg: format!(
                    "the model was trained with label column {:?}, not {l:?}",
                    schema.label_column
                ),
            });
        }
    }
    let (train, test) = table::load_csv_with_schema(path, schema, opts)?;
    Ok(DataSource {
        name: spec.to_string(),
        kind: SourceKind::Csv,
        train,
        test,
        schema: Some(schema.clone()),
    })
}

fn numbered(k: usize) -> Vec<String> {
    dataset::numbered_class_names(k)
}

/// Loads a folder source.
fn load_dir(
    dir: &Path,
    opts: &LoadOptions,
    may_descend: bool,
) -> Result<(SourceKind, Dataset, Dataset), DataError> {
    let (files, dirs) = io::list_dir(dir)?;
    if files.iter().any(|f| idx::is_idx_name(&io::file_name(f))) {
        let found = idx::find_files(dir, &files)?;
        let train = idx::load_pair(&found.train.0, &found.train.1, None)?;
        let test = match &found.test {
            Some((i, l)) => Some(idx::load_pair(i, l, None)?),
            None => None,
        };
        let max = train
            .y
            .iter()
            .chain(test.iter().flat_map(|t| t.y.iter()))
            .max()
            .copied();
        let classes = max.map_or(0, |m| m as usize + 1);
        let (tr, te) = assemble(train, test, classes, numbered(classes), opts)?;
        return Ok((SourceKind::Idx, tr, te));
    }
    if let Some(found) = cifar::find_files(dir, &files)? {
        let v = found.variant;
        let names = cifar::class_names(dir, v)?;
        let train = cifar::load_split(&found.train, v)?;
        let test = match &found.test {
            Some(t) => Some(cifar::load_split(std::slice::from_ref(t), v)?),
            None => None,
        };
        let (tr, te) = assemble(train, test, v.classes(), names, opts)?;
        let kind = match v {
            cifar::Variant::Ten => SourceKind::Cifar10,
            cifar::Variant::Hundred => SourceKind::Cifar100,
        };
        return Ok((kind, tr, te));
    }
    if may_descend {
        if let [only] = dirs.as_slice() {
            let n = io::file_name(only);
            if n == "cifar-10-batches-bin" || n == "cifar-100-binary" {
                return load_dir(only, opts, false);
            }
        }
    }
    if dirs.is_empty() {
        return Err(DataError::Unrecognized {
            path: dir.to_path_buf(),
            msg: "expected IDX files (train-images*, train-labels*, t10k-images*, \
                  t10k-labels*), CIFAR binaries (data_batch_*.bin + test_batch.bin, or \
                  train.bin + test.bin), or one sub-folder of PNG/JPEG images per class"
                .into(),
        });
    }
    let (train, test, names) = folder::load_folder(dir)?;
    let k = names.len();
    let (tr, te) = assemble(train, test, k, names, opts)?;
    Ok((SourceKind::ImageFolder, tr, te))
}

/// Builds the train and test datasets: checks the train split is not empty,
/// that the shapes agree, and splits a test set off when there is none.
fn assemble(
    train: RawSplit,
    test: Option<RawSplit>,
    classes: usize,
    class_names: Vec<String>,
    opts: &LoadOptions,
) -> Result<(Dataset, Dataset), DataError> {
    if train.y.is_empty() {
        return Err(DataError::layout(&train.source, "no train examples"));
    }
    let mk = |s: RawSplit| -> Result<Dataset, DataError> {
        Dataset::new(s.shape, s.x, s.y, classes, class_names.clone())
    };
    match test {
        Some(t) => {
            if t.shape != train.shape {
                return Err(DataError::Mismatch {
                    path: t.source.clone(),
                    what: "example shape".into(),
                    found: format!("{:?}", t.shape),
                    other: train.source.clone(),
                    expected: format!("{:?}", train.shape),
                });
            }
            Ok((mk(train)?, mk(t)?))
        }
        None => {
            let f = check_test_fraction(opts)?;
            let all = mk(train)?;
            let (tr, te) = stratified_split_indices(&all.y, classes, f, opts.seed);
            Ok((all.subset(&tr), all.subset(&te)))
        }
    }
}

impl DataSource {
    /// A JSON summary (no feature values): name, kind, shape, classes, class
    /// names, per-split sizes and class counts, and the CSV schema if any.
    pub fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "kind": self.kind,
            "shape": self.train.shape,
            "classes": self.train.classes,
            "class_names": self.train.class_names,
            "train": { "n": self.train.len(), "class_counts": self.train.class_counts() },
            "test": { "n": self.test.len(), "class_counts": self.test.class_counts() },
            "schema": self.schema,
        })
    }
}

/// A short human summary: kind, shape, train/test sizes, classes and class
/// counts (all classes up to 20; beyond that the smallest and largest), and
/// for CSV the columns.
pub fn describe(src: &DataSource) -> String {
    use std::fmt::Write;
    let (tr, te) = (&src.train, &src.test);
    let mut s = String::new();
    let _ = writeln!(s, "{} ({})", src.name, src.kind);
    let _ = writeln!(
        s,
        "  example shape {:?} ({} values)",
        tr.shape,
        tr.example_len()
    );
    let _ = writeln!(s, "  train {} examples, test {}", tr.len(), te.len());
    if let Some(schema) = &src.schema {
        let numeric = schema
            .columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Numeric { .. }))
            .count();
        let _ = writeln!(
            s,
            "  label column {:?}; {} feature columns ({} numeric, {} categorical) -> {} features",
            schema.label_column,
            schema.columns.len(),
            numeric,
            schema.columns.len() - numeric,
            schema.width
        );
        for c in &schema.columns {
            let what = match &c.kind {
                ColumnKind::Numeric {
                    min,
                    max,
                    mean,
                    std,
                } => format!("numeric  min {min} max {max} mean {mean:.4} std {std:.4}"),
                ColumnKind::Categorical { levels } => {
                    let shown: Vec<&str> = levels.iter().take(8).map(String::as_str).collect();
                    let more = if levels.len() > 8 { ", ..." } else { "" };
                    format!(
                        "categorical {} levels [{}{more}]",
                        levels.len(),
                        shown.join(", ")
                    )
                }
            };
            let miss = if c.missing > 0 {
                format!(" ({} missing)", c.missing)
            } else {
                String::new()
            };
            let _ = writeln!(s, "    {:<20} {what}{miss}", c.name);
        }
    }
    let _ = writeln!(s, "  classes {}", tr.classes);
    let (ct, cs) = (tr.class_counts(), te.class_counts());
    if tr.classes <= 20 {
        let w = tr
            .class_names
            .iter()
            .map(|n| n.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let _ = writeln!(s, "    {:<w$} {:>8} {:>8}", "class", "train", "test");
        for (i, n) in tr.class_names.iter().enumerate() {
            let _ = writeln!(s, "    {n:<w$} {:>8} {:>8}", ct[i], cs[i]);
        }
    } else {
        let arg = |v: &[usize], max: bool| {
            let i = if max {
                (0..v.len()).max_by_key(|&i| (v[i], std::cmp::Reverse(i)))
            } else {
                (0..v.len()).min_by_key(|&i| v[i])
            };
            i.map(|i| format!("{} ({})", v[i], tr.class_names[i]))
                .unwrap_or_default()
        };
        let _ = writeln!(
            s,
            "    train per class: min {}, max {}",
            arg(&ct, false),
            arg(&ct, true)
        );
        let _ = writeln!(
            s,
            "    test per class:  min {}, max {}",
            arg(&cs, false),
            arg(&cs, true)
        );
    }
    s
}

#[cfg(test)]
mod tests;
