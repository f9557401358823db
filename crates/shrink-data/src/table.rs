//! CSV tables: column typing, one-hot encoding, imputation, label mapping, and
//! the [`TableSchema`] that records how columns map to encoded features.
//!
//! Rules: a header row is required; fields are trimmed. The label column is
//! `LoadOptions::label_column` (exact name, else the unique case-insensitive
//! match), else the first column named `label`, `class`, `target` or `y`
//! (case-insensitive, in that order of preference), else the last column.
//! A feature column is numeric if every non-missing value in the train file
//! parses as `f64`, else categorical. Missing values are empty, `?`, `NA`,
//! `N/A` or `NaN` (the last three case-insensitive). Numeric: missing -> the
//! train mean; values are not normalised. Categorical: missing -> the level
//! `?`; levels sorted, taken from the train split; one-hot encoded (a level
//! unseen in train encodes as all zeros). Labels: the distinct label strings
//! of both files, sorted (numerically if all parse as numbers) -> class ids.
//! `NAME.test.csv` beside `NAME.csv` is the test split (identical header
//! required); otherwise `test_fraction` of the rows is split off, seeded and
//! stratified by class.
//!
//! A trained model keeps its [`TableSchema`] (with the class names); later files are
//! read with it, not with a schema fitted to them: [`read_rows`] (file order, label
//! column optional — `shrink run`) and [`crate::load_with_schema`] (same split and class
//! ids as at training — `eval`, `compress`, `mimic`). A category level the schema does
//! not know encodes as all zeros in its one-hot block (the documented fallback, the same
//! as for a test-split level unseen in training) and is reported by [`read_rows`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::split::stratified_split_indices;
use crate::LoadOptions;

/// Most levels a categorical feature column may have (more is almost surely an
/// identifier or free text, whose one-hot encoding would explode).
pub const MAX_LEVELS: usize = 1000;

/// Column names that mark the label column, in order of preference (case-insensitive).
pub const LABEL_NAMES: [&str; 4] = ["label", "class", "target", "y"];

/// How a CSV table maps to encoded features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// All column names of the header, in file order.
    pub header: Vec<String>,
    /// The feature columns (every column but the label), in file order.
    pub columns: Vec<ColumnSchema>,
    /// Name of the label column.
    pub label_column: String,
    /// 0-based position of the label column in the header.
    pub label_index: usize,
    /// Encoded feature width (sum of the columns' widths) = `Dataset::shape[0]`.
    pub width: usize,
    /// The classes by id: the distinct label strings of the train (and test) file,
    /// sorted as [`load`](crate::load) sorts them. Saved with a model, so that a label
    /// maps to the class it was trained as whatever other labels a file holds.
    #[serde(default)]
    pub class_names: Vec<String>,
}

/// One feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Header name.
    pub name: String,
    /// 0-based position in the header.
    pub index: usize,
    /// Numeric or categorical, with statistics or levels from the train split.
    pub kind: ColumnKind,
    /// First encoded feature of this column.
    pub offset: usize,
    /// Encoded features of this column (1 for numeric, the number of levels for categorical).
    pub width: usize,
    /// Missing values in the train split (imputed).
    pub missing: usize,
}

/// A feature column's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numbers; statistics of the present (non-missing) train values (all 0
    /// when there are none); `std` is the population std.
    Numeric {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
        /// Mean (also the value imputed for missing entries).
        mean: f64,
        /// Population standard deviation.
        std: f64,
    },
    /// Strings, one-hot encoded in the order of `levels` (sorted; `?` is the missing level).
    Categorical {
        /// The levels seen in the train split, sorted.
        levels: Vec<String>,
    },
}

impl TableSchema {
    /// Names of the encoded features: the column name for numeric columns,
    /// `name=level` for each level of a categorical one.
    pub fn feature_names(&self) -> Vec<String> {
        let mut v = Vec::with_capacity(self.width);
        for c in &self.columns {
            match &c.kind {
                ColumnKind::Numeric { .. } => v.push(c.name.clone()),
                ColumnKind::Categorical { levels } => {
                    v.extend(levels.iter().map(|l| format!("{}={l}", c.name)))
                }
            }
        }
        v
    }

    /// For each encoded feature, true if it is numeric (false for one-hot
    /// features); handy to leave one-hot features unnormalised.
    pub fn numeric_mask(&self) -> Vec<bool> {
        let mut v = Vec::with_capacity(self.width);
        for c in &self.columns {
            let numeric = matches!(c.kind, ColumnKind::Numeric { .. });
            v.extend(std::iter::repeat_n(numeric, c.width));
        }
        v
    }

    /// Encodes one row (all header fields, the label's ignored) into `out`
    /// (`width` values). Errors give the column's header index and a message.
    fn encode(
        &self,
        fields: &csv::StringRecord,
        lookup: &[Option<HashMap<String, usize>>],
        out: &mut [f32],
    ) -> Result<(), (usize, String)> {
        for (c, map) in self.columns.iter().zip(lookup) {
            let s = fields.get(c.index).unwrap_or("");
            match (&c.kind, map) {
                (ColumnKind::Numeric { mean, .. }, _) => {
                    let v = if is_missing(s) {
                        *mean
                    } else {
                        match s.parse::<f64>() {
                            Ok(v) if v.is_finite() => v,
                            Ok(_) => {
                                return Err((
                                    c.index,
                                    format!("value {:?} is not finite", excerpt(s, 40)),
                                ))
                            }
                            Err(_) => {
                                return Err((
                                    c.index,
                                    format!(
                                        "value {:?} is not a number, but the column is numeric \
                                         in the train data",
                                        excerpt(s, 40)
                                    ),
                                ))
                            }
                        }
                    };
                    out[c.offset] = v as f32;
                }
                (ColumnKind::Categorical { .. }, Some(map)) => {
                    let key = if is_missing(s) { "?" } else { s };
                    out[c.offset..c.offset + c.width].fill(0.0);
                    if let Some(&k) = map.get(key) {
                        out[c.offset + k] = 1.0;
                    }
                }
                (ColumnKind::Categorical { .. }, None) => unreachable!("lookup built per column"),
            }
        }
        Ok(())
    }

    fn lookups(&self) -> Vec<Option<HashMap<String, usize>>> {
        self.columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Categorical { levels } => Some(
                    levels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.clone(), i))
                        .collect(),
                ),
                ColumnKind::Numeric { .. } => None,
            })
            .collect()
    }
}

/// Rows of a CSV file encoded with a known [`TableSchema`], in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedRows {
    /// Features `[n, schema.width]`, row-major.
    pub x: Vec<f32>,
    /// Number of rows.
    pub n: usize,
    /// 1-based line of each row in the file (the header is line 1).
    pub lines: Vec<u64>,
    /// Each row's label string when the file has the label column (`None` for a
    /// missing label); `None` when the file has no label column.
    pub labels: Option<Vec<Option<String>>>,
    /// Category values the schema has no level for, encoded as all zeros.
    pub unseen: Vec<UnseenLevel>,
}

/// A categorical value not among the levels a model was trained with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnseenLevel {
    /// 0-based row (data rows, file order).
    pub row: usize,
    /// 1-based line in the file.
    pub line: u64,
    /// The column's name.
    pub column: String,
    /// The value (at most 40 characters of it).
    pub value: String,
}

/// At most `max` characters of `s`, with `…` when cut.
fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Checks a file's header against `schema`'s: the same columns in the same order, or
/// (when `label_optional`) the same without the label column. Returns whether the
/// file has the label column.
fn match_header(t: &Table, schema: &TableSchema, label_optional: bool) -> Result<bool, DataError> {
    if t.header == schema.header {
        return Ok(true);
    }
    let features: Vec<&String> = schema
        .header
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != schema.label_index)
        .map(|(_, h)| h)
        .collect();
    if label_optional && t.header.iter().eq(features.iter().copied()) {
        return Ok(false);
    }
    let i = (0..t.header.len().max(schema.header.len()))
        .find(|&i| t.header.get(i) != schema.header.get(i))
        .unwrap_or(0);
    let expected = if label_optional {
        format!(
            "the columns the model was trained on ({}), with or without the label column {:?}",
            excerpt(&schema.header.join(","), 200),
            schema.label_column
        )
    } else {
        format!(
            "the columns the model was trained on ({})",
            excerpt(&schema.header.join(","), 200)
        )
    };
    Err(DataError::Csv {
        path: t.path.clone(),
        line: 1,
        column: i + 1,
        name: t.header.get(i).cloned().unwrap_or_default(),
        msg: format!("the header must be {expected}; column {} differs", i + 1),
    })
}

/// Reads a CSV file in a known table's layout and encodes its rows, in file order,
/// exactly as the table `schema` describes was encoded for training: the same one-hot
/// levels, numeric gaps imputed with the schema's means. The label column may be
/// absent, or present with empty values (`shrink run` on new rows; a transfer set for
/// mimic learning; a synthetic set written by [`crate::write_csv`]).
///
/// A category value the schema has no level for is not an error: it encodes as all
/// zeros in that column's one-hot block, as unseen levels of a test split do at
/// training time, and is listed in [`EncodedRows::unseen`] so callers can say so.
/// Errors (a different header, a non-number in a numeric column, a ragged row) name
/// the file, line and column.
pub fn read_rows(path: &Path, schema: &TableSchema) -> Result<EncodedRows, DataError> {
    let t = read_table(path)?;
    let has_label = match_header(&t, schema, true)?;
    // A file without the label column: index its fields as if it were there.
    let fields_of = |row: &csv::StringRecord| -> csv::StringRecord {
        if has_label {
            row.clone()
        } else {
            let mut v: Vec<&str> = row.iter().collect();
            v.insert(schema.label_index.min(v.len()), "");
            csv::StringRecord::from(v)
        }
    };
    let file_col = |header_col: usize| -> usize {
        if has_label || header_col < schema.label_index {
            header_col
        } else {
            header_col - 1
        }
    };
    let lookup = schema.lookups();
    let w = schema.width;
    let mut x = vec![0f32; t.rows.len() * w];
    let mut unseen = Vec::new();
    let mut labels = has_label.then(Vec::new);
    for (r, row) in t.rows.iter().enumerate() {
        let fields = fields_of(row);
        schema
            .encode(&fields, &lookup, &mut x[r * w..(r + 1) * w])
            .map_err(|(col, msg)| t.err(r, file_col(col), msg))?;
        for (c, map) in schema.columns.iter().zip(&lookup) {
            if let Some(map) = map {
                let s = fields.get(c.index).unwrap_or("");
                let key = if is_missing(s) { "?" } else { s };
                if !map.contains_key(key) {
                    unseen.push(UnseenLevel {
                        row: r,
                        line: t.line(r),
                        column: c.name.clone(),
                        value: excerpt(s, 40),
                    });
                }
            }
        }
        if let Some(l) = labels.as_mut() {
            let s = fields.get(schema.label_index).unwrap_or("");
            l.push((!is_missing(s)).then(|| s.to_string()));
        }
    }
    Ok(EncodedRows {
        x,
        n: t.rows.len(),
        lines: (0..t.rows.len()).map(|r| t.line(r)).collect(),
        labels,
        unseen,
    })
}

/// [`read_rows`]' features only: `[rows, schema.width]` row-major and the row count.
pub fn encode_with_schema(
    path: &Path,
    schema: &TableSchema,
) -> Result<(Vec<f32>, usize), DataError> {
    let rows = read_rows(path, schema)?;
    Ok((rows.x, rows.n))
}

/// Loads a CSV file (and its `NAME.test.csv` sibling) for a model trained on a table:
/// features encoded with the model's `schema`, labels mapped to the model's classes
/// (a label the model does not know is an error), and the test split chosen as
/// [`load`](crate::load) chooses it, so the same file gives the same split as at
/// training.
pub(crate) fn load_csv_with_schema(
    path: &Path,
    schema: &TableSchema,
    opts: &LoadOptions,
) -> Result<(Dataset, Dataset), DataError> {
    let train_t = read_table(path)?;
    match_header(&train_t, schema, false)?;
    let test_t = match sibling_test_path(path) {
        Some(p) if p.is_file() && p != path => {
            let t = read_table(&p)?;
            match_header(&t, schema, false)?;
            Some(t)
        }
        _ => None,
    };
    let li = schema.label_index;
    let class_of: HashMap<&str, u32> = schema
        .class_names
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let ids = |t: &Table| -> Result<Vec<u32>, DataError> {
        t.rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                let s = row.get(li).unwrap_or("");
                if is_missing(s) {
                    return Err(t.err(r, li, format!("missing label {:?}", excerpt(s, 40))));
                }
                class_of.get(s).copied().ok_or_else(|| {
                    t.err(
                        r,
                        li,
                        format!(
                            "label {:?} is not one of the model's classes ({})",
                            excerpt(s, 40),
                            excerpt(&schema.class_names.join(", "), 200)
                        ),
                    )
                })
            })
            .collect()
    };
    let y_all = ids(&train_t)?;
    let classes = schema.class_names.len();
    let (train_rows, split_rows): (Vec<usize>, Vec<usize>) = if test_t.is_some() {
        ((0..train_t.rows.len()).collect(), Vec::new())
    } else {
        let f = crate::check_test_fraction(opts)?;
        stratified_split_indices(&y_all, classes, f, opts.seed)
    };
    let lookup = schema.lookups();
    let encode = |t: &Table, rows: &[usize], y_of: &[u32]| -> Result<Dataset, DataError> {
        let w = schema.width;
        let mut x = vec![0f32; rows.len() * w];
        for (k, &r) in rows.iter().enumerate() {
            schema
                .encode(&t.rows[r], &lookup, &mut x[k * w..(k + 1) * w])
                .map_err(|(col, msg)| t.err(r, col, msg))?;
        }
        Ok(Dataset {
            shape: vec![w],
            x,
            y: rows.iter().map(|&r| y_of[r]).collect(),
            classes,
            class_names: schema.class_names.clone(),
        })
    };
    let train = encode(&train_t, &train_rows, &y_all)?;
    let test = match &test_t {
        Some(t) => {
            let yt = ids(t)?;
            encode(t, &(0..t.rows.len()).collect::<Vec<_>>(), &yt)?
        }
        None => encode(&train_t, &split_rows, &y_all)?,
    };
    Ok((train, test))
}

/// True for the tokens that mean "no value".
pub fn is_missing(s: &str) -> bool {
    s.is_empty()
        || s == "?"
        || s.eq_ignore_ascii_case("na")
        || s.eq_ignore_ascii_case("n/a")
        || s.eq_ignore_ascii_case("nan")
}

/// A CSV file read whole.
struct Table {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
    /// Byte offsets of the file's `\n` characters, to number lines.
    newlines: Vec<u64>,
}

/// 1-based line of a record that the csv crate says starts at byte `offset`, counting
/// the `\n` characters up to it. (In CRLF files the crate's own line count is one too
/// low, and a record's start can be the `\n` ending the line before: counted too.)
fn line_at(newlines: &[u64], offset: u64) -> u64 {
    1 + newlines.partition_point(|&p| p <= offset) as u64
}

impl Table {
    fn line(&self, row: usize) -> u64 {
        self.rows[row]
            .position()
            .map(|p| line_at(&self.newlines, p.byte()))
            .unwrap_or(0)
    }

    fn err(&self, row: usize, col: usize, msg: impl Into<String>) -> DataError {
        DataError::Csv {
            path: self.path.clone(),
            line: self.line(row),
            column: col + 1,
            name: self.header.get(col).cloned().unwrap_or_default(),
            msg: msg.into(),
        }
    }
}

fn csv_error(path: &Path, newlines: &[u64], e: csv::Error) -> DataError {
    let line = e
        .position()
        .map(|p| line_at(newlines, p.byte()))
        .unwrap_or(0);
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("invalid UTF-8 in field {}", err.field() + 1)
        }
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    };
    let column = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => err.field() + 1,
        _ => 0,
    };
    DataError::Csv {
        path: path.to_path_buf(),
        line,
        column,
        name: String::new(),
        msg,
    }
}

fn read_table(path: &Path) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let newlines: Vec<u64> = bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i as u64)
        .collect();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(&bytes[..]);
    let raw_header = rdr
        .headers()
        .map_err(|e| csv_error(path, &newlines, e))?
        .clone();
    if raw_header.is_empty() {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: 0,
            name: String::new(),
            msg: "empty file: a header row is required".into(),
        });
    }
    let header: Vec<String> = raw_header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if h.is_empty() {
                format!("column{}", i + 1)
            } else {
                h.to_string()
            }
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        if let Some(first) = seen.insert(h.as_str(), i) {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line: 1,
                column: i + 1,
                name: h.clone(),
                msg: format!("duplicate column name (also column {})", first + 1),
            });
        }
    }
    let mut rows = Vec::new();
    for r in rdr.records() {
        rows.push(r.map_err(|e| csv_error(path, &newlines, e))?);
    }
    if rows.is_empty() {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 2,
            column: 0,
            name: String::new(),
            msg: "no data rows after the header".into(),
        });
    }
    Ok(Table {
        path: path.to_path_buf(),
        header,
        rows,
        newlines,
    })
}

/// `NAME.test.csv` for `NAME.csv`.
pub(crate) fn sibling_test_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let stem = &name[..lower.strip_suffix(".csv")?.len()];
    Some(path.with_file_name(format!("{stem}.test.csv")))
}

fn label_index(t: &Table, wanted: Option<&str>) -> Result<usize, DataError> {
    if let Some(w) = wanted {
        if let Some(i) = t.header.iter().position(|h| h == w) {
            return Ok(i);
        }
        let ci: Vec<usize> = (0..t.header.len())
            .filter(|&i| t.header[i].eq_ignore_ascii_case(w))
            .collect();
        if let [i] = ci[..] {
            return Ok(i);
        }
        return Err(DataError::UnknownLabelColumn {
            path: t.path.clone(),
            name: w.to_string(),
            columns: t.header.clone(),
        });
    }
    for name in LABEL_NAMES {
        if let Some(i) = t.header.iter().position(|h| h.eq_ignore_ascii_case(name)) {
            if !looks_continuous(t, i) {
                return Ok(i);
            }
        }
    }
    Ok(t.header.len() - 1)
}

/// Whether column `i` holds a measurement rather than classes: every value a number, and
/// more distinct values than half the rows (and than 20). A coordinate named `y` beside
/// `x` is a feature, not the label, though `y` is one of [`LABEL_NAMES`]: taken as the
/// label it made every row a class of its own.
fn looks_continuous(t: &Table, i: usize) -> bool {
    let mut seen = std::collections::HashSet::new();
    for r in &t.rows {
        let v = r.get(i).unwrap_or("").trim();
        if v.parse::<f64>().is_err() {
            return false;
        }
        seen.insert(v);
    }
    seen.len() > 20 && seen.len() * 2 > t.rows.len()
}

fn compare_headers(train: &Table, test: &Table) -> Result<(), DataError> {
    let bad = |col: usize, name: &str, msg: String| DataError::Csv {
        path: test.path.clone(),
        line: 1,
        column: col + 1,
        name: name.to_string(),
        msg,
    };
    for (i, (a, b)) in train.header.iter().zip(&test.header).enumerate() {
        if a != b {
            return Err(bad(
                i,
                b,
                format!(
                    "header differs from {}: column {} there is {a:?}",
                    train.path.display(),
                    i + 1
                ),
            ));
        }
    }
    let (n, m) = (train.header.len(), test.header.len());
    if m < n {
        return Err(bad(
            m,
            &train.header[m],
            format!(
                "column {:?} of {} is missing ({m} columns, expected {n})",
                train.header[m],
                train.path.display()
            ),
        ));
    }
    if m > n {
        return Err(bad(
            n,
            &test.header[n],
            format!(
                "extra column {:?}, not in {} ({m} columns, expected {n})",
                test.header[n],
                train.path.display()
            ),
        ));
    }
    Ok(())
}

/// Sorts label strings: numerically if all parse as numbers, else as strings.
fn sort_labels(mut v: Vec<String>) -> Vec<String> {
    let nums: Option<Vec<f64>> = v.iter().map(|s| s.parse::<f64>().ok()).collect();
    if let Some(nums) = nums {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(v).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        pairs.into_iter().map(|p| p.1).collect()
    } else {
        v.sort();
        v
    }
}

/// Loads a CSV file (and its `NAME.test.csv` sibling if any) into train and
/// test datasets and the schema.
pub(crate) fn load_csv(
    path: &Path,
    opts: &LoadOptions,
) -> Result<(Dataset, Dataset, TableSchema), DataError> {
    let train_t = read_table(path)?;
    let test_t = match sibling_test_path(path) {
        Some(p) if p.is_file() && p != path => {
            let t = read_table(&p)?;
            compare_headers(&train_t, &t)?;
            Some(t)
        }
        _ => None,
    };
    if train_t.header.len() < 2 {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: 0,
            name: String::new(),
            msg: format!(
                "{} column(s): need at least one feature column and a label column",
                train_t.header.len()
            ),
        });
    }
    let li = label_index(&train_t, opts.label_column.as_deref())?;

    // Labels over both files.
    let mut distinct: HashMap<&str, u32> = HashMap::new();
    for t in std::iter::once(&train_t).chain(test_t.as_ref()) {
        for (r, row) in t.rows.iter().enumerate() {
            let s = row.get(li).unwrap_or("");
            if is_missing(s) {
                return Err(t.err(r, li, format!("missing label {:?}", excerpt(s, 40))));
            }
            distinct.entry(s).or_insert(0);
        }
    }
    let class_names = sort_labels(distinct.keys().map(|s| s.to_string()).collect());
    for (i, name) in class_names.iter().enumerate() {
        distinct.insert(name.as_str(), i as u32);
    }
    let ids = |t: &Table| -> Vec<u32> {
        t.rows
            .iter()
            .map(|row| distinct[row.get(li).unwrap_or("")])
            .collect()
    };
    let y_all = ids(&train_t);
    let classes = class_names.len();

    // Which train-file rows form the train split.
    let (train_rows, split_rows): (Vec<usize>, Vec<usize>) = if test_t.is_some() {
        ((0..train_t.rows.len()).collect(), Vec::new())
    } else {
        let f = crate::check_test_fraction(opts)?;
        stratified_split_indices(&y_all, classes, f, opts.seed)
    };

    // Column types over the whole train file, statistics over the train split.
    let mut columns = Vec::with_capacity(train_t.header.len() - 1);
    let mut offset = 0;
    for j in (0..train_t.header.len()).filter(|&j| j != li) {
        let numeric = train_t.rows.iter().all(|row| {
            let s = row.get(j).unwrap_or("");
            is_missing(s) || s.parse::<f64>().is_ok()
        });
        let mut missing = 0;
        let (kind, width) = if numeric {
            // Welford's running mean and sum of squared deviations.
            let (mut n, mut mean, mut m2) = (0usize, 0f64, 0f64);
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in &train_rows {
                let s = train_t.rows[r].get(j).unwrap_or("");
                if is_missing(s) {
                    missing += 1;
                    continue;
                }
                let v: f64 = s.parse().unwrap_or(f64::NAN);
                if !v.is_finite() {
                    return Err(train_t.err(
                        r,
                        j,
                        format!("value {:?} is not finite", excerpt(s, 40)),
                    ));
                }
                n += 1;
                let d = v - mean;
                mean += d / n as f64;
                m2 += d * (v - mean);
                min = min.min(v);
                max = max.max(v);
            }
            let kind = if n == 0 {
                ColumnKind::Numeric {
                    min: 0.0,
                    max: 0.0,
                    mean: 0.0,
                    std: 0.0,
                }
            } else {
                ColumnKind::Numeric {
                    min,
                    max,
                    mean,
                    std: (m2 / n as f64).max(0.0).sqrt(),
                }
            };
            (kind, 1)
        } else {
            let mut levels: Vec<String> = Vec::new();
            let mut set: HashMap<&str, ()> = HashMap::new();
            for &r in &train_rows {
                let s = train_t.rows[r].get(j).unwrap_or("");
                let s = if is_missing(s) {
                    missing += 1;
                    "?"
                } else {
                    s
                };
                if set.insert(s, ()).is_none() {
                    levels.push(s.to_string());
                }
            }
            if levels.len() > MAX_LEVELS {
                return Err(DataError::Csv {
                    path: path.to_path_buf(),
                    line: 1,
                    column: j + 1,
                    name: train_t.header[j].clone(),
                    msg: format!(
                        "categorical column with {} distinct values (more than {MAX_LEVELS}): \
                         an identifier or free text? Remove it, or pick the label column with \
                         the label-column option",
                        levels.len()
                    ),
                });
            }
            levels.sort();
            let w = levels.len();
            (ColumnKind::Categorical { levels }, w)
        };
        columns.push(ColumnSchema {
            name: train_t.header[j].clone(),
            index: j,
            kind,
            offset,
            width,
            missing,
        });
        offset += width;
    }
    let schema = TableSchema {
        header: train_t.header.clone(),
        columns,
        label_column: train_t.header[li].clone(),
        label_index: li,
        width: offset,
        class_names: class_names.clone(),
    };

    let lookup = schema.lookups();
    let encode = |t: &Table, rows: &[usize], y_of: &[u32]| -> Result<Dataset, DataError> {
        let w = schema.width;
        let mut x = vec![0f32; rows.len() * w];
        let mut y = Vec::with_capacity(rows.len());
        for (k, &r) in rows.iter().enumerate() {
            schema
                .encode(&t.rows[r], &lookup, &mut x[k * w..(k + 1) * w])
                .map_err(|(col, msg)| t.err(r, col, msg))?;
            y.push(y_of[r]);
        }
        Ok(Dataset {
            shape: vec![w],
            x,
            y,
            classes,
            class_names: class_names.clone(),
        })
    };
    let train = encode(&train_t, &train_rows, &y_all)?;
    let test = match &test_t {
        Some(t) => {
            let yt = ids(t);
            encode(t, &(0..t.rows.len()).collect::<Vec<_>>(), &yt)?
        }
        None => encode(&train_t, &split_rows, &y_all)?,
    };
    Ok((train, test, schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LoadOptions {
        LoadOptions::default()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn mixed_columns_with_test_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "t.csv",
            "age, color ,Species,size\n\
             30,red,b,1.5\n\
             ,blue,a,2.5\n\
             50,?,b,NA\n\
             40,red,a,3.5\n",
        );
        write(
            dir.path(),
            "t.test.csv",
            "age,color,Species,size\n20,green,a,\n60,blue,c,1\n",
        );
        // "Species" is not a label name, so the last column "size" is the label,
        // and it has a missing value.
        let e = load_csv(&p, &opts()).unwrap_err().to_string();
        assert!(
            e.contains("t.csv: line 4, column 4 (\"size\"): missing label \"NA\""),
            "{e}"
        );

        let o = LoadOptions {
            label_column: Some("species".into()),
            ..opts()
        };
        let (tr, te, s) = load_csv(&p, &o).unwrap();
        assert_eq!(s.label_column, "Species");
        assert_eq!(s.label_index, 2);
        assert_eq!(tr.class_names, vec!["a", "b", "c"]);
        assert_eq!(tr.classes, 3);
        assert_eq!(tr.y, vec![1, 0, 1, 0]);
        assert_eq!(te.y, vec![0, 2]);
        // age (numeric, 1 missing), color (categorical ?, blue, red), size (numeric).
        assert_eq!(s.width, 5);
        assert_eq!(tr.shape, vec![5]);
        assert_eq!(
            s.feature_names(),
            vec!["age", "color=?", "color=blue", "color=red", "size"]
        );
        assert_eq!(s.numeric_mask(), vec![true, false, false, false, true]);
        assert_eq!(s.columns[0].missing, 1);
        let ColumnKind::Numeric {
            min,
            max,
            mean,
            std,
        } = s.columns[0].kind
        else {
            panic!("numeric expected")
        };
        assert_eq!((min, max, mean), (30.0, 50.0, 40.0));
        assert!((std - (200.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(s.columns[1].offset, 1);
        assert_eq!(s.columns[1].width, 3);
        assert_eq!(s.columns[2].offset, 4);
        assert_eq!(tr.example(0), &[30.0, 0.0, 0.0, 1.0, 1.5]);
        assert_eq!(tr.example(1), &[40.0, 0.0, 1.0, 0.0, 2.5]); // age imputed
        assert_eq!(tr.example(2), &[50.0, 1.0, 0.0, 0.0, 2.5]); // color "?", size imputed
                                                                // Test rows: unseen level "green" -> zeros; missing size -> train mean.
        assert_eq!(te.example(0), &[20.0, 0.0, 0.0, 0.0, 2.5]);
        assert_eq!(te.example(1), &[60.0, 0.0, 1.0, 0.0, 1.0]);
        // The schema round-trips through JSON.
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains("\"type\":\"categorical\""), "{j}");
        assert_eq!(serde_json::from_str::<TableSchema>(&j).unwrap(), s);
    }

    #[test]
    fn unlabelled_rows_encode_with_a_known_schema() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "k.csv", "a,c,label\n1,x,p\n3,y,q\nNA,x,p\n");
        let (train, _, schema) = load_csv(&p, &opts()).unwrap();
        // Empty labels, an unseen level, a gap: encoded as the train table was.
        let u = write(dir.path(), "u.csv", "a,c,label\n5,y,\n,z,\n");
        let (x, n) = encode_with_schema(&u, &schema).unwrap();
        assert_eq!(n, 2);
        let ColumnKind::Numeric { mean, .. } = schema.columns[0].kind else {
            panic!()
        };
        assert_eq!(x, vec![5.0, 0.0, 1.0, mean as f32, 0.0, 0.0]);
        assert_eq!(train.shape, vec![schema.width]);
        let bad = write(dir.path(), "b.csv", "a,d,label\n1,x,\n");
        let e = encode_with_schema(&bad, &schema).unwrap_err().to_string();
        assert!(e.contains("b.csv") && e.contains("column 2"), "{e}");
    }

    #[test]
    fn label_column_choice() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.csv", "x,Target,z\n1,p,3\n2,q,4\n");
        let (_, _, s) = load_csv(&p, &opts()).unwrap();
        assert_eq!(s.label_column, "Target");
        let p = write(dir.path(), "b.csv", "x,z\n1,3\n2,4\n");
        let (tr, te, s) = load_csv(&p, &opts()).unwrap();
        assert_eq!(s.label_column, "z");
        // A coordinate `y` (a number on every row, most of them distinct) is a feature:
        // the last column is the label.
        let mut text = String::from("x,y,ring\n");
        for i in 0..60 {
            text.push_str(&format!("{},{}.5,{}\n", i % 7, i, ["in", "out"][i % 2]));
        }
        let p3 = write(dir.path(), "c.csv", &text);
        let (_, _, s3) = load_csv(&p3, &opts()).unwrap();
        assert_eq!(s3.label_column, "ring");
        // A `y` of few numeric classes is the label still.
        let mut text = String::from("x,y,ring\n");
        for i in 0..60 {
            text.push_str(&format!("{}.5,{},{}\n", i, i % 3, ["in", "out"][i % 2]));
        }
        let p4 = write(dir.path(), "d.csv", &text);
        let (_, _, s4) = load_csv(&p4, &opts()).unwrap();
        assert_eq!(s4.label_column, "y");
        assert_eq!(tr.len() + te.len(), 2);
        let o = LoadOptions {
            label_column: Some("nope".into()),
            ..opts()
        };
        let e = load_csv(&p, &o).unwrap_err().to_string();
        assert!(
            e.ends_with("b.csv: unknown label column \"nope\"; the columns are: x, z"),
            "{e}"
        );
    }

    #[test]
    fn numeric_labels_sort_numerically_and_split_is_stratified() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("f,label\n");
        for i in 0..100 {
            let l = [10, 9, 2, 100][i % 4];
            text.push_str(&format!("{i},{l}\n"));
        }
        let p = write(dir.path(), "n.csv", &text);
        let o = LoadOptions {
            test_fraction: 0.2,
            seed: 3,
            ..opts()
        };
        let (tr, te, _) = load_csv(&p, &o).unwrap();
        assert_eq!(tr.class_names, vec!["2", "9", "10", "100"]);
        assert_eq!((tr.len(), te.len()), (80, 20));
        assert_eq!(te.class_counts(), vec![5, 5, 5, 5]);
        // Each example keeps its own label.
        for d in [&tr, &te] {
            for i in 0..d.len() {
                let row = d.example(i)[0] as usize;
                assert_eq!(
                    d.class_names[d.y[i] as usize],
                    [10, 9, 2, 100][row % 4].to_string()
                );
            }
        }
        // Same seed, same split; another seed, another split.
        let (tr2, _, _) = load_csv(&p, &o).unwrap();
        assert_eq!(tr.x, tr2.x);
        let (tr3, _, _) = load_csv(
            &p,
            &LoadOptions {
                seed: 4,
                ..o.clone()
            },
        )
        .unwrap();
        assert_ne!(tr.x, tr3.x);
        let e = load_csv(
            &p,
            &LoadOptions {
                test_fraction: 1.0,
                ..o
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("test_fraction"), "{e}");
    }

    #[test]
    fn train_stats_ignore_the_split_off_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("cat,v,label\n");
        for i in 0..10 {
            text.push_str(&format!("c{i},{i},{}\n", i % 2));
        }
        let p = write(dir.path(), "s.csv", &text);
        let (tr, te, s) = load_csv(&p, &opts()).unwrap();
        let ColumnKind::Categorical { levels } = &s.columns[0].kind else {
            panic!("categorical expected")
        };
        assert_eq!(levels.len(), tr.len());
        assert_eq!(te.len(), 2);
        // Test rows have levels unseen in train: all zeros in the one-hot part.
        for i in 0..te.len() {
            assert!(te.example(i)[..levels.len()].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let e = |name: &str, text: &str| {
            let p = write(dir.path(), name, text);
            load_csv(&p, &opts()).unwrap_err().to_string()
        };
        let m = e("r.csv", "a,b,label\n1,2,x\n1,2\n");
        assert!(
            m.contains("r.csv: line 3, column 0: row has 2 fields, the header has 3"),
            "{m}"
        );
        let m = e("m.csv", "a,label\n1,x\n2,\n");
        assert!(
            m.contains("m.csv: line 3, column 2 (\"label\"): missing label \"\""),
            "{m}"
        );
        let m = e("h.csv", "");
        assert!(m.contains("h.csv: line 1, column 0: empty file"), "{m}");
        let m = e("o.csv", "a,label\n");
        assert!(m.contains("o.csv: line 2, column 0: no data rows"), "{m}");
        let m = e("one.csv", "label\nx\n");
        assert!(m.contains("need at least one feature column"), "{m}");
        let m = e("d.csv", "a,a,label\n1,2,x\n");
        assert!(
            m.contains("d.csv: line 1, column 2 (\"a\"): duplicate column name (also column 1)"),
            "{m}"
        );
        let m = e("inf.csv", "a,label\ninf,x\n1,y\n");
        assert!(
            m.contains("line 2, column 1 (\"a\"): value \"inf\" is not finite"),
            "{m}"
        );
        let bad = dir.path().join("u.csv");
        std::fs::write(&bad, b"a,label\n1,\xff\xfe\n").unwrap();
        let m = load_csv(&bad, &opts()).unwrap_err().to_string();
        assert!(m.contains("u.csv: line 2, column 2: invalid UTF-8"), "{m}");
        // Many distinct strings: refused.
        let mut t = String::from("id,label\n");
        for i in 0..2 * MAX_LEVELS {
            t.push_str(&format!("id{i},{}\n", i % 2));
        }
        let m = e("ids.csv", &t);
        assert!(
            m.contains("column 1 (\"id\"): categorical column with"),
            "{m}"
        );
    }

    #[test]
    fn test_file_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "x.csv", "a,b,label\n1,2,p\n3,4,q\n");
        write(dir.path(), "x.test.csv", "a,c,label\n1,2,p\n");
        let m = load_csv(&p, &opts()).unwrap_err().to_string();
        assert!(
            m.contains("x.test.csv: line 1, column 2 (\"c\"): header differs from"),
            "{m}"
        );
        assert!(m.contains("column 2 there is \"b\""), "{m}");
        write(dir.path(), "x.test.csv", "a,b\n1,2\n");
        let m = load_csv(&p, &opts()).unwrap_err().to_string();
        assert!(
            m.contains("column 3 (\"label\"): column \"label\" of"),
            "{m}"
        );
        assert!(m.contains("is missing (2 columns, expected 3)"), "{m}");
        write(dir.path(), "x.test.csv", "a,b,label,z\n1,2,p,0\n");
        let m = load_csv(&p, &opts()).unwrap_err().to_string();
        assert!(m.contains("column 4 (\"z\"): extra column \"z\""), "{m}");
        // A non-number in a numeric column of the test file.
        write(dir.path(), "x.test.csv", "a,b,label\n1,oops,p\n");
        let m = load_csv(&p, &opts()).unwrap_err().to_string();
        assert!(
            m.contains("x.test.csv: line 2, column 2 (\"b\"): value \"oops\" is not a number"),
            "{m}"
        );
        // A label only in the test file is still a class.
        write(dir.path(), "x.test.csv", "a,b,label\n1,2,r\n");
        let (tr, te, _) = load_csv(&p, &opts()).unwrap();
        assert_eq!(tr.class_names, vec!["p", "q", "r"]);
        assert_eq!(te.y, vec![2]);
    }

    #[test]
    fn all_missing_numeric_column_and_bom() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "\u{feff}a,b,label\n,1,x\nNA,2,y\n?,3,x\n",
        );
        let (tr, te, s) = load_csv(&p, &opts()).unwrap();
        assert_eq!(s.header[0], "a");
        assert_eq!(
            s.columns[0].kind,
            ColumnKind::Numeric {
                min: 0.0,
                max: 0.0,
                mean: 0.0,
                std: 0.0
            }
        );
        assert_eq!(tr.len() + te.len(), 3);
        assert!(tr.x.iter().chain(&te.x).all(|v| v.is_finite()));
    }

    #[test]
    fn crlf_files_number_lines_like_lf_files() {
        let dir = tempfile::tempdir().unwrap();
        for (name, eol) in [("lf.csv", "\n"), ("crlf.csv", "\r\n")] {
            let text = ["a,label", "1,x", "2,y", "oops,x", "3"].join(eol) + eol;
            let p = write(dir.path(), name, &text);
            let m = load_csv(&p, &opts()).unwrap_err().to_string();
            assert!(
                m.contains("line 5, column 0: row has 1 fields"),
                "{name}: {m}"
            );
            let text = ["a,label", "1,x", "2,y", "oops,x"].join(eol) + eol;
            write(dir.path(), name, &text);
            let (_, _, schema) =
                load_csv(&write(dir.path(), "ok.csv", "a,label\n1,x\n2,y\n"), &opts()).unwrap();
            let m = read_rows(&p, &schema).unwrap_err().to_string();
            assert!(
                m.contains("line 4, column 1 (\"a\"): value \"oops\""),
                "{name}: {m}"
            );
        }
    }

    #[test]
    fn rows_in_file_order_with_or_without_the_label_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "t.csv",
            "n,colour,label,m\n1,red,b,5\n2,blue,a,6\n3,red,c,\n4,blue,a,8\n5,red,b,9\n",
        );
        let (_, _, schema) = load_csv(&p, &opts()).unwrap();
        assert_eq!(schema.class_names, vec!["a", "b", "c"]);
        // Same file: every row in file order, with its label.
        let all = read_rows(&p, &schema).unwrap();
        assert_eq!(all.n, 5);
        assert_eq!(all.lines, vec![2, 3, 4, 5, 6]);
        let want: Vec<Option<String>> = ["b", "a", "c", "a", "b"]
            .map(|s| Some(s.to_string()))
            .to_vec();
        assert_eq!(all.labels.as_ref(), Some(&want));
        assert!(all.unseen.is_empty());
        // Without the label column: the same features, no labels.
        let q = write(
            dir.path(),
            "u.csv",
            "n,colour,m\n1,red,5\n2,blue,6\n3,red,\n4,blue,8\n5,red,9\n",
        );
        let unl = read_rows(&q, &schema).unwrap();
        assert_eq!(unl.x, all.x);
        assert_eq!(unl.labels, None);
        // An unseen category: all zeros in its block, and listed.
        let g = write(dir.path(), "g.csv", "n,colour,m\n1,green,5\n");
        let r = read_rows(&g, &schema).unwrap();
        let c = &schema.columns[1];
        assert!(r.x[c.offset..c.offset + c.width].iter().all(|&v| v == 0.0));
        assert_eq!(
            r.unseen,
            vec![UnseenLevel {
                row: 0,
                line: 2,
                column: "colour".into(),
                value: "green".into()
            }]
        );
        // Another column order is refused, naming the first differing column.
        let o = write(dir.path(), "o.csv", "colour,n,m\nred,1,5\n");
        let m = read_rows(&o, &schema).unwrap_err().to_string();
        assert!(
            m.contains("line 1, column 1 (\"colour\"): the header must be"),
            "{m}"
        );
        // A numeric error in a file without the label column names the file's column.
        let e = write(dir.path(), "e.csv", "n,colour,m\n1,red,x\n");
        let m = read_rows(&e, &schema).unwrap_err().to_string();
        assert!(m.contains("line 2, column 3 (\"m\")"), "{m}");
    }

    #[test]
    fn a_saved_schema_reproduces_the_split_and_the_class_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("v,kind,label\n");
        for i in 0..40 {
            text.push_str(&format!(
                "{i},{},{}\n",
                ["p", "q"][i % 2],
                ["x", "y", "z"][i % 3]
            ));
        }
        let p = write(dir.path(), "s.csv", &text);
        let (tr, te, schema) = load_csv(&p, &opts()).unwrap();
        let (tr2, te2) = load_csv_with_schema(&p, &schema, &opts()).unwrap();
        assert_eq!((&tr, &te), (&tr2, &te2));
        // A file holding only some of the classes keeps the model's class ids.
        let q = write(
            dir.path(),
            "few.csv",
            "v,kind,label\n1,p,z\n2,q,z\n3,p,y\n4,q,z\n5,p,y\n",
        );
        let (a, b) = load_csv_with_schema(&q, &schema, &opts()).unwrap();
        assert_eq!(a.classes, 3);
        assert!(
            a.y.iter().chain(&b.y).all(|&y| y == 1 || y == 2),
            "{:?}",
            a.y
        );
        // Whereas fitting a schema to it numbers them afresh (y = 0, z = 1).
        let (a2, _, _) = load_csv(&q, &opts()).unwrap();
        assert_eq!(a2.class_names, vec!["y", "z"]);
        // A label the model does not know is an error naming the row.
        let u = write(dir.path(), "u.csv", "v,kind,label\n1,p,x\n2,q,w\n");
        let m = load_csv_with_schema(&u, &schema, &opts())
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("line 3, column 3 (\"label\"): label \"w\" is not one of the model's classes (x, y, z)"),
            "{m}"
        );
    }

    #[test]
    fn sibling_names() {
        assert_eq!(
            sibling_test_path(Path::new("/d/iris.csv")).unwrap(),
            PathBuf::from("/d/iris.test.csv")
        );
        assert_eq!(
            sibling_test_path(Path::new("IRIS.CSV")).unwrap(),
            PathBuf::from("IRIS.test.csv")
        );
        assert!(sibling_test_path(Path::new("x.txt")).is_none());
        assert!(is_missing("") && is_missing("na") && is_missing("NaN") && is_missing("?"));
        assert!(!is_missing("0"));
    }
}
