//! Size against test error (issue 14, item 6): LeNet-300-100 and LeNet-5 compressed by
//! shrink several ways — Deep Compression with the zoo's settings, with and without
//! distillation, sparse variational dropout, and byte budgets — drawn against the points
//! the papers published for the same two networks, on the same axes.
//!
//! Every point of ours is one `shrink compress` process whose exact command line is
//! recorded in results.json (the dense model it starts from is one `shrink train`
//! command, recorded too); its size and test error are read from the report it wrote
//! (`report.json`: the `.shrk` as written, run by shrink-runtime). Points made elsewhere
//! (the LeNet-5 runs of `bench/issue14`) are added from their `report.json` with the
//! command that made them (`--points FILE`). A point that failed (a budget that could
//! not be met) is listed with its error and not drawn.
//!
//! The published ratios are converted to bytes as float32 bytes of the network / ratio.
//! Papers count differently (bytes, parameters, bits; the table says which): a ratio of
//! parameters is not a ratio of bytes, so those points are drawn hollow-labelled as such.
//!
//! Not here: the pipeline (`shrink_core::compress`), the HTML and plots (`report`).

use super::Store;
use crate::report::{envelope, LinePlot, Marker, Report, Series, Style};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One published result (issue 14's table).
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub method: &'static str,
    pub net: &'static str,
    /// Compression ratio as the paper counts it.
    pub ratio: f64,
    /// Test error, percent.
    pub error_percent: f64,
    /// What the ratio counts: "bytes", "parameters" or "bits".
    pub counts: &'static str,
}

/// The published points of issue 14's table.
pub const PUBLISHED: &[Published] = &[
    Published {
        method: "Deep Compression (Han et al. 2016)",
        net: "lenet-300-100",
        ratio: 40.0,
        error_percent: 1.58,
        counts: "bytes",
    },
    Published {
        method: "Deep Compression (Han et al. 2016)",
        net: "lenet-5",
        ratio: 39.0,
        error_percent: 0.74,
        counts: "bytes",
    },
    Published {
        method: "Dynamic Network Surgery (Guo et al. 2016)",
        net: "lenet-300-100",
        ratio: 56.0,
        error_percent: 1.99,
        counts: "parameters",
    },
    Published {
        method: "Dynamic Network Surgery (Guo et al. 2016)",
        net: "lenet-5",
        ratio: 108.0,
        error_percent: 0.91,
        counts: "parameters",
    },
    Published {
        method: "Soft weight-sharing (Ullrich et al. 2017)",
        net: "lenet-300-100",
        ratio: 64.0,
        error_percent: 1.94,
        counts: "bytes",
    },
    Published {
        method: "Soft weight-sharing (Ullrich et al. 2017)",
        net: "lenet-5",
        ratio: 162.0,
        error_percent: 0.97,
        counts: "bytes",
    },
    Published {
        method: "Sparse VD (Molchanov et al. 2017)",
        net: "lenet-300-100",
        ratio: 68.0,
        error_percent: 1.92,
        counts: "parameters",
    },
    Published {
        method: "Sparse VD (Molchanov et al. 2017)",
        net: "lenet-5",
        ratio: 280.0,
        error_percent: 0.75,
        counts: "parameters",
    },
    Published {
        method: "Bayesian compression GNJ (Louizos et al. 2017)",
        net: "lenet-5",
        ratio: 361.0,
        error_percent: 1.0,
        counts: "bits",
    },
    Published {
        method: "Bayesian compression GHS (Louizos et al. 2017)",
        net: "lenet-5",
        ratio: 419.0,
        error_percent: 1.0,
        counts: "bits",
    },
    // RigL is given in bytes (31.9 KB, 16.1 KB): ratio = 1 066 440 / bytes.
    Published {
        method: "RigL (Evci et al. 2020)",
        net: "lenet-300-100",
        ratio: 1_066_440.0 / 31_900.0,
        error_percent: 1.44,
        counts: "bytes",
    },
    Published {
        method: "RigL (Evci et al. 2020)",
        net: "lenet-300-100",
        ratio: 1_066_440.0 / 16_100.0,
        error_percent: 1.57,
        counts: "bytes",
    },
];

/// One of our points to make: `shrink compress DENSE --data D --out DIR <args>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recipe {
    pub net: String,
    pub label: String,
    /// Flags after `--out DIR`.
    pub args: Vec<String>,
}

/// A point made elsewhere (`--points FILE`, `[[point]]` tables).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct External {
    pub net: String,
    pub label: String,
    /// The compress `report.json` of the point.
    pub report: PathBuf,
    /// The command(s) that made it.
    pub command: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointsFile {
    #[serde(default)]
    point: Vec<External>,
}

/// Read a `--points` file.
pub fn read_points(path: &Path) -> Result<Vec<External>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let f: PointsFile =
        toml::from_str(&text).with_context(|| format!("{}: not a points file", path.display()))?;
    Ok(f.point)
}

/// Settings of the experiment (results.json's `settings`).
#[derive(Debug, Clone, Serialize)]
pub struct FrontierSettings {
    /// The `shrink` executable that runs each command.
    pub exe: PathBuf,
    /// `--data` of every command.
    pub data: String,
    /// Zoo specs of the networks, by name.
    pub nets: Vec<(String, PathBuf)>,
    /// Epochs of the dense models (None: the spec's).
    pub dense_epochs: Option<usize>,
    pub recipes: Vec<Recipe>,
    pub external: Vec<External>,
    /// Laid over each network's `[compress]` table (a copy of the spec in `runs/`).
    pub spec_compress: toml::Table,
    pub quick: bool,
}

/// One recipe of the settings file (`[[full.recipes]]`, `[[quick.recipes]]`): a point
/// per network, `shrink compress DENSE --data D --out DIR <args>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecipeSettings {
    /// The point's label; `{bytes}` and `{ratio}` stand for the budget's.
    pub label: String,
    /// Flags of this recipe (after the settings' `args`).
    #[serde(default)]
    pub args: Vec<String>,
    /// A byte budget of the network's float32 bytes / this ratio: `--max-bytes B` is
    /// added before `args`.
    #[serde(default)]
    pub max_bytes_ratio: Option<u64>,
}

/// The recipes of `f` for `net`: each one's flags after `f.args`, its label filled in.
pub fn recipes_for(net: &str, f: &FrontierFile) -> Vec<Recipe> {
    f.recipes
        .iter()
        .map(|r| {
            let mut args = f.args.clone();
            let mut label = r.label.clone();
            if let Some(ratio) = r.max_bytes_ratio {
                let b = (float_bytes(net) as u64 / ratio.max(1)).to_string();
                label = label
                    .replace("{bytes}", &b)
                    .replace("{ratio}", &ratio.to_string());
                args.extend(["--max-bytes".to_string(), b]);
            }
            args.extend(r.args.iter().cloned());
            Recipe {
                net: net.to_string(),
                label,
                args,
            }
        })
        .collect()
}

/// One drawn (or failed) point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub net: String,
    pub label: String,
    /// Every command this point needs, in order (the dense model's first).
    pub commands: Vec<String>,
    pub report: String,
    pub file_bytes: Option<u64>,
    pub ratio: Option<f64>,
    /// Test error of the `.shrk` (percent), run by shrink-runtime.
    pub test_error_percent: Option<f64>,
    /// Why there is no point (a budget not met, a failed run).
    pub failed: Option<String>,
}

/// What the experiment found.
#[derive(Debug, Clone, Serialize)]
pub struct FrontierResults {
    pub points: Vec<Point>,
    pub published: Vec<PublishedPoint>,
}

/// A published point in bytes.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedPoint {
    #[serde(flatten)]
    pub published: Published,
    /// float32 bytes of the network / ratio.
    pub bytes: f64,
}

fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,%".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

fn command_line(args: &[String]) -> String {
    std::iter::once("shrink".to_string())
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `shrink args…`; Err with its last stderr line when it fails.
fn run_shrink(exe: &Path, args: &[String], quiet: bool) -> Result<()> {
    let out = Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(if quiet {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::inherit()
        })
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!("{} failed: {last}", command_line(args));
    }
    Ok(())
}

/// Size and test error of a compress `report.json`.
fn read_report(path: &Path) -> Result<(u64, f64, f64)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let num = |k: &str| {
        v[k].as_f64()
            .with_context(|| format!("{}: no {k} (not a compress report)", path.display()))
    };
    Ok((
        num("file_bytes")? as u64,
        num("dense_bytes")?,
        100.0 * num("test_error_shrk")?,
    ))
}

/// Run the experiment into `out` (results.json, report.html, runs/).
pub fn run(
    s: &FrontierSettings,
    out: &Path,
    resume: bool,
    quiet: bool,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    let runs = out.join("runs");
    std::fs::create_dir_all(&runs).with_context(|| format!("cannot create {}", runs.display()))?;
    let say = |m: String| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let mut points = Vec::new();
    for (net, spec) in &s.nets {
        let spec = if s.spec_compress.is_empty() {
            spec.clone()
        } else {
            spec_with(
                spec,
                &s.spec_compress,
                &runs.join(format!("{net}-spec.toml")),
            )?
        };
        let dense = runs.join(format!("{net}-dense"));
        let mut train = vec![
            "train".to_string(),
            spec.display().to_string(),
            "--data".into(),
            s.data.clone(),
            "--out".into(),
            dense.display().to_string(),
            "--quiet".into(),
        ];
        if let Some(e) = s.dense_epochs {
            train.extend(["--epochs".into(), e.to_string()]);
        }
        let train_cmd = command_line(&train);
        // A dense model from an earlier run of the same command is kept under --resume.
        let key = serde_json::json!({ "command": train_cmd });
        let store = Store::at(&runs, resume);
        if store.reuse::<()>(&format!("{net}-dense"), &key)?.is_none() || !dense.is_dir() {
            say(format!("frontier: {train_cmd}"));
            if dense.exists() {
                std::fs::remove_dir_all(&dense)
                    .with_context(|| format!("cannot clear {}", dense.display()))?;
            }
            run_shrink(&s.exe, &train, quiet)?;
            store.put(&format!("{net}-dense"), &key, &())?;
        }
        for (i, r) in s.recipes.iter().filter(|r| &r.net == net).enumerate() {
            let dir = runs.join(format!("{net}-{}", i + 1));
            let mut args = vec![
                "compress".to_string(),
                dense.display().to_string(),
                "--data".into(),
                s.data.clone(),
                "--out".into(),
                dir.display().to_string(),
                "--quiet".into(),
            ];
            args.extend(r.args.iter().cloned());
            let cmd = command_line(&args);
            let name = format!("{net}-{}", i + 1);
            let key = serde_json::json!({ "dense": train_cmd, "command": cmd });
            let report = dir.join("report.json");
            let failed = match store.reuse::<Option<String>>(&name, &key)? {
                Some(f) if f.is_some() || report.is_file() => f,
                _ => {
                    say(format!("frontier: {cmd}"));
                    if dir.exists() {
                        std::fs::remove_dir_all(&dir)
                            .with_context(|| format!("cannot clear {}", dir.display()))?;
                    }
                    let f = run_shrink(&s.exe, &args, quiet)
                        .err()
                        .map(|e| format!("{e:#}"));
                    store.put(&name, &key, &f)?;
                    f
                }
            };
            let mut p = Point {
                net: net.clone(),
                label: r.label.clone(),
                commands: vec![train_cmd.clone(), cmd],
                report: report.display().to_string(),
                file_bytes: None,
                ratio: None,
                test_error_percent: None,
                failed,
            };
            if p.failed.is_none() {
                let (bytes, dense_bytes, err) = read_report(&report)?;
                p.file_bytes = Some(bytes);
                p.ratio = Some(dense_bytes / bytes as f64);
                p.test_error_percent = Some(err);
            }
            points.push(p);
        }
    }
    for e in &s.external {
        let (bytes, dense_bytes, err) = read_report(&e.report)?;
        // A point compressed from an already compressed model (stage 2 in bench/issue14)
        // reports against its input; the ratio counts the original network's float32.
        let dense_bytes = match e.net.as_str() {
            "lenet-5" | "lenet-300-100" => float_bytes(&e.net),
            _ => dense_bytes,
        };
        points.push(Point {
            net: e.net.clone(),
            label: e.label.clone(),
            commands: vec![e.command.clone()],
            report: e.report.display().to_string(),
            file_bytes: Some(bytes),
            ratio: Some(dense_bytes / bytes as f64),
            test_error_percent: Some(err),
            failed: None,
        });
    }
    let published = PUBLISHED
        .iter()
        .filter(|p| {
            s.nets.iter().any(|(n, _)| n == p.net) || s.external.iter().any(|e| e.net == p.net)
        })
        .map(|p| PublishedPoint {
            published: p.clone(),
            bytes: float_bytes(p.net) / p.ratio,
        })
        .collect();
    let results = FrontierResults { points, published };
    let json = envelope("frontier", s, &results, started.elapsed().as_secs_f64());
    report(s, &results).write(out, &json)?;
    Ok(json)
}

/// A copy of `spec` at `to` with `compress` laid over its `[compress]` table (the quick
/// settings ask for few retraining and fine-tuning steps: 20 rather than 300).
fn spec_with(spec: &Path, compress: &toml::Table, to: &Path) -> Result<PathBuf> {
    let text =
        std::fs::read_to_string(spec).with_context(|| format!("cannot read {}", spec.display()))?;
    let mut t: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not a spec", spec.display()))?;
    let c = t
        .entry("compress")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(c) = c.as_table_mut() else {
        bail!("{}: [compress] is not a table", spec.display());
    };
    for (k, v) in compress {
        c.insert(k.clone(), v.clone());
    }
    shrink_core::model::io::write_atomic(to, toml::to_string(&t)?.as_bytes())?;
    Ok(to.to_path_buf())
}

/// float32 bytes of the two networks (266 610 and 431 080 parameters).
fn float_bytes(net: &str) -> f64 {
    if net == "lenet-5" {
        1_724_320.0
    } else {
        1_066_440.0
    }
}

fn report(s: &FrontierSettings, r: &FrontierResults) -> Report {
    let mut rep = Report::new("Size against test error: LeNet-300-100 and LeNet-5");
    if s.quick {
        rep.banner(
            "Quick run: short training on the data given; the points are not the papers' settings.",
        );
    }
    rep.text(
        "Each of our points is a .shrk file: its size on disk and its test error measured by \
shrink-runtime on the file as written. The published points are float32 bytes of the network \
divided by the paper's ratio; where a paper counts parameters or bits (not bytes), its point is \
labelled so: such a ratio is not a ratio of file sizes.",
    );
    let mut nets: Vec<String> = r.points.iter().map(|p| p.net.clone()).collect();
    nets.extend(r.published.iter().map(|p| p.published.net.to_string()));
    nets.sort();
    nets.dedup();
    for net in &nets {
        let mut plot = LinePlot::new(
            format!("{net}: file size against test error"),
            "bytes (log scale)",
            "test error (%)",
        )
        .log_x();
        let mut color = 0;
        for p in r.points.iter().filter(|p| &p.net == net) {
            if let (Some(b), Some(e)) = (p.file_bytes, p.test_error_percent) {
                plot = plot.series(
                    Series::new(
                        format!("shrink: {}", p.label),
                        vec![(b as f64, e)],
                        Style::Points,
                    )
                    .color(color % 6),
                );
                color += 1;
            }
        }
        let mut by_counts: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();
        for q in r.published.iter().filter(|q| q.published.net == net) {
            let c = q.published.counts;
            match by_counts.iter_mut().find(|(k, _)| *k == c) {
                Some((_, v)) => v.push((q.bytes, q.published.error_percent)),
                None => by_counts.push((c, vec![(q.bytes, q.published.error_percent)])),
            }
        }
        // Published points are open marks (ours are filled): grey and black rings, then
        // black crosses, one per way the paper counted its ratio.
        for (i, (counts, pts)) in by_counts.into_iter().enumerate() {
            plot = plot.series(
                Series::new(format!("published (ratio of {counts})"), pts, Style::Points)
                    .color(6 + i.min(1))
                    .marker(if i < 2 { Marker::Ring } else { Marker::Cross }),
            );
        }
        // Room above the points for the legend, so that it hides none of them.
        let ys: Vec<f64> = plot
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|&(_, y)| y))
            .filter(|y| y.is_finite())
            .collect();
        if let (Some(lo), Some(hi)) = (
            ys.iter().copied().reduce(f64::min),
            ys.iter().copied().reduce(f64::max),
        ) {
            let span = (hi - lo).max(0.05);
            let (_, h) = crate::report::plot::legend_extent(&plot);
            let (lo, hi) = (lo - 0.08 * span, hi + 0.08 * span);
            plot.y_range = Some((lo, lo + (hi - lo) / (1.0 - h.min(0.7))));
        }
        rep.heading(net.clone()).line_plot(plot);
        let mut rows = Vec::new();
        for p in r.points.iter().filter(|p| &p.net == net) {
            rows.push(vec![
                format!("shrink: {}", p.label),
                p.file_bytes.map_or("-".into(), |b| b.to_string()),
                p.ratio.map_or("-".into(), |x| format!("{x:.1}x")),
                p.test_error_percent
                    .map_or("-".into(), |e| format!("{e:.2}%")),
                p.failed.clone().unwrap_or_else(|| p.commands.join(" && ")),
            ]);
        }
        for q in r.published.iter().filter(|q| q.published.net == net) {
            rows.push(vec![
                q.published.method.to_string(),
                format!("{:.0}", q.bytes),
                format!("{:.1}x ({})", q.published.ratio, q.published.counts),
                format!("{:.2}%", q.published.error_percent),
                "published".into(),
            ]);
        }
        rep.table(&["point", "bytes", "ratio", "test error", "command"], rows);
    }
    rep
}

/// `shrink experiment frontier` (settings: `frontier.toml` beside this file).
pub struct FrontierExperiment;

/// What `frontier.toml` holds (each also a flag of `shrink experiment frontier`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontierFile {
    /// Networks to train and compress here (zoo names).
    pub nets: Vec<String>,
    /// Epochs of the dense models (None: the zoo spec's).
    #[serde(default)]
    pub dense_epochs: Option<usize>,
    /// Points made elsewhere (a TOML file of `[[point]]` tables).
    #[serde(default)]
    pub points: Option<PathBuf>,
    /// Flags every recipe's `shrink compress` starts with.
    #[serde(default)]
    pub args: Vec<String>,
    /// Keys laid over each network's `[compress]` table before it is trained.
    #[serde(default)]
    pub spec_compress: toml::Table,
    /// The points to make for each network.
    pub recipes: Vec<RecipeSettings>,
}

impl super::runner::Experiment for FrontierExperiment {
    const NAME: &'static str = "frontier";
    const SETTINGS: &'static str = include_str!("frontier.toml");
    type Settings = FrontierFile;

    fn run(common: &super::Common, f: FrontierFile) -> Result<serde_json::Value> {
        // The zoo as the recorded commands name it (run from the repository's root),
        // else where the build found the repository.
        let zoo = if PathBuf::from("zoo").is_dir() {
            PathBuf::from("zoo")
        } else {
            shrink_core::data::repo_data_dir().join("../zoo")
        };
        let mut nets = Vec::new();
        let mut recipes = Vec::new();
        for n in f.nets.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            if n != "lenet-300-100" && n != "lenet-5" {
                bail!("--nets: {n:?} is not lenet-300-100 or lenet-5");
            }
            let spec = zoo.join(format!("{n}.toml"));
            if !spec.is_file() {
                bail!("{}: the zoo spec is missing", spec.display());
            }
            nets.push((n.to_string(), spec));
            recipes.extend(recipes_for(n, &f));
        }
        let external = match &f.points {
            Some(p) => read_points(p)?,
            None => Vec::new(),
        };
        if nets.is_empty() && external.is_empty() {
            bail!("nothing to draw: give --nets or --points");
        }
        let settings = FrontierSettings {
            exe: std::env::current_exe().context("cannot find the shrink executable")?,
            data: common.data.clone(),
            nets,
            dense_epochs: f.dense_epochs,
            recipes,
            external,
            spec_compress: f.spec_compress.clone(),
            quick: common.quick,
        };
        run(&settings, &common.out, common.resume, common.quiet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_for_a_shell() {
        let a: Vec<String> = [
            "compress",
            "runs/a b",
            "--keep",
            "layers.1.weight=0.05",
            "it's",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            command_line(&a),
            r#"shrink compress 'runs/a b' --keep layers.1.weight=0.05 'it'\''s'"#
        );
    }

    #[test]
    fn published_points_convert_ratios_to_bytes() {
        // RigL's 31.9 KB point comes back as 31 900 bytes.
        let rigl = PUBLISHED
            .iter()
            .find(|p| p.method.starts_with("RigL"))
            .unwrap();
        assert!((float_bytes(rigl.net) / rigl.ratio - 31_900.0).abs() < 1e-6);
        assert_eq!(PUBLISHED.iter().filter(|p| p.net == "lenet-5").count(), 6);
    }

    /// The built-in settings file's recipes: in full, Deep Compression with and without
    /// distillation, sparse VD over 12 epochs and byte budgets of 1/100 and 1/150 of the
    /// float32 bytes; in quick, every recipe one short round and one budget.
    #[test]
    fn built_in_recipes_from_the_settings_file() {
        use super::super::runner::{prepare, Options};
        let settings = |quick: bool| {
            let opts = Options {
                out: None,
                quick,
                resume: false,
                label: None,
                device: burn::prelude::Device::flex(),
                quiet: true,
                settings_file: None,
            };
            prepare::<FrontierExperiment>(&opts, serde_json::Value::Null)
                .unwrap()
                .1
        };
        let full = recipes_for("lenet-5", &settings(false));
        let labels: Vec<&str> = full.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels.len(), 5);
        assert_eq!(labels[3], "budget --max-bytes 17243 (~100x)");
        assert_eq!(
            full[3].args,
            ["--max-bytes", "17243", "--budget-rounds", "3"]
        );
        assert!(full[2].args.windows(2).any(|w| w == ["--vd-epochs", "12"]));
        assert!(settings(false).spec_compress.is_empty());
        let f = settings(true);
        let quick = recipes_for("lenet-300-100", &f);
        assert_eq!(quick.len(), 4);
        assert!(quick.iter().all(|r| r.args[..2] == ["--rounds", "1"]));
        assert_eq!(quick[3].label, "budget --max-bytes 17774 (~60x)");
        assert_eq!(f.spec_compress["min_retrain_steps"].as_integer(), Some(20));
        assert_eq!(f.dense_epochs, Some(1));
    }

    #[test]
    fn points_files_are_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.toml");
        std::fs::write(
            &f,
            "[[point]]\nnet = \"lenet-5\"\nlabel = \"x\"\nreport = \"r.json\"\ncommand = \"shrink compress a\"\n",
        )
        .unwrap();
        assert_eq!(read_points(&f).unwrap()[0].net, "lenet-5");
        std::fs::write(&f, "[[point]]\nnet = \"lenet-5\"\nlabl = \"x\"\n").unwrap();
        assert!(read_points(&f).is_err());
    }
}
