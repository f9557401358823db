//! CIFAR-10 and CIFAR-100 binary batches.
//!
//! CIFAR-10: `data_batch_*.bin` (train, concatenated in numeric order) and
//! `test_batch.bin`; records of 1 label byte + 3072 pixel bytes; class names
//! from `batches.meta.txt`. CIFAR-100: `train.bin` and `test.bin`; records of a
//! coarse label byte, a fine label byte and 3072 pixel bytes; the fine labels
//! (100 classes) are used; names from `fine_label_names.txt`. Pixels are
//! stored as 1024 red, 1024 green, 1024 blue bytes, each plane 32x32 row-major,
//! which is exactly shape `[3, 32, 32]`.

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::file_name;
use crate::RawSplit;

/// Pixel bytes per CIFAR image.
const PIXELS: usize = 3 * 32 * 32;

/// Which CIFAR variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// 10 classes, 1 label byte.
    Ten,
    /// 100 fine classes, coarse + fine label bytes.
    Hundred,
}

impl Variant {
    fn label_bytes(self) -> usize {
        match self {
            Variant::Ten => 1,
            Variant::Hundred => 2,
        }
    }
    pub(crate) fn classes(self) -> usize {
        match self {
            Variant::Ten => 10,
            Variant::Hundred => 100,
        }
    }
    fn names_file(self) -> &'static str {
        match self {
            Variant::Ten => "batches.meta.txt",
            Variant::Hundred => "fine_label_names.txt",
        }
    }
}

/// The CIFAR files of a folder.
#[derive(Debug)]
pub(crate) struct CifarFiles {
    pub variant: Variant,
    pub train: Vec<PathBuf>,
    pub test: Option<PathBuf>,
}

/// The number in `data_batch_N.bin`, if any.
fn batch_number(name: &str) -> Option<u64> {
    name.strip_prefix("data_batch_")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

/// Recognises CIFAR files among the `files` of `dir`; `Ok(None)` when there are none.
pub(crate) fn find_files(dir: &Path, files: &[PathBuf]) -> Result<Option<CifarFiles>, DataError> {
    let mut batches: Vec<(u64, String, PathBuf)> = Vec::new();
    let (mut test10, mut train100, mut test100) = (None, None, None);
    for f in files {
        let n = file_name(f);
        if n.starts_with("data_batch_") && n.ends_with(".bin") {
            batches.push((batch_number(&n).unwrap_or(u64::MAX), n, f.clone()));
        } else if n == "test_batch.bin" {
            test10 = Some(f.clone());
        } else if n == "train.bin" {
            train100 = Some(f.clone());
        } else if n == "test.bin" {
            test100 = Some(f.clone());
        }
    }
    let ten = !batches.is_empty() || test10.is_some();
    let hundred = train100.is_some() || test100.is_some();
    if ten && hundred {
        return Err(DataError::layout(
            dir,
            "both CIFAR-10 (data_batch_*.bin / test_batch.bin) and CIFAR-100 \
             (train.bin / test.bin) files; keep one set per folder",
        ));
    }
    if ten {
        if batches.is_empty() {
            return Err(DataError::layout(
                dir,
                "found test_batch.bin but no data_batch_*.bin (CIFAR-10 train batches)",
            ));
        }
        batches.sort();
        return Ok(Some(CifarFiles {
            variant: Variant::Ten,
            train: batches.into_iter().map(|b| b.2).collect(),
            test: test10,
        }));
    }
    if hundred {
        let Some(train) = train100 else {
            return Err(DataError::layout(
                dir,
                "found test.bin but no train.bin (CIFAR-100 train split)",
            ));
        };
        return Ok(Some(CifarFiles {
            variant: Variant::Hundred,
            train: vec![train],
            test: test100,
        }));
    }
    Ok(None)
}

/// Parses one batch file and appends its examples to `out`.
pub(crate) fn parse_batch(
    path: &Path,
    bytes: &[u8],
    variant: Variant,
    out: &mut RawSplit,
) -> Result<(), DataError> {
    let lb = variant.label_bytes();
    let rec = lb + PIXELS;
    if bytes.is_empty() {
        return Err(DataError::format(path, 0, "empty file, no CIFAR records"));
    }
    let rem = bytes.len() % rec;
    if rem != 0 {
        let full = bytes.len() / rec;
        return Err(DataError::format(
            path,
            (full * rec) as u64,
            format!(
                "incomplete record: the file has {} bytes, not a multiple of the {rec}-byte \
                 {} record ({full} whole records, then {} bytes)",
                bytes.len(),
                match variant {
                    Variant::Ten => "CIFAR-10",
                    Variant::Hundred => "CIFAR-100",
                },
                rem
            ),
        ));
    }
    let n = bytes.len() / rec;
    out.x.reserve(n * PIXELS);
    out.y.reserve(n);
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        let off = (i * rec) as u64;
        let label = match variant {
            Variant::Ten => r[0],
            Variant::Hundred => {
                if r[0] >= 20 {
                    return Err(DataError::LabelOutOfRange {
                        path: path.to_path_buf(),
                        offset: off,
                        label: r[0] as u32,
                        classes: 20,
                    });
                }
                r[1]
            }
        } as u32;
        if label as usize >= variant.classes() {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                offset: off + lb as u64 - 1,
                label,
                classes: variant.classes(),
            });
        }
        out.y.push(label);
        out.x.extend(r[lb..].iter().map(|&b| b as f32 / 255.0));
    }
    Ok(())
}

/// Loads the batches `paths` into one split.
pub(crate) fn load_split(paths: &[PathBuf], variant: Variant) -> Result<RawSplit, DataError> {
    let mut out = RawSplit {
        shape: vec![3, 32, 32],
        x: Vec::new(),
        y: Vec::new(),
        source: paths.first().cloned().unwrap_or_default(),
    };
    for p in paths {
        let bytes = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
        parse_batch(p, &bytes, variant, &mut out)?;
    }
    Ok(out)
}

/// Class names from the names file in `dir` if present (one per non-empty
/// line, which must give exactly the number of classes), else `"0".."k-1"`.
pub(crate) fn class_names(dir: &Path, variant: Variant) -> Result<Vec<String>, DataError> {
    let p = dir.join(variant.names_file());
    if !p.is_file() {
        return Ok(crate::dataset::numbered_class_names(variant.classes()));
    }
    let text = std::fs::read_to_string(&p).map_err(|e| DataError::io(&p, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != variant.classes() {
        return Err(DataError::layout(
            &p,
            format!(
                "{} class names, expected {} (one per non-empty line)",
                names.len(),
                variant.classes()
            ),
        ));
    }
    Ok(names)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One CIFAR record: labels then 3072 pixels all equal to `pix`.
    pub(crate) fn record(labels: &[u8], pix: u8) -> Vec<u8> {
        let mut r = labels.to_vec();
        r.extend(std::iter::repeat_n(pix, PIXELS));
        r
    }

    fn empty() -> RawSplit {
        RawSplit {
            shape: vec![3, 32, 32],
            x: vec![],
            y: vec![],
            source: PathBuf::new(),
        }
    }

    #[test]
    fn parse_ten_and_hundred() {
        let mut b = record(&[3], 255);
        b.extend(record(&[9], 0));
        let mut s = empty();
        parse_batch(Path::new("b.bin"), &b, Variant::Ten, &mut s).unwrap();
        assert_eq!(s.y, vec![3, 9]);
        assert_eq!(s.x.len(), 2 * PIXELS);
        assert_eq!((s.x[0], s.x[PIXELS]), (1.0, 0.0));

        let b = record(&[19, 99], 51);
        let mut s = empty();
        parse_batch(Path::new("t.bin"), &b, Variant::Hundred, &mut s).unwrap();
        assert_eq!(s.y, vec![99]);
        assert_eq!(s.x[5], 0.2);
    }

    #[test]
    fn parse_errors() {
        let mut b = record(&[1], 0);
        b.extend(record(&[10], 0));
        let e = parse_batch(Path::new("b.bin"), &b, Variant::Ten, &mut empty())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "b.bin: at byte 3073: label 10 out of range (classes: 10)"
        );
        let b = record(&[20, 5], 0);
        let e = parse_batch(Path::new("c.bin"), &b, Variant::Hundred, &mut empty())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "c.bin: at byte 0: label 20 out of range (classes: 20)");
        let mut b = record(&[1, 100], 0);
        b.splice(0..0, record(&[0, 0], 0));
        let e = parse_batch(Path::new("c.bin"), &b, Variant::Hundred, &mut empty())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "c.bin: at byte 3075: label 100 out of range (classes: 100)"
        );
        let mut b = record(&[1], 0);
        b.extend_from_slice(&[1, 2, 3]);
        let e = parse_batch(Path::new("b.bin"), &b, Variant::Ten, &mut empty())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("b.bin: at byte 3073: incomplete record"),
            "{e}"
        );
        assert!(e.contains("(1 whole records, then 3 bytes)"), "{e}");
        let e = parse_batch(Path::new("b.bin"), &[], Variant::Ten, &mut empty())
            .unwrap_err()
            .to_string();
        assert!(e.contains("at byte 0: empty file"), "{e}");
    }

    #[test]
    fn finding_files() {
        let p = |s: &str| PathBuf::from(format!("/c/{s}"));
        let d = Path::new("/c");
        let f = find_files(
            d,
            &[
                p("batches.meta.txt"),
                p("data_batch_10.bin"),
                p("data_batch_2.bin"),
                p("data_batch_1.bin"),
                p("test_batch.bin"),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.variant, Variant::Ten);
        assert_eq!(
            f.train,
            vec![
                p("data_batch_1.bin"),
                p("data_batch_2.bin"),
                p("data_batch_10.bin")
            ]
        );
        let f = find_files(d, &[p("train.bin"), p("test.bin")])
            .unwrap()
            .unwrap();
        assert_eq!(f.variant, Variant::Hundred);
        assert!(find_files(d, &[p("x.png")]).unwrap().is_none());
        let e = find_files(d, &[p("train.bin"), p("test_batch.bin")]).unwrap_err();
        assert!(e.to_string().contains("both CIFAR-10"), "{e}");
        let e = find_files(d, &[p("test.bin")]).unwrap_err();
        assert!(e.to_string().contains("no train.bin"), "{e}");
    }

    #[test]
    fn names_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(class_names(dir.path(), Variant::Ten).unwrap()[9], "9");
        let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
        std::fs::write(dir.path().join("batches.meta.txt"), names).unwrap();
        let n = class_names(dir.path(), Variant::Ten).unwrap();
        assert_eq!((n[0].as_str(), n[9].as_str()), ("airplane", "truck"));
        std::fs::write(dir.path().join("fine_label_names.txt"), "a\nb\n").unwrap();
        let e = class_names(dir.path(), Variant::Hundred)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fine_label_names.txt: 2 class names, expected 100"),
            "{e}"
        );
    }
}
