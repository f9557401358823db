//! Settings a command line lays over a spec's `[compress]` table (`shrink compress`,
//! `prune`, `quantize`): each one given replaces the table's, per-layer ones add to it.
//!
//! Not here: the flags themselves (the `shrink` binary), the table's own parsing and
//! defaults (`CompressConfig`).

use super::quantize::CentroidInit;
use super::{CompressConfig, Sparsifier};

/// What a command line may set in `[compress]` (None, empty or false: the table's).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Pruning threshold = quality × std of a layer's weights; clears the table's `keep`.
    pub quality: Option<f64>,
    /// Kept fractions of single layers, added to the table's `keep`.
    pub keep: Vec<(String, f64)>,
    pub rounds: Option<usize>,
    pub retrain_epochs: Option<usize>,
    pub method: Option<Sparsifier>,
    /// `sparse_vd.epochs`.
    pub vd_epochs: Option<usize>,
    /// `sparse_vd.kl_weight`.
    pub vd_kl_weight: Option<f64>,
    /// Turns `remove_units` on.
    pub remove_units: bool,
    pub conv_bits: Option<u8>,
    pub fc_bits: Option<u8>,
    /// Bits of single layers, added to the table's `bits`.
    pub bits: Vec<(String, u8)>,
    pub index_bits: Option<u8>,
    pub init: Option<CentroidInit>,
    pub finetune_epochs: Option<usize>,
    pub bias_bits: Option<u8>,
    /// Turns `trim_codebooks` on.
    pub trim_codebooks: bool,
}

impl Overrides {
    /// Lay these settings over `cfg`.
    pub fn apply(&self, cfg: &mut CompressConfig) {
        if let Some(q) = self.quality {
            cfg.quality = q;
            cfg.keep.clear();
        }
        for (k, v) in &self.keep {
            cfg.keep.insert(k.clone(), *v);
        }
        set(&mut cfg.rounds, self.rounds);
        set(&mut cfg.retrain_epochs, self.retrain_epochs);
        set(&mut cfg.method, self.method);
        set(&mut cfg.sparse_vd.epochs, self.vd_epochs);
        set(&mut cfg.sparse_vd.kl_weight, self.vd_kl_weight);
        cfg.remove_units |= self.remove_units;
        set(&mut cfg.conv_bits, self.conv_bits);
        set(&mut cfg.fc_bits, self.fc_bits);
        for (k, v) in &self.bits {
            cfg.bits.insert(k.clone(), *v);
        }
        set(&mut cfg.index_bits, self.index_bits);
        set(&mut cfg.init, self.init);
        set(&mut cfg.finetune_epochs, self.finetune_epochs);
        if let Some(v) = self.bias_bits {
            cfg.bias_bits = Some(v);
        }
        cfg.trim_codebooks |= self.trim_codebooks;
    }
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_settings_replace_and_per_layer_ones_add() {
        let mut cfg = CompressConfig::default();
        cfg.keep.insert("layers.1.weight".into(), 0.5);
        cfg.bits.insert("layers.1.weight".into(), 6);
        let before = cfg.clone();
        Overrides::default().apply(&mut cfg);
        assert_eq!(cfg, before, "nothing given, nothing changed");
        Overrides {
            keep: vec![("layers.3.weight".into(), 0.1)],
            bits: vec![("layers.3.weight".into(), 3)],
            fc_bits: Some(2),
            vd_epochs: Some(7),
            trim_codebooks: true,
            ..Default::default()
        }
        .apply(&mut cfg);
        assert_eq!(cfg.keep.len(), 2);
        assert_eq!(cfg.bits["layers.3.weight"], 3);
        assert_eq!((cfg.fc_bits, cfg.sparse_vd.epochs), (2, 7));
        assert!(cfg.trim_codebooks);
        // A quality threshold replaces every kept fraction.
        Overrides {
            quality: Some(1.5),
            ..Default::default()
        }
        .apply(&mut cfg);
        assert!(cfg.keep.is_empty());
        assert_eq!(cfg.quality, 1.5);
    }
}
