//! A bounds-checked little-endian reader over one section of a `.shrk` file.
//!
//! Every read checks the remaining length first and returns
//! [`FormatError::Truncated`] naming the section and the absolute file offset; nothing
//! here can panic or allocate.

use crate::prelude::*;
use crate::FormatError;

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Absolute file offset of `bytes[0]`.
    base: u64,
    /// Name of the section for error messages.
    section: String,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: u64, section: String) -> Self {
        Cursor {
            bytes,
            pos: 0,
            base,
            section,
        }
    }

    pub(crate) fn set_section(&mut self, section: String) {
        self.section = section;
    }

    /// Absolute file offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// The next `n` bytes, or `Truncated` if fewer remain.
    pub(crate) fn take(&mut self, n: u64) -> Result<&'a [u8], FormatError> {
        let available = self.remaining();
        if n > available {
            return Err(FormatError::Truncated {
                section: self.section.clone(),
                offset: self.offset(),
                needed: n,
                available,
            });
        }
        // n <= available <= usize::MAX, so the cast is lossless.
        let slice = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, FormatError> {
        self.array().map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FormatError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A length-prefixed UTF-8 string whose byte length was already read.
    pub(crate) fn utf8(&mut self, len: u64, what: &str) -> Result<String, FormatError> {
        let at = self.offset();
        let bytes = self.take(len)?;
        match core::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(self.corrupt_at(at, format!("{what} is not UTF-8 ({e})"))),
        }
    }

    /// `n` little-endian f32 values, bit-exact.
    pub(crate) fn f32s(&mut self, n: u64) -> Result<Vec<f32>, FormatError> {
        let needed = n.saturating_mul(4);
        let bytes = self.take(needed)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// A `Corrupt` error at the current offset.
    pub(crate) fn corrupt(&self, what: impl Into<String>) -> FormatError {
        self.corrupt_at(self.offset(), what)
    }

    pub(crate) fn corrupt_at(&self, offset: u64, what: impl Into<String>) -> FormatError {
        FormatError::Corrupt {
            section: self.section.clone(),
            offset,
            what: what.into(),
        }
    }

    /// Error unless every byte of the section was consumed.
    pub(crate) fn expect_end(&self) -> Result<(), FormatError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.corrupt(format!("{n} unexpected trailing bytes"))),
        }
    }
}
