//! `shrink mimic`, `shrink munge` and the mimic/munge experiments, driven as a user
//! would: every loss and transfer kind, resume, the teacher-logits cache, MUNGE output
//! that the other commands read, and bad input. Data sets are tiny and made here.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const MLP: &str = r#"
name = "tiny-mlp"
input = [1, 8, 8]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 24
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 4
[train]
epochs = 2
batch_size = 32
lr = 0.05
"#;

/// The student with a linear bottleneck of 5 units in its hidden layer.
const BOTTLENECK: &str = r#"
name = "tiny-bottleneck"
input = [1, 8, 8]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 24
bottleneck = 5
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 4
[train]
epochs = 2
batch_size = 32
lr = 0.02
"#;

/// What the tests share: 8×8 blobs of 4 classes, a trained teacher, the specs.
struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    teacher: PathBuf,
    student: PathBuf,
    bottleneck: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("blobs");
        idx_dataset(&data, 400, 100, 8, 8, 4);
        let student = dir.path().join("student.toml");
        std::fs::write(&student, MLP).unwrap();
        let bottleneck = dir.path().join("bottleneck.toml");
        std::fs::write(&bottleneck, BOTTLENECK).unwrap();
        let teacher = dir.path().join("teacher");
        stdout_json(&run(&[
            "train",
            s(&student),
            "--data",
            s(&data),
            "--out",
            s(&teacher),
            "--epochs",
            "3",
            "--json",
            "--quiet",
        ]));
        Fixture {
            _dir: dir,
            data,
            teacher,
            student,
            bottleneck,
        }
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `shrink mimic` on the fixture with `extra` arguments, quiet, JSON.
fn mimic(out: &Path, cache: &Path, extra: &[&str]) -> std::process::Output {
    let f = fixture();
    let mut args = vec![
        "mimic",
        "--data",
        s(&f.data),
        "--out",
        s(out),
        "--cache",
        s(cache),
        "--json",
    ];
    if !extra.contains(&"--student") {
        args.extend(["--student", s(&f.student)]);
    }
    if !extra.contains(&"--teacher") {
        args.extend(["--teacher", s(&f.teacher)]);
    }
    args.extend(extra);
    run(&args)
}

/// Every tensor of a safetensors file, by name.
fn tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec(), t.data().to_vec()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn every_loss_and_transfer_kind_trains_a_student_that_eval_reads() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // A user's own unlabelled set: other blobs, labels meaningless.
    let own = tmp.path().join("own");
    idx_dataset(&own, 150, 50, 8, 8, 4);
    // 360 training examples after the 10% validation split.
    for (transfer, loss, examples) in [
        ("train", "logits", 360),
        ("augment:1", "kd", 720),
        ("munge:1", "labels", 720),
        ("random:2", "logits", 1080),
        (s(&own), "kd", 200),
    ] {
        let out = tmp.path().join(format!("m-{loss}-{}", examples));
        let r = stdout_json(&mimic(
            &out,
            &cache,
            &["--transfer", transfer, "--loss", loss, "--epochs", "1"],
        ));
        assert_eq!(r["transfer_examples"], examples, "{transfer}");
        assert_eq!(r["n"], 100);
        let err = r["test_error"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&err));
        assert!((r["test_accuracy"].as_f64().unwrap() + err - 1.0).abs() < 1e-12);
        assert_eq!(r["student_params"], 64 * 24 + 24 + 24 * 4 + 4);
        assert_eq!(r["teacher_params"], r["student_params"]);
        assert!(r["teacher_test_error"].as_f64().unwrap() < 0.5);
        assert!(r["seconds"].as_f64().unwrap() > 0.0);
        // A normal model directory: eval reproduces the number.
        let e = stdout_json(&run(&["eval", s(&out), "--data", s(&f.data), "--json"]));
        assert_eq!(e["test_accuracy"], r["test_accuracy"], "{transfer}");
    }

    // The bottleneck student: k·(in + out) + out parameters, PyTorch-style names, and
    // both factors in the weights file.
    let out = tmp.path().join("bottleneck");
    let r = stdout_json(&mimic(
        &out,
        &cache,
        &[
            "--student",
            s(&f.bottleneck),
            "--transfer",
            "train",
            "--loss",
            "logits",
            "--lr",
            "0.002",
        ],
    ));
    let params = 5 * (64 + 24) + 24 + 24 * 4 + 4;
    assert_eq!(r["student_params"], params);
    let info = stdout_json(&run(&["info", s(&out), "--json"]));
    assert_eq!(info["params"], params);
    let names: Vec<String> = tensors(&out.join("model.safetensors"))
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(
        names,
        [
            "layers.1.u.weight",
            "layers.1.v.bias",
            "layers.1.v.weight",
            "layers.3.bias",
            "layers.3.weight"
        ]
    );
}

#[test]
fn an_interrupted_mimic_resumes_to_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let args = ["--transfer", "munge:1", "--loss", "kd", "--epochs", "3"];
    let whole = tmp.path().join("whole");
    stdout_json(&mimic(&whole, &cache, &args));
    let parts = tmp.path().join("parts");
    let mut first = args.to_vec();
    first.extend(["--stop-after", "1"]);
    let r = stdout_json(&mimic(&parts, &cache, &first));
    assert_eq!(r["epochs"], 1);
    let mut rest = args.to_vec();
    rest.push("--resume");
    let r = stdout_json(&mimic(&parts, &cache, &rest));
    assert_eq!(r["epochs"], 3);
    let (a, b) = (
        tensors(&whole.join("model.safetensors")),
        tensors(&parts.join("model.safetensors")),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.0, &x.1), (&y.0, &y.1));
        assert!(x.2 == y.2, "tensor {} differs after resume", x.0);
    }
    // Resuming with another loss would continue a different run: refused.
    let mut other = rest.clone();
    other[3] = "logits";
    assert_clean_failure(&mimic(&parts, &cache, &other), "another loss");
}

#[test]
fn teacher_logits_are_computed_once_and_recomputed_when_they_do_not_check_out() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let args = [
        "--transfer",
        "augment:1",
        "--loss",
        "logits",
        "--epochs",
        "1",
    ];
    let cached = |out: &str, teacher: Option<&Path>| {
        let mut a = args.to_vec();
        if let Some(t) = teacher {
            a.extend(["--teacher", s(t)]);
        }
        let o = mimic(&tmp.path().join(out), &cache, &a);
        let r = stdout_json(&o);
        (r["teacher_cache"].as_str().unwrap().to_string(), o)
    };
    assert_eq!(cached("a", None).0, "computed");
    let files = |ext: &str| -> Vec<PathBuf> {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect()
    };
    // Transfer set and test split.
    assert_eq!(files("logits").len(), 2);
    assert_eq!(cached("b", None).0, "hit");

    // A damaged entry is noticed, recomputed and replaced.
    let mut victims = files("logits");
    victims.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let big = victims.last().unwrap();
    let mut bytes = std::fs::read(big).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(big, &bytes).unwrap();
    let (how, o) = cached("c", None);
    assert_eq!(how, "recomputed");
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not check out"));
    assert_eq!(cached("d", None).0, "hit");

    // Another teacher (same weights, one byte more in its spec file): another key.
    let other = tmp.path().join("teacher2");
    std::fs::create_dir_all(&other).unwrap();
    for name in ["model.safetensors", "spec.toml"] {
        std::fs::copy(f.teacher.join(name), other.join(name)).unwrap();
    }
    let mut spec = std::fs::read_to_string(other.join("spec.toml")).unwrap();
    spec.push_str("\n# a copy\n");
    std::fs::write(other.join("spec.toml"), spec).unwrap();
    assert_eq!(cached("e", Some(&other)).0, "computed");
    assert_eq!(files("logits").len(), 4);
}

#[test]
fn munge_writes_sets_that_the_other_commands_read() {
    let tmp = tempfile::tempdir().unwrap();
    // A table with numeric and categorical columns: CSV in, CSV out, same header.
    let table = tmp.path().join("t.csv");
    csv_table(&table, 300);
    let synth = tmp.path().join("synth.csv");
    let r = stdout_json(&run(&[
        "munge",
        s(&table),
        "--size",
        "500",
        "--p",
        "0.4",
        "--s",
        "1.5",
        "--out",
        s(&synth),
        "--json",
        "--quiet",
    ]));
    assert_eq!(
        (r["size"].as_u64(), r["format"].as_str()),
        (Some(500), Some("csv"))
    );
    let text = std::fs::read_to_string(&synth).unwrap();
    assert_eq!(text.lines().next(), Some("x1,x2,colour,label"));
    assert_eq!(text.lines().count(), 501);
    assert!(text.lines().skip(1).all(|l| ["red", "green", "blue"]
        .iter()
        .any(|c| l.split(',').nth(2) == Some(c))));
    let check = stdout_json(&run(&["data", "check", s(&synth), "--json"]));
    assert_eq!(
        check["train"]["n"].as_u64().unwrap() + check["test"]["n"].as_u64().unwrap(),
        500
    );

    // ... and a student learns from it as a transfer set (read with the data's columns).
    let mlp = tmp.path().join("mlp.toml");
    std::fs::write(
        &mlp,
        MLP.replace("[1, 8, 8]", "[1]")
            .replace("out = 4", "out = 2"),
    )
    .unwrap();
    let teacher = tmp.path().join("teacher");
    stdout_json(&run(&[
        "train",
        s(&mlp),
        "--data",
        s(&table),
        "--out",
        s(&teacher),
        "--json",
        "--quiet",
    ]));
    let r = stdout_json(&run(&[
        "mimic",
        "--teacher",
        s(&teacher),
        "--student",
        s(&mlp),
        "--data",
        s(&table),
        "--transfer",
        s(&synth),
        "--loss",
        "kd",
        "--out",
        s(&tmp.path().join("m")),
        "--cache",
        s(&tmp.path().join("cache")),
        "--json",
        "--quiet",
    ]));
    assert_eq!(r["transfer_examples"], 500);

    // Images: a directory of IDX files that `data check` reads.
    let images = tmp.path().join("img");
    idx_dataset(&images, 120, 30, 6, 6, 3);
    let out = tmp.path().join("img-munge");
    let r = stdout_json(&run(&[
        "munge",
        s(&images),
        "--size",
        "250",
        "--out",
        s(&out),
        "--json",
        "--quiet",
    ]));
    assert_eq!(r["format"], "idx");
    let check = stdout_json(&run(&["data", "check", s(&out), "--json"]));
    assert_eq!(check["shape"], serde_json::json!([1, 6, 6]));
    assert_eq!(
        check["train"]["n"].as_u64().unwrap() + check["test"]["n"].as_u64().unwrap(),
        250
    );
}

#[test]
fn experiments_run_quick_on_a_mixed_table_and_on_tiny_images() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("mixed.csv");
    csv_table(&table, 400);
    let out = tmp.path().join("munge");
    let args = [
        "experiment",
        "munge",
        "--quick",
        "--data",
        s(&table),
        "--train-size",
        "150",
        "--sizes",
        "1,3",
        "--members",
        "2",
        "--teacher-epochs",
        "4",
        "--example-budget",
        "3000",
        "--out",
        s(&out),
        "--json",
        "--quiet",
    ];
    let r = stdout_json(&run(&args));
    let points = r["results"]["points"].as_array().unwrap();
    let kinds: Vec<&str> = points.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "labels",
            "teacher-labels",
            "random",
            "munge",
            "random",
            "munge"
        ]
    );
    // munge:3 on 150 labelled rows: the 450 synthetic rows alone (the paper's sweep).
    assert_eq!(points[5]["transfer_examples"], 150 * 3);
    assert_eq!(r["settings"]["data"]["train_examples"], 150);
    for f in ["results.json", "results.txt", "report.html"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("MUNGE"));
    // Resumed: every finished run is reused, same numbers.
    let mut again = args.to_vec();
    again.push("--resume");
    let r2 = stdout_json(&run(&again));
    assert_eq!(r2["results"]["points"], r["results"]["points"]);

    let f = fixture();
    let out = tmp.path().join("mimic");
    let r = stdout_json(&run(&[
        "experiment",
        "mimic",
        "--quick",
        "--data",
        s(&f.data),
        "--teacher-epochs",
        "1",
        "--only",
        "labels,logits,kd,logits-munge,bottleneck-logits-augment",
        "--width",
        "16",
        "--bottleneck",
        "4",
        "--epochs",
        "1",
        "--transfer-epochs",
        "1",
        "--out",
        s(&out),
        "--json",
        "--quiet",
    ]));
    let rows = r["results"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(
        r["results"]["teacher"]["params"].as_u64().unwrap() > rows[0]["params"].as_u64().unwrap()
    );
    assert_eq!(rows[4]["params"], 4 * (64 + 16) + 16 + 16 * 4 + 4);
    let text = std::fs::read_to_string(out.join("results.txt")).unwrap();
    assert!(
        text.contains("gap closed") && text.contains("logits-munge"),
        "{text}"
    );
}

#[test]
fn bad_input_fails_with_one_line() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("m");
    let missing = tmp.path().join("no-teacher");
    let o = run(&[
        "mimic",
        "--teacher",
        s(&missing),
        "--student",
        s(&f.student),
        "--data",
        s(&f.data),
        "--out",
        s(&out),
    ]);
    assert_clean_failure(&o, "no such model directory or .shrk file");
    // A teacher for 8×8 images against 6×6 data.
    let small = tmp.path().join("small");
    idx_dataset(&small, 60, 20, 6, 6, 4);
    let o = run(&[
        "mimic",
        "--teacher",
        s(&f.teacher),
        "--student",
        s(&f.student),
        "--data",
        s(&small),
        "--out",
        s(&out),
        "--cache",
        s(&cache),
    ]);
    assert_clean_failure(&o, "takes inputs of shape [1, 8, 8]");
    for (transfer, needle) in [
        ("munge:x", "--transfer munge:x"),
        ("random:0", "--transfer random:0"),
        ("nowhere/at/all", "not train, augment:N"),
    ] {
        assert_clean_failure(&mimic(&out, &cache, &["--transfer", transfer]), needle);
    }
    assert_clean_failure(&mimic(&out, &cache, &["--loss", "l3"]), "--loss l3");
    // A table's MUNGE set is a CSV file.
    let table = tmp.path().join("t.csv");
    csv_table(&table, 100);
    let o = run(&[
        "munge",
        s(&table),
        "--size",
        "10",
        "--out",
        s(&tmp.path().join("x.idx")),
    ]);
    assert_clean_failure(&o, "output is a .csv file");
}
