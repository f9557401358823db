//! The runtime on a microcontroller: builds `firmware/cortex-m4` (shrink-runtime without
//! std, for `thumbv7em-none-eabihf`) once per model, runs it on QEMU's Cortex-M4 board
//! `mps2-an386`, and checks every class and logit it prints over semihosting against
//! this (host) build of the runtime on the same images. Then prints the firmware's
//! flash and RAM use (the figures in README.md and BENCHMARKS.md):
//!
//! ```sh
//! cargo test --release -p shrink-runtime --test cortex_m4 -- --nocapture
//! ```
//!
//! Needs `qemu-system-arm` (Debian package) and the Rust target `thumbv7em-none-eabihf`;
//! `.ci/run` installs both when missing. Without them the test fails and says so; set
//! `SHRINK_SKIP_CORTEX_M4=1` to skip it knowingly.
//!
//! Not here: the numbers' comparison with TensorFlow Lite Micro
//! (`firmware/cortex-m4/tflm/`).

use shrink_runtime::Model;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The models run on the board: LeNet-5 of the web page, LeNet-300-100 of `shrink demo`.
const MODELS: [(&str, &str); 2] = [
    ("LeNet-5", "web/model.shrk"),
    (
        "LeNet-300-100",
        "firmware/cortex-m4/models/lenet-300-100.shrk",
    ),
];

/// Largest difference allowed between a logit on the board and on the host.
const TOLERANCE: f32 = 1e-4;

/// Base address of RAM on the board: flash is everything loaded below it.
const RAM_START: u32 = 0x2000_0000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the firmware printed for one model.
struct Board {
    /// Per image: class and logits.
    images: Vec<(usize, Vec<f32>)>,
    static_ram: usize,
    heap_arena: usize,
    heap_peak_load: usize,
    heap_after_load: usize,
    allocations_running: usize,
    stack_peak: usize,
    working_memory: usize,
}

/// The numbers after `word` in `line` (`"heap peak 12 bytes"` → 12 for "peak").
fn number_after(line: &str, word: &str) -> usize {
    let rest = line
        .split(word)
        .nth(1)
        .unwrap_or_else(|| panic!("no '{word}' in: {line}"));
    rest.split_whitespace()
        .next()
        .and_then(|n| n.trim_end_matches([',', ';']).parse().ok())
        .unwrap_or_else(|| panic!("no number after '{word}' in: {line}"))
}

fn parse(output: &str) -> Board {
    let mut images = Vec::new();
    let mut board = None;
    let (mut static_ram, mut heap_arena, mut working_memory) = (0, 0, 0);
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("image ") {
            let class = number_after(rest, "class");
            let list = rest
                .split_once('[')
                .and_then(|(_, l)| l.strip_suffix(']'))
                .unwrap_or_else(|| panic!("no logits in: {line}"));
            let logits = list
                .split(", ")
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("bad logit {v} in: {line}"))
                })
                .collect();
            images.push((class, logits));
        } else if line.starts_with("model ") {
            working_memory = number_after(line, "working memory");
        } else if line.starts_with("static RAM") {
            static_ram = number_after(line, "RAM");
            heap_arena = number_after(line, "heap arena");
        } else if line.starts_with("heap peak") {
            board = Some((
                number_after(line, "peak"),
                number_after(line, "bytes during load,"),
                number_after(line, "after it,"),
                number_after(line, "stack peak"),
            ));
        }
    }
    let (heap_peak_load, heap_after_load, allocations_running, stack_peak) =
        board.unwrap_or_else(|| panic!("the firmware did not finish:\n{output}"));
    Board {
        images,
        static_ram,
        heap_arena,
        heap_peak_load,
        heap_after_load,
        allocations_running,
        stack_peak,
        working_memory,
    }
}

/// Bytes the ELF loads into flash: the file size of every loadable segment below RAM
/// (code, read-only data with the model, and the initial values of `.data`, which
/// live in flash and are copied to RAM at boot).
fn flash_bytes(elf: &[u8]) -> usize {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 1, "not a 32-bit ELF");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u32_at(28) as usize, u16_at(42), u16_at(44));
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&h| u32_at(h) == 1 && u32_at(h + 12) < RAM_START) // PT_LOAD, p_paddr
        .map(|h| u32_at(h + 16) as usize) // p_filesz
        .sum()
}

/// Run `cmd`, killing it after `limit`; its stdout, or a panic with its stderr.
fn run(mut cmd: Command, limit: Duration, what: &str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn tools_present() -> Result<(), String> {
    let qemu = Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !qemu {
        return Err("qemu-system-arm is not installed (apt-get install qemu-system-arm)".into());
    }
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !targets.lines().any(|t| t == "thumbv7em-none-eabihf") {
        return Err("the Rust target is missing (rustup target add thumbv7em-none-eabihf)".into());
    }
    Ok(())
}

#[test]
fn cortex_m4_firmware_matches_the_host_runtime() {
    if std::env::var_os("SHRINK_SKIP_CORTEX_M4").is_some() {
        eprintln!("skipped: SHRINK_SKIP_CORTEX_M4 is set");
        return;
    }
    if let Err(e) = tools_present() {
        panic!("{e}; .ci/run installs it (or set SHRINK_SKIP_CORTEX_M4=1 to skip)");
    }
    let root = root();
    let firmware = root.join("firmware/cortex-m4");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("firmware-cortex-m4");
    let images = std::fs::read(firmware.join("images.bin")).expect("images.bin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut table = Vec::new();
    for (name, path) in MODELS {
        let model_path = root.join(path);
        let bytes = std::fs::read(&model_path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let host = Model::from_bytes(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));

        let mut build = Command::new(&cargo);
        build
            .args(["build", "--release"])
            .current_dir(&firmware)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("SHRK_MODEL", &model_path);
        run(build, Duration::from_secs(900), "building the firmware");
        let elf = target_dir.join("thumbv7em-none-eabihf/release/shrink-firmware-cortex-m4");
        let flash = flash_bytes(&std::fs::read(&elf).expect("the firmware ELF"));

        let mut qemu = Command::new("qemu-system-arm");
        qemu.args([
            "-M",
            "mps2-an386",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
        ])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf)
        .stdin(Stdio::null());
        let output = run(qemu, Duration::from_secs(120), "QEMU");
        let board = parse(&output);

        let per_image = host.input_len();
        assert_eq!(
            board.images.len(),
            images.len() / per_image,
            "{name}:\n{output}"
        );
        for (i, (image, (class, logits))) in images
            .chunks_exact(per_image)
            .zip(&board.images)
            .enumerate()
        {
            let x: Vec<f32> = image.iter().map(|&p| p as f32 / 255.0).collect();
            let want = host.predict(&x, 1).unwrap();
            let want_class = (0..want.len()).fold(0, |b, c| if want[c] > want[b] { c } else { b });
            assert_eq!(
                *class, want_class,
                "{name} image {i}: class on the board vs host"
            );
            assert_eq!(logits.len(), want.len(), "{name} image {i}");
            for (c, (g, w)) in logits.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= TOLERANCE,
                    "{name} image {i} logit {c}: {g} on the board, {w} on the host"
                );
            }
        }
        // The working memory is a static buffer: running allocates nothing.
        assert_eq!(
            board.allocations_running, 0,
            "{name}: heap used while running"
        );
        assert_eq!(
            board.working_memory,
            host.working_memory(1).unwrap(),
            "{name}"
        );
        // RAM at its peak: statics (without the heap's arena, whose used part is the
        // heap peak) + heap + stack.
        let statics = board.static_ram - board.heap_arena;
        let ram = statics + board.heap_peak_load.max(board.heap_after_load) + board.stack_peak;
        let running = statics + board.heap_after_load + board.stack_peak;
        table.push(format!(
            "{name:<14} model {:>7} B  flash {flash:>8} B  RAM peak {ram:>7} B (load) {running:>7} B (running: statics {statics} incl. working memory {}, heap {}, stack {})  heap peak at load {}",
            bytes.len(),
            board.working_memory,
            board.heap_after_load,
            board.stack_peak,
            board.heap_peak_load,
        ));
    }
    println!(
        "Cortex-M4 (QEMU mps2-an386), {} images each:",
        images.len() / 784
    );
    for line in table {
        println!("{line}");
    }
}
