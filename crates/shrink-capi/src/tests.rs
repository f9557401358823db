//! The ABI called as C calls it, on the page's LeNet-5 (`web/model.shrk`) and on
//! broken copies of it.

use super::*;
use std::path::Path;

fn lenet5_bytes() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/model.shrk");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(bytes: &[u8]) -> Result<*mut ShrinkModel, (i32, String)> {
    let mut m = ptr::null_mut();
    let rc = unsafe { shrink_model_load(bytes.as_ptr(), bytes.len(), &mut m) };
    if rc == SHRINK_OK {
        assert!(!m.is_null());
        Ok(m)
    } else {
        assert!(m.is_null(), "a failed load leaves *out null");
        Err((rc, last_error()))
    }
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(shrink_last_error()) }
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn sizes_names_and_logits_match_the_runtime() {
    let bytes = lenet5_bytes();
    let reference = Model::from_bytes(&bytes).unwrap();
    let m = load(&bytes).unwrap();
    unsafe {
        assert_eq!(shrink_model_input_len(m), 784);
        assert_eq!(shrink_model_input_rank(m), 3);
        let shape: Vec<usize> = (0..3).map(|i| shrink_model_input_dim(m, i)).collect();
        assert_eq!(shape, reference.input_shape());
        assert_eq!(shrink_model_input_dim(m, 3), 0);
        assert_eq!(shrink_model_classes(m), reference.classes());
        assert_eq!(shrink_model_memory_bytes(m), reference.memory_bytes());
        for (i, name) in reference.class_names().iter().enumerate() {
            let got = CStr::from_ptr(shrink_model_class_name(m, i));
            assert_eq!(got.to_str().unwrap(), name);
        }
        assert!(shrink_model_class_name(m, reference.classes()).is_null());

        // Three made-up images: a ramp, its reverse, a checkerboard.
        let batch = 3;
        let x: Vec<f32> = (0..batch * 784)
            .map(|i| match i / 784 {
                0 => (i % 784) as f32 / 783.0,
                1 => 1.0 - (i % 784) as f32 / 783.0,
                _ => ((i % 784 + i % 784 / 28) % 2) as f32,
            })
            .collect();
        let mut y = vec![f32::NAN; batch * reference.classes()];
        assert_eq!(
            shrink_model_predict(m, x.as_ptr(), batch, y.as_mut_ptr()),
            SHRINK_OK
        );
        assert_eq!(y, reference.predict(&x, batch).unwrap());
        // Threads do not change the result.
        assert_eq!(shrink_model_set_threads(m, 2), SHRINK_OK);
        let mut y2 = vec![f32::NAN; y.len()];
        assert_eq!(
            shrink_model_predict(m, x.as_ptr(), batch, y2.as_mut_ptr()),
            SHRINK_OK
        );
        assert_eq!(y, y2);
        shrink_model_free(m);
    }
}

#[test]
fn info_json_accounts_for_every_byte() {
    let bytes = lenet5_bytes();
    let m = load(&bytes).unwrap();
    let json = unsafe { CStr::from_ptr(shrink_model_info_json(m)) }
        .to_str()
        .unwrap()
        .to_string();
    unsafe { shrink_model_free(m) };
    let file = shrink_format::read(&bytes).unwrap();
    let s = Summary::new(&bytes, &file).unwrap();
    assert_eq!(json, s.to_json());
    assert_eq!(s.file_bytes, bytes.len() as u64);
    let tensor_bytes: u64 = s.tensors.iter().map(|t| t.size.bytes).sum();
    assert_eq!(s.header_bytes + tensor_bytes, s.file_bytes);
    assert_eq!(s.tensors.len(), file.tensors.len());
    assert!(s
        .tensors
        .iter()
        .any(|t| t.kind == "compressed" && t.bits < 32));
    assert!(
        s.ratio() > 1.0,
        "a compressed LeNet-5 is smaller than dense: {}",
        s.ratio()
    );
    assert!(json.contains(&format!("\"file_bytes\":{}", bytes.len())));
    for (k, _) in &file.meta {
        assert!(
            json.contains(&format!("\"{k}\":")),
            "meta key {k} missing from {json}"
        );
    }
}

#[test]
fn corrupt_and_truncated_files_are_errors_with_messages() {
    let bytes = lenet5_bytes();
    let (code, msg) = load(&bytes[..bytes.len() / 2]).unwrap_err();
    assert_eq!(code, SHRINK_ERR_FORMAT);
    assert!(!msg.is_empty());
    let (code, msg) = load(b"not a model").unwrap_err();
    assert_eq!(code, SHRINK_ERR_FORMAT);
    assert!(!msg.is_empty());
    let (code, _) = load(&[]).unwrap_err();
    assert_eq!(code, SHRINK_ERR_FORMAT);
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    let (code, msg) = load(&flipped).unwrap_err();
    assert_eq!(code, SHRINK_ERR_FORMAT, "{msg}");
}

#[test]
fn null_pointers_are_argument_errors() {
    let bytes = lenet5_bytes();
    unsafe {
        let mut m = ptr::null_mut();
        assert_eq!(
            shrink_model_load(ptr::null(), 10, &mut m),
            SHRINK_ERR_ARGUMENT
        );
        assert!(last_error().contains("null"));
        assert_eq!(
            shrink_model_load(bytes.as_ptr(), bytes.len(), ptr::null_mut()),
            SHRINK_ERR_ARGUMENT
        );
        let mut y = [0f32; 10];
        let x = [0f32; 784];
        assert_eq!(
            shrink_model_predict(ptr::null(), x.as_ptr(), 1, y.as_mut_ptr()),
            SHRINK_ERR_ARGUMENT
        );
        assert_eq!(shrink_model_input_len(ptr::null()), 0);
        assert!(shrink_model_info_json(ptr::null()).is_null());
        let m = load(&bytes).unwrap();
        assert_eq!(
            shrink_model_predict(m, ptr::null(), 1, y.as_mut_ptr()),
            SHRINK_ERR_ARGUMENT
        );
        assert_eq!(
            shrink_model_predict(m, x.as_ptr(), usize::MAX, y.as_mut_ptr()),
            SHRINK_ERR_ARGUMENT
        );
        assert!(last_error().contains("too large"), "{}", last_error());
        let misaligned = (x.as_ptr() as *const u8).add(1).cast::<f32>();
        assert_eq!(
            shrink_model_predict(m, misaligned, 1, y.as_mut_ptr()),
            SHRINK_ERR_ARGUMENT
        );
        assert_eq!(shrink_model_set_threads(m, 0), SHRINK_ERR_ARGUMENT);
        assert_eq!(
            shrink_model_predict(m, x.as_ptr(), 0, y.as_mut_ptr()),
            SHRINK_OK
        );
        shrink_model_free(m);
        shrink_model_free(ptr::null_mut());
    }
}

#[test]
fn concurrent_predicts_on_one_model_agree() {
    let bytes = lenet5_bytes();
    let m = ShrinkModel::from_bytes(&bytes).unwrap();
    let x: Vec<f32> = (0..784).map(|i| (i % 13) as f32 / 12.0).collect();
    let mut want = vec![0.0; 10];
    m.predict_into(&x, 1, &mut want).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    let mut y = vec![0.0; 10];
                    m.predict_into(&x, 1, &mut y).unwrap();
                    assert_eq!(y, want);
                }
            });
        }
    });
}

#[test]
fn version_is_the_crate_version() {
    let v = unsafe { CStr::from_ptr(shrink_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn limits_raised_or_lowered_at_load() {
    let bytes = lenet5_bytes();
    let with = |max_params: u64, max_macs: u64| {
        let mut m = ptr::null_mut();
        let rc = unsafe {
            shrink_model_load_with_limits(bytes.as_ptr(), bytes.len(), max_params, max_macs, &mut m)
        };
        if rc == SHRINK_OK {
            assert!(!m.is_null());
            unsafe { shrink_model_free(m) };
            Ok(())
        } else {
            assert!(m.is_null(), "a failed load leaves *out null");
            Err((rc, last_error()))
        }
    };
    // 0 keeps the defaults, which LeNet-5 is far within.
    assert_eq!(with(0, 0), Ok(()));
    let params = Model::from_bytes(&bytes).unwrap().cost().params;
    assert_eq!(with(params, 0), Ok(()));
    let (rc, msg) = with(params - 1, 0).unwrap_err();
    assert_eq!(rc, SHRINK_ERR_MODEL);
    assert!(msg.contains("max_params"), "{msg}");
    let (rc, msg) = with(0, 1000).unwrap_err();
    assert_eq!(rc, SHRINK_ERR_MODEL);
    assert!(msg.contains("max_macs"), "{msg}");
}
