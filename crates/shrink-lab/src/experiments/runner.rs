//! One way to run an experiment. Each experiment implements [`Experiment`]: its name, its
//! settings file (a TOML file beside its module, compiled in: a `[full]` table with
//! every setting and a `[quick]` table of what `--quick` changes) and the typed settings
//! it reads from that file. [`run`] merges file, `--quick` and the command line's
//! overrides (in that order), loads the data, runs the experiment and returns the value
//! it wrote to `results.json` (`report::envelope` of its typed settings and results).
//! Finished runs are kept in the one resumable-step store (`shrink_core::store::Store`,
//! under `OUT/runs`).
//!
//! Keys every experiment's file may set besides its own: `data` (`mnist` or a path),
//! `limit_train` and `limit_test` (seeded subsets).
//!
//! Not here: any experiment's method (its own module); the command line (the `shrink`
//! binary's `cli/experiment.rs`, which only turns flags into overrides).

use super::Common;
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A paper's experiment, run by [`run`].
pub trait Experiment {
    /// The subcommand's name, the default output directory's (`runs/experiments/NAME`)
    /// and results.json's `experiment`.
    const NAME: &'static str;
    /// The built-in settings file (TOML: `[full]` and `[quick]`).
    const SETTINGS: &'static str;
    /// What the settings file holds (besides `data`, `limit_train`, `limit_test`).
    type Settings: DeserializeOwned;
    /// Run with the data and output options in `common`; writes results.json and
    /// report.html into `common.out` and returns results.json's value.
    fn run(common: &Common, settings: Self::Settings) -> Result<Value>;
}

/// Options that are not an experiment's settings: where and how to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Output directory (default `runs/experiments/NAME`).
    pub out: Option<PathBuf>,
    /// Use the `[quick]` table.
    pub quick: bool,
    /// Keep finished runs in `OUT/runs` and skip them.
    pub resume: bool,
    /// Label column of a CSV file.
    pub label: Option<String>,
    /// Device (without autodiff).
    pub device: Device,
    /// No progress on stderr.
    pub quiet: bool,
    /// A settings file to read instead of the built-in one.
    pub settings_file: Option<PathBuf>,
}

/// Run experiment `E`: its settings file (or `opts.settings_file`), `[quick]` when
/// asked, then `overrides` (a JSON object of settings given on the command line; null
/// values are skipped).
pub fn run<E: Experiment>(opts: &Options, overrides: Value) -> Result<Value> {
    let (common, settings) = prepare::<E>(opts, overrides)?;
    E::run(&common, settings)
}

/// What [`run`] hands to `E::run`: the options and the merged settings.
pub fn prepare<E: Experiment>(opts: &Options, overrides: Value) -> Result<(Common, E::Settings)> {
    let text = match &opts.settings_file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read settings file {}", p.display()))?,
        None => E::SETTINGS.to_string(),
    };
    let origin = opts.settings_file.as_deref().map_or_else(
        || format!("built-in {}.toml", E::NAME),
        |p| p.display().to_string(),
    );
    let mut merged = settings_table(&text, opts.quick).with_context(|| origin.clone())?;
    match overrides {
        Value::Object(o) => overlay(&mut merged, o),
        Value::Null => {}
        other => bail!("overrides must be a table, not {other}"),
    }
    let data = match merged.remove("data") {
        Some(Value::String(s)) => s,
        Some(other) => bail!("{origin}: `data` must be a string, not {other}"),
        None => "mnist".to_string(),
    };
    let limit = |m: &mut Map<String, Value>, key: &str| -> Result<Option<usize>> {
        match m.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v)
                .with_context(|| format!("{origin}: `{key}` must be a whole number")),
        }
    };
    let limit_train = limit(&mut merged, "limit_train")?;
    let limit_test = limit(&mut merged, "limit_test")?;
    let settings: E::Settings = serde_json::from_value(Value::Object(merged))
        .with_context(|| format!("{origin}: bad settings for `{}`", E::NAME))?;
    let common = Common {
        data,
        label: opts.label.clone(),
        out: opts
            .out
            .clone()
            .unwrap_or_else(|| Path::new("runs/experiments").join(E::NAME)),
        quick: opts.quick,
        resume: opts.resume,
        limit_train,
        limit_test,
        device: opts.device.clone(),
        quiet: opts.quiet,
    };
    Ok((common, settings))
}

/// The `[full]` table of a settings file, with `[quick]` laid over it when `quick`.
pub fn settings_table(text: &str, quick: bool) -> Result<Map<String, Value>> {
    let doc: toml::Table = toml::from_str(text).context("not a valid settings file")?;
    for k in doc.keys() {
        if k != "full" && k != "quick" {
            bail!("unknown table `{k}` (a settings file has [full] and [quick])");
        }
    }
    let table = |name: &str| -> Result<Map<String, Value>> {
        match doc.get(name) {
            None => Ok(Map::new()),
            Some(v) => match serde_json::to_value(v).context("settings as JSON")? {
                Value::Object(m) => Ok(m),
                _ => bail!("`{name}` must be a table"),
            },
        }
    };
    let mut full = table("full")?;
    if quick {
        overlay(&mut full, table("quick")?);
    }
    Ok(full)
}

/// Lay `top`'s non-null values over `base`.
fn overlay(base: &mut Map<String, Value>, top: Map<String, Value>) {
    for (k, v) in top {
        if !v.is_null() {
            base.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_and_overrides_lay_over_full() {
        let text = "[full]\nsteps = 100\nlr = 0.1\n[quick]\nsteps = 5\nlimit_train = 10\n";
        let full = settings_table(text, false).unwrap();
        assert_eq!(full["steps"], 100);
        assert!(!full.contains_key("limit_train"));
        let mut quick = settings_table(text, true).unwrap();
        assert_eq!(quick["steps"], 5);
        assert_eq!(quick["lr"], 0.1);
        overlay(
            &mut quick,
            serde_json::json!({"lr": 0.5, "steps": null})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(quick["lr"], 0.5);
        assert_eq!(quick["steps"], 5, "a null override keeps the file's value");
        assert!(settings_table("[fast]\nx = 1\n", false).is_err());
    }

    fn opts(quick: bool) -> Options {
        Options {
            out: None,
            quick,
            resume: false,
            label: None,
            device: Device::default(),
            quiet: true,
            settings_file: None,
        }
    }

    /// Every built-in settings file gives its experiment's settings, full and quick.
    #[test]
    fn built_in_files_are_complete() {
        use crate::experiments::{ablation, mimic, munge, norm, transfer};
        fn both<E: Experiment>() -> [(Common, E::Settings); 2] {
            [false, true].map(|q| prepare::<E>(&opts(q), Value::Null).unwrap())
        }
        let [(c, full), (q, quick)] = both::<norm::NormExperiment>();
        assert_eq!((full.steps, quick.steps), (50_000, 600));
        assert_eq!(full.lr, quick.lr);
        assert_eq!((c.limit_train, q.limit_train), (None, Some(2000)));
        assert_eq!(c.out, Path::new("runs/experiments/norm"));
        let [(_, full), (_, quick)] = both::<transfer::TransferExperiment>();
        assert_eq!((full.seeds, quick.seeds), (3, 1));
        let [(_, full), (q, quick)] = both::<ablation::AblationExperiment>();
        assert_eq!((full.epochs, quick.epochs, q.limit_test), (2, 2, Some(500)));
        let [(_, full), (_, quick)] = both::<mimic::MimicExperiment>();
        assert_eq!((full.epochs, quick.epochs), (30, 4));
        let [(c, full), (_, quick)] = both::<munge::MungeExperiment>();
        assert_eq!((full.sizes, quick.sizes), (vec![1, 10, 100], vec![1, 4]));
        assert_eq!(c.data, "credit");
        let [(_, full), (_, quick)] = both::<crate::experiments::frontier::FrontierExperiment>();
        assert_eq!(full.nets, ["lenet-300-100", "lenet-5"]);
        assert_eq!((full.dense_epochs, quick.dense_epochs), (None, Some(1)));
        // A flag wins over the file; a wrong type or an unknown key is an error.
        let (_, s) = prepare::<norm::NormExperiment>(
            &opts(true),
            serde_json::json!({"steps": 7, "eval_every": null}),
        )
        .unwrap();
        assert_eq!((s.steps, s.eval_every), (7, 100));
        let bad = prepare::<norm::NormExperiment>(&opts(false), serde_json::json!({"stepz": 7}));
        assert!(format!("{:#}", bad.err().unwrap()).contains("stepz"));
    }
}
