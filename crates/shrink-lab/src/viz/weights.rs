//! The weights themselves: first-layer filters as pictures, and the distribution of
//! each layer's weights before and after Deep Compression (Han et al. 2016, Fig. 4/5:
//! pruning cuts out the weights around zero; trained quantization leaves every kept
//! weight on one of a few shared values, drawn here as spikes at the centroids).

use super::draw;
use crate::report::{LinePlot, Series, Style};
use image::RgbImage;
use shrink_format::CompressedTensor;

/// A conv layer's filters `[out, in, kh, kw]` as one picture: one tile per filter,
/// each scaled on its own so that 0 is mid-grey and its largest |w| black or white
/// (three input channels: RGB around grey). Pruned weights show as plain grey.
pub fn filter_grid(weight: &[f32], shape: &[usize]) -> RgbImage {
    let (out, cin, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
    let per = cin * kh * kw;
    let scale = (48 / kh.max(kw)).max(1);
    let tiles: Vec<RgbImage> = weight
        .chunks(per)
        .take(out)
        .map(|f| {
            let m = f.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let m = if m > 0.0 { m } else { 1.0 };
            draw::enlarge(&draw::picture(f, &[cin, kh, kw], -m, m), scale)
        })
        .collect();
    draw::grid(&tiles, out.min(10), 3, [255, 255, 255])
}

/// Histogram of `values` in `bins` equal bins over `lo..hi`, drawn as steps.
fn steps(values: &[f32], bins: usize, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        let b = (((v as f64 - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let mut pts = vec![(lo, 0.0)];
    for (i, c) in counts.iter().enumerate() {
        let x0 = lo + i as f64 * width;
        pts.push((x0, *c as f64));
        pts.push((x0 + width, *c as f64));
    }
    pts.push((hi, 0.0));
    pts
}

fn range(values: impl Iterator<Item = f32>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(l, h), v| {
        (l.min(v as f64), h.max(v as f64))
    });
    if lo < hi {
        (lo, hi)
    } else {
        (lo.min(0.0) - 1.0, hi.max(0.0) + 1.0)
    }
}

/// The weight distribution of one layer (`dense`) and, given its compressed form, a
/// panel with the kept weights as spikes at their shared values, over the same x range.
pub fn histograms(
    name: &str,
    dense: Option<&[f32]>,
    compressed: Option<&CompressedTensor>,
) -> Vec<LinePlot> {
    if dense.is_none() && compressed.is_none() {
        return vec![];
    }
    let used = compressed.map(|c| {
        c.clusters
            .iter()
            .map(|&k| c.codebook[k as usize])
            .collect::<Vec<f32>>()
    });
    let (lo, hi) = range(
        dense
            .unwrap_or(&[])
            .iter()
            .chain(used.as_deref().unwrap_or(&[]))
            .copied(),
    );
    let mut plots = Vec::new();
    if let Some(dense) = dense {
        let pts = steps(dense, 80, lo, hi);
        let top = pts.iter().fold(0.0f64, |m, p| m.max(p.1));
        plots.push(
            LinePlot::new(
                format!("{name}: {} weights", dense.len()),
                "weight value",
                "count",
            )
            .series(Series::new("", pts, Style::Line))
            .y_range(0.0, top * 1.08 + 1.0),
        );
    }
    if let Some(c) = compressed {
        let mut per = vec![0usize; c.codebook.len()];
        for &k in &c.clusters {
            per[k as usize] += 1;
        }
        let mut shared: Vec<(f64, usize)> = c
            .codebook
            .iter()
            .zip(&per)
            .filter(|(_, n)| **n > 0)
            .map(|(v, n)| (*v as f64, *n))
            .collect();
        shared.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut pts = vec![(lo, 0.0)];
        for (v, n) in &shared {
            pts.extend([(*v, 0.0), (*v, *n as f64), (*v, 0.0)]);
        }
        pts.push((hi, 0.0));
        let top = shared.iter().fold(0usize, |m, s| m.max(s.1)) as f64;
        plots.push(
            LinePlot::new(
                format!(
                    "{name}: {} kept ({:.1}%), {} shared values",
                    c.positions.len(),
                    100.0 * c.positions.len() as f64 / c.numel().max(1) as f64,
                    shared.len()
                ),
                "weight value",
                "count",
            )
            .series(Series::new("", pts, Style::Line).color(1))
            .y_range(0.0, top * 1.08 + 1.0),
        );
    }
    plots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_count_every_value_once() {
        let pts = steps(&[0.0, 0.1, 0.9, 1.0], 2, 0.0, 1.0);
        assert_eq!(pts[1], (0.0, 2.0));
        assert_eq!(pts[3], (0.5, 2.0));
        assert_eq!(pts.last(), Some(&(1.0, 0.0)));
    }

    #[test]
    fn filters_tile_with_zero_as_grey() {
        let w = [0.0f32, 1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let img = filter_grid(&w, &[2, 1, 2, 2]);
        // two 2×2 filters enlarged 24× with 3-pixel gaps: 2·(48+3)+3 wide.
        assert_eq!((img.width(), img.height()), (105, 54));
        assert_eq!(img.get_pixel(3, 3).0, [128, 128, 128]);
        assert_eq!(img.get_pixel(3 + 24, 3).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(3, 3 + 24).0, [0, 0, 0]);
    }

    #[test]
    fn compressed_panel_has_one_spike_per_used_centroid() {
        let c = CompressedTensor {
            shape: vec![4],
            bits: 2,
            index_bits: 5,
            codebook: vec![-0.5, 0.25, 0.75, 9.0],
            positions: vec![0, 2, 3],
            clusters: vec![0, 2, 2],
        };
        let plots = histograms("w", Some(&[-0.5, 0.0, 0.7, 0.8]), Some(&c));
        assert_eq!(plots.len(), 2);
        let spikes = &plots[1].series[0].points;
        let peaks: Vec<_> = spikes.iter().filter(|p| p.1 > 0.0).collect();
        assert_eq!(peaks, vec![&(-0.5, 1.0), &(0.75, 2.0)]);
        assert!(plots[1].title.contains("3 kept (75.0%), 2 shared values"));
    }
}
