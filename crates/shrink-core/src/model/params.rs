//! A model's parameters as a plain, ordered table of named f32 tensors in PyTorch
//! layout — the form compression works on and the `.shrk` file stores.
//!
//! Conversion to and from a Burn [`Net`] goes through in-memory safetensors, so the
//! names and layouts are exactly those of `model.safetensors` files.

use crate::model::Net;
use anyhow::{bail, Context, Result};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

/// One named tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// All parameters of a model, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamTable {
    pub params: Vec<Param>,
}

impl ParamTable {
    /// Read every parameter of `net` (PyTorch names and layouts).
    pub fn from_net(net: &Net) -> Result<ParamTable> {
        let mut store = SafetensorsStore::from_bytes(None)
            .skip_enum_variants(true)
            .with_to_adapter(BurnToPyTorchAdapter);
        net.save_into(&mut store)
            .context("cannot read parameters")?;
        let bytes = store.get_bytes().context("cannot read parameters")?;
        let st = safetensors::SafeTensors::deserialize(&bytes).context("cannot read parameters")?;
        let mut params = Vec::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                bail!("parameter {name} is {:?}, expected f32", view.dtype());
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            params.push(Param {
                name,
                shape: view.shape().to_vec(),
                data,
            });
        }
        // Model order (layers.2 before layers.10), not alphabetical.
        params.sort_by_key(|p| natural_key(&p.name));
        Ok(ParamTable { params })
    }

    /// Write these parameters into `net` (every parameter of the net must be present).
    pub fn load_into(&self, net: &mut Net) -> Result<()> {
        let bytes = self.to_safetensors()?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes))
            .skip_enum_variants(true)
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true)
            .validate(true);
        let r = net
            .load_from(&mut store)
            .context("cannot load parameters")?;
        if let Some(e) = r.errors.first() {
            bail!("cannot load parameters: {e}");
        }
        if let Some((p, _)) = r.missing.first() {
            bail!("no value for parameter {p}");
        }
        Ok(())
    }

    /// Serialise as safetensors bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let raw: Vec<Vec<u8>> = self
            .params
            .iter()
            .map(|p| p.data.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = self
            .params
            .iter()
            .zip(&raw)
            .map(|(p, r)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, p.shape.clone(), r)
                    .map(|v| (p.name.clone(), v))
                    .with_context(|| p.name.clone())
            })
            .collect::<Result<_>>()?;
        safetensors::serialize(views, None).context("cannot write parameters")
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Param> {
        self.params.iter_mut().find(|p| p.name == name)
    }

    /// Number of values.
    pub fn numel(&self) -> usize {
        self.params.iter().map(|p| p.data.len()).sum()
    }
}

/// Sort key that orders `layers.2.weight` before `layers.10.weight`.
pub fn natural_key(name: &str) -> Vec<(u64, String)> {
    name.split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, part.to_string()),
        })
        .collect()
}
