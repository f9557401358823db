//! Choosing a Burn device by name: `flex` (pure-Rust CPU, the default), `cuda[:N]` and
//! `wgpu` when shrink is built with the matching cargo feature.

use anyhow::{bail, Result};
use burn::prelude::*;

/// The device named `name` (without autodiff).
pub fn parse_device(name: &str) -> Result<Device> {
    let (kind, index) = match name.split_once(':') {
        Some((k, i)) => (
            k,
            i.parse::<usize>()
                .map_err(|_| anyhow::anyhow!("bad device index in '{name}'"))?,
        ),
        None => (name, 0),
    };
    match kind {
        "flex" | "cpu" => {
            let _ = index;
            Ok(Device::flex())
        }
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(index)),
        #[cfg(not(feature = "cuda"))]
        "cuda" => bail!("this shrink was built without CUDA; rebuild with `--features cuda`"),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default())),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => bail!("this shrink was built without wgpu; rebuild with `--features wgpu`"),
        other => bail!("unknown device '{other}': use flex, cuda[:N] or wgpu"),
    }
}
