//! Ba & Caruana (2014), "Do Deep Nets Really Need to be Deep?", Table 1, on MNIST (or
//! any image set): a deep CNN teacher, and one shallow net (one hidden layer of ReLU
//! units, with and without a linear bottleneck) trained on the labels, by logit
//! regression, by knowledge distillation, and on transfer sets of growing reach
//! (the training set, augmented copies, MUNGE). Parameters and test errors side by
//! side; how much of the gap between the shallow net on labels and the teacher each
//! mimic closes.
//!
//! The teacher is `--teacher` (model directories or .shrk files; several make an
//! ensemble) or, without one, zoo/teacher-cnn.toml trained here first.

use super::{pct, Common, DataSettings, Store, Uncertain};
use crate::report::{Bar, BarChart, Report};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shrink_core::distill::{
    self, MimicReport, MimicSettings, Teacher, TransferKind, TransferOptions,
};
use shrink_core::model::io;
use shrink_core::spec_file::SpecFile;
use shrink_core::train::{DistillLoss, TrainConfig};
use shrink_core::workflow::{self, RunOpts};
use shrink_data::DataSource;
use shrink_format::spec::{Init, Layer, ModelSpec};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The teacher trained when none is given.
pub const TEACHER_SPEC: &str = include_str!("../../../../zoo/teacher-cnn.toml");

/// Settings of the experiment (recorded in results.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MimicExperimentSettings {
    /// Given teachers (empty: train zoo/teacher-cnn.toml).
    pub teachers: Vec<PathBuf>,
    /// Epochs of the teacher trained here (its spec's [train] otherwise).
    pub teacher_epochs: usize,
    /// Hidden ReLU units of the shallow student.
    pub width: usize,
    /// Linear units of the bottleneck variant.
    pub bottleneck: usize,
    /// N of augment:N.
    pub augment: usize,
    /// N of munge:N.
    pub munge: usize,
    /// Student epochs on the training set, and on the larger transfer sets.
    pub epochs: usize,
    pub transfer_epochs: usize,
    /// Learning rates: hard labels, logit regression, KD.
    pub lr_labels: f64,
    pub lr_logits: f64,
    pub lr_kd: f64,
    /// Factor on the learning rate of the bottleneck variant (SGD on the product of
    /// two factors takes larger effective steps than on one matrix).
    pub bottleneck_lr_scale: f64,
    pub temperature: f64,
    pub alpha: f64,
    pub batch_size: usize,
    pub seed: u64,
    /// Run only these ids (empty: all).
    pub only: Vec<String>,
    pub data: DataSettings,
}

/// One student run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub spec: ModelSpec,
    pub transfer: TransferKind,
    pub loss: Option<DistillLoss>,
    pub cfg: TrainConfig,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub model: String,
    pub params: usize,
    pub loss: String,
    pub transfer: String,
    pub transfer_examples: usize,
    pub test_error: f64,
    pub teacher_agreement: f64,
    pub seconds: f64,
}

/// The teacher as reported.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeacherRow {
    pub teacher: String,
    pub params: usize,
    pub test_error: f64,
}

#[derive(Debug, Serialize)]
struct Results {
    teacher: TeacherRow,
    rows: Vec<Row>,
    findings: Vec<String>,
}

/// The shallow student: flatten, one hidden layer of `width` ReLUs (through `k` linear
/// units when `bottleneck` is given), and the output layer.
pub fn shallow_spec(width: usize, bottleneck: Option<usize>) -> ModelSpec {
    let linear = |out, bottleneck| Layer::Linear {
        out,
        bias: true,
        init: Init::HeNormal,
        bottleneck,
    };
    ModelSpec {
        name: match bottleneck {
            Some(k) => format!("shallow-{width}-bottleneck-{k}"),
            None => format!("shallow-{width}"),
        },
        input: vec![1, 28, 28],
        normalize: None,
        class_names: vec![],
        layers: vec![
            Layer::Flatten,
            linear(width, bottleneck),
            Layer::Relu,
            linear(10, None),
        ],
    }
}

/// The runs of the table, in order.
pub fn plans(s: &MimicExperimentSettings) -> Vec<Plan> {
    let snn = shallow_spec(s.width, None);
    let bn = shallow_spec(s.width, Some(s.bottleneck));
    let kd = DistillLoss::Kd {
        temperature: s.temperature,
        alpha: s.alpha,
    };
    let cfg = |epochs: usize, lr: f64| TrainConfig {
        epochs,
        lr,
        batch_size: s.batch_size,
        seed: s.seed,
        weight_decay: 0.0,
        ..TrainConfig::default()
    };
    let train = TransferKind::Train;
    let aug = TransferKind::Augment(s.augment);
    let munge = TransferKind::Munge(s.munge);
    let (e, te) = (s.epochs, s.transfer_epochs);
    let mut v = vec![
        ("labels", &snn, train.clone(), None, cfg(e, s.lr_labels)),
        (
            "labels-augment",
            &snn,
            aug.clone(),
            None,
            cfg(te, s.lr_labels),
        ),
        (
            "logits",
            &snn,
            train.clone(),
            Some(DistillLoss::Logits),
            cfg(e, s.lr_logits),
        ),
        ("kd", &snn, train.clone(), Some(kd), cfg(e, s.lr_kd)),
        (
            "logits-augment",
            &snn,
            aug.clone(),
            Some(DistillLoss::Logits),
            cfg(te, s.lr_logits),
        ),
        ("kd-augment", &snn, aug.clone(), Some(kd), cfg(te, s.lr_kd)),
        (
            "logits-munge",
            &snn,
            munge,
            Some(DistillLoss::Logits),
            cfg(te, s.lr_logits),
        ),
        (
            "bottleneck-labels",
            &bn,
            train,
            None,
            cfg(e, s.lr_labels * s.bottleneck_lr_scale),
        ),
        (
            "bottleneck-logits-augment",
            &bn,
            aug,
            Some(DistillLoss::Logits),
            cfg(te, s.lr_logits * s.bottleneck_lr_scale),
        ),
    ]
    .into_iter()
    .map(|(id, spec, transfer, loss, cfg)| Plan {
        id: id.to_string(),
        spec: spec.clone(),
        transfer,
        loss,
        cfg,
    })
    .collect::<Vec<_>>();
    if !s.only.is_empty() {
        v.retain(|p| s.only.iter().any(|o| o == &p.id));
    }
    v
}

/// Train one student from `teacher` into `store`'s run folder `id` (a normal model
/// directory), or take its stored result. A run killed midway continues from its
/// checkpoint under `--resume`.
pub(crate) fn student_run(
    common: &Common,
    store: &Store,
    teacher: &Teacher,
    plan: &Plan,
    options: &TransferOptions,
    src: &DataSource,
) -> Result<(MimicReport, bool)> {
    let key = serde_json::json!({
        "teacher": distill::cache::hex(&teacher.digest),
        "spec": plan.spec.to_toml(),
        "transfer": plan.transfer.to_string(),
        "transfer_options": options,
        "loss": plan.loss,
        "train": plan.cfg,
        "data": src.name,
        "train_examples": src.train.len(),
        "test_examples": src.test.len(),
    });
    let dir = store.file(&plan.id, "model");
    store.run(&plan.id, &key, || {
        let settings = MimicSettings {
            transfer: plan.transfer.clone(),
            transfer_options: options.clone(),
            loss: plan.loss,
            cache_dir: common.out.join("cache"),
        };
        let opts = RunOpts {
            resume: common.resume,
            quiet: true,
            ..Default::default()
        };
        let (r, _, _) = distill::mimic(
            teacher,
            plan.spec.clone(),
            &plan.cfg,
            &settings,
            src,
            &dir,
            &common.device,
            &opts,
        )
        .with_context(|| format!("run {}", plan.id))?;
        Ok(r)
    })
}

/// Train the teacher (zoo/teacher-cnn.toml) into `out/teacher`, or reuse the one there.
fn train_teacher(
    common: &Common,
    s: &MimicExperimentSettings,
    src: &DataSource,
) -> Result<PathBuf> {
    let dir = common.out.join("teacher");
    let file = SpecFile::parse(TEACHER_SPEC)?;
    let mut cfg = file.train.clone();
    cfg.epochs = s.teacher_epochs;
    cfg.seed = s.seed;
    // Reused under --resume when trained with these settings on this data.
    let key = serde_json::json!({ "config": cfg, "data": src.name });
    let store = Store::at(&dir, common.resume);
    if dir.join(io::WEIGHTS_FILE).is_file() && store.reuse::<f64>("trained", &key)?.is_some() {
        common.say(format!("teacher: {} (trained earlier)", dir.display()));
        return Ok(dir);
    }
    common.say(format!(
        "teacher: training {} for {} epochs into {} (give --teacher to use a trained one)",
        file.spec.name,
        cfg.epochs,
        dir.display()
    ));
    let opts = RunOpts {
        resume: common.resume,
        quiet: common.quiet,
        ..Default::default()
    };
    let (r, _, _) = workflow::train_model(
        file.spec,
        &cfg,
        None::<&()>,
        src,
        &dir,
        &common.device,
        &opts,
    )?;
    store.put("trained", &key, &r.test_error)?;
    Ok(dir)
}

/// Run the experiment; writes results.json, results.txt and report.html into
/// `common.out` and returns results.json's value.
pub fn run(
    common: &Common,
    mut s: MimicExperimentSettings,
    src: &DataSource,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    if src.train.shape.len() != 3 {
        bail!(
            "{}: the mimic experiment needs images (it augments and uses a CNN teacher); for a table use `shrink experiment munge`",
            src.name
        );
    }
    std::fs::create_dir_all(&common.out)
        .with_context(|| format!("cannot create {}", common.out.display()))?;
    let store = Store::open(&common.out.join("runs"), common.resume)?;
    let teacher_paths = if s.teachers.is_empty() {
        vec![train_teacher(common, &s, src)?]
    } else {
        s.teachers.clone()
    };
    let teacher = Teacher::load(&teacher_paths, &common.device)?;
    let classes = src.train.classes.max(src.test.classes);
    teacher.check_fits(&src.train.shape, classes, &src.name)?;
    s.teachers = teacher_paths;

    let options = TransferOptions {
        seed: s.seed,
        ..TransferOptions::default()
    };
    let mut rows = Vec::new();
    // Time spent by runs finished in earlier invocations (for the total).
    let mut earlier = 0.0;
    let mut teacher_error = None;
    let plans = plans(&s);
    for (i, plan) in plans.iter().enumerate() {
        common.say(format!(
            "[{}/{}] {}: {} on {}, {} epochs",
            i + 1,
            plans.len(),
            plan.id,
            distill::loss_name(plan.loss),
            plan.transfer,
            plan.cfg.epochs
        ));
        let (r, reused) = student_run(common, &store, &teacher, plan, &options, src)?;
        if reused {
            earlier += r.seconds;
        }
        common.say(format!(
            "  test error {}{}",
            pct(r.test_error),
            if reused {
                " (done earlier)".to_string()
            } else {
                format!(" ({:.0}s)", r.seconds)
            }
        ));
        teacher_error = Some(r.teacher_test_error);
        rows.push(Row {
            id: plan.id.clone(),
            model: plan.spec.name.clone(),
            params: r.student_params,
            loss: r.loss.clone(),
            transfer: r.transfer.clone(),
            transfer_examples: r.transfer_examples,
            test_error: r.test_error,
            teacher_agreement: r.teacher_agreement,
            seconds: r.seconds,
        });
    }
    let teacher_row = TeacherRow {
        teacher: teacher.describe(),
        params: teacher.params(),
        test_error: match teacher_error {
            Some(e) => e,
            None => {
                let z = teacher.logits(&src.test, &common.device, "teacher test", common.quiet);
                let k = classes;
                let hit = z
                    .chunks(k)
                    .zip(&src.test.y)
                    .filter(|(r, &y)| shrink_core::batch::argmax(r) as u32 == y)
                    .count();
                1.0 - hit as f64 / src.test.len().max(1) as f64
            }
        },
    };
    let findings = findings(&teacher_row, &rows);
    for f in &findings {
        common.say(f);
    }
    let results = Results {
        teacher: teacher_row,
        rows,
        findings,
    };
    let json = crate::report::envelope(
        "mimic",
        &s,
        &results,
        earlier + started.elapsed().as_secs_f64(),
    );
    let n_test = s.data.test_examples;
    let (headers, table) = table(&results.teacher, &results.rows, n_test);
    write_text(
        &common.out,
        "Mimic learning (Ba & Caruana 2014, Table 1)",
        &headers,
        &table,
        &results.findings,
    )?;
    let mut rep = Report::new("Deep to shallow: mimic learning on ".to_string() + &src.name);
    super::quick_banner(&mut rep, &s.data);
    rep.text(format!(
        "Teacher: {} ({} parameters). Student: one hidden layer of {} ReLU units (and a \
         variant with a {}-unit linear bottleneck), trained on the hard labels, by logit \
         regression (L2 on the teacher's logits), or by knowledge distillation (T = {}, \
         α = {}), on the training set ({} examples, 10% of them held out for \
         validation), augment:{} (+{}× shifted/rotated \
         copies) or munge:{} (+{}× MUNGE examples). Test split: {} examples. \"Gap \
         closed\" is how far each student moves from the shallow net on labels towards \
         the teacher.",
        results.teacher.teacher,
        results.teacher.params,
        s.width,
        s.bottleneck,
        s.temperature,
        s.alpha,
        s.data.train_examples,
        s.augment,
        s.augment,
        s.munge,
        s.munge,
        s.data.test_examples
    ))
    .text(format!(
        "Test errors (%) with their 95% binomial (Wilson) interval on the {n_test} test \
         examples: one run each, so this is the test set's sampling error alone."
    ))
    .table(
        &headers.iter().map(String::as_str).collect::<Vec<_>>(),
        table,
    )
    .bar_chart(BarChart {
        title: "Test error by run".into(),
        value_label: "test error (%), bars: 95% binomial interval".into(),
        bars: std::iter::once(("teacher".to_string(), results.teacher.test_error, 7))
            .chain(results.rows.iter().map(|r| (r.id.clone(), r.test_error, 0)))
            .map(|(label, e, color)| {
                let u = Uncertain::of(&[e], n_test);
                Bar {
                    label,
                    value: 100.0 * e,
                    error: Some((100.0 * u.lo, 100.0 * u.hi)),
                    color,
                }
            })
            .collect(),
        reference: Some(("teacher".to_string(), 100.0 * results.teacher.test_error)),
    })
    .heading("Findings")
    .text(results.findings.join("\n\n"));
    rep.write(&common.out, &json)?;
    Ok(json)
}

/// The table: the teacher, then every run, with the share of the gap closed.
fn table(teacher: &TeacherRow, rows: &[Row], n_test: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let error = |e: f64| Uncertain::of(&[e], n_test).cell();
    let base = rows.iter().find(|r| r.id == "labels").map(|r| r.test_error);
    let headers = [
        "run",
        "model",
        "params",
        "training",
        "transfer set",
        "examples",
        "test error (%, 95% interval)",
        "gap closed",
        "agrees with teacher",
    ]
    .map(String::from)
    .to_vec();
    let mut out = vec![vec![
        "teacher".into(),
        teacher.teacher.clone(),
        teacher.params.to_string(),
        "labels".into(),
        "train".into(),
        String::new(),
        error(teacher.test_error),
        String::new(),
        String::new(),
    ]];
    for r in rows {
        out.push(vec![
            r.id.clone(),
            r.model.clone(),
            r.params.to_string(),
            r.loss.clone(),
            r.transfer.clone(),
            r.transfer_examples.to_string(),
            error(r.test_error),
            base.map(|b| gap_closed(b, r.test_error, teacher.test_error))
                .unwrap_or_default(),
            pct(r.teacher_agreement),
        ]);
    }
    (headers, out)
}

/// `(labels − e) / (labels − teacher)` as a percentage.
fn gap_closed(labels: f64, e: f64, teacher: f64) -> String {
    if labels - teacher <= 0.0 {
        return "n/a".into();
    }
    format!("{:.0}%", 100.0 * (labels - e) / (labels - teacher))
}

/// What the numbers say (computed from them).
fn findings(teacher: &TeacherRow, rows: &[Row]) -> Vec<String> {
    let mut f = Vec::new();
    let Some(base) = rows.iter().find(|r| r.id == "labels") else {
        return f;
    };
    let best = rows
        .iter()
        .filter(|r| r.loss != "labels" && r.model == base.model)
        .min_by(|a, b| a.test_error.total_cmp(&b.test_error));
    if let Some(b) = best {
        let closed = (base.test_error - b.test_error) / (base.test_error - teacher.test_error);
        f.push(format!(
            "The best mimic of the {}-parameter shallow net ({}, {} on {}) has a test error of {} against {} for the same net on labels and {} for the {}-parameter teacher: {} the labels net, closing {:.0}% of the gap ({} half).",
            base.params,
            b.id,
            b.loss,
            b.transfer,
            pct(b.test_error),
            pct(base.test_error),
            pct(teacher.test_error),
            teacher.params,
            if b.test_error < base.test_error { "better than" } else { "no better than" },
            100.0 * closed,
            if closed >= 0.5 { "at least" } else { "less than" }
        ));
    }
    if let (Some(l), Some(m)) = (
        rows.iter().find(|r| r.id == "logits"),
        rows.iter().find(|r| r.id == "kd"),
    ) {
        f.push(format!(
            "On the training set alone: logit regression {}, knowledge distillation {}, hard labels {}.",
            pct(l.test_error),
            pct(m.test_error),
            pct(base.test_error)
        ));
    }
    if let (Some(b), Some(bm)) = (
        rows.iter().find(|r| r.id == "bottleneck-labels"),
        rows.iter().find(|r| r.id == "bottleneck-logits-augment"),
    ) {
        f.push(format!(
            "With a linear bottleneck ({} parameters): {} on labels, {} as a mimic ({} of its own gap to the teacher closed).",
            b.params,
            pct(b.test_error),
            pct(bm.test_error),
            gap_closed(b.test_error, bm.test_error, teacher.test_error)
        ));
    }
    f
}

/// `results.txt`: the table as aligned text, and the findings.
pub(crate) fn write_text(
    dir: &Path,
    title: &str,
    headers: &[String],
    rows: &[Vec<String>],
    findings: &[String],
) -> Result<()> {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut text = format!("{title}\n\n{}\n", line(headers));
    text.push_str(&format!(
        "{}\n",
        w.iter()
            .map(|&n| "-".repeat(n))
            .collect::<Vec<_>>()
            .join("  ")
    ));
    for r in rows {
        text.push_str(&line(r));
        text.push('\n');
    }
    for f in findings {
        text.push('\n');
        text.push_str(f);
        text.push('\n');
    }
    io::write_atomic(&dir.join("results.txt"), text.as_bytes())
}

/// `shrink experiment mimic` (settings: `mimic.toml` beside this file).
pub struct MimicExperiment;

/// What `mimic.toml` holds (each also a flag of `shrink experiment mimic`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MimicFile {
    /// Trained teachers (empty: zoo/teacher-cnn.toml is trained first).
    #[serde(default)]
    pub teachers: Vec<PathBuf>,
    /// Epochs of the teacher trained here.
    pub teacher_epochs: usize,
    pub width: usize,
    pub bottleneck: usize,
    pub augment: usize,
    pub munge: usize,
    pub epochs: usize,
    pub transfer_epochs: usize,
    pub lr_labels: f64,
    pub lr_logits: f64,
    pub lr_kd: f64,
    pub bottleneck_lr_scale: f64,
    pub temperature: f64,
    pub alpha: f64,
    pub batch_size: usize,
    pub seed: u64,
    /// Run only these ids (empty: all).
    #[serde(default)]
    pub only: Vec<String>,
}

impl super::runner::Experiment for MimicExperiment {
    const NAME: &'static str = "mimic";
    const SETTINGS: &'static str = include_str!("mimic.toml");
    type Settings = MimicFile;

    fn run(common: &Common, f: MimicFile) -> Result<serde_json::Value> {
        let (src, data) = common.load()?;
        let settings = MimicExperimentSettings {
            teachers: f.teachers,
            teacher_epochs: f.teacher_epochs,
            width: f.width,
            bottleneck: f.bottleneck,
            augment: f.augment,
            munge: f.munge,
            epochs: f.epochs,
            transfer_epochs: f.transfer_epochs,
            lr_labels: f.lr_labels,
            lr_logits: f.lr_logits,
            lr_kd: f.lr_kd,
            bottleneck_lr_scale: f.bottleneck_lr_scale,
            temperature: f.temperature,
            alpha: f.alpha,
            batch_size: f.batch_size,
            seed: f.seed,
            only: f.only,
            data,
        };
        run(common, settings, &src)
    }
}
