//! The in-memory model a `.shrk` file stores: the spec text, a metadata map, and named
//! tensors that are either dense f32 or pruned + weight-shared (Deep Compression §2–3).
//!
//! These are plain data types with public fields; [`ShrkModel::validate`] states every
//! rule the writer enforces. Nothing here knows the byte layout (see `container`).

use crate::prelude::*;
use alloc::collections::BTreeSet;

use crate::FormatError;

/// A whole `.shrk` model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShrkModel {
    /// The model spec (architecture) as TOML text, stored verbatim.
    pub spec_toml: String,
    /// Free-form key/value metadata (e.g. input normalisation), order and duplicates kept.
    pub meta: Vec<(String, String)>,
    /// The tensors, in file order; names are unique.
    pub tensors: Vec<NamedTensor>,
}

/// One tensor with its name (e.g. `"layers.0.weight"`).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// Unique within the model, at most 65535 bytes of UTF-8.
    pub name: String,
    /// Its values.
    pub data: TensorData,
}

/// A tensor's values, either stored as is or pruned and quantized.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// Plain f32 values (biases, norm parameters, anything not quantized).
    Dense {
        /// Dimensions, row-major; the product is `values.len()`.
        shape: Vec<u32>,
        /// Flattened row-major values.
        values: Vec<f32>,
    },
    /// Pruned and weight-shared values.
    Compressed(CompressedTensor),
}

/// A pruned, weight-shared tensor: the kept weights' flat positions and codebook
/// indices (Deep Compression §2: pruning; §3: k-means weight sharing).
#[derive(Clone, Debug, PartialEq)]
pub struct CompressedTensor {
    /// Dimensions in canonical PyTorch layout (linear `[out, in]`, conv
    /// `[out, in, kh, kw]`), flattened row-major. The product must fit in a u32.
    pub shape: Vec<u32>,
    /// Quantization bits, 1..=8: the codebook has at most `2^bits` centroids.
    pub bits: u8,
    /// Width of a relative-index field, 1..=16 (the paper uses 5 for LeNet, 4 or 8 for
    /// AlexNet); see [`CompressedTensor::DEFAULT_INDEX_BITS`].
    pub index_bits: u8,
    /// The shared weights (centroids), at most `2^bits` of them.
    pub codebook: Vec<f32>,
    /// Flat indices of the kept weights, strictly increasing, `< numel`.
    pub positions: Vec<u32>,
    /// Codebook index of each kept weight, `< codebook.len()`.
    pub clusters: Vec<u16>,
}

impl CompressedTensor {
    /// The relative-index width Deep Compression uses for LeNet and VGG (5 bits).
    pub const DEFAULT_INDEX_BITS: u8 = 5;

    /// Number of elements (product of `shape`; saturates on overflow).
    pub fn numel(&self) -> usize {
        numel_saturating(&self.shape)
    }

    /// The dense, row-major weights: `codebook[clusters[i]]` at `positions[i]`, zero
    /// elsewhere.
    ///
    /// # Panics
    /// If the tensor is invalid (a position `>= numel` or a cluster `>= codebook.len()`);
    /// every tensor [`crate::read`] returns is valid.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut dense = vec![0.0f32; self.numel()];
        for (&position, &cluster) in self.positions.iter().zip(&self.clusters) {
            dense[position as usize] = self.codebook[cluster as usize];
        }
        dense
    }

    fn check(&self) -> Result<(), String> {
        if !(1..=8).contains(&self.bits) {
            return Err(format!("bits = {} is not in 1..=8", self.bits));
        }
        if !(1..=16).contains(&self.index_bits) {
            return Err(format!("index_bits = {} is not in 1..=16", self.index_bits));
        }
        if self.codebook.len() > 1 << self.bits {
            return Err(format!(
                "codebook has {} entries, more than 2^{}",
                self.codebook.len(),
                self.bits
            ));
        }
        if self.clusters.len() != self.positions.len() {
            return Err(format!(
                "{} clusters for {} positions",
                self.clusters.len(),
                self.positions.len()
            ));
        }
        let numel = checked_numel(&self.shape).ok_or("shape has more than u32::MAX elements")?;
        if let Some(i) = self.positions.windows(2).position(|w| w[0] >= w[1]) {
            return Err(format!(
                "positions are not strictly increasing at index {} ({} then {})",
                i + 1,
                self.positions[i],
                self.positions[i + 1]
            ));
        }
        if let Some(&last) = self.positions.last() {
            if last as u64 >= numel {
                return Err(format!(
                    "position {last} is outside the tensor ({numel} elements)"
                ));
            }
        }
        if let Some(i) = self
            .clusters
            .iter()
            .position(|&c| c as usize >= self.codebook.len())
        {
            return Err(format!(
                "cluster {} of kept weight {i} is outside the codebook ({} entries)",
                self.clusters[i],
                self.codebook.len()
            ));
        }
        Ok(())
    }
}

impl TensorData {
    /// The tensor's dimensions.
    pub fn shape(&self) -> &[u32] {
        match self {
            TensorData::Dense { shape, .. } => shape,
            TensorData::Compressed(c) => &c.shape,
        }
    }

    /// Number of elements (product of the shape; saturates on overflow).
    pub fn numel(&self) -> usize {
        numel_saturating(self.shape())
    }

    /// The dense row-major values (decompressing if needed).
    pub fn to_dense(&self) -> Vec<f32> {
        match self {
            TensorData::Dense { values, .. } => values.clone(),
            TensorData::Compressed(c) => c.to_dense(),
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.shape().len() > u8::MAX as usize {
            return Err(format!("{} dimensions, at most 255", self.shape().len()));
        }
        match self {
            TensorData::Dense { shape, values } => {
                let numel = checked_numel(shape).ok_or("shape has more than u32::MAX elements")?;
                if values.len() as u64 != numel {
                    return Err(format!("{} values for shape {shape:?}", values.len()));
                }
                Ok(())
            }
            TensorData::Compressed(c) => c.check(),
        }
    }
}

impl ShrkModel {
    /// Checks everything [`crate::write`] requires: unique tensor names of at most
    /// 65535 bytes, at most 255 dimensions with at most `u32::MAX` elements, dense value
    /// counts matching the shape, and for compressed tensors `bits` in 1..=8,
    /// `index_bits` in 1..=16, `codebook.len() <= 2^bits`, strictly increasing positions
    /// `< numel`, one cluster per position, each `< codebook.len()`.
    pub fn validate(&self) -> Result<(), FormatError> {
        let mut names = BTreeSet::new();
        for tensor in &self.tensors {
            let fail = |what: String| {
                FormatError::InvalidInput(format!("tensor '{}': {what}", tensor.name))
            };
            if !names.insert(tensor.name.as_str()) {
                return Err(fail("duplicate tensor name".into()));
            }
            if tensor.name.len() > u16::MAX as usize {
                return Err(fail(format!(
                    "name is {} bytes long, at most 65535",
                    tensor.name.len()
                )));
            }
            tensor.data.check().map_err(fail)?;
        }
        Ok(())
    }

    /// Equality with f32 values compared by bit pattern (so NaN payloads and the sign of
    /// zero count): exactly what a `write` → `read` round trip preserves.
    pub fn bit_eq(&self, other: &ShrkModel) -> bool {
        fn same(a: &[f32], b: &[f32]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        self.spec_toml == other.spec_toml
            && self.meta == other.meta
            && self.tensors.len() == other.tensors.len()
            && self.tensors.iter().zip(&other.tensors).all(|(a, b)| {
                a.name == b.name
                    && match (&a.data, &b.data) {
                        (
                            TensorData::Dense {
                                shape: sa,
                                values: va,
                            },
                            TensorData::Dense {
                                shape: sb,
                                values: vb,
                            },
                        ) => sa == sb && same(va, vb),
                        (TensorData::Compressed(ca), TensorData::Compressed(cb)) => {
                            ca.shape == cb.shape
                                && ca.bits == cb.bits
                                && ca.index_bits == cb.index_bits
                                && same(&ca.codebook, &cb.codebook)
                                && ca.positions == cb.positions
                                && ca.clusters == cb.clusters
                        }
                        _ => false,
                    }
            })
    }
}

/// Product of `shape` if it is at most `u32::MAX` (positions are u32).
pub(crate) fn checked_numel(shape: &[u32]) -> Option<u64> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= u32::MAX as u64)
}

fn numel_saturating(shape: &[u32]) -> usize {
    shape
        .iter()
        .fold(1usize, |acc, &d| acc.saturating_mul(d as usize))
}
