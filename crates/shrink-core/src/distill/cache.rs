//! Teacher logits cached on disk, so that a teacher (often a slow ensemble) labels a
//! transfer set once, not once per student, per resume or per experiment run.
//!
//! A cache entry is addressed by a [`CacheKey`]: a SHA-256 over the teacher's files
//! (every byte of each member's spec and weights) and over the transfer set (its recipe
//! and every feature value). Anything that changes the logits changes the key, so an
//! entry is never reused for another teacher or another set. The file repeats the key,
//! the shape, and ends in a SHA-256 of its contents: a file that does not check out
//! (truncated, overwritten, from another key) is recomputed and replaced, never used.
//!
//! File layout (`<cache dir>/<key hex>.logits`, little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `SHRKLGT1` |
//! | 32 | the key |
//! | 8 | `n`, examples (u64) |
//! | 8 | `k`, classes (u64) |
//! | 4·n·k | logits, f32, row-major `[n, k]` |
//! | 32 | SHA-256 of everything above |

use crate::store::{Served, Store};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SHRKLGT1";

/// What decides a teacher's logits on a set: built up piece by piece, then hashed.
#[derive(Clone)]
pub struct CacheKey(Sha256);

impl CacheKey {
    /// A key for `what` (a domain tag such as "teacher logits v1").
    pub fn new(what: &str) -> CacheKey {
        let mut h = Sha256::new();
        h.update(what.as_bytes());
        h.update([0]);
        CacheKey(h)
    }

    /// Add raw bytes (length-prefixed, so that pieces cannot run into each other).
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    /// Add a string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Add numbers (shapes, counts).
    pub fn usizes(&mut self, v: &[usize]) -> &mut Self {
        self.0.update((v.len() as u64).to_le_bytes());
        for &x in v {
            self.0.update((x as u64).to_le_bytes());
        }
        self
    }

    /// Add every value of `v`, bit for bit.
    pub fn f32s(&mut self, v: &[f32]) -> &mut Self {
        self.0.update((v.len() as u64).to_le_bytes());
        let mut buf = Vec::with_capacity(4 * 16384);
        for chunk in v.chunks(16384) {
            buf.clear();
            for x in chunk {
                buf.extend_from_slice(&x.to_le_bytes());
            }
            self.0.update(&buf);
        }
        self
    }

    /// The 32-byte digest.
    pub fn finish(&self) -> [u8; 32] {
        self.0.clone().finalize().into()
    }
}

/// SHA-256 of a file's bytes (streamed), with its path in the error.
pub fn file_digest(path: &Path) -> Result<[u8; 32]> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(h.finalize().into())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a cached computation was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheUse {
    /// Read from a valid cache file.
    Hit,
    /// Computed (no cache file) and stored.
    Computed,
    /// A cache file was there but did not check out; computed again and replaced.
    Recomputed,
}

/// Logits `[n, k]` for `key`: from `dir` when a valid entry is there, else
/// `compute()`d and stored (an entry of the one resumable-step store, [`Store::cached`]).
/// `say` gets one line about what happened.
pub fn cached_logits(
    dir: &Path,
    key: &CacheKey,
    n: usize,
    k: usize,
    compute: impl FnOnce() -> Result<Vec<f32>>,
    say: &dyn Fn(&str),
) -> Result<(Vec<f32>, CacheUse, PathBuf)> {
    let digest = key.finish();
    let store = Store::at(dir, true);
    let path = store.file(&hex(&digest), "logits");
    let (v, served, path) = store.cached(
        &hex(&digest),
        "logits",
        |bytes| decode_entry(bytes, &digest, n, k),
        |served| {
            if let Served::Recomputed(why) = served {
                say(&format!(
                    "teacher logits: cache {} does not check out ({why}); recomputing",
                    path.display()
                ));
            }
            let v = compute()?;
            anyhow::ensure!(
                v.len() == n * k,
                "teacher gave {} logits for {n} examples of {k} classes",
                v.len()
            );
            Ok(v)
        },
        |v| entry_bytes(&digest, n, k, v),
    )?;
    let how = match served {
        Served::Hit => {
            say(&format!("teacher logits: cache hit {}", path.display()));
            CacheUse::Hit
        }
        Served::Computed | Served::Recomputed(_) => {
            say(&format!("teacher logits: cached in {}", path.display()));
            if served == Served::Computed {
                CacheUse::Computed
            } else {
                CacheUse::Recomputed
            }
        }
    };
    Ok((v, how, path))
}

fn entry_bytes(digest: &[u8; 32], n: usize, k: usize, v: &[f32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + 32 + 16 + 4 * v.len() + 32);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(digest);
    b.extend_from_slice(&(n as u64).to_le_bytes());
    b.extend_from_slice(&(k as u64).to_le_bytes());
    for x in v {
        b.extend_from_slice(&x.to_le_bytes());
    }
    let sum: [u8; 32] = Sha256::digest(&b).into();
    b.extend_from_slice(&sum);
    b
}

/// The logits of a cache file's bytes `b`, or why they cannot be used.
fn decode_entry(b: &[u8], digest: &[u8; 32], n: usize, k: usize) -> Result<Vec<f32>, String> {
    let values = n.checked_mul(k).ok_or("size overflows")?;
    let want = 8 + 32 + 16 + 4 * values + 32;
    if b.len() != want {
        return Err(format!("{} bytes, expected {want}", b.len()));
    }
    let (body, sum) = b.split_at(want - 32);
    if Sha256::digest(body).as_slice() != sum {
        return Err("checksum mismatch".into());
    }
    if &body[..8] != MAGIC {
        return Err("not a teacher-logits file".into());
    }
    if &body[8..40] != digest {
        return Err("made for another teacher or transfer set".into());
    }
    let num = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().expect("8 bytes")) as usize;
    if (num(40), num(48)) != (n, k) {
        return Err(format!("holds {}×{}, expected {n}×{k}", num(40), num(48)));
    }
    Ok(body[56..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn entries_are_reused_only_when_they_check_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut key = CacheKey::new("test");
        key.str("set a").f32s(&[1.0, 2.0]);
        let calls = Cell::new(0);
        let compute = || {
            calls.set(calls.get() + 1);
            Ok(vec![0.5, -1.0, 2.0, 3.0])
        };
        let quiet = |_: &str| {};
        let (v, how, path) = cached_logits(dir.path(), &key, 2, 2, compute, &quiet).unwrap();
        assert_eq!(
            (v, how, calls.get()),
            (vec![0.5, -1.0, 2.0, 3.0], CacheUse::Computed, 1)
        );
        let (v, how, _) = cached_logits(dir.path(), &key, 2, 2, compute, &quiet).unwrap();
        assert_eq!((v[3], how, calls.get()), (3.0, CacheUse::Hit, 1));

        // One flipped bit: recomputed, and the file is replaced by a good one.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[60] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (_, how, _) = cached_logits(dir.path(), &key, 2, 2, compute, &quiet).unwrap();
        assert_eq!((how, calls.get()), (CacheUse::Recomputed, 2));
        let (_, how, _) = cached_logits(dir.path(), &key, 2, 2, compute, &quiet).unwrap();
        assert_eq!(how, CacheUse::Hit);

        // A truncated file, and a shape that does not match.
        std::fs::write(&path, &bytes[..20]).unwrap();
        let (_, how, _) = cached_logits(dir.path(), &key, 2, 2, compute, &quiet).unwrap();
        assert_eq!(how, CacheUse::Recomputed);
        assert!(decode_entry(&std::fs::read(&path).unwrap(), &key.finish(), 4, 1).is_err());

        // Another set: another file.
        let mut other = CacheKey::new("test");
        other.str("set b").f32s(&[1.0, 2.0]);
        assert_ne!(other.finish(), key.finish());
    }
}
