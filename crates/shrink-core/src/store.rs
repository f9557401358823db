//! One resumable-step store: the result of a step is kept in a directory, keyed by the
//! step's inputs, so that a long job killed midway continues where it stopped. Used by
//! the experiments (one file per finished run), compress's stages, mimic's run
//! directory, and the teacher-logits cache.
//!
//! Two kinds of entry:
//! - keyed results (`<id>.json` holding `{ key, result }`): the key is every setting that
//!   decides the outcome. [`Store::get`] refuses a stored key that differs (the
//!   directory was made with other settings); [`Store::reuse`] recomputes instead.
//! - content-addressed files ([`Store::cached`]): the id is a digest of the inputs and
//!   the file checks itself; one that does not check out is recomputed and replaced.
//!
//! Every write is atomic (temporary name, then rename). Nothing is reused without
//! `resume`, except content-addressed files, which are valid by construction.
//!
//! Not here: a training run's own checkpoint (`train::checkpoint`, resumed inside the
//! step that trains).

use crate::model::io::write_atomic;
use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A directory of finished steps.
pub struct Store {
    dir: PathBuf,
    resume: bool,
}

#[derive(Serialize, Deserialize)]
struct Stored<T> {
    key: serde_json::Value,
    result: T,
}

/// How a content-addressed entry was served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// Read from a valid file.
    Hit,
    /// Computed (no file) and stored.
    Computed,
    /// A file was there but did not check out (why); computed again and replaced.
    Recomputed(String),
}

impl Store {
    /// A store in `dir` of its own; without `resume`, earlier entries there are removed.
    pub fn open(dir: &Path, resume: bool) -> Result<Store> {
        if !resume && dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            resume,
        })
    }

    /// A store whose entries sit among other files in `dir` (a model or output
    /// directory): nothing is removed; entries are reused only with `resume`.
    pub fn at(dir: &Path, resume: bool) -> Store {
        Store {
            dir: dir.to_path_buf(),
            resume,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A file for entry `id` with extension `ext` (for what a later step needs).
    pub fn file(&self, id: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{id}.{ext}"))
    }

    fn stored<T: DeserializeOwned>(&self, id: &str) -> Result<Option<Stored<T>>> {
        let path = self.file(id, "json");
        if !self.resume || !path.is_file() {
            return Ok(None);
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let stored = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a finished run", path.display()))?;
        Ok(Some(stored))
    }

    /// The stored result of `id`, if resuming and one is there; one made with another
    /// `key` is an error.
    pub fn get<T: DeserializeOwned>(&self, id: &str, key: &serde_json::Value) -> Result<Option<T>> {
        match self.stored::<T>(id)? {
            Some(s) if &s.key != key => bail!(
                "{} was made with other settings ({}, now {}); rerun without --resume or with another --out",
                self.file(id, "json").display(),
                s.key,
                key
            ),
            Some(s) => Ok(Some(s.result)),
            None => Ok(None),
        }
    }

    /// The stored result of `id`, if resuming and one made with `key` is there (one
    /// made with another key is ignored, to be replaced).
    pub fn reuse<T: DeserializeOwned>(
        &self,
        id: &str,
        key: &serde_json::Value,
    ) -> Result<Option<T>> {
        Ok(self
            .stored::<T>(id)
            .ok()
            .flatten()
            .filter(|s| &s.key == key)
            .map(|s| s.result))
    }

    /// The key `id` was stored with, if resuming and there is one.
    pub fn key(&self, id: &str) -> Result<Option<serde_json::Value>> {
        Ok(self
            .stored::<serde_json::Value>(id)?
            .map(|s: Stored<_>| s.key))
    }

    /// Record the result of `id`.
    pub fn put<T: Serialize>(&self, id: &str, key: &serde_json::Value, result: &T) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&Stored {
            key: key.clone(),
            result,
        })?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&self.file(id, "json"), &bytes)
    }

    /// The stored result of `id` ([`get`](Store::get): another key is an error), or
    /// `run()`'s, then stored. Also says whether the result was reused.
    pub fn run<T: Serialize + DeserializeOwned>(
        &self,
        id: &str,
        key: &serde_json::Value,
        run: impl FnOnce() -> Result<T>,
    ) -> Result<(T, bool)> {
        if let Some(r) = self.get(id, key)? {
            return Ok((r, true));
        }
        let r = run()?;
        self.put(id, key, &r)?;
        Ok((r, false))
    }

    /// A content-addressed entry `<id>.<ext>` (`id`: a digest of the inputs): `decode`d
    /// from its file when it checks out, else `compute`d (told why) and written as
    /// `encode` gives it.
    pub fn cached<T>(
        &self,
        id: &str,
        ext: &str,
        decode: impl FnOnce(&[u8]) -> Result<T, String>,
        compute: impl FnOnce(&Served) -> Result<T>,
        encode: impl FnOnce(&T) -> Vec<u8>,
    ) -> Result<(T, Served, PathBuf)> {
        let path = self.file(id, ext);
        let mut served = Served::Computed;
        if path.exists() {
            let found = std::fs::read(&path)
                .map_err(|e| format!("cannot read it: {e}"))
                .and_then(|b| decode(&b));
            match found {
                Ok(v) => return Ok((v, Served::Hit, path)),
                Err(why) => served = Served::Recomputed(why),
            }
        }
        let v = compute(&served)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&path, &encode(&v))?;
        Ok((v, served, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_results_resume_only_when_their_key_matches() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let key = serde_json::json!({"lr": 0.1});
        let store = Store::open(&runs, false).unwrap();
        let (v, reused) = store.run("a", &key, || Ok(5u32)).unwrap();
        assert_eq!((v, reused), (5, false));
        let store = Store::open(&runs, true).unwrap();
        let (v, reused) = store.run("a", &key, || Ok(6u32)).unwrap();
        assert_eq!((v, reused), (5, true));
        let other = serde_json::json!({"lr": 0.2});
        let e = store.run("a", &other, || Ok(7u32)).unwrap_err().to_string();
        assert!(e.contains("other settings"), "{e}");
        // `reuse` recomputes instead of refusing.
        assert_eq!(store.reuse::<u32>("a", &other).unwrap(), None);
        assert_eq!(store.reuse::<u32>("a", &key).unwrap(), Some(5));
        assert_eq!(store.key("a").unwrap(), Some(key.clone()));
        // Without --resume the old runs are dropped.
        let store = Store::open(&runs, false).unwrap();
        assert_eq!(store.run("a", &key, || Ok(8u32)).unwrap(), (8, false));
        // A store among other files reuses nothing without resume, and removes nothing.
        std::fs::write(dir.path().join("other.txt"), "x").unwrap();
        let at = Store::at(dir.path(), false);
        at.put("b", &key, &1u32).unwrap();
        assert_eq!(at.get::<u32>("b", &key).unwrap(), None);
        assert_eq!(
            Store::at(dir.path(), true).get::<u32>("b", &key).unwrap(),
            Some(1)
        );
        assert!(dir.path().join("other.txt").is_file());
    }

    #[test]
    fn cached_entries_are_replaced_when_they_do_not_check_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path(), false);
        let decode = |b: &[u8]| match b {
            [x, 0xAB] => Ok(*x),
            _ => Err("bad".to_string()),
        };
        let encode = |x: &u8| vec![*x, 0xAB];
        let (v, how, path) = store
            .cached("k", "bin", decode, |_| Ok(7u8), encode)
            .unwrap();
        assert_eq!((v, how), (7, Served::Computed));
        let (v, how, _) = store
            .cached("k", "bin", decode, |_| Ok(9u8), encode)
            .unwrap();
        assert_eq!((v, how), (7, Served::Hit));
        std::fs::write(&path, [1u8]).unwrap();
        let (v, how, _) = store
            .cached("k", "bin", decode, |_| Ok(9u8), encode)
            .unwrap();
        assert_eq!((v, how), (9, Served::Recomputed("bad".into())));
        assert_eq!(std::fs::read(&path).unwrap(), vec![9, 0xAB]);
    }
}
