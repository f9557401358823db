//! Buciluǎ, Caruana, Niculescu-Mizil (2006), "Model Compression", on a table: an
//! ensemble of MLPs (the teacher, logits averaged) labels synthetic transfer sets, and a
//! small net learns from them. MUNGE against RANDOM at growing transfer-set sizes, and
//! against the same small net trained on the labels alone — accuracy against size.
//!
//! Any CSV with a label column works, numeric and categorical columns alike (MUNGE
//! swaps categorical values whole and jitters numeric ones). Labelled data is where
//! MUNGE pays: `--train-size` trains everything on a seeded subset of the rows.

use super::mimic::{student_run, write_text, Plan};
use super::{mean_std, pct, Common, DataSettings, Store, Uncertain};
use crate::report::{LinePlot, Report, Series, Style};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shrink_core::distill::{self, Teacher, TransferKind, TransferOptions};
use shrink_core::model::io;
use shrink_core::train::{DistillLoss, OptimKind, TrainConfig};
use shrink_core::workflow::{self, RunOpts};
use shrink_data::DataSource;
use shrink_format::spec::{Init, Layer, ModelSpec};
use std::path::Path;
use std::time::Instant;

/// Settings of the experiment (recorded in results.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MungeExperimentSettings {
    /// N of munge:N and random:N (synthetic examples per training example).
    pub sizes: Vec<usize>,
    /// MLPs in the teacher ensemble.
    pub members: usize,
    /// Hidden units of each of the teacher's two hidden layers.
    pub teacher_width: usize,
    pub teacher_epochs: usize,
    /// Hidden units of the student's one hidden layer.
    pub student_width: usize,
    /// Training examples seen by each student (epochs = this / transfer-set size,
    /// clamped to `min_epochs..=max_epochs`).
    pub example_budget: usize,
    pub min_epochs: usize,
    pub max_epochs: usize,
    /// How students fit the teacher.
    pub loss: DistillLoss,
    /// Adam's learning rate (all nets).
    pub lr: f64,
    pub batch_size: usize,
    pub weight_decay: f64,
    pub munge_p: f64,
    pub munge_s: f64,
    /// RANDOM and MUNGE sets without the training rows (else they follow them).
    pub synthetic_only: bool,
    /// Student seeds (each also seeds its transfer set).
    pub seeds: Vec<u64>,
    pub data: DataSettings,
}

/// One student result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// `labels`, `teacher-labels` (the training set labelled by the teacher), `munge`, `random`.
    pub kind: String,
    /// N (0 for the training set alone).
    pub size: usize,
    pub seed: u64,
    pub transfer_examples: usize,
    pub epochs: usize,
    pub test_error: f64,
    pub teacher_agreement: f64,
}

#[derive(Debug, Serialize)]
struct Results {
    teacher: String,
    teacher_params: usize,
    teacher_test_error: f64,
    /// Test error of each ensemble member alone.
    member_test_errors: Vec<f64>,
    student_params: usize,
    points: Vec<Point>,
    findings: Vec<String>,
}

fn mlp(name: &str, widths: &[usize], dropout: Option<f64>) -> ModelSpec {
    let mut layers = Vec::new();
    for &w in widths {
        layers.push(Layer::Linear {
            out: w,
            bias: true,
            init: Init::HeNormal,
            bottleneck: None,
        });
        layers.push(Layer::Relu);
        if let Some(p) = dropout {
            layers.push(Layer::Dropout { p });
        }
    }
    // The output width follows the data's classes (workflow::adapt_spec).
    layers.push(Layer::Linear {
        out: 2,
        bias: true,
        init: Init::HeNormal,
        bottleneck: None,
    });
    ModelSpec {
        name: name.into(),
        input: vec![1],
        normalize: None,
        class_names: vec![],
        layers,
    }
}

fn adam(s: &MungeExperimentSettings, epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: s.batch_size,
        lr: s.lr,
        optimizer: OptimKind::Adam,
        momentum: 0.0,
        weight_decay: s.weight_decay,
        val_fraction: 0.0,
        seed,
        ..TrainConfig::default()
    }
}

/// Run the experiment; writes results.json, results.txt and report.html.
pub fn run(
    common: &Common,
    s: MungeExperimentSettings,
    src: &DataSource,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    if src.train.shape.len() != 1 || src.schema.is_none() {
        bail!(
            "{}: the munge experiment needs a CSV table (for images use `shrink experiment mimic`)",
            src.name
        );
    }
    if s.sizes.is_empty() || s.sizes.contains(&0) {
        bail!("--sizes must list whole numbers ≥ 1, e.g. 1,10,100");
    }
    if s.members == 0 || s.seeds.is_empty() {
        bail!("--members and --seeds must be at least 1");
    }
    std::fs::create_dir_all(&common.out)
        .with_context(|| format!("cannot create {}", common.out.display()))?;
    let store = Store::open(&common.out.join("runs"), common.resume)?;

    // 1. The teacher: `members` MLPs, different seeds, logits averaged.
    let teacher_spec = mlp(
        "teacher-mlp",
        &[s.teacher_width, s.teacher_width],
        Some(0.2),
    );
    let mut paths = Vec::new();
    let mut member_errors = Vec::new();
    for m in 0..s.members {
        let dir = common.out.join(format!("teacher-{}", m + 1));
        let cfg = adam(&s, s.teacher_epochs, 100 + m as u64);
        let error = train_or_reuse(common, &dir, &teacher_spec, &cfg, src)?;
        common.say(format!(
            "teacher member {}: test error {}",
            m + 1,
            pct(error)
        ));
        member_errors.push(error);
        paths.push(dir);
    }
    let teacher = Teacher::load(&paths, &common.device)?;

    // 2. Students: labels; the training set labelled by the teacher; RANDOM and MUNGE.
    let student = mlp("student-mlp", &[s.student_width], None);
    let n = src.train.len();
    let epochs = |size: usize| {
        s.example_budget
            .div_ceil(size.max(1))
            .clamp(s.min_epochs, s.max_epochs)
    };
    let mut runs: Vec<(String, Option<DistillLoss>, TransferKind, usize)> = vec![
        ("labels".into(), None, TransferKind::Train, 0),
        (
            "teacher-labels".into(),
            Some(s.loss),
            TransferKind::Train,
            0,
        ),
    ];
    for &k in &s.sizes {
        runs.push(("random".into(), Some(s.loss), TransferKind::Random(k), k));
        runs.push(("munge".into(), Some(s.loss), TransferKind::Munge(k), k));
    }
    let mut points = Vec::new();
    // Time spent by student runs finished in earlier invocations (for the total).
    let mut earlier = 0.0;
    let mut teacher_error = f64::NAN;
    let mut student_params = 0;
    let total = runs.len() * s.seeds.len();
    for &seed in &s.seeds {
        for (kind, loss, transfer, k) in &runs {
            let id = format!("{kind}-{k}-s{seed}");
            let plan = Plan {
                id: id.clone(),
                spec: student.clone(),
                transfer: transfer.clone(),
                loss: *loss,
                cfg: adam(&s, epochs(n * (1 + k)), seed),
            };
            let options = TransferOptions {
                munge_p: s.munge_p,
                munge_s: s.munge_s,
                seed,
                synthetic_only: s.synthetic_only,
            };
            common.say(format!(
                "[{}/{total}] {id}: {} on {}, {} epochs",
                points.len() + 1,
                distill::loss_name(*loss),
                transfer,
                plan.cfg.epochs
            ));
            let (r, reused) = student_run(common, &store, &teacher, &plan, &options, src)?;
            if reused {
                earlier += r.seconds;
            }
            common.say(format!(
                "  test error {}{}",
                pct(r.test_error),
                if reused { " (done earlier)" } else { "" }
            ));
            teacher_error = r.teacher_test_error;
            student_params = r.student_params;
            points.push(Point {
                kind: kind.clone(),
                size: *k,
                seed,
                transfer_examples: r.transfer_examples,
                epochs: r.epochs,
                test_error: r.test_error,
                teacher_agreement: r.teacher_agreement,
            });
        }
    }

    let summary = summarize(&points);
    let findings = findings(&summary, teacher_error, &s);
    for f in &findings {
        common.say(f);
    }
    let results = Results {
        teacher: teacher.describe(),
        teacher_params: teacher.params(),
        teacher_test_error: teacher_error,
        member_test_errors: member_errors,
        student_params,
        points,
        findings,
    };
    let json = crate::report::envelope(
        "munge",
        &s,
        &results,
        earlier + started.elapsed().as_secs_f64(),
    );
    let headers: Vec<String> = [
        "training",
        "N",
        "transfer examples",
        "test error (mean ± sd)",
        "seeds",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = vec![vec![
        format!("teacher: ensemble of {} MLPs", s.members),
        String::new(),
        String::new(),
        pct(teacher_error),
        String::new(),
    ]];
    let (me, ms) = mean_std(&results.member_test_errors);
    rows.push(vec![
        "one ensemble member".into(),
        String::new(),
        String::new(),
        Uncertain::of_summary(
            me,
            ms,
            results.member_test_errors.len(),
            s.data.test_examples,
        )
        .cell(),
        results.member_test_errors.len().to_string(),
    ]);
    for r in &summary {
        rows.push(vec![
            r.kind.clone(),
            r.size.to_string(),
            r.examples.to_string(),
            Uncertain::of_summary(r.mean, r.sd, r.runs, s.data.test_examples).cell(),
            r.runs.to_string(),
        ]);
    }
    write_text(
        &common.out,
        "Model compression with MUNGE (Buciluǎ et al. 2006)",
        &headers,
        &rows,
        &results.findings,
    )?;
    let mut rep = Report::new(format!("MUNGE vs RANDOM transfer sets on {}", src.name));
    super::quick_banner(&mut rep, &s.data);
    rep.text(format!(
        "Teacher: an ensemble of {} MLPs (2 × {} ReLU, dropout 0.2; {} parameters), logits \
         averaged. Student: one hidden layer of {} ReLU units ({} parameters), trained on \
         the {} labelled training rows alone (\"labels\"), or with the {} loss on the \
         teacher's logits for the training rows alone (\"teacher-labels\") or for {}N× as many \
         synthetic rows from RANDOM (each column drawn from its marginal) or MUNGE (p = \
         {}, s = {}). Test split: {} rows. {} seed(s) per point.",
        s.members,
        s.teacher_width,
        results.teacher_params,
        s.student_width,
        student_params,
        s.data.train_examples,
        distill::loss_name(Some(s.loss)),
        if s.synthetic_only {
            ""
        } else {
            "the training rows plus "
        },
        s.munge_p,
        s.munge_s,
        s.data.test_examples,
        s.seeds.len()
    ));
    let line_at = |y: f64| {
        let lo = *s.sizes.iter().min().unwrap_or(&1) as f64;
        let hi = *s.sizes.iter().max().unwrap_or(&1) as f64;
        vec![(lo, y), (hi.max(lo * 1.01), y)]
    };
    let series = |kind: &str| {
        summary
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| (r.size as f64, 100.0 * r.mean))
            .collect::<Vec<_>>()
    };
    let labels = summary.iter().find(|r| r.kind == "labels").map(|r| r.mean);
    let mut plot = LinePlot::new(
        "Test error vs transfer-set size",
        "N (synthetic rows per training row)",
        "test error (%)",
    )
    .log_x()
    .series(Series::new("MUNGE", series("munge"), Style::LineWithPoints).color(0))
    .series(Series::new("RANDOM", series("random"), Style::LineWithPoints).color(1))
    .series(
        Series::new(
            "teacher ensemble",
            line_at(100.0 * teacher_error),
            Style::Line,
        )
        .color(6),
    );
    if let Some(l) = labels {
        plot =
            plot.series(Series::new("student on labels", line_at(100.0 * l), Style::Line).color(7));
    }
    rep.line_plot(plot)
        .text(format!(
            "Test errors (%): mean ± standard deviation over seeds where they differ, otherwise in brackets \
the 95% binomial interval of one error rate on {} test rows.",
            s.data.test_examples
        ))
        .table(
            &headers.iter().map(String::as_str).collect::<Vec<_>>(),
            rows,
        )
        .heading("Findings")
        .text(results.findings.join("\n\n"));
    rep.write(&common.out, &json)?;
    Ok(json)
}

/// Keep a seeded random `train_size` rows of the training split for training (labels
/// are scarce) and move the other rows into the test split: they are labelled data the
/// students never see, and a larger test split measures the small differences between
/// transfer sets with less noise.
pub fn scarce_labels(
    src: &mut DataSource,
    data: &mut DataSettings,
    train_size: usize,
) -> Result<()> {
    let n = src.train.len();
    if train_size == 0 || train_size > n {
        bail!("--train-size {train_size}: the training split has {n} rows");
    }
    let order = shrink_data::shuffled_indices(n, super::SUBSET_SEED);
    let (mut keep, mut rest) = (order[..train_size].to_vec(), order[train_size..].to_vec());
    keep.sort_unstable();
    rest.sort_unstable();
    let held = src.train.subset(&rest);
    src.test.x.extend_from_slice(&held.x);
    src.test.y.extend_from_slice(&held.y);
    src.train = src.train.subset(&keep);
    data.train_examples = src.train.len();
    data.test_examples = src.test.len();
    data.limit_train = Some(train_size);
    Ok(())
}

/// Train `spec` into the model directory `dir` (or reuse it under `--resume` when it
/// was trained with `cfg` on this data); returns its test error.
pub(crate) fn train_or_reuse(
    common: &Common,
    dir: &Path,
    spec: &ModelSpec,
    cfg: &TrainConfig,
    src: &DataSource,
) -> Result<f64> {
    let key = serde_json::json!({ "config": cfg, "data": src.name, "n": src.test.len() });
    let store = Store::at(dir, common.resume);
    if dir.join(io::WEIGHTS_FILE).is_file() {
        if let Some(e) = store.reuse::<f64>("trained", &key)? {
            return Ok(e);
        }
    }
    let opts = RunOpts {
        resume: common.resume,
        quiet: true,
        ..Default::default()
    };
    let (r, _, _) = workflow::train_model(
        spec.clone(),
        cfg,
        None::<&()>,
        src,
        dir,
        &common.device,
        &opts,
    )?;
    store.put("trained", &key, &r.test_error)?;
    Ok(r.test_error)
}

/// Mean and sd over seeds of one (kind, size).
#[derive(Debug, Clone, Serialize)]
struct SummaryRow {
    kind: String,
    size: usize,
    examples: usize,
    mean: f64,
    sd: f64,
    runs: usize,
}

fn summarize(points: &[Point]) -> Vec<SummaryRow> {
    let mut keys: Vec<(String, usize)> = Vec::new();
    for p in points {
        if !keys.iter().any(|(k, s)| k == &p.kind && *s == p.size) {
            keys.push((p.kind.clone(), p.size));
        }
    }
    keys.into_iter()
        .map(|(kind, size)| {
            let sel: Vec<&Point> = points
                .iter()
                .filter(|p| p.kind == kind && p.size == size)
                .collect();
            let errs: Vec<f64> = sel.iter().map(|p| p.test_error).collect();
            let (mean, sd) = mean_std(&errs);
            SummaryRow {
                kind,
                size,
                examples: sel[0].transfer_examples,
                mean,
                sd,
                runs: sel.len(),
            }
        })
        .collect()
}

fn findings(
    summary: &[SummaryRow],
    teacher_error: f64,
    s: &MungeExperimentSettings,
) -> Vec<String> {
    let mut f = Vec::new();
    let get = |kind: &str, size: usize| {
        summary
            .iter()
            .find(|r| r.kind == kind && r.size == size)
            .map(|r| r.mean)
    };
    let labels = get("labels", 0);
    let wins = s
        .sizes
        .iter()
        .filter(|&&k| matches!((get("munge", k), get("random", k)), (Some(m), Some(r)) if m < r))
        .count();
    let per_size: Vec<String> = s
        .sizes
        .iter()
        .filter_map(|&k| {
            let (m, r) = (get("munge", k)?, get("random", k)?);
            Some(format!("N = {k}: {} vs {}", pct(m), pct(r)))
        })
        .collect();
    f.push(format!(
        "MUNGE has the lower mean test error than RANDOM at {wins} of {} transfer-set sizes ({}).",
        s.sizes.len(),
        per_size.join("; ")
    ));
    let best = summary
        .iter()
        .filter(|r| r.kind == "munge")
        .min_by(|a, b| a.mean.total_cmp(&b.mean));
    if let (Some(b), Some(l)) = (best, labels) {
        f.push(format!(
            "Best MUNGE student (N = {}): {} test error, against {} for the same net on the labels alone, {} for the teacher-labelled training set alone, and {} for the teacher ensemble.",
            b.size,
            pct(b.mean),
            pct(l),
            get("teacher-labels", 0).map(pct).unwrap_or_default(),
            pct(teacher_error)
        ));
    }
    f
}

/// `shrink experiment munge` (settings: `munge.toml` beside this file).
pub struct MungeExperiment;

/// What `munge.toml` holds (each also a flag of `shrink experiment munge`, except the
/// epoch clamps).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MungeFile {
    /// Train everything on a seeded subset of this many rows (absent: all).
    #[serde(default)]
    pub train_size: Option<usize>,
    /// N of munge:N and random:N.
    pub sizes: Vec<usize>,
    /// MLPs in the teacher ensemble.
    pub members: usize,
    pub teacher_width: usize,
    pub teacher_epochs: usize,
    pub student_width: usize,
    /// Examples each student sees (epochs = this / transfer-set size).
    pub example_budget: usize,
    /// Clamps on those epochs.
    pub min_epochs: usize,
    pub max_epochs: usize,
    /// `logits` or `kd`.
    pub loss: String,
    pub temperature: f64,
    pub alpha: f64,
    /// Adam's learning rate.
    pub lr: f64,
    pub batch_size: usize,
    pub weight_decay: f64,
    pub munge_p: f64,
    pub munge_s: f64,
    /// RANDOM and MUNGE sets that start with the training rows.
    #[serde(default)]
    pub with_train: bool,
    /// Student seeds.
    pub seeds: usize,
}

impl super::runner::Experiment for MungeExperiment {
    const NAME: &'static str = "munge";
    const SETTINGS: &'static str = include_str!("munge.toml");
    type Settings = MungeFile;

    fn run(common: &Common, f: MungeFile) -> Result<serde_json::Value> {
        let mut common = common.clone();
        if common.data.eq_ignore_ascii_case("mnist") || common.data == "credit" {
            // MNIST is no table: take the bundled credit table.
            common.data = shrink_core::data::repo_data_dir()
                .join("credit/credit.csv")
                .display()
                .to_string();
        }
        let (mut src, mut data) = common.load()?;
        if let Some(n) = f.train_size {
            scarce_labels(&mut src, &mut data, n)?;
        }
        let loss = distill::parse_loss(&f.loss, f.temperature, f.alpha)?.ok_or_else(|| {
            anyhow::anyhow!(
                "--loss labels: the students learn from the teacher here; use logits or kd"
            )
        })?;
        let settings = MungeExperimentSettings {
            sizes: f.sizes,
            members: f.members,
            teacher_width: f.teacher_width,
            teacher_epochs: f.teacher_epochs,
            student_width: f.student_width,
            example_budget: f.example_budget,
            min_epochs: f.min_epochs,
            max_epochs: f.max_epochs,
            loss,
            lr: f.lr,
            batch_size: f.batch_size,
            weight_decay: f.weight_decay,
            munge_p: f.munge_p,
            munge_s: f.munge_s,
            synthetic_only: !f.with_train,
            seeds: super::seed_list(f.seeds)?,
            data,
        };
        run(&common, settings, &src)
    }
}
