//! The pruning and quantization flags shared by `prune`, `quantize` and `compress`, and
//! how they override a spec's `[compress]` table.

use shrink_core::compress::quantize::CentroidInit;
use shrink_core::compress::{CompressConfig, Sparsifier};
use std::str::FromStr;

/// `NAME=VALUE`, for per-layer settings.
fn parse_named<T: FromStr>(s: &str) -> Result<(String, T), String>
where
    T::Err: std::fmt::Display,
{
    let (n, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    Ok((n.to_string(), v.parse::<T>().map_err(|e| e.to_string())?))
}

/// `--init`: the library's [`CentroidInit`], as a command-line value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum InitFlag {
    Linear,
    Density,
    Forgy,
}

impl From<InitFlag> for CentroidInit {
    fn from(f: InitFlag) -> Self {
        match f {
            InitFlag::Linear => CentroidInit::Linear,
            InitFlag::Density => CentroidInit::Density,
            InitFlag::Forgy => CentroidInit::Forgy,
        }
    }
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
    pub fn apply(&self, cfg: &mut CompressConfig) {
        if let Some(q) = self.quality {
            cfg.quality = q;
            cfg.keep.clear();
        }
        for (k, v) in &self.keep {
            cfg.keep.insert(k.clone(), *v);
        }
        if let Some(v) = self.rounds {
            cfg.rounds = v;
        }
        if let Some(v) = self.retrain_epochs {
            cfg.retrain_epochs = v;
        }
        if let Some(v) = self.method {
            cfg.method = v.into();
        }
        if let Some(v) = self.vd_epochs {
            cfg.sparse_vd.epochs = v;
        }
        if let Some(v) = self.vd_kl_weight {
            cfg.sparse_vd.kl_weight = v;
        }
        if self.remove_units {
            cfg.remove_units = true;
        }
    }
}

/// Weight-sharing and encoding settings.
#[derive(clap::Args, Default)]
pub struct QuantizeFlags {
    /// Shared-weight bits for conv layers.
    #[arg(long)]
    pub conv_bits: Option<u8>,
    /// Shared-weight bits for linear layers.
    #[arg(long)]
    pub fc_bits: Option<u8>,
    /// Bits of one layer: NAME=BITS (repeatable).
    #[arg(long, value_parser = parse_named::<u8>)]
    pub bits: Vec<(String, u8)>,
    /// Width of a relative sparse index.
    #[arg(long)]
    pub index_bits: Option<u8>,
    /// Centroid initialisation.
    #[arg(long, value_enum)]
    pub init: Option<InitFlag>,
    /// Centroid fine-tuning epochs.
    #[arg(long)]
    pub finetune_epochs: Option<usize>,
    /// Store biases as codebooks of this many bits where smaller than float32 (`shrink compress`).
    #[arg(long)]
    pub bias_bits: Option<u8>,
    /// Drop centroids no weight uses from the codebooks (`shrink compress`).
    #[arg(long)]
    pub trim_codebooks: bool,
}

impl QuantizeFlags {
    pub fn apply(&self, cfg: &mut CompressConfig) {
        if let Some(v) = self.conv_bits {
            cfg.conv_bits = v;
        }
        if let Some(v) = self.fc_bits {
            cfg.fc_bits = v;
        }
        for (k, v) in &self.bits {
            cfg.bits.insert(k.clone(), *v);
        }
        if let Some(v) = self.index_bits {
            cfg.index_bits = v;
        }
        if let Some(v) = self.init {
            cfg.init = v.into();
        }
        if let Some(v) = self.finetune_epochs {
            cfg.finetune_epochs = v;
        }
        if let Some(v) = self.bias_bits {
            cfg.bias_bits = Some(v);
        }
        if self.trim_codebooks {
            cfg.trim_codebooks = true;
        }
    }
}
