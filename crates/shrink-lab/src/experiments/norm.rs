//! Ioffe & Szegedy (2015), Fig. 1: an MLP of three fully connected hidden layers of 100
//! sigmoid units on MNIST, batch 60, plain SGD, trained without normalisation, with batch
//! norm and with layer norm (Ba et al. 2016) before each sigmoid — same seed, same
//! initial weights, same learning rate, same batches.
//!
//! Every `eval_every` steps: test accuracy, and the 15th/50th/85th percentiles of one
//! fixed unit's input in the last hidden layer (its pre-activation: the linear layer's
//! output, before BN/LN and the sigmoid) over a fixed set of test examples — the paper's
//! Fig. 1(b, c): with BN the distribution stays put, without it it drifts.
//!
//! Then a learning-rate sweep (short runs at multiples of the base rate): BN's claim that
//! it "allows much higher learning rates" (§3.3).

use super::{pct, percentile, Common, DataSettings, Store, Uncertain};
use crate::report::{LinePlot, Picture, Report, Series, Style};
use anyhow::Result;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use shrink_core::batch::{self, Batcher, Split};
use shrink_core::model::{Block, Feat, Net};
use shrink_core::train::progress::Progress;
use shrink_core::train::{
    self, progress, Diverged, OptimKind, ScheduleKind, Targets, TrainConfig, TrainHooks,
};
use shrink_data::DataSource;
use shrink_format::spec::{Init, Layer, ModelSpec};
use std::time::Instant;

/// Which normalisation sits before each sigmoid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    None,
    Batch,
    Layer,
}

impl Norm {
    pub const ALL: [Norm; 3] = [Norm::None, Norm::Batch, Norm::Layer];
    /// Short id (`none`, `bn`, `ln`).
    pub fn id(self) -> &'static str {
        match self {
            Norm::None => "none",
            Norm::Batch => "bn",
            Norm::Layer => "ln",
        }
    }
    /// Name for people.
    pub fn label(self) -> &'static str {
        match self {
            Norm::None => "no normalisation",
            Norm::Batch => "batch norm",
            Norm::Layer => "layer norm",
        }
    }
}

/// The paper's net: flatten, then `hidden_layers` × (linear `width` → norm → sigmoid),
/// then a linear output (10 classes; adapted to the data later).
pub fn mlp_spec(norm: Norm, width: usize, hidden_layers: usize) -> ModelSpec {
    let mut layers = vec![Layer::Flatten];
    for _ in 0..hidden_layers {
        layers.push(Layer::Linear {
            out: width,
            bias: true,
            init: Init::XavierNormal,
            bottleneck: None,
        });
        match norm {
            Norm::None => {}
            Norm::Batch => layers.push(Layer::BatchNorm {
                eps: 1e-5,
                momentum: 0.1,
            }),
            Norm::Layer => layers.push(Layer::LayerNorm { eps: 1e-5 }),
        }
        layers.push(Layer::Sigmoid);
    }
    layers.push(Layer::Linear {
        out: 10,
        bias: true,
        init: Init::XavierNormal,
        bottleneck: None,
    });
    ModelSpec {
        name: format!("mlp-{}", norm.id()),
        input: vec![1, 28, 28],
        normalize: None,
        class_names: vec![],
        layers,
    }
}

/// Index (top level) of the last hidden linear layer: the one whose outputs are probed.
fn probe_layer(spec: &ModelSpec) -> usize {
    let linear: Vec<usize> = spec
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, Layer::Linear { .. }))
        .map(|(i, _)| i)
        .collect();
    linear[linear.len().saturating_sub(2)]
}

/// Settings of one `shrink experiment norm`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NormSettings {
    pub steps: usize,
    pub eval_every: usize,
    pub batch_size: usize,
    /// Base learning rate (plain SGD, no momentum, constant).
    pub lr: f64,
    pub width: usize,
    pub hidden_layers: usize,
    /// Learning-rate multipliers of the sweep.
    pub sweep: Vec<f64>,
    pub sweep_steps: usize,
    /// The probed unit of the last hidden layer.
    pub unit: usize,
    /// Test examples the percentiles are taken over (the first ones of the test split).
    pub probe_examples: usize,
    pub seed: u64,
    /// Keep the first-layer weights in results.json (`--weights`; always in runs/).
    #[serde(default)]
    pub weights_in_results: bool,
    pub data: DataSettings,
}

/// One evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalPoint {
    pub step: usize,
    pub test_accuracy: f64,
    /// 15th, 50th and 85th percentile of the probed unit's input.
    pub p15: f64,
    pub p50: f64,
    pub p85: f64,
}

/// One training run of one variant at one learning rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NormRun {
    pub variant: Norm,
    pub lr: f64,
    pub steps: usize,
    pub curve: Vec<EvalPoint>,
    pub final_accuracy: f64,
    pub best_accuracy: f64,
    /// Why training stopped early (the loss became NaN/inf), if it did.
    pub diverged: Option<String>,
    pub seconds: f64,
    /// First-layer weights of the first 8 units (image inputs only), for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_layer: Vec<Vec<f32>>,
}

/// Steps each variant needed to reach the unnormalised net's best accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub target_accuracy: f64,
    /// Per variant: first evaluated step at or above the target (None: never). Only
    /// evaluated steps are seen, so the true first step lies in `(s − eval_every, s]`.
    pub steps_to_target: Vec<(Norm, Option<usize>)>,
    /// The resolution of those steps: the evaluation interval.
    pub eval_every: usize,
    pub sentence: String,
}

/// Everything results.json holds.
#[derive(Debug, Clone, Serialize)]
pub struct NormResults {
    pub runs: Vec<NormRun>,
    pub sweep: Vec<NormRun>,
    pub headline: Headline,
}

/// Evaluates every `every` steps and stops training at `total`.
struct Probe<'a> {
    data: &'a Batcher,
    device: Device,
    x: Feat,
    layer: usize,
    unit: usize,
    every: usize,
    total: usize,
    curve: Vec<EvalPoint>,
    bar: Progress,
}

impl Probe<'_> {
    fn eval(&mut self, net: &Net, step: usize) {
        let valid = net.valid();
        let test_accuracy = self.data.accuracy(&valid, Split::Test, &self.device);
        let (_, trace) = valid.forward_trace(self.x.clone());
        let pre = trace[self.layer].clone().flat(); // [probe, width]
        let [n, w] = pre.dims();
        let all: Vec<f32> = pre.into_data().try_into_vec_as::<f32>().unwrap_or_default();
        let col: Vec<f32> = (0..n).map(|i| all[i * w + self.unit]).collect();
        self.curve.push(EvalPoint {
            step,
            test_accuracy,
            p15: percentile(&col, 15.0),
            p50: percentile(&col, 50.0),
            p85: percentile(&col, 85.0),
        });
        self.bar
            .set_message(format!("test {:.2}%", 100.0 * test_accuracy));
    }
}

impl TrainHooks for Probe<'_> {
    fn step_done(&mut self, net: &Net, steps: usize) -> bool {
        self.bar.inc(1);
        if steps.is_multiple_of(self.every) || steps == self.total {
            self.eval(net, steps);
        }
        steps < self.total
    }
}

struct Setup<'a> {
    settings: &'a NormSettings,
    src: &'a DataSource,
    common: &'a Common,
}

impl Setup<'_> {
    /// Train `variant` at `lr` for `steps`, evaluating every `every` steps.
    fn run(&self, variant: Norm, lr: f64, steps: usize, every: usize) -> Result<NormRun> {
        let s = self.settings;
        let spec = super::fit_spec(
            mlp_spec(variant, s.width, s.hidden_layers),
            self.src,
            &self.src.train,
        )?;
        let data = Batcher::new(
            &self.src.train,
            &self.src.test,
            spec.normalize.clone(),
            0.0,
            s.seed,
        );
        let dev = self.common.device.clone().autodiff();
        let cfg = TrainConfig {
            epochs: steps.div_ceil(data.train_len().div_ceil(s.batch_size)),
            batch_size: s.batch_size,
            lr,
            optimizer: OptimKind::Sgd,
            momentum: 0.0,
            schedule: ScheduleKind::Constant,
            val_fraction: 0.0,
            seed: s.seed,
            ..TrainConfig::default()
        };
        // Same initial weights in every variant, by construction: the linear layers are
        // those of the unnormalised net drawn from the same seed.
        let mut reference = spec.clone();
        reference.layers = mlp_spec(Norm::None, s.width, s.hidden_layers).layers;
        reference.infer()?;
        dev.seed(s.seed);
        let reference = Net::new(&reference, &dev)?;
        let net = with_linear_layers_of(&reference, Net::new(&spec, &dev)?);
        // The fixed probe set: the first test examples, normalised like the training data.
        let k = s.probe_examples.min(self.src.test.len());
        let mut x = self.src.test.x[..k * self.src.test.example_len()].to_vec();
        batch::normalize(spec.normalize.as_ref(), &spec.input, &mut x);
        let unit = s.unit.min(s.width - 1);
        let mut probe = Probe {
            data: &data,
            device: dev.clone(),
            x: batch::to_feat(x, k, &spec.input, &batch::inference_device(&dev)),
            layer: probe_layer(&spec),
            unit,
            every,
            total: steps,
            curve: Vec::new(),
            bar: progress::bar(
                steps as u64,
                &format!("{} lr {lr}", variant.id()),
                self.common.quiet,
            ),
        };
        let t0 = Instant::now();
        probe.eval(&net, 0);
        let outcome = train::train(
            net,
            train::Job {
                cfg: &cfg,
                data: &data,
                targets: Targets::Labels,
                device: &dev,
                run: None,
                hooks: &mut probe,
                quiet: true,
            },
        );
        probe.bar.finish_and_clear();
        let (diverged, first_layer) = match outcome {
            Ok(o) => (None, first_layer_images(&o.net, &spec)),
            Err(e) => match e.downcast_ref::<Diverged>() {
                Some(d) => (Some(d.to_string()), vec![]),
                None => return Err(e),
            },
        };
        let curve = probe.curve;
        let final_accuracy = if diverged.is_some() {
            // A diverged net predicts nothing useful: count it at chance.
            1.0 / data.classes.max(1) as f64
        } else {
            curve.last().map_or(0.0, |p| p.test_accuracy)
        };
        Ok(NormRun {
            variant,
            lr,
            steps: curve.last().map_or(0, |p| p.step),
            best_accuracy: curve.iter().map(|p| p.test_accuracy).fold(0.0, f64::max),
            final_accuracy,
            curve,
            diverged,
            seconds: t0.elapsed().as_secs_f64(),
            first_layer,
        })
    }
}

/// `net` with its linear layers replaced, in order, by those of `from`.
fn with_linear_layers_of(from: &Net, mut net: Net) -> Net {
    let source = from.layers.iter().filter(|b| matches!(b, Block::Linear(_)));
    let target = net
        .layers
        .iter_mut()
        .filter(|b| matches!(b, Block::Linear(_)));
    for (t, f) in target.zip(source) {
        *t = f.clone();
    }
    net
}

/// The first linear layer's weights into the first 8 units, when the input is an image.
fn first_layer_images(net: &Net, spec: &ModelSpec) -> Vec<Vec<f32>> {
    if spec.input.len() != 3 || spec.input[0] != 1 {
        return vec![];
    }
    let Some((_, shrink_core::model::WeightRef::W2(w))) = net.weights().into_iter().next() else {
        return vec![];
    };
    let w = w.val(); // [in, out]
    let [inp, out] = w.dims();
    let v: Vec<f32> = w.into_data().try_into_vec_as::<f32>().unwrap_or_default();
    (0..out.min(8))
        .map(|j| (0..inp).map(|i| v[i * out + j]).collect())
        .collect()
}

/// Run the experiment: the three variants, the sweep, the report.
pub fn run(
    common: &Common,
    mut settings: NormSettings,
    src: &DataSource,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    settings.eval_every = settings.eval_every.clamp(1, settings.steps.max(1));
    anyhow::ensure!(
        settings.steps > 0 && settings.sweep_steps > 0,
        "--steps and --sweep-steps must be at least 1"
    );
    anyhow::ensure!(
        settings.width > 0 && settings.hidden_layers > 0,
        "the net needs at least one hidden unit"
    );
    let store = Store::open(&common.out.join("runs"), common.resume)?;
    let setup = Setup {
        settings: &settings,
        src,
        common,
    };
    let key = |variant: Norm, lr: f64, steps: usize, every: usize| {
        serde_json::json!({
            "variant": variant, "lr": lr, "steps": steps, "eval_every": every,
            "batch_size": settings.batch_size, "width": settings.width,
            "hidden_layers": settings.hidden_layers, "unit": settings.unit,
            "probe_examples": settings.probe_examples, "seed": settings.seed,
            "data": settings.data,
        })
    };
    let total = Norm::ALL.len() * (1 + settings.sweep.len());
    let mut done = 0;
    // Time spent on this result, runs reused from an earlier invocation included.
    let mut reused_seconds = 0.0;
    let mut say = |id: &str, r: &NormRun, reused: bool| {
        done += 1;
        if reused {
            reused_seconds += r.seconds;
        }
        common.say(format!(
            "[{done}/{total}] {id}: {} after {} steps{}{}",
            pct(r.final_accuracy),
            r.steps,
            r.diverged
                .as_ref()
                .map_or(String::new(), |_| " (diverged)".into()),
            if reused {
                " (done earlier)".into()
            } else {
                format!(" ({:.0}s)", r.seconds)
            }
        ));
    };
    let mut runs = Vec::new();
    for v in Norm::ALL {
        let id = format!("{}-lr{}", v.id(), settings.lr);
        let (r, reused) = store.run(
            &id,
            &key(v, settings.lr, settings.steps, settings.eval_every),
            || setup.run(v, settings.lr, settings.steps, settings.eval_every),
        )?;
        say(&id, &r, reused);
        runs.push(r);
    }
    let mut sweep = Vec::new();
    for &m in &settings.sweep {
        let lr = settings.lr * m;
        for v in Norm::ALL {
            let id = format!("sweep-{}-lr{lr}", v.id());
            let k = key(v, lr, settings.sweep_steps, settings.sweep_steps);
            let (r, reused) = store.run(&id, &k, || {
                setup.run(v, lr, settings.sweep_steps, settings.sweep_steps)
            })?;
            say(&id, &r, reused);
            sweep.push(r);
        }
    }
    let headline = headline(&runs, settings.eval_every);
    common.say(&headline.sentence);
    let mut results = NormResults {
        runs,
        sweep,
        headline,
    };
    let page = report(&settings, &results)?;
    // The sweep's weights are never shown; the main runs' only in pictures. Both stay
    // in runs/*.json; results.json holds them only when asked (--weights).
    for r in results.sweep.iter_mut() {
        r.first_layer.clear();
    }
    if !settings.weights_in_results {
        for r in results.runs.iter_mut() {
            r.first_layer.clear();
        }
    }
    let json = crate::report::envelope(
        "norm",
        &settings,
        &results,
        started.elapsed().as_secs_f64() + reused_seconds,
    );
    page.write(&common.out, &json)?;
    Ok(json)
}

/// Steps are only seen at evaluations every `every` steps: a variant first seen at or
/// above the target at step `s` got there somewhere in `(s − every, s]`.
fn headline(runs: &[NormRun], every: usize) -> Headline {
    let every = every.max(1);
    let base = runs.iter().find(|r| r.variant == Norm::None);
    let target = base.map_or(0.0, |r| r.best_accuracy);
    let reach = |r: &NormRun| {
        r.curve
            .iter()
            .find(|p| p.test_accuracy >= target)
            .map(|p| p.step)
    };
    let steps: Vec<(Norm, Option<usize>)> = runs.iter().map(|r| (r.variant, reach(r))).collect();
    let base_steps = base.and_then(reach);
    let mut sentence = format!(
        "Without normalisation the best test accuracy is {}{}.",
        pct(target),
        base_steps.map_or(String::new(), |s| format!(" (first reached at step {s})"))
    );
    for (v, s) in &steps {
        if *v == Norm::None {
            continue;
        }
        match (s, base_steps) {
            (Some(s), Some(b)) if *s > 0 && *s < b => {
                // Both steps are known to within the evaluation interval.
                let lo = b.saturating_sub(every - 1).max(1) as f64 / *s as f64;
                let hi = b as f64 / s.saturating_sub(every - 1).max(1) as f64;
                let first = if *s <= every {
                    " — already at the first evaluation, so the evaluation interval, not the net, sets this number".to_string()
                } else {
                    String::new()
                };
                sentence.push_str(&format!(
                    " {} reaches it by step {s}: {:.1}× fewer steps as measured; with evaluations every {every} steps \
the true ratio lies between {lo:.1}× and {hi:.1}×{first}.",
                    capitalise(v.label()),
                    b as f64 / *s as f64
                ))
            }
            (Some(s), Some(b)) if *s > 0 => sentence.push_str(&format!(
                " {} reaches it by step {s}, no sooner than without normalisation (step {b}; evaluations every {every} steps).",
                capitalise(v.label()),
            )),
            (Some(s), _) => sentence.push_str(&format!(
                " {} reaches it at step {s}.",
                capitalise(v.label())
            )),
            (None, _) => {
                sentence.push_str(&format!(" {} does not reach it.", capitalise(v.label())))
            }
        }
    }
    Headline {
        target_accuracy: target,
        steps_to_target: steps,
        eval_every: every,
        sentence,
    }
}

/// How far each variant's probed distribution moved over the last 90% of training,
/// measured rather than quoted from the paper.
fn drift_sentence(s: &NormSettings, runs: &[NormRun]) -> String {
    let parts: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            let from = r.curve.iter().find(|e| e.step * 10 >= s.steps)?;
            let to = r.curve.last()?;
            let spread = |e: &EvalPoint| e.p85 - e.p15;
            Some(format!(
                "{}: median {:+.2}, 15–85 spread ×{:.2}",
                r.variant.label(),
                to.p50 - from.p50,
                spread(to) / spread(from).max(1e-9)
            ))
        })
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "Measured here, from step {} to the end: {}.",
        runs.first()
            .and_then(|r| r.curve.iter().find(|e| e.step * 10 >= s.steps))
            .map_or(0, |e| e.step),
        parts.join("; ")
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn report(s: &NormSettings, res: &NormResults) -> Result<Report> {
    let mut r = Report::new("Batch and layer normalisation: Ioffe & Szegedy, Fig. 1");
    super::quick_banner(&mut r, &s.data);
    let n_test = s.data.test_examples;
    r.text(format!(
        "An MLP with {} fully connected hidden layers of {} sigmoid units on {} ({} training, {} test examples), \
trained by plain SGD (no momentum, constant learning rate {}) with mini-batches of {} for {} steps, \
three ways: without normalisation, with batch normalisation before each sigmoid, and with layer \
normalisation before each sigmoid. All three start from the same weights (seed {}) and see the same batches.",
        s.hidden_layers, s.width, s.data.data, s.data.train_examples, s.data.test_examples,
        s.lr, s.batch_size, s.steps, s.seed
    ));
    r.heading("Headline").text(&res.headline.sentence);

    let acc = res.runs.iter().enumerate().fold(
        LinePlot::new(
            "Test accuracy during training",
            "training step",
            "test accuracy (%)",
        ),
        |p, (i, run)| {
            p.series(
                Series::new(
                    run.variant.label(),
                    run.curve
                        .iter()
                        .map(|e| (e.step as f64, 100.0 * e.test_accuracy))
                        .collect(),
                    Style::Line,
                )
                .color(i),
            )
        },
    );
    // Zoom on the interesting part: skip the first tenth of training.
    let lo = res
        .runs
        .iter()
        .flat_map(|r| &r.curve)
        .filter(|e| e.step * 10 >= s.steps)
        .map(|e| e.test_accuracy)
        .fold(1.0, f64::min);
    r.line_plot(acc.y_range((100.0 * lo - 2.0).max(0.0), 100.0));
    r.text(format!(
        "Evaluated every {} steps on {n_test} test examples; one score's 95% binomial interval is about ±{:.1} \
points at {}, so smaller wiggles are sampling noise.",
        s.eval_every,
        100.0 * {
            let p = res.headline.target_accuracy;
            let (l, h) = super::wilson95(p, n_test);
            (h - l) / 2.0
        },
        pct(res.headline.target_accuracy)
    ));

    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for e in res.runs.iter().flat_map(|r| &r.curve) {
        lo = lo.min(e.p15);
        hi = hi.max(e.p85);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let panels = res
        .runs
        .iter()
        .map(|run| {
            let pts = |f: fn(&EvalPoint) -> f64| {
                run.curve.iter().map(|e| (e.step as f64, f(e))).collect()
            };
            LinePlot::new(run.variant.label(), "training step", "input to the unit")
                .x_labels(4)
                .series(Series::new("15th percentile", pts(|e| e.p15), Style::Line).color(5))
                .series(Series::new("median", pts(|e| e.p50), Style::Line).color(0))
                .series(Series::new("85th percentile", pts(|e| e.p85), Style::Line).color(1))
                .y_range(lo - pad, hi + pad)
        })
        .collect();
    r.heading("Distribution of one unit's input")
        .text(format!(
            "Unit {} of the last hidden layer: the 15th, 50th and 85th percentiles of its input (the linear \
layer's output, before normalisation and the sigmoid) over the first {} test examples, at each evaluation. \
The paper's Fig. 1(b, c) shows these drifting without batch norm and steady with it.",
            s.unit.min(s.width - 1),
            s.probe_examples.min(s.data.test_examples)
        ))
        .plot_row(panels, (340, 300))
        .text(drift_sentence(s, &res.runs));

    let steps_to = |v: Norm| {
        res.headline
            .steps_to_target
            .iter()
            .find(|(w, _)| *w == v)
            .and_then(|(_, s)| *s)
            .map_or("never".to_string(), |s| s.to_string())
    };
    r.heading("Runs").text(super::spread_note(1, n_test)).table(
        &[
            "variant",
            "final test accuracy (%, 95% interval)",
            "best (%)",
            &format!(
                "steps to reach the unnormalised best (evaluated every {})",
                s.eval_every
            ),
            "seconds",
        ],
        res.runs
            .iter()
            .map(|run| {
                vec![
                    run.variant.label().into(),
                    Uncertain::of(&[run.final_accuracy], n_test).cell(),
                    pct(run.best_accuracy),
                    steps_to(run.variant),
                    format!("{:.0}", run.seconds),
                ]
            })
            .collect(),
    );

    if !res.sweep.is_empty() {
        let lrs: Vec<f64> = s.sweep.iter().map(|m| m * s.lr).collect();
        let mut headers = vec!["variant".to_string()];
        headers.extend(
            lrs.iter()
                .zip(&s.sweep)
                .map(|(lr, m)| format!("lr {lr} (×{m})")),
        );
        let rows = Norm::ALL
            .iter()
            .map(|&v| {
                let mut row = vec![v.label().to_string()];
                for &lr in &lrs {
                    let cell = res
                        .sweep
                        .iter()
                        .find(|x| x.variant == v && x.lr == lr)
                        .map_or("-".into(), |x| match &x.diverged {
                            Some(_) => "diverged".into(),
                            None => Uncertain::of(&[x.final_accuracy], n_test).cell(),
                        });
                    row.push(cell);
                }
                row
            })
            .collect();
        let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        let plot = Norm::ALL.iter().enumerate().fold(
            LinePlot::new(
                format!("Test accuracy after {} steps", s.sweep_steps),
                "learning rate",
                "test accuracy (%)",
            )
            .log_x(),
            |p, (i, &v)| {
                p.series(
                    Series::new(
                        v.label(),
                        res.sweep
                            .iter()
                            .filter(|x| x.variant == v)
                            .map(|x| (x.lr, 100.0 * x.final_accuracy))
                            .collect(),
                        Style::LineWithPoints,
                    )
                    .color(i)
                    .errors(
                        res.sweep
                            .iter()
                            .filter(|x| x.variant == v)
                            .map(|x| {
                                let u = Uncertain::of(&[x.final_accuracy], n_test);
                                (100.0 * u.lo, 100.0 * u.hi)
                            })
                            .collect(),
                    ),
                )
            },
        );
        r.heading("Higher learning rates")
            .text(format!(
                "Short runs ({} steps each) at {} times the base rate; test accuracy (%) with its 95% binomial \
interval on {n_test} test examples (error bars: the same). A diverged run (loss NaN) counts at chance.",
                s.sweep_steps,
                s.sweep.iter().map(|m| format!("{m}")).collect::<Vec<_>>().join(", ")
            ))
            .table(&header_refs, rows)
            .line_plot(plot);
    }

    if let [1, h, w] = s.data.shape[..] {
        let shown: Vec<&NormRun> = res
            .runs
            .iter()
            .filter(|r| !r.first_layer.is_empty())
            .collect();
        if !shown.is_empty() {
            r.heading("First-layer weights").text(format!(
                "Each picture is one hidden unit of the first layer after training: its {} incoming weights laid \
out as the {h}×{w} input image. Grey scale per picture: the unit's most negative weight is black, its most \
positive white. One row per variant.",
                h * w
            ));
            for run in shown {
                let pics = run
                    .first_layer
                    .iter()
                    .enumerate()
                    .map(|(j, wts)| {
                        Ok(Picture::new(
                            crate::report::gray_png(w, h, wts, 3)?,
                            format!("unit {j}"),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                r.text(format!("{}:", capitalise(run.variant.label())))
                    .image_grid(pics);
            }
        }
    }
    Ok(r)
}

/// `shrink experiment norm` (settings: `norm.toml` beside this file).
pub struct NormExperiment;

/// What `norm.toml` holds (each also a flag of `shrink experiment norm`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormFile {
    /// Training steps (mini-batches) per variant.
    pub steps: usize,
    /// Evaluate every this many steps.
    pub eval_every: usize,
    /// Base learning rate (plain SGD, constant).
    pub lr: f64,
    pub batch_size: usize,
    /// Learning-rate multipliers of the sweep (empty: no sweep).
    pub sweep: Vec<f64>,
    /// Steps of each sweep run.
    pub sweep_steps: usize,
    /// The probed unit of the last hidden layer.
    pub unit: usize,
    /// Test examples the unit's percentiles are taken over.
    pub probe_examples: usize,
    pub seed: u64,
    /// Hidden units per layer.
    pub width: usize,
    pub hidden_layers: usize,
    /// Also write the first-layer weights into results.json.
    #[serde(default)]
    pub weights: bool,
}

impl super::runner::Experiment for NormExperiment {
    const NAME: &'static str = "norm";
    const SETTINGS: &'static str = include_str!("norm.toml");
    type Settings = NormFile;

    fn run(common: &Common, f: NormFile) -> Result<serde_json::Value> {
        let (src, data) = common.load()?;
        let settings = NormSettings {
            steps: f.steps,
            eval_every: f.eval_every,
            batch_size: f.batch_size,
            lr: f.lr,
            width: f.width,
            hidden_layers: f.hidden_layers,
            sweep: f.sweep,
            sweep_steps: f.sweep_steps,
            unit: f.unit,
            probe_examples: f.probe_examples,
            seed: f.seed,
            weights_in_results: f.weights,
            data,
        };
        run(common, settings, &src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_share_their_initial_weights() {
        let dev = Device::flex();
        let values = |net: &Net| {
            net.weights()
                .iter()
                .map(|(_, w)| match w {
                    shrink_core::model::WeightRef::W2(p) => {
                        p.val().into_data().try_into_vec_as::<f32>().unwrap()
                    }
                    shrink_core::model::WeightRef::W4(_) => unreachable!(),
                })
                .collect::<Vec<_>>()
        };
        let none = Net::new(&mlp_spec(Norm::None, 16, 3), &dev).unwrap();
        for v in [Norm::Batch, Norm::Layer] {
            let other = Net::new(&mlp_spec(v, 16, 3), &dev).unwrap();
            assert_ne!(values(&none), values(&other), "drawn independently");
            let shared = with_linear_layers_of(&none, other);
            assert_eq!(values(&none), values(&shared));
            assert_eq!(shared.layers.len(), mlp_spec(v, 16, 3).layers.len());
        }
    }

    fn run_reaching(variant: Norm, accs: &[f64], every: usize) -> NormRun {
        let curve: Vec<EvalPoint> = accs
            .iter()
            .enumerate()
            .map(|(i, &a)| EvalPoint {
                step: i * every,
                test_accuracy: a,
                p15: 0.0,
                p50: 0.0,
                p85: 0.0,
            })
            .collect();
        NormRun {
            variant,
            lr: 0.1,
            steps: curve.last().unwrap().step,
            final_accuracy: *accs.last().unwrap(),
            best_accuracy: accs.iter().copied().fold(0.0, f64::max),
            curve,
            diverged: None,
            seconds: 0.0,
            first_layer: vec![],
        }
    }

    /// "N× fewer steps" states the resolution it was measured at, and says so when the
    /// first evaluation already decides it.
    #[test]
    fn headline_states_the_evaluation_interval() {
        let runs = [
            run_reaching(Norm::None, &[0.1, 0.5, 0.7, 0.8, 0.9, 0.95], 100),
            run_reaching(Norm::Batch, &[0.1, 0.96, 0.97, 0.97, 0.97, 0.97], 100),
            run_reaching(Norm::Layer, &[0.1, 0.6, 0.8, 0.96, 0.97, 0.97], 100),
        ];
        let h = headline(&runs, 100);
        assert_eq!(h.eval_every, 100);
        assert_eq!(
            h.steps_to_target,
            vec![
                (Norm::None, Some(500)),
                (Norm::Batch, Some(100)),
                (Norm::Layer, Some(300))
            ]
        );
        let t = &h.sentence;
        // Batch norm: 500/100 = 5.0× as measured, truly between 401/100 and 500/1.
        assert!(t.contains("5.0× fewer steps as measured"), "{t}");
        assert!(t.contains("between 4.0× and 500.0×"), "{t}");
        assert!(t.contains("first evaluation"), "{t}");
        // Layer norm: 500/300, between 401/300 and 500/201.
        assert!(t.contains("1.7× fewer steps as measured"), "{t}");
        assert!(t.contains("between 1.3× and 2.5×"), "{t}");
        assert_eq!(t.matches("first evaluation").count(), 1, "{t}");
    }

    #[test]
    fn probe_layer_is_last_hidden_linear() {
        assert_eq!(probe_layer(&mlp_spec(Norm::None, 100, 3)), 5);
        assert_eq!(probe_layer(&mlp_spec(Norm::Batch, 100, 3)), 7);
    }
}
