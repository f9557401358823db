//! One entropy-coded symbol stream of a compressed tensor (weight symbols or relative
//! indices): a mode byte, an optional Huffman table, the bit length and the bits.
//!
//! The writer tries fixed-width coding and Huffman coding with either table layout and
//! keeps whichever is smallest in bytes (for tiny tensors the table costs more than
//! Huffman saves). Layout in docs/FORMAT.md §5.

use crate::bits::{BitReader, BitWriter};
use crate::cursor::Cursor;
use crate::huffman::{self, MAX_CODE_LEN};
use crate::prelude::*;
use crate::FormatError;

/// Fixed-width values of the stream's fixed width, no table.
pub(crate) const MODE_FIXED: u8 = 0;
/// Huffman; table = every symbol's code length, 4 bits each.
pub(crate) const MODE_HUFFMAN_DENSE: u8 = 1;
/// Huffman; table = (symbol, length) pairs of the used symbols.
pub(crate) const MODE_HUFFMAN_SPARSE: u8 = 2;

/// Smallest width `w` with `2^w >= n` (0 for n <= 1).
pub(crate) fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

fn bytes_for_bits(bits: u64) -> u64 {
    bits.div_ceil(8)
}

/// Appends one stream holding `symbols` (each `< 2^fixed_width`).
pub(crate) fn write(out: &mut Vec<u8>, symbols: &[u16], fixed_width: u32) {
    let fixed_bits = symbols.len() as u64 * fixed_width as u64;
    let mut best = (MODE_FIXED, 1 + 8 + bytes_for_bits(fixed_bits));
    let mut huffman_lengths = None;
    if let Some(&max_symbol) = symbols.iter().max() {
        let mut freqs = vec![0u64; max_symbol as usize + 1];
        for &s in symbols {
            freqs[s as usize] += 1;
        }
        // None when more than 2^15 distinct symbols occur: fixed width it is.
        if let Some(lengths) = huffman::code_lengths(&freqs, MAX_CODE_LEN) {
            let bits: u64 = freqs
                .iter()
                .zip(&lengths)
                .map(|(&f, &l)| f * l as u64)
                .sum();
            let payload = 8 + bytes_for_bits(bits);
            let used = lengths.iter().filter(|&&l| l > 0).count() as u64;
            let dense = 1 + 4 + (lengths.len() as u64).div_ceil(2) + payload;
            let sparse = 1 + 4 + 3 * used + payload;
            if dense < best.1 {
                best = (MODE_HUFFMAN_DENSE, dense);
            }
            if sparse < best.1 {
                best = (MODE_HUFFMAN_SPARSE, sparse);
            }
            huffman_lengths = Some(lengths);
        }
    }
    out.push(best.0);
    let (bytes, bit_len) = match (best.0, huffman_lengths) {
        (MODE_FIXED, _) | (_, None) => {
            let mut w = BitWriter::with_capacity(bytes_for_bits(fixed_bits) as usize);
            for &s in symbols {
                w.write(s as u32, fixed_width);
            }
            w.finish()
        }
        (mode, Some(lengths)) => {
            if mode == MODE_HUFFMAN_DENSE {
                out.extend_from_slice(&(lengths.len() as u32).to_le_bytes());
                for pair in lengths.chunks(2) {
                    out.push(pair[0] | pair.get(1).map_or(0, |&l| l << 4));
                }
            } else {
                let used = lengths.iter().filter(|&&l| l > 0).count() as u32;
                out.extend_from_slice(&used.to_le_bytes());
                for (symbol, &len) in lengths.iter().enumerate().filter(|&(_, &l)| l > 0) {
                    out.extend_from_slice(&(symbol as u16).to_le_bytes());
                    out.push(len);
                }
            }
            let codes = huffman::canonical_codes(&lengths);
            let mut w = BitWriter::with_capacity(best.1 as usize);
            for &s in symbols {
                w.write(codes[s as usize] as u32, lengths[s as usize] as u32);
            }
            w.finish()
        }
    };
    out.extend_from_slice(&bit_len.to_le_bytes());
    out.extend_from_slice(&bytes);
}

/// How to turn the stream's bits into symbols.
pub(crate) enum SymbolDecoder {
    Fixed(u32),
    Huffman(Box<huffman::Decoder>),
}

/// A parsed, not yet decoded stream.
pub(crate) struct Stream<'a> {
    pub decoder: SymbolDecoder,
    pub payload: &'a [u8],
    pub bit_len: u64,
    /// Absolute file offset of `payload[0]`.
    pub payload_offset: u64,
    /// Bytes of the Huffman table (0 in fixed mode).
    pub table_bytes: u64,
}

/// Parses a stream header and slices its payload, checking that a stream of `entries`
/// symbols fits: fixed mode must hold exactly `entries * fixed_width` bits, Huffman mode
/// between 1 and 15 bits per symbol.
pub(crate) fn read<'a>(
    cur: &mut Cursor<'a>,
    what: &str,
    alphabet: usize,
    fixed_width: u32,
    entries: u64,
) -> Result<Stream<'a>, FormatError> {
    let mode_at = cur.offset();
    let mode = cur.u8()?;
    let table_start = cur.offset();
    let decoder = match mode {
        MODE_FIXED => SymbolDecoder::Fixed(fixed_width),
        MODE_HUFFMAN_DENSE | MODE_HUFFMAN_SPARSE => {
            let count_at = cur.offset();
            let count = cur.u32()? as u64;
            if count == 0 || count > alphabet as u64 {
                return Err(cur.corrupt_at(
                    count_at,
                    format!(
                        "{what} Huffman table has {count} symbols; the alphabet has {alphabet}"
                    ),
                ));
            }
            let lengths = if mode == MODE_HUFFMAN_DENSE {
                let packed = cur.take(count.div_ceil(2))?;
                if count % 2 == 1 && packed[packed.len() - 1] >> 4 != 0 {
                    return Err(cur.corrupt_at(
                        cur.offset() - 1,
                        format!("{what} table padding nibble is not zero"),
                    ));
                }
                let mut lengths: Vec<u8> = packed.iter().flat_map(|&b| [b & 0xF, b >> 4]).collect();
                lengths.truncate(count as usize);
                lengths
            } else {
                let pairs = cur.take(count * 3)?;
                let mut lengths = Vec::new();
                for (i, pair) in pairs.chunks_exact(3).enumerate() {
                    let symbol = u16::from_le_bytes([pair[0], pair[1]]) as usize;
                    let len = pair[2];
                    let at = count_at + 4 + 3 * i as u64;
                    if symbol >= alphabet || symbol < lengths.len() {
                        return Err(cur.corrupt_at(
                            at,
                            format!("{what} table symbol {symbol} is out of order or outside the alphabet of {alphabet}"),
                        ));
                    }
                    if !(1..=MAX_CODE_LEN).contains(&len) {
                        return Err(cur.corrupt_at(
                            at + 2,
                            format!("{what} table code length {len} not in 1..=15"),
                        ));
                    }
                    lengths.resize(symbol, 0);
                    lengths.push(len);
                }
                lengths
            };
            let decoder = huffman::Decoder::new(&lengths)
                .map_err(|e| cur.corrupt_at(count_at, format!("{what}: {e}")))?;
            SymbolDecoder::Huffman(Box::new(decoder))
        }
        other => return Err(cur.corrupt_at(mode_at, format!("unknown {what} stream mode {other}"))),
    };
    let table_bytes = cur.offset() - table_start;
    let len_at = cur.offset();
    let bit_len = cur.u64()?;
    let (lo, hi) = match decoder {
        SymbolDecoder::Fixed(w) => (entries * w as u64, entries * w as u64),
        SymbolDecoder::Huffman(_) => (entries, entries * MAX_CODE_LEN as u64),
    };
    if !(lo..=hi).contains(&bit_len) {
        return Err(cur.corrupt_at(
            len_at,
            format!("{what} stream of {entries} symbols cannot be {bit_len} bits long (expected {lo}..={hi})"),
        ));
    }
    let payload_offset = cur.offset();
    let payload = cur.take(bytes_for_bits(bit_len))?;
    Ok(Stream {
        decoder,
        payload,
        bit_len,
        payload_offset,
        table_bytes,
    })
}

/// Sequential symbol reader over a [`Stream`].
pub(crate) struct SymbolReader<'s, 'a> {
    stream: &'s Stream<'a>,
    bits: BitReader<'a>,
}

impl<'s, 'a> SymbolReader<'s, 'a> {
    pub(crate) fn new(stream: &'s Stream<'a>) -> Self {
        SymbolReader {
            stream,
            bits: BitReader::new(stream.payload),
        }
    }

    /// The next symbol, or `None` on an invalid Huffman code.
    pub(crate) fn next(&mut self) -> Option<u16> {
        match &self.stream.decoder {
            // fixed_width <= 16 for every stream of the format.
            SymbolDecoder::Fixed(width) => Some(self.bits.read(*width) as u16),
            SymbolDecoder::Huffman(decoder) => decoder.decode(&mut self.bits),
        }
    }

    /// Absolute file offset of the byte holding the next unread bit.
    pub(crate) fn offset(&self) -> u64 {
        self.stream.payload_offset + self.bits.consumed() / 8
    }

    /// Error text unless exactly `bit_len` bits were consumed and the padding is zero.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        let (consumed, bit_len) = (self.bits.consumed(), self.stream.bit_len);
        if consumed != bit_len {
            return Err(format!(
                "decoding used {consumed} bits of a {bit_len}-bit stream"
            ));
        }
        let pad = (8 - bit_len % 8) % 8;
        if self.bits.read(pad as u32) != 0 {
            return Err("stream padding bits are not zero".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes, reads back and decodes `symbols`; returns the mode the writer chose.
    fn round_trip(symbols: &[u16], alphabet: usize, width: u32) -> u8 {
        let mut out = Vec::new();
        write(&mut out, symbols, width);
        let mut cur = Cursor::new(&out, 0, "test".into());
        let stream = read(&mut cur, "test", alphabet, width, symbols.len() as u64).unwrap();
        cur.expect_end().unwrap();
        let mut reader = SymbolReader::new(&stream);
        for &s in symbols {
            assert_eq!(reader.next(), Some(s));
        }
        reader.finish().unwrap();
        out[0]
    }

    #[test]
    fn writer_keeps_the_smallest_mode_and_reader_inverts_it() {
        // Uniform over 4 symbols: Huffman gains nothing and its table costs bytes.
        let uniform: Vec<u16> = (0..400).map(|i| i % 4).collect();
        assert_eq!(round_trip(&uniform, 4, 2), MODE_FIXED);
        // Geometric over 0..13 in a 64-symbol alphabet: Huffman, full table.
        let skewed: Vec<u16> = (1..5000u32).map(|i| i.trailing_zeros() as u16).collect();
        assert_eq!(round_trip(&skewed, 64, 6), MODE_HUFFMAN_DENSE);
        // One symbol of 1024: Huffman, listing only the used symbol.
        assert_eq!(round_trip(&[700; 50], 1024, 10), MODE_HUFFMAN_SPARSE);
        // Nothing to store, or nothing to say (0-bit fixed width).
        assert_eq!(round_trip(&[], 4, 2), MODE_FIXED);
        assert_eq!(round_trip(&[0; 10], 1, 0), MODE_FIXED);
    }

    #[test]
    fn reader_rejects_impossible_bit_lengths() {
        let mut out = Vec::new();
        write(&mut out, &[1, 2, 3], 2);
        // Fixed mode: 3 symbols × 2 bits = 6 bits, not 7.
        out[1] = 7;
        let mut cur = Cursor::new(&out, 0, "test".into());
        assert!(matches!(
            read(&mut cur, "weight", 4, 2, 3),
            Err(FormatError::Corrupt { .. })
        ));
    }
}
