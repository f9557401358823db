//! Limits on what a spec (or the spec inside a `.shrk` file) may declare, checked before
//! anything is allocated for it.
//!
//! A spec is a few hundred bytes that can ask for terabytes: `linear out = 10^12`, a
//! conv-transpose with `stride = 10^6`, a million layers. Shape inference
//! ([`crate::spec::ModelSpec::check`]) computes, with checked arithmetic, what a network
//! costs — parameters, the largest activation of one example, the working memory of one
//! example, multiply-adds per example — and refuses it above these limits with an error
//! that names the limit. The defaults are sized so that a laptop survives any model
//! they let through (and so that nothing they let through takes minutes per example);
//! a caller that means to run a larger model raises them (`shrink --max-params …`).
//!
//! Not here: reading the numbers from a command line or a settings file (the caller),
//! data-file limits (`shrink-data`).

use crate::prelude::*;

/// The bounds a model must stay within. [`Limits::DEFAULT`] is what every reader uses
/// unless its caller passes other limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Learned parameters of the whole model (default 2^28 ≈ 268 M: 1 GiB of f32).
    pub max_params: u64,
    /// Values of one example in any single layer's input or output (default 2^26 ≈
    /// 67 M: 256 MiB of f32; VGG-16's largest is 3.2 M).
    pub max_activation: u64,
    /// Bytes of working memory for one batch (default 2^30 = 1 GiB). A batch that would
    /// need more is split (the runtime) or refused (training); a single example that
    /// needs more is refused.
    pub max_batch_bytes: u64,
    /// Multiply-adds per example, elementwise operations counted one per value (default
    /// 5·10^9: ResNet-50 is 4·10^9, LeNet-5 2.3·10^6). Bounds the time one example takes.
    pub max_macs: u64,
    /// Layers in the spec, counting those inside blocks (default 4096).
    pub max_layers: u64,
    /// Bytes of spec text (default 1 MiB).
    pub max_spec_bytes: u64,
}

/// Deepest nesting of blocks (residual, highway, inception) a spec may have. Fixed, not
/// a [`Limits`] field: no real network nests deeper, and every recursive walk over a
/// spec relies on it.
pub const MAX_DEPTH: usize = 32;

impl Limits {
    /// The documented defaults (see each field).
    pub const DEFAULT: Limits = Limits {
        max_params: 1 << 28,
        max_activation: 1 << 26,
        max_batch_bytes: 1 << 30,
        max_macs: 5_000_000_000,
        max_layers: 4096,
        max_spec_bytes: 1 << 20,
    };

    /// No limit at all (every field `u64::MAX`); for tests and tools that have their
    /// own bounds.
    pub const NONE: Limits = Limits {
        max_params: u64::MAX,
        max_activation: u64::MAX,
        max_batch_bytes: u64::MAX,
        max_macs: u64::MAX,
        max_layers: u64::MAX,
        max_spec_bytes: u64::MAX,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// At most `max` characters of `text` (cut on a character boundary), with `…` and the
/// full length appended when it was cut: how an error quotes a value it did not like.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// `text` with every control character (and the escape that starts terminal escape
/// sequences) written as `\u{..}`, so that a name from a file cannot forge or recolour
/// an output line.
pub fn escape_control(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_text_on_a_char_boundary() {
        assert_eq!(excerpt("short", 10), "short");
        let long = "é".repeat(1000);
        let e = excerpt(&long, 5);
        assert!(e.starts_with("ééééé…"), "{e}");
        assert!(e.contains("2000 bytes"), "{e}");
        assert!(e.len() < 40);
    }

    #[test]
    fn escape_control_neutralises_terminal_sequences() {
        let forged = "cat\x1b[2K\rdog\n";
        let e = escape_control(forged);
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
        assert_eq!(e, "cat\\u{1b}[2K\\u{d}dog\\u{a}");
        assert_eq!(escape_control("zebra"), "zebra");
    }
}
