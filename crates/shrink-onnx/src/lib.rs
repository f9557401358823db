//! shrink-onnx: ONNX in and out, so that a network trained elsewhere (PyTorch's
//! `torch.onnx.export`, tf2onnx, skl2onnx) goes through shrink's whole pipeline, and a
//! compressed one goes back to any ONNX consumer.
//!
//! - [`import_file`] / [`import_bytes`]: an ONNX graph of a CNN or MLP → a
//!   [`ModelSpec`](shrink_format::spec::ModelSpec) and its weights under the names the
//!   Burn model and the runtime use. Every node that cannot be mapped is listed in one
//!   error ([`OnnxError::Unsupported`]) before anything is written.
//! - [`export`]: a spec and dense weights → an ONNX model (opset 17) taking the same raw
//!   input as `shrink run`.
//!
//! Protobuf is read and written with hand-written `prost` messages for the subset of
//! `onnx.proto` these graphs use (`proto`): no protoc, no build script, no ML framework;
//! the crate builds in seconds and bounds what it reads with [`shrink_format::Limits`].
//!
//! Not here: files of a model directory or `.shrk` (the `shrink` CLI), training, running.

pub mod export;
pub mod import;
pub mod proto;

pub use export::export;
pub use import::{import_bytes, import_file, Imported, Unsupported};

/// A dense tensor under its parameter name (`layers.0.weight`), PyTorch layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// Parameter name, as in `model.safetensors` and `.shrk` files.
    pub name: String,
    /// Dimensions, row-major.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// Why an ONNX model could not be imported or exported.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a protobuf ModelProto: corrupt or truncated.
    #[error("not a valid ONNX file (corrupt or truncated protobuf)")]
    Decode(#[source] prost::DecodeError),
    /// Nodes shrink cannot map, every one of them.
    #[error("unsupported: {}", .0.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("; "))]
    Unsupported(Vec<Unsupported>),
    /// The model is well-formed ONNX but not something shrink takes (a message says what).
    #[error("{0}")]
    Invalid(String),
    /// The spec the graph maps to does not check (shapes, limits).
    #[error(transparent)]
    Spec(#[from] shrink_format::spec::SpecError),
}
