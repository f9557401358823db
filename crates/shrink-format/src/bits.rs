//! MSB-first bit packing for the symbol streams of a `.shrk` file.
//!
//! Bits fill each byte from its most significant bit down; a value of width `w` is
//! written most significant bit first. Huffman codes are written the same way, so a
//! canonical code can be decoded by peeking the next bits as an integer. The last byte
//! is padded with zero bits.

use crate::prelude::*;

/// Appends fixed-width values and Huffman codes to a byte vector.
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Pending bits, right-aligned; only the low `pending` bits are meaningful.
    acc: u64,
    pending: u32,
    bit_len: u64,
}

impl BitWriter {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        BitWriter {
            bytes: Vec::with_capacity(bytes),
            acc: 0,
            pending: 0,
            bit_len: 0,
        }
    }

    /// Writes the low `width` bits of `value` (`width` <= 32), most significant first.
    pub(crate) fn write(&mut self, value: u32, width: u32) {
        debug_assert!(width <= 32 && (width == 32 || value >> width == 0));
        self.acc = (self.acc << width) | value as u64;
        self.pending += width;
        self.bit_len += width as u64;
        while self.pending >= 8 {
            self.pending -= 8;
            self.bytes.push((self.acc >> self.pending) as u8);
        }
        self.acc &= (1u64 << self.pending) - 1;
    }

    /// The bytes (last one zero-padded) and the exact number of bits written.
    pub(crate) fn finish(mut self) -> (Vec<u8>, u64) {
        if self.pending > 0 {
            self.bytes.push((self.acc << (8 - self.pending)) as u8);
        }
        (self.bytes, self.bit_len)
    }
}

/// Reads a bit stream written by [`BitWriter`]. Reading past the end yields zero bits
/// and is detected afterwards by comparing [`BitReader::consumed`] with the stream's
/// stored bit length, so a corrupt stream cannot make the reader loop or index out of
/// bounds.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    next_byte: usize,
    /// Buffered bits, left-aligned: the next bit is bit 63.
    buf: u64,
    buffered: u32,
    consumed: u64,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader {
            bytes,
            next_byte: 0,
            buf: 0,
            buffered: 0,
            consumed: 0,
        }
    }

    fn refill(&mut self) {
        if let Some(word) = self.bytes.get(self.next_byte..self.next_byte + 8) {
            // Eight bytes at once. Bits below the new `buffered` mark are also ORed in;
            // they are the stream's true next bits, so ORing them again later is harmless.
            let mut be = [0u8; 8];
            be.copy_from_slice(word);
            self.buf |= u64::from_be_bytes(be) >> self.buffered;
            let taken = (63 - self.buffered) / 8;
            self.next_byte += taken as usize;
            self.buffered += taken * 8;
            return;
        }
        while self.buffered <= 56 {
            let byte = match self.bytes.get(self.next_byte) {
                Some(&b) => {
                    self.next_byte += 1;
                    b
                }
                None => 0,
            };
            self.buf |= (byte as u64) << (56 - self.buffered);
            self.buffered += 8;
        }
    }

    /// The next `width` bits (1..=32) as an integer, without consuming them.
    pub(crate) fn peek(&mut self, width: u32) -> u32 {
        debug_assert!((1..=32).contains(&width));
        if self.buffered < width {
            self.refill();
        }
        (self.buf >> (64 - width)) as u32
    }

    /// Drops `width` bits (1..=32, at most the number last peeked).
    pub(crate) fn consume(&mut self, width: u32) {
        debug_assert!(width <= self.buffered);
        self.buf <<= width;
        self.buffered -= width;
        self.consumed += width as u64;
    }

    /// Reads a fixed-width value (`width` 0..=32).
    pub(crate) fn read(&mut self, width: u32) -> u32 {
        if width == 0 {
            return 0;
        }
        let value = self.peek(width);
        self.consume(width);
        value
    }

    /// Bits consumed so far (may exceed the stream's length on a corrupt stream).
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_msb_first() {
        let mut w = BitWriter::with_capacity(0);
        w.write(0b1, 1);
        w.write(0b0110, 4);
        w.write(0xABCD, 16);
        w.write(0, 0);
        w.write(0x1F, 5);
        let (bytes, bits) = w.finish();
        assert_eq!(bits, 26);
        assert_eq!(bytes.len(), 4);
        // 1 0110 1010101111001101 11111 + 6 zero pad bits
        assert_eq!(bytes[0], 0b1011_0101);
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read(1), 1);
        assert_eq!(r.read(4), 0b0110);
        assert_eq!(r.read(16), 0xABCD);
        assert_eq!(r.read(0), 0);
        assert_eq!(r.read(5), 0x1F);
        assert_eq!(r.consumed(), 26);
        assert_eq!(r.read(6), 0);
    }

    #[test]
    fn reading_past_the_end_gives_zeros_and_counts() {
        let mut r = BitReader::new(&[0xFF]);
        assert_eq!(r.read(12), 0xFF0);
        assert_eq!(r.consumed(), 12);
    }
}
