//! The CNN toolbox of Gu et al. (2015, "Recent advances in convolutional neural
//! networks") on one small CNN: each variant changes one component of a base spec or
//! its training settings — the activation (§3.3: ReLU, Leaky ReLU, PReLU, RReLU, ELU,
//! Maxout, and the older sigmoid and tanh), the initialisation (§4.4: Xavier, He, a
//! small Gaussian), dropout (§4.2), batch normalisation (§4.6), data augmentation
//! (§4.3), shortcut connections (§4.7), the loss (§3.4: softmax cross-entropy vs hinge).
//! Every variant is trained with the same seeds; the table gives test error (mean ± std)
//! and training time.

use super::{mean_std, noise_threshold, Common, DataSettings, Store, Uncertain};
use crate::report::{Bar, BarChart, Report};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shrink_core::train::config::AugmentConfig;
use shrink_core::train::{Diverged, LossKind, TrainConfig};
use shrink_data::DataSource;
use shrink_format::spec::{Init, Layer, ModelSpec};
use std::time::Instant;

/// The base: three 3×3 convolutions of 8 channels with ReLU (He initialisation), two
/// 2×2 max-pools, a linear classifier — about 5k parameters, small enough that 45 runs
/// (15 variants × 3 seeds) fit in well under an hour on 2 CPU cores.
pub fn base_spec() -> ModelSpec {
    let conv = || Layer::Conv2d {
        out: 8,
        kernel: 3,
        stride: 1,
        padding: 1,
        dilation: 1,
        bias: true,
        init: Init::HeNormal,
        groups: 1,
    };
    ModelSpec {
        name: "ablation-cnn".into(),
        input: vec![1, 28, 28],
        normalize: None,
        class_names: vec![],
        layers: vec![
            conv(), // [8, 28, 28]
            Layer::Relu,
            Layer::MaxPool2d {
                kernel: 2,
                stride: None,
                padding: 0,
            }, // [8, 14, 14]
            conv(),
            Layer::Relu,
            conv(),
            Layer::Relu,
            Layer::MaxPool2d {
                kernel: 2,
                stride: None,
                padding: 0,
            }, // [8, 7, 7]
            Layer::Flatten, // [392]
            Layer::Linear {
                out: 10,
                bias: true,
                init: Init::HeNormal,
                bottleneck: None,
            },
        ],
    }
}

/// The base training settings.
pub fn base_config(epochs: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        lr,
        momentum: 0.9,
        val_fraction: 0.0,
        ..TrainConfig::default()
    }
}

/// Every ReLU replaced by `act`. For maxout the layer before each activation gets
/// `pieces` times the units, so the widths after it stay the same.
pub fn with_activation(spec: &ModelSpec, act: &Layer) -> ModelSpec {
    let mut out = spec.clone();
    let mut layers: Vec<Layer> = Vec::new();
    for l in &spec.layers {
        if matches!(l, Layer::Relu) {
            if let Layer::Maxout { pieces } = act {
                match layers.last_mut() {
                    Some(Layer::Conv2d { out, .. }) | Some(Layer::Linear { out, .. }) => {
                        *out *= pieces
                    }
                    _ => {}
                }
            }
            layers.push(act.clone());
        } else {
            layers.push(l.clone());
        }
    }
    out.layers = layers;
    out
}

/// Every weighted layer initialised with `init`.
pub fn with_init(spec: &ModelSpec, init: Init) -> ModelSpec {
    fn set(layers: &mut [Layer], to: Init) {
        for l in layers {
            if let Some(init) = l.init_mut() {
                *init = to;
            }
            for (_, list) in l.children_mut() {
                set(list, to);
            }
        }
    }
    let mut out = spec.clone();
    set(&mut out.layers, init);
    out
}

/// Dropout with rate `p` before the last linear layer.
pub fn with_dropout(spec: &ModelSpec, p: f64) -> ModelSpec {
    let mut out = spec.clone();
    if let Some(i) = out
        .layers
        .iter()
        .rposition(|l| matches!(l, Layer::Linear { .. }))
    {
        out.layers.insert(i, Layer::Dropout { p });
    }
    out
}

/// Batch normalisation after every convolution (before its activation); the
/// convolutions lose their bias, which BN makes redundant.
pub fn with_batch_norm(spec: &ModelSpec) -> ModelSpec {
    let mut out = spec.clone();
    let mut layers = Vec::new();
    for l in &spec.layers {
        let mut l = l.clone();
        let conv = if let Layer::Conv2d { bias, .. } = &mut l {
            *bias = false;
            true
        } else {
            false
        };
        layers.push(l);
        if conv {
            layers.push(Layer::BatchNorm {
                eps: 1e-5,
                momentum: 0.1,
            });
        }
    }
    out.layers = layers;
    out
}

/// The first `conv, act, conv, act` run that keeps its shape becomes a shortcut block
/// `relu(x + conv(act(conv(x))))` (He et al.'s basic block without BN): same weights,
/// one extra addition.
pub fn with_residual(spec: &ModelSpec) -> Result<ModelSpec> {
    let (infos, _) = spec.infer()?;
    let top: Vec<_> = infos.iter().filter(|i| i.depth == 0).collect();
    let l = &spec.layers;
    for i in 0..l.len().saturating_sub(3) {
        let pattern = matches!(l[i], Layer::Conv2d { .. })
            && l[i + 1].is_activation()
            && matches!(l[i + 2], Layer::Conv2d { .. })
            && l[i + 3].is_activation();
        if pattern && top[i].input == top[i + 2].output {
            let mut out = spec.clone();
            let body = vec![l[i].clone(), l[i + 1].clone(), l[i + 2].clone()];
            out.layers.splice(
                i..i + 3,
                [Layer::Residual {
                    body,
                    shortcut: vec![],
                }],
            );
            return Ok(out);
        }
    }
    bail!("the spec has no shape-keeping conv, act, conv, act run to put a shortcut around")
}

/// One variant: a name, what it changes, the spec and settings it trains.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: &'static str,
    pub change: &'static str,
    pub spec: ModelSpec,
    pub cfg: TrainConfig,
}

/// All variants, generated from the base spec and settings.
pub fn variants(base: &ModelSpec, cfg: &TrainConfig) -> Result<Vec<Variant>> {
    let v = |name, change, spec: ModelSpec, cfg: TrainConfig| Variant {
        name,
        change,
        spec,
        cfg,
    };
    let act =
        |name, change, layer: Layer| v(name, change, with_activation(base, &layer), cfg.clone());
    Ok(vec![
        v(
            "base",
            "ReLU, He init, cross-entropy; no dropout, BN, augmentation or shortcuts",
            base.clone(),
            cfg.clone(),
        ),
        act(
            "leaky_relu",
            "activation: Leaky ReLU (slope 0.01)",
            Layer::LeakyRelu { slope: 0.01 },
        ),
        act(
            "prelu",
            "activation: PReLU (learned slope per channel, from 0.25)",
            Layer::Prelu { init: 0.25 },
        ),
        act(
            "rrelu",
            "activation: RReLU (slope ~ U(1/8, 1/3) in training)",
            Layer::Rrelu {
                lower: 0.125,
                upper: 1.0 / 3.0,
            },
        ),
        act(
            "elu",
            "activation: ELU (alpha 1)",
            Layer::Elu { alpha: 1.0 },
        ),
        v(
            "maxout",
            "activation: maxout of 2 pieces (convs twice as wide; Xavier init, as He's gain assumes ReLU)",
            with_init(&with_activation(base, &Layer::Maxout { pieces: 2 }), Init::XavierNormal),
            cfg.clone(),
        ),
        v(
            "maxout_he",
            "activation: maxout of 2 pieces, He init kept",
            with_activation(base, &Layer::Maxout { pieces: 2 }),
            cfg.clone(),
        ),
        act("sigmoid", "activation: sigmoid", Layer::Sigmoid),
        act("tanh", "activation: tanh", Layer::Tanh),
        v(
            "xavier",
            "init: Xavier (Glorot) normal",
            with_init(base, Init::XavierNormal),
            cfg.clone(),
        ),
        v(
            "small_normal",
            "init: N(0, 0.01²)",
            with_init(base, Init::SmallNormal),
            cfg.clone(),
        ),
        v(
            "dropout",
            "dropout 0.5 before the classifier",
            with_dropout(base, 0.5),
            cfg.clone(),
        ),
        v(
            "batch_norm",
            "batch norm after each convolution",
            with_batch_norm(base),
            cfg.clone(),
        ),
        v(
            "augment",
            "augmentation: random shifts of up to 2 pixels",
            base.clone(),
            TrainConfig {
                augment: Some(AugmentConfig {
                    shift: 2,
                    rotate: 0.0,
                    hflip: false,
                }),
                ..cfg.clone()
            },
        ),
        v(
            "residual",
            "shortcut connection around the 2nd and 3rd convolutions",
            with_residual(base)?,
            cfg.clone(),
        ),
        v(
            "hinge",
            "loss: multi-class hinge (SVM)",
            base.clone(),
            TrainConfig {
                loss: LossKind::Hinge,
                ..cfg.clone()
            },
        ),
    ])
}

/// Settings of one `shrink experiment ablation`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AblationSettings {
    pub seeds: Vec<u64>,
    /// Base training settings (each variant may change one of them).
    pub train: TrainConfig,
    /// Variant names run (empty: all).
    pub only: Vec<String>,
    pub data: DataSettings,
}

/// One variant trained with one seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AblationRun {
    pub variant: String,
    pub seed: u64,
    /// Test error; a diverged run counts at chance.
    pub test_error: f64,
    /// The loss became NaN or infinite.
    pub diverged: bool,
    /// Training time (seconds, all epochs).
    pub seconds: f64,
    pub params: usize,
}

/// Per-variant summary.
#[derive(Debug, Clone, Serialize)]
pub struct VariantSummary {
    pub variant: String,
    pub change: String,
    pub test_error_mean: f64,
    pub test_error_std: f64,
    pub seconds_mean: f64,
    pub params: usize,
    /// Runs (of the seeds) whose loss blew up.
    pub diverged: usize,
}

/// Everything results.json holds.
#[derive(Debug, Clone, Serialize)]
pub struct AblationResults {
    pub runs: Vec<AblationRun>,
    pub summary: Vec<VariantSummary>,
    /// Classes of the data (chance error is 1 − 1/classes).
    pub classes: usize,
}

/// Run the experiment.
pub fn run(
    common: &Common,
    settings: AblationSettings,
    src: &DataSource,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    if src.train.shape.len() != 3 {
        bail!("the ablation CNN needs image data ([channels, height, width]); {} has examples of shape {:?}", src.name, src.train.shape);
    }
    let all = variants(&base_spec(), &settings.train)?;
    for name in &settings.only {
        if !all.iter().any(|v| v.name == name) {
            bail!(
                "unknown variant '{name}'; the variants are {}",
                all.iter().map(|v| v.name).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let chosen: Vec<Variant> = all
        .into_iter()
        .filter(|v| settings.only.is_empty() || settings.only.iter().any(|o| o == v.name))
        .collect();
    let store = Store::open(&common.out.join("runs"), common.resume)?;
    let total = chosen.len() * settings.seeds.len();
    let mut runs = Vec::new();
    let mut summary = Vec::new();
    let mut done = 0;
    // Time spent on this result, runs reused from an earlier invocation included.
    let mut reused_seconds = 0.0;
    for v in &chosen {
        let spec = super::fit_spec(v.spec.clone(), src, &src.train)?;
        let params = spec.param_count()?;
        let mut errors = Vec::new();
        let mut diverged = 0;
        let mut secs = Vec::new();
        for &seed in &settings.seeds {
            let cfg = TrainConfig {
                seed,
                ..v.cfg.clone()
            };
            let id = format!("{}-s{seed}", v.name);
            let key = serde_json::json!({"spec": spec, "train": cfg, "data": settings.data});
            let (r, reused) = store.run(&id, &key, || {
                let t0 = Instant::now();
                match super::train_plain(&spec, &cfg, src, &common.device) {
                    Ok((out, batcher)) => {
                        let valid = burn::module::Module::valid(&out.net);
                        let acc = batcher.accuracy(
                            &valid,
                            shrink_core::batch::Split::Test,
                            &common.device,
                        );
                        Ok(AblationRun {
                            variant: v.name.into(),
                            seed,
                            test_error: 1.0 - acc,
                            diverged: false,
                            seconds: out.seconds,
                            params,
                        })
                    }
                    // A run whose loss blew up is a result too: count it at chance.
                    Err(e) if e.downcast_ref::<Diverged>().is_some() => Ok(AblationRun {
                        variant: v.name.into(),
                        seed,
                        test_error: 1.0 - 1.0 / src.train.classes.max(1) as f64,
                        diverged: true,
                        seconds: t0.elapsed().as_secs_f64(),
                        params,
                    }),
                    Err(e) => Err(e),
                }
            })?;
            if reused {
                reused_seconds += r.seconds;
            }
            done += 1;
            common.say(format!(
                "[{done}/{total}] {id}: test error {:.2}%{}{}",
                100.0 * r.test_error,
                if r.diverged { " (diverged)" } else { "" },
                if reused {
                    " (done earlier)".to_string()
                } else {
                    format!(" ({:.1}s)", r.seconds)
                }
            ));
            errors.push(r.test_error);
            diverged += r.diverged as usize;
            secs.push(r.seconds);
            runs.push(r);
        }
        let (m, s) = mean_std(&errors);
        summary.push(VariantSummary {
            variant: v.name.into(),
            change: v.change.into(),
            test_error_mean: m,
            test_error_std: s,
            seconds_mean: mean_std(&secs).0,
            params,
            diverged,
        });
    }
    let results = AblationResults {
        runs,
        summary,
        classes: src.train.classes.max(src.test.classes),
    };
    let json = crate::report::envelope(
        "ablation",
        &settings,
        &results,
        started.elapsed().as_secs_f64() + reused_seconds,
    );
    report(&settings, &results).write(&common.out, &json)?;
    Ok(json)
}

fn report(s: &AblationSettings, res: &AblationResults) -> Report {
    let mut r = Report::new("The CNN toolbox: one component at a time (Gu et al.)");
    super::quick_banner(&mut r, &s.data);
    let t = &s.train;
    r.text(format!(
        "A small CNN (three 3×3 convolutions of 8 channels, two 2×2 max-pools, a linear classifier) on {} \
({} training, {} test examples), trained for {} epoch{} (SGD, lr {}, momentum {}, {} schedule, batch {}) with {} seed{}. \
Each variant changes one thing against the base.",
        s.data.data,
        s.data.train_examples,
        s.data.test_examples,
        t.epochs,
        if t.epochs == 1 { "" } else { "s" },
        t.lr,
        t.momentum,
        format!("{:?}", t.schedule).to_lowercase(),
        t.batch_size,
        s.seeds.len(),
        if s.seeds.len() == 1 { "" } else { "s" },
    ));
    r.text(
        "Training times are wall-clock seconds on the machine named below; on a shared machine they vary \
by tens of percent between identical runs, so compare them loosely.",
    );
    let base = res
        .summary
        .iter()
        .find(|v| v.variant == "base")
        .map(|v| v.test_error_mean);
    let k = s.seeds.len();
    let n_test = s.data.test_examples;
    // Each variant's test error with the uncertainty the data supports.
    let errors: Vec<Uncertain> = res
        .summary
        .iter()
        .map(|v| {
            let e: Vec<f64> = res
                .runs
                .iter()
                .filter(|r| r.variant == v.variant)
                .map(|r| r.test_error)
                .collect();
            Uncertain::of(&e, n_test)
        })
        .collect();
    let rows = res
        .summary
        .iter()
        .zip(&errors)
        .map(|(v, u)| {
            let mut row = vec![
                v.variant.clone(),
                v.change.clone(),
                u.cell()
                    + &if v.diverged > 0 {
                        format!(" ({} of {} diverged)", v.diverged, k)
                    } else {
                        String::new()
                    },
            ];
            // With one seed the per-seed column would repeat the mean.
            if k >= 2 {
                row.push(
                    res.runs
                        .iter()
                        .filter(|r| r.variant == v.variant)
                        .map(|r| format!("{:.2}", 100.0 * r.test_error))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            row.extend([
                base.filter(|_| v.variant != "base")
                    .map_or(String::new(), |b| {
                        format!("{:+.2}", 100.0 * (v.test_error_mean - b))
                    }),
                format!("{:.1}", v.seconds_mean),
                v.params.to_string(),
            ]);
            row
        })
        .collect();
    let mut headers = vec![
        "variant",
        "what changes",
        if k >= 2 {
            "test error (%, mean ± std over seeds)"
        } else {
            "test error (%, 95% interval)"
        },
    ];
    if k >= 2 {
        headers.push("per seed (%)");
    }
    headers.extend(["vs base (points)", "train seconds", "parameters"]);
    r.heading("Test error")
        .text(super::spread_note(k, n_test))
        .table(&headers, rows)
        .bar_chart(BarChart {
            title: "Test error by variant".into(),
            value_label: if k >= 2 {
                "test error (%), bars: mean ± std over seeds".into()
            } else {
                "test error (%), bars: 95% binomial interval".into()
            },
            bars: res
                .summary
                .iter()
                .zip(&errors)
                .map(|(v, u)| Bar {
                    label: v.variant.clone(),
                    value: 100.0 * u.mean,
                    error: Some((100.0 * u.lo, 100.0 * u.hi)),
                    // Base in black, variants that diverged in orange.
                    color: if v.variant == "base" {
                        7
                    } else if v.diverged > 0 {
                        1
                    } else {
                        0
                    },
                })
                .collect(),
            reference: base.map(|b| ("base".to_string(), 100.0 * b)),
        });
    if let Some(b) = base {
        let tol = noise_threshold(
            &res.summary
                .iter()
                .map(|v| v.test_error_std)
                .collect::<Vec<_>>(),
            k,
            b,
            n_test,
        );
        let pick = |better: bool| {
            let mut v: Vec<&VariantSummary> = res
                .summary
                .iter()
                .filter(|v| v.variant != "base")
                .filter(|v| {
                    if better {
                        v.test_error_mean < b - tol
                    } else {
                        v.test_error_mean > b + tol
                    }
                })
                .collect();
            v.sort_by(|a, c| a.test_error_mean.total_cmp(&c.test_error_mean));
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(|x| format!("{} ({:+.2})", x.variant, 100.0 * (x.test_error_mean - b)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let within: Vec<&str> = res
            .summary
            .iter()
            .filter(|v| v.variant != "base" && (v.test_error_mean - b).abs() <= tol)
            .map(|v| v.variant.as_str())
            .collect();
        r.text(format!(
            "Against the base ({:.2}% error), counting differences above {:.2} points as real (the larger of twice \
the standard error of a difference of two means from the median seed-to-seed spread, and twice the binomial \
standard error of a difference of two error rates on {n_test} test examples): better — {}; worse — {}; \
within the noise — {}.{}",
            100.0 * b,
            100.0 * tol,
            pick(true),
            pick(false),
            if within.is_empty() {
                "none".to_string()
            } else {
                within.join(", ")
            },
            if k < 2 {
                " With one seed only the test set's sampling error is counted, not the training noise a second \
seed would show: treat the ranking as an anecdote (use --seeds 3)."
            } else {
                ""
            }
        ));
    }
    // Runs that never got off the ground: error within 20% of chance.
    let chance = 1.0 - 1.0 / res.classes.max(1) as f64;
    let stuck: Vec<String> = res
        .summary
        .iter()
        .filter_map(|v| {
            let seeds: Vec<String> = res
                .runs
                .iter()
                .filter(|r| r.variant == v.variant && r.test_error >= 0.8 * chance)
                .map(|r| r.seed.to_string())
                .collect();
            (!seeds.is_empty()).then(|| {
                format!(
                    "{} (seed{} {}{})",
                    v.variant,
                    if seeds.len() == 1 { "" } else { "s" },
                    seeds.join(", "),
                    if v.diverged > 0 {
                        "; loss became NaN"
                    } else {
                        ""
                    }
                )
            })
        })
        .collect();
    if !stuck.is_empty() {
        r.text(format!(
            "Runs that did not train (test error near chance, {:.0}%): {}. A mean over seeds hides these; see the per-seed column.",
            100.0 * chance,
            stuck.join("; ")
        ));
    }
    r
}

/// `shrink experiment ablation` (settings: `ablation.toml` beside this file).
pub struct AblationExperiment;

/// What `ablation.toml` holds (each also a flag of `shrink experiment ablation`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AblationFile {
    /// Number of seeds (1, 2, …).
    pub seeds: usize,
    /// Epochs per run.
    pub epochs: usize,
    /// Base learning rate (SGD, momentum 0.9, cosine).
    pub lr: f64,
    /// Run only these variants (empty: all).
    #[serde(default)]
    pub only: Vec<String>,
}

impl super::runner::Experiment for AblationExperiment {
    const NAME: &'static str = "ablation";
    const SETTINGS: &'static str = include_str!("ablation.toml");
    type Settings = AblationFile;

    fn run(common: &Common, f: AblationFile) -> Result<serde_json::Value> {
        let (src, data) = common.load()?;
        let settings = AblationSettings {
            seeds: super::seed_list(f.seeds)?,
            train: base_config(f.epochs, f.lr),
            only: f.only,
            data,
        };
        run(common, settings, &src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_a_valid_spec_and_differs_from_the_base() {
        let base = base_spec();
        let cfg = base_config(1, 0.05);
        let vs = variants(&base, &cfg).unwrap();
        assert_eq!(vs.len(), 16);
        for v in &vs {
            v.spec.infer().unwrap_or_else(|e| panic!("{}: {e}", v.name));
            if v.name != "base" {
                assert!(v.spec != base || v.cfg != cfg, "{} changes nothing", v.name);
            }
        }
        let maxout = vs.iter().find(|v| v.name == "maxout").unwrap();
        assert_eq!(maxout.spec.infer().unwrap().1, vec![10]);
        let res = vs.iter().find(|v| v.name == "residual").unwrap();
        assert_eq!(res.spec.param_count().unwrap(), base.param_count().unwrap());
        assert!(res
            .spec
            .layers
            .iter()
            .any(|l| matches!(l, Layer::Residual { .. })));
    }
}
