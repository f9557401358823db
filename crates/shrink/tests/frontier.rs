//! `shrink experiment frontier --quick` (issue 14, item 6) on a small data set: every
//! point it draws is a file on disk with the size it reports, each with the commands that
//! made it; the published points are on the page; a bad points file fails cleanly.

mod common;
use common::*;

#[test]
fn quick_frontier_draws_its_points_with_their_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("blobs");
    idx_dataset(&data, 400, 100, 28, 28, 10);
    let out = tmp.path().join("f");
    let r = stdout_json(&run(&[
        "experiment",
        "frontier",
        "--quick",
        "--nets",
        "lenet-300-100",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    assert_eq!(r["experiment"], "frontier");
    let points = r["results"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 4, "{r}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let mut drawn = 0;
    for p in points {
        let cmds = p["commands"].as_array().unwrap();
        // --quick trains a copy of the zoo spec that asks for fewer retraining steps
        // (the settings file's `spec_compress`).
        let train = cmds[0].as_str().unwrap();
        assert!(train.starts_with("shrink train "), "{p}");
        assert!(train.contains("lenet-300-100-spec.toml"), "{p}");
        assert!(
            cmds[1].as_str().unwrap().starts_with("shrink compress "),
            "{p}"
        );
        if p["failed"].is_null() {
            // The reported size is the file's.
            let report = std::path::Path::new(p["report"].as_str().unwrap());
            let shrk = report.with_file_name("model.shrk");
            assert_eq!(
                p["file_bytes"].as_u64().unwrap(),
                std::fs::metadata(&shrk).unwrap().len()
            );
            assert!(html.contains(&format!("shrink: {}", p["label"].as_str().unwrap())));
            drawn += 1;
        }
    }
    // Deep Compression with and without distillation, sparse VD: these always finish.
    assert!(drawn >= 3, "{r}");
    assert!(points
        .iter()
        .any(|p| p["commands"][1].as_str().unwrap().contains("--no-distill")));
    // The published LeNet-300-100 points: Han, Guo, Ullrich, Molchanov, RigL twice.
    let published = r["results"]["published"].as_array().unwrap();
    assert_eq!(published.len(), 6);
    assert!(published.iter().all(|p| p["net"] == "lenet-300-100"));
    assert!(html.contains("<svg") && html.contains("published (ratio of parameters)"));
}

#[test]
fn a_bad_points_file_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("p.toml");
    std::fs::write(&f, "[[point]]\nnet = \"lenet-5\"\n").unwrap();
    let o = run(&[
        "experiment",
        "frontier",
        "--nets",
        "",
        "--points",
        f.to_str().unwrap(),
        "--out",
        tmp.path().join("o").to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "not a points file");
}
