//! The teacher: one trained model or an ensemble of them, whose logits a student learns
//! to reproduce. An ensemble's logits are the mean of its members' logits (Ba &
//! Caruana's teacher for TIMIT was an ensemble of 9 CNNs; Buciluǎ et al. compress
//! ensembles), each member applying its own input normalisation.
//!
//! Members are model directories (`spec.toml` + `model.safetensors`, as `shrink
//! train` writes them) or `.shrk` files (decoded to dense weights).

use super::cache::{file_digest, CacheKey};
use crate::batch::{inference_device, normalize, to_feat};
use crate::classifier::open;
use crate::model::io::{SPEC_FILE, WEIGHTS_FILE};
use crate::model::Net;
use crate::train::progress;
use anyhow::{bail, Result};
use burn::prelude::*;
use shrink_data::Dataset;
use shrink_format::spec::{ModelSpec, ShapeDisplay};
use std::path::PathBuf;

/// One model of the teacher.
pub struct Member {
    pub path: PathBuf,
    pub spec: ModelSpec,
    /// On the inference device.
    pub net: Net,
}

/// A model or an ensemble.
pub struct Teacher {
    pub members: Vec<Member>,
    /// SHA-256 over every member's files, in order: the teacher's identity for caches.
    pub digest: [u8; 32],
}

impl Teacher {
    /// Load the members at `paths` onto `device` (inference: no autodiff).
    pub fn load(paths: &[PathBuf], device: &Device) -> Result<Teacher> {
        if paths.is_empty() {
            bail!("no teacher given (--teacher MODEL, once per ensemble member)");
        }
        let dev = inference_device(device);
        let mut key = CacheKey::new("shrink teacher files v1");
        let mut members = Vec::with_capacity(paths.len());
        for path in paths {
            let (spec, net) = if path.is_dir() {
                let spec_file = path.join(SPEC_FILE);
                let weights = path.join(WEIGHTS_FILE);
                if !spec_file.is_file() || !weights.is_file() {
                    bail!(
                        "teacher {}: not a model directory (expected {SPEC_FILE} and {WEIGHTS_FILE}; train one with `shrink train`)",
                        path.display()
                    );
                }
                key.bytes(&file_digest(&spec_file)?)
                    .bytes(&file_digest(&weights)?);
                let m = open(path)?.into_burn(&dev)?;
                (m.spec, m.net)
            } else if path.is_file() && path.extension().is_some_and(|e| e == "shrk") {
                key.bytes(&file_digest(path)?);
                // Decoded to dense Burn weights (the student trains on Burn).
                let m = open(path)?.into_burn(&dev)?;
                (m.spec, m.net)
            } else if path.exists() {
                bail!(
                    "teacher {}: not a model directory or a .shrk file",
                    path.display()
                );
            } else {
                bail!(
                    "teacher {}: no such model directory or .shrk file",
                    path.display()
                );
            };
            members.push(Member {
                path: path.clone(),
                spec,
                net,
            });
        }
        let first = &members[0];
        let classes = first.spec.output_len()?;
        for m in &members[1..] {
            if m.spec.input != first.spec.input || m.spec.output_len()? != classes {
                bail!(
                    "teacher {} takes {} and gives {} classes, but {} takes {} and gives {classes}: ensemble members must agree",
                    m.path.display(),
                    ShapeDisplay(&m.spec.input),
                    m.spec.output_len()?,
                    first.path.display(),
                    ShapeDisplay(&first.spec.input)
                );
            }
        }
        Ok(Teacher {
            members,
            digest: key.finish(),
        })
    }

    /// Shape of one input example.
    pub fn input(&self) -> &[usize] {
        &self.members[0].spec.input
    }

    /// Number of outputs (classes).
    pub fn classes(&self) -> usize {
        self.members[0].spec.output_len().unwrap_or(0)
    }

    /// Learned parameters of all members together.
    pub fn params(&self) -> usize {
        self.members
            .iter()
            .map(|m| m.spec.param_count().unwrap_or(0))
            .sum()
    }

    /// "runs/teacher-cnn" or "ensemble of 5 (runs/a, runs/b, …)".
    pub fn describe(&self) -> String {
        match &self.members[..] {
            [one] => one.path.display().to_string(),
            many => format!(
                "ensemble of {} ({})",
                many.len(),
                many.iter()
                    .map(|m| m.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Check that the teacher reads examples of `shape` and has `classes` outputs.
    pub fn check_fits(&self, shape: &[usize], classes: usize, data: &str) -> Result<()> {
        if self.input() != shape {
            bail!(
                "teacher {} takes inputs of shape {} but {data} has {}",
                self.members[0].path.display(),
                ShapeDisplay(self.input()),
                ShapeDisplay(shape)
            );
        }
        if self.classes() != classes {
            bail!(
                "teacher {} gives {} classes but {data} has {classes}",
                self.members[0].path.display(),
                self.classes()
            );
        }
        Ok(())
    }

    /// The ensemble's logits for every example of `ds` (raw features, as loaded),
    /// `[n, classes]` row-major: each member's logits in batches, averaged.
    pub fn logits(&self, ds: &Dataset, device: &Device, what: &str, quiet: bool) -> Vec<f32> {
        let dev = inference_device(device);
        let (n, el, k) = (ds.len(), ds.example_len(), self.classes());
        let mut sum = vec![0f32; n * k];
        let bar = progress::bar((n * self.members.len()) as u64, what, quiet);
        const BATCH: usize = 500;
        for m in &self.members {
            for start in (0..n).step_by(BATCH) {
                let end = (start + BATCH).min(n);
                let mut x = ds.x[start * el..end * el].to_vec();
                normalize(m.spec.normalize.as_ref(), &ds.shape, &mut x);
                let z = m.net.forward(to_feat(x, end - start, &ds.shape, &dev)); // [b, k]
                let z: Vec<f32> = z.into_data().try_into_vec_as::<f32>().unwrap_or_default();
                for (s, v) in sum[start * k..end * k].iter_mut().zip(z) {
                    *s += v;
                }
                bar.inc((end - start) as u64);
            }
        }
        bar.finish_and_clear();
        let inv = 1.0 / self.members.len() as f32;
        if self.members.len() > 1 {
            sum.iter_mut().for_each(|v| *v *= inv);
        }
        sum
    }
}
