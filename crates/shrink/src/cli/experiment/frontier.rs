//! `shrink experiment frontier`: LeNet-300-100 and LeNet-5 file size against test error,
//! ours (each point one `shrink compress` command) and the papers' on the same axes.
//!
//! Not here: the experiment (`shrink_lab::experiments::frontier`).

use anyhow::{bail, Context, Result};
use shrink_lab::experiments::frontier::{self, FrontierSettings};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink experiment frontier --quick --nets lenet-300-100\n  shrink experiment frontier --nets lenet-300-100 --points bench/frontier/lenet-5-points.toml"
)]
pub struct FrontierArgs {
    /// `mnist` (bundled) or a data path, passed to every command.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Output directory (default: runs/experiments/frontier).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Networks to train and compress here (zoo names), comma-separated.
    #[arg(long, default_value = "lenet-300-100,lenet-5")]
    pub nets: String,
    /// Epochs of the dense models [default: the zoo spec's; --quick: 1].
    #[arg(long)]
    pub dense_epochs: Option<usize>,
    /// Points made elsewhere: a TOML file of [[point]] tables (net, label, report =
    /// a compress report.json, command = the command that made it).
    #[arg(long)]
    pub points: Option<PathBuf>,
    /// Seconds-long: one dense epoch, one short round of each recipe.
    #[arg(long)]
    pub quick: bool,
    /// Keep finished points in OUT/runs and skip them.
    #[arg(long)]
    pub resume: bool,
    /// Print results.json on stdout.
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
}

/// `shrink experiment frontier`.
pub fn frontier(a: FrontierArgs) -> Result<(serde_json::Value, PathBuf, bool)> {
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs/experiments/frontier"));
    // The zoo as the recorded commands name it (run from the repository's root), else
    // where the build found the repository.
    let zoo = if PathBuf::from("zoo").is_dir() {
        PathBuf::from("zoo")
    } else {
        shrink_core::data::repo_data_dir().join("../zoo")
    };
    let mut nets = Vec::new();
    let mut recipes = Vec::new();
    for n in a.nets.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if n != "lenet-300-100" && n != "lenet-5" {
            bail!("--nets: {n:?} is not lenet-300-100 or lenet-5");
        }
        let spec = zoo.join(format!("{n}.toml"));
        if !spec.is_file() {
            bail!("{}: the zoo spec is missing", spec.display());
        }
        nets.push((n.to_string(), spec));
        recipes.extend(frontier::default_recipes(n, a.quick));
    }
    let external = match &a.points {
        Some(p) => frontier::read_points(p)?,
        None => Vec::new(),
    };
    if nets.is_empty() && external.is_empty() {
        bail!("nothing to draw: give --nets or --points");
    }
    let settings = FrontierSettings {
        exe: std::env::current_exe().context("cannot find the shrink executable")?,
        data: a.data.clone(),
        nets,
        dense_epochs: a.dense_epochs.or(a.quick.then_some(1)),
        recipes,
        external,
        quick: a.quick,
    };
    let json = frontier::run(&settings, &out, a.resume, a.quiet)?;
    Ok((json, out, a.json))
}
