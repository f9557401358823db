//! Choosing Burn devices by name: `flex` (pure-Rust CPU, the default), `cuda[:N]` and
//! `wgpu[:N]` when shrink is built with the matching cargo feature, and comma-separated
//! lists of them (`wgpu:0,wgpu:1`, `flex,flex`) for data-parallel training
//! ([`crate::train::parallel`]); [`label`] names a device for progress lines;
//! [`init_net`] builds a model whose initial weights depend on the seed alone, not on the
//! device it lives on.
//!
//! Not here: the training step that uses several devices (`train::parallel`), and
//! anything that moves tensors during training (every module takes its device).

use crate::model::Net;
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use shrink_format::spec::ModelSpec;

/// The device named `name` (without autodiff). `name` may be a comma-separated list:
/// the first device is returned and the rest become the process's data-parallel
/// replicas ([`crate::train::parallel::set_replicas`]), so every training loop the
/// command runs splits each batch over all of them. A single name clears the replicas.
pub fn parse_device(name: &str) -> Result<Device> {
    let mut devices = parse_devices(name)?;
    let first = devices.remove(0);
    crate::train::parallel::set_replicas(devices);
    Ok(first)
}

/// Every device of the comma-separated list `names`, in order (without autodiff).
pub fn parse_devices(names: &str) -> Result<Vec<Device>> {
    let devices = names
        .split(',')
        .map(|n| one_device(n.trim()))
        .collect::<Result<Vec<_>>>()?;
    if devices.is_empty() {
        bail!("no device named in '{names}'");
    }
    Ok(devices)
}

fn one_device(name: &str) -> Result<Device> {
    let (kind, index) = match name.split_once(':') {
        Some((k, i)) => (
            k,
            Some(
                i.parse::<usize>()
                    .with_context(|| format!("bad device index in '{name}'"))?,
            ),
        ),
        None => (name, None),
    };
    match kind {
        "flex" | "cpu" => match index {
            None | Some(0) => Ok(Device::flex()),
            Some(i) => bail!(
                "there is one Flex (CPU) device, flex:{i} does not exist; name it twice \
                 (flex,flex) for two replicas on the CPU"
            ),
        },
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(index.unwrap_or(0))),
        #[cfg(not(feature = "cuda"))]
        "cuda" => bail!("this shrink was built without CUDA; rebuild with `--features cuda`"),
        #[cfg(feature = "wgpu")]
        "wgpu" => wgpu_device(index),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => bail!("this shrink was built without wgpu; rebuild with `--features wgpu`"),
        "" => bail!("empty device name in a device list"),
        other => bail!("unknown device '{other}': use flex, cuda[:N] or wgpu[:N]"),
    }
}

/// `wgpu` alone: wgpu's own choice of adapter (a GPU when there is one, else a software
/// rasterizer such as lavapipe). `wgpu:N`: the N-th adapter wgpu lists.
#[cfg(feature = "wgpu")]
fn wgpu_device(index: Option<usize>) -> Result<Device> {
    let Some(i) = index else {
        return Ok(Device::wgpu(Default::default()));
    };
    let all = Device::enumerate(burn::tensor::DeviceType::Wgpu).into_vec();
    match all.get(i) {
        Some(d) => Ok(d.clone()),
        None if i == 0 => Ok(Device::wgpu(Default::default())),
        None => bail!(
            "wgpu:{i} does not exist: wgpu lists {} adapter(s) on this machine (wgpu:0..)",
            all.len()
        ),
    }
}

/// A short name for `device`, for progress lines: `flex (CPU)`, or the backend and the
/// adapter's own name (`wgpu llvmpipe (LLVM 15.0.6, 256 bits)`).
pub fn label(device: &Device) -> String {
    let inner = device.clone().inner();
    if inner == Device::flex() {
        return "flex (CPU)".to_string();
    }
    // `Device<Cube(Wgpu(WgpuDevice { .. }))>`: the runtime's name.
    let debug = format!("{inner:?}");
    let kind = debug
        .split(['(', '<', ' ', '{'])
        .filter(|w| !w.is_empty())
        .nth(2)
        .unwrap_or("device")
        .to_lowercase();
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    if let Some(id) = inner.identity() {
        return format!("{kind} {}", id.name);
    }
    kind
}

/// The model for `spec` on `device`, initialised from `seed` (the device is seeded too,
/// for what training draws later: dropout masks, noise). On Flex this is exactly
/// `device.seed(seed); Net::new(spec, device)`; on any other device the weights are drawn
/// on Flex from the same seed and moved, so one seed gives the same starting weights on
/// every device (Burn's random kernels differ between backends).
pub fn init_net(spec: &ModelSpec, seed: u64, device: &Device) -> Result<Net> {
    device.seed(seed);
    if is_flex(device) {
        return Ok(Net::new(spec, device)?);
    }
    let flex = if device.is_autodiff() {
        Device::flex().autodiff()
    } else {
        Device::flex()
    };
    flex.seed(seed);
    let net = Net::new(spec, &flex)?;
    Ok(burn::module::Module::fork(net, device))
}

/// Whether `device` (with or without autodiff) is the Flex CPU device.
pub fn is_flex(device: &Device) -> bool {
    device.clone().inner() == Device::flex()
}
