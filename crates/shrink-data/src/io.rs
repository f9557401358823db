//! File helpers: the gzip magic (gzip is detected by its magic bytes, not its name;
//! the IDX reader unpacks it, bounded by its header), md5 in hex, folder listings.

use std::path::Path;

use md5::{Digest, Md5};

use crate::error::DataError;

/// The first two bytes of every gzip stream.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// md5 of `bytes` as 32 lowercase hex digits.
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lists the plain files and the folders of `dir` (names sorted, hidden entries skipped).
pub(crate) fn list_dir(
    dir: &Path,
) -> Result<(Vec<std::path::PathBuf>, Vec<std::path::PathBuf>), DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symlinks, so linked files and folders count.
        let meta = std::fs::metadata(&path).map_err(|e| DataError::io(&path, e))?;
        if meta.is_dir() {
            dirs.push(path);
        } else if meta.is_file() {
            files.push(path);
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}

/// The file name of `p` as a `String` (lossy).
pub(crate) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn raw_and_gzip_read_the_same() {
        use crate::idx::read_idx_bytes;
        let dir = tempfile::tempdir().unwrap();
        let mut data = vec![0, 0, 8, 1, 0, 0, 0x27, 0x10];
        data.extend((0..10_000u32).map(|i| (i % 251) as u8));
        let raw = dir.path().join("a");
        std::fs::write(&raw, &data).unwrap();
        let gz = dir.path().join("a.gz");
        let mut enc =
            flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        enc.write_all(&data).unwrap();
        enc.finish().unwrap();
        assert_eq!(read_idx_bytes(&raw).unwrap(), data);
        assert_eq!(read_idx_bytes(&gz).unwrap(), data);

        // A truncated gzip file is an error naming it.
        let bytes = std::fs::read(&gz).unwrap();
        let cut = dir.path().join("cut.gz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_idx_bytes(&cut).unwrap_err();
        assert!(matches!(e, DataError::Gzip { .. }), "{e}");
        assert!(e.to_string().contains("cut.gz: cannot gunzip"), "{e}");

        let e = read_idx_bytes(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn md5_known_value() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
