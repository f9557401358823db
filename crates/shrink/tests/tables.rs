//! Tables as tables, driven through the binary: the encoding a model was trained with
//! is reused by `eval` and `run`; `run` reads rows in file order with or without the
//! label column; data that cannot train or test a classifier, `epochs = 0` and an
//! existing run directory are clear errors; outputs are written whole or not at all.

mod common;
use common::*;
use std::path::Path;

/// A small net for tables (`input` is fitted to the data).
const TABLE_MLP: &str = r#"
name = "table-mlp"
input = [4]
[[layers]]
type = "linear"
out = 16
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = 2
[train]
epochs = 4
batch_size = 32
lr = 0.05
augment = { shift = 2 }
[compress]
rounds = 1
retrain_epochs = 1
finetune_epochs = 1
min_retrain_steps = 10
min_finetune_steps = 10
"#;

fn write_spec(dir: &Path) -> String {
    let p = dir.join("mlp.toml");
    std::fs::write(&p, TABLE_MLP).unwrap();
    p.to_str().unwrap().to_string()
}

/// The `label` column of a CSV made by `csv_table`, and the file without it.
fn drop_label(src: &Path, dst: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(src).unwrap();
    let mut labels = Vec::new();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let (features, label) = line.rsplit_once(',').unwrap();
        if i > 0 {
            labels.push(label.to_string());
        }
        out.push_str(features);
        out.push('\n');
    }
    std::fs::write(dst, out).unwrap();
    labels
}

fn run_json(model: &Path, input: &Path) -> Vec<serde_json::Value> {
    let r = stdout_json(&run(&[
        "run",
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        "--top-k",
        "1",
        "--json",
    ]));
    r["predictions"].as_array().unwrap().clone()
}

fn classes(preds: &[serde_json::Value]) -> Vec<String> {
    preds
        .iter()
        .map(|p| p["top"][0]["class"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn run_on_a_csv_predicts_as_eval_in_file_order_with_or_without_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let csv = d.join("t.csv");
    csv_table(&csv, 400);
    // The sibling test file is eval's test split, row by row in file order.
    let test = d.join("t.test.csv");
    csv_table(&test, 120);
    let out = d.join("c");
    let c = stdout_json(&run(&[
        "compress",
        &write_spec(d),
        "--data",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    let shrk = out.join("model.shrk");
    assert!(
        out.join("base/table.json").is_file(),
        "the model dir keeps its encoding"
    );
    let e = stdout_json(&run(&[
        "eval",
        shrk.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(e["n"], 120);
    assert_eq!(e["test_error"], c["test_error_shrk"]);

    // With the label column: every row, in file order, carrying its own label.
    let preds = run_json(&shrk, &test);
    let truth = drop_label(&test, &d.join("nolabel.csv"));
    assert_eq!(preds.len(), 120);
    let labels: Vec<String> = preds
        .iter()
        .map(|p| p["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, truth, "rows in file order");
    for (i, p) in preds.iter().enumerate() {
        assert_eq!(p["example"], i);
    }
    let got = classes(&preds);
    let wrong = got.iter().zip(&truth).filter(|(p, t)| p != t).count();
    let err = e["test_error"].as_f64().unwrap();
    assert_eq!(
        wrong,
        (err * 120.0).round() as usize,
        "run agrees with eval"
    );
    assert!(err < 0.3, "a linear rule should be learnt, got {err}");

    // Without the label column: the same predictions.
    let unlabelled = run_json(&shrk, &d.join("nolabel.csv"));
    assert_eq!(classes(&unlabelled), got);
    assert!(unlabelled.iter().all(|p| p["label"].is_null()));

    // Row by row as eval scores them, not only as many errors: eval on the rows run got
    // right finds none wrong, on the rows it got wrong finds all wrong (with two classes,
    // right or wrong names the predicted class).
    let text = std::fs::read_to_string(&test).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    for (right, error) in [(true, 0.0), (false, 1.0)] {
        let pick: Vec<&str> = (0..rows.len())
            .filter(|&i| (got[i] == truth[i]) == right)
            .map(|i| rows[i])
            .collect();
        if pick.is_empty() {
            continue;
        }
        let data = d.join(format!("rows-{right}.csv"));
        std::fs::copy(&csv, &data).unwrap();
        std::fs::write(
            d.join(format!("rows-{right}.test.csv")),
            format!("{header}\n{}\n", pick.join("\n")),
        )
        .unwrap();
        let e = stdout_json(&run(&[
            "eval",
            shrk.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(e["n"], pick.len());
        assert_eq!(e["test_error"], error, "rows run got right: {right}");
    }

    // A file holding one colour only encodes it as training did (no refit).
    let text = std::fs::read_to_string(&test).unwrap();
    let mut lines = text.lines();
    let mut red = format!("{}\n", lines.next().unwrap());
    let mut red_rows = Vec::new();
    for (i, l) in lines.enumerate() {
        if l.contains(",red,") {
            red.push_str(l);
            red.push('\n');
            red_rows.push(i);
        }
    }
    std::fs::write(d.join("red.csv"), red).unwrap();
    let only_red = classes(&run_json(&shrk, &d.join("red.csv")));
    let expected: Vec<String> = red_rows.iter().map(|&i| got[i].clone()).collect();
    assert_eq!(only_red, expected);

    // An unseen category is the documented fallback (no category), named per row.
    std::fs::write(
        d.join("new.csv"),
        "x1,x2,colour\n0.5,0.5,purple\n0.5,0.5,red\n",
    )
    .unwrap();
    let out = run(&[
        "run",
        shrk.to_str().unwrap(),
        d.join("new.csv").to_str().unwrap(),
        "--json",
    ]);
    let v = stdout_json(&out);
    assert_eq!(v["predictions"][0]["unseen"][0], "colour=purple");
    assert!(v["predictions"][1].get("unseen").is_none());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2: \"colour\" = \"purple\" was not seen in training"),
        "{err}"
    );

    // Columns in another order are refused, naming the column.
    std::fs::write(d.join("swap.csv"), "x2,x1,colour\n0.5,0.5,red\n").unwrap();
    let out = run(&[
        "run",
        shrk.to_str().unwrap(),
        d.join("swap.csv").to_str().unwrap(),
    ]);
    assert_clean_failure(
        &out,
        "swap.csv: line 1, column 1 (\"x2\"): the header must be",
    );
}

#[test]
fn eval_maps_labels_to_the_trained_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let csv = d.join("t.csv");
    csv_table(&csv, 300);
    let model = d.join("m");
    let r = stdout_json(&run(&[
        "train",
        &write_spec(d),
        "--data",
        csv.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    // Augmentation is for images: not used, so not saved.
    let saved = std::fs::read_to_string(model.join("spec.toml")).unwrap();
    assert!(!saved.contains("augment"), "{saved}");
    assert!(
        r["notes"].to_string().contains("augment dropped"),
        "{}",
        r["notes"]
    );
    // A test file with only "yes" rows: "yes" is still class 1, as in training.
    let text = std::fs::read_to_string(&csv).unwrap();
    let yes: Vec<&str> = text.lines().filter(|l| l.ends_with(",yes")).collect();
    let mut data = String::from("x1,x2,colour,label\n");
    let mut test = data.clone();
    for (i, l) in yes.iter().enumerate() {
        let target = if i % 4 == 0 { &mut test } else { &mut data };
        target.push_str(l);
        target.push('\n');
    }
    std::fs::write(d.join("yes.csv"), &data).unwrap();
    std::fs::write(d.join("yes.test.csv"), &test).unwrap();
    let e = stdout_json(&run(&[
        "eval",
        model.to_str().unwrap(),
        "--data",
        d.join("yes.csv").to_str().unwrap(),
        "--json",
    ]));
    let acc = e["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.6, "yes rows scored as class 1: {acc}");
    // A label the model never saw is an error naming the row.
    std::fs::write(d.join("odd.csv"), "x1,x2,colour,label\n1,1,red,maybe\n").unwrap();
    let out = run(&[
        "eval",
        model.to_str().unwrap(),
        "--data",
        d.join("odd.csv").to_str().unwrap(),
    ]);
    assert_clean_failure(
        &out,
        "odd.csv: line 2, column 4 (\"label\"): label \"maybe\" is not one of the model's classes (no, yes)",
    );
}

#[test]
fn data_that_cannot_train_and_settings_that_cannot_run_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = write_spec(d);
    let train = |data: &Path, out: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            spec.as_str(),
            "--data",
            data.to_str().unwrap(),
            "--quiet",
            "--out",
        ];
        let o = d.join(out);
        args.push(o.to_str().unwrap());
        args.extend_from_slice(extra);
        run(&args)
    };
    let mut one = String::from("a,b,label\n");
    for i in 0..50 {
        one.push_str(&format!("{i},{},same\n", i % 7));
    }
    std::fs::write(d.join("one.csv"), one).unwrap();
    assert_clean_failure(
        &train(&d.join("one.csv"), "o1", &[]),
        "the training split has 1 class (\"same\")",
    );
    // Two rows of two classes: the stratified split leaves no test rows.
    std::fs::write(d.join("two.csv"), "a,label\n1,x\n2,y\n").unwrap();
    assert_clean_failure(
        &train(&d.join("two.csv"), "o2", &[]),
        "the test split is empty",
    );
    let no_test = d.join("no-test");
    idx_dataset(&no_test, 60, 0, 8, 8, 3);
    assert_clean_failure(&train(&no_test, "o2b", &[]), "the test split is empty");
    let csv = d.join("t.csv");
    csv_table(&csv, 200);
    assert_clean_failure(
        &train(&csv, "o3", &["--epochs", "0"]),
        "epochs must be at least 1",
    );
    assert!(!d.join("o3").exists(), "nothing written");
    // An existing run directory is not silently started over.
    let ok = train(&csv, "o4", &["--epochs", "1"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = std::fs::read(d.join("o4/model.safetensors")).unwrap();
    assert_clean_failure(
        &train(&csv, "o4", &["--epochs", "2"]),
        "already holds a run (spec.toml); pass --resume",
    );
    assert_eq!(
        std::fs::read(d.join("o4/model.safetensors")).unwrap(),
        before
    );

    // Progress on a table counts rows.
    let out = run(&[
        "train",
        &spec,
        "--data",
        csv.to_str().unwrap(),
        "--out",
        d.join("o5").to_str().unwrap(),
        "--epochs",
        "1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(" rows/s") && !err.contains("img/s"), "{err}");

    // CRLF files: error lines as in the file.
    std::fs::write(
        d.join("crlf.csv"),
        "x1,x2,colour,label\r\n1,2,red,yes\r\n3,4,blue,no\r\n5,red,no\r\n",
    )
    .unwrap();
    assert_clean_failure(
        &train(&d.join("crlf.csv"), "o6", &[]),
        "crlf.csv: line 4, column 0: row has 3 fields, the header has 4",
    );
}

#[test]
fn quantize_checks_its_output_before_working_and_leaves_nothing_half_done() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let csv = d.join("t.csv");
    csv_table(&csv, 200);
    let model = d.join("m");
    stdout_json(&run(&[
        "train",
        &write_spec(d),
        "--data",
        csv.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "1",
        "--json",
        "--quiet",
    ]));
    let q = |out: &Path, extra: &[&str]| {
        let mut a = vec![
            "quantize",
            model.to_str().unwrap(),
            "--data",
            csv.to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let listing = |p: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    };
    // A directory: refused before any work, and nothing left behind.
    let dir = d.join("adir");
    std::fs::create_dir(&dir).unwrap();
    let before = listing(d);
    assert_clean_failure(&q(&dir, &[]), "adir: is a directory");
    assert_eq!(listing(d), before);
    assert!(listing(&dir).is_empty());
    // A missing folder: refused up front.
    assert_clean_failure(&q(&d.join("nope/m.shrk"), &[]), "nope: no such directory");
    // An existing file is kept unless --force.
    let f = d.join("m.shrk");
    std::fs::write(&f, b"keep me").unwrap();
    assert_clean_failure(&q(&f, &[]), "already exists; pass --force");
    assert_eq!(std::fs::read(&f).unwrap(), b"keep me");
    let ok = q(&f, &["--force"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(std::fs::read(&f).unwrap().starts_with(b"SHRK"));
    // No temporary files anywhere.
    assert!(
        listing(d).iter().all(|n| !n.ends_with(".tmp")),
        "{:?}",
        listing(d)
    );
    // The file carries the table: run reads a CSV with it.
    let preds = run_json(&f, &csv);
    assert_eq!(preds.len(), 200);
}
