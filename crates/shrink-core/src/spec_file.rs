//! A spec file as users write it, parsed once into types: the model spec, the `[train]`
//! table (training settings for that network) and the `[compress]` table (its Deep
//! Compression settings). Keys a table leaves out take their defaults; an unknown key or
//! a wrong type is an error naming the table.
//!
//! Not here: the spec's own parsing and size limits (`model::io::parse_spec_text`), what
//! the settings mean (`train::config`, `compress`).

use crate::compress::CompressConfig;
use crate::model::io;
use crate::train::TrainConfig;
use anyhow::{Context, Result};
use shrink_format::spec::ModelSpec;
use std::path::Path;

/// A spec file: `zoo/lenet-5.toml`, or a model directory's spec.toml.
#[derive(Debug, Clone)]
pub struct SpecFile {
    /// The network.
    pub spec: ModelSpec,
    /// `[train]` (defaults where the file has none).
    pub train: TrainConfig,
    /// `[compress]` (defaults where the file has none).
    pub compress: CompressConfig,
}

impl SpecFile {
    /// Read and validate `path`.
    pub fn read(path: &Path) -> Result<SpecFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read spec {}", path.display()))?;
        SpecFile::parse(&text).with_context(|| format!("spec {}", path.display()))
    }

    /// The spec file of `model`: a spec file itself, or a model directory's `spec.toml`.
    pub fn of_model(model: &Path) -> Result<SpecFile> {
        if model.is_dir() {
            SpecFile::read(&model.join(io::SPEC_FILE))
        } else {
            SpecFile::read(model)
        }
    }

    /// The spec's name, or else `path`'s file stem, or else `fallback`.
    pub fn name(&self, path: &Path, fallback: &str) -> String {
        if !self.spec.name.is_empty() {
            return self.spec.name.clone();
        }
        path.file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| fallback.into())
    }

    /// Parse spec text (see [`io::parse_spec_text`] for the limits checked).
    pub fn parse(text: &str) -> Result<SpecFile> {
        let (spec, rest) = io::parse_spec_text(text)?;
        Ok(SpecFile {
            spec,
            train: TrainConfig::from_table(rest.get("train"))?,
            compress: CompressConfig::from_table(rest.get("compress"))?,
        })
    }
}

/// `[train]` and `[compress]` as tables to keep beside a saved model's spec, so that
/// `shrink compress` on the model directory uses them.
pub fn settings_tables(train: &TrainConfig, compress: &CompressConfig) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    t.insert(
        "train".into(),
        toml::Value::try_from(train).context("[train] as TOML")?,
    );
    t.insert(
        "compress".into(),
        toml::Value::try_from(compress).context("[compress] as TOML")?,
    );
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every zoo spec's settings survive being written into a model directory and read
    /// back (a trained model's spec.toml carries them to `shrink compress`).
    #[test]
    fn settings_round_trip() {
        let zoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zoo");
        let mut n = 0;
        for e in std::fs::read_dir(&zoo).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                // vgg-16 and alexnet are over the default limits (max_macs): not read here.
                let Ok(f) = SpecFile::read(&p) else { continue };
                let mut text = f.spec.to_toml();
                text.push('\n');
                text.push_str(
                    &toml::to_string(&settings_tables(&f.train, &f.compress).unwrap()).unwrap(),
                );
                let back = SpecFile::parse(&text).unwrap();
                assert_eq!(
                    serde_json::to_value(&back.train).unwrap(),
                    serde_json::to_value(&f.train).unwrap(),
                    "{}",
                    p.display()
                );
                assert_eq!(
                    serde_json::to_value(&back.compress).unwrap(),
                    serde_json::to_value(&f.compress).unwrap(),
                    "{}",
                    p.display()
                );
                n += 1;
            }
        }
        assert!(n >= 3, "zoo specs found: {n}");
        let lenet = std::fs::read_to_string(zoo.join("lenet-300-100.toml")).unwrap();
        let bad = SpecFile::parse(&format!("{lenet}\n[compress.extra]\nroundz = 2\n"));
        assert!(bad.is_err());
    }
}
