//! Image augmentation (random shift, horizontal flip, small rotation), in place,
//! deterministic given the random generator.

use serde::{Deserialize, Serialize};

/// Random augmentation of one image example of shape `[C, H, W]`.
///
/// The forward transform is: rotate about the image centre by an angle uniform in
/// `[-max_rotate_deg, max_rotate_deg]` (bilinear), translate by `dx, dy` uniform in
/// `[-max_shift, max_shift]` pixels (zero fill, i.e. a random crop of a
/// zero-padded image), then mirror left-right with probability 1/2 if `hflip`.
/// It is done as one inverse mapping, so an image is resampled at most once;
/// without rotation pixels are copied exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest translation in pixels (0 = none).
    pub max_shift: usize,
    /// Random horizontal mirror (false for digits and text).
    pub hflip: bool,
    /// Largest rotation in degrees (0 = none).
    pub max_rotate_deg: f32,
}

impl Default for Augment {
    /// No augmentation.
    fn default() -> Self {
        Augment {
            max_shift: 0,
            hflip: false,
            max_rotate_deg: 0.0,
        }
    }
}

impl Augment {
    /// True when [`Augment::apply`] changes nothing.
    pub fn is_identity(&self) -> bool {
        self.max_shift == 0 && !self.hflip && !self.rotates()
    }

    /// True when a (finite, non-zero) rotation is drawn.
    fn rotates(&self) -> bool {
        let r = self.max_rotate_deg.abs();
        r > 0.0 && r.is_finite()
    }

    /// Augments one example `x` of `shape` in place. Draws from `rng`, in this
    /// order and only for the parts in use: `dx`, `dy`, angle, flip. Shapes that
    /// are not 3-D (tables) are left unchanged.
    ///
    /// # Panics
    /// If `x.len() != prod(shape)`.
    pub fn apply(&self, shape: &[usize], x: &mut [f32], rng: &mut impl rand::Rng) {
        let el: usize = shape.iter().product();
        assert_eq!(
            x.len(),
            el,
            "Augment::apply: x holds {} values, one example of shape {shape:?} has {el}",
            x.len()
        );
        if shape.len() != 3 || el == 0 || self.is_identity() {
            return;
        }
        let (h, w) = (shape[1], shape[2]);
        let (dx, dy) = if self.max_shift > 0 {
            let m = self.max_shift as i64;
            (rng.gen_range(-m..=m), rng.gen_range(-m..=m))
        } else {
            (0, 0)
        };
        let max_rot = self.max_rotate_deg.abs();
        let angle = if self.rotates() {
            (rng.gen::<f32>() * 2.0 - 1.0) * max_rot.to_radians()
        } else {
            0.0
        };
        let flip = self.hflip && rng.gen::<bool>();
        if dx == 0 && dy == 0 && angle == 0.0 && !flip {
            return;
        }
        let src = x.to_vec();
        let plane = h * w;
        if angle == 0.0 {
            for (dst, s) in x.chunks_exact_mut(plane).zip(src.chunks_exact(plane)) {
                for oy in 0..h {
                    let sy = oy as i64 - dy;
                    for ox in 0..w {
                        let fx = if flip { w - 1 - ox } else { ox };
                        let sx = fx as i64 - dx;
                        dst[oy * w + ox] = if sy >= 0 && sy < h as i64 && sx >= 0 && sx < w as i64 {
                            s[sy as usize * w + sx as usize]
                        } else {
                            0.0
                        };
                    }
                }
            }
            return;
        }
        let (sin, cos) = angle.sin_cos();
        let cx = (w as f32 - 1.0) / 2.0;
        let cy = (h as f32 - 1.0) / 2.0;
        for (dst, s) in x.chunks_exact_mut(plane).zip(src.chunks_exact(plane)) {
            for oy in 0..h {
                let y2 = (oy as i64 - dy) as f32 - cy;
                for ox in 0..w {
                    let fx = if flip { w - 1 - ox } else { ox };
                    let x2 = (fx as i64 - dx) as f32 - cx;
                    // Inverse rotation of the (shifted) output point.
                    let sx = cos * x2 + sin * y2 + cx;
                    let sy = -sin * x2 + cos * y2 + cy;
                    dst[oy * w + ox] = bilinear(s, h, w, sx, sy);
                }
            }
        }
    }
}

/// Bilinear sample of plane `s` (`h x w`) at `(x, y)`, zero outside.
fn bilinear(s: &[f32], h: usize, w: usize, x: f32, y: f32) -> f32 {
    if !(x > -1.0 && y > -1.0 && x < w as f32 && y < h as f32) {
        return 0.0;
    }
    let x0 = x.floor();
    let y0 = y.floor();
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let at = |xi: i64, yi: i64| -> f32 {
        if xi >= 0 && yi >= 0 && (xi as usize) < w && (yi as usize) < h {
            s[yi as usize * w + xi as usize]
        } else {
            0.0
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
    let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::seeded_rng;

    fn ramp(c: usize, h: usize, w: usize) -> Vec<f32> {
        (0..c * h * w).map(|i| (i + 1) as f32).collect()
    }

    #[test]
    fn identity_and_tables_unchanged() {
        let mut rng = seeded_rng(1);
        let mut x = ramp(1, 3, 3);
        Augment::default().apply(&[1, 3, 3], &mut x, &mut rng);
        assert_eq!(x, ramp(1, 3, 3));
        let mut t = vec![1.0, 2.0];
        let a = Augment {
            max_shift: 2,
            hflip: true,
            max_rotate_deg: 10.0,
        };
        a.apply(&[2], &mut t, &mut rng);
        assert_eq!(t, vec![1.0, 2.0]);
    }

    #[test]
    fn shift_is_an_exact_translation_with_zero_fill() {
        let a = Augment {
            max_shift: 1,
            hflip: false,
            max_rotate_deg: 0.0,
        };
        let shape = [2, 4, 5];
        let orig = ramp(2, 4, 5);
        let mut seen_nonzero_shift = false;
        for seed in 0..20 {
            let mut x = orig.clone();
            a.apply(&shape, &mut x, &mut seeded_rng(seed));
            // Reproduce the draw to know the shift.
            let mut r = seeded_rng(seed);
            let dx: i64 = rand::Rng::gen_range(&mut r, -1..=1);
            let dy: i64 = rand::Rng::gen_range(&mut r, -1..=1);
            seen_nonzero_shift |= dx != 0 || dy != 0;
            for c in 0..2 {
                for y in 0..4i64 {
                    for xx in 0..5i64 {
                        let (sx, sy) = (xx - dx, y - dy);
                        let want = if (0..5).contains(&sx) && (0..4).contains(&sy) {
                            orig[c * 20 + sy as usize * 5 + sx as usize]
                        } else {
                            0.0
                        };
                        assert_eq!(x[c * 20 + y as usize * 5 + xx as usize], want);
                    }
                }
            }
            // Deterministic given the rng.
            let mut x2 = orig.clone();
            a.apply(&shape, &mut x2, &mut seeded_rng(seed));
            assert_eq!(x, x2);
        }
        assert!(seen_nonzero_shift);
    }

    #[test]
    fn hflip_mirrors_rows() {
        let a = Augment {
            max_shift: 0,
            hflip: true,
            max_rotate_deg: 0.0,
        };
        let orig = ramp(1, 2, 3);
        let mut flipped = 0;
        for seed in 0..40 {
            let mut x = orig.clone();
            a.apply(&[1, 2, 3], &mut x, &mut seeded_rng(seed));
            if x != orig {
                assert_eq!(x, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
                flipped += 1;
            }
        }
        assert!((10..30).contains(&flipped), "{flipped}");
    }

    #[test]
    fn rotation_keeps_centre_and_mass_roughly() {
        let a = Augment {
            max_shift: 0,
            hflip: false,
            max_rotate_deg: 10.0,
        };
        // A blob in the middle of a 9x9 image.
        let mut orig = vec![0.0f32; 81];
        for y in 3..6 {
            for x in 3..6 {
                orig[y * 9 + x] = 1.0;
            }
        }
        let mut x = orig.clone();
        a.apply(&[1, 9, 9], &mut x, &mut seeded_rng(5));
        assert_ne!(x, orig);
        assert!((x[4 * 9 + 4] - 1.0).abs() < 1e-6);
        let (m0, m1): (f32, f32) = (orig.iter().sum(), x.iter().sum());
        assert!((m0 - m1).abs() < 0.5, "{m0} {m1}");
        assert!(x.iter().all(|v| (0.0..=1.0 + 1e-6).contains(v)));
    }

    #[test]
    fn bilinear_edges() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(bilinear(&s, 2, 2, 0.0, 0.0), 1.0);
        assert_eq!(bilinear(&s, 2, 2, 0.5, 0.0), 1.5);
        assert_eq!(bilinear(&s, 2, 2, 0.5, 0.5), 2.5);
        assert_eq!(bilinear(&s, 2, 2, -1.5, 0.0), 0.0);
        assert_eq!(bilinear(&s, 2, 2, 1.5, 0.0), 1.0);
        assert_eq!(bilinear(&s, 2, 2, f32::NAN, 0.0), 0.0);
    }

    #[test]
    #[should_panic(expected = "one example of shape")]
    fn wrong_length_panics() {
        Augment::default().apply(&[1, 2, 2], &mut [0.0; 3], &mut seeded_rng(0));
    }
}
