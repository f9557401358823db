//! shrink-lab: the research side of shrink, built on shrink-core.
//! - [`experiments`]: reproductions of the papers' figures (batch/layer norm, feature
//!   transfer, the CNN toolbox ablations, mimic learning, MUNGE);
//! - [`viz`]: looking inside a CNN (filters, deconvnet projections, occlusion maps,
//!   weight histograms, feature evolution);
//! - [`bench`]: training and inference timings for BENCHMARKS.md, with PyTorch and ONNX
//!   Runtime timed beside them;
//! - [`report`]: results.json + a self-contained report.html (plots, tables, images).
//!
//! Not here: models, training, compression, distillation (`shrink-core`), the command
//! line (the `shrink` crate).

pub mod bench;
pub mod experiments;
pub mod report;
pub mod viz;
