//! Flags that override a spec's `[train]` table (`shrink train`, `shrink mimic`).

use shrink_core::train::config::Overrides;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrainFlags {
    /// Training epochs [default: the spec's [train] table].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed of the initial weights, the shuffling and the splits.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl TrainFlags {
    /// As overrides of a `[train]` table.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            epochs: self.epochs,
            lr: self.lr,
            batch_size: self.batch_size,
            seed: self.seed,
        }
    }
}
