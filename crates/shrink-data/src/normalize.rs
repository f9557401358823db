//! Feature standardisation: mean and std over the train split, applied in place.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// The smallest std used (constant features would otherwise divide by zero).
pub const STD_FLOOR: f32 = 1e-6;

/// Per-channel (images) or per-feature (tables) mean and std, computed over the
/// train split by [`compute_normalization`]. Serialisable so it can be stored
/// with a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// One mean per channel (`per_channel`) or per feature.
    pub mean: Vec<f32>,
    /// One population std per channel or feature, at least [`STD_FLOOR`].
    pub std: Vec<f32>,
    /// True for 3-D example shapes `[C, H, W]`: one statistic per channel.
    pub per_channel: bool,
}

/// Mean and std over all examples of `ds`: per channel for 3-D shapes
/// `[C, H, W]`, else per element of the (flattened) example, e.g. per feature
/// for `[F]`. Accumulates in `f64`; std is the population std floored at
/// [`STD_FLOOR`]. An empty dataset gives mean 0, std 1.
pub fn compute_normalization(ds: &Dataset) -> Normalization {
    let per_channel = ds.shape.len() == 3;
    let el = ds.example_len();
    let (groups, plane) = if per_channel {
        (ds.shape[0], ds.shape[1] * ds.shape[2])
    } else {
        (el, 1)
    };
    let mut sum = vec![0f64; groups];
    let mut sum2 = vec![0f64; groups];
    if el > 0 {
        for ex in ds.x.chunks_exact(el) {
            if per_channel {
                for (g, chunk) in ex.chunks_exact(plane.max(1)).enumerate().take(groups) {
                    // Per-plane partial sums in f64 keep the rounding error small.
                    let (s, s2) = chunk.iter().fold((0f64, 0f64), |(s, s2), &v| {
                        let v = v as f64;
                        (s + v, s2 + v * v)
                    });
                    sum[g] += s;
                    sum2[g] += s2;
                }
            } else {
                for (g, &v) in ex.iter().enumerate() {
                    let v = v as f64;
                    sum[g] += v;
                    sum2[g] += v * v;
                }
            }
        }
    }
    let count = (ds.len() * plane) as f64;
    let mut mean = Vec::with_capacity(groups);
    let mut std = Vec::with_capacity(groups);
    for g in 0..groups {
        if count == 0.0 {
            mean.push(0.0);
            std.push(1.0);
            continue;
        }
        let m = sum[g] / count;
        let var = (sum2[g] / count - m * m).max(0.0);
        mean.push(m as f32);
        std.push((var.sqrt() as f32).max(STD_FLOOR));
    }
    Normalization {
        mean,
        std,
        per_channel,
    }
}

impl Normalization {
    /// Standardises `x` in place: `(v - mean) / std`. `x` holds any number of
    /// examples of `shape` (the shape the statistics were computed for).
    ///
    /// # Panics
    /// If `x.len()` is not a multiple of `prod(shape)`, or the number of
    /// statistics does not fit `shape` (channels for `per_channel`, else `prod(shape)`).
    pub fn apply(&self, shape: &[usize], x: &mut [f32]) {
        let el: usize = shape.iter().product();
        if el == 0 {
            return;
        }
        assert_eq!(
            x.len() % el,
            0,
            "Normalization::apply: {} values are not a whole number of examples of shape {shape:?}",
            x.len()
        );
        let inv: Vec<f32> = self.std.iter().map(|s| 1.0 / s).collect();
        if self.per_channel {
            assert!(
                shape.len() == 3 && shape[0] == self.mean.len(),
                "Normalization::apply: {} channel statistics for shape {shape:?}",
                self.mean.len()
            );
            let plane = shape[1] * shape[2];
            for ex in x.chunks_exact_mut(el) {
                for (c, chunk) in ex.chunks_exact_mut(plane).enumerate() {
                    let (m, s) = (self.mean[c], inv[c]);
                    chunk.iter_mut().for_each(|v| *v = (*v - m) * s);
                }
            }
        } else {
            assert_eq!(
                self.mean.len(),
                el,
                "Normalization::apply: {} feature statistics for shape {shape:?}",
                self.mean.len()
            );
            for ex in x.chunks_exact_mut(el) {
                for ((v, m), s) in ex.iter_mut().zip(&self.mean).zip(&inv) {
                    *v = (*v - m) * s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::numbered_class_names;

    #[test]
    fn per_channel_images() {
        // 2 examples, shape [2, 1, 2]: channel 0 values 0,2,4,6 ; channel 1 all 5.
        let ds = Dataset::new(
            vec![2, 1, 2],
            vec![0.0, 2.0, 5.0, 5.0, 4.0, 6.0, 5.0, 5.0],
            vec![0, 0],
            1,
            numbered_class_names(1),
        )
        .unwrap();
        let n = compute_normalization(&ds);
        assert!(n.per_channel);
        assert_eq!(n.mean, vec![3.0, 5.0]);
        assert!((n.std[0] - 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(n.std[1], STD_FLOOR);
        let mut x = ds.x.clone();
        n.apply(&ds.shape, &mut x);
        assert!((x[0] + 3.0 / 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(x[2], 0.0);
        let again = Dataset { x, ..ds.clone() };
        let n2 = compute_normalization(&again);
        assert!(n2.mean[0].abs() < 1e-6 && (n2.std[0] - 1.0).abs() < 1e-5);
    }

    #[test]
    fn per_feature_tables() {
        let ds = Dataset::new(
            vec![2],
            vec![1.0, 10.0, 3.0, 10.0],
            vec![0, 0],
            1,
            numbered_class_names(1),
        )
        .unwrap();
        let n = compute_normalization(&ds);
        assert!(!n.per_channel);
        assert_eq!(n.mean, vec![2.0, 10.0]);
        assert_eq!(n.std, vec![1.0, STD_FLOOR]);
        let mut x = vec![2.0, 10.0, 4.0, 10.0, 0.0, 10.0];
        n.apply(&[2], &mut x);
        assert_eq!(x, vec![0.0, 0.0, 2.0, 0.0, -2.0, 0.0]);
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(serde_json::from_str::<Normalization>(&json).unwrap(), n);
    }

    #[test]
    fn empty_dataset() {
        let ds = Dataset::new(vec![3], vec![], vec![], 1, numbered_class_names(1)).unwrap();
        let n = compute_normalization(&ds);
        assert_eq!((n.mean, n.std), (vec![0.0; 3], vec![1.0; 3]));
    }
}
