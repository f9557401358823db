//! The pruning flags shared by `prune` and `compress` (the weight-sharing ones are in
//! `quantize_flags.rs`), as the library's overrides of a spec's `[compress]` table
//! (`shrink_core::compress::overrides`).
//!
//! Not here: what the settings do (`shrink_core::compress`).

use shrink_core::compress::overrides::Overrides;
use shrink_core::compress::Sparsifier;
use std::str::FromStr;

/// `NAME=VALUE`, for per-layer settings.
pub fn parse_named<T: FromStr>(s: &str) -> Result<(String, T), String>
where
    T::Err: std::fmt::Display,
{
    let (n, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    Ok((n.to_string(), v.parse::<T>().map_err(|e| e.to_string())?))
}

/// `--method`: the library's [`Sparsifier`], as a command-line value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MethodFlag {
    /// Han et al.: prune by magnitude, retrain, `rounds` times.
    DeepCompression,
    /// Molchanov et al. 2017: learn a dropout rate per weight, drop those above
    /// `sparse_vd.log_alpha_threshold` (see `sparse_vd`).
    SparseVd,
}

impl From<MethodFlag> for Sparsifier {
    fn from(f: MethodFlag) -> Self {
        match f {
            MethodFlag::DeepCompression => Sparsifier::DeepCompression,
            MethodFlag::SparseVd => Sparsifier::SparseVd,
        }
    }
}

/// Pruning settings.
#[derive(clap::Args, Default)]
pub struct PruneFlags {
    /// Pruning threshold = quality × std of each layer's weights (layers without --keep).
    #[arg(long)]
    pub quality: Option<f64>,
    /// Keep this fraction of a layer's weights: NAME=FRACTION (repeatable).
    #[arg(long, value_parser = parse_named::<f64>)]
    pub keep: Vec<(String, f64)>,
    /// Prune → retrain rounds.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Retraining epochs after each pruning round.
    #[arg(long)]
    pub retrain_epochs: Option<usize>,
    /// How weights are removed (`shrink compress`): deep-compression (magnitude pruning, the default) or
    /// sparse-vd (sparse variational dropout, Molchanov et al. 2017).
    #[arg(long, value_enum)]
    pub method: Option<MethodFlag>,
    /// sparse-vd: training epochs of the variational model.
    #[arg(long)]
    pub vd_epochs: Option<usize>,
    /// sparse-vd: final weight of the KL term (1 = the variational bound; more prunes harder).
    #[arg(long)]
    pub vd_kl_weight: Option<f64>,
    /// Remove units whose incoming or outgoing weights are all pruned (`shrink compress`).
    #[arg(long)]
    pub remove_units: bool,
}

impl PruneFlags {
    /// These flags as the library's overrides of `[compress]`.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            quality: self.quality,
            keep: self.keep.clone(),
            rounds: self.rounds,
            retrain_epochs: self.retrain_epochs,
            method: self.method.map(Into::into),
            vd_epochs: self.vd_epochs,
            vd_kl_weight: self.vd_kl_weight,
            remove_units: self.remove_units,
            ..Default::default()
        }
    }
}
