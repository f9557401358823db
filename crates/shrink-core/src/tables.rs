//! Tables as tables: a model trained on a CSV file keeps the file's encoding (its
//! [`TableSchema`]: columns, category levels, imputation means, the label column and
//! the class names) and every later command reads data through it rather than through
//! an encoding fitted afresh to whatever file it is given.
//!
//! Where it is kept: `table.json` in a model directory (written by `train`, `mimic` and
//! the dense stage of `compress`), and the metadata entry `table` of a `.shrk` file
//! (compact JSON, written by `compress` and `quantize`). `eval`, `compress`, `prune`,
//! `quantize` and `mimic` load their data with [`load_data_for`]; `shrink run` reads rows
//! in file order with [`shrink_data::read_rows`]. A model saved before this existed has
//! no schema: its data are encoded as `train` would encode them (the old behaviour).
//!
//! Also here: loading `--data` by name ([`load_data`]) and the checks that a data set
//! can train and test a classifier at all.
//!
//! Not here: reading and encoding CSV files (`shrink-data`'s `table` module).

use anyhow::{bail, Context, Result};
use shrink_data::{DataSource, LoadOptions, TableSchema};
use shrink_format::ShrkModel;
use std::path::{Path, PathBuf};

/// File of a model directory holding the table encoding.
pub const TABLE_FILE: &str = "table.json";
/// `.shrk` metadata key holding the table encoding (JSON).
pub const META_TABLE: &str = "table";

/// Seed of the train/test split for sources that have no test split of their own. Fixed
/// (not the training seed) so that `eval` sees the same test examples as `train`.
pub const SPLIT_SEED: u64 = 0;

/// Load `--data` (`mnist` or a path).
pub fn load_data(data: &str, label: Option<String>) -> Result<DataSource> {
    let opts = LoadOptions {
        label_column: label,
        test_fraction: 0.2,
        seed: SPLIT_SEED,
    };
    Ok(shrink_data::load(data, &opts)?)
}

/// Write `schema` into the model directory `dir` (atomically).
pub fn save_table(dir: &Path, schema: &TableSchema) -> Result<()> {
    crate::model::io::write_atomic(
        &dir.join(TABLE_FILE),
        serde_json::to_string_pretty(schema)?.as_bytes(),
    )
}

/// The table encoding of a model directory, if it was trained on a table.
pub fn dir_table(dir: &Path) -> Result<Option<TableSchema>> {
    let path = dir.join(TABLE_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let schema: TableSchema = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a table encoding", path.display()))?;
    check_schema(&schema).with_context(|| path.display().to_string())?;
    Ok(Some(schema))
}

/// The table encoding kept in a `.shrk` file's metadata, if any.
pub fn shrk_table(model: &ShrkModel) -> Result<Option<TableSchema>> {
    let Some((_, text)) = model.meta.iter().find(|(k, _)| k == META_TABLE) else {
        return Ok(None);
    };
    let schema: TableSchema = serde_json::from_str(text)
        .with_context(|| format!("metadata {META_TABLE:?} is not a table encoding"))?;
    check_schema(&schema)?;
    Ok(Some(schema))
}

/// Put `schema` (when there is one) into `model`'s metadata, replacing an older entry.
pub fn set_table_meta(model: &mut ShrkModel, schema: Option<&TableSchema>) -> Result<()> {
    model.meta.retain(|(k, _)| k != META_TABLE);
    if let Some(s) = schema {
        model
            .meta
            .push((META_TABLE.to_string(), serde_json::to_string(s)?));
    }
    Ok(())
}

/// The table encoding of a model: a model directory or a `.shrk` file.
pub fn model_table(path: &Path) -> Result<Option<TableSchema>> {
    if path.is_dir() {
        return dir_table(path);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = shrink_format::read(&bytes).with_context(|| path.display().to_string())?;
    shrk_table(&file).with_context(|| path.display().to_string())
}

/// Load `--data` for a model with table encoding `table`: encoded with it (same
/// features, same class ids, same test split as at training) when there is one, else
/// as `train` loads data.
pub fn load_data_for(
    data: &str,
    label: Option<String>,
    table: Option<&TableSchema>,
) -> Result<DataSource> {
    match table {
        None => load_data(data, label),
        Some(schema) => {
            let opts = LoadOptions {
                label_column: label,
                test_fraction: 0.2,
                seed: SPLIT_SEED,
            };
            Ok(shrink_data::load_with_schema(data, &opts, schema)?)
        }
    }
}

/// A saved encoding must describe a table that encodes to `width` features.
fn check_schema(s: &TableSchema) -> Result<()> {
    let width: usize = s.columns.iter().map(|c| c.width).sum();
    if width != s.width || s.label_index >= s.header.len() || s.class_names.is_empty() {
        bail!(
            "inconsistent table encoding ({} columns of {} features, label column {} of {}, {} classes)",
            s.columns.len(),
            s.width,
            s.label_index + 1,
            s.header.len(),
            s.class_names.len()
        );
    }
    Ok(())
}

/// Refuse data that cannot train and test a classifier: fewer than two classes in the
/// training split (a one-class "classifier" scores 0% error on its own data), or an
/// empty test split (nothing to report).
pub fn check_trainable(src: &DataSource) -> Result<()> {
    let counts = src.train.class_counts();
    let present: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] > 0).collect();
    if present.len() < 2 {
        let only = present
            .first()
            .and_then(|&c| src.train.class_names.get(c))
            .map_or(String::new(), |n| format!(" ({n:?})"));
        bail!(
            "{}: the training split has {} class{only}; a classifier needs examples of at least two",
            src.name,
            present.len()
        );
    }
    check_has_test(src)
}

/// Refuse an empty test split.
pub fn check_has_test(src: &DataSource) -> Result<()> {
    if src.test.is_empty() {
        let classes = src.train.class_names.len();
        let why = if classes * 2 > src.train.len() {
            format!(
                " (its {classes} classes have one or two examples each: is the label column the right one? `--label` names it)"
            )
        } else {
            String::new()
        };
        bail!(
            "{}: the test split is empty ({} training examples){why}; give more rows or a separate test file",
            src.name,
            src.train.len()
        );
    }
    Ok(())
}

/// The table encoding of a teacher ensemble (one for all of them: the student keeps it),
/// or None for teachers not trained on a table.
pub fn teachers_table(teachers: &[PathBuf]) -> Result<Option<TableSchema>> {
    let mut table = None;
    for (i, t) in teachers.iter().enumerate() {
        let this = model_table(t)?;
        if i > 0 && this != table {
            bail!(
                "teachers {} and {} were trained on different table encodings",
                teachers[0].display(),
                t.display()
            );
        }
        table = this;
    }
    Ok(table)
}
