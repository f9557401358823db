//! Hostile and odd input (issue 11): crafted specs, crafted `.shrk` files with valid
//! checksums (written by shrink-format itself) and odd data files, each run through the
//! real binary under an address-space limit (`ulimit -v 4000000`, 4 GB) and a 30-second
//! kill (a hang guard, not a timing assertion). Every one must end in exit code 1 with
//! one short `error:` line on stderr: no abort, no panic, no allocation failure.
//! Positive controls (a valid file, the same commands) show that the binary runs fine
//! under the same limit, so a refusal means the input was refused.

mod common;

use common::{idx_dataset, write_idx_images};
use shrink_format::{CompressedTensor, NamedTensor, ShrkModel, TensorData};
use std::path::{Path, PathBuf};
use std::process::Output;

/// `shrink ARGS` with at most 4 GB of address space, killed after 30 s. `SHRINK_BIN`
/// names another binary to test (an installed or separately built one).
fn run_limited(args: &[&str]) -> Output {
    let bin = std::env::var("SHRINK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_shrink").into());
    let script = "ulimit -v 4000000 && exec timeout -s KILL 30 \"$@\"";
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&bin)
        .args(args)
        .current_dir(common::repo_root())
        .output()
        .expect("run sh")
}

/// Exit code 1, one `error:` line of at most 1000 bytes mentioning `needle`, no panic.
fn assert_refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit status {:?} (137: killed after 30 s or by the memory limit); stderr: {}",
        out.status,
        &err[..err.len().min(2000)]
    );
    common::assert_clean_failure(out, needle);
    assert!(
        err.len() < 1000,
        "stderr is {} bytes: {}",
        err.len(),
        &err[..1000]
    );
    assert!(
        !err.contains("memory allocation") && !err.contains("capacity overflow"),
        "{err}"
    );
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn write_spec(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn write_shrk(dir: &Path, name: &str, spec: &str, tensors: Vec<(&str, TensorData)>) -> PathBuf {
    let model = ShrkModel {
        spec_toml: spec.to_string(),
        meta: vec![],
        tensors: tensors
            .into_iter()
            .map(|(n, data)| NamedTensor {
                name: n.to_string(),
                data,
            })
            .collect(),
    };
    let (bytes, _) = shrink_format::write(&model).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn dense(shape: &[u32], fill: impl Fn(usize) -> f32) -> TensorData {
    let n: u32 = shape.iter().product();
    TensorData::Dense {
        shape: shape.to_vec(),
        values: (0..n as usize).map(fill).collect(),
    }
}

/// A pruned tensor of any declared size with no kept weight: a few bytes on disk.
fn empty_compressed(shape: &[u32]) -> TensorData {
    TensorData::Compressed(CompressedTensor {
        shape: shape.to_vec(),
        bits: 1,
        index_bits: 5,
        codebook: vec![0.5],
        positions: vec![],
        clusters: vec![],
    })
}

/// A small valid model: `[1, 8, 8]` images → flatten → linear 3.
const SMALL_LAYERS: &str =
    "input = [1, 8, 8]\nlayers = [{ type = \"flatten\" }, { type = \"linear\", out = 3 }]\n";

fn small_tensors() -> Vec<(&'static str, TensorData)> {
    vec![
        (
            "layers.1.weight",
            dense(&[3, 64], |i| ((i * 7) % 5) as f32 - 2.0),
        ),
        ("layers.1.bias", dense(&[3], |i| i as f32 * 0.1)),
    ]
}

/// Specs that declare absurd sizes: `train` and `info` refuse them from the spec alone.
#[test]
fn specs_declaring_huge_sizes_are_refused_by_train_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    common::csv_table(&csv, 60);
    let linear = |out: &str| format!("input = [784]\n[[layers]]\ntype = \"linear\"\nout = {out}\n");
    let image = |layer: &str| {
        format!(
            "input = [1, 28, 28]\n[[layers]]\n{layer}\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\nout = 10\n"
        )
    };
    let cases = [
        (linear("1000000000000"), "max_params"),
        (linear("4294967295"), "max_params"),
        (linear("9223372036854775807"), "overflows"),
        (
            image("type = \"conv2d\"\nout = 4\nkernel = 3\npadding = 20000"),
            "limit",
        ),
        (
            image("type = \"conv_transpose2d\"\nout = 4\nkernel = 3\nstride = 1000000"),
            "limit",
        ),
        (
            image("type = \"conv2d\"\nout = 1000000000\nkernel = 3"),
            "limit",
        ),
        (
            image("type = \"conv2d\"\nout = 4\nkernel = 3\npadding = 1000000000"),
            "overflows",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let spec = write_spec(dir.path(), &format!("s{i}.toml"), text);
        let run_dir = dir.path().join(format!("run{i}"));
        let out = run_limited(&[
            "train",
            p(&spec),
            "--data",
            p(&csv),
            "--out",
            p(&run_dir),
            "--quiet",
        ]);
        assert_refused(&out, needle);
        assert_refused(&run_limited(&["info", p(&spec)]), needle);
    }
}

/// A million layers (15 MB of spec) and blocks nested 10 000 deep: bounded before any
/// work, with a short message.
#[test]
fn huge_and_deep_specs_are_refused_quickly_with_short_messages() {
    let dir = tempfile::tempdir().unwrap();
    let wide = "input = [4]\n".to_string() + &"[[layers]]\ntype = \"relu\"\n".repeat(1_000_000);
    let spec = write_spec(dir.path(), "wide.toml", &wide);
    assert!(std::fs::metadata(&spec).unwrap().len() > 15_000_000);
    assert_refused(&run_limited(&["info", p(&spec)]), "max_spec_bytes");

    let mut body = "{ type = \"relu\" }".to_string();
    for _ in 0..10_000 {
        body = format!("{{ type = \"residual\", body = [{body}] }}");
    }
    let deep = format!("input = [4]\nlayers = [{body}]\n");
    let spec = write_spec(dir.path(), "deep.toml", &deep);
    assert_refused(&run_limited(&["info", p(&spec)]), "spec");
    // 40 levels written as table headers (`[[layers.body.body…]]`), which the TOML
    // parser takes without recursing: the spec's own depth bound refuses it.
    let mut text = "input = [4]\n".to_string();
    let mut key = "layers".to_string();
    for _ in 0..40 {
        text.push_str(&format!("[[{key}]]\ntype = \"residual\"\n"));
        key.push_str(".body");
    }
    text.push_str(&format!("[[{key}]]\ntype = \"relu\"\n"));
    let spec = write_spec(dir.path(), "deep40.toml", &text);
    assert_refused(&run_limited(&["info", p(&spec)]), "nested more than");
}

/// Small `.shrk` files (valid checksums) declaring huge layers, activations, working
/// memory or work: `eval` (runtime and `--burn`) and `run` refuse them at load.
#[test]
fn small_shrk_files_declaring_huge_work_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    idx_dataset(&data, 30, 12, 8, 8, 3);
    let image = dir.path().join("x.idx");
    write_idx_images(&image, &[7; 64], 1, 8, 8);
    let files = [
        // One linear layer of 2.7·10^9 weights, none kept: a few hundred bytes.
        (
            write_shrk(
                dir.path(),
                "linear.shrk",
                "input = [784]\nlayers = [{ type = \"linear\", out = 3500000, bias = false }]\n",
                vec![("layers.0.weight", empty_compressed(&[3_500_000, 784]))],
            ),
            "max_params",
        ),
        // A conv-transpose whose output is 1.9·10^8 values per example.
        (
            write_shrk(
                dir.path(),
                "convt.shrk",
                "input = [1, 28, 28]\nlayers = [{ type = \"conv_transpose2d\", out = 4, kernel = 8, stride = 256, bias = false }, { type = \"global_avg_pool\" }]\n",
                vec![("layers.0.weight", empty_compressed(&[1, 4, 8, 8]))],
            ),
            "max_activation",
        ),
        // Moderate activations, 5.4·10^9 multiply-adds per example.
        (
            write_shrk(
                dir.path(),
                "slow.shrk",
                "input = [256, 32, 32]\nlayers = [{ type = \"conv_transpose2d\", out = 256, kernel = 9, stride = 9, bias = false }, { type = \"global_avg_pool\" }]\n",
                vec![("layers.0.weight", empty_compressed(&[256, 256, 9, 9]))],
            ),
            "max_macs",
        ),
        // An inception branch whose im2col columns need 1.5 GB for one example.
        (
            write_shrk(
                dir.path(),
                "inception.shrk",
                "input = [64, 224, 224]\nlayers = [{ type = \"inception\", branches = [[{ type = \"conv2d\", out = 64, kernel = 11, padding = 5, bias = false }], [{ type = \"max_pool2d\", kernel = 3, stride = 1, padding = 1 }]] }, { type = \"global_avg_pool\" }]\n",
                vec![(
                    "layers.0.branches.0.0.weight",
                    empty_compressed(&[64, 64, 11, 11]),
                )],
            ),
            "max_batch_bytes",
        ),
    ];
    for (file, needle) in &files {
        assert!(std::fs::metadata(file).unwrap().len() < 2000);
        assert_refused(&run_limited(&["eval", p(file), "--data", p(&data)]), needle);
        assert_refused(
            &run_limited(&["eval", p(file), "--data", p(&data), "--burn"]),
            needle,
        );
        assert_refused(&run_limited(&["run", p(file), p(&image)]), needle);
        assert_refused(&run_limited(&["info", p(file)]), needle);
    }
    // Raising the limit is honoured: the linear file passes the parameter check (and
    // then meets the data, whose shape it does not take).
    let out = run_limited(&[
        "eval",
        p(&files[0].0),
        "--data",
        p(&data),
        "--max-params",
        "3000000000",
    ]);
    assert_refused(&out, "shape");
}

/// Values, not only structure: NaN/inf centroids and weights, NaN normalisation, a
/// negative batch-norm variance, one class name for 3 outputs — refused by the runtime
/// and by the Burn path alike, with the same message.
#[test]
fn unusable_values_are_refused_by_runtime_and_burn_alike() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    idx_dataset(&data, 30, 12, 8, 8, 3);
    let good = write_shrk(dir.path(), "good.shrk", SMALL_LAYERS, small_tensors());
    assert_ok(&run_limited(&["eval", p(&good), "--data", p(&data)]));
    assert_ok(&run_limited(&[
        "eval",
        p(&good),
        "--data",
        p(&data),
        "--burn",
    ]));

    let mut nan_centroid = small_tensors();
    nan_centroid[0].1 = TensorData::Compressed(CompressedTensor {
        shape: vec![3, 64],
        bits: 2,
        index_bits: 5,
        codebook: vec![0.5, f32::NAN],
        positions: vec![0, 5, 17],
        clusters: vec![0, 1, 1],
    });
    let mut inf_bias = small_tensors();
    inf_bias[1].1 = dense(&[3], |i| if i == 2 { f32::INFINITY } else { 0.0 });
    let bn_spec = "input = [1, 8, 8]\nlayers = [{ type = \"flatten\" }, { type = \"batch_norm\" }, { type = \"linear\", out = 3 }]\n";
    let mut bn = vec![
        ("layers.1.weight", dense(&[64], |_| 1.0)),
        ("layers.1.bias", dense(&[64], |_| 0.0)),
        ("layers.1.running_mean", dense(&[64], |_| 0.0)),
        (
            "layers.1.running_var",
            dense(&[64], |i| if i == 5 { -1.0 } else { 1.0 }),
        ),
    ];
    bn.extend(small_tensors().into_iter().map(|(n, d)| {
        (
            if n.ends_with("weight") {
                "layers.2.weight"
            } else {
                "layers.2.bias"
            },
            d,
        )
    }));
    let cases = [
        (
            write_shrk(dir.path(), "nan_centroid.shrk", SMALL_LAYERS, nan_centroid),
            "not finite",
        ),
        (
            write_shrk(dir.path(), "inf_bias.shrk", SMALL_LAYERS, inf_bias),
            "not finite",
        ),
        (
            write_shrk(
                dir.path(),
                "nan_norm.shrk",
                &format!("{SMALL_LAYERS}[normalize]\nmean = [nan]\nstd = [1.0]\n"),
                small_tensors(),
            ),
            "normalize.mean must be finite",
        ),
        (
            write_shrk(
                dir.path(),
                "zero_std.shrk",
                &format!("{SMALL_LAYERS}[normalize]\nmean = [0.0]\nstd = [0.0]\n"),
                small_tensors(),
            ),
            "normalize.std",
        ),
        (
            write_shrk(dir.path(), "bn_var.shrk", bn_spec, bn),
            "variance -1 of channel 5 is not positive",
        ),
        (
            write_shrk(
                dir.path(),
                "one_name.shrk",
                &format!("class_names = [\"only\"]\n{SMALL_LAYERS}"),
                small_tensors(),
            ),
            "1 class names for 3 outputs",
        ),
    ];
    for (file, needle) in &cases {
        for extra in [None, Some("--burn")] {
            let mut args = vec!["eval", p(file), "--data", p(&data)];
            args.extend(extra);
            assert_refused(&run_limited(&args), needle);
        }
    }
}

/// `eval --burn` checks what the runtime checks: an unused tensor is refused, and a
/// shape error says which shape was found and which was expected, in that order.
#[test]
fn burn_path_uses_the_runtime_validation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    idx_dataset(&data, 30, 12, 8, 8, 3);
    let mut extra = small_tensors();
    extra.push(("layers.0.weight", dense(&[2], |_| 1.0)));
    let unused = write_shrk(dir.path(), "unused.shrk", SMALL_LAYERS, extra);
    let mut swapped = small_tensors();
    swapped[0].1 = dense(&[64, 3], |_| 0.1);
    let swapped = write_shrk(dir.path(), "swapped.shrk", SMALL_LAYERS, swapped);
    for extra in [None, Some("--burn")] {
        let mut args = vec!["eval", p(&unused), "--data", p(&data)];
        args.extend(extra);
        assert_refused(&run_limited(&args), "layers.0.weight is not used");
        let mut args = vec!["eval", p(&swapped), "--data", p(&data)];
        args.extend(extra);
        assert_refused(
            &run_limited(&args),
            "tensor layers.1.weight has shape [64, 3], layer layers.1 needs [3, 64]",
        );
    }
}

/// Class names with terminal escape sequences are printed escaped, never raw.
#[test]
fn escape_sequences_in_names_are_escaped_on_output() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("x.idx");
    write_idx_images(&image, &[200; 64], 1, 8, 8);
    let forged = "class_names = [\"cat\\u001b[2K\\rdog: 0.999\", \"b\\u0007\", \"c\\n\"]\n";
    let mut tensors = small_tensors();
    tensors[1].1 = dense(&[3], |i| if i == 0 { 100.0 } else { 0.0 });
    let file = write_shrk(
        dir.path(),
        "names.shrk",
        &format!("name = \"evil\\u001b[31m\"\n{forged}{SMALL_LAYERS}"),
        tensors,
    );
    for args in [vec!["run", p(&file), p(&image)], vec!["info", p(&file)]] {
        let out = run_limited(&args);
        assert_ok(&out);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "raw control characters in {text:?}"
        );
        assert!(text.lines().count() >= 1);
    }
    let out = run_limited(&["run", p(&file), p(&image)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("cat\\u{1b}[2K\\u{d}dog"), "{text}");
}

/// Data files: IDX headers whose sizes overflow or declare gigabytes (gzip), and a CSV
/// cell of 200 MB.
#[test]
fn odd_data_files_are_refused_with_short_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_shrk(dir.path(), "m.shrk", SMALL_LAYERS, small_tensors());

    // Dimensions [1, 2^31, 2^31, 16]: their product is 2^66, which wraps to 0 in
    // 64-bit arithmetic; `run` and `data check` refuse it alike.
    let mut b = vec![0, 0, 8, 4];
    for d in [1u32, 1 << 31, 1 << 31, 16] {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(&[0; 64]);
    let wrap = dir.path().join("wrap-images-idx3-ubyte");
    std::fs::write(&wrap, &b).unwrap();
    assert_refused(&run_limited(&["run", p(&model), p(&wrap)]), "overflow");
    let folder = dir.path().join("wrapset");
    idx_dataset(&folder, 10, 5, 8, 8, 3);
    std::fs::copy(&wrap, folder.join("train-images-idx3-ubyte")).unwrap();
    assert_refused(&run_limited(&["data", "check", p(&folder)]), "overflow");

    // A gzip file (4 MiB of data, 4 KB packed) declaring 2^31 images of 1×1: refused
    // from its header, before the data is unpacked.
    let mut raw = vec![0, 0, 8, 3];
    for d in [1u32 << 31, 1, 1] {
        raw.extend_from_slice(&d.to_be_bytes());
    }
    raw.resize(raw.len() + (4 << 30) / 1024, 0);
    let gz = dir.path().join("huge.idx.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::Write::write_all(&mut enc, &raw).unwrap();
    enc.finish().unwrap();
    assert_refused(&run_limited(&["run", p(&model), p(&gz)]), "declare");

    // A CSV whose numeric cell is 200 MB of digits (it parses to infinity).
    let csv = dir.path().join("big.csv");
    let mut text = String::from("a,b,label\n");
    for i in 0..20 {
        text.push_str(&format!("{i},{},{}\n", i * 2, i % 2));
    }
    text.push('1');
    text.push_str(&"0".repeat(200 << 20));
    text.push_str(",1,0\n");
    std::fs::write(&csv, text).unwrap();
    assert_refused(&run_limited(&["data", "check", p(&csv)]), "is not finite");
}

/// Training refuses a batch whose activations would exceed the memory limit, before
/// building anything, and says which batch size would fit.
#[test]
fn training_batches_over_the_memory_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    idx_dataset(&data, 30, 12, 8, 8, 3);
    let out = run_limited(&[
        "train",
        "zoo/lenet-300-100.toml",
        "--data",
        p(&data),
        "--out",
        p(&dir.path().join("run")),
        "--batch-size",
        "100000000",
        "--quiet",
    ]);
    assert_refused(&out, "max_batch_bytes");
}
