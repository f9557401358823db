//! Tests of [`crate::load`] end to end (detection, assembly, summaries) and of
//! the bundled MNIST.

use super::*;
use crate::cifar::tests::record;
use crate::folder::tests::{grey, rgb};
use crate::idx::tests::{idx_bytes, write};

fn opts() -> LoadOptions {
    LoadOptions::default()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes an IDX split `prefix-images`/`prefix-labels` of `n` 2x3 images.
fn idx_split(dir: &Path, images: &str, labels: &str, y: &[u8], gz: bool) {
    let n = y.len() as u32;
    let pix: Vec<u8> = (0..n * 6).map(|i| (i % 256) as u8).collect();
    write(&dir.join(images), &idx_bytes(&[n, 2, 3], &pix), gz);
    write(&dir.join(labels), &idx_bytes(&[n], y), gz);
}

#[test]
fn idx_folder_with_test_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    idx_split(
        d,
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        &[0, 1, 2, 1],
        true,
    );
    idx_split(
        d,
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        &[4, 0],
        false,
    );
    std::fs::write(d.join("README.md"), "not data").unwrap();
    let src = load(s(d), &opts()).unwrap();
    assert_eq!(src.kind, SourceKind::Idx);
    assert_eq!(src.name, s(d));
    assert_eq!(src.train.shape, vec![1, 2, 3]);
    assert_eq!((src.train.len(), src.test.len()), (4, 2));
    // classes = max label + 1 over train and test.
    assert_eq!(src.train.classes, 5);
    assert_eq!(src.test.class_names, vec!["0", "1", "2", "3", "4"]);
    assert_eq!(src.train.example(1)[0], 6.0 / 255.0);
    assert!(src.schema.is_none());
    src.train.validate().unwrap();
    src.test.validate().unwrap();
}

#[test]
fn idx_folder_without_test_split_is_split_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let y: Vec<u8> = (0..50).map(|i| (i % 2) as u8).collect();
    idx_split(d, "train-images.idx", "train-labels.idx", &y, false);
    let o = LoadOptions {
        test_fraction: 0.2,
        seed: 11,
        ..opts()
    };
    let a = load(s(d), &o).unwrap();
    assert_eq!((a.train.len(), a.test.len()), (40, 10));
    assert_eq!(a.test.class_counts(), vec![5, 5]);
    let b = load(s(d), &o).unwrap();
    assert_eq!(a, b);
    let e = load(
        s(d),
        &LoadOptions {
            test_fraction: 0.0,
            ..o
        },
    )
    .unwrap_err();
    assert!(matches!(e, DataError::InvalidOption { .. }), "{e}");
}

#[test]
fn idx_shape_mismatch_between_splits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    idx_split(d, "train-images", "train-labels", &[0, 1], false);
    write(
        &d.join("test-images"),
        &idx_bytes(&[1, 3, 3], &[0; 9]),
        false,
    );
    write(&d.join("test-labels"), &idx_bytes(&[1], &[0]), false);
    let e = load(s(d), &opts()).unwrap_err().to_string();
    assert!(
        e.contains("test-images: example shape [1, 3, 3] does not match [1, 2, 3] in"),
        "{e}"
    );
    // Empty train split.
    write(&d.join("train-images"), &idx_bytes(&[0, 2, 3], &[]), false);
    write(&d.join("train-labels"), &idx_bytes(&[0], &[]), false);
    let e = load(s(d), &opts()).unwrap_err().to_string();
    assert!(e.contains("train-images: no train examples"), "{e}");
}

#[test]
fn cifar10_and_cifar100_folders() {
    let dir = tempfile::tempdir().unwrap();
    // CIFAR-10 nested as in the official archive.
    let d = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&d).unwrap();
    let mut b1 = record(&[1], 10);
    b1.extend(record(&[2], 20));
    std::fs::write(d.join("data_batch_1.bin"), &b1).unwrap();
    std::fs::write(d.join("data_batch_2.bin"), record(&[3], 30)).unwrap();
    std::fs::write(d.join("test_batch.bin"), record(&[9], 40)).unwrap();
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    std::fs::write(d.join("batches.meta.txt"), names).unwrap();
    let src = load(s(dir.path()), &opts()).unwrap();
    assert_eq!(src.kind, SourceKind::Cifar10);
    assert_eq!(src.train.shape, vec![3, 32, 32]);
    assert_eq!(src.train.y, vec![1, 2, 3]);
    assert_eq!(src.test.y, vec![9]);
    assert_eq!(src.train.example(2)[0], 30.0 / 255.0);
    assert_eq!(src.test.class_names[9], "truck");

    let d = dir.path().join("c100");
    std::fs::create_dir_all(&d).unwrap();
    let mut t = record(&[0, 42], 1);
    t.extend(record(&[19, 99], 2));
    std::fs::write(d.join("train.bin"), &t).unwrap();
    std::fs::write(d.join("test.bin"), record(&[3, 7], 3)).unwrap();
    let src = load(s(&d), &opts()).unwrap();
    assert_eq!(src.kind, SourceKind::Cifar100);
    assert_eq!(src.train.classes, 100);
    assert_eq!(src.train.y, vec![42, 99]);
    assert_eq!(src.test.class_names[7], "7");

    // A truncated test batch: error names the file and offset.
    std::fs::write(d.join("test.bin"), &record(&[3, 7], 3)[..100]).unwrap();
    let e = load(s(&d), &opts()).unwrap_err().to_string();
    assert!(e.contains("test.bin: at byte 0: incomplete record"), "{e}");
}

#[test]
fn csv_through_load() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("iris.csv");
    let mut text = String::from("sepal,petal,kind,class\n");
    for i in 0..30 {
        text.push_str(&format!(
            "{}.5,{},{},{}\n",
            i,
            i * 2,
            ["x", "y"][i % 2],
            ["setosa", "versicolor", "virginica"][i % 3]
        ));
    }
    std::fs::write(&p, text).unwrap();
    let src = load(s(&p), &opts()).unwrap();
    assert_eq!(src.kind, SourceKind::Csv);
    assert_eq!(src.train.shape, vec![4]);
    assert_eq!((src.train.len(), src.test.len()), (24, 6));
    assert_eq!(
        src.train.class_names,
        vec!["setosa", "versicolor", "virginica"]
    );
    let schema = src.schema.as_ref().unwrap();
    assert_eq!(schema.label_column, "class");
    let text = describe(&src);
    eprintln!("{text}");
    assert!(text.contains("(CSV)"), "{text}");
    assert!(
        text.contains(
            "label column \"class\"; 3 feature columns (2 numeric, 1 categorical) -> 4 features"
        ),
        "{text}"
    );
    assert!(text.contains("virginica"), "{text}");
    let j = src.summary_json();
    assert_eq!(j["kind"], "csv");
    assert_eq!(
        j["schema"]["columns"][2]["kind"]["levels"],
        serde_json::json!(["x", "y"])
    );
    assert_eq!(j["train"]["n"], 24);
}

#[test]
fn image_folder_through_load() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    for i in 0..5 {
        grey(&r.join(format!("zero/{i}.png")), 4, 4, |_, _| 0);
        rgb(&r.join(format!("one/{i}.jpg")), 4, 4, |x, _| {
            [x as u8 * 60, 0, 0]
        });
    }
    let src = load(s(r), &opts()).unwrap();
    assert_eq!(src.kind, SourceKind::ImageFolder);
    assert_eq!(src.train.shape, vec![3, 4, 4]);
    assert_eq!(src.train.class_names, vec!["one", "zero"]);
    assert_eq!((src.train.len(), src.test.len()), (8, 2));
    assert_eq!(src.test.class_counts(), vec![1, 1]);
    let n = compute_normalization(&src.train);
    assert!(n.per_channel);
    assert_eq!(n.mean.len(), 3);
}

#[test]
fn unknown_specs() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(s(&dir.path().join("nope")), &opts()).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }));
    assert!(
        e.to_string().ends_with("nope: no such file or directory"),
        "{e}"
    );
    let f = dir.path().join("x.bin");
    std::fs::write(&f, b"x").unwrap();
    let e = load(s(&f), &opts()).unwrap_err().to_string();
    assert!(
        e.contains("x.bin: not a recognised data source: a file that is not .csv"),
        "{e}"
    );
    let e = load(s(dir.path()), &opts()).unwrap_err().to_string();
    assert!(
        e.contains("not a recognised data source: expected IDX files"),
        "{e}"
    );
}

#[test]
fn data_dir_resolution() {
    let manifest = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"));
    assert_eq!(
        candidates_from(Some("/x/y".into()), Some("/cwd".into())),
        vec![PathBuf::from("/x/y")]
    );
    assert_eq!(
        candidates_from(Some("".into()), Some("/cwd".into())),
        vec![PathBuf::from("/cwd/data"), manifest.clone()]
    );
    assert_eq!(candidates_from(None, None), vec![manifest]);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let c = dir.path().join("c");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(b.join("mnist")).unwrap();
    let cands = vec![c.clone(), a.clone(), b.clone()];
    assert_eq!(pick_data_dir(&cands), b);
    assert_eq!(pick_data_dir(&cands[..2]), a);
    assert_eq!(pick_data_dir(&cands[..1]), c);
}

#[test]
fn bundled_mnist_checksum_mismatch_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = idx::load_bundled_mnist(d).unwrap_err().to_string();
    assert!(e.starts_with("bundled MNIST not found: "), "{e}");
    assert!(e.contains("train-images-idx3-ubyte.gz missing"), "{e}");
    idx_split(
        d,
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        &[1],
        true,
    );
    idx_split(
        d,
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        &[1],
        true,
    );
    let e = idx::load_bundled_mnist(d).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, DataError::Checksum { .. }), "{m}");
    assert!(
        m.contains("train-images-idx3-ubyte.gz: md5 mismatch: expected 6bbc9ace898e44ae57da46a324031adb, got "),
        "{m}"
    );
}

/// The bundled copy: runs when `data/mnist` is present (it is in the repository).
#[test]
fn bundled_mnist() {
    let dir = repo_data_dir().join("mnist");
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        eprintln!("skipping: no bundled MNIST under {}", dir.display());
        return;
    }
    let t0 = std::time::Instant::now();
    let src = load("mnist", &opts()).unwrap();
    eprintln!("bundled MNIST loaded in {:?}", t0.elapsed());
    assert_eq!(src.name, "mnist");
    assert_eq!(src.kind, SourceKind::Idx);
    assert_eq!((src.train.len(), src.test.len()), (60000, 10000));
    assert_eq!(src.train.shape, vec![1, 28, 28]);
    assert_eq!(src.train.x.len(), 60000 * 784);
    assert_eq!(src.train.classes, 10);
    assert_eq!(src.train.class_names[9], "9");
    assert_eq!(
        src.train.class_counts(),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        src.test.class_counts(),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert!(src.train.x.iter().all(|v| (0.0..=1.0).contains(v)));
    let n = compute_normalization(&src.train);
    // The well-known MNIST statistics.
    assert!((n.mean[0] - 0.1307).abs() < 1e-3, "{:?}", n);
    assert!((n.std[0] - 0.3081).abs() < 1e-3, "{:?}", n);
    let text = describe(&src);
    eprintln!("{text}");
    assert!(text.starts_with("mnist (IDX)\n"), "{text}");
    assert!(text.contains("train 60000 examples, test 10000"), "{text}");
    assert!(text.contains("    1         6742     1135"), "{text}");
    let j = src.summary_json();
    assert_eq!(j["test"]["class_counts"][1], 1135);
    assert_eq!(j["kind"], "idx");
}

#[test]
fn error_is_send_sync_static() {
    fn check<T: std::error::Error + Send + Sync + 'static>() {}
    check::<DataError>();
}
