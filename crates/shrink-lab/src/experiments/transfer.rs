//! Yosinski, Clune, Bengio, Lipson (2014), "How transferable are features in deep
//! neural networks?", Fig. 2, on any labelled data set (MNIST by default).
//!
//! The classes are split into two halves A and B. baseA and baseB are the same net
//! trained on A and on B. For every depth n = 1..L−1 (L weight layers):
//! - BnB: weight layers 1..n copied from baseB and frozen; the rest re-initialised and
//!   trained on B ("selffer": shows fragile co-adaptation between layers);
//! - BnB+: the same, but every layer is fine-tuned;
//! - AnB: layers 1..n copied from baseA and frozen, the rest trained on B (transfer:
//!   shows how specific to A the first n layers are);
//! - AnB+: the same, fine-tuned.
//!
//! Each is scored by accuracy on B's test examples, over several seeds.

use super::{mean_std, noise_threshold, pct, Common, DataSettings, Store, Uncertain};
use crate::report::{LinePlot, Report, Series, Style};
use anyhow::{bail, Result};
use burn::module::Module;
use serde::{Deserialize, Serialize};
use shrink_core::batch::Split;
use shrink_core::model::{io, Net, WeightRef};
use shrink_core::train::{Plain, TrainConfig};
use shrink_data::{DataSource, Dataset};
use shrink_format::spec::{Init, Layer, ModelSpec};
use std::time::Instant;

/// One of the four transfer nets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Variant {
    BnB,
    #[serde(rename = "BnB+")]
    BnBPlus,
    AnB,
    #[serde(rename = "AnB+")]
    AnBPlus,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::BnB,
        Variant::BnBPlus,
        Variant::AnB,
        Variant::AnBPlus,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Variant::BnB => "BnB",
            Variant::BnBPlus => "BnB+",
            Variant::AnB => "AnB",
            Variant::AnBPlus => "AnB+",
        }
    }
    fn file_id(self) -> &'static str {
        match self {
            Variant::BnB => "BnB",
            Variant::BnBPlus => "BnB-plus",
            Variant::AnB => "AnB",
            Variant::AnBPlus => "AnB-plus",
        }
    }
    /// Copied from baseA (else baseB).
    fn copies_a(self) -> bool {
        matches!(self, Variant::AnB | Variant::AnBPlus)
    }
    /// Copied layers keep training.
    fn fine_tune(self) -> bool {
        matches!(self, Variant::BnBPlus | Variant::AnBPlus)
    }
}

/// Settings of one `shrink experiment transfer`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransferSettings {
    /// Original class indices of task A and of task B.
    pub split_a: Vec<u32>,
    pub split_b: Vec<u32>,
    pub seeds: Vec<u64>,
    /// Hidden units per layer.
    pub width: usize,
    /// Weight (linear) layers, L.
    pub depth: usize,
    /// How every net (base and transfer) is trained; `seed` is replaced per run.
    pub train: TrainConfig,
    pub data: DataSettings,
}

/// A base net's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaseRun {
    /// "A" or "B".
    pub task: String,
    pub seed: u64,
    pub test_accuracy: f64,
    pub seconds: f64,
}

/// A transfer net's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferRun {
    pub variant: Variant,
    pub n: usize,
    pub seed: u64,
    /// Accuracy on B's test examples.
    pub test_accuracy: f64,
    /// Largest absolute change of any copied weight during training (0 when frozen).
    pub copied_max_change: f64,
    pub seconds: f64,
}

/// Everything results.json holds.
#[derive(Debug, Clone, Serialize)]
pub struct TransferResults {
    pub base: Vec<BaseRun>,
    pub runs: Vec<TransferRun>,
    /// Mean and standard deviation per variant per n: `[variant][n-1] = (mean, std)`.
    pub summary: Vec<(Variant, Vec<(f64, f64)>)>,
    pub base_b: (f64, f64),
    /// Test examples of task A and of task B (what each accuracy is measured on).
    pub test_examples_a: usize,
    pub test_examples_b: usize,
    pub findings: Vec<String>,
}

/// An MLP of `depth` linear layers, `width` ReLU units each (the output width is fitted
/// to the task later).
pub fn transfer_spec(width: usize, depth: usize) -> ModelSpec {
    let mut layers = vec![Layer::Flatten];
    for i in 0..depth {
        layers.push(Layer::Linear {
            out: if i + 1 == depth { 10 } else { width },
            bias: true,
            init: Init::HeNormal,
            bottleneck: None,
        });
        if i + 1 < depth {
            layers.push(Layer::Relu);
        }
    }
    ModelSpec {
        name: format!("transfer-mlp-{depth}x{width}"),
        input: vec![1, 28, 28],
        normalize: None,
        class_names: vec![],
        layers,
    }
}

/// The examples of `ds` whose label is in `classes`, relabelled by position in `classes`.
pub fn restrict(ds: &Dataset, classes: &[u32]) -> Dataset {
    let idx: Vec<usize> = (0..ds.len())
        .filter(|&i| classes.contains(&ds.y[i]))
        .collect();
    let mut sub = ds.subset(&idx);
    for y in &mut sub.y {
        *y = classes.iter().position(|c| c == y).expect("filtered") as u32;
    }
    sub.classes = classes.len();
    sub.class_names = classes
        .iter()
        .map(|&c| {
            ds.class_names
                .get(c as usize)
                .cloned()
                .unwrap_or_else(|| c.to_string())
        })
        .collect();
    sub
}

/// Split `0..classes` into A and B: A given, or a seeded random half.
pub fn split_classes(
    classes: usize,
    given_a: Option<&[u32]>,
    seed: u64,
) -> Result<(Vec<u32>, Vec<u32>)> {
    if classes < 2 {
        bail!("transfer needs at least 2 classes, the data has {classes}");
    }
    let a: Vec<u32> = match given_a {
        Some(a) => {
            if let Some(c) = a.iter().find(|&&c| c as usize >= classes) {
                bail!(
                    "--split-a names class {c} but the data has classes 0..{}",
                    classes - 1
                );
            }
            let mut a = a.to_vec();
            a.sort_unstable();
            a.dedup();
            if a.is_empty() || a.len() == classes {
                bail!("--split-a must leave both halves non-empty");
            }
            a
        }
        None => {
            let mut a: Vec<u32> = shrink_data::shuffled_indices(classes, seed)
                .into_iter()
                .take(classes / 2)
                .map(|c| c as u32)
                .collect();
            a.sort_unstable();
            a
        }
    };
    let b = (0..classes as u32).filter(|c| !a.contains(c)).collect();
    Ok((a, b))
}

/// Top-level indices of the linear layers.
fn weight_layers(spec: &ModelSpec) -> Vec<usize> {
    spec.layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.has_weight())
        .map(|(i, _)| i)
        .collect()
}

/// Every weight tensor's values, by path.
fn weight_values(net: &Net) -> Vec<(String, Vec<f32>)> {
    net.weights()
        .into_iter()
        .map(|(p, w)| {
            let v = match w {
                WeightRef::W2(t) => t.val().into_data(),
                WeightRef::W4(t) => t.val().into_data(),
            };
            (p, v.try_into_vec_as::<f32>().unwrap_or_default())
        })
        .collect()
}

/// Build the transfer net: `target`'s architecture, freshly initialised, with blocks
/// `0..=cut` (top level) taken from `source`, frozen unless `fine_tune`.
pub fn graft(source: &Net, mut target: Net, cut: usize, fine_tune: bool) -> Net {
    for i in 0..=cut {
        let block = source.layers[i].clone();
        target.layers[i] = if fine_tune { block } else { block.freeze() };
    }
    target
}

fn task_source(src: &DataSource, classes: &[u32], name: &str) -> DataSource {
    DataSource {
        name: format!("{} task {name}", src.name),
        kind: src.kind,
        train: restrict(&src.train, classes),
        test: restrict(&src.test, classes),
        schema: None,
    }
}

/// Run the experiment.
pub fn run(
    common: &Common,
    settings: TransferSettings,
    src: &DataSource,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    let s = &settings;
    if s.depth < 2 {
        bail!("--depth must be at least 2 (there is nothing to transfer otherwise)");
    }
    let store = Store::open(&common.out.join("runs"), common.resume)?;
    let task_a = task_source(src, &s.split_a, "A");
    let task_b = task_source(src, &s.split_b, "B");
    // One input normalisation (from all training classes) for every net, so that
    // copied first layers see inputs scaled as they were trained on.
    let spec_a = super::fit_spec(transfer_spec(s.width, s.depth), &task_a, &src.train)?;
    let spec_b = super::fit_spec(transfer_spec(s.width, s.depth), &task_b, &src.train)?;
    let cuts = weight_layers(&spec_b);
    let base_key = |task: &str, seed: u64| {
        serde_json::json!({"task": task, "seed": seed, "width": s.width, "depth": s.depth,
            "train": s.train, "split_a": s.split_a, "split_b": s.split_b, "data": s.data})
    };
    let total = s.seeds.len() * (2 + 4 * (s.depth - 1));
    let mut done = 0usize;
    // Time spent on this result, runs reused from an earlier invocation included.
    let mut reused_seconds = 0.0;
    let mut line = |id: &str, task: &str, acc: f64, secs: f64, reused: bool| {
        done += 1;
        if reused {
            reused_seconds += secs;
        }
        common.say(format!(
            "[{done}/{total}] {id}: {} on {task}{}",
            pct(acc),
            if reused {
                " (done earlier)".to_string()
            } else {
                format!(" ({secs:.1}s)")
            }
        ));
    };

    let mut base = Vec::new();
    let mut runs = Vec::new();
    for &seed in &s.seeds {
        let cfg = TrainConfig {
            seed,
            ..s.train.clone()
        };
        for (task, spec, data) in [("A", &spec_a, &task_a), ("B", &spec_b, &task_b)] {
            let id = format!("base{task}-s{seed}");
            let weights = store.file(&id, "safetensors");
            let key = base_key(task, seed);
            let earlier = store
                .get::<BaseRun>(&id, &key)?
                .filter(|_| weights.is_file());
            let reused = earlier.is_some();
            let r = match earlier {
                Some(r) => r,
                None => {
                    let t0 = Instant::now();
                    let (out, batcher) = super::train_plain(spec, &cfg, data, &common.device)?;
                    io::save_weights(&out.net, &weights)?;
                    let valid = out.net.valid();
                    let r = BaseRun {
                        task: task.into(),
                        seed,
                        test_accuracy: batcher.accuracy(&valid, Split::Test, &common.device),
                        seconds: t0.elapsed().as_secs_f64(),
                    };
                    store.put(&id, &key, &r)?;
                    r
                }
            };
            line(&id, task, r.test_accuracy, r.seconds, reused);
            base.push(r);
        }
        let dev = common.device.clone().autodiff();
        let load = |task: &str, spec: &ModelSpec| -> Result<Net> {
            let mut net = Net::new(spec, &dev)?;
            io::load_weights(
                &mut net,
                &store.file(&format!("base{task}-s{seed}"), "safetensors"),
                None,
            )?;
            Ok(net)
        };
        let base_a = load("A", &spec_a)?;
        let base_b = load("B", &spec_b)?;
        for n in 1..s.depth {
            for (vi, v) in Variant::ALL.into_iter().enumerate() {
                let id = format!("{}-n{n}-s{seed}", v.file_id());
                let mut key = base_key("B", seed);
                key["variant"] = serde_json::json!(v);
                key["n"] = serde_json::json!(n);
                let (r, reused) = store.run(&id, &key, || {
                    let t0 = Instant::now();
                    let source = if v.copies_a() { &base_a } else { &base_b };
                    // Fresh weights above the cut: a seed of their own per (seed, n, variant).
                    dev.seed(seed.wrapping_mul(1000).wrapping_add((n * 10 + vi) as u64));
                    let fresh = Net::new(&spec_b, &dev)?;
                    let cut = cuts[n - 1];
                    let net = graft(source, fresh, cut, v.fine_tune());
                    let before = weight_values(&net);
                    let (out, batcher) = super::train_net(net, &spec_b, &cfg, &task_b, &common.device, &mut Plain)?;
                    let after = weight_values(&out.net);
                    let copied_max_change = before
                        .iter()
                        .zip(&after)
                        .take(n)
                        .flat_map(|((_, a), (_, b))| a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64))
                        .fold(0.0, f64::max);
                    if !v.fine_tune() && copied_max_change != 0.0 {
                        bail!("{id}: frozen layers changed by up to {copied_max_change} during training");
                    }
                    let valid = out.net.valid();
                    Ok(TransferRun {
                        variant: v,
                        n,
                        seed,
                        test_accuracy: batcher.accuracy(&valid, Split::Test, &common.device),
                        copied_max_change,
                        seconds: t0.elapsed().as_secs_f64(),
                    })
                })?;
                line(&id, "B", r.test_accuracy, r.seconds, reused);
                runs.push(r);
            }
        }
    }

    let base_b_accs: Vec<f64> = base
        .iter()
        .filter(|b| b.task == "B")
        .map(|b| b.test_accuracy)
        .collect();
    let base_b = mean_std(&base_b_accs);
    let summary: Vec<(Variant, Vec<(f64, f64)>)> = Variant::ALL
        .iter()
        .map(|&v| {
            let per_n = (1..s.depth)
                .map(|n| {
                    let accs: Vec<f64> = runs
                        .iter()
                        .filter(|r| r.variant == v && r.n == n)
                        .map(|r| r.test_accuracy)
                        .collect();
                    mean_std(&accs)
                })
                .collect();
            (v, per_n)
        })
        .collect();
    let findings = findings(&summary, base_b, s.seeds.len(), task_b.test.len());
    for f in &findings {
        common.say(f);
    }
    let results = TransferResults {
        base,
        runs,
        summary,
        base_b,
        test_examples_a: task_a.test.len(),
        test_examples_b: task_b.test.len(),
        findings,
    };
    let json = crate::report::envelope(
        "transfer",
        &settings,
        &results,
        started.elapsed().as_secs_f64() + reused_seconds,
    );
    report(&settings, &results).write(&common.out, &json)?;
    Ok(json)
}

/// What the numbers say, in sentences computed from them (not the paper's conclusions).
fn findings(
    summary: &[(Variant, Vec<(f64, f64)>)],
    base_b: (f64, f64),
    seeds: usize,
    n_test: usize,
) -> Vec<String> {
    let get = |v: Variant| {
        &summary
            .iter()
            .find(|(w, _)| *w == v)
            .expect("all variants")
            .1
    };
    let (bnb, bnb_plus, anb, anb_plus) = (
        get(Variant::BnB),
        get(Variant::BnBPlus),
        get(Variant::AnB),
        get(Variant::AnBPlus),
    );
    let last = bnb.len(); // = L−1
                          // What counts as a real difference: the seeds' spread or the test set's sampling
                          // error, whichever is larger (see `noise_threshold`).
    let stds: Vec<f64> = summary
        .iter()
        .flat_map(|(_, v)| v.iter().map(|(_, s)| *s))
        .chain([base_b.1])
        .collect();
    let tol = noise_threshold(&stds, seeds, base_b.0, n_test);
    let d = |x: f64| format!("{:+.2} points", 100.0 * x);
    let mut out = vec![format!(
        "baseB scores {} on B's {n_test} test examples ({} seed{}); differences below {:.2} points are treated as noise \
(the larger of twice the standard error of a difference of two means from the median seed-to-seed spread, and twice \
the binomial standard error of a difference of two accuracies on {n_test} examples).",
        Uncertain::of_summary(base_b.0, base_b.1, seeds, n_test).cell(),
        seeds,
        if seeds == 1 { "" } else { "s" },
        100.0 * tol
    )];
    if seeds < 2 {
        out.push("With one seed only the test set's sampling error is counted, not the training noise a second seed would show: read the sentences below as anecdotes (use --seeds 3).".into());
    }

    // Co-adaptation: does BnB dip in the middle (below baseB and below both ends)?
    let lowest = |from: usize, to: usize| {
        (from..=to)
            .map(|n| (n, bnb[n - 1].0))
            .fold((0, f64::MAX), |a, b| if b.1 < a.1 { b } else { a })
    };
    let (n_low, low) = lowest(1, last);
    if last >= 3 {
        let (k, mid) = lowest(2, last - 1);
        let (first, top) = (bnb[0].0, bnb[last - 1].0);
        if base_b.0 - mid > tol && first - mid > tol && top - mid > tol {
            out.push(format!(
                "Co-adaptation: BnB dips to {} at n = {k} ({} against baseB) and is higher at both ends ({} at n = 1, {} at n = {last}): \
frozen middle layers of a net trained on B are harder to build on, the fragile co-adaptation the paper reports.",
                pct(mid),
                d(mid - base_b.0),
                pct(first),
                pct(top)
            ));
        } else if base_b.0 - low > tol {
            out.push(format!(
                "Co-adaptation: BnB falls below baseB (lowest {} at n = {n_low}, {}), but not in the middle more than at the ends: \
no sign here of the middle-layer dip the paper found on ImageNet.",
                pct(low),
                d(low - base_b.0)
            ));
        } else {
            out.push(format!(
                "Co-adaptation: BnB stays within {:.2} points of baseB at every n (lowest {} at n = {n_low}); \
on this data and net we see no sign of the middle-layer dip the paper found on ImageNet.",
                100.0 * tol,
                pct(low)
            ));
        }
    } else {
        out.push(format!(
            "Co-adaptation: the net has too few layers to have a middle (use --depth 4 or more); BnB's lowest is {} at n = {n_low}.",
            pct(low)
        ));
    }

    // Specificity: does AnB fall with depth (beyond what BnB loses)?
    let first = anb[0].0;
    let deep = anb[last - 1].0;
    // How far AnB is below BnB at each n: the cost of A's features over B's own.
    let below: Vec<f64> = (0..last).map(|i| bnb[i].0 - anb[i].0).collect();
    let (worst_i, worst) = below
        .iter()
        .copied()
        .enumerate()
        .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    let gap = if worst > tol {
        format!(
            "AnB is furthest below BnB at n = {} ({:.2} points)",
            worst_i + 1,
            100.0 * worst
        )
    } else {
        "AnB is never clearly below BnB".to_string()
    };
    if first - deep > tol {
        out.push(format!(
            "Specificity: AnB falls from {} at n = 1 to {} at n = {last} ({}); {gap}: the more layers are taken from the net trained on A's classes, the worse B is served — upper-layer features are specific to A.",
            pct(first),
            pct(deep),
            d(deep - first),
        ));
    } else {
        out.push(format!(
            "Specificity: AnB stays between {} and {} for n = 1..{last}; {gap}: on this data, features learned on A's classes serve B about as well at every depth.",
            pct(anb.iter().map(|x| x.0).fold(f64::MAX, f64::min)),
            pct(anb.iter().map(|x| x.0).fold(f64::MIN, f64::max)),
        ));
    }

    // Fine-tuning: does AnB+ beat baseB (the paper: +1.6% on ImageNet)?
    let plus = anb_plus.iter().map(|x| x.0).sum::<f64>() / last as f64;
    let selfplus = bnb_plus.iter().map(|x| x.0).sum::<f64>() / last as f64;
    out.push(format!(
        "Fine-tuning: averaged over n, AnB+ scores {} ({} against baseB) and BnB+ {} ({}). {}",
        pct(plus),
        d(plus - base_b.0),
        pct(selfplus),
        d(selfplus - base_b.0),
        if plus - base_b.0 > tol {
            "Starting from A's features and fine-tuning beats training on B alone, as in the paper."
        } else if base_b.0 - plus > tol {
            "Here transferring from A and fine-tuning is worse than training on B alone."
        } else {
            "Here the transferred start neither helps nor hurts beyond the noise."
        }
    ));
    out
}

fn report(s: &TransferSettings, res: &TransferResults) -> Report {
    let mut r = Report::new("Feature transferability: Yosinski et al., Fig. 2");
    super::quick_banner(&mut r, &s.data);
    let names = |c: &[u32]| {
        c.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    r.text(format!(
        "{} split into task A (classes {}) and task B (classes {}). The net: {} linear layers ({} ReLU units each, then the output), \
trained for {} epoch{} (SGD, lr {}, momentum {}, batch {}), {} seed{}. For each n, layers 1..n are copied from baseB (BnB) or baseA (AnB) \
and frozen, or copied and fine-tuned (BnB+, AnB+); the layers above are re-initialised and trained on B. Scores are accuracy on B's test examples \
({} training, {} test examples in total before the split).",
        s.data.data,
        names(&s.split_a),
        names(&s.split_b),
        s.depth,
        s.width,
        s.train.epochs,
        if s.train.epochs == 1 { "" } else { "s" },
        s.train.lr,
        s.train.momentum,
        s.train.batch_size,
        s.seeds.len(),
        if s.seeds.len() == 1 { "" } else { "s" },
        s.data.train_examples,
        s.data.test_examples,
    ));
    r.heading("What the numbers say");
    for f in &res.findings {
        r.text(f.clone());
    }

    let last = s.depth - 1;
    let k = s.seeds.len();
    let n_b = res.test_examples_b;
    let mut plot = LinePlot::new(
        "Accuracy on B after transferring n layers",
        "layers copied (n)",
        "test accuracy on B (%)",
    )
    .x_labels(s.depth + 1);
    // The four variants side by side at each n, each with its error bar; with several
    // seeds, every seed's score as a small dot at the same place as its mean.
    let offsets = [-0.15, -0.05, 0.05, 0.15];
    for (i, &v) in Variant::ALL.iter().enumerate() {
        if k >= 2 {
            let pts = res
                .runs
                .iter()
                .filter(|x| x.variant == v)
                .map(|x| (x.n as f64 + offsets[i], 100.0 * x.test_accuracy))
                .collect();
            plot = plot.series(Series::new("", pts, Style::Points).color(i));
        }
        let cells: Vec<Uncertain> = res.summary[i]
            .1
            .iter()
            .map(|&(m, sd)| Uncertain::of_summary(m, sd, k, n_b))
            .collect();
        let means = cells
            .iter()
            .enumerate()
            .map(|(j, u)| ((j + 1) as f64 + offsets[i], 100.0 * u.mean))
            .collect();
        plot = plot.series(
            Series::new(v.label(), means, Style::LineWithPoints)
                .color(i)
                .errors(cells.iter().map(|u| (100.0 * u.lo, 100.0 * u.hi)).collect()),
        );
    }
    let base_u = Uncertain::of_summary(res.base_b.0, res.base_b.1, k, n_b);
    if k >= 2 {
        let base_pts = res
            .base
            .iter()
            .filter(|b| b.task == "B")
            .map(|b| (0.0, 100.0 * b.test_accuracy))
            .collect();
        plot = plot.series(Series::new("", base_pts, Style::Points).color(7));
    }
    plot = plot
        .series(
            Series::new("", vec![(0.0, 100.0 * base_u.mean)], Style::Points)
                .color(7)
                .errors(vec![(100.0 * base_u.lo, 100.0 * base_u.hi)]),
        )
        .series(
            Series::new(
                "baseB",
                vec![
                    (0.0, 100.0 * base_u.mean),
                    (last as f64 + 0.2, 100.0 * base_u.mean),
                ],
                Style::Line,
            )
            .color(7),
        );
    r.line_plot(plot);

    let mut rows = vec![{
        let mut row = vec!["baseB (n = 0)".to_string()];
        row.push(base_u.cell());
        row.extend(std::iter::repeat_n(String::new(), 3));
        row
    }];
    for n in 1..=last {
        let mut row = vec![format!("n = {n}")];
        for (_, per_n) in &res.summary {
            let (m, sd) = per_n[n - 1];
            row.push(Uncertain::of_summary(m, sd, k, n_b).cell());
        }
        rows.push(row);
    }
    r.heading(if k >= 2 {
        "Accuracy on B (%, mean ± std over seeds)"
    } else {
        "Accuracy on B (%, with its 95% interval)"
    })
    .text(super::spread_note(k, n_b))
    .table(&["", "BnB", "BnB+", "AnB", "AnB+"], rows);
    let base_a: Vec<f64> = res
        .base
        .iter()
        .filter(|b| b.task == "A")
        .map(|b| b.test_accuracy)
        .collect();
    r.text(format!(
        "baseA scores {} on A's own {} test examples. Frozen layers were checked to be unchanged after training (largest change of a frozen copied weight: {}).",
        Uncertain::of(&base_a, res.test_examples_a).cell(),
        res.test_examples_a,
        res.runs
            .iter()
            .filter(|x| !x.variant.fine_tune())
            .map(|x| x.copied_max_change)
            .fold(0.0, f64::max)
    ));
    r
}

/// `shrink experiment transfer` (settings: `transfer.toml` beside this file).
pub struct TransferExperiment;

/// What `transfer.toml` holds (each also a flag of `shrink experiment transfer`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferFile {
    /// Number of seeds (1, 2, …).
    pub seeds: usize,
    /// Classes of task A (absent: a random half, from `split_seed`).
    #[serde(default)]
    pub split_a: Option<Vec<u32>>,
    pub split_seed: u64,
    /// Hidden units per layer.
    pub width: usize,
    /// Weight layers L (n runs over 1..L-1).
    pub depth: usize,
    /// Epochs of every base and transfer net.
    pub epochs: usize,
    pub lr: f64,
}

impl super::runner::Experiment for TransferExperiment {
    const NAME: &'static str = "transfer";
    const SETTINGS: &'static str = include_str!("transfer.toml");
    type Settings = TransferFile;

    fn run(common: &Common, f: TransferFile) -> Result<serde_json::Value> {
        let (src, data) = common.load()?;
        let classes = src.train.classes.max(src.test.classes);
        let (split_a, split_b) = split_classes(classes, f.split_a.as_deref(), f.split_seed)?;
        let settings = TransferSettings {
            split_a,
            split_b,
            seeds: super::seed_list(f.seeds)?,
            width: f.width,
            depth: f.depth,
            train: TrainConfig {
                epochs: f.epochs,
                lr: f.lr,
                val_fraction: 0.0,
                ..TrainConfig::default()
            },
            data,
        };
        run(common, settings, &src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::Device;

    #[test]
    fn split_and_restrict() {
        let (a, b) = split_classes(10, None, 1).unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(b.len(), 5);
        assert!(a.iter().all(|c| !b.contains(c)));
        assert_eq!(split_classes(10, None, 1).unwrap(), (a, b));
        let (a, b) = split_classes(4, Some(&[3, 0]), 0).unwrap();
        assert_eq!((a, b), (vec![0, 3], vec![1, 2]));
        assert!(split_classes(4, Some(&[4]), 0).is_err());
        assert!(split_classes(2, Some(&[0, 1]), 0).is_err());

        let ds = Dataset::new(
            vec![1],
            vec![0.0, 1.0, 2.0, 3.0],
            vec![0, 1, 2, 1],
            3,
            vec!["x".into(), "y".into(), "z".into()],
        )
        .unwrap();
        let r = restrict(&ds, &[2, 1]);
        assert_eq!(r.y, vec![1, 0, 1]);
        assert_eq!(r.x, vec![1.0, 2.0, 3.0]);
        assert_eq!(r.class_names, vec!["z", "y"]);
        r.validate().unwrap();
    }

    /// The copied layers of a frozen graft do not move during training; fine-tuned ones do.
    #[test]
    fn frozen_layers_do_not_change() {
        let n = 64;
        let x: Vec<f32> = (0..n * 6).map(|i| ((i * 37 % 11) as f32) / 10.0).collect();
        let y: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
        let ds = Dataset::new(vec![6], x, y, 2, vec!["a".into(), "b".into()]).unwrap();
        let src = DataSource {
            name: "toy".into(),
            kind: shrink_data::SourceKind::Csv,
            train: ds.clone(),
            test: ds,
            schema: None,
        };
        let spec = crate::experiments::fit_spec(transfer_spec(8, 3), &src, &src.train).unwrap();
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: 16,
            lr: 0.1,
            val_fraction: 0.0,
            ..TrainConfig::default()
        };
        let dev = Device::flex().autodiff();
        dev.seed(1);
        let source = Net::new(&spec, &dev).unwrap();
        for fine_tune in [false, true] {
            dev.seed(2);
            let fresh = Net::new(&spec, &dev).unwrap();
            let cut = weight_layers(&spec)[1]; // two weight layers copied
            let net = graft(&source, fresh, cut, fine_tune);
            let before = weight_values(&net);
            assert_eq!(before[..2], weight_values(&source)[..2], "copied exactly");
            let (out, _) =
                crate::experiments::train_net(net, &spec, &cfg, &src, &Device::flex(), &mut Plain)
                    .unwrap();
            let after = weight_values(&out.net);
            for k in 0..3 {
                let changed = before[k].1 != after[k].1;
                let expect = fine_tune || k == 2;
                assert_eq!(changed, expect, "layer {k}, fine_tune {fine_tune}");
            }
        }
    }

    #[test]
    fn findings_follow_the_numbers() {
        let flat = vec![(0.98, 0.001); 5];
        let dip = vec![
            (0.98, 0.001),
            (0.95, 0.001),
            (0.94, 0.001),
            (0.96, 0.001),
            (0.98, 0.001),
        ];
        let falling: Vec<(f64, f64)> = (0..5).map(|i| (0.98 - 0.03 * i as f64, 0.001)).collect();
        let summary = |bnb: &Vec<(f64, f64)>, anb: &Vec<(f64, f64)>| {
            vec![
                (Variant::BnB, bnb.clone()),
                (Variant::BnBPlus, flat.clone()),
                (Variant::AnB, anb.clone()),
                (Variant::AnBPlus, flat.clone()),
            ]
        };
        let f = findings(&summary(&dip, &falling), (0.98, 0.001), 3, 1_000_000);
        assert!(f[1].contains("dips to 94.00% at n = 3"), "{}", f[1]);
        assert!(f[2].contains("AnB falls from 98.00%"), "{}", f[2]);
        let f = findings(&summary(&flat, &flat), (0.98, 0.001), 3, 1_000_000);
        assert!(f[1].contains("stays within"), "{}", f[1]);
        assert!(f[2].contains("AnB stays between"), "{}", f[2]);
        assert!(f[3].contains("neither helps nor hurts"), "{}", f[3]);
        // Low at n = 1 only: below baseB, but no middle dip.
        let mut early = flat.clone();
        early[0].0 = 0.95;
        let f = findings(&summary(&early, &flat), (0.98, 0.001), 3, 1_000_000);
        assert!(f[1].contains("not in the middle"), "{}", f[1]);
    }

    #[test]
    fn spec_has_depth_weight_layers() {
        let spec = transfer_spec(16, 5);
        assert_eq!(weight_layers(&spec), vec![1, 3, 5, 7, 9]);
        spec.infer().unwrap();
    }
}
