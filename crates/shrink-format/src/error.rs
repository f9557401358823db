//! The one error type of the `.shrk` reader and writer.
//!
//! Every variant says what was wrong and where: the section (file header, spec, meta,
//! or a tensor by name) and, for reader errors, the absolute byte offset in the file.

use crate::prelude::*;
use thiserror::Error;

/// Everything that can go wrong reading or writing a `.shrk` file.
#[derive(Error, Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The file does not start with the bytes `SHRK`.
    #[error("not a .shrk file: it starts with {found:02x?}, expected 53 48 52 4b (\"SHRK\")")]
    BadMagic {
        /// The first (up to four) bytes of the file.
        found: Vec<u8>,
    },
    /// The file is a `.shrk` file of a version this reader does not read.
    #[error("unsupported .shrk version {found}; this reader reads version {supported}")]
    UnsupportedVersion {
        /// Version field of the file.
        found: u16,
        /// The version this crate reads and writes.
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
