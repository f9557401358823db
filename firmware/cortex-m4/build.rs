//! Build script: puts `memory.x` where the linker finds it, picks the model to embed
//! (`SHRK_MODEL`, a path; default the LeNet-5 of the web page) and loads it once on the
//! build machine with shrink-runtime to size the firmware's static buffers: the input,
//! the logits and the working memory of `Model::forward_in` at batch 1 — so the device
//! reserves exactly that, known before it runs.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::exit;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = fs::copy("memory.x", out.join("memory.x")) {
        fail(&format!("memory.x: {e}"));
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-env-changed=SHRK_MODEL");

    let given = env::var("SHRK_MODEL").unwrap_or_else(|_| "../../web/model.shrk".into());
    let path = fs::canonicalize(&given).unwrap_or_else(|e| fail(&format!("{given}: {e}")));
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = fs::read(&path).unwrap_or_else(|e| fail(&format!("{given}: {e}")));
    let model = shrink_runtime::Model::from_bytes(&bytes)
        .unwrap_or_else(|e| fail(&format!("{given}: {e}")));
    let work = model
        .working_memory(1)
        .unwrap_or_else(|e| fail(&format!("{given}: {e}")));
    let consts = format!(
        "/// The embedded model.\npub static MODEL: &[u8] = include_bytes!({:?});\n\
         /// Values of one example.\npub const INPUT_LEN: usize = {};\n\
         /// Logits per example.\npub const CLASSES: usize = {};\n\
         /// `f32`s of working memory `Model::forward_in` needs at batch 1.\n\
         pub const WORK_VALUES: usize = {};\n",
        path.display().to_string(),
        model.input_len(),
        model.classes(),
        work / 4,
    );
    if let Err(e) = fs::write(out.join("model.rs"), consts) {
        fail(&format!("model.rs: {e}"));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    exit(1)
}
