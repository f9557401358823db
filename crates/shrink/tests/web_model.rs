//! The model the web page ships (`web/model.shrk`) states its own MNIST test accuracy in
//! its metadata, and that number is what `shrink eval` measures on the file; `shrink eval
//! --record` writes such a record without touching the weights.

mod common;
use common::*;

fn info_json(path: &std::path::Path) -> serde_json::Value {
    stdout_json(&run(&["info", path.to_str().unwrap(), "--json"]))
}

#[test]
fn the_web_model_records_the_accuracy_eval_measures() {
    let model = repo_root().join("web/model.shrk");
    let info = info_json(&model);
    let meta = &info["meta"];
    let recorded: f64 = meta["test_error"]
        .as_str()
        .expect("web/model.shrk records its test error (shrink eval --record)")
        .parse()
        .unwrap();
    assert_eq!(meta["test_data"], "mnist");
    let eval = stdout_json(&run(&[
        "eval",
        model.to_str().unwrap(),
        "--data",
        "mnist",
        "--json",
    ]));
    let n = eval["n"].as_f64().unwrap();
    // The same count of wrong predictions (the record is their exact ratio).
    assert_eq!(
        (recorded * n).round(),
        (eval["test_error"].as_f64().unwrap() * n).round()
    );
    assert_eq!(recorded, (recorded * n).round() / n);
    assert_eq!(
        meta["test_examples"].as_str().unwrap(),
        eval["n"].to_string()
    );
}

#[test]
fn eval_record_writes_meta_and_keeps_the_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("m.shrk");
    let original = std::fs::read(repo_root().join("web/model.shrk")).unwrap();
    std::fs::write(&copy, &original).unwrap();
    let data = tmp.path().join("slice");
    // A small labelled slice is enough to check the bookkeeping.
    let src = shrink_core::workflow::load_data("mnist", None).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    for (ds, n, images, labels) in [
        (
            &src.train,
            100,
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
        ),
        (
            &src.test,
            300,
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
    let out = run(&[
        "eval",
        copy.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--record",
        "--json",
    ]);
    let eval = stdout_json(&out);
    let meta = &info_json(&copy)["meta"];
    let recorded: f64 = meta["test_error"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        (recorded * 300.0).round(),
        (eval["test_error"].as_f64().unwrap() * 300.0).round()
    );
    assert_eq!(meta["test_examples"], "300");
    assert_eq!(
        meta["test_data"], "slice",
        "a path is recorded by its name only"
    );
    // The tensors are the same; only the header grew or shrank.
    let a = shrink_format::read(&original).unwrap();
    let b = shrink_format::read(&std::fs::read(&copy).unwrap()).unwrap();
    assert_eq!(a.tensors, b.tensors);
    assert_eq!(a.spec_toml, b.spec_toml);
    // Recording again replaces the record instead of adding a second one.
    stdout_json(&run(&[
        "eval",
        copy.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--record",
        "--json",
    ]));
    let again = shrink_format::read(&std::fs::read(&copy).unwrap()).unwrap();
    assert_eq!(
        again.meta.iter().filter(|(k, _)| k == "test_error").count(),
        1
    );
    // --record needs a .shrk file.
    assert_clean_failure(
        &run(&[
            "eval",
            tmp.path().to_str().unwrap(),
            "--data",
            "mnist",
            "--record",
        ]),
        "--record",
    );
}
