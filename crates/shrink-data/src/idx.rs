//! IDX files (the MNIST format): parsing, the folder layout
//! (`train-images*`, `train-labels*`, `t10k-*`/`test-*`, gzip or raw), and the
//! bundled, checksummed MNIST copy.
//!
//! IDX layout: bytes 0-1 zero, byte 2 the element type (only `0x08`, u8, is
//! accepted), byte 3 the number of dimensions `d`, then `d` big-endian u32
//! sizes, then the elements. Images are `[n, h, w]` (shape `[1, h, w]`) or
//! `[n, c, h, w]` (shape `[c, h, w]`); labels are `[n]`.
//!
//! Sizes come from the header, so they are checked before anything is sized from them:
//! the product of the dimensions must not overflow and must stay within
//! [`MAX_IDX_ELEMENTS`], and a gzip file is unpacked only as far as its header declares
//! (a small file that unpacks to gigabytes stops there).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::{file_name, md5_hex, GZIP_MAGIC};
use crate::RawSplit;

/// Most elements (bytes of data) an IDX file may declare: 2^28, which become 1 GiB of
/// f32 values (MNIST's training images are 4.7·10^7, CIFAR-10's would be 1.5·10^8).
pub const MAX_IDX_ELEMENTS: usize = 1 << 28;

/// A parsed IDX file: its dimensions and the bytes (header included).
pub(crate) struct IdxArray {
    /// Dimensions from the header, the first being the example count.
    pub dims: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: usize,
    /// The whole (unpacked) file.
    pub bytes: Vec<u8>,
}

impl IdxArray {
    /// The elements.
    pub fn data(&self) -> &[u8] {
        &self.bytes[self.data_offset..]
    }
}

fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "u8",
        0x09 => "i8",
        0x0B => "i16",
        0x0C => "i32",
        0x0D => "f32",
        0x0E => "f64",
        _ => "unknown",
    }
}

/// Checks an IDX header (`bytes` may hold just the header) and returns the dimensions,
/// the header length and the element count. The count is checked for overflow and
/// against [`MAX_IDX_ELEMENTS`] here, before anything is sized from it.
fn parse_header(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, usize, usize), DataError> {
    if bytes.len() < 4 {
        return Err(DataError::format(
            path,
            bytes.len() as u64,
            format!(
                "file is {} bytes, too short for the 4-byte IDX magic",
                bytes.len()
            ),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: format!(
                "{:02x} {:02x} {:02x} {:02x}",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
            expected: "00 00 08 0N (IDX, u8 elements, N dimensions)".into(),
        });
    }
    if bytes[2] != 0x08 {
        return Err(DataError::format(
            path,
            2,
            format!(
                "IDX element type 0x{:02x} ({}) not supported; only 0x08 (u8)",
                bytes[2],
                type_name(bytes[2])
            ),
        ));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(DataError::format(path, 3, "IDX header has 0 dimensions"));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(DataError::format(
            path,
            bytes.len() as u64,
            format!(
                "truncated header: {ndim} dimensions need {header} header bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let Some(elements) = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
        return Err(DataError::format(
            path,
            4,
            format!("dimensions {dims:?} overflow"),
        ));
    };
    if elements > MAX_IDX_ELEMENTS {
        return Err(DataError::format(
            path,
            4,
            format!(
                "dimensions {dims:?} declare {elements} values, more than the {MAX_IDX_ELEMENTS} \
                 an IDX file may hold here"
            ),
        ));
    }
    Ok((dims, header, elements))
}

/// Reads an IDX file whole, gunzipping it when it is gzip — but never unpacking more
/// than its header declares (plus one byte, so that trailing data is still noticed),
/// and refusing a header that declares too much before unpacking the data.
pub(crate) fn read_idx_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.len() < 2 || raw[..2] != GZIP_MAGIC {
        return Ok(raw);
    }
    let gzip = |e: std::io::Error| DataError::Gzip {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    let mut dec = flate2::read::MultiGzDecoder::new(&raw[..]);
    let mut out = Vec::new();
    (&mut dec).take(4).read_to_end(&mut out).map_err(gzip)?;
    if out.len() == 4 {
        let ndim = out[3] as u64;
        (&mut dec)
            .take(4 * ndim)
            .read_to_end(&mut out)
            .map_err(gzip)?;
    }
    let (_, header, elements) = parse_header(path, &out)?;
    let rest = (header + elements - out.len()) as u64 + 1;
    out.reserve(elements.min(1 << 26));
    dec.take(rest).read_to_end(&mut out).map_err(gzip)?;
    Ok(out)
}

/// Parses the unpacked bytes of an IDX file, checking the header against the
/// actual length before anything is sized from it.
pub(crate) fn parse_idx(path: &Path, bytes: Vec<u8>) -> Result<IdxArray, DataError> {
    let (dims, header, elements) = parse_header(path, &bytes)?;
    let have = bytes.len() - header;
    if have < elements {
        return Err(DataError::format(
            path,
            bytes.len() as u64,
            format!(
                "truncated: dimensions {dims:?} need {elements} data bytes from byte {header} \
                 (file should be {} bytes), but the file ends at byte {}",
                header as u128 + elements as u128,
                bytes.len()
            ),
        ));
    }
    if have > elements {
        return Err(DataError::format(
            path,
            (header + elements) as u64,
            format!(
                "{} trailing bytes after the data of dimensions {dims:?}",
                have - elements
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data_offset: header,
        bytes,
    })
}

/// Turns an images IDX array into `(shape, x)`, pixels scaled to `[0, 1]`.
fn images_from(path: &Path, a: &IdxArray) -> Result<(Vec<usize>, Vec<f32>), DataError> {
    let shape = match a.dims.len() {
        3 => vec![1, a.dims[1], a.dims[2]],
        4 => a.dims[1..].to_vec(),
        d => {
            return Err(DataError::format(
                path,
                3,
                format!(
                    "images file has {d} dimensions, expected 3 ([n, h, w]) or 4 ([n, c, h, w])"
                ),
            ))
        }
    };
    if let Some(i) = a.dims.iter().skip(1).position(|&d| d == 0) {
        return Err(DataError::format(
            path,
            (4 + 4 * (i + 1)) as u64,
            format!("image dimension {} is 0 (dimensions {:?})", i + 1, a.dims),
        ));
    }
    let x: Vec<f32> = a.data().iter().map(|&b| b as f32 / 255.0).collect();
    Ok((shape, x))
}

/// Turns a labels IDX array into labels.
fn labels_from(path: &Path, a: &IdxArray) -> Result<Vec<u32>, DataError> {
    if a.dims.len() != 1 {
        return Err(DataError::format(
            path,
            3,
            format!(
                "labels file has {} dimensions, expected 1 ([n])",
                a.dims.len()
            ),
        ));
    }
    Ok(a.data().iter().map(|&b| b as u32).collect())
}

/// Loads an images file and a labels file into one split, checking they agree.
/// `expected_md5` (images, labels) verifies the unpacked bytes when given.
pub(crate) fn load_pair(
    images: &Path,
    labels: &Path,
    expected_md5: Option<(&str, &str)>,
) -> Result<RawSplit, DataError> {
    let check = |path: &Path, bytes: &[u8], want: Option<&str>| -> Result<(), DataError> {
        if let Some(want) = want {
            let got = md5_hex(bytes);
            if got != want {
                return Err(DataError::Checksum {
                    path: path.to_path_buf(),
                    expected: want.to_string(),
                    actual: got,
                });
            }
        }
        Ok(())
    };
    let ib = read_idx_bytes(images)?;
    check(images, &ib, expected_md5.map(|m| m.0))?;
    let ia = parse_idx(images, ib)?;
    let (shape, x) = images_from(images, &ia)?;
    drop(ia);
    let lb = read_idx_bytes(labels)?;
    check(labels, &lb, expected_md5.map(|m| m.1))?;
    let la = parse_idx(labels, lb)?;
    let y = labels_from(labels, &la)?;
    let el: usize = shape.iter().product();
    let n_images = x.len() / el;
    if y.len() != n_images {
        return Err(DataError::Mismatch {
            path: labels.to_path_buf(),
            what: "example count".into(),
            found: y.len().to_string(),
            other: images.to_path_buf(),
            expected: n_images.to_string(),
        });
    }
    Ok(RawSplit {
        shape,
        x,
        y,
        source: images.to_path_buf(),
    })
}

/// Examples read from one IDX file by [`read_idx_examples`].
#[derive(Debug, Clone, PartialEq)]
pub struct IdxExamples {
    /// Shape of one example: `[f]` for `[n, f]`, `[1, h, w]` for `[n, h, w]`, `[c, h, w]`
    /// for `[n, c, h, w]`.
    pub shape: Vec<usize>,
    /// Examples read (at most the limit asked for).
    pub n: usize,
    /// `[n, …shape]` row-major, bytes / 255.
    pub x: Vec<f32>,
}

/// The labels of a labels IDX file (`[n]` unsigned bytes, raw or gzip), read by the same
/// checked reader as [`read_idx_examples`].
pub fn read_idx_labels(path: &Path) -> Result<Vec<u32>, DataError> {
    let a = parse_idx(path, read_idx_bytes(path)?)?;
    labels_from(path, &a)
}

/// Every example (or the first `limit`) of one IDX file of unsigned bytes with 2 to 4
/// dimensions, raw or gzip: the same checked reader `shrink data check` uses, so a
/// header whose sizes overflow, declare too much or disagree with the data is an
/// error naming the file and the byte offset.
pub fn read_idx_examples(path: &Path, limit: Option<usize>) -> Result<IdxExamples, DataError> {
    let a = parse_idx(path, read_idx_bytes(path)?)?;
    let shape = match a.dims.len() {
        2 => vec![a.dims[1]],
        3 => vec![1, a.dims[1], a.dims[2]],
        4 => a.dims[1..].to_vec(),
        d => {
            return Err(DataError::format(
                path,
                3,
                format!(
                    "IDX file with {d} dimensions; examples need 2 ([n, f]), 3 ([n, h, w]) \
                     or 4 ([n, c, h, w])"
                ),
            ))
        }
    };
    if let Some(i) = a.dims.iter().skip(1).position(|&d| d == 0) {
        return Err(DataError::format(
            path,
            (4 + 4 * (i + 1)) as u64,
            format!("dimension {} is 0 (dimensions {:?})", i + 1, a.dims),
        ));
    }
    let per: usize = shape.iter().product();
    let n = limit.map_or(a.dims[0], |l| l.min(a.dims[0]));
    let x = a.data()[..n * per]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    Ok(IdxExamples { shape, n, x })
}

/// The IDX files of a folder.
#[derive(Debug)]
pub(crate) struct IdxFiles {
    pub train: (PathBuf, PathBuf),
    pub test: Option<(PathBuf, PathBuf)>,
}

const TRAIN_IMAGES: &[&str] = &["train-images"];
const TRAIN_LABELS: &[&str] = &["train-labels"];
const TEST_IMAGES: &[&str] = &["t10k-images", "test-images"];
const TEST_LABELS: &[&str] = &["t10k-labels", "test-labels"];

/// True if a file name (lower-cased) looks like one of the four IDX roles.
pub(crate) fn is_idx_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
        .iter()
        .flat_map(|p| p.iter())
        .any(|p| n.starts_with(p))
}

/// Picks the file for one role among `files`: a unique match, or of `X` and
/// `X.gz` the raw one; several other matches are an error listing them.
fn pick(dir: &Path, files: &[PathBuf], prefixes: &[&str]) -> Result<Option<PathBuf>, DataError> {
    let found: Vec<&PathBuf> = files
        .iter()
        .filter(|p| {
            let n = file_name(p).to_ascii_lowercase();
            prefixes.iter().any(|pre| n.starts_with(pre))
        })
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        [a, b] if file_name(b) == format!("{}.gz", file_name(a)) => Ok(Some((*a).clone())),
        [a, b] if file_name(a) == format!("{}.gz", file_name(b)) => Ok(Some((*b).clone())),
        many => Err(DataError::layout(
            dir,
            format!(
                "several files match {}: {}",
                prefixes
                    .iter()
                    .map(|p| format!("{p}*"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                many.iter()
                    .map(|p| file_name(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Finds the IDX files among the `files` of `dir` (call only when some name
/// matched [`is_idx_name`]).
pub(crate) fn find_files(dir: &Path, files: &[PathBuf]) -> Result<IdxFiles, DataError> {
    let ti = pick(dir, files, TRAIN_IMAGES)?;
    let tl = pick(dir, files, TRAIN_LABELS)?;
    let si = pick(dir, files, TEST_IMAGES)?;
    let sl = pick(dir, files, TEST_LABELS)?;
    let train = match (ti, tl) {
        (Some(i), Some(l)) => (i, l),
        (Some(i), None) => {
            return Err(DataError::layout(
                dir,
                format!("found {} but no train-labels* file", file_name(&i)),
            ))
        }
        (None, Some(l)) => {
            return Err(DataError::layout(
                dir,
                format!("found {} but no train-images* file", file_name(&l)),
            ))
        }
        (None, None) => {
            return Err(DataError::layout(
                dir,
                "IDX test files but no train-images* / train-labels* files",
            ))
        }
    };
    let test = match (si, sl) {
        (Some(i), Some(l)) => Some((i, l)),
        (None, None) => None,
        (Some(i), None) => {
            return Err(DataError::layout(
                dir,
                format!(
                    "found {} but no t10k-labels* / test-labels* file",
                    file_name(&i)
                ),
            ))
        }
        (None, Some(l)) => {
            return Err(DataError::layout(
                dir,
                format!(
                    "found {} but no t10k-images* / test-images* file",
                    file_name(&l)
                ),
            ))
        }
    };
    Ok(IdxFiles { train, test })
}

/// The bundled MNIST files and the md5 of their unpacked content (the
/// canonical published checksums, see `data/mnist/README.md`).
pub const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    (
        "train-labels-idx1-ubyte",
        "a25bea736e30d166cdddb491f175f624",
    ),
    ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
];

/// Finds the bundled file `name` (`name.gz` preferred, else raw) in `dir`.
fn bundled_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Some(gz);
    }
    let raw = dir.join(name);
    raw.is_file().then_some(raw)
}

/// Loads the bundled MNIST from `dir`, verifying each unpacked file's md5.
pub(crate) fn load_bundled_mnist(dir: &Path) -> Result<(RawSplit, RawSplit), DataError> {
    let mut paths = Vec::with_capacity(4);
    for (name, _) in MNIST_FILES {
        match bundled_file(dir, name) {
            Some(p) => paths.push(p),
            None => {
                return Err(DataError::BundledMissing {
                    msg: format!(
                        "{} missing (neither {name}.gz nor {name}); the bundled copy has the \
                         four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
                         t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
                        dir.join(format!("{name}.gz")).display()
                    ),
                })
            }
        }
    }
    let train = load_pair(
        &paths[0],
        &paths[1],
        Some((MNIST_FILES[0].1, MNIST_FILES[1].1)),
    )?;
    let test = load_pair(
        &paths[2],
        &paths[3],
        Some((MNIST_FILES[2].1, MNIST_FILES[3].1)),
    )?;
    Ok((train, test))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The shared test helpers (crates/shrink-testkit).
    pub(crate) use shrink_testkit::{idx_bytes, write_bytes as write};

    #[test]
    fn parse_round_trip_idx3_and_idx4() {
        let dir = tempfile::tempdir().unwrap();
        let pix: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8 * 10).collect();
        for gz in [false, true] {
            let ip = dir.path().join(format!("i{gz}"));
            let lp = dir.path().join(format!("l{gz}"));
            write(&ip, &idx_bytes(&[2, 3, 4], &pix), gz);
            write(&lp, &idx_bytes(&[2], &[7, 1]), gz);
            let s = load_pair(&ip, &lp, None).unwrap();
            assert_eq!(s.shape, vec![1, 3, 4]);
            assert_eq!(s.y, vec![7, 1]);
            assert_eq!(s.x.len(), 24);
            assert_eq!(s.x[1], 10.0 / 255.0);
            assert_eq!(s.x[23], 230.0 / 255.0);
        }
        let ip = dir.path().join("i4");
        let lp = dir.path().join("l4");
        write(&ip, &idx_bytes(&[2, 3, 2, 2], &pix), false);
        write(&lp, &idx_bytes(&[2], &[0, 1]), false);
        let s = load_pair(&ip, &lp, None).unwrap();
        assert_eq!(s.shape, vec![3, 2, 2]);
    }

    fn parse_err(bytes: Vec<u8>) -> String {
        match parse_idx(Path::new("f.idx"), bytes) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn parse_errors_name_file_and_offset() {
        let e = parse_err(vec![0, 0]);
        assert!(e.starts_with("f.idx: at byte 2: file is 2 bytes"), "{e}");
        let e = parse_err(vec![0x1f, 0x8c, 8, 3, 0]);
        assert!(
            e.contains("f.idx: bad magic at byte 0: found 1f 8c 08 03"),
            "{e}"
        );
        let e = parse_err(vec![0, 0, 0x0d, 1, 0, 0, 0, 0]);
        assert!(e.contains("at byte 2: IDX element type 0x0d (f32)"), "{e}");
        let e = parse_err(vec![0, 0, 8, 0]);
        assert!(e.contains("at byte 3: IDX header has 0 dimensions"), "{e}");
        let e = parse_err(vec![0, 0, 8, 3, 0, 0, 0, 1]);
        assert!(
            e.contains("at byte 8: truncated header: 3 dimensions need 16"),
            "{e}"
        );
        // Header claims 60000 x 28 x 28 but 10 data bytes: no huge allocation, an error.
        let e = parse_err(idx_bytes(&[60000, 28, 28], &[0; 10]));
        assert!(
            e.contains("at byte 26: truncated: dimensions [60000, 28, 28] need 47040000"),
            "{e}"
        );
        let e = parse_err(idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[]));
        assert!(e.contains("overflow") || e.contains("truncated"), "{e}");
        let e = parse_err(idx_bytes(&[2], &[1, 2, 3]));
        assert!(e.contains("at byte 10: 1 trailing bytes"), "{e}");
    }

    #[test]
    fn gzip_is_unpacked_only_as_far_as_the_header_declares() {
        let dir = tempfile::tempdir().unwrap();
        // 2^31 one-byte images: refused from the header, before the data is unpacked.
        let p = dir.path().join("huge.gz");
        write(&p, &idx_bytes(&[1 << 31, 1, 1], &[0; 1 << 16]), true);
        let e = read_idx_bytes(&p).unwrap_err().to_string();
        assert!(e.contains("declare 2147483648 values"), "{e}");
        // 10 declared bytes followed by 8 MB of zeros: 10 + 1 bytes are unpacked, and
        // the extra byte is reported as trailing data.
        let p = dir.path().join("long.gz");
        write(&p, &idx_bytes(&[10], &vec![0; 8 << 20]), true);
        let bytes = read_idx_bytes(&p).unwrap();
        assert_eq!(bytes.len(), 8 + 10 + 1);
        let Err(e) = parse_idx(&p, bytes) else {
            panic!("trailing data accepted")
        };
        assert!(e.to_string().contains("1 trailing bytes"), "{e}");
    }

    #[test]
    fn examples_of_any_image_idx_file_and_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        let pix: Vec<u8> = (0..3 * 2 * 2).map(|i| i as u8).collect();
        write(&p, &idx_bytes(&[3, 2, 2], &pix), true);
        let ex = read_idx_examples(&p, None).unwrap();
        assert_eq!((ex.shape.clone(), ex.n, ex.x.len()), (vec![1, 2, 2], 3, 12));
        assert_eq!(ex.x[11], 11.0 / 255.0);
        assert_eq!(
            read_idx_examples(&p, Some(2)).unwrap().x,
            ex.x[..8].to_vec()
        );
        write(&p, &idx_bytes(&[2, 6], &pix), false);
        assert_eq!(read_idx_examples(&p, None).unwrap().shape, vec![6]);
        // Dimensions whose product wraps to 64 in 64-bit arithmetic.
        write(&p, &idx_bytes(&[1, 1 << 31, 1 << 31, 16], &[0; 64]), false);
        let e = read_idx_examples(&p, None).unwrap_err().to_string();
        assert!(e.contains("overflow"), "{e}");
        write(&p, &idx_bytes(&[2, 3, 0], &[]), false);
        let e = read_idx_examples(&p, None).unwrap_err().to_string();
        assert!(e.contains("dimension 2 is 0"), "{e}");
    }

    #[test]
    fn pair_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ip = dir.path().join("imgs");
        let lp = dir.path().join("labs");
        write(&ip, &idx_bytes(&[3, 2, 2], &[0; 12]), true);
        write(&lp, &idx_bytes(&[2], &[0, 1]), false);
        let e = load_pair(&ip, &lp, None).unwrap_err().to_string();
        assert!(
            e.contains("labs: example count 2 does not match 3 in"),
            "{e}"
        );
        assert!(e.contains("imgs"), "{e}");
        // Labels file given as images and vice versa.
        let e = load_pair(&lp, &ip, None).unwrap_err().to_string();
        assert!(
            e.contains("labs: at byte 3: images file has 1 dimensions"),
            "{e}"
        );
        write(&lp, &idx_bytes(&[3], &[0, 1, 2]), false);
        let e = load_pair(&ip, &ip, None).unwrap_err().to_string();
        assert!(e.contains("labels file has 3 dimensions"), "{e}");
        // Zero-sized image dimension.
        write(&ip, &idx_bytes(&[3, 0, 2], &[]), false);
        let e = load_pair(&ip, &lp, None).unwrap_err().to_string();
        assert!(e.contains("at byte 8: image dimension 1 is 0"), "{e}");
        // Checksum mismatch names the file and both hashes.
        write(&ip, &idx_bytes(&[3, 1, 1], &[1, 2, 3]), false);
        let e = load_pair(&ip, &lp, Some(("00112233445566778899aabbccddeeff", "x")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("imgs: md5 mismatch: expected 00112233445566778899aabbccddeeff, got "),
            "{e}"
        );
    }

    #[test]
    fn finding_files() {
        let p = |s: &str| PathBuf::from(format!("/d/{s}"));
        let d = Path::new("/d");
        let f = find_files(
            d,
            &[
                p("t10k-images-idx3-ubyte.gz"),
                p("t10k-labels-idx1-ubyte.gz"),
                p("train-images-idx3-ubyte"),
                p("train-images-idx3-ubyte.gz"),
                p("train-labels-idx1-ubyte.gz"),
            ],
        )
        .unwrap();
        assert_eq!(f.train.0, p("train-images-idx3-ubyte"));
        assert_eq!(f.test.unwrap().1, p("t10k-labels-idx1-ubyte.gz"));
        let f = find_files(d, &[p("train-images.idx"), p("train-labels.idx")]).unwrap();
        assert!(f.test.is_none());
        let e = find_files(
            d,
            &[p("train-images.a"), p("train-images.b"), p("train-labels")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("several files match train-images*: train-images.a, train-images.b"),
            "{e}"
        );
        let e = find_files(d, &[p("train-images"), p("train-labels"), p("test-images")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("found test-images but no t10k-labels*"), "{e}");
        let e = find_files(d, &[p("train-images")]).unwrap_err().to_string();
        assert!(e.contains("no train-labels* file"), "{e}");
        assert!(is_idx_name("T10K-Images-idx3-ubyte"));
        assert!(!is_idx_name("readme.md"));
    }
}
