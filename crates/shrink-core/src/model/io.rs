//! Model files: a model directory is `spec.toml` + `model.safetensors` (+ run metrics).
//!
//! Weights are saved under PyTorch names and layouts (`layers.0.weight`, linear weights
//! `[out, in]`, norm `weight`/`bias`) so that a file written here loads in PyTorch and a
//! PyTorch `state_dict` saved as safetensors loads here (see [`import_pytorch`]).
//! Every write goes to a temporary name first and is renamed into place. A `.shrk` file
//! reads back here too ([`read_shrk`], [`load_shrk`]: decoded to dense weights).
//!
//! Not here: writing a `.shrk` (`compress::encode`), running one as stored
//! (`classifier`, shrink-runtime).

use super::params::{Param, ParamTable};
use super::Net;
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use burn::store::{KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use shrink_format::spec::ModelSpec;
use shrink_format::{ShrkModel, TensorData as ShrkData};
use std::path::{Path, PathBuf};

/// File names inside a model directory.
pub const SPEC_FILE: &str = "spec.toml";
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Folder of a run directory holding weight snapshots (`shrink train --snapshot-every`).
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Where the snapshot of the weights after `epoch` (1-based) goes:
/// `dir/snapshots/epoch-003.safetensors`.
pub fn snapshot_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(SNAPSHOT_DIR)
        .join(format!("epoch-{epoch:03}.safetensors"))
}

/// The snapshots of a run directory as `(epoch, path)`, by epoch; none if it has none.
pub fn list_snapshots(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let folder = dir.join(SNAPSHOT_DIR);
    if !folder.is_dir() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(&folder).with_context(|| format!("cannot read {}", folder.display()))?
    {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let epoch = name
            .strip_prefix("epoch-")
            .and_then(|r| r.strip_suffix(".safetensors"))
            .and_then(|e| e.parse::<usize>().ok());
        if let Some(e) = epoch {
            out.push((e, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Read and validate the model spec of a spec file (`zoo/lenet-5.toml`, or a model
/// directory's spec.toml), leaving its `[train]` and `[compress]` tables aside (the
/// whole file, typed: `crate::spec_file::SpecFile`).
pub fn read_spec_file(path: &Path) -> Result<ModelSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read spec {}", path.display()))?;
    Ok(parse_spec_text(&text)
        .with_context(|| format!("spec {}", path.display()))?
        .0)
}

/// Parse spec text within the limits in force ([`crate::limits::get`]): the text's size
/// before parsing, then the network's layer count, nesting, parameters, activations and
/// multiply-adds before anything is built. Returns the spec and the file's other
/// top-level tables (`train`, `compress`), untouched.
pub fn parse_spec_text(text: &str) -> Result<(ModelSpec, toml::Table)> {
    let limits = crate::limits::get();
    if text.len() as u64 > limits.max_spec_bytes {
        bail!(
            "the spec is {} bytes, more than the limit of {} (max_spec_bytes)",
            text.len(),
            limits.max_spec_bytes
        );
    }
    let mut value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        anyhow::anyhow!(
            "not valid TOML: {}",
            shrink_format::limits::excerpt(e.message(), 400)
        )
    })?;
    let mut rest = toml::Table::new();
    for key in ["train", "compress"] {
        if let Some(v) = value.remove(key) {
            rest.insert(key.into(), v);
        }
    }
    let spec: ModelSpec = toml::Value::Table(value)
        .try_into()
        .map_err(|e: toml::de::Error| {
            anyhow::anyhow!("{}", shrink_format::limits::excerpt(e.message(), 400))
        })?;
    spec.check(&limits)?;
    Ok((spec, rest))
}

/// Write `bytes` to `path` through a temporary file and a rename; on failure the
/// temporary file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{}: is a directory, cannot write a file there",
            path.display()
        );
    }
    let tmp = tmp_name(path);
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot rename into {}", path.display()));
    }
    Ok(())
}

/// Check, before any work, that the file `path` can be written: not a directory, its
/// folder exists, and (unless `replace`) nothing is there yet.
pub fn check_output_file(path: &Path, replace: bool) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{}: is a directory; give the path of the file to write",
            path.display()
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!("{}: no such directory", dir.display());
        }
    }
    if path.exists() && !replace {
        bail!(
            "{}: already exists; pass --force to replace it",
            path.display()
        );
    }
    Ok(())
}

/// Check, before any work, that `dir` does not already hold a run (any of `marks`)
/// unless the run is to be resumed: starting over silently would mix old and new files.
pub fn check_run_dir(dir: &Path, resume: bool, marks: &[&str]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("{}: exists and is not a directory", dir.display());
    }
    if resume {
        return Ok(());
    }
    if let Some(m) = marks.iter().find(|m| dir.join(m).exists()) {
        bail!(
            "{}: already holds a run ({m}); pass --resume to continue it, or choose another --out",
            dir.display()
        );
    }
    Ok(())
}

/// `dir/.name.tmp` for `dir/name`.
pub fn tmp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Save weights as PyTorch-compatible safetensors (tensors in model order, so the
/// same weights always give the same bytes).
pub fn save_weights(net: &Net, path: &Path) -> Result<()> {
    let bytes = ParamTable::from_net(net)?.to_safetensors()?;
    write_atomic(path, &bytes)
}

/// Load weights saved by [`save_weights`] (or an equivalently named file) into `net`.
/// Every parameter of the net must be present with the right shape.
pub fn load_weights(net: &mut Net, path: &Path, remap: Option<KeyRemapper>) -> Result<()> {
    if !path.is_file() {
        bail!("{}: no such weights file", path.display());
    }
    let mut store = SafetensorsStore::from_file(path)
        .skip_enum_variants(true)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .validate(true);
    if let Some(r) = remap {
        store = store.remap(r);
    }
    let result = net
        .load_from(&mut store)
        .with_context(|| format!("{}: cannot read weights", path.display()))?;
    if let Some(e) = result.errors.first() {
        bail!("{}: {e}", path.display());
    }
    // Running statistics of batch norm are buffers that PyTorch also saves; anything
    // else missing means the file does not match the spec.
    let missing: Vec<_> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    if !missing.is_empty() {
        bail!(
            "{}: the file has no tensor for {} (and {} more); does the spec match the weights?",
            path.display(),
            missing[0],
            missing.len() - 1
        );
    }
    Ok(())
}

/// Save a model directory (spec.toml + model.safetensors). `extra` tables (the
/// `[train]` settings it was trained with, `[compress]` defaults) are kept in spec.toml
/// so that later commands on the directory use them.
pub fn save_model_with(dir: &Path, spec: &ModelSpec, net: &Net, extra: &toml::Table) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    save_weights(net, &dir.join(WEIGHTS_FILE))?;
    let mut text = spec.to_toml();
    if !extra.is_empty() {
        text.push('\n');
        text.push_str(&toml::to_string(extra).context("the spec's settings as TOML")?);
    }
    write_atomic(&dir.join(SPEC_FILE), text.as_bytes())?;
    Ok(())
}

/// Save a model directory with no extra tables.
pub fn save_model(dir: &Path, spec: &ModelSpec, net: &Net) -> Result<()> {
    save_model_with(dir, spec, net, &toml::Table::new())
}

/// Load a model directory onto `device`.
pub fn load_model(dir: &Path, device: &Device) -> Result<(ModelSpec, Net)> {
    if !dir.is_dir() {
        bail!(
            "{}: not a model directory (expected spec.toml and model.safetensors)",
            dir.display()
        );
    }
    let spec = read_spec_file(&dir.join(SPEC_FILE))?;
    let mut net = Net::new(&spec, device)?;
    load_weights(&mut net, &dir.join(WEIGHTS_FILE), None)?;
    Ok((spec, net))
}

/// Import a PyTorch `state_dict` saved with `safetensors.torch.save_file` from an
/// `nn.Sequential` whose modules line up one-to-one with the spec's layers (PyTorch's
/// `0.weight` becomes `layers.0.weight`).
pub fn import_pytorch(spec: &ModelSpec, path: &Path, device: &Device) -> Result<Net> {
    let mut net = Net::new(spec, device)?;
    let remap = KeyRemapper::new()
        .add_pattern(r"^(\d+)\.", "layers.$1.")
        .expect("a fixed pattern that compiles");
    load_weights(&mut net, path, Some(remap))?;
    Ok(net)
}

/// Read a `.shrk` file: its spec and dense parameters. The file passes the runtime's
/// validation first (the one validation of a `.shrk` model: limits, shapes, finite
/// values, no missing or unused tensor), so the Burn path accepts exactly what
/// `shrink run` accepts, before anything is expanded to dense.
pub fn read_shrk(path: &Path) -> Result<(ModelSpec, ParamTable, ShrkModel)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = shrink_format::read(&bytes).with_context(|| path.display().to_string())?;
    shrink_runtime::Model::from_shrk_with(&model, &crate::limits::get())
        .with_context(|| path.display().to_string())?;
    let spec =
        ModelSpec::from_toml(&model.spec_toml).with_context(|| path.display().to_string())?;
    let mut table = ParamTable::default();
    for t in &model.tensors {
        let (shape, data) = match &t.data {
            ShrkData::Dense { shape, values } => (shape, values.clone()),
            ShrkData::Compressed(c) => (&c.shape, c.to_dense()),
        };
        table.params.push(Param {
            name: t.name.clone(),
            shape: shape.iter().map(|&d| d as usize).collect(),
            data,
        });
    }
    Ok((spec, table, model))
}

/// Decode a `.shrk` into a Burn model (inference copy) on `device`.
pub fn load_shrk(path: &Path, device: &Device) -> Result<(ModelSpec, Net)> {
    let (spec, table, _) = read_shrk(path)?;
    let mut net = Net::new(&spec, device).with_context(|| path.display().to_string())?;
    table
        .load_into(&mut net)
        .with_context(|| path.display().to_string())?;
    // Every parameter of the spec must come from the file.
    let expected = ParamTable::from_net(&net)?;
    for p in &expected.params {
        if table.get(&p.name).is_none() {
            bail!("{}: the file has no tensor {}", path.display(), p.name);
        }
    }
    Ok((spec, net))
}
