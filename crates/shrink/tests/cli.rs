//! The `shrink` binary driven as a user would: train, eval, info, data check, resume,
//! and bad input. Data sets are small and made here so the suite stays fast.

mod common;
use common::*;

const MLP: &str = r#"
name = "small-mlp"
input = [1, 8, 8]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 32
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 4
[train]
epochs = 3
batch_size = 32
lr = 0.05
"#;

#[test]
fn train_then_eval_agree_on_another_idx_shape_and_class_count() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    // 12×12 images, 5 classes: the zoo spec (28×28, 10 classes) adapts to them.
    idx_dataset(&data, 1000, 200, 12, 12, 5);
    let out = tmp.path().join("m");
    let r = stdout_json(&run(&[
        "train",
        "zoo/lenet-300-100.toml",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "3",
        "--json",
        "--quiet",
    ]));
    let acc = r["test_accuracy"].as_f64().unwrap();
    // The zoo spec trains with random shifts, which blur class-specific positions on
    // tiny images: ask for clearly better than chance (0.2), not perfection.
    assert!(acc > 0.6, "got accuracy {acc}");
    assert!((r["test_error"].as_f64().unwrap() - (1.0 - acc)).abs() < 1e-12);
    assert_eq!(r["n"], 200);
    assert!(r["seconds"].as_f64().unwrap() > 0.0);
    assert!(out.join("spec.toml").is_file() && out.join("model.safetensors").is_file());
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        3
    );

    let e = stdout_json(&run(&[
        "eval",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(
        e["test_accuracy"], r["test_accuracy"],
        "eval must reproduce train's number"
    );
    assert_eq!(e["n"], 200);

    let info = stdout_json(&run(&["info", out.to_str().unwrap(), "--json"]));
    assert_eq!(info["input"], serde_json::json!([1, 12, 12]));
    assert_eq!(info["output"], serde_json::json!([5]));
    assert_eq!(
        info["params"],
        144 * 300 + 300 + 300 * 100 + 100 + 100 * 5 + 5
    );
}

#[test]
fn trains_on_a_csv_table_with_categorical_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("t.csv");
    csv_table(&csv, 1500);
    let spec = tmp.path().join("mlp.toml");
    std::fs::write(&spec, MLP).unwrap();
    let out = tmp.path().join("m");
    let r = stdout_json(&run(&[
        "train",
        spec.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--label",
        "label",
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "8",
        "--json",
        "--quiet",
    ]));
    let acc = r["test_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.85,
        "a linear rule on 3 columns should be learnt, got {acc}"
    );
    assert_eq!(r["n"], 300, "20% of 1500 held out as test");
    let e = stdout_json(&run(&[
        "eval",
        out.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--label",
        "label",
        "--json",
    ]));
    assert_eq!(e["test_accuracy"], r["test_accuracy"]);
}

#[test]
fn resumed_run_ends_with_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 600, 100, 8, 8, 4);
    let spec = tmp.path().join("mlp.toml");
    // Dropout makes the comparison meaningful: its masks must replay too.
    std::fs::write(
        &spec,
        MLP.replace(
            "[[layers]]\ntype = \"relu\"",
            "[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"dropout\"\np = 0.2",
        ),
    )
    .unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let d = data.to_str().unwrap();
    let s = spec.to_str().unwrap();
    stdout_json(&run(&[
        "train",
        s,
        "--data",
        d,
        "--out",
        a.to_str().unwrap(),
        "--epochs",
        "4",
        "--json",
        "--quiet",
    ]));
    let first = run(&[
        "train",
        s,
        "--data",
        d,
        "--out",
        b.to_str().unwrap(),
        "--epochs",
        "4",
        "--stop-after",
        "2",
        "--json",
        "--quiet",
    ]);
    assert!(first.status.success());
    let state = std::fs::read_to_string(b.join("checkpoint/state.json")).unwrap();
    assert!(state.contains("\"epoch\": 2"), "{state}");
    stdout_json(&run(&[
        "train",
        s,
        "--data",
        d,
        "--out",
        b.to_str().unwrap(),
        "--epochs",
        "4",
        "--resume",
        "--json",
        "--quiet",
    ]));
    let wa = std::fs::read(a.join("model.safetensors")).unwrap();
    let wb = std::fs::read(b.join("model.safetensors")).unwrap();
    assert!(
        wa == wb,
        "resumed weights differ from the uninterrupted run"
    );
    assert_eq!(
        std::fs::read_to_string(b.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        4
    );
}

#[test]
fn truncated_idx_file_is_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 100, 20, 8, 8, 2);
    let f = data.join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 100]).unwrap();
    let out = tmp.path().join("m");
    let o = run(&[
        "train",
        "zoo/lenet-300-100.toml",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_clean_failure(&o, "train-images-idx3-ubyte");
    assert!(!out.join("model.safetensors").exists());
    let o = run(&["data", "check", data.to_str().unwrap()]);
    assert_clean_failure(&o, "train-images-idx3-ubyte");
}

#[test]
fn spec_that_does_not_fit_names_the_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("bad.toml");
    std::fs::write(&spec, "input = [1, 28, 28]\n[[layers]]\ntype = \"conv2d\"\nout = 4\nkernel = 3\n[[layers]]\ntype = \"linear\"\nout = 10\n").unwrap();
    let o = run(&["train", spec.to_str().unwrap(), "--data", "mnist", "--json"]);
    assert_clean_failure(&o, "layers.1 (linear)");
    let o = run(&["info", spec.to_str().unwrap()]);
    assert_clean_failure(&o, "[4, 26, 26]");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    assert_clean_failure(
        &run(&["eval", tmp.path().to_str().unwrap(), "--data", "mnist"]),
        "spec.toml",
    );
    assert_clean_failure(
        &run(&["train", "zoo/lenet-5.toml", "--data", "/nonexistent/path"]),
        "/nonexistent/path",
    );
    assert_clean_failure(
        &run(&["train", "zoo/lenet-5.toml", "--data", "mnist", "--lr=-1"]),
        "learning rate",
    );
    assert_clean_failure(
        &run(&[
            "train",
            "zoo/lenet-5.toml",
            "--data",
            "mnist",
            "--device",
            "tpu",
        ]),
        "unknown device",
    );
    // A corrupt weights file in a model directory.
    let m = tmp.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::copy(
        repo_root().join("zoo/lenet-300-100.toml"),
        m.join("spec.toml"),
    )
    .unwrap();
    std::fs::write(
        m.join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json",
    )
    .unwrap();
    let o = run(&["eval", m.to_str().unwrap(), "--data", "mnist"]);
    assert_clean_failure(&o, "model.safetensors");
}

#[test]
fn data_check_summarises_bundled_mnist() {
    let o = run(&["data", "check", "mnist", "--json"]);
    let v = stdout_json(&o);
    let text = v.to_string();
    assert!(text.contains("60000") && text.contains("10000"), "{text}");
}

#[test]
fn hinge_loss_adam_l1_and_step_schedule_train() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 800, 200, 8, 8, 4);
    for (name, extra) in [
        ("hinge-adam", "loss = \"hinge\"\noptimizer = \"adam\"\nlr = 0.003\nl1 = 1e-5\nschedule = \"step\"\nstep_epochs = 2\n"),
        ("nesterov-poly", "nesterov = true\nschedule = \"poly\"\npower = 2.0\nweight_decay = 1e-4\npatience = 1\nrestore_best = true\n"),
    ] {
        let spec = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&spec, MLP.replace("lr = 0.05\n", "").replace("[train]\n", &format!("[train]\n{extra}"))).unwrap();
        let out = tmp.path().join(name);
        let r = stdout_json(&run(&["train", spec.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--epochs", "4", "--json", "--quiet"]));
        assert!(r["test_accuracy"].as_f64().unwrap() > 0.9, "{name}: {r}");
    }
}

#[test]
fn nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 400, 100, 8, 8, 4);
    let spec = tmp.path().join("mlp.toml");
    std::fs::write(&spec, MLP).unwrap();
    let out = tmp.path().join("m");
    // A learning rate this large diverges within the first epochs.
    let o = run(&[
        "train",
        spec.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "5",
        "--lr",
        "1e9",
        "--quiet",
    ]);
    assert_clean_failure(&o, "loss became");
    assert!(
        !out.join("model.safetensors").exists(),
        "no half-trained model is written"
    );
}
