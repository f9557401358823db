//! Occlusion sensitivity (Zeiler & Fergus §4.2, Fig. 7): slide a grey square over an
//! image and, at every position, record the probability of the correct class, the most
//! probable class, and the total activation of one feature map — the map of the chosen
//! layer with the strongest activation on the unoccluded image. If the model looks at
//! the object, covering the object lowers the correct class's probability and covering
//! the background does not.
//!
//! The square is filled with `value` in normalised space; 0 (the default) is the data
//! set's mean, the paper's "grey".

use burn::prelude::*;
use serde::Serialize;
use shrink_core::model::{Feat, Net};

/// Where a square of `size` starts along a side of `n` pixels: every `stride`, the last
/// one flush with the far edge.
pub fn starts(n: usize, size: usize, stride: usize) -> Vec<usize> {
    let size = size.min(n);
    let last = n - size;
    let mut s: Vec<usize> = (0..=last).step_by(stride.max(1)).collect();
    if s.last() != Some(&last) {
        s.push(last);
    }
    s
}

/// An occlusion experiment on one image.
#[derive(Debug, Clone, Serialize)]
pub struct Occlusion {
    pub label: u32,
    pub size: usize,
    pub stride: usize,
    /// The square's fill, in normalised space.
    pub value: f32,
    /// Top rows and left columns of the square's positions.
    pub rows: Vec<usize>,
    pub cols: Vec<usize>,
    /// Class probabilities of the unoccluded image.
    pub probs: Vec<f32>,
    /// Per position (rows × cols, row-major): the correct class's probability.
    pub true_prob: Vec<f32>,
    /// Per position: the most probable class.
    pub top_class: Vec<u32>,
    /// The layer whose feature map is followed.
    pub layer: usize,
    /// The map with the strongest single activation on the unoccluded image.
    pub feature: usize,
    /// Where in that map (row, col) the unoccluded image activates it most.
    pub feature_unit: (usize, usize),
    /// Its total activation on the unoccluded image.
    pub feature_base: f32,
    /// Per position: its total activation.
    pub feature_total: Vec<f32>,
}

fn softmax_rows(logits: &[f32], k: usize) -> Vec<f32> {
    logits
        .chunks(k)
        .flat_map(|row| {
            let m = row.iter().fold(f32::MIN, |a, b| a.max(*b));
            let e: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.into_iter().map(move |v| v / s)
        })
        .collect()
}

/// Per example and channel of a layer output: the maximum, where it is (`row·w + col`),
/// and the total; plus the channel count and the map width.
struct ChannelStats {
    max: Vec<f32>,
    argmax: Vec<usize>,
    total: Vec<f32>,
    channels: usize,
    width: usize,
}

fn channel_stats(f: Feat) -> ChannelStats {
    let (t, width) = match f {
        Feat::Image(t) => {
            let w = t.dims()[3];
            (t.flatten::<3>(2, 3), w)
        }
        Feat::Flat(t) => {
            let [b, c] = t.dims();
            (t.reshape([b, c, 1]), 1)
        }
    };
    let [_, channels, _] = t.dims();
    let (max, at) = t.clone().max_dim_with_indices(2);
    let read = |t: Tensor<3>| t.into_data().try_into_vec_as::<f32>().unwrap_or_default();
    ChannelStats {
        max: read(max),
        argmax: at
            .into_data()
            .try_into_vec_as::<i64>()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p as usize)
            .collect(),
        total: read(t.sum_dim(2)),
        channels,
        width,
    }
}

/// Occlude `image` (normalised, `shape` = `[C, H, W]`, true class `label`) with a
/// `size`×`size` square of `value` every `stride` pixels, following layer `layer`.
#[allow(clippy::too_many_arguments)]
pub fn occlude(
    net: &Net,
    image: &[f32],
    shape: &[usize],
    label: u32,
    layer: usize,
    size: usize,
    stride: usize,
    value: f32,
    device: &Device,
) -> Occlusion {
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let el = c * h * w;
    let to_feat = |x: Vec<f32>, n: usize| shrink_core::batch::to_feat(x, n, shape, device);
    let run = |x: Feat| {
        let act = net.forward_range(x, 0, layer + 1);
        let logits = net
            .forward_range(act.clone(), layer + 1, net.layers.len())
            .flat();
        let [_, k] = logits.dims();
        let p = softmax_rows(
            &logits
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap_or_default(),
            k,
        );
        (p, k, channel_stats(act))
    };
    let (probs, k, base) = run(to_feat(image.to_vec(), 1));
    let feature = shrink_core::batch::argmax(&base.max[..base.channels]);
    let at = base.argmax[feature];
    let rows = starts(h, size, stride);
    let cols = starts(w, size, stride);
    let positions: Vec<(usize, usize)> = rows
        .iter()
        .flat_map(|&r| cols.iter().map(move |&q| (r, q)))
        .collect();
    let (mut true_prob, mut top_class, mut feature_total) = (vec![], vec![], vec![]);
    const BATCH: usize = 128;
    for chunk in positions.chunks(BATCH) {
        let mut x = Vec::with_capacity(chunk.len() * el);
        for &(r, q) in chunk {
            let mut img = image.to_vec();
            for ch in 0..c {
                for y in r..(r + size).min(h) {
                    for xx in q..(q + size).min(w) {
                        img[ch * h * w + y * w + xx] = value;
                    }
                }
            }
            x.extend(img);
        }
        let (p, _, stats) = run(to_feat(x, chunk.len()));
        for (i, row) in p.chunks(k).enumerate() {
            true_prob.push(row[label as usize]);
            top_class.push(shrink_core::batch::argmax(row) as u32);
            feature_total.push(stats.total[i * stats.channels + feature]);
        }
    }
    Occlusion {
        label,
        size,
        stride,
        value,
        rows,
        cols,
        feature_unit: (at / base.width, at % base.width),
        feature_base: base.total[feature],
        probs,
        true_prob,
        top_class,
        layer,
        feature,
        feature_total,
    }
}

impl Occlusion {
    /// A per-position map spread back over the `h`×`w` image: each pixel takes the value
    /// of the position whose square is centred nearest to it, so the map lines up with
    /// the picture (the paper plots the map at the square's centre).
    pub fn aligned<T: Copy>(&self, per_position: &[T], h: usize, w: usize) -> Vec<T> {
        let nearest = |starts: &[usize], p: usize| {
            let centre = |s: usize| s as f64 + self.size as f64 / 2.0 - 0.5;
            (0..starts.len())
                .min_by(|a, b| {
                    (centre(starts[*a]) - p as f64)
                        .abs()
                        .total_cmp(&(centre(starts[*b]) - p as f64).abs())
                })
                .unwrap_or(0)
        };
        let mut out = Vec::with_capacity(h * w);
        for y in 0..h {
            let r = nearest(&self.rows, y);
            for x in 0..w {
                out.push(per_position[r * self.cols.len() + nearest(&self.cols, x)]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squares_cover_the_image_to_its_far_edge() {
        assert_eq!(starts(28, 7, 3), vec![0, 3, 6, 9, 12, 15, 18, 21]);
        assert_eq!(starts(28, 7, 2).last(), Some(&21));
        assert_eq!(starts(10, 4, 4), vec![0, 4, 6]);
        assert_eq!(starts(5, 9, 2), vec![0]);
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let p = softmax_rows(&[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], 3);
        assert!((p[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[3] - 1.0 / 3.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }
}
