//! Pictures for the report: colour maps (perceptual, diverging, categorical), small
//! images enlarged with nearest-neighbour so a 28×28 digit or a 5×5 filter stays crisp,
//! grids of tiles, and PNG encoding with the `image` crate.
//!
//! Not here: what the pictures show (see the other `viz` modules).

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};

/// A colour map: a lookup table of evenly spaced stops, interpolated linearly.
#[derive(Clone, Copy, Debug)]
pub struct ColorMap(&'static [[u8; 3]]);

/// Viridis (matplotlib's default; perceptually uniform, readable in grey and by
/// colour-blind readers): 11 stops at 0, 0.1, …, 1.
pub const VIRIDIS: ColorMap = ColorMap(&[
    [68, 1, 84],
    [72, 36, 117],
    [65, 68, 135],
    [53, 95, 141],
    [42, 120, 142],
    [33, 145, 140],
    [34, 168, 132],
    [68, 191, 112],
    [122, 209, 81],
    [189, 223, 38],
    [253, 231, 37],
]);

/// Inferno (black → purple → orange → pale yellow), for activations.
pub const INFERNO: ColorMap = ColorMap(&[
    [0, 0, 4],
    [22, 11, 57],
    [66, 10, 104],
    [106, 23, 110],
    [147, 38, 103],
    [188, 55, 84],
    [221, 81, 58],
    [243, 120, 25],
    [252, 165, 10],
    [246, 215, 70],
    [252, 255, 164],
]);

/// Blue–white–red (ColorBrewer RdBu, reversed) for signed values: 0 is white, negative
/// blue, positive red.
pub const DIVERGING: ColorMap = ColorMap(&[
    [33, 102, 172],
    [103, 169, 207],
    [209, 229, 240],
    [247, 247, 247],
    [253, 219, 199],
    [239, 138, 98],
    [178, 24, 43],
]);

/// Ten distinct colours for classes (Tableau 10 with its grey, which reads as "no
/// class", made navy), repeated beyond ten.
pub const CATEGORICAL: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 37, 90],
    [188, 189, 34],
    [23, 190, 207],
];

impl ColorMap {
    /// `n` colours evenly spaced from 0 to 1 (for a colour bar).
    pub fn stops(&self, n: usize) -> Vec<[u8; 3]> {
        let n = n.max(2);
        (0..n).map(|i| self.at(i as f32 / (n - 1) as f32)).collect()
    }

    /// The colour at `t` in [0, 1] (clamped; NaN reads as 0).
    pub fn at(&self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let last = self.0.len() - 1;
        let pos = t * last as f32;
        let i = (pos.floor() as usize).min(last - 1);
        let f = pos - i as f32;
        let (a, b) = (self.0[i], self.0[i + 1]);
        std::array::from_fn(|k| (a[k] as f32 + f * (b[k] as f32 - a[k] as f32)).round() as u8)
    }
}

/// The colour of class `k`.
pub fn class_color(k: usize) -> [u8; 3] {
    CATEGORICAL[k % CATEGORICAL.len()]
}

/// A `w`×`h` map of values (row-major) through `cmap`, `lo..hi` spanning the map.
pub fn heat(values: &[f32], w: usize, h: usize, lo: f32, hi: f32, cmap: ColorMap) -> RgbImage {
    let span = if hi > lo { hi - lo } else { 1.0 };
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        Rgb(cmap.at((values[y as usize * w + x as usize] - lo) / span))
    })
}

/// Signed values on the diverging map, symmetric about 0 (the largest |value| is the
/// deepest colour), so the sign of every pixel reads directly.
pub fn signed(values: &[f32], w: usize, h: usize) -> RgbImage {
    let m = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let m = if m > 0.0 { m } else { 1.0 };
    heat(values, w, h, -m, m, DIVERGING)
}

/// An image `[C, H, W]` (channel-major; C = 1 grey or 3 RGB; other counts: the channel
/// mean) mapped from `lo..hi` to black..white.
pub fn picture(values: &[f32], shape: &[usize], lo: f32, hi: f32) -> RgbImage {
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let byte = |v: f32| ((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8;
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let at = |ch: usize| values[ch * h * w + y as usize * w + x as usize];
        if c == 3 {
            Rgb([byte(at(0)), byte(at(1)), byte(at(2))])
        } else {
            let g = byte((0..c).map(at).sum::<f32>() / c as f32);
            Rgb([g, g, g])
        }
    })
}

/// Signed values of an image `[C, H, W]`: one channel on the diverging map; three as
/// RGB around mid-grey (0 ↦ grey, the largest |value| ↦ full scale), as the paper shows
/// colour projections.
pub fn signed_picture(values: &[f32], shape: &[usize]) -> RgbImage {
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    if c == 3 {
        let m = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let m = if m > 0.0 { m } else { 1.0 };
        picture(values, shape, -m, m)
    } else {
        let mean: Vec<f32> = (0..h * w)
            .map(|i| (0..c).map(|ch| values[ch * h * w + i]).sum::<f32>() / c as f32)
            .collect();
        signed(&mean, w, h)
    }
}

/// The window `rows` × `cols` (inclusive, may reach outside) of an image `[C, H, W]`;
/// outside the image is 0. Returns the values and their shape.
pub fn crop(
    values: &[f32],
    shape: &[usize],
    rows: (i64, i64),
    cols: (i64, i64),
) -> (Vec<f32>, [usize; 3]) {
    let (c, h, w) = (shape[0], shape[1] as i64, shape[2] as i64);
    let (ch, cw) = (
        (rows.1 - rows.0 + 1) as usize,
        (cols.1 - cols.0 + 1) as usize,
    );
    let mut out = vec![0.0; c * ch * cw];
    for k in 0..c {
        for (i, y) in (rows.0..=rows.1).enumerate() {
            for (j, x) in (cols.0..=cols.1).enumerate() {
                if (0..h).contains(&y) && (0..w).contains(&x) {
                    out[(k * ch + i) * cw + j] =
                        values[(k as i64 * h + y) as usize * w as usize + x as usize];
                }
            }
        }
    }
    (out, [c, ch, cw])
}

/// Enlarge `img` `scale`× with nearest-neighbour (pixels stay square).
pub fn enlarge(img: &RgbImage, scale: usize) -> RgbImage {
    let s = scale.max(1) as u32;
    RgbImage::from_fn(img.width() * s, img.height() * s, |x, y| {
        *img.get_pixel(x / s, y / s)
    })
}

/// Draw the outline of the rectangle `x0..=x1`, `y0..=y1` (clipped to the image).
pub fn outline(img: &mut RgbImage, (x0, y0): (u32, u32), (x1, y1): (u32, u32), color: [u8; 3]) {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return;
    }
    let (x1, y1) = (x1.min(w - 1), y1.min(h - 1));
    for x in x0.min(x1)..=x1 {
        img.put_pixel(x, y0.min(y1), Rgb(color));
        img.put_pixel(x, y1, Rgb(color));
    }
    for y in y0.min(y1)..=y1 {
        img.put_pixel(x0.min(x1), y, Rgb(color));
        img.put_pixel(x1, y, Rgb(color));
    }
}

/// Tiles of equal size in a grid of `cols` columns, `gap` pixels of `background`
/// between and around them.
pub fn grid(tiles: &[RgbImage], cols: usize, gap: u32, background: [u8; 3]) -> RgbImage {
    let cols = cols.max(1).min(tiles.len().max(1));
    let rows = tiles.len().div_ceil(cols).max(1);
    let tw = tiles.iter().map(|t| t.width()).max().unwrap_or(1);
    let th = tiles.iter().map(|t| t.height()).max().unwrap_or(1);
    let mut out = RgbImage::from_pixel(
        cols as u32 * (tw + gap) + gap,
        rows as u32 * (th + gap) + gap,
        Rgb(background),
    );
    for (i, t) in tiles.iter().enumerate() {
        let (r, c) = ((i / cols) as u32, (i % cols) as u32);
        image::imageops::replace(
            &mut out,
            t,
            (gap + c * (tw + gap)) as i64,
            (gap + r * (th + gap)) as i64,
        );
    }
    out
}

/// Images side by side (tops aligned), `gap` pixels of `background` between them.
pub fn row(parts: &[RgbImage], gap: u32, background: [u8; 3]) -> RgbImage {
    let w = parts
        .iter()
        .map(|p| p.width() + gap)
        .sum::<u32>()
        .saturating_sub(gap);
    let h = parts.iter().map(|p| p.height()).max().unwrap_or(1);
    let mut out = RgbImage::from_pixel(w.max(1), h, Rgb(background));
    let mut x = 0;
    for p in parts {
        image::imageops::replace(&mut out, p, x as i64, 0);
        x += p.width() + gap;
    }
    out
}

/// PNG bytes of `img`.
pub fn png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .context("cannot encode PNG")?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_maps_hit_their_ends_and_interpolate() {
        assert_eq!(VIRIDIS.at(0.0), [68, 1, 84]);
        assert_eq!(VIRIDIS.at(1.0), [253, 231, 37]);
        assert_eq!(VIRIDIS.at(2.0), [253, 231, 37]);
        assert_eq!(DIVERGING.at(0.5), [247, 247, 247]);
        let mid = INFERNO.at(0.05);
        assert!(mid[2] > 4 && mid[2] < 57, "{mid:?}");
    }

    #[test]
    fn signed_maps_zero_to_white_and_sign_to_hue() {
        let img = signed(&[-2.0, 0.0, 1.0], 3, 1);
        let [b, z, r] = [0, 1, 2].map(|x| img.get_pixel(x, 0).0);
        assert_eq!(z, [247, 247, 247]);
        assert!(b[2] > b[0], "negative is blue: {b:?}");
        assert!(r[0] > r[2], "positive is red: {r:?}");
    }

    #[test]
    fn enlarge_grid_and_png_keep_sizes() {
        let tile = picture(&[0.0, 1.0, 0.5, 0.25], &[1, 2, 2], 0.0, 1.0);
        let big = enlarge(&tile, 3);
        assert_eq!((big.width(), big.height()), (6, 6));
        assert_eq!(big.get_pixel(5, 0).0, [255, 255, 255]);
        let g = grid(&[big.clone(), big.clone(), big], 2, 1, [0, 0, 0]);
        assert_eq!((g.width(), g.height()), (2 * 7 + 1, 2 * 7 + 1));
        let back = image::load_from_memory(&png(&g).unwrap()).unwrap();
        assert_eq!(back.width(), 15);
    }
}
