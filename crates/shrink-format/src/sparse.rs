//! Deep Compression's sparse storage: relative indices with filler entries.
//!
//! Han et al. 2016, §2 and Fig. 2: a pruned layer is stored as its kept weights in flat
//! (row-major) order, each with the *relative* index from the previous kept weight in
//! `b` bits (`index_bits`); when a difference exceeds what the field can hold (8 for
//! 3 bits in the paper's example), a filler zero is stored and the count continues.
//!
//! The rule this crate uses (docs/FORMAT.md §4):
//!
//! * Entry `j` at flat position `p_j` stores the gap `d_j = p_j - p_{j-1} - 1` (the number
//!   of zeros skipped), with `p_{-1} = -1`. So the first entry's gap is its position,
//!   and `d` ranges over `0..=2^b - 1`.
//! * If the next kept weight is more than `2^b` positions after the previous entry, a
//!   **filler** entry is stored at `p_{j-1} + 2^b` (gap `2^b - 1`, the largest) whose
//!   weight symbol is the dedicated filler symbol `k = codebook.len()` (it decodes to
//!   0.0 and is not a kept weight), repeated as often as needed.
//! * Fillers appear only where needed: every filler has the largest gap and is followed
//!   by another entry. The reader enforces this.

use crate::prelude::*;

/// The two symbol streams of one compressed tensor, entry by entry.
pub(crate) struct Entries {
    /// Cluster index per entry, or the filler symbol.
    pub weights: Vec<u16>,
    /// Relative index (gap) per entry, `0..2^index_bits`.
    pub gaps: Vec<u16>,
    pub fillers: u64,
}

/// Builds the entry streams for valid `positions` (strictly increasing) and `clusters`.
pub(crate) fn encode(positions: &[u32], clusters: &[u16], filler: u16, index_bits: u8) -> Entries {
    let max_gap = (1u64 << index_bits) - 1;
    let mut entries = Entries {
        weights: Vec::with_capacity(positions.len()),
        gaps: Vec::with_capacity(positions.len()),
        fillers: 0,
    };
    // `next` = previous entry's position + 1 (0 before the first entry).
    let mut next = 0u64;
    for (&position, &cluster) in positions.iter().zip(clusters) {
        let position = position as u64;
        while position - next > max_gap {
            entries.weights.push(filler);
            entries.gaps.push(max_gap as u16);
            entries.fillers += 1;
            next += max_gap + 1;
        }
        entries.weights.push(cluster);
        entries.gaps.push((position - next) as u16);
        next = position + 1;
    }
    entries
}

/// Rebuilds positions and clusters from decoded entries, checking every rule.
pub(crate) struct Decoder {
    numel: u64,
    max_gap: u16,
    filler: u16,
    next: u64,
    last_was_filler: bool,
    pub positions: Vec<u32>,
    pub clusters: Vec<u16>,
}

impl Decoder {
    /// `kept` must already be bounded by the input size (it sizes the allocations).
    pub(crate) fn new(numel: u64, index_bits: u8, codebook_len: u16, kept: usize) -> Self {
        Decoder {
            numel,
            max_gap: ((1u32 << index_bits) - 1) as u16,
            filler: codebook_len,
            next: 0,
            last_was_filler: false,
            positions: Vec::with_capacity(kept),
            clusters: Vec::with_capacity(kept),
        }
    }

    /// Adds one entry; an error says which rule it breaks.
    pub(crate) fn push(&mut self, weight: u16, gap: u16) -> Result<(), String> {
        if gap > self.max_gap {
            return Err(format!("relative index {gap} exceeds {}", self.max_gap));
        }
        let position = self.next + gap as u64;
        if position >= self.numel {
            return Err(format!(
                "entry at flat position {position} is outside the tensor ({} elements)",
                self.numel
            ));
        }
        self.next = position + 1;
        if weight == self.filler {
            if gap != self.max_gap {
                return Err(format!(
                    "filler entry with gap {gap} (fillers always have the largest gap)"
                ));
            }
            self.last_was_filler = true;
        } else if weight > self.filler {
            return Err(format!(
                "weight symbol {weight} is out of range (codebook has {} entries)",
                self.filler
            ));
        } else {
            // position < numel <= u32::MAX, checked above and when numel was read.
            self.positions.push(position as u32);
            self.clusters.push(weight);
            self.last_was_filler = false;
        }
        Ok(())
    }

    /// Positions and clusters, after checking the entry list did not end on a filler.
    pub(crate) fn finish(self) -> Result<(Vec<u32>, Vec<u16>), String> {
        if self.last_was_filler {
            return Err("entry list ends with a filler".into());
        }
        Ok((self.positions, self.clusters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fillers_bridge_long_gaps_as_in_the_paper() {
        // index_bits = 3: gaps 0..=7, so each entry reaches at most 8 positions ahead.
        // Paper Fig. 2 style: positions 1, 4, 20 (gap 15 from 4 needs one filler at 12).
        let e = encode(&[1, 4, 20], &[2, 0, 1], 9, 3);
        assert_eq!(e.weights, vec![2, 0, 9, 1]);
        assert_eq!(e.gaps, vec![1, 2, 7, 7]);
        assert_eq!(e.fillers, 1);

        let mut d = Decoder::new(21, 3, 9, 3);
        for (&w, &g) in e.weights.iter().zip(&e.gaps) {
            d.push(w, g).unwrap();
        }
        assert_eq!(d.finish().unwrap(), (vec![1, 4, 20], vec![2, 0, 1]));
    }

    #[test]
    fn first_gap_counts_from_minus_one() {
        let e = encode(&[0, 8, 17], &[0, 0, 0], 1, 3);
        // 0: gap 0; 8: gap 7; 17: gap 8 > 7 → filler at 16, then gap 0.
        assert_eq!(e.gaps, vec![0, 7, 7, 0]);
        assert_eq!(e.weights, vec![0, 0, 1, 0]);
    }

    #[test]
    fn decoder_rejects_rule_breaks() {
        let mut d = Decoder::new(100, 3, 4, 0);
        assert!(d.push(4, 6).is_err()); // filler with a short gap
        let mut d = Decoder::new(100, 3, 4, 0);
        assert!(d.push(5, 0).is_err()); // symbol beyond the filler
        let mut d = Decoder::new(5, 3, 4, 0);
        assert!(d.push(0, 5).is_err()); // outside the tensor
        let mut d = Decoder::new(100, 3, 4, 0);
        d.push(4, 7).unwrap();
        assert!(d.finish().is_err()); // trailing filler
    }
}
