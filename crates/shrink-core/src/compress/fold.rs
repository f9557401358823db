//! Fold batch normalisation into the preceding linear or conv layer (for deployment,
//! Ioffe & Szegedy §3.1 at inference): with s = γ / sqrt(var + ε),
//! W' = s · W (per output unit) and b' = s · (b − mean) + β. The BN layer disappears
//! from the spec and the layers after it are renumbered. A linear layer with a linear
//! bottleneck (`W = V·U`) folds into `V`, the factor that produces the outputs; `U`
//! is kept as it is.

use super::params::{Param, ParamTable};
use anyhow::{anyhow, Result};
use shrink_format::spec::{Layer, ModelSpec};

/// Fold every `batch_norm` that directly follows a `linear` or `conv2d` (at any depth).
/// Returns the new spec, its parameters, and how many BN layers were folded.
pub fn fold_batch_norm(
    spec: &ModelSpec,
    table: &ParamTable,
) -> Result<(ModelSpec, ParamTable, usize)> {
    let mut out = ParamTable::default();
    let mut folded = 0;
    let layers = fold_list(
        &spec.layers,
        "layers",
        "layers",
        table,
        &mut out,
        &mut folded,
    )?;
    let mut s = spec.clone();
    s.layers = layers;
    s.infer()?;
    Ok((s, out, folded))
}

fn take_prefix(table: &ParamTable, old: &str, new: &str, out: &mut ParamTable) {
    let pre = format!("{old}.");
    for p in &table.params {
        if let Some(rest) = p.name.strip_prefix(&pre) {
            out.params.push(Param {
                name: format!("{new}.{rest}"),
                ..p.clone()
            });
        }
    }
}

fn get<'a>(table: &'a ParamTable, name: &str) -> Result<&'a Param> {
    table
        .get(name)
        .ok_or_else(|| anyhow!("missing parameter {name}"))
}

fn fold_list(
    layers: &[Layer],
    old_prefix: &str,
    new_prefix: &str,
    table: &ParamTable,
    out: &mut ParamTable,
    folded: &mut usize,
) -> Result<Vec<Layer>> {
    let mut result = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        let old = format!("{old_prefix}.{i}");
        let new = format!("{new_prefix}.{}", result.len());
        let next_is_bn = matches!(layers.get(i + 1), Some(Layer::BatchNorm { .. }));
        match (&layers[i], next_is_bn) {
            (Layer::Linear { .. } | Layer::Conv2d { .. }, true) => {
                let Some(Layer::BatchNorm { eps, .. }) = layers.get(i + 1) else {
                    unreachable!()
                };
                let bn = format!("{old_prefix}.{}", i + 1);
                // Where the per-output weights and bias live: `V` of a bottleneck.
                let (old_w, new_w) = if matches!(
                    layers[i],
                    Layer::Linear {
                        bottleneck: Some(_),
                        ..
                    }
                ) {
                    take_prefix(table, &format!("{old}.u"), &format!("{new}.u"), out);
                    (format!("{old}.v"), format!("{new}.v"))
                } else {
                    (old.clone(), new.clone())
                };
                let w = get(table, &format!("{old_w}.weight"))?;
                let gamma = &get(table, &format!("{bn}.weight"))?.data;
                let beta = &get(table, &format!("{bn}.bias"))?.data;
                let mean = &get(table, &format!("{bn}.running_mean"))?.data;
                let var = &get(table, &format!("{bn}.running_var"))?.data;
                let outs = w.shape[0];
                let per = w.data.len() / outs;
                let bias = table
                    .get(&format!("{old_w}.bias"))
                    .map(|b| b.data.clone())
                    .unwrap_or_else(|| vec![0.0; outs]);
                let mut wd = w.data.clone();
                let mut bd = vec![0.0f32; outs];
                for c in 0..outs {
                    let s = gamma[c] as f64 / (var[c] as f64 + eps).sqrt();
                    for v in &mut wd[c * per..(c + 1) * per] {
                        *v = (*v as f64 * s) as f32;
                    }
                    bd[c] = (s * (bias[c] as f64 - mean[c] as f64) + beta[c] as f64) as f32;
                }
                out.params.push(Param {
                    name: format!("{new_w}.weight"),
                    shape: w.shape.clone(),
                    data: wd,
                });
                out.params.push(Param {
                    name: format!("{new_w}.bias"),
                    shape: vec![outs],
                    data: bd,
                });
                let mut l = layers[i].clone();
                match &mut l {
                    Layer::Linear { bias, .. } | Layer::Conv2d { bias, .. } => *bias = true,
                    _ => unreachable!(),
                }
                result.push(l);
                *folded += 1;
                i += 2;
                continue;
            }
            (l, _) if l.is_block() => {
                // Each sub-layer list folded on its own, under its module name.
                let mut block = l.clone();
                for (name, list) in block.children_mut() {
                    *list = fold_list(
                        list,
                        &format!("{old}.{name}"),
                        &format!("{new}.{name}"),
                        table,
                        out,
                        folded,
                    )?;
                }
                if let Layer::Highway { .. } = l {
                    take_prefix(table, &format!("{old}.gate"), &format!("{new}.gate"), out);
                }
                result.push(block);
            }
            (l, _) => {
                take_prefix(table, &old, &new, out);
                result.push(l.clone());
            }
        }
        i += 1;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Feat, Net};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    /// A bottleneck linear followed by batch norm folds into `V`, and the folded net
    /// computes what the original computed at inference.
    #[test]
    fn bottleneck_linear_folds_into_v() {
        let text = "input = [6]\n[[layers]]\ntype = \"linear\"\nout = 5\nbottleneck = 3\n[[layers]]\ntype = \"batch_norm\"\n[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"linear\"\nout = 2\n";
        let spec = ModelSpec::from_toml(text).unwrap();
        let dev = Device::flex();
        dev.seed(11);
        let mut net = Net::new(&spec, &dev).unwrap();
        let mut table = ParamTable::from_net(&net).unwrap();
        // Non-trivial batch-norm state.
        for (name, base) in [
            ("layers.1.weight", 1.5),
            ("layers.1.bias", 0.3),
            ("layers.1.running_mean", -0.2),
            ("layers.1.running_var", 2.0),
        ] {
            let p = table.get_mut(name).unwrap();
            for (i, v) in p.data.iter_mut().enumerate() {
                *v = base + 0.1 * i as f32;
            }
        }
        table.load_into(&mut net).unwrap();
        let (fspec, ftable, folded) = fold_batch_norm(&spec, &table).unwrap();
        assert_eq!(folded, 1);
        assert_eq!(fspec.layers.len(), 3);
        let names: Vec<&str> = ftable.params.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"layers.0.u.weight") && names.contains(&"layers.0.v.bias"));
        assert!(names.contains(&"layers.2.weight"), "{names:?}");
        let mut fnet = Net::new(&fspec, &dev).unwrap();
        ftable.load_into(&mut fnet).unwrap();
        let x = Tensor::<2>::random([4, 6], Distribution::Normal(0.0, 1.0), &dev);
        let a = net.valid().forward(Feat::Flat(x.clone()));
        let b = fnet.valid().forward(Feat::Flat(x));
        let diff: f32 = (a - b).abs().max().into_scalar();
        assert!(diff < 1e-4, "{diff}");
    }
}
