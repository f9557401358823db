//! From in-memory datasets to Burn tensors: splits, normalisation, augmentation, batches.
//!
//! Examples are kept raw (images in [0, 1]) so that augmentation pads with true
//! background; each batch is augmented, then normalised with the spec's statistics.
//!
//! Not here: the training loop and its losses (`train`), reading data files
//! (`shrink-data`), running a trained model on a data set (`classifier`).

use crate::model::{Feat, Net};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use shrink_data::{Augment, Dataset};
use shrink_format::spec::NormalizeSpec;

/// What a batch is trained against.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Class labels (cross-entropy or hinge, per `TrainConfig::loss`).
    Labels,
    /// A teacher's logits for every training example, `[n, classes]` row-major, fitted
    /// with `loss` (mimic learning, distillation; see `distill`).
    Teacher {
        logits: &'a [f32],
        loss: DistillLoss,
    },
}

/// How a student fits its teacher's logits `z`. The losses themselves are in
/// [`crate::train::loss`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DistillLoss {
    /// Logit regression (Ba & Caruana 2014): L2 between the student's and the teacher's
    /// pre-softmax logits.
    Logits,
    /// Soft targets (Hinton, Vinyals & Dean 2015): KL divergence between the
    /// temperature-`T` softmaxes, weighted `alpha`, plus `1 − alpha` times the
    /// cross-entropy with the example's hard label.
    Kd { temperature: f64, alpha: f64 },
}

/// Data augmentation (images only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random translation of up to this many pixels (zero fill).
    pub shift: usize,
    /// Random rotation of up to ± this many degrees.
    pub rotate: f32,
    /// Random horizontal flips (not for digits).
    pub hflip: bool,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            shift: 2,
            rotate: 0.0,
            hflip: false,
        }
    }
}

/// Which split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Val,
    Test,
}

/// Examples of one split plus how to turn them into tensors.
pub struct Batcher {
    pub shape: Vec<usize>,
    pub classes: usize,
    pub norm: Option<NormalizeSpec>,
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub test: Dataset,
}

/// A batch ready for the model.
pub struct Prepared {
    pub x: Feat,
    pub y: Vec<u32>,
    pub classes: usize,
    /// The teacher's logits `[b, classes]` and how to fit them (mimic learning,
    /// distillation), or None to train on the labels.
    pub teacher: Option<(Tensor<2>, DistillLoss)>,
}

impl Prepared {
    /// One-hot labels `[b, classes]`.
    pub fn one_hot(&self, device: &Device) -> Tensor<2> {
        let mut v = vec![0.0f32; self.y.len() * self.classes];
        for (i, &c) in self.y.iter().enumerate() {
            v[i * self.classes + c as usize] = 1.0;
        }
        Tensor::from_data(TensorData::new(v, [self.y.len(), self.classes]), device)
    }

    /// How many rows of `logits` pick the true label.
    pub fn correct(&self, logits: Tensor<2>) -> usize {
        argmax_rows(logits)
            .iter()
            .zip(&self.y)
            .filter(|(p, y)| *p == *y)
            .count()
    }
}

/// Argmax of each row, read back to the host.
pub fn argmax_rows(logits: Tensor<2>) -> Vec<u32> {
    let [b, k] = logits.dims();
    let v: Vec<f32> = logits
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    (0..b)
        .map(|i| argmax(&v[i * k..(i + 1) * k]) as u32)
        .collect()
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for j in 1..row.len() {
        if row[j] > row[best] {
            best = j;
        }
    }
    best
}

/// Normalise `x` (any number of examples of `shape`) in place.
pub fn normalize(norm: Option<&NormalizeSpec>, shape: &[usize], x: &mut [f32]) {
    let Some(n) = norm else { return };
    let per = if shape.len() == 3 {
        shape[1] * shape[2]
    } else {
        1
    };
    // Value i belongs to group (i / per) % groups: walked block by block rather than
    // divided out per value (the same arithmetic, so the same bits, vectorised).
    if per == 1 {
        for row in x.chunks_mut(n.mean.len().max(1)) {
            for ((v, &m), &s) in row.iter_mut().zip(&n.mean).zip(&n.std) {
                *v = (*v - m) / s;
            }
        }
        return;
    }
    let groups = n.mean.len();
    for (j, block) in x.chunks_mut(per.max(1)).enumerate() {
        let g = j % groups;
        let (m, s) = (n.mean[g], n.std[g]);
        block.iter_mut().for_each(|v| *v = (*v - m) / s);
    }
}

/// Turn `n` examples of `shape` into a tensor on `device`.
pub fn to_feat(x: Vec<f32>, n: usize, shape: &[usize], device: &Device) -> Feat {
    if shape.len() == 3 {
        Feat::Image(Tensor::from_data(
            TensorData::new(x, [n, shape[0], shape[1], shape[2]]),
            device,
        ))
    } else {
        Feat::Flat(Tensor::from_data(TensorData::new(x, [n, shape[0]]), device))
    }
}

impl Batcher {
    /// Split `val_fraction` off `train` (seeded) and keep `test` as it is.
    pub fn new(
        train: &Dataset,
        test: &Dataset,
        norm: Option<NormalizeSpec>,
        val_fraction: f32,
        seed: u64,
    ) -> Batcher {
        let (tr, val) = if val_fraction > 0.0 {
            let (a, b) = shrink_data::split_indices(train.len(), val_fraction, seed);
            (train.subset(&a), Some(train.subset(&b)))
        } else {
            (train.subset(&(0..train.len()).collect::<Vec<_>>()), None)
        };
        Batcher {
            shape: train.shape.clone(),
            classes: train.classes.max(test.classes),
            norm,
            train: tr,
            val,
            test: test.subset(&(0..test.len()).collect::<Vec<_>>()),
        }
    }

    pub fn train_len(&self) -> usize {
        self.train.len()
    }

    pub fn has_val(&self) -> bool {
        self.val.as_ref().is_some_and(|v| !v.is_empty())
    }

    pub fn split(&self, s: Split) -> &Dataset {
        match s {
            Split::Train => &self.train,
            Split::Val => self.val.as_ref().unwrap_or(&self.test),
            Split::Test => &self.test,
        }
    }

    /// A training batch of the examples `idx` (indices into the train split).
    pub fn train_batch(
        &self,
        idx: &[usize],
        targets: &Targets<'_>,
        augment: Option<&AugmentConfig>,
        rng: &mut impl rand::Rng,
        device: &Device,
    ) -> Prepared {
        let el = self.train.example_len();
        let mut x = Vec::with_capacity(idx.len() * el);
        for &i in idx {
            x.extend_from_slice(self.train.example(i));
        }
        if let (Some(a), 3) = (augment, self.shape.len()) {
            let aug = Augment {
                max_shift: a.shift,
                hflip: a.hflip,
                max_rotate_deg: a.rotate,
            };
            for ex in x.chunks_mut(el) {
                aug.apply(&self.shape, ex, rng);
            }
        }
        normalize(self.norm.as_ref(), &self.shape, &mut x);
        let y: Vec<u32> = idx.iter().map(|&i| self.train.y[i]).collect();
        let teacher = match *targets {
            Targets::Labels => None,
            Targets::Teacher { logits: z, loss } => {
                let k = z.len() / self.train.len().max(1);
                let mut t = Vec::with_capacity(idx.len() * k);
                for &i in idx {
                    t.extend_from_slice(&z[i * k..(i + 1) * k]);
                }
                Some((
                    Tensor::from_data(TensorData::new(t, [idx.len(), k]), device),
                    loss,
                ))
            }
        };
        Prepared {
            x: to_feat(x, idx.len(), &self.shape, device),
            y,
            classes: self.classes,
            teacher,
        }
    }

    /// Logits of every example of a split, `[n, classes]` row-major, computed in batches
    /// by the inference copy of the model.
    pub fn logits(&self, net: &Net, split: Split, device: &Device) -> Vec<f32> {
        logits_of(
            net,
            self.split(split),
            &self.shape,
            self.norm.as_ref(),
            device,
        )
    }

    /// Accuracy on a split.
    pub fn accuracy(&self, net: &Net, split: Split, device: &Device) -> f64 {
        let ds = self.split(split);
        if ds.is_empty() {
            return 0.0;
        }
        let preds = predictions(net, ds, &self.shape, self.norm.as_ref(), device);
        preds.iter().zip(&ds.y).filter(|(p, y)| p == y).count() as f64 / ds.len() as f64
    }
}

/// The device without autodiff, where inference copies (`net.valid()`) live.
pub fn inference_device(device: &Device) -> Device {
    device.clone().inner()
}

/// Logits of all of `ds`, `[n, classes]` row-major.
pub fn logits_of(
    net: &Net,
    ds: &Dataset,
    shape: &[usize],
    norm: Option<&NormalizeSpec>,
    device: &Device,
) -> Vec<f32> {
    logits_in_batches(net, ds, shape, norm, device, 500)
}

/// [`logits_of`] in batches of at most `batch` examples (at least 1): what bounds the
/// working memory of a large model (see [`crate::workflow::evaluate`]).
pub fn logits_in_batches(
    net: &Net,
    ds: &Dataset,
    shape: &[usize],
    norm: Option<&NormalizeSpec>,
    device: &Device,
    batch: usize,
) -> Vec<f32> {
    let dev = inference_device(device);
    let el = ds.example_len();
    let mut out = Vec::new();
    let b = batch.max(1);
    let key = crate::eval_cache::Key::of(net, shape, norm, &dev, b, ds.x.len());
    if let Some(logits) = key.as_ref().and_then(|k| k.get(&ds.x)) {
        return logits;
    }
    for start in (0..ds.len()).step_by(b) {
        let end = (start + b).min(ds.len());
        let mut x = ds.x[start * el..end * el].to_vec();
        normalize(norm, shape, &mut x);
        let logits = net.forward(to_feat(x, end - start, shape, &dev));
        out.extend(
            logits
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap_or_default(),
        );
    }
    if let Some(k) = key {
        k.put(&ds.x, &out);
    }
    out
}

/// Predicted class of every example of `ds`.
pub fn predictions(
    net: &Net,
    ds: &Dataset,
    shape: &[usize],
    norm: Option<&NormalizeSpec>,
    device: &Device,
) -> Vec<u32> {
    let logits = logits_of(net, ds, shape, norm, device);
    let k = logits.len() / ds.len().max(1);
    logits
        .chunks(k.max(1))
        .map(|row| argmax(row) as u32)
        .collect()
}

#[cfg(test)]
mod tests;
