//! The weight-sharing and encoding flags shared by `quantize` and `compress`, as the
//! library's overrides of a spec's `[compress]` table (`shrink_core::compress::overrides`).
//!
//! Not here: what the settings do (`shrink_core::compress`).

use super::compress_flags::parse_named;
use shrink_core::compress::overrides::Overrides;
use shrink_core::compress::quantize::CentroidInit;

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
    /// These flags as the library's overrides of `[compress]`.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            conv_bits: self.conv_bits,
            fc_bits: self.fc_bits,
            bits: self.bits.clone(),
            index_bits: self.index_bits,
            init: self.init.map(Into::into),
            finetune_epochs: self.finetune_epochs,
            bias_bits: self.bias_bits,
            trim_codebooks: self.trim_codebooks,
            ..Default::default()
        }
    }
}
