//! shrink: train deep nets on Burn, then make them small and fast.
//!
//! The library behind the `shrink` command. Modules by concern:
//! - [`model`]: spec → Burn module, model files;
//! - [`batch`]: datasets → tensors (splits, normalisation, augmentation);
//! - [`train`]: the training loop, losses, schedules, checkpoints;
//! - [`device`]: choosing a Burn device;
//! - [`distill`]: mimic learning, knowledge distillation, transfer sets (teachers,
//!   cached teacher logits, MUNGE/RANDOM/augmented sets);
//! - [`workflow`]: the steps the commands share (load data for a spec, train a spec);
//! - [`limits`]: the size/cost limits in force (defaults, raised by `--max-*` flags);
//! - [`report`]: results.json + a self-contained report.html (plots, tables, images);
//! - [`experiments`]: reproductions of the papers' figures;
//! - [`viz`]: looking inside a CNN (filters, deconvnet projections, occlusion maps).
//!
//! Data readers live in the `shrink-data` crate and the model spec in `shrink-format`,
//! neither of which depends on Burn.

pub mod batch;
pub mod compress;
pub mod device;
pub mod distill;
pub mod experiments;
pub mod limits;
pub mod model;
pub mod onnx;
pub mod report;
pub mod tables;
pub mod train;
pub mod viz;
pub mod workflow;

pub use shrink_data as data;
pub use shrink_format as format;
