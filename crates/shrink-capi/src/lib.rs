//! shrink-capi: the C ABI of the shrink runtime — load a `.shrk` model from bytes, ask
//! its sizes and class names, run a batch, read where its bytes go. The header is
//! `include/shrink.h` (the reference for C callers: ownership, thread safety, codes);
//! the crate builds `libshrink_capi.a` and `libshrink_capi.so` from this one source.
//!
//! The same functions are the WebAssembly module's exports (`crates/shrink-wasm` adds
//! only an allocator for JavaScript), and the Python module (`crates/shrink-py`) uses
//! this crate's [`Summary`] for `info()`.
//!
//! Every function checks its pointers for null, returns a status code ([`SHRINK_OK`] or
//! a `SHRINK_ERR_*`) and never unwinds into C: a bad file is an error code, and so would
//! be a panic (caught, [`SHRINK_ERR_INTERNAL`]). The message of the last failure on the
//! calling thread is [`shrink_last_error`].
//!
//! Not here: reading images or files (the caller hands over bytes and `f32` values),
//! memory allocation for JavaScript (`shrink-wasm`).

mod summary;

pub use summary::{Summary, TensorSummary};

use shrink_format::Limits;
use shrink_runtime::{Model, RuntimeError, Workspace};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Mutex;

/// Success.
pub const SHRINK_OK: i32 = 0;
/// A null pointer, a zero thread count, or sizes that overflow.
pub const SHRINK_ERR_ARGUMENT: i32 = 1;
/// The bytes are not a valid `.shrk` container (bad magic, checksum, truncated, …).
pub const SHRINK_ERR_FORMAT: i32 = 3;
/// A valid container whose spec and tensors do not make a runnable model.
pub const SHRINK_ERR_MODEL: i32 = 4;
/// A bug in shrink (a caught panic); the message says where.
pub const SHRINK_ERR_INTERNAL: i32 = 5;

/// A loaded model: what C holds as `shrink_model *`.
pub struct ShrinkModel {
    model: Model,
    /// Class names as C strings (empty when the file names none).
    class_names: Vec<CString>,
    info_json: CString,
    threads: usize,
    /// Scratch and logits of the last `predict`; a call that finds it busy (another
    /// thread is predicting with this model) uses fresh buffers instead.
    scratch: Mutex<(Workspace, Vec<f32>)>,
}

impl ShrinkModel {
    /// Decode and build a model from a `.shrk` file's bytes, within the default limits.
    pub fn from_bytes(bytes: &[u8]) -> Result<ShrinkModel, RuntimeError> {
        ShrinkModel::from_bytes_with(bytes, &Limits::DEFAULT)
    }

    /// Decode and build a model from a `.shrk` file's bytes, within `limits`.
    pub fn from_bytes_with(bytes: &[u8], limits: &Limits) -> Result<ShrinkModel, RuntimeError> {
        let file = shrink_format::read(bytes)?;
        let model = Model::from_shrk_with(&file, limits)?;
        let summary = Summary::new(bytes, &file)?;
        let class_names = model.class_names().iter().map(|n| c_string(n)).collect();
        Ok(ShrinkModel {
            model,
            class_names,
            info_json: c_string(&summary.to_json()),
            threads: 1,
            scratch: Mutex::new((Workspace::default(), Vec::new())),
        })
    }

    /// The runtime model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Threads a batch's examples are split over (default 1; batch 1: large layers).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Let large layers use up to `threads` threads (at least 1; no effect without the
    /// `threads` feature).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
        self.model.set_threads(self.threads);
    }

    /// What the file holds, as JSON ([`Summary::to_json`]).
    pub fn info_json(&self) -> &str {
        self.info_json.to_str().expect("built from a String")
    }

    /// Logits `[batch, classes]` into `out` for `x` (`[batch, input_len]`); `out` holds
    /// exactly `batch × classes` values.
    pub fn predict_into(
        &self,
        x: &[f32],
        batch: usize,
        out: &mut [f32],
    ) -> Result<(), RuntimeError> {
        let mut run = |(ws, logits): &mut (Workspace, Vec<f32>)| {
            self.model.forward(x, batch, ws, logits)?;
            out.copy_from_slice(logits);
            Ok(())
        };
        match self.scratch.try_lock() {
            Ok(mut scratch) => run(&mut scratch),
            Err(_) => run(&mut (Workspace::default(), Vec::new())),
        }
    }
}

/// A C string of `s`; an interior NUL (possible in a class name read from a file)
/// becomes U+FFFD so that the rest of the string is not lost.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{fffd}")).expect("NULs were replaced")
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    LAST_ERROR.with(|e| *e.borrow_mut() = c_string(msg));
}

fn fail(code: i32, msg: impl AsRef<str>) -> i32 {
    set_error(msg.as_ref());
    code
}

/// Run `f`, turning a panic into [`SHRINK_ERR_INTERNAL`] (natively; a wasm32 build
/// aborts instead, which JavaScript sees as a trap).
fn guard(what: &str, f: impl FnOnce() -> i32) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            fail(
                SHRINK_ERR_INTERNAL,
                format!("{what}: internal error: {msg}"),
            )
        }
    }
}

/// The status code of a load failure.
pub fn error_code(err: &RuntimeError) -> i32 {
    match err {
        RuntimeError::Format(_) => SHRINK_ERR_FORMAT,
        RuntimeError::InputLength { .. } => SHRINK_ERR_ARGUMENT,
        _ => SHRINK_ERR_MODEL,
    }
}

/// Decode the `.shrk` file in `bytes[..len]` and store a new model in `*out`
/// (`*out` is set to null on failure). The bytes are not kept.
///
/// # Safety
/// `bytes[..len]` is readable (or `len` is 0); `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_load(
    bytes: *const u8,
    len: usize,
    out: *mut *mut ShrinkModel,
) -> i32 {
    // SAFETY: the caller's contract is this function's.
    unsafe { load("shrink_model_load", bytes, len, Limits::DEFAULT, out) }
}

/// [`shrink_model_load`] with the two limits a large model meets first raised (or
/// lowered): `max_params` learned parameters and `max_macs` multiply-adds per example;
/// 0 keeps a limit's default (2^28 parameters, 5·10^9 multiply-adds). VGG-16 needs
/// `max_macs` ≥ 15 489 941 504.
///
/// # Safety
/// As [`shrink_model_load`].
#[no_mangle]
pub unsafe extern "C" fn shrink_model_load_with_limits(
    bytes: *const u8,
    len: usize,
    max_params: u64,
    max_macs: u64,
    out: *mut *mut ShrinkModel,
) -> i32 {
    let mut limits = Limits::DEFAULT;
    if max_params != 0 {
        limits.max_params = max_params;
    }
    if max_macs != 0 {
        limits.max_macs = max_macs;
    }
    // SAFETY: the caller's contract is this function's.
    unsafe { load("shrink_model_load_with_limits", bytes, len, limits, out) }
}

/// The body of both load functions; `name` is the function's, for error messages.
///
/// # Safety
/// As [`shrink_model_load`].
unsafe fn load(
    name: &'static str,
    bytes: *const u8,
    len: usize,
    limits: Limits,
    out: *mut *mut ShrinkModel,
) -> i32 {
    guard(name, || {
        if out.is_null() {
            return fail(SHRINK_ERR_ARGUMENT, format!("{name}: out is null"));
        }
        // SAFETY: `out` is non-null and writable by the caller's contract.
        unsafe { *out = ptr::null_mut() };
        let data: &[u8] = if len == 0 {
            &[]
        } else if bytes.is_null() {
            return fail(SHRINK_ERR_ARGUMENT, format!("{name}: bytes is null"));
        } else {
            // SAFETY: readable by the caller's contract; `u8` needs no alignment.
            unsafe { std::slice::from_raw_parts(bytes, len) }
        };
        match ShrinkModel::from_bytes_with(data, &limits) {
            Ok(model) => {
                // SAFETY: as above.
                unsafe { *out = Box::into_raw(Box::new(model)) };
                SHRINK_OK
            }
            Err(err) => fail(error_code(&err), err.to_string()),
        }
    })
}

/// Free a model from [`shrink_model_load`]; null is ignored.
///
/// # Safety
/// `model` came from `shrink_model_load`, is not used again, and no other thread is
/// using it.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_free(model: *mut ShrinkModel) {
    if !model.is_null() {
        // SAFETY: by the caller's contract the box is ours to drop.
        drop(unsafe { Box::from_raw(model) });
    }
}

/// # Safety
/// `model` is null or a live model.
unsafe fn get<'a>(model: *const ShrinkModel) -> Option<&'a ShrinkModel> {
    // SAFETY: by the caller's contract.
    unsafe { model.as_ref() }
}

/// `f32` values in one example (product of the input shape); 0 for a null model.
///
/// # Safety
/// `model` is null or a live model.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_input_len(model: *const ShrinkModel) -> usize {
    unsafe { get(model) }.map_or(0, |m| m.model.input_len())
}

/// Dimensions of one example's shape (`[C, H, W]`: 3, `[F]`: 1); 0 for a null model.
///
/// # Safety
/// `model` is null or a live model.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_input_rank(model: *const ShrinkModel) -> usize {
    unsafe { get(model) }.map_or(0, |m| m.model.input_shape().len())
}

/// Dimension `i` of one example's shape; 0 when `i` is out of range.
///
/// # Safety
/// `model` is null or a live model.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_input_dim(model: *const ShrinkModel, i: usize) -> usize {
    unsafe { get(model) }.map_or(0, |m| m.model.input_shape().get(i).copied().unwrap_or(0))
}

/// Outputs (logits) per example; 0 for a null model.
///
/// # Safety
/// `model` is null or a live model.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_classes(model: *const ShrinkModel) -> usize {
    unsafe { get(model) }.map_or(0, |m| m.model.classes())
}

/// Name of class `i` (NUL-terminated UTF-8, owned by the model); null when the file
/// names no classes or `i` is out of range.
///
/// # Safety
/// `model` is null or a live model.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_class_name(
    model: *const ShrinkModel,
    i: usize,
) -> *const c_char {
    unsafe { get(model) }
        .and_then(|m| m.class_names.get(i))
        .map_or(ptr::null(), |n| n.as_ptr())
}

/// Bytes the model's parameters take in memory (compressed matrices, codebooks,
/// biases); 0 for a null model.
///
/// # Safety
/// `model` is null or a live model.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_memory_bytes(model: *const ShrinkModel) -> usize {
    unsafe { get(model) }.map_or(0, |m| m.model.memory_bytes())
}

/// What the file holds, as a NUL-terminated JSON object owned by the model (see
/// [`Summary::to_json`]); null for a null model.
///
/// # Safety
/// `model` is null or a live model.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_info_json(model: *const ShrinkModel) -> *const c_char {
    unsafe { get(model) }.map_or(ptr::null(), |m| m.info_json.as_ptr())
}

/// Let large layers use up to `threads` threads (default 1). Returns
/// [`SHRINK_ERR_ARGUMENT`] for a null model or `threads == 0`. A build without
/// threads (wasm32) accepts and ignores it.
///
/// # Safety
/// `model` is null or a live model that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_set_threads(model: *mut ShrinkModel, threads: usize) -> i32 {
    guard("shrink_model_set_threads", || {
        // SAFETY: by the caller's contract.
        let Some(m) = (unsafe { model.as_mut() }) else {
            return fail(
                SHRINK_ERR_ARGUMENT,
                "shrink_model_set_threads: model is null",
            );
        };
        if threads == 0 {
            return fail(
                SHRINK_ERR_ARGUMENT,
                "shrink_model_set_threads: threads must be ≥ 1",
            );
        }
        m.set_threads(threads);
        SHRINK_OK
    })
}

/// Logits for `batch` examples: reads `input[..batch × input_len]` (row-major raw
/// values: images in [0, 1]; the model normalises them itself) and writes
/// `output[..batch × classes]`. Returns [`SHRINK_OK`] or [`SHRINK_ERR_ARGUMENT`]
/// (null or misaligned pointers, sizes that overflow).
///
/// # Safety
/// `model` is null or a live model; `input` and `output` point to that many
/// readable/writable `f32`s (or `batch` is 0) and do not overlap.
#[no_mangle]
pub unsafe extern "C" fn shrink_model_predict(
    model: *const ShrinkModel,
    input: *const f32,
    batch: usize,
    output: *mut f32,
) -> i32 {
    guard("shrink_model_predict", || {
        let Some(m) = (unsafe { get(model) }) else {
            return fail(SHRINK_ERR_ARGUMENT, "shrink_model_predict: model is null");
        };
        if batch == 0 {
            return SHRINK_OK;
        }
        let max = isize::MAX as usize / size_of::<f32>();
        let sizes = batch
            .checked_mul(m.model.input_len())
            .zip(batch.checked_mul(m.model.classes()))
            .filter(|&(n_in, n_out)| n_in <= max && n_out <= max);
        let Some((n_in, n_out)) = sizes else {
            return fail(
                SHRINK_ERR_ARGUMENT,
                format!("shrink_model_predict: batch {batch} is too large"),
            );
        };
        if input.is_null() || output.is_null() || !input.is_aligned() || !output.is_aligned() {
            return fail(
                SHRINK_ERR_ARGUMENT,
                "shrink_model_predict: input or output is null or not aligned for float",
            );
        }
        // SAFETY: non-null, aligned, and (by the caller's contract) valid for these
        // lengths, which fit in `isize`.
        let x = unsafe { std::slice::from_raw_parts(input, n_in) };
        let y = unsafe { std::slice::from_raw_parts_mut(output, n_out) };
        match m.predict_into(x, batch, y) {
            Ok(()) => SHRINK_OK,
            Err(err) => fail(SHRINK_ERR_ARGUMENT, err.to_string()),
        }
    })
}

/// The message of the last failed call on this thread (NUL-terminated UTF-8, empty
/// when none failed yet); valid until the next failing call on this thread.
#[no_mangle]
pub extern "C" fn shrink_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The version of this library (NUL-terminated, static), e.g. `"0.1.0"`.
#[no_mangle]
pub extern "C" fn shrink_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version has a NUL"),
        };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests;
