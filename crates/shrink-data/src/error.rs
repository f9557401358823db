//! The one error type of this crate, [`DataError`].
//!
//! Every variant names the file (or folder) it is about and says what is wrong;
//! binary formats (IDX, CIFAR) give the byte offset, CSV gives line and column
//! (both 1-based, lines counted in the file including the header).

use std::path::PathBuf;

/// Everything that can go wrong while loading or validating data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file or folder could not be read (missing, permissions, I/O).
    ///
    /// The message holds the I/O error's own (not also as a `source()`, so that a
    /// cause chain printed in full says it once).
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },

    /// A path given to [`crate::load`] does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },

    /// The path exists but is not any layout this crate knows.
    #[error("{}: not a recognised data source: {msg}", path.display())]
    Unrecognized {
        /// The path as given.
        path: PathBuf,
        /// What was expected.
        msg: String,
    },

    /// A folder has the wrong layout (missing or ambiguous files, empty class folder ...).
    #[error("{}: {msg}", path.display())]
    Layout {
        /// The folder (or the file) at fault.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },

    /// The bundled MNIST copy is missing.
    #[error("bundled MNIST not found: {msg}")]
    BundledMissing {
        /// Which file is missing and where it was looked for.
        msg: String,
    },

    /// A file does not start with the magic number of its format.
    #[error("{}: bad magic at byte 0: found {found}, expected {expected}", path.display())]
    BadMagic {
        /// The file (for gzip files: its unpacked content).
        path: PathBuf,
        /// What the file starts with, in hex.
        found: String,
        /// What was expected.
        expected: String,
    },

    /// A binary file (IDX, CIFAR) is malformed at a byte offset (of the unpacked content).
    #[error("{}: at byte {offset}: {msg}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Byte offset in the (unpacked) file.
        offset: u64,
        /// What is wrong.
        msg: String,
    },

    /// A gzip stream could not be unpacked.
    #[error("{}: cannot gunzip: {msg}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decompressor's message.
        msg: String,
    },

    /// A label is not below the number of classes the format allows.
    #[error("{}: at byte {offset}: label {label} out of range (classes: {classes})", path.display())]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Byte offset of the label.
        offset: u64,
        /// The label read.
        label: u32,
        /// Number of classes (labels must be below it).
        classes: usize,
    },

    /// Two files that must agree on the number of examples (or the example shape) do not.
    #[error("{}: {what} {found} does not match {expected} in {}", path.display(), other.display())]
    Mismatch {
        /// The file found to be at odds.
        path: PathBuf,
        /// What it has.
        found: String,
        /// The file it was compared with.
        other: PathBuf,
        /// What that file has.
        expected: String,
        /// What is being compared ("example count", "example shape").
        what: String,
    },

    /// A CSV file is malformed or its content cannot be used.
    #[error("{}: line {line}, column {column}{}: {}", path.display(), fmt_col(name), short(msg, 400))]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// 1-based column number (0 when the error is not about one column).
        column: usize,
        /// The column's header name (may be empty when unknown).
        name: String,
        /// What is wrong.
        msg: String,
    },

    /// The label column named in the options is not in the CSV header.
    #[error("{}: unknown label column {:?}; the columns are: {}", path.display(), short(name, 60), short(&columns.join(", "), 400))]
    UnknownLabelColumn {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The header's column names.
        columns: Vec<String>,
    },

    /// An image file could not be decoded.
    #[error("{}: cannot decode image: {msg}", path.display())]
    ImageDecode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        msg: String,
    },

    /// An image has a different size than the first one.
    #[error(
        "{}: image is {}x{} (width x height), but {} is {}x{}; all images must have the same size",
        path.display(), size.0, size.1, first.display(), first_size.0, first_size.1
    )]
    ImageSize {
        /// The first file whose size differs.
        path: PathBuf,
        /// Its (width, height).
        size: (u32, u32),
        /// The first image read, which sets the size.
        first: PathBuf,
        /// Its (width, height).
        first_size: (u32, u32),
    },

    /// A checksum does not match the known value.
    #[error("{}: md5 mismatch: expected {expected}, got {actual} (file corrupt or replaced)", path.display())]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The known md5 (hex).
        expected: String,
        /// The md5 of the file's unpacked content (hex).
        actual: String,
    },

    /// A [`crate::LoadOptions`] value or an argument is out of range.
    #[error("invalid option: {msg}")]
    InvalidOption {
        /// What is wrong.
        msg: String,
    },

    /// A [`crate::Dataset`] does not satisfy its invariants.
    #[error("invalid dataset: {msg}")]
    InvalidDataset {
        /// What is wrong.
        msg: String,
    },
}

fn fmt_col(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" ({:?})", short(name, 60))
    }
}

/// At most `max` characters of `s` (with `…` and the full length when cut): a message
/// quotes values from the file, and a 200 MB cell must not become a 200 MB error.
fn short(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}… ({} bytes in all)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            error: source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, offset: u64, msg: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            offset,
            msg: msg.into(),
        }
    }

    pub(crate) fn layout(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        DataError::Layout {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_quote_short_excerpts_of_huge_values() {
        let cell = "9".repeat(1 << 20) + "x";
        let e = DataError::Csv {
            path: "t.csv".into(),
            line: 3,
            column: 2,
            name: "h".repeat(1 << 20),
            msg: format!("value {cell:?} is not a number"),
        }
        .to_string();
        assert!(e.len() < 1000, "{} bytes", e.len());
        assert!(
            e.starts_with("t.csv: line 3, column 2 (\"hhh"),
            "{}",
            &e[..80]
        );
        assert!(e.contains("bytes in all"), "{e}");
        let e = DataError::UnknownLabelColumn {
            path: "t.csv".into(),
            name: "n".repeat(1 << 20),
            columns: vec!["c".repeat(1 << 20), "d".into()],
        }
        .to_string();
        assert!(e.len() < 1000, "{} bytes", e.len());
    }
}
