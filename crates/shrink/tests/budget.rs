//! `shrink compress --max-error / --max-error-increase / --max-bytes` (issue 14, item 5)
//! on a tiny net and data set: a budget that can be met is met on the file as written,
//! with the chosen per-layer settings reported; one that cannot be met fails with one
//! line naming the closest attempt and leaves no `model.shrk` behind.

mod common;
use common::*;

/// Appended to `TINY_CONV_NET`.
const SETTINGS: &str = r#"
[train]
epochs = 4
batch_size = 32
lr = 0.05
val_fraction = 0.2
[compress]
rounds = 1
retrain_epochs = 1
min_retrain_steps = 20
finetune_epochs = 1
min_finetune_steps = 20
"#;

/// A trained tiny model directory and its data.
fn trained(tmp: &std::path::Path) -> (String, String) {
    let data = tmp.join("blobs");
    idx_dataset(&data, 600, 200, 10, 10, 4);
    let spec = tmp.join("tiny.toml");
    std::fs::write(&spec, format!("{TINY_CONV_NET}{SETTINGS}")).unwrap();
    let model = tmp.join("dense");
    run_ok(&[
        "train",
        spec.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--quiet",
    ]);
    (
        model.to_str().unwrap().to_string(),
        data.to_str().unwrap().to_string(),
    )
}

#[test]
fn a_budget_that_can_be_met_is_met_on_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = trained(tmp.path());
    let out = tmp.path().join("b");
    let max_bytes = 2500u64; // float32: 4 * 4 170 = 16 680 bytes
    let r = stdout_json(&run(&[
        "compress",
        &model,
        "--data",
        &data,
        "--out",
        out.to_str().unwrap(),
        "--max-bytes",
        &max_bytes.to_string(),
        "--max-error-increase",
        "5%",
        "--budget-rounds",
        "3",
        "--json",
        "--quiet",
    ]));
    assert_eq!(r["met"], true, "{r}");
    let limit = r["error_limit"].as_f64().unwrap();
    assert!((limit - (r["dense_val_error"].as_f64().unwrap() + 0.05)).abs() < 1e-12);
    let chosen = &r["attempts"][r["chosen"].as_u64().unwrap() as usize];
    // What the report says is what is on disk.
    let shrk = out.join("model.shrk");
    let on_disk = std::fs::metadata(&shrk).unwrap().len();
    assert!(on_disk <= max_bytes, "{on_disk} bytes");
    assert_eq!(chosen["file_bytes"], on_disk);
    assert!(chosen["val_error"].as_f64().unwrap() <= limit);
    // Every attempt was judged by what it measured.
    for a in r["attempts"].as_array().unwrap() {
        let fits = a["file_bytes"].as_u64().unwrap() <= max_bytes;
        let within = a["val_error"].as_f64().unwrap() <= limit;
        assert_eq!(a["meets_bytes"], fits, "{a}");
        assert_eq!(a["meets_error"], within, "{a}");
    }
    // The chosen per-layer settings: one row per weighted layer, and the pipeline ran
    // with exactly them (report.json's config).
    let layers = chosen["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["layers.0.weight", "layers.4.weight", "layers.6.weight"]
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for l in layers {
        let n = l["name"].as_str().unwrap();
        assert_eq!(report["config"]["keep"][n], l["keep"], "{n}");
        assert_eq!(report["config"]["bits"][n], l["bits"], "{n}");
    }
    assert_eq!(report["file_bytes"], on_disk);
    // The scan covered each layer's ladders; the file's sizes were predicted by the writer.
    for s in r["scan"].as_array().unwrap() {
        let keeps = s["keeps"].as_array().unwrap().len();
        assert_eq!(s["prune_val_error"].as_array().unwrap().len(), keeps);
        assert_eq!(s["bytes"].as_array().unwrap().len(), keeps);
    }
    // The text table is written too, and shrink eval of the file gives the test error
    // the report names.
    assert!(std::fs::read_to_string(out.join("budget.txt"))
        .unwrap()
        .contains("budget met"));
    let e = stdout_json(&run(&[
        "eval",
        shrk.to_str().unwrap(),
        "--data",
        &data,
        "--json",
    ]));
    assert!(
        (e["test_error"].as_f64().unwrap() - chosen["test_error"].as_f64().unwrap()).abs() < 1e-12
    );
}

#[test]
fn a_budget_that_cannot_be_met_says_so_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = trained(tmp.path());
    let out = tmp.path().join("b");
    // Fewer bytes than the file's header alone.
    let o = run(&[
        "compress",
        &model,
        "--data",
        &data,
        "--out",
        out.to_str().unwrap(),
        "--max-bytes",
        "60",
        "--budget-rounds",
        "2",
        "--quiet",
    ]);
    assert_clean_failure(&o, "cannot be met");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("closest:") && err.contains("model.shrk"),
        "{err}"
    );
    // Nothing that looks like a result is left in --out; the search is on record.
    assert!(!out.join("model.shrk").exists());
    assert!(!out.join("report.json").exists());
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("budget.json")).unwrap()).unwrap();
    assert_eq!(r["met"], false);
    let closest = &r["attempts"][r["closest"].as_u64().unwrap() as usize];
    assert!(closest["file_bytes"].as_u64().unwrap() > 60);
    assert!(
        err.contains(&format!("{} bytes", closest["file_bytes"])),
        "{err}"
    );
    assert!(r["attempts"].as_array().unwrap().len() <= 2);
}

#[test]
fn bad_budgets_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 50, 20, 10, 10, 4);
    let spec = tmp.path().join("tiny.toml");
    std::fs::write(&spec, format!("{TINY_CONV_NET}{SETTINGS}")).unwrap();
    for (flag, value, needle) in [
        ("--max-error", "1.5", "fraction"),
        ("--max-error", "120%", "percentage"),
        ("--max-bytes", "0", "at least 1"),
    ] {
        let o = run(&[
            "compress",
            spec.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            tmp.path().join("o").to_str().unwrap(),
            flag,
            value,
            "--quiet",
        ]);
        assert!(!o.status.success(), "{flag} {value} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{flag} {value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
