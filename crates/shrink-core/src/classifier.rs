//! One way to open and run a trained model. [`open`] takes a model directory (as
//! `shrink train` writes it: `spec.toml` + `model.safetensors`) or a `.shrk` file; either
//! becomes a [`Classifier`] — logits for a batch of examples as loaded (raw features: each
//! model applies its own input normalisation).
//!
//! A `.shrk` file runs on shrink-runtime ([`RuntimeModel`]): the compressed weights as
//! they are stored, as a deployed model runs them. Its dense Burn decode
//! ([`BurnModel`], [`Opened::into_burn`]) stays as a cross-check. `eval`, `run`, `bench`,
//! `viz`, teachers and compress's report open models here.
//!
//! Not here: training (`train`), tensors for training batches (`batch`), the runtime's
//! kernels (`shrink-runtime`), the model file formats (`model::io`, `shrink-format`).

use crate::batch::{self, argmax};
use crate::model::{io, Net};
use anyhow::{anyhow, Context, Result};
use burn::prelude::*;
use shrink_data::Dataset;
use shrink_format::spec::ModelSpec;
use std::path::{Path, PathBuf};

/// Examples per forward pass when a whole data set is run (fewer for a large Burn model,
/// see [`BurnModel`]).
pub const BATCH: usize = 500;

/// A trained classifier: logits for a batch of examples.
pub trait Classifier {
    /// The model's spec (input shape, normalisation, layers).
    fn spec(&self) -> &ModelSpec;

    /// Logits of `n` examples `x` (raw features, `n × input_len` row-major), as
    /// `[n, classes]` row-major.
    fn logits(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>>;

    /// Examples per forward pass when a whole data set is run.
    fn batch_size(&self) -> usize {
        BATCH
    }

    /// Logits of every example of `ds`, `[n, classes]` row-major, in batches of
    /// [`batch_size`](Classifier::batch_size).
    fn logits_of(&mut self, ds: &Dataset) -> Result<Vec<f32>> {
        let (el, b) = (ds.example_len(), self.batch_size().max(1));
        let mut out = Vec::new();
        for start in (0..ds.len()).step_by(b) {
            let end = (start + b).min(ds.len());
            out.extend(self.logits(&ds.x[start * el..end * el], end - start)?);
        }
        Ok(out)
    }

    /// The predicted class of every example of `ds`.
    fn predictions(&mut self, ds: &Dataset) -> Result<Vec<u32>> {
        let logits = self.logits_of(ds)?;
        let k = logits.len() / ds.len().max(1);
        Ok(logits
            .chunks(k.max(1))
            .map(|row| argmax(row) as u32)
            .collect())
    }
}

/// A model found at a path, not yet loaded for running.
pub enum Opened {
    /// A model directory (spec + Burn weights).
    Dir(PathBuf),
    /// A `.shrk` file and its bytes.
    Shrk { path: PathBuf, bytes: Vec<u8> },
}

/// Find the model at `path`: a `.shrk` file (read here) or a model directory (read when
/// loaded, so its errors name the missing file).
pub fn open(path: &Path) -> Result<Opened> {
    if path.is_file() {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Opened::Shrk {
            path: path.to_path_buf(),
            bytes,
        })
    } else {
        Ok(Opened::Dir(path.to_path_buf()))
    }
}

impl Opened {
    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        match self {
            Opened::Dir(p) | Opened::Shrk { path: p, .. } => p,
        }
    }

    /// Whether it is a `.shrk` file.
    pub fn is_shrk(&self) -> bool {
        matches!(self, Opened::Shrk { .. })
    }

    /// Run it as stored: a `.shrk` on shrink-runtime, a model directory on Burn.
    pub fn into_classifier(self, device: &Device) -> Result<Box<dyn Classifier>> {
        if self.is_shrk() {
            Ok(Box::new(self.into_runtime()?))
        } else {
            Ok(Box::new(self.into_burn(device)?))
        }
    }

    /// The `.shrk` file on shrink-runtime (a model directory is refused).
    pub fn into_runtime(self) -> Result<RuntimeModel> {
        match self {
            Opened::Shrk { path, bytes } => {
                RuntimeModel::from_bytes(&bytes).with_context(|| path.display().to_string())
            }
            Opened::Dir(p) => Err(anyhow!(
                "{} is a model directory, not a .shrk file (compress it with `shrink compress`)",
                p.display()
            )),
        }
    }

    /// Load it as a dense Burn model on `device` (a `.shrk` file decoded: every weight
    /// its centroid, pruned ones zero).
    pub fn into_burn(self, device: &Device) -> Result<BurnModel> {
        let (spec, net) = match &self {
            Opened::Dir(p) => io::load_model(p, device)?,
            Opened::Shrk { path, .. } => io::load_shrk(path, device)?,
        };
        BurnModel::new(spec, net, device)
    }
}

/// A `.shrk` file run by shrink-runtime on its compressed weights.
pub struct RuntimeModel {
    pub model: shrink_runtime::Model,
    ws: shrink_runtime::Workspace,
}

impl RuntimeModel {
    /// Parse and check a `.shrk` file's bytes under the limits in force.
    pub fn from_bytes(bytes: &[u8]) -> Result<RuntimeModel> {
        let model = shrink_runtime::Model::from_bytes_with(bytes, &crate::limits::get())?;
        Ok(RuntimeModel {
            model,
            ws: shrink_runtime::Workspace::default(),
        })
    }
}

impl Classifier for RuntimeModel {
    fn spec(&self) -> &ModelSpec {
        self.model.spec()
    }

    fn logits(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.model.forward(x, n, &mut self.ws, &mut out)?;
        Ok(out)
    }
}

/// A Burn network (inference copy) and its spec.
pub struct BurnModel {
    pub spec: ModelSpec,
    pub net: Net,
    device: Device,
    batch: usize,
}

impl BurnModel {
    /// Wrap a loaded network. Batches hold at most [`BATCH`] examples, fewer when the
    /// model's working memory per example says so (`max_batch_bytes`).
    pub fn new(spec: ModelSpec, net: Net, device: &Device) -> Result<BurnModel> {
        let limits = crate::limits::get();
        let batch = spec
            .check(&limits)?
            .cost
            .max_inference_batch(&limits)
            .min(BATCH);
        Ok(BurnModel {
            spec,
            net,
            device: device.clone(),
            batch,
        })
    }
}

impl Classifier for BurnModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn logits(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let dev = batch::inference_device(&self.device);
        let mut x = x.to_vec();
        batch::normalize(self.spec.normalize.as_ref(), &self.spec.input, &mut x);
        let logits = self
            .net
            .forward(batch::to_feat(x, n, &self.spec.input, &dev)); // [n, classes]
        Ok(logits
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap_or_default())
    }

    fn batch_size(&self) -> usize {
        self.batch
    }
}
