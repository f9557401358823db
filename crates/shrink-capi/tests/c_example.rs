//! The C example (`examples/classify.c`) as a C programmer builds it: compiled with
//! `cc -Wall -Werror` against `include/shrink.h`, linked once with the static and once
//! with the shared library `cargo build -p shrink-capi` makes, run on MNIST test images written as raw
//! float32. Its logits must be the runtime's exactly, and a corrupt model must give an
//! error message and exit code 1, not a crash.
//!
//! Needs a C compiler (`cc`); without it the test fails, it does not skip.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder holding `libshrink_capi.{a,so}`, built once per test process with
/// `cargo build --release -p shrink-capi` into a target directory of its own (cargo
/// builds the static and shared libraries only for `build`, and the outer `cargo test`
/// holds the lock of its own target directory).
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target_dir = tmp("capi-build");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(crate_dir())
            .args(["build", "--release", "-p", "shrink-capi", "--target-dir"])
            .arg(&target_dir)
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "cargo build -p shrink-capi failed ({status})"
        );
        target_dir.join("release")
    })
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn cc(args: &[&str], out: &Path) {
    let example = crate_dir().join("examples/classify.c");
    let include = crate_dir().join("include");
    let o = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I"])
        .arg(&include)
        .arg(&example)
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run cc (is a C compiler installed?)");
    assert!(
        o.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `n` MNIST test images, pixels / 255, as the runtime takes them.
fn mnist_images(n: usize) -> Vec<f32> {
    let path = crate_dir().join("../../data/mnist/t10k-images-idx3-ubyte.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(&raw[..4], &[0, 0, 8, 3], "IDX magic of a u8 image file");
    raw[16..16 + n * 784]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect()
}

/// Run an example program. Without `LD_LIBRARY_PATH`: `cargo test` points it at its own
/// target directory, where a `libshrink_capi.so` left by an earlier `cargo build` would
/// win over the shared program's run path (DT_RUNPATH ranks below it) and the program
/// would run stale code.
fn run(exe: &Path, model: &Path, images: &Path) -> Output {
    Command::new(exe)
        .env_remove("LD_LIBRARY_PATH")
        .arg(model)
        .arg(images)
        .output()
        .unwrap()
}

/// Per line: (index, class, probability, logits).
fn parse(stdout: &[u8]) -> Vec<(usize, String, f64, Vec<f32>)> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let logits = f[3..].iter().map(|v| v.parse().unwrap()).collect();
            (
                f[0].parse().unwrap(),
                f[1].to_string(),
                f[2].parse().unwrap(),
                logits,
            )
        })
        .collect()
}

#[test]
fn the_c_example_prints_the_runtimes_logits() {
    let static_exe = tmp("classify-static");
    let lib = lib_dir();
    cc(
        &[
            lib.join("libshrink_capi.a").to_str().unwrap(),
            "-lpthread",
            "-ldl",
            "-lm",
        ],
        &static_exe,
    );
    let shared_exe = tmp("classify-shared");
    let rpath = format!("-Wl,-rpath,{}", lib.display());
    cc(
        &["-L", lib.to_str().unwrap(), "-lshrink_capi", "-lm", &rpath],
        &shared_exe,
    );

    let model_path = crate_dir().join("../../web/model.shrk");
    let model = shrink_runtime::Model::from_bytes(&std::fs::read(&model_path).unwrap()).unwrap();
    let n = 16;
    let x = mnist_images(n);
    let images = tmp("mnist16.f32");
    let raw: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&images, raw).unwrap();
    let want = model.predict(&x, n).unwrap();
    let classes = model.classes();

    for exe in [&static_exe, &shared_exe] {
        let o = run(exe, &model_path, &images);
        assert!(
            o.status.success(),
            "{}: {}",
            exe.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let lines = parse(&o.stdout);
        assert_eq!(lines.len(), n);
        for (i, (index, class, prob, logits)) in lines.iter().enumerate() {
            let row = &want[i * classes..(i + 1) * classes];
            assert_eq!(*index, i);
            assert_eq!(
                logits, row,
                "example {i}: C logits differ from the runtime's"
            );
            let best = (0..classes).fold(0, |b, c| if row[c] > row[b] { c } else { b });
            let name = model
                .class_names()
                .get(best)
                .cloned()
                .unwrap_or(best.to_string());
            assert_eq!(class, &name);
            let sum: f64 = row.iter().map(|&v| ((v - row[best]) as f64).exp()).sum();
            assert!((prob - 1.0 / sum).abs() < 1e-6);
        }
    }
}

#[test]
fn the_c_example_reports_a_corrupt_model() {
    let exe = tmp("classify-static-err");
    let lib = lib_dir();
    cc(
        &[
            lib.join("libshrink_capi.a").to_str().unwrap(),
            "-lpthread",
            "-ldl",
            "-lm",
        ],
        &exe,
    );
    let good = std::fs::read(crate_dir().join("../../web/model.shrk")).unwrap();
    let images = tmp("one-blank.f32");
    std::fs::write(&images, vec![0u8; 784 * 4]).unwrap();
    for (name, bytes) in [
        ("truncated.shrk", good[..good.len() - 7].to_vec()),
        ("text.shrk", b"hello, not a model\n".to_vec()),
    ] {
        let path = tmp(name);
        std::fs::write(&path, bytes).unwrap();
        let o = run(&exe, &path, &images);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: exit status {:?}",
            o.status
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(name) && err.contains("(code 3)"),
            "{name}: {err}"
        );
        assert!(o.stdout.is_empty());
    }
    // Images of the wrong size: the example's own check, before any call.
    std::fs::write(&images, vec![0u8; 100]).unwrap();
    let o = run(&exe, &crate_dir().join("../../web/model.shrk"), &images);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a whole number"));
}
