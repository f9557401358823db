//! Feature evolution during training (Zeiler & Fergus §4.1, Fig. 4): for chosen feature
//! maps, the strongest activation over the data set at each of several epochs, projected
//! down to pixel space. The weights come from the snapshots that
//! `shrink train --snapshot-every N` keeps (`snapshots/epoch-NNN.safetensors`).

use super::features::{project_units, scan, Inputs, Unit};
use anyhow::{bail, Result};
use burn::prelude::*;
use shrink_core::model::deconv::ProjectError;
use shrink_core::model::Net;
use shrink_core::train::progress::Progress;

/// The epochs to show: those asked for (each must have a snapshot), or at most `max` of
/// the available ones, evenly spread and always including the first and the last.
pub fn pick_epochs(
    available: &[usize],
    wanted: Option<&[usize]>,
    max: usize,
) -> Result<Vec<usize>> {
    if let Some(w) = wanted {
        for e in w {
            if !available.contains(e) {
                bail!(
                    "no snapshot for epoch {e}; the run has snapshots of epochs {}",
                    available
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        return Ok(w.to_vec());
    }
    let n = available.len();
    if n <= max {
        return Ok(available.to_vec());
    }
    let mut picked: Vec<usize> = (0..max)
        .map(|i| available[(i * (n - 1) + (max - 1) / 2) / (max - 1).max(1)])
        .collect();
    picked.dedup();
    Ok(picked)
}

/// The strongest activation of one feature map at one epoch, and its projection.
pub struct Strongest {
    pub layer: usize,
    pub feature: usize,
    pub example: usize,
    /// The unit (map position) of that activation.
    pub pos: (usize, usize),
    pub activation: f32,
    /// `[C, H, W]` in pixel space.
    pub projection: Vec<f32>,
}

/// For each `(layer, features)`, the example activating each feature map most under
/// `net` (one scan over `inputs`), projected down by the deconvnet.
pub fn strongest(
    net: &Net,
    inputs: &Inputs,
    chosen: &[(usize, Vec<usize>)],
    device: &Device,
    bar: &Progress,
) -> Result<Vec<Strongest>, ProjectError> {
    let layers: Vec<usize> = chosen.iter().map(|(l, _)| *l).collect();
    let scans = scan(net, inputs, &layers, device, bar);
    let mut out = Vec::new();
    for ((layer, features), s) in chosen.iter().zip(&scans) {
        let units: Vec<Unit> = features
            .iter()
            .map(|&f| {
                let example = s.top_examples(f, 1)[0];
                Unit {
                    example,
                    feature: f,
                    pos: s.unit(example, f),
                }
            })
            .collect();
        let projections = project_units(net, inputs, *layer, &units, device)?;
        for (u, projection) in units.iter().zip(projections) {
            out.push(Strongest {
                layer: *layer,
                feature: u.feature,
                example: u.example,
                pos: u.pos,
                activation: s.activation(u.example, u.feature),
                projection,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_spread_and_keep_both_ends() {
        let all: Vec<usize> = (1..=12).collect();
        let p = pick_epochs(&all, None, 5).unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!((p[0], p[4]), (1, 12));
        assert!(p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
        assert_eq!(pick_epochs(&[2, 4], None, 6).unwrap(), vec![2, 4]);
        assert_eq!(pick_epochs(&all, Some(&[3, 7]), 6).unwrap(), vec![3, 7]);
        let err = pick_epochs(&[2, 4], Some(&[3]), 6).unwrap_err().to_string();
        assert!(err.contains("epoch 3") && err.contains("2, 4"), "{err}");
    }
}
