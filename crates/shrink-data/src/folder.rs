//! Image folders: one sub-folder per class (sorted names = class names) of
//! PNG/JPEG files, or `train/` and `test/` sub-folders each laid out that way.
//!
//! Files are recognised by extension (`.png`, `.jpg`, `.jpeg`, any case) and
//! decoded by content. Images become grey (1 channel) if every image is grey
//! (a grey colour type, or RGB with R = G = B everywhere), else RGB (3
//! channels, alpha dropped). All images must have the same size; the error
//! names the first file that differs, the first image read and both sizes.
//! Other files and deeper sub-folders are ignored.

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::io::{file_name, list_dir};
use crate::RawSplit;

/// True for `.png`, `.jpg`, `.jpeg` (any case).
pub(crate) fn is_image_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".png") || n.ends_with(".jpg") || n.ends_with(".jpeg")
}

/// The classes of one split folder: (class name, its image files).
type ClassFiles = Vec<(String, Vec<PathBuf>)>;

fn scan(root: &Path) -> Result<ClassFiles, DataError> {
    let (_, dirs) = list_dir(root)?;
    if dirs.is_empty() {
        return Err(DataError::layout(
            root,
            "no class sub-folders (expected one sub-folder of PNG/JPEG images per class)",
        ));
    }
    let mut out = Vec::with_capacity(dirs.len());
    for d in dirs {
        let (files, _) = list_dir(&d)?;
        let imgs: Vec<PathBuf> = files
            .into_iter()
            .filter(|f| is_image_name(&file_name(f)))
            .collect();
        if imgs.is_empty() {
            return Err(DataError::layout(
                &d,
                "class folder has no .png/.jpg/.jpeg images",
            ));
        }
        out.push((file_name(&d), imgs));
    }
    Ok(out)
}

/// One decoded image: 8-bit pixels, grey (`h*w` bytes) or RGB interleaved (`h*w*3`).
struct Decoded {
    pixels: Vec<u8>,
    grey: bool,
}

fn decode(path: &Path) -> Result<((u32, u32), Decoded), DataError> {
    let img = crate::inputs::decode_image(path)?;
    let size = (img.width(), img.height());
    if !img.color().has_color() {
        return Ok((
            size,
            Decoded {
                pixels: img.into_luma8().into_raw(),
                grey: true,
            },
        ));
    }
    let rgb = img.into_rgb8().into_raw();
    let grey = rgb.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]);
    let pixels = if grey {
        rgb.chunks_exact(3).map(|p| p[0]).collect()
    } else {
        rgb
    };
    Ok((size, Decoded { pixels, grey }))
}

/// Loads an image-folder source: `(train, test if a train/test layout, class names)`.
pub(crate) fn load_folder(
    root: &Path,
) -> Result<(RawSplit, Option<RawSplit>, Vec<String>), DataError> {
    let (_, dirs) = list_dir(root)?;
    let has = |n: &str| dirs.iter().any(|d| file_name(d) == n);
    let (train_root, test_root) = if has("train") && has("test") {
        (root.join("train"), Some(root.join("test")))
    } else {
        (root.to_path_buf(), None)
    };
    let train_c = scan(&train_root)?;
    let test_c = test_root.as_deref().map(scan).transpose()?;
    let mut names: Vec<String> = train_c.iter().map(|c| c.0.clone()).collect();
    if let Some(t) = &test_c {
        names.extend(t.iter().map(|c| c.0.clone()));
    }
    names.sort();
    names.dedup();

    // Decode everything, checking sizes against the first image.
    let mut first: Option<(PathBuf, (u32, u32))> = None;
    let mut all_grey = true;
    let mut read = |classes: &ClassFiles| -> Result<Vec<(Decoded, u32)>, DataError> {
        let mut v = Vec::new();
        for (cname, files) in classes {
            let label = names.binary_search(cname).unwrap_or(0) as u32;
            for f in files {
                let (size, d) = decode(f)?;
                match &first {
                    None => first = Some((f.clone(), size)),
                    Some((fp, fs)) if *fs != size => {
                        return Err(DataError::ImageSize {
                            path: f.clone(),
                            size,
                            first: fp.clone(),
                            first_size: *fs,
                        })
                    }
                    Some(_) => {}
                }
                all_grey &= d.grey;
                v.push((d, label));
            }
        }
        Ok(v)
    };
    let train_d = read(&train_c)?;
    let test_d = test_c.as_ref().map(&mut read).transpose()?;
    let (w, h) = first.map(|f| f.1).unwrap_or((0, 0));
    let (w, h) = (w as usize, h as usize);
    let channels = if all_grey { 1 } else { 3 };
    let build = |items: Vec<(Decoded, u32)>, source: PathBuf| -> RawSplit {
        let plane = w * h;
        let mut x = Vec::with_capacity(items.len() * plane * channels);
        let mut y = Vec::with_capacity(items.len());
        for (d, label) in items {
            match (channels, d.grey) {
                (1, _) => x.extend(d.pixels.iter().map(|&b| b as f32 / 255.0)),
                (_, true) => {
                    for _ in 0..3 {
                        x.extend(d.pixels.iter().map(|&b| b as f32 / 255.0));
                    }
                }
                (_, false) => {
                    for c in 0..3 {
                        x.extend(d.pixels[c..].iter().step_by(3).map(|&b| b as f32 / 255.0));
                    }
                }
            }
            y.push(label);
        }
        RawSplit {
            shape: vec![channels, h, w],
            x,
            y,
            source,
        }
    };
    let train = build(train_d, train_root);
    let test = test_d.map(|t| build(t, test_root.unwrap_or_default()));
    Ok((train, test, names))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Saves a grey image (format from the extension) with pixel (x, y) = f(x, y).
    pub(crate) fn grey(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]))
            .save(path)
            .unwrap();
    }

    /// Saves an RGB image with pixel (x, y) = f(x, y).
    pub(crate) fn rgb(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
            .save(path)
            .unwrap();
    }

    #[test]
    fn grey_pngs_and_jpegs() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        grey(&r.join("cat/a.png"), 3, 2, |x, y| (x + 3 * y) as u8 * 40);
        grey(&r.join("cat/b.PNG"), 3, 2, |_, _| 0);
        grey(&r.join("dog/c.jpg"), 3, 2, |_, _| 200);
        // RGB file with grey content counts as grey.
        rgb(&r.join("dog/d.png"), 3, 2, |_, _| [7, 7, 7]);
        std::fs::write(r.join("dog/notes.txt"), "ignored").unwrap();
        let (tr, te, names) = load_folder(r).unwrap();
        assert!(te.is_none());
        assert_eq!(names, vec!["cat", "dog"]);
        assert_eq!(tr.shape, vec![1, 2, 3]);
        assert_eq!(tr.y, vec![0, 0, 1, 1]);
        assert_eq!(
            tr.x[..6],
            [0.0, 40.0, 80.0, 120.0, 160.0, 200.0].map(|v| v / 255.0)
        );
        // JPEG is lossy: close to 200.
        assert!(
            (tr.x[12] * 255.0 - 200.0).abs() < 3.0,
            "{}",
            tr.x[12] * 255.0
        );
        assert_eq!(tr.x[18], 7.0 / 255.0);
    }

    #[test]
    fn rgb_when_any_is_colour_and_train_test_layout() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        rgb(&r.join("train/b/x.png"), 2, 2, |x, y| {
            [x as u8 * 100, y as u8 * 100, 50]
        });
        grey(&r.join("train/a/y.png"), 2, 2, |_, _| 9);
        grey(&r.join("test/a/z.png"), 2, 2, |_, _| 1);
        grey(&r.join("test/c/w.png"), 2, 2, |_, _| 2);
        let (tr, te, names) = load_folder(r).unwrap();
        let te = te.unwrap();
        assert_eq!(names, vec!["a", "b", "c"]);
        assert_eq!(tr.shape, vec![3, 2, 2]);
        assert_eq!(tr.y, vec![0, 1]);
        assert_eq!(te.y, vec![0, 2]);
        // Grey example replicated over 3 planes.
        assert!(tr.x[..12].iter().all(|&v| v == 9.0 / 255.0));
        // RGB example in CHW order.
        let ex = &tr.x[12..24];
        assert_eq!(ex[..4], [0.0, 100.0, 0.0, 100.0].map(|v| v / 255.0));
        assert_eq!(ex[4..8], [0.0, 0.0, 100.0, 100.0].map(|v| v / 255.0));
        assert!(ex[8..].iter().all(|&v| v == 50.0 / 255.0));
    }

    #[test]
    fn different_sizes_are_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        grey(&r.join("a/1.png"), 4, 4, |_, _| 0);
        rgb(&r.join("b/2.jpeg"), 5, 3, |_, _| [1, 2, 3]);
        let e = load_folder(r).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, DataError::ImageSize { .. }));
        assert!(
            m.contains("2.jpeg: image is 5x3 (width x height), but "),
            "{m}"
        );
        assert!(m.contains("1.png is 4x4"), "{m}");
    }

    #[test]
    fn layout_and_decode_errors() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("a")).unwrap();
        std::fs::write(r.join("a/readme.txt"), "x").unwrap();
        let m = load_folder(r).unwrap_err().to_string();
        assert!(
            m.contains("class folder has no .png/.jpg/.jpeg images"),
            "{m}"
        );
        std::fs::write(r.join("a/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let m = load_folder(r).unwrap_err().to_string();
        assert!(m.contains("broken.png: cannot decode image"), "{m}");
        let empty = tempfile::tempdir().unwrap();
        let m = load_folder(empty.path()).unwrap_err().to_string();
        assert!(m.contains("no class sub-folders"), "{m}");
    }
}
