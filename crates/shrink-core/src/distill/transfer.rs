//! Transfer sets: the examples a teacher labels for its student.
//!
//! Ba & Caruana train the mimic on the labelled training set plus a large unlabelled
//! set (docs/PAPERS.md §2); Buciluǎ et al. make the extra examples synthetically with MUNGE,
//! against the RANDOM baseline (§3). Every kind below but a user's own file is the
//! training examples followed by `N` times as many made ones:
//!
//! | `--transfer` | examples |
//! |---|---|
//! | `train` | the training split |
//! | `augment:N` | + N shifted/rotated copies of it (images) |
//! | `munge:N` | + N·n MUNGE examples (`shrink_data::munge`) |
//! | `random:N` | + N·n RANDOM examples (each attribute from its marginal) |
//! | `PATH` | the examples of a data set in any format `--data` reads (labels ignored; a CSV is read with the data's columns) |
//!
//! With `TransferOptions::synthetic_only` the made kinds are the made examples alone.
//! The training examples keep their labels; made and user-supplied ones have none
//! (where a hard label is needed, the teacher's argmax stands in). Everything is seeded.

use super::cache::CacheKey;
use crate::train::progress;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use shrink_data::{Augment, DataSource, Dataset, MungeOptions, SourceKind};
use shrink_format::spec::ShapeDisplay;
use std::fmt;
use std::path::{Path, PathBuf};

/// Which transfer set (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TransferKind {
    Train,
    Augment(usize),
    Munge(usize),
    Random(usize),
    Path(PathBuf),
}

impl fmt::Display for TransferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferKind::Train => write!(f, "train"),
            TransferKind::Augment(n) => write!(f, "augment:{n}"),
            TransferKind::Munge(n) => write!(f, "munge:{n}"),
            TransferKind::Random(n) => write!(f, "random:{n}"),
            TransferKind::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

impl From<TransferKind> for String {
    fn from(k: TransferKind) -> String {
        k.to_string()
    }
}

impl TryFrom<String> for TransferKind {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Self> {
        TransferKind::parse(&s)
    }
}

impl TransferKind {
    /// `train`, `augment:N`, `munge:N`, `random:N` (N ≥ 1), or the path of an existing
    /// data set.
    pub fn parse(s: &str) -> Result<TransferKind> {
        let s = s.trim();
        if s == "train" {
            return Ok(TransferKind::Train);
        }
        for (name, make) in [
            (
                "augment",
                TransferKind::Augment as fn(usize) -> TransferKind,
            ),
            ("munge", TransferKind::Munge),
            ("random", TransferKind::Random),
        ] {
            let Some(rest) = s.strip_prefix(name) else {
                continue;
            };
            if !(rest.is_empty() || rest.starts_with(':')) {
                continue; // a path such as munge_out.csv
            }
            let n = rest
                .strip_prefix(':')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n >= 1);
            return match n {
                Some(n) => Ok(make(n)),
                None => bail!(
                    "--transfer {s}: write {name}:N with N a whole number ≥ 1 (N times the training set, e.g. {name}:10)"
                ),
            };
        }
        let p = Path::new(s);
        if p.exists() {
            return Ok(TransferKind::Path(p.to_path_buf()));
        }
        bail!(
            "--transfer {s}: not train, augment:N, munge:N, random:N, or an existing data set path"
        )
    }
}

/// Settings of the made kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferOptions {
    /// MUNGE's swap probability p.
    pub munge_p: f64,
    /// MUNGE's local-variance divisor s.
    pub munge_s: f64,
    /// Seed of augmentation, MUNGE and RANDOM.
    pub seed: u64,
    /// Made kinds: the made examples alone, without the training examples before them.
    #[serde(default)]
    pub synthetic_only: bool,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            munge_p: shrink_data::DEFAULT_P,
            munge_s: shrink_data::DEFAULT_S,
            seed: 1,
            synthetic_only: false,
        }
    }
}

/// The augmentation of `augment:N` copies: up to 2 pixels of shift and 10° of rotation,
/// no mirroring (digits and letters are not symmetric).
pub const TRANSFER_AUGMENT: Augment = Augment {
    max_shift: 2,
    hflip: false,
    max_rotate_deg: 10.0,
};

/// A transfer set.
pub struct TransferSet {
    /// The examples, raw as loaded. `y` holds true labels for the first `labelled`
    /// examples (the training examples and their augmented copies) and 0 for the rest
    /// (until the teacher's argmax is filled in).
    pub data: Dataset,
    pub labelled: usize,
    /// Everything that decided the examples, for [`CacheKey`]s and reports.
    pub recipe: String,
}

impl TransferSet {
    /// The cache key of a teacher's logits on this set: the recipe and every value.
    pub fn key(&self, teacher_digest: &[u8; 32]) -> CacheKey {
        let mut k = CacheKey::new("shrink teacher logits v1");
        k.bytes(teacher_digest)
            .str(&self.recipe)
            .usizes(&self.data.shape)
            .usizes(&[self.data.len()])
            .f32s(&self.data.x);
        k
    }
}

/// Build the transfer set `kind` from `base` (the training examples the student may
/// see) of `src` (for a table's schema and to read a PATH like `--data`).
pub fn build(
    kind: &TransferKind,
    base: &Dataset,
    src: &DataSource,
    opts: &TransferOptions,
    quiet: bool,
) -> Result<TransferSet> {
    let n = base.len();
    let schema = src.schema.as_ref();
    let only = if opts.synthetic_only { " only" } else { "" };
    let recipe = match kind {
        TransferKind::Munge(_) => format!(
            "{kind}{only} p={} s={} seed={}",
            opts.munge_p, opts.munge_s, opts.seed
        ),
        TransferKind::Augment(_) | TransferKind::Random(_) => {
            format!("{kind}{only} seed={}", opts.seed)
        }
        TransferKind::Train | TransferKind::Path(_) => kind.to_string(),
    };
    let made = match kind {
        TransferKind::Train => None,
        TransferKind::Augment(copies) => {
            if base.shape.len() != 3 {
                bail!("--transfer {kind}: augmentation needs images, this data is a table (try munge:{copies})");
            }
            Some(augmented_copies(base, *copies, opts.seed, quiet))
        }
        TransferKind::Munge(times) => {
            let size = times * n;
            let bar = progress::bar((n + size) as u64, &format!("munge x{times}"), quiet);
            let report = |done: usize, total: usize| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            };
            let m = shrink_data::munge(
                base,
                schema,
                &MungeOptions {
                    size,
                    p: opts.munge_p,
                    s: opts.munge_s,
                    seed: opts.seed,
                },
                Some(&report),
            )
            .context("MUNGE")?;
            bar.finish_and_clear();
            Some(m)
        }
        TransferKind::Random(times) => Some(
            shrink_data::random_marginals(base, schema, times * n, opts.seed).context("RANDOM")?,
        ),
        TransferKind::Path(p) => {
            let data = read_unlabelled(p, base, src)?;
            return Ok(TransferSet {
                data,
                labelled: 0,
                recipe,
            });
        }
    };
    let (mut data, mut labelled) = match (&made, opts.synthetic_only) {
        (Some(m), true) => (
            Dataset {
                x: Vec::with_capacity(m.x.len()),
                y: Vec::with_capacity(m.len()),
                ..base.clone()
            },
            0,
        ),
        _ => (base.clone(), n),
    };
    if let Some(m) = made {
        data.x.extend_from_slice(&m.x);
        if matches!(kind, TransferKind::Augment(_)) {
            // A shifted or rotated digit is still that digit.
            for _ in 0..m.len() / n.max(1) {
                data.y.extend_from_slice(&base.y);
            }
            labelled += m.len();
        } else {
            data.y.extend(std::iter::repeat_n(0, m.len()));
        }
    }
    Ok(TransferSet {
        data,
        labelled,
        recipe,
    })
}

/// `copies` augmented copies of every example of `base`, copy `c` seeded by `(seed, c)`.
fn augmented_copies(base: &Dataset, copies: usize, seed: u64, quiet: bool) -> Dataset {
    let el = base.example_len();
    let mut x = Vec::with_capacity(copies * base.x.len());
    let bar = progress::bar((copies * base.len()) as u64, "augment", quiet);
    for c in 0..copies {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (c as u64 + 1),
        );
        for ex in base.x.chunks(el) {
            let start = x.len();
            x.extend_from_slice(ex);
            TRANSFER_AUGMENT.apply(&base.shape, &mut x[start..], &mut rng);
        }
        bar.inc(base.len() as u64);
    }
    bar.finish_and_clear();
    let n = copies * base.len();
    Dataset {
        shape: base.shape.clone(),
        x,
        y: vec![0; n],
        classes: base.classes,
        class_names: base.class_names.clone(),
    }
}

/// The examples of the data set at `path` (all of them, labels dropped), checked to
/// have `base`'s shape. A CSV is encoded with the columns of `src`'s table.
fn read_unlabelled(path: &Path, base: &Dataset, src: &DataSource) -> Result<Dataset> {
    let shown = path.display();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let x = if is_csv {
        let Some(schema) = (src.kind == SourceKind::Csv)
            .then_some(src.schema.as_ref())
            .flatten()
        else {
            bail!(
                "--transfer {shown}: a CSV transfer set needs CSV data (--data is {})",
                src.name
            );
        };
        let (x, _) = shrink_data::encode_with_schema(path, schema)
            .with_context(|| format!("--transfer {shown}"))?;
        x
    } else {
        let other = shrink_data::load(&path.to_string_lossy(), &Default::default())
            .with_context(|| format!("--transfer {shown}"))?;
        if other.train.shape != base.shape {
            bail!(
                "--transfer {shown}: its examples have shape {} but the data's have {}",
                ShapeDisplay(&other.train.shape),
                ShapeDisplay(&base.shape)
            );
        }
        let mut x = other.train.x;
        x.extend_from_slice(&other.test.x);
        x
    };
    let n = x.len() / base.example_len().max(1);
    if n == 0 {
        bail!("--transfer {shown}: no examples");
    }
    Dataset::new(
        base.shape.clone(),
        x,
        vec![0; n],
        base.classes,
        base.class_names.clone(),
    )
    .with_context(|| format!("--transfer {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print() {
        for s in ["train", "augment:3", "munge:10", "random:1"] {
            assert_eq!(TransferKind::parse(s).unwrap().to_string(), s);
        }
        for bad in ["munge", "munge:0", "random:x", "augment:-1", "no/such/set"] {
            let e = TransferKind::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--transfer {bad}")), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().to_string_lossy().to_string();
        assert_eq!(
            TransferKind::parse(&p).unwrap(),
            TransferKind::Path(dir.path().to_path_buf())
        );
    }

    fn images(n: usize) -> Dataset {
        let x = (0..n * 16).map(|i| (i % 7) as f32 / 7.0).collect();
        let y = (0..n).map(|i| (i % 2) as u32).collect();
        Dataset::new(vec![1, 4, 4], x, y, 2, vec!["a".into(), "b".into()]).unwrap()
    }

    #[test]
    fn made_sets_follow_the_training_examples() {
        let base = images(6);
        let src = DataSource {
            name: "t".into(),
            kind: SourceKind::Idx,
            train: base.clone(),
            test: base.clone(),
            schema: None,
        };
        let o = TransferOptions::default();
        for kind in ["augment:2", "munge:2", "random:2"] {
            let k = TransferKind::parse(kind).unwrap();
            let t = build(&k, &base, &src, &o, true).unwrap();
            let labelled = if kind.starts_with("augment") { 18 } else { 6 };
            assert_eq!((t.data.len(), t.labelled), (18, labelled), "{kind}");
            let tail = &t.data.y[12..];
            if labelled == 18 {
                assert_eq!(tail, &base.y[..]);
            } else {
                assert!(tail.iter().all(|&y| y == 0));
            }
            assert_eq!(&t.data.x[..base.x.len()], &base.x[..]);
            assert_eq!(&t.data.y[..6], &base.y[..]);
            // Seeded: the same set again, another seed another set.
            let again = build(&k, &base, &src, &o, true).unwrap();
            assert_eq!(again.data.x, t.data.x);
            let o2 = TransferOptions {
                seed: 2,
                ..o.clone()
            };
            let other = build(&k, &base, &src, &o2, true).unwrap();
            assert_ne!(other.data.x, t.data.x, "{kind}");
            assert_ne!(t.key(&[0; 32]).finish(), other.key(&[0; 32]).finish());
        }
        let t = build(&TransferKind::Train, &base, &src, &o, true).unwrap();
        assert_eq!((t.data.len(), t.labelled), (6, 6));
    }
}
