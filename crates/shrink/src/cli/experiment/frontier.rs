//! The flags of `shrink experiment frontier` (its settings file: `frontier.toml` in
//! shrink-lab): LeNet-300-100 and LeNet-5 file size against test error.

use super::args::words;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Serialize)]
#[command(
    after_help = "Examples:\n  shrink experiment frontier --quick --nets lenet-300-100\n  shrink experiment frontier --nets lenet-300-100 --points bench/frontier/lenet-5-points.toml"
)]
pub struct FrontierArgs {
    /// `mnist` (bundled) or a data path, passed to every command [default: the settings
    /// file's `data`].
    #[arg(long)]
    #[serde(skip)]
    pub data: Option<String>,
    /// Output directory (default: runs/experiments/frontier).
    #[arg(long)]
    #[serde(skip)]
    pub out: Option<PathBuf>,
    /// Networks to train and compress here (zoo names), comma-separated.
    #[arg(long)]
    #[serde(serialize_with = "words")]
    pub nets: Option<String>,
    /// Epochs of the dense models [default: the zoo spec's; --quick: 1].
    #[arg(long)]
    pub dense_epochs: Option<usize>,
    /// Points made elsewhere: a TOML file of [[point]] tables (net, label, report =
    /// a compress report.json, command = the command that made it).
    #[arg(long)]
    pub points: Option<PathBuf>,
    /// Seconds-long: one dense epoch, one short round of each recipe.
    #[arg(long)]
    #[serde(skip)]
    pub quick: bool,
    /// Keep finished points in OUT/runs and skip them.
    #[arg(long)]
    #[serde(skip)]
    pub resume: bool,
    /// Read the settings from this TOML file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub settings: Option<PathBuf>,
    /// Print results.json on stdout.
    #[arg(long)]
    #[serde(skip)]
    pub json: bool,
    #[arg(long, short)]
    #[serde(skip)]
    pub quiet: bool,
}

impl FrontierArgs {
    /// The options every experiment takes (frontier has no data limits or device: its
    /// points are `shrink` processes).
    pub fn common(&self) -> super::args::CommonArgs {
        super::args::CommonArgs {
            data: self.data.clone(),
            label: None,
            out: self.out.clone(),
            quick: self.quick,
            resume: self.resume,
            limit_train: None,
            limit_test: None,
            settings: self.settings.clone(),
            device: "flex".into(),
            json: self.json,
            quiet: self.quiet,
        }
    }
}
