//! The one error type of the `.shrk` reader and writer.
//!
//! Every variant says what was wrong and where: the section (file header, spec, meta,
//! or a tensor by name) and, for reader errors, the absolute byte offset in the file.

use crate::prelude::*;
use thiserror::Error;

/// Bytes as lower-case hex pairs separated by spaces (`4c 6f 72 65`), as the expected
/// magic is written; `(empty file)` for none.
fn hex_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(empty file)".to_string();
    }
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything that can go wrong reading or writing a `.shrk` file.
#[derive(Error, Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The file does not start with the bytes `SHRK`.
    #[error(
        "not a .shrk file: it starts with {}, expected 53 48 52 4b (\"SHRK\")",
        hex_bytes(found)
    )]
    BadMagic {
        /// The first (up to four) bytes of the file.
        found: Vec<u8>,
    },
    /// The file is a `.shrk` file of a version this reader does not read.
    #[error("unsupported .shrk version {found}; this reader reads versions 1 to {supported}")]
    UnsupportedVersion {
        /// Version field of the file.
        found: u16,
        /// The newest version this crate reads (it reads 1 up to this).
        supported: u16,
    },
    /// A field or payload runs past the end of its section or of the file.
    #[error(
        "truncated {section}: {needed} bytes needed at offset {offset}, {available} available"
    )]
    Truncated {
        /// Where: "file header", "spec", "meta", "tensor 'name'", …
        section: String,
        /// Absolute file offset of the field that did not fit.
        offset: u64,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the enclosing section (or file).
        available: u64,
    },
    /// A section's stored CRC-32 does not match its bytes.
    #[error("checksum mismatch in {section}: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Which section.
        section: String,
        /// CRC-32 stored in the file.
        stored: u32,
        /// CRC-32 of the bytes as read.
        computed: u32,
    },
    /// A field holds a value the format does not allow.
    #[error("corrupt {section} at offset {offset}: {what}")]
    Corrupt {
        /// Where: "file header", "spec", "meta", "tensor 'name'", …
        section: String,
        /// Absolute file offset of the offending field (for bit streams: the byte
        /// holding the offending bit).
        offset: u64,
        /// What is wrong with it.
        what: String,
    },
    /// `write` was given a model that cannot be stored (the message names the tensor).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

#[cfg(test)]
mod hex_tests {
    use super::*;

    #[test]
    fn bad_magic_shows_found_bytes_in_hex_like_the_expected_ones() {
        let e = FormatError::BadMagic {
            found: vec![0x4c, 0x6f, 0x0a, 0xff],
        };
        assert_eq!(
            e.to_string(),
            "not a .shrk file: it starts with 4c 6f 0a ff, expected 53 48 52 4b (\"SHRK\")"
        );
        let empty = FormatError::BadMagic { found: vec![] };
        assert!(empty.to_string().contains("(empty file)"));
    }
}
