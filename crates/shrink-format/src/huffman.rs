//! Length-limited canonical Huffman coding (Deep Compression §4, Han et al. 2016).
//!
//! The paper Huffman-codes the quantized weight indices and the sparse relative
//! indices of each layer, because both distributions are skewed; the paper reports a
//! further 20–30% saving. Here:
//!
//! * [`code_lengths`] computes optimal code lengths no longer than [`MAX_CODE_LEN`]
//!   with the package-merge algorithm (Larmore & Hirschberg 1990).
//! * [`canonical_codes`] assigns canonical codes from the lengths alone (the DEFLATE
//!   construction, RFC 1951 §3.2.2), so a table stores only one length per symbol.
//! * [`Decoder`] decodes with a 2^10-entry lookup table for short codes and a
//!   per-length canonical comparison for longer ones; it rejects incomplete or
//!   over-subscribed tables and invalid codes, never loops.

use crate::bits::BitReader;
use crate::prelude::*;

/// Longest code any table may hold. A length fits in 4 bits (0 = unused symbol).
pub(crate) const MAX_CODE_LEN: u8 = 15;

/// Bits resolved by the decoder's direct lookup table.
const TABLE_BITS: u32 = 10;

/// Optimal prefix-code lengths for `freqs` with no code longer than `max_len`, or `None`
/// if more than `2^max_len` symbols occur (no such code exists). Unused symbols get 0;
/// a lone used symbol gets length 1.
pub(crate) fn code_lengths(freqs: &[u64], max_len: u8) -> Option<Vec<u8>> {
    let mut lengths = vec![0u8; freqs.len()];
    // Leaves sorted by (frequency, symbol): ties broken by symbol for determinism.
    let mut leaves: Vec<(u64, u32)> = freqs
        .iter()
        .enumerate()
        .filter(|&(_, &f)| f > 0)
        .map(|(s, &f)| (f, s as u32))
        .collect();
    let n = leaves.len();
    match n {
        0 => return Some(lengths),
        1 => {
            lengths[leaves[0].1 as usize] = 1;
            return Some(lengths);
        }
        _ if n > 1usize << max_len => return None,
        _ => {}
    }
    leaves.sort_unstable();

    // Package-merge. Node ids 0..n are the leaves; ids >= n are packages whose two
    // children are stored in `children[id - n]`.
    let mut weight: Vec<u64> = leaves.iter().map(|&(f, _)| f).collect();
    let mut children: Vec<(u32, u32)> = Vec::new();
    let mut list: Vec<u32> = (0..n as u32).collect();
    for _ in 1..max_len {
        // Package adjacent pairs of the current list...
        let packages: Vec<u32> = list
            .chunks_exact(2)
            .map(|pair| {
                let id = weight.len() as u32;
                weight.push(weight[pair[0] as usize] + weight[pair[1] as usize]);
                children.push((pair[0], pair[1]));
                id
            })
            .collect();
        // ...and merge them with the leaves by weight (leaves first on ties).
        let mut merged = Vec::with_capacity(n + packages.len());
        let (mut i, mut j) = (0usize, 0usize);
        while i < n || j < packages.len() {
            let take_leaf =
                j == packages.len() || (i < n && weight[i] <= weight[packages[j] as usize]);
            if take_leaf {
                merged.push(i as u32);
                i += 1;
            } else {
                merged.push(packages[j]);
                j += 1;
            }
        }
        list = merged;
    }
    // The first 2n-2 items form the solution; a leaf's code length is the number of
    // selected items it occurs in.
    let mut stack: Vec<u32> = list[..2 * n - 2].to_vec();
    while let Some(id) = stack.pop() {
        let id = id as usize;
        if id < n {
            lengths[leaves[id].1 as usize] += 1;
        } else {
            let (a, b) = children[id - n];
            stack.push(a);
            stack.push(b);
        }
    }
    Some(lengths)
}

/// Canonical codes for valid `lengths` (RFC 1951 §3.2.2): codes of equal length are
/// consecutive integers in symbol order, and shorter codes sort before longer ones.
pub(crate) fn canonical_codes(lengths: &[u8]) -> Vec<u16> {
    let next = first_codes(&length_counts(lengths));
    let mut next = next;
    lengths
        .iter()
        .map(|&len| {
            if len == 0 {
                return 0;
            }
            let code = next[len as usize];
            next[len as usize] += 1;
            code as u16
        })
        .collect()
}

fn length_counts(lengths: &[u8]) -> [u32; MAX_CODE_LEN as usize + 1] {
    let mut count = [0u32; MAX_CODE_LEN as usize + 1];
    for &len in lengths {
        count[len as usize] += 1;
    }
    count[0] = 0;
    count
}

/// The first canonical code of each length.
fn first_codes(count: &[u32; MAX_CODE_LEN as usize + 1]) -> [u32; MAX_CODE_LEN as usize + 1] {
    let mut first = [0u32; MAX_CODE_LEN as usize + 1];
    let mut code = 0u32;
    for len in 1..=MAX_CODE_LEN as usize {
        code = (code + count[len - 1]) << 1;
        first[len] = code;
    }
    first
}

/// Decodes one canonical Huffman code.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Direct lookup on the next `TABLE_BITS` bits: `symbol << 4 | length`, 0 if the
    /// code is longer than `TABLE_BITS` (or invalid).
    table: Vec<u32>,
    table_bits: u32,
    max_len: u32,
    count: [u32; MAX_CODE_LEN as usize + 1],
    first: [u32; MAX_CODE_LEN as usize + 1],
    /// Index into `sorted` of the first symbol of each length.
    offset: [u32; MAX_CODE_LEN as usize + 1],
    /// Used symbols sorted by (length, symbol): canonical order.
    sorted: Vec<u16>,
}

impl Decoder {
    /// Builds a decoder from code lengths (0..=15 each, symbol = index). The code must
    /// be complete (Kraft sum exactly 1), except that a single used symbol of length 1
    /// is allowed; anything else is an error describing the problem.
    pub(crate) fn new(lengths: &[u8]) -> Result<Self, String> {
        if lengths.len() > 1 << 16 {
            return Err(format!("{} symbols exceed 65536", lengths.len()));
        }
        if let Some(&bad) = lengths.iter().find(|&&l| l > MAX_CODE_LEN) {
            return Err(format!("code length {bad} exceeds {MAX_CODE_LEN}"));
        }
        let count = length_counts(lengths);
        let used: u32 = count.iter().sum();
        // Kraft sum in units of 2^-15.
        let kraft: u64 = (1..=MAX_CODE_LEN as usize)
            .map(|len| (count[len] as u64) << (MAX_CODE_LEN as usize - len))
            .sum();
        let complete = kraft == 1 << MAX_CODE_LEN;
        let lone = used == 1 && count[1] == 1;
        if !complete && !lone {
            let state = if used == 0 {
                "has no symbols".to_string()
            } else if kraft > 1 << MAX_CODE_LEN {
                "is over-subscribed (Kraft sum > 1)".to_string()
            } else {
                "is incomplete (Kraft sum < 1)".to_string()
            };
            return Err(format!("Huffman table {state}"));
        }
        let max_len = (1..=MAX_CODE_LEN as u32)
            .rev()
            .find(|&len| count[len as usize] > 0)
            .unwrap_or(1);
        let first = first_codes(&count);
        let mut offset = [0u32; MAX_CODE_LEN as usize + 1];
        for len in 1..=MAX_CODE_LEN as usize {
            offset[len] = if len == 1 {
                0
            } else {
                offset[len - 1] + count[len - 1]
            };
        }
        let mut sorted = vec![0u16; used as usize];
        let mut fill = offset;
        for (symbol, &len) in lengths.iter().enumerate() {
            if len > 0 {
                sorted[fill[len as usize] as usize] = symbol as u16;
                fill[len as usize] += 1;
            }
        }
        let table_bits = TABLE_BITS.min(max_len);
        let mut table = vec![0u32; 1 << table_bits];
        let codes = canonical_codes(lengths);
        for (symbol, (&len, &code)) in lengths.iter().zip(&codes).enumerate() {
            let len = len as u32;
            if len == 0 || len > table_bits {
                continue;
            }
            let start = (code as usize) << (table_bits - len);
            let entry = (symbol as u32) << 4 | len;
            table[start..start + (1 << (table_bits - len))].fill(entry);
        }
        Ok(Decoder {
            table,
            table_bits,
            max_len,
            count,
            first,
            offset,
            sorted,
        })
    }

    /// The next symbol, or `None` if the bits form no valid code.
    pub(crate) fn decode(&self, reader: &mut BitReader) -> Option<u16> {
        let bits = reader.peek(self.max_len);
        let entry = self.table[(bits >> (self.max_len - self.table_bits)) as usize];
        if entry != 0 {
            reader.consume(entry & 0xF);
            return Some((entry >> 4) as u16);
        }
        for len in self.table_bits + 1..=self.max_len {
            let code = bits >> (self.max_len - len);
            let index = code.wrapping_sub(self.first[len as usize]);
            if index < self.count[len as usize] {
                reader.consume(len);
                return Some(self.sorted[(self.offset[len as usize] + index) as usize]);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::BitWriter;

    fn cost(freqs: &[u64], lengths: &[u8]) -> u64 {
        freqs.iter().zip(lengths).map(|(&f, &l)| f * l as u64).sum()
    }

    fn kraft_ok(lengths: &[u8]) -> bool {
        Decoder::new(lengths).is_ok()
    }

    #[test]
    fn unlimited_lengths_match_textbook_huffman() {
        // Classic example: frequencies 45 13 12 16 9 5 → lengths 1 3 3 3 4 4.
        let freqs = [45, 13, 12, 16, 9, 5];
        let lengths = code_lengths(&freqs, 15).unwrap();
        assert_eq!(lengths, vec![1, 3, 3, 3, 4, 4]);
        assert_eq!(
            canonical_codes(&lengths),
            vec![0b0, 0b100, 0b101, 0b110, 0b1110, 0b1111]
        );
    }

    #[test]
    fn length_limit_is_respected_and_code_is_complete() {
        // Fibonacci frequencies give a maximally deep unrestricted tree.
        let mut freqs = vec![1u64, 1];
        while freqs.len() < 30 {
            let n = freqs.len();
            freqs.push(freqs[n - 1] + freqs[n - 2]);
        }
        for limit in [5u8, 8, 15] {
            let lengths = code_lengths(&freqs, limit).unwrap();
            assert!(lengths.iter().all(|&l| (1..=limit).contains(&l)));
            assert!(kraft_ok(&lengths));
        }
        // A tighter limit never gives a cheaper code.
        let c5 = cost(&freqs, &code_lengths(&freqs, 5).unwrap());
        let c15 = cost(&freqs, &code_lengths(&freqs, 15).unwrap());
        assert!(c15 <= c5);
        // 2^limit symbols at the limit: every code has length `limit`.
        let flat = vec![7u64; 32];
        assert_eq!(code_lengths(&flat, 5).unwrap(), vec![5u8; 32]);
        assert!(code_lengths(&vec![1u64; 33], 5).is_none());
    }

    #[test]
    fn decoder_round_trips_long_and_short_codes() {
        let mut freqs: Vec<u64> = (0..300u64)
            .map(|i| 1 + (1u64 << (i % 40).min(30)))
            .collect();
        freqs[7] = 0;
        let lengths = code_lengths(&freqs, MAX_CODE_LEN).unwrap();
        assert!(lengths.iter().any(|&l| l as u32 > TABLE_BITS));
        let codes = canonical_codes(&lengths);
        let symbols: Vec<u16> = (0..3000u32)
            .map(|i| ((i * 7919) % 300) as u16)
            .filter(|&s| s != 7)
            .collect();
        let mut w = BitWriter::with_capacity(0);
        for &s in &symbols {
            w.write(codes[s as usize] as u32, lengths[s as usize] as u32);
        }
        let (bytes, bits) = w.finish();
        let decoder = Decoder::new(&lengths).unwrap();
        let mut r = BitReader::new(&bytes);
        for &s in &symbols {
            assert_eq!(decoder.decode(&mut r), Some(s));
        }
        assert_eq!(r.consumed(), bits);
    }

    #[test]
    fn decoder_rejects_bad_tables_and_codes() {
        assert!(Decoder::new(&[]).is_err());
        assert!(Decoder::new(&[0, 0]).is_err());
        assert!(Decoder::new(&[1, 1, 1]).is_err()); // over-subscribed
        assert!(Decoder::new(&[1, 2]).is_err()); // incomplete
        assert!(Decoder::new(&[2, 0]).is_err()); // lone symbol must have length 1
        assert!(Decoder::new(&[16, 1]).is_err());
        // A lone symbol has code 0; the bit 1 is an invalid code.
        let lone = Decoder::new(&[0, 1]).unwrap();
        assert_eq!(lone.decode(&mut BitReader::new(&[0x00])), Some(1));
        assert_eq!(lone.decode(&mut BitReader::new(&[0x80])), None);
    }
}
