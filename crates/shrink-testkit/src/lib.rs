//! Test support shared by the shrink crates' tests, so that each helper exists once:
//! the all-layers spec fixture, the seeded generator the test data is drawn from, IDX
//! file writers, and the Chromium finder of the rendering tests.
//!
//! A dev-dependency only; no ML framework (the small crates' tests use it too).
//!
//! Not here: helpers that need Burn or the `shrink` binary (`crates/shrink/tests/common`),
//! `.shrk` file surgery (`crates/shrink-format/tests/common`).

use std::io::Write;
use std::path::{Path, PathBuf};

/// One spec (TOML) with every layer kind, nested blocks and input normalisation: the
/// shared fixture of the vocabulary, model and runtime tests.
pub const ALL_LAYERS: &str = include_str!("../fixtures/all_layers.toml");

/// A 64-bit linear congruential generator (Knuth's MMIX constants): small,
/// deterministic, the same on every machine. The tests' data sets are drawn from it, so
/// its sequence must not change.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator whose first [`Lcg::next_u64`] is `seed` advanced once.
    pub fn new(seed: u64) -> Self {
        Lcg(seed)
    }

    /// The next state.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }

    /// Uniform in [0, 1), 24 bits.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [0, 1), 24 bits, as f64 (the same values as [`Lcg::unit`]).
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 40) as f64 / (1u64 << 24) as f64
    }
}

/// IDX bytes of unsigned bytes (`0x08`) with dimensions `dims`.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// Writes `bytes` to `path`, gzip-compressed when `gz`. Panics on failure (tests).
pub fn write_bytes(path: &Path, bytes: &[u8], gz: bool) {
    if gz {
        let f = std::fs::File::create(path).unwrap();
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap();
    } else {
        std::fs::write(path, bytes).unwrap();
    }
}

/// Writes an IDX file of `n` images of `h`×`w` bytes.
pub fn write_idx_images(path: &Path, imgs: &[u8], n: usize, h: usize, w: usize) {
    write_bytes(
        path,
        &idx_bytes(&[n as u32, h as u32, w as u32], imgs),
        false,
    );
}

/// Writes an IDX file of byte labels.
pub fn write_idx_labels(path: &Path, labels: &[u8]) {
    write_bytes(path, &idx_bytes(&[labels.len() as u32], labels), false);
}

/// A Chromium (or Chrome): `$CHROMIUM` when set, else the first of `chromium`,
/// `chromium-browser`, `google-chrome` on `PATH`. Panics with how to install one: the
/// rendering tests fail without it (`.ci/run` installs it).
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "no chromium on PATH (nor $CHROMIUM): install it (Debian: apt-get install -y chromium; \
         .ci/run does this)"
    );
}

/// Softmax (or log-softmax) of each row of `classes` logits: what an exported graph's
/// trailing Softmax/LogSoftmax computes, which an imported shrink model drops.
pub fn softmax(x: &[f32], classes: usize, log: bool) -> Vec<f32> {
    x.chunks(classes)
        .flat_map(|row| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let s: f32 = row.iter().map(|v| (v - m).exp()).sum();
            row.iter()
                .map(move |v| {
                    if log {
                        v - m - s.ln()
                    } else {
                        (v - m).exp() / s
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcg_sequence_is_fixed() {
        // The first values from seed 0 are the LCG's increment, then one more step.
        let mut r = Lcg::new(0);
        assert_eq!(r.next_u64(), 1442695040888963407);
        assert_eq!(
            r.next_u64(),
            1442695040888963407u64
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
        );
        let (mut a, mut b) = (Lcg::new(9), Lcg::new(9));
        for _ in 0..100 {
            let (u, v) = (a.unit(), b.unit_f64());
            assert!((0.0..1.0).contains(&u));
            assert_eq!(u as f64, v);
        }
    }

    #[test]
    fn idx_header_is_big_endian() {
        let b = idx_bytes(&[2, 1, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(&b[..4], &[0, 0, 8, 3]);
        assert_eq!(&b[4..8], &[0, 0, 0, 2]);
        assert_eq!(&b[16..], &[1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn gz_writes_round_trip() {
        let dir = std::env::temp_dir().join(format!("shrink-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.gz");
        write_bytes(&p, b"hello idx", true);
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "hello idx");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
