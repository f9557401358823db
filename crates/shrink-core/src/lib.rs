//! shrink-core: train deep nets on Burn, then make them small and fast — the library
//! behind the `shrink` command and shrink-lab. Modules by concern:
//! - [`model`]: spec → Burn module, model files;
//! - [`classifier`]: one way to open and run a trained model (a model directory on Burn,
//!   a `.shrk` file on shrink-runtime);
//! - [`batch`]: datasets → tensors (splits, normalisation, augmentation);
//! - [`train`]: the training loop, losses, schedules, checkpoints, progress reporting;
//! - [`device`]: choosing a Burn device;
//! - [`compress`]: Deep Compression (prune, k-means weight sharing, encode to `.shrk`);
//! - [`distill`]: mimic learning, knowledge distillation, transfer sets (teachers,
//!   cached teacher logits, MUNGE/RANDOM/augmented sets);
//! - [`predict`]: class predictions of a model for input files (`shrink run`);
//! - [`info`]: what a spec, model directory or `.shrk` holds (`shrink info`);
//! - [`workflow`]: the steps the commands share (load data for a spec, train a spec);
//! - [`tables`]: tabular data's encoding carried by model directories and `.shrk` files;
//! - [`bench`]: training throughput, measured through the training loop's own step;
//! - [`spec_file`]: a spec file parsed once: the spec, `[train]`, `[compress]`;
//! - [`standalone`]: one stage of the pipeline on a model directory (`shrink prune`,
//!   `shrink quantize`);
//! - [`store`]: the one resumable-step store (steps keyed by their inputs);
//! - [`onnx`]: ONNX files in and out of model directories and `.shrk` files (over
//!   `shrink-onnx`);
//! - [`limits`]: the size/cost limits in force (defaults, raised by `--max-*` flags).
//!
//! Not here: the command line (the `shrink` crate: clap, progress bars), the papers'
//! experiments, visualisation and HTML reports (`shrink-lab`), data readers
//! (`shrink-data`), the model spec and `.shrk` format (`shrink-format`), running a
//! `.shrk` without Burn (`shrink-runtime`).

pub mod batch;
pub mod bench;
pub mod classifier;
pub mod compress;
pub mod device;
pub mod distill;
mod eval_cache;
pub mod info;
pub mod limits;
pub mod model;
pub mod onnx;
pub mod predict;
pub mod spec_file;
pub mod standalone;
pub mod store;
pub mod tables;
pub mod train;
pub mod workflow;

pub use shrink_data as data;
pub use shrink_format as format;
