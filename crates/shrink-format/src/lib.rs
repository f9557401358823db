//! shrink-format: the model spec and the `.shrk` container.
//!
//! This crate has no ML framework dependency so that a deployment (the runtime, a
//! browser build) needs only it and `shrink-runtime`. Without its default `std` feature
//! it is `no_std` + `alloc` (a microcontroller: `firmware/cortex-m4`), with the same API.
//!
//! The container stores Deep Compression's output (Han, Mao, Dally, ICLR 2016): pruned
//! weights as relative indices with fillers, shared weights as codebook indices, both
//! Huffman-coded per tensor. [`write`], [`read`] and [`inspect`] are the whole API; the
//! byte layout is in docs/FORMAT.md.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod limits;
pub mod spec;
pub mod vocab;

mod bits;
pub mod checksum;
mod container;
mod cursor;
mod error;
pub mod half;
mod huffman;
mod model;
mod prelude;
mod sparse;
mod stream;

pub use container::{
    file_version, inspect, read, write, write_compact, SizeReport, TensorSize, MAGIC, MAX_INFLATED,
    VERSION, VERSION_1,
};
pub use error::FormatError;
pub use limits::Limits;
pub use model::{CompressedTensor, NamedTensor, ShrkModel, TensorData};
