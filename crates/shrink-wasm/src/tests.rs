//! The exports called natively, as `web/shrink.js` calls them: bytes and the model
//! handle passed through `shrink_alloc` blocks, the page's model and test digits, bad
//! files. (The ABI's own argument checks are tested in `shrink-capi`.)

use super::*;
use std::ffi::CStr;
use std::path::PathBuf;

fn web(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../web")
        .join(name)
}

fn error() -> String {
    // SAFETY: a NUL-terminated string valid until the next failing call.
    unsafe { CStr::from_ptr(shrink_last_error()) }
        .to_str()
        .unwrap()
        .to_string()
}

/// A model handle, freed when dropped.
struct Handle(*mut ShrinkModel);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: loaded by `load` and not used after.
        unsafe { shrink_model_free(self.0) }
    }
}

/// Copy `bytes` into a `shrink_alloc` block and load them with the handle written to
/// another block, as the page does.
fn load(bytes: &[u8]) -> Result<Handle, (i32, String)> {
    let ptr = shrink_alloc(bytes.len());
    let out = shrink_alloc(size_of::<usize>()).cast::<*mut ShrinkModel>();
    assert!(!ptr.is_null() && !out.is_null());
    // SAFETY: `ptr` holds `bytes.len()` bytes, `out` one pointer.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len());
        let code = shrink_model_load(ptr, bytes.len(), out);
        shrink_free(ptr, bytes.len());
        let handle = *out;
        shrink_free(out.cast(), size_of::<usize>());
        if code == SHRINK_OK {
            Ok(Handle(handle))
        } else {
            assert!(handle.is_null());
            Err((code, error()))
        }
    }
}

fn predict(m: &Handle, x: &[f32], batch: usize) -> Vec<f32> {
    // SAFETY: a live handle; `x` and `out` have the lengths the model needs.
    unsafe {
        let mut out = vec![f32::NAN; batch * shrink_model_classes(m.0)];
        let code = shrink_model_predict(m.0, x.as_ptr(), batch, out.as_mut_ptr());
        assert_eq!(code, SHRINK_OK, "{}", error());
        out
    }
}

fn argmax(logits: &[f32]) -> usize {
    (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap()
}

/// `web/digits.bin`: records of a label `u8`, the MNIST test index `u16` LE, and 28×28
/// grey bytes. Returns (label, pixels in [0, 1]).
fn test_digits() -> Vec<(usize, Vec<f32>)> {
    let bytes = std::fs::read(web("digits.bin")).unwrap();
    assert_eq!(bytes.len() % 787, 0);
    bytes
        .chunks_exact(787)
        .map(|r| {
            let pixels = r[3..].iter().map(|&v| f32::from(v) / 255.0).collect();
            (usize::from(r[0]), pixels)
        })
        .collect()
}

#[test]
fn classifies_the_pages_test_digits() {
    let m = load(&std::fs::read(web("model.shrk")).unwrap()).unwrap();
    // SAFETY: a live handle; strings as the header promises.
    unsafe {
        assert_eq!(shrink_model_input_len(m.0), 28 * 28);
        assert_eq!(shrink_model_classes(m.0), 10);
        assert!(shrink_model_memory_bytes(m.0) > 0);
        for i in 0..10 {
            let name = CStr::from_ptr(shrink_model_class_name(m.0, i));
            assert_eq!(name.to_str().unwrap(), i.to_string());
        }
        assert!(shrink_model_class_name(m.0, 10).is_null());
        let info = CStr::from_ptr(shrink_model_info_json(m.0))
            .to_str()
            .unwrap();
        let info: serde_json::Value = serde_json::from_str(info).unwrap();
        assert_eq!(info["input"], serde_json::json!([1, 28, 28]));
    }

    let digits = test_digits();
    assert!(digits.len() >= 5);
    let mut all = Vec::new();
    let mut one_by_one = Vec::new();
    for (label, pixels) in &digits {
        let logits = predict(&m, pixels, 1);
        assert_eq!(argmax(&logits), *label, "logits {logits:?}");
        all.extend_from_slice(pixels);
        one_by_one.extend(logits);
    }
    // A batch gives what single examples give.
    let batched = predict(&m, &all, digits.len());
    for (a, b) in batched.iter().zip(&one_by_one) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn bad_files_are_errors() {
    let good = std::fs::read(web("model.shrk")).unwrap();
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty", vec![]),
        ("text", b"<!doctype html><p>404 Not Found".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("one byte short", good[..good.len() - 1].to_vec()),
        ("flipped byte", {
            let mut b = good.clone();
            b[good.len() / 3] ^= 0x40;
            b
        }),
    ];
    for (what, bytes) in cases {
        let (code, msg) = load(&bytes).err().unwrap();
        assert_eq!(code, SHRINK_ERR_FORMAT, "{what}: {msg}");
        assert!(!msg.is_empty(), "{what}");
    }
    // Every length short of the whole file is refused, with a message.
    for len in (0..good.len()).step_by(37) {
        let (code, msg) = load(&good[..len]).err().unwrap();
        assert_eq!(code, SHRINK_ERR_FORMAT, "first {len} bytes");
        assert!(!msg.is_empty());
    }
}

#[test]
fn alloc_gives_aligned_blocks() {
    for len in [0, 1, 7, 784 * 4, 1 << 20] {
        let ptr = shrink_alloc(len);
        assert!(!ptr.is_null());
        assert_eq!(ptr as usize % ALIGN, 0);
        // SAFETY: freed once, with its length.
        unsafe { shrink_free(ptr, len) };
    }
    assert!(shrink_alloc(usize::MAX).is_null());
    // SAFETY: null is ignored.
    unsafe { shrink_free(ptr::null_mut(), 4) };
}
