//! The one error type of the runtime.

use crate::prelude::*;
use shrink_format::spec::SpecError;
use shrink_format::FormatError;

/// Why a model could not be loaded or run. Loading never panics on a bad file.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The bytes are not a valid `.shrk` container.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The spec in the file does not parse or does not describe a valid network.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A tensor the spec needs is not in the file.
    #[error("the file has no tensor {name} (needed by layer {layer})")]
    MissingTensor { name: String, layer: String },
    /// A tensor has another shape than the spec implies.
    #[error("tensor {name} has shape {got:?}, layer {layer} needs {want:?}")]
    TensorShape {
        name: String,
        layer: String,
        want: Vec<usize>,
        got: Vec<u32>,
    },
    /// A tensor's values are unusable (e.g. a negative batch-norm variance).
    #[error("tensor {name}: {msg}")]
    TensorValue { name: String, msg: String },
    /// The file holds a tensor that no layer of the spec uses.
    #[error("tensor {name} is not used by any layer of the spec")]
    UnusedTensor { name: String },
    /// The network is too large to run (an activation would not fit in memory).
    #[error("layer {layer}: {msg}")]
    TooLarge { layer: String, msg: String },
    /// The model has a block (residual, highway, inception), which only
    /// `Model::forward` runs, not the one-buffer pass.
    #[error("layer {layer} is a {kind} block: the one-buffer pass runs plain layer lists only (use Model::forward)")]
    BlockInOneBufferPass { layer: String, kind: &'static str },
    /// The buffer given to `Model::forward_in` is smaller than `Model::working_memory`.
    #[error("the working buffer holds {got} bytes, {batch} examples need {need}")]
    WorkTooSmall {
        got: usize,
        need: usize,
        batch: usize,
    },
    /// The output buffer given to `Model::forward_in` has the wrong length.
    #[error(
        "the output buffer has {got} values, {batch} examples of {classes} classes need {want}"
    )]
    OutputLength {
        got: usize,
        batch: usize,
        classes: usize,
        want: usize,
    },
    /// The input given to `forward` does not match the model.
    #[error("input has {got} values, {batch} examples of {per_example} need {want}")]
    InputLength {
        got: usize,
        batch: usize,
        per_example: usize,
        want: usize,
    },
}
