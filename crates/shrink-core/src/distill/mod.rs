//! Deep to shallow: a small student learns from a trained teacher.
//!
//! - Ba & Caruana 2014 (docs/PAPERS.md §2), *mimic learning*: regress the teacher's
//!   pre-softmax logits with an L2 loss, on a transfer set labelled by the teacher; the
//!   student may factor its wide first layer through a linear bottleneck
//!   (`bottleneck = k` on a spec's `linear` layer, see `model`).
//! - Hinton et al. 2015, *knowledge distillation*: match the teacher's softened
//!   probabilities (temperature T), mixed with the hard labels.
//! - Buciluǎ et al. 2006 (§3), *model compression*: label a large synthetic transfer
//!   set (MUNGE, against the RANDOM baseline) with an ensemble.
//!
//! [`mimic`] is the whole recipe, top to bottom: split off the validation examples,
//! build the transfer set from the rest ([`transfer`]), have the teacher label it once
//! ([`teacher`], cached on disk by [`cache`]), train the student with the ordinary
//! loop (`train::train`, so checkpoints and `--resume` work as for `shrink train`)
//! against `Targets::Teacher`, and save a normal model directory. The losses
//! themselves live with the others in `train::loss`.
//!
//! Not here: MUNGE and RANDOM themselves (`shrink_data::munge`), the experiments that
//! reproduce the papers' tables (`experiments::mimic`, `experiments::munge`).

pub mod cache;
pub mod munge_file;
pub mod teacher;
pub mod transfer;

pub use cache::CacheUse;
pub use teacher::Teacher;
pub use transfer::{TransferKind, TransferOptions};

use crate::batch::{argmax, Batcher, Split};
use crate::model::{io, Net};
use crate::store::Store;
use crate::train::{self, DistillLoss, RunDir, Targets, TrainConfig};
use crate::workflow::{self, RunOpts};
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use shrink_data::DataSource;
use shrink_format::spec::ModelSpec;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a student is trained from its teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MimicSettings {
    pub transfer: TransferKind,
    pub transfer_options: TransferOptions,
    /// `None`: the hard labels — true where known, the teacher's argmax elsewhere.
    pub loss: Option<DistillLoss>,
    /// Where teacher logits are cached.
    pub cache_dir: PathBuf,
}

/// `logits`, `kd` (with `temperature` and `alpha`) or `labels`.
pub fn parse_loss(s: &str, temperature: f64, alpha: f64) -> Result<Option<DistillLoss>> {
    match s {
        "logits" => Ok(Some(DistillLoss::Logits)),
        "kd" => {
            if !(temperature.is_finite() && temperature > 0.0) {
                bail!("--temperature must be positive, got {temperature}");
            }
            if !(0.0..=1.0).contains(&alpha) {
                bail!("--alpha must be in [0, 1], got {alpha}");
            }
            Ok(Some(DistillLoss::Kd { temperature, alpha }))
        }
        "labels" => Ok(None),
        other => bail!("--loss {other}: expected logits, kd or labels"),
    }
}

/// `logits`, `kd T=4 α=0.9`, `labels`.
pub fn loss_name(loss: Option<DistillLoss>) -> String {
    match loss {
        None => "labels".into(),
        Some(DistillLoss::Logits) => "logits".into(),
        Some(DistillLoss::Kd { temperature, alpha }) => format!("kd T={temperature} α={alpha}"),
    }
}

/// What `shrink mimic` reports (and writes as the model's result.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MimicReport {
    pub model: String,
    pub data: String,
    pub teacher: String,
    /// The transfer set's recipe.
    pub transfer: String,
    pub transfer_examples: usize,
    pub loss: String,
    pub test_accuracy: f64,
    pub test_error: f64,
    /// Test examples.
    pub n: usize,
    pub val_accuracy: Option<f64>,
    pub teacher_test_accuracy: f64,
    pub teacher_test_error: f64,
    /// Fraction of test examples on which student and teacher predict the same class.
    pub teacher_agreement: f64,
    pub student_params: usize,
    pub teacher_params: usize,
    pub epochs: usize,
    /// Whole run, including the transfer set and the teacher's logits.
    pub seconds: f64,
    /// Building the transfer set and labelling it (0 when cached).
    pub transfer_seconds: f64,
    /// How the teacher's logits on the transfer set were had (None: not needed).
    pub teacher_cache: Option<CacheUse>,
    pub notes: Vec<String>,
    pub config: TrainConfig,
}

/// Settings a run directory was started with; a `--resume` with others is refused.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct RunIdentity {
    teacher: String,
    transfer: String,
    transfer_key: String,
    loss: Option<DistillLoss>,
    student: String,
}

/// The store entry (`mimic.json`) holding a run directory's settings.
const IDENTITY: &str = "mimic";

/// Train `student` (a spec, fitted to `src` here) from `teacher` on a transfer set made
/// from `src`'s training split, into the model directory `out`.
#[allow(clippy::too_many_arguments)]
pub fn mimic(
    teacher: &Teacher,
    mut student: ModelSpec,
    cfg: &TrainConfig,
    settings: &MimicSettings,
    src: &DataSource,
    out: &Path,
    device: &Device,
    opts: &RunOpts,
) -> Result<(MimicReport, ModelSpec, Net)> {
    let started = Instant::now();
    let quiet = opts.quiet;
    let say = |s: &str| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    let classes = src.train.classes.max(src.test.classes);
    teacher.check_fits(&src.train.shape, classes, &src.name)?;
    let mut notes = workflow::adapt_spec(&mut student, src)?;
    workflow::fit_normalization(&mut student, src);
    crate::tables::check_trainable(src)?;
    let mut cfg = cfg.clone();
    notes.extend(cfg.fit_to_input(&src.train.shape));
    if settings.loss.is_some() && cfg.augment.take().is_some() {
        notes.push("the student's [train] augment is not used: the teacher labels the examples as they are (use --transfer augment:N)".into());
    }
    cfg.validate()?;
    for n in &notes {
        say(&format!("note: {n}"));
    }

    // 1. Validation examples (for early stopping) never enter the transfer set; the
    //    split is the one `shrink train` makes with the same seed.
    let (base, val) = if cfg.val_fraction > 0.0 {
        let (tr, va) = shrink_data::split_indices(src.train.len(), cfg.val_fraction, cfg.seed);
        (src.train.subset(&tr), Some(src.train.subset(&va)))
    } else {
        (src.train.clone(), None)
    };

    // 2. The transfer set, and the teacher's logits on it (once; cached).
    let t0 = Instant::now();
    let mut set = transfer::build(
        &settings.transfer,
        &base,
        src,
        &settings.transfer_options,
        quiet,
    )?;
    let total = set.data.len();
    let key = set.key(&teacher.digest);
    let transfer_key = cache::hex(&key.finish());
    check_identity(
        out,
        opts.resume,
        &RunIdentity {
            teacher: cache::hex(&teacher.digest),
            transfer: set.recipe.clone(),
            transfer_key,
            loss: settings.loss,
            student: student.to_toml(),
        },
    )?;
    let needs_logits = settings.loss.is_some() || set.labelled < total;
    let (logits, teacher_cache) = if needs_logits {
        say(&format!(
            "transfer set {}: {total} examples ({} labelled)",
            set.recipe, set.labelled
        ));
        let (z, how, _) = cache::cached_logits(
            &settings.cache_dir,
            &key,
            total,
            classes,
            || Ok(teacher.logits(&set.data, device, "teacher", quiet)),
            &say,
        )?;
        // Examples without a label take the teacher's (KD's hard part, `--loss labels`).
        for i in set.labelled..total {
            set.data.y[i] = argmax(&z[i * classes..(i + 1) * classes]) as u32;
        }
        (z, Some(how))
    } else {
        (Vec::new(), None)
    };
    let transfer_seconds = t0.elapsed().as_secs_f64();

    // 3. The teacher on the test split (cached too: an ensemble is slow).
    let test_set = transfer::TransferSet {
        data: src.test.clone(),
        labelled: src.test.len(),
        recipe: format!("test split of {}", src.name),
    };
    let (zt, _, _) = cache::cached_logits(
        &settings.cache_dir,
        &test_set.key(&teacher.digest),
        src.test.len(),
        classes,
        || Ok(teacher.logits(&src.test, device, "teacher test", quiet)),
        &|_| {},
    )?;
    let teacher_preds: Vec<u32> = zt.chunks(classes).map(|r| argmax(r) as u32).collect();
    let teacher_acc = accuracy(&teacher_preds, &src.test.y);

    // 4. Train the student with the ordinary loop.
    let data = Batcher {
        shape: src.train.shape.clone(),
        classes,
        norm: student.normalize.clone(),
        train: set.data,
        val,
        test: src.test.clone(),
    };
    let targets = match settings.loss {
        None => Targets::Labels,
        Some(loss) => Targets::Teacher {
            logits: &logits,
            loss,
        },
    };
    let train_dev = device.clone().autodiff();
    // The same starting weights for one seed on every device (issue 18).
    let net = crate::device::init_net(&student, cfg.seed, &train_dev)?;
    say(&format!(
        "training {} ({} parameters) from {} ({} parameters) on {total} examples, loss {}",
        if student.name.is_empty() {
            "student"
        } else {
            &student.name
        },
        student.param_count()?,
        teacher.describe(),
        teacher.params(),
        loss_name(settings.loss)
    ));
    let run = RunDir {
        dir: out.to_path_buf(),
        resume: opts.resume,
        stop_after: opts.stop_after,
        snapshot_every: opts.snapshot_every,
    };
    let outcome = train::train(
        net,
        train::Job {
            cfg: &cfg,
            data: &data,
            targets,
            device: &train_dev,
            run: Some(&run),
            hooks: &mut train::Plain,
            quiet,
        },
    )?;

    // 5. A normal model directory (`shrink eval` reads it) and the report.
    let mut extra = toml::Table::new();
    extra.insert(
        "train".into(),
        toml::Value::try_from(&cfg).context("[train] as TOML")?,
    );
    io::save_model_with(out, &student, &outcome.net, &extra)?;
    if let Some(schema) = &src.schema {
        crate::tables::save_table(out, schema)?;
    }
    let valid = outcome.net.valid();
    let preds = crate::batch::predictions(
        &valid,
        &src.test,
        &student.input,
        student.normalize.as_ref(),
        device,
    );
    let acc = accuracy(&preds, &src.test.y);
    let agree = accuracy(&preds, &teacher_preds);
    let report = MimicReport {
        model: out.display().to_string(),
        data: src.name.clone(),
        teacher: teacher.describe(),
        transfer: set.recipe,
        transfer_examples: total,
        loss: loss_name(settings.loss),
        test_accuracy: acc,
        test_error: 1.0 - acc,
        n: src.test.len(),
        val_accuracy: data
            .has_val()
            .then(|| data.accuracy(&valid, Split::Val, device)),
        teacher_test_accuracy: teacher_acc,
        teacher_test_error: 1.0 - teacher_acc,
        teacher_agreement: agree,
        student_params: student.param_count()?,
        teacher_params: teacher.params(),
        epochs: outcome.epochs_run,
        seconds: started.elapsed().as_secs_f64(),
        transfer_seconds,
        teacher_cache,
        notes,
        config: cfg,
    };
    io::write_atomic(
        &out.join("result.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    Ok((report, student, valid))
}

/// Fraction of equal entries.
fn accuracy(pred: &[u32], truth: &[u32]) -> f64 {
    let hit = pred.iter().zip(truth).filter(|(a, b)| a == b).count();
    hit as f64 / truth.len().max(1) as f64
}

/// Record what `out` is being trained with; on `--resume`, refuse other settings (the
/// checkpoint would continue a different run).
fn check_identity(out: &Path, resume: bool, id: &RunIdentity) -> Result<()> {
    // The run's settings are the key of the store entry `mimic.json`.
    let store = Store::at(out, resume);
    let key = serde_json::to_value(id)?;
    if let Some(old) = store.key(IDENTITY)? {
        let old: RunIdentity = serde_json::from_value(old)
            .with_context(|| format!("{}: corrupt", store.file(IDENTITY, "json").display()))?;
        if &old != id {
            let what = if old.teacher != id.teacher {
                "another teacher"
            } else if old.transfer_key != id.transfer_key {
                "another transfer set"
            } else if old.loss != id.loss {
                "another loss"
            } else {
                "another student spec"
            };
            bail!(
                "{} was started with {what}; resume with the same settings, or drop --resume to start over",
                out.display()
            );
        }
        return Ok(());
    }
    store.put(IDENTITY, &key, &())
}
