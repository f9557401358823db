//! Fold batch normalisation into the preceding linear or conv layer (for deployment,
//! Ioffe & Szegedy §3.1 at inference): with s = γ / sqrt(var + ε),
//! W' = s · W (per output unit) and b' = s · (b − mean) + β. The BN layer disappears
//! from the spec and the layers after it are renumbered.

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
                let w = get(table, &format!("{old}.weight"))?;
                let gamma = &get(table, &format!("{bn}.weight"))?.data;
                let beta = &get(table, &format!("{bn}.bias"))?.data;
                let mean = &get(table, &format!("{bn}.running_mean"))?.data;
                let var = &get(table, &format!("{bn}.running_var"))?.data;
                let outs = w.shape[0];
                let per = w.data.len() / outs;
                let bias = table
                    .get(&format!("{old}.bias"))
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
                    name: format!("{new}.weight"),
                    shape: w.shape.clone(),
                    data: wd,
                });
                out.params.push(Param {
                    name: format!("{new}.bias"),
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
            (Layer::Residual { body, shortcut }, _) => {
                let b = fold_list(
                    body,
                    &format!("{old}.body"),
                    &format!("{new}.body"),
                    table,
                    out,
                    folded,
                )?;
                let s = fold_list(
                    shortcut,
                    &format!("{old}.shortcut"),
                    &format!("{new}.shortcut"),
                    table,
                    out,
                    folded,
                )?;
                result.push(Layer::Residual {
                    body: b,
                    shortcut: s,
                });
            }
            (Layer::Highway { body, gate_bias }, _) => {
                let b = fold_list(
                    body,
                    &format!("{old}.body"),
                    &format!("{new}.body"),
                    table,
                    out,
                    folded,
                )?;
                take_prefix(table, &format!("{old}.gate"), &format!("{new}.gate"), out);
                result.push(Layer::Highway {
                    body: b,
                    gate_bias: *gate_bias,
                });
            }
            (Layer::Inception { branches }, _) => {
                let mut bs = Vec::new();
                for (bi, br) in branches.iter().enumerate() {
                    bs.push(fold_list(
                        br,
                        &format!("{old}.branches.{bi}"),
                        &format!("{new}.branches.{bi}"),
                        table,
                        out,
                        folded,
                    )?);
                }
                result.push(Layer::Inception { branches: bs });
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
