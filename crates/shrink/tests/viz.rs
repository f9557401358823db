//! `shrink viz` and the deconvnet behind it (Zeiler & Fergus): a tiny CNN trained for two
//! epochs on a slice of MNIST (with weight snapshots) is looked at through the real
//! binary and through the library. Checks that the projections agree with the forward
//! pass (they stay inside the unit's receptive field; a first-layer unit projects to its
//! own filter), that occluding blank background changes nothing, and that the report
//! renders in headless Chromium.

mod common;
use common::*;

use burn::prelude::*;
use shrink_core::model::io::load_model;
use shrink_core::model::Net;
use shrink_format::spec::ModelSpec;
use shrink_lab::viz::features::{self, Inputs, Unit};
use shrink_lab::viz::occlusion;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const TINY_CNN: &str = r#"
name = "tiny-cnn"
input = [1, 28, 28]
[[layers]]
type = "conv2d"
out = 8
kernel = 5
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "conv2d"
out = 16
kernel = 3
padding = 1
bias = false
[[layers]]
type = "batch_norm"
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 10
[train]
epochs = 2
batch_size = 32
lr = 0.05
momentum = 0.9
"#;

/// Layer outputs looked at: after the first pool (12×12) and the second (6×6).
const POOL1: usize = 2;
const POOL2: usize = 6;

struct Fixture {
    /// An IDX directory: 3000 training and 500 test images of MNIST.
    data: PathBuf,
    /// The trained run directory (with snapshots of epochs 1 and 2).
    run: PathBuf,
}

/// Built once per test process, under cargo's scratch directory for integration tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viz-fixture");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let data = root.join("mnist-slice");
        std::fs::create_dir_all(&data).unwrap();
        let src = shrink_core::workflow::load_data("mnist", None).unwrap();
        for (ds, n, images, labels) in [
            (
                &src.train,
                3000,
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
            ),
            (
                &src.test,
                500,
                "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte",
            ),
        ] {
            let px: Vec<u8> = ds.x[..n * 784]
                .iter()
                .map(|v| (v * 255.0).round() as u8)
                .collect();
            write_idx_images(&data.join(images), &px, n, 28, 28);
            let y: Vec<u8> = ds.y[..n].iter().map(|&c| c as u8).collect();
            write_idx_labels(&data.join(labels), &y);
        }
        let spec = root.join("tiny-cnn.toml");
        std::fs::write(&spec, TINY_CNN).unwrap();
        let run = root.join("run");
        let out = shrink()
            .args([
                "train",
                spec.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ])
            .args(["--out", run.to_str().unwrap(), "--snapshot-every", "1"])
            .args(["--json", "--quiet"])
            .output()
            .unwrap();
        let report = stdout_json(&out);
        assert!(
            report["test_error"].as_f64().unwrap() < 0.2,
            "the tiny CNN should learn something: {report}"
        );
        Fixture { data, run }
    })
}

fn trained() -> (ModelSpec, Net, Inputs) {
    let f = fixture();
    let device = Device::flex();
    let (spec, net) = load_model(&f.run, &device).unwrap();
    let src = shrink_core::workflow::load_data(f.data.to_str().unwrap(), None).unwrap();
    let inputs = Inputs::new(&src.test, &spec, None);
    (spec, net, inputs)
}

#[test]
fn snapshots_are_kept_every_epoch() {
    let f = fixture();
    for e in [1, 2] {
        let p = f.run.join(format!("snapshots/epoch-{e:03}.safetensors"));
        assert!(p.is_file(), "{} missing", p.display());
    }
}

#[test]
fn projections_stay_inside_the_receptive_field() {
    let (spec, net, inputs) = trained();
    let device = Device::flex();
    let bar = shrink_core::train::progress::Progress::hidden();
    let scans = features::scan(&net, &inputs, &[POOL1, POOL2], &device, &bar);
    for s in &scans {
        for feature in s.most_active(4) {
            // The strongest unit of the map on a few examples: centre, edges, corners.
            let units: Vec<Unit> = s
                .top_examples(feature, 5)
                .into_iter()
                .map(|example| Unit {
                    example,
                    feature,
                    pos: s.unit(example, feature),
                })
                .collect();
            let proj = features::project_units(&net, &inputs, s.layer, &units, &device).unwrap();
            for (u, p) in units.iter().zip(&proj) {
                let field = features::receptive_field(&spec, s.layer, u.pos);
                let mut inside = 0;
                for (i, v) in p.iter().enumerate() {
                    if *v != 0.0 {
                        let (y, x) = (i / 28, i % 28);
                        assert!(
                            field.contains(y, x),
                            "layers.{} map {feature} unit {:?}: pixel ({y}, {x}) = {v} lies outside its field {field:?}",
                            s.layer,
                            u.pos
                        );
                        inside += 1;
                    }
                }
                assert!(inside > 0, "the strongest unit projects to something");
            }
        }
    }
}

#[test]
fn a_first_layer_unit_projects_to_its_own_filter() {
    // The transposed convolution of a single value a at (i, j) of map f is a·W[f] placed
    // on the unit's 5×5 receptive field (no bias, no flip in this indexing).
    let (spec, net, inputs) = trained();
    let device = Device::flex();
    let bar = shrink_core::train::progress::Progress::hidden();
    let scan = &features::scan(&net, &inputs, &[0], &device, &bar)[0];
    let weight = shrink_core::model::params::ParamTable::from_net(&net).unwrap();
    let w = &weight.get("layers.0.weight").unwrap().data; // [8, 1, 5, 5]
    for feature in 0..8 {
        let example = scan.top_examples(feature, 1)[0];
        let (i, j) = scan.unit(example, feature);
        let a = scan.activation(example, feature);
        let unit = Unit {
            example,
            feature,
            pos: (i, j),
        };
        let p = &features::project_units(&net, &inputs, 0, &[unit], &device).unwrap()[0];
        let field = features::receptive_field(&spec, 0, (i, j));
        assert_eq!(field.rows, (i, i + 4));
        for dy in 0..5 {
            for dx in 0..5 {
                let want = a * w[feature * 25 + dy * 5 + dx];
                let got = p[(i + dy) * 28 + j + dx];
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "map {feature} at ({dy}, {dx}): {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn occluding_blank_background_keeps_the_prediction() {
    let (_, net, inputs) = trained();
    let device = Device::flex();
    let norm = shrink_core::model::io::read_spec_file(&fixture().run.join("spec.toml"))
        .unwrap()
        .normalize;
    const BAND: usize = 4;
    let mut checked = 0;
    for i in 0..inputs.len() {
        if checked == 3 {
            break;
        }
        // Make the border background: blank a 4-pixel band all round.
        let mut raw = inputs.raw(i).to_vec();
        for y in 0..28 {
            for x in 0..28 {
                let inner = BAND..28 - BAND;
                if !inner.contains(&y) || !inner.contains(&x) {
                    raw[y * 28 + x] = 0.0;
                }
            }
        }
        let mut x = raw.clone();
        shrink_core::batch::normalize(norm.as_ref(), &[1, 28, 28], &mut x);
        let label = inputs.y[i];
        // Grey (the mean, 0 after normalising) 4×4 squares at every 4th pixel.
        let o = occlusion::occlude(
            &net,
            &x,
            &[1, 28, 28],
            label,
            POOL2,
            BAND,
            BAND,
            0.0,
            &device,
        );
        let p0 = o.probs[label as usize];
        if shrink_core::batch::argmax(&o.probs) != label as usize || p0 < 0.9 {
            continue; // only inputs the model gets right with confidence
        }
        let mut on_border = 0;
        for (k, (&p, &top)) in o.true_prob.iter().zip(&o.top_class).enumerate() {
            let (r, c) = (o.rows[k / o.cols.len()], o.cols[k % o.cols.len()]);
            let in_band = r == 0 || r == 28 - BAND || c == 0 || c == 28 - BAND;
            if !in_band {
                continue;
            }
            on_border += 1;
            assert_eq!(
                top, label,
                "test #{i}: occluding the blank border at ({r}, {c}) changed the class"
            );
            assert!(
                (p - p0).abs() < 0.1,
                "test #{i}: occluding the blank border at ({r}, {c}) moved p from {p0} to {p}"
            );
        }
        assert_eq!(on_border, 24, "the 4-pixel band holds 24 squares of 4×4");
        checked += 1;
    }
    assert_eq!(checked, 3, "three confident test images");
}

#[test]
fn viz_report_renders_in_headless_chromium() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("viz");
    let o = shrink()
        .args([
            "viz",
            f.run.to_str().unwrap(),
            "--data",
            f.data.to_str().unwrap(),
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--limit",
            "300",
            "--k",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    let j = stdout_json(&o);
    assert_eq!(j["layers"], serde_json::json!([POOL1, POOL2]));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for section in [
        "First-layer filters",
        "projected to pixel space",
        "Occlusion sensitivity",
        "Weight histograms",
        "Feature evolution during training",
        "data:image/png;base64,",
        "<svg",
    ] {
        assert!(html.contains(section), "report.html has no {section:?}");
    }
    // Layers named as a person names them, colour bars on the occlusion maps (two per
    // occluded image), no absolute path of this machine.
    for name in [
        "First-layer filters (conv1 weights)",
        "pool1 (",
        "pool2 (",
        "conv2: ",
    ] {
        assert!(html.contains(name), "report.html has no {name:?}");
    }
    assert!(
        !html.contains("layers.0.weight:"),
        "histograms are titled by layer name"
    );
    assert_eq!(html.matches("class=\"colorbar\"").count(), 2 * 4);
    assert!(html.contains("Probability of"), "plain-language captions");
    assert!(
        !html.contains(f.run.to_str().unwrap()),
        "the report names the model by a relative path"
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    // The settings as used: every default resolved, none recorded as null.
    let settings = results["settings"].as_object().unwrap();
    for (k, v) in settings {
        assert!(!v.is_null(), "settings.{k} is null");
    }
    assert_eq!(
        results["settings"]["layers"],
        serde_json::json!([POOL1, POOL2])
    );
    assert_eq!(
        results["settings"]["layer_names"],
        serde_json::json!(["pool1", "pool2"])
    );
    assert_eq!(
        results["settings"]["occluder_size"], 9,
        "a third of 28, rounded"
    );
    assert_eq!(results["settings"]["limit"], 300);
    let r = &results["results"];
    assert_eq!(r["examples"], 300);
    assert_eq!(r["layers"][1]["features"].as_array().unwrap().len(), 3);
    assert_eq!(
        r["layers"][0]["features"][0]["top"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
    assert_eq!(r["occlusion"].as_array().unwrap().len(), 4);
    let epochs: Vec<u64> = r["evolution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert!(epochs.contains(&1) && epochs.contains(&2), "{epochs:?}");

    let shot = tmp.path().join("shot.png");
    let profile = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(shrink_testkit::chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1400,3000")
        .arg(format!("file://{}", out.join("report.html").display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A browser that hangs must not hang the suite.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium took over 2 minutes to take the screenshot");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "chromium failed: {status}");
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (1400, 3000));
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    for p in img.pixels() {
        colours.insert(p.0);
        if p.0.iter().any(|&c| c < 235) {
            inked += 1;
        }
    }
    let share = inked as f64 / (1400.0 * 3000.0);
    assert!(
        colours.len() > 200,
        "only {} colours: blank page?",
        colours.len()
    );
    assert!(
        share > 0.05,
        "only {:.1}% of the page is drawn",
        100.0 * share
    );
}

#[test]
fn compressed_model_lines_up_although_batch_norm_was_folded() {
    // Deep Compression folds the batch norm away (layers.8 becomes layers.7); the
    // report still pairs each weight tensor with its compressed form.
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    let o = shrink()
        .args([
            "compress",
            f.run.to_str().unwrap(),
            "--data",
            f.data.to_str().unwrap(),
        ])
        .args([
            "--out",
            c.to_str().unwrap(),
            "--rounds",
            "1",
            "--retrain-epochs",
            "1",
        ])
        .args(["--finetune-epochs", "1", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = tmp.path().join("viz");
    let o = shrink()
        .args([
            "viz",
            f.run.to_str().unwrap(),
            "--data",
            f.data.to_str().unwrap(),
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--limit",
            "100",
            "--k",
            "1",
            "--json",
        ])
        .arg("--compressed")
        .arg(c.join("model.shrk"))
        .output()
        .unwrap();
    stdout_json(&o);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let hist = results["results"]["histograms"].as_array().unwrap();
    let names: Vec<&str> = hist.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["layers.0.weight", "layers.3.weight", "layers.8.weight"]
    );
    // Compression may keep a layer whole (it keeps at least 16 weights per unit, and
    // undoes a pruning round that costs accuracy); every weight is quantized.
    for h in hist {
        let (kept, all) = (h["kept"].as_u64().unwrap(), h["weights"].as_u64().unwrap());
        assert!(kept > 0 && kept <= all, "{h}");
        assert!(h["codebook"].as_u64().unwrap() <= 256, "{h}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("shared values"), "spikes at the centroids");
    let layers: Vec<&str> = hist.iter().map(|h| h["layer"].as_str().unwrap()).collect();
    assert_eq!(layers, ["conv1", "conv2", "fc1"]);
    // The file is a compression of this very run: the report says it matches.
    let check = &results["results"]["compressed_check"];
    assert_eq!(check["same_model"], true, "{check}");
    assert!(html.contains("matches this model"));
    assert!(!html.contains("Warning:"));

    // The same shapes with unrelated weights (each kept weight's shared value taken
    // from another position, as in a compression of another training run): the report
    // and stderr say it does not match.
    let mut other = shrink_format::read(&std::fs::read(c.join("model.shrk")).unwrap()).unwrap();
    for t in &mut other.tensors {
        if let shrink_format::TensorData::Compressed(ct) = &mut t.data {
            ct.clusters.reverse();
        }
    }
    let other_path = tmp.path().join("other.shrk");
    std::fs::write(&other_path, shrink_format::write(&other).unwrap().0).unwrap();
    let out2 = tmp.path().join("viz2");
    let o = shrink()
        .args([
            "viz",
            f.run.to_str().unwrap(),
            "--data",
            f.data.to_str().unwrap(),
        ])
        .args([
            "--out",
            out2.to_str().unwrap(),
            "--limit",
            "100",
            "--k",
            "1",
            "--json",
        ])
        .arg("--compressed")
        .arg(&other_path)
        .output()
        .unwrap();
    stdout_json(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does not look like a compression"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(out2.join("report.html")).unwrap();
    assert!(html.contains("Warning:") && html.contains("another training run"));
}

#[test]
fn bad_viz_inputs_fail_cleanly() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("viz");
    let base = |extra: &[&str]| {
        let mut c = shrink();
        c.args([
            "viz",
            f.run.to_str().unwrap(),
            "--data",
            f.data.to_str().unwrap(),
        ])
        .args(["--out", out.to_str().unwrap(), "--limit", "50"])
        .args(extra);
        c.output().unwrap()
    };
    assert_clean_failure(&base(&["--layers", "42"]), "--layers 42");
    assert_clean_failure(&base(&["--features", "99"]), "--features 99");
    assert_clean_failure(&base(&["--epochs", "7"]), "no snapshot for epoch 7");
    assert!(
        !out.join("report.html").exists(),
        "no report after a failure"
    );
}
