//! The flags every `shrink experiment` takes, and how list flags (`--sweep 1,5,30`,
//! `--only a,b`) are laid over an experiment's settings.
//!
//! Not here: each experiment's own flags (`args.rs`, `distill.rs`, `frontier.rs`).

use serde::Serialize;
use shrink_lab::experiments::parse_list;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CommonArgs {
    /// `mnist` (bundled), or a path: an IDX or CIFAR directory, a CSV file, an image folder
    /// [default: the settings file's `data`].
    #[arg(long)]
    pub data: Option<String>,
    /// Label column of a CSV file.
    #[arg(long)]
    pub label: Option<String>,
    /// Output directory (default: runs/experiments/<experiment>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A minutes-long version (the settings file's [quick] table): a subset of the data,
    /// few steps or epochs, one seed.
    #[arg(long)]
    pub quick: bool,
    /// Keep the finished runs in OUT/runs and skip them.
    #[arg(long)]
    pub resume: bool,
    /// Train on a seeded random subset of this many examples.
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Test on a seeded random subset of this many examples.
    #[arg(long)]
    pub limit_test: Option<usize>,
    /// Read the settings from this TOML file ([full] and [quick] tables) instead of the
    /// built-in one.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// flex (CPU, default), cuda[:N], wgpu.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Print results.json on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--sweep 1,5,30` as a list of numbers for the settings (an error names the bad one).
pub fn numbers<T, S>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error>
where
    T: std::str::FromStr + Serialize,
    S: serde::Serializer,
{
    match v {
        None => s.serialize_none(),
        Some(text) => parse_list::<T>(text)
            .map_err(serde::ser::Error::custom)?
            .serialize(s),
    }
}

/// `--only a,b` as a list of names.
pub fn words<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    v.as_deref()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .serialize(s)
}
