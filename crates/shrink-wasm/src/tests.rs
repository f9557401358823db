//! The exports called natively, as `web/shrink.js` calls them: the page's model and
//! test digits, bad files, bad arguments.

use super::*;
use std::path::PathBuf;

fn web(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../web")
        .join(name)
}

fn error() -> String {
    let (ptr, len) = (shrink_error_ptr(), shrink_error_len());
    // SAFETY: the exports promise `len` bytes of UTF-8 at `ptr` until the next call.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Copy `bytes` into a `shrink_alloc` block and load them, as the page does.
fn load(bytes: &[u8]) -> i32 {
    let ptr = shrink_alloc(bytes.len());
    assert!(!ptr.is_null());
    // SAFETY: `ptr` holds `bytes.len()` bytes.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len());
        let code = shrink_load(ptr, bytes.len());
        shrink_free(ptr, bytes.len());
        code
    }
}

fn predict(x: &[f32], batch: usize) -> Result<Vec<f32>, (i32, String)> {
    let mut out = vec![f32::NAN; batch * shrink_classes()];
    // SAFETY: `x` and `out` have the lengths the model needs for `batch`.
    let code = unsafe { shrink_predict(x.as_ptr(), batch, out.as_mut_ptr()) };
    if code == OK {
        Ok(out)
    } else {
        Err((code, error()))
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
    assert_eq!(
        load(&std::fs::read(web("model.shrk")).unwrap()),
        OK,
        "{}",
        error()
    );
    assert_eq!(shrink_input_len(), 28 * 28);
    assert_eq!(shrink_classes(), 10);
    assert!(shrink_memory_bytes() > 0);
    for i in 0..10 {
        // SAFETY: as the exports promise.
        let name = unsafe {
            std::slice::from_raw_parts(shrink_class_name_ptr(i), shrink_class_name_len(i))
        };
        assert_eq!(name, i.to_string().as_bytes());
    }
    assert_eq!(shrink_class_name_len(10), 0);

    let digits = test_digits();
    assert!(digits.len() >= 5);
    let mut all = Vec::new();
    let mut one_by_one = Vec::new();
    for (label, pixels) in &digits {
        let logits = predict(pixels, 1).unwrap();
        assert_eq!(argmax(&logits), *label, "logits {logits:?}");
        all.extend_from_slice(pixels);
        one_by_one.extend(logits);
    }
    // A batch gives what single examples give.
    let batched = predict(&all, digits.len()).unwrap();
    for (a, b) in batched.iter().zip(&one_by_one) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    assert_eq!(predict(&[], 0), Ok(vec![]));
}

#[test]
fn bad_files_are_errors_and_unload_the_model() {
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
        assert_eq!(load(&good), OK);
        assert_eq!(load(&bytes), ERR_FORMAT, "{what}");
        assert!(!error().is_empty(), "{what}");
        assert_eq!((shrink_input_len(), shrink_classes()), (0, 0), "{what}");
        let (code, msg) = predict(&[0.0; 784], 1).unwrap_err();
        assert_eq!((code, msg.as_str()), (ERR_NO_MODEL, "no model loaded"));
    }
    // Every length short of the whole file is refused, with a message.
    for len in (0..good.len()).step_by(37) {
        assert_eq!(load(&good[..len]), ERR_FORMAT, "first {len} bytes");
        assert!(!error().is_empty());
    }
    // SAFETY: a null pointer with a length is refused before it is read.
    assert_eq!(unsafe { shrink_load(ptr::null(), 10) }, ERR_ARGUMENT);
}

#[test]
fn bad_prediction_arguments_are_errors() {
    assert_eq!(load(&std::fs::read(web("model.shrk")).unwrap()), OK);
    let mut out = [0.0f32; 10];
    let x = [0.0f32; 785];
    // SAFETY: each call is refused before a buffer is touched.
    unsafe {
        assert_eq!(
            shrink_predict(ptr::null(), 1, out.as_mut_ptr()),
            ERR_ARGUMENT
        );
        assert_eq!(shrink_predict(x.as_ptr(), 1, ptr::null_mut()), ERR_ARGUMENT);
        let misaligned = x.as_ptr().cast::<u8>().add(1).cast::<f32>();
        assert_eq!(
            shrink_predict(misaligned, 1, out.as_mut_ptr()),
            ERR_ARGUMENT
        );
        assert_eq!(
            shrink_predict(x.as_ptr(), usize::MAX, out.as_mut_ptr()),
            ERR_ARGUMENT
        );
    }
    assert!(error().contains("too large"));
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
