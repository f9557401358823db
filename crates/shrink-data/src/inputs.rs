//! Model inputs read from files, as `shrink run` takes them: a PNG/JPEG image, every
//! image of an IDX file, or every row of a CSV table, checked against the shape the
//! model takes and returned as plain `f32` values.
//!
//! One image decoder ([`decode_image`], also used by image folders) and one IDX reader
//! ([`crate::read_idx_examples`]) serve both training data and inputs.
//!
//! Not here: which table encoding a model carries (the caller passes it), running the
//! model, printing predictions.

use std::path::Path;

use crate::error::DataError;
use crate::table::{read_rows, TableSchema, UnseenLevel};

/// What kind of input a path is, by its extension (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `.png`, `.jpg`, `.jpeg`: one image.
    Image,
    /// `.csv`: a table, one example per row.
    Csv,
    /// Anything else: an IDX file (raw or gzip).
    Idx,
}

impl InputKind {
    /// The kind of `path`.
    pub fn of(path: &Path) -> InputKind {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "png" | "jpg" | "jpeg" => InputKind::Image,
            "csv" => InputKind::Csv,
            _ => InputKind::Idx,
        }
    }
}

/// Examples read from one input file by [`read_inputs`].
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// `[n, …shape]` row-major.
    pub x: Vec<f32>,
    /// Number of examples.
    pub n: usize,
    /// Per example: its index within the file (IDX, CSV), `None` for a single image.
    pub index: Vec<Option<usize>>,
    /// Per example: the true label, when the file has one (CSV with the label column).
    pub label: Vec<Option<String>>,
    /// CSV: the category values the table encoding never saw, in rows below `n`.
    pub unseen: Vec<UnseenLevel>,
}

/// Decodes a PNG or JPEG file (format recognised by content).
pub fn decode_image(path: &Path) -> Result<image::DynamicImage, DataError> {
    image::ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .decode()
        .map_err(|e| DataError::ImageDecode {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
}

/// One image as `[C, H, W]` values in [0, 1] (pixels / 255) for a model taking `shape`
/// = `[1 or 3, H, W]`: grey (luminance) for one channel, RGB planes for three. The
/// image must be exactly `W`×`H`.
pub fn read_image(path: &Path, shape: &[usize]) -> Result<Vec<f32>, DataError> {
    if shape.len() != 3 || !(shape[0] == 1 || shape[0] == 3) {
        return Err(DataError::layout(
            path,
            format!("the model takes inputs of shape {shape:?}, not grey or RGB images"),
        ));
    }
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let img = decode_image(path)?;
    if (img.width() as usize, img.height() as usize) != (w, h) {
        return Err(DataError::layout(
            path,
            format!(
                "the image is {}×{} pixels, the model takes {w}×{h}",
                img.width(),
                img.height()
            ),
        ));
    }
    Ok(if c == 1 {
        img.to_luma8()
            .into_raw()
            .into_iter()
            .map(|v| v as f32 / 255.0)
            .collect()
    } else {
        let rgb = img.to_rgb8().into_raw();
        // Interleaved RGB → channel planes.
        (0..3)
            .flat_map(|ch| rgb.iter().skip(ch).step_by(3).map(|&v| v as f32 / 255.0))
            .collect()
    })
}

/// The examples of one input file for a model taking `shape` (per example): an image
/// ([`read_image`]), every image of an IDX file (bytes / 255; at most `limit`), or every
/// row of a CSV file in file order, encoded with `table` (the encoding the model was
/// trained with; with or without the label column; at most `limit` rows). The kind is
/// [`InputKind::of`] the path.
pub fn read_inputs(
    path: &Path,
    shape: &[usize],
    table: Option<&TableSchema>,
    limit: Option<usize>,
) -> Result<Inputs, DataError> {
    match InputKind::of(path) {
        InputKind::Image => Ok(Inputs {
            x: read_image(path, shape)?,
            n: 1,
            index: vec![None],
            label: vec![None],
            unseen: vec![],
        }),
        InputKind::Idx => {
            let ex = crate::read_idx_examples(path, limit)?;
            let per: usize = ex.shape.iter().product();
            let want: usize = shape.iter().product();
            if per != want {
                return Err(DataError::layout(
                    path,
                    format!(
                        "examples of shape {:?} have {per} values, the model takes {shape:?} ({want} values)",
                        ex.shape
                    ),
                ));
            }
            let n = ex.n;
            Ok(Inputs {
                x: ex.x,
                n,
                index: (0..n).map(Some).collect(),
                label: vec![None; n],
                unseen: vec![],
            })
        }
        InputKind::Csv => {
            let Some(schema) = table else {
                return Err(DataError::layout(
                    path,
                    "a CSV input needs the table encoding the model was trained with",
                ));
            };
            if [schema.width] != shape {
                return Err(DataError::layout(
                    path,
                    format!(
                        "the table encodes to {} features, the model takes {shape:?}",
                        schema.width
                    ),
                ));
            }
            let rows = read_rows(path, schema)?;
            let n = limit.map_or(rows.n, |l| l.min(rows.n));
            Ok(Inputs {
                x: rows.x[..n * schema.width].to_vec(),
                n,
                index: (0..n).map(Some).collect(),
                label: match rows.labels {
                    Some(mut l) => {
                        l.truncate(n);
                        l
                    }
                    None => vec![None; n],
                },
                unseen: rows.unseen.into_iter().filter(|u| u.row < n).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(path: &Path, w: u32, h: u32, rgb: bool) {
        if rgb {
            image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 255]))
                .save(path)
                .unwrap();
        } else {
            image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x + y * w) as u8]))
                .save(path)
                .unwrap();
        }
    }

    #[test]
    fn kinds_by_extension() {
        assert_eq!(InputKind::of(Path::new("a/b.PNG")), InputKind::Image);
        assert_eq!(InputKind::of(Path::new("b.jpeg")), InputKind::Image);
        assert_eq!(InputKind::of(Path::new("t.Csv")), InputKind::Csv);
        assert_eq!(InputKind::of(Path::new("x-idx3-ubyte.gz")), InputKind::Idx);
        assert_eq!(InputKind::of(Path::new("noext")), InputKind::Idx);
    }

    #[test]
    fn grey_and_rgb_images() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path().join("g.png");
        png(&g, 3, 2, false);
        let x = read_image(&g, &[1, 2, 3]).unwrap();
        let want: Vec<f32> = (0..6).map(|v| v as f32 / 255.0).collect();
        assert_eq!(x, want);
        let c = dir.path().join("c.png");
        png(&c, 2, 2, true);
        let x = read_image(&c, &[3, 2, 2]).unwrap();
        // Channel planes: R = 10·x, G = 20·y, B = 255.
        let px = |v: u8| v as f32 / 255.0;
        assert_eq!(&x[..4], &[px(0), px(10), px(0), px(10)]);
        assert_eq!(&x[4..8], &[px(0), px(0), px(20), px(20)]);
        assert_eq!(&x[8..], &[1.0; 4]);
        // Grey model, colour image: luminance.
        let x = read_image(&c, &[1, 2, 2]).unwrap();
        assert_eq!(x.len(), 4);
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn image_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path().join("g.png");
        png(&g, 3, 2, false);
        let e = read_image(&g, &[1, 3, 3]).unwrap_err().to_string();
        assert!(
            e.ends_with("g.png: the image is 3×2 pixels, the model takes 3×3"),
            "{e}"
        );
        let e = read_image(&g, &[6]).unwrap_err().to_string();
        assert!(e.contains("not grey or RGB images"), "{e}");
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"not an image").unwrap();
        let e = read_image(&bad, &[1, 2, 3]).unwrap_err().to_string();
        assert!(e.contains("bad.png: cannot decode image"), "{e}");
        let e = read_image(&dir.path().join("none.png"), &[1, 2, 3]).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }), "{e}");
    }

    #[test]
    fn idx_inputs_with_limit_and_shape_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x-idx3-ubyte");
        let pix: Vec<u8> = (0..5 * 4).map(|i| i as u8).collect();
        shrink_testkit::write_idx_images(&p, &pix, 5, 2, 2);
        let i = read_inputs(&p, &[1, 2, 2], None, Some(3)).unwrap();
        assert_eq!((i.n, i.x.len()), (3, 12));
        assert_eq!(i.index, [Some(0), Some(1), Some(2)]);
        assert_eq!(i.x[5], 5.0 / 255.0);
        let e = read_inputs(&p, &[1, 3, 3], None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("have 4 values, the model takes [1, 3, 3] (9 values)"),
            "{e}"
        );
    }

    #[test]
    fn csv_inputs_need_the_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let rows: String = (0..10)
            .map(|i| format!("{i},{},{}\n", i * 2, ["x", "y"][i % 2]))
            .collect();
        std::fs::write(&p, format!("a,b,label\n{rows}")).unwrap();
        let e = read_inputs(&p, &[2], None, None).unwrap_err().to_string();
        assert!(e.contains("needs the table encoding"), "{e}");
        let src = crate::load(p.to_str().unwrap(), &crate::LoadOptions::default()).unwrap();
        let schema = src.schema.clone().unwrap();
        let i = read_inputs(&p, &[schema.width], Some(&schema), Some(2)).unwrap();
        assert_eq!(i.n, 2);
        assert_eq!(i.label, [Some("x".to_string()), Some("y".to_string())]);
        let e = read_inputs(&p, &[schema.width + 1], Some(&schema), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("features, the model takes"), "{e}");
    }
}
