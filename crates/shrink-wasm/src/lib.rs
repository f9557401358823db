//! shrink-wasm: a C ABI over [`shrink_runtime`] so that JavaScript can load a `.shrk`
//! file and classify with it, built as `wasm32-unknown-unknown` with no wasm-bindgen and
//! no build tool beyond cargo (`web/build.sh`). `web/shrink.js` is its JavaScript side.
//!
//! The module holds at most one model. Every function is a plain `extern "C"` export
//! taking and returning integers (pointers are byte offsets into the module's exported
//! `memory`):
//!
//! | export | what |
//! |---|---|
//! | `shrink_alloc(len) -> ptr` | `len` bytes, 8-aligned (so they can hold `f32`s); 0 when out of memory |
//! | `shrink_free(ptr, len)` | give back what `shrink_alloc(len)` returned |
//! | `shrink_load(ptr, len) -> code` | decode the `.shrk` file in `ptr[..len]` and make it the model |
//! | `shrink_error_ptr() -> ptr`, `shrink_error_len() -> len` | UTF-8 message of the last failed call |
//! | `shrink_input_len() -> n` | `f32` values in one example (0 with no model) |
//! | `shrink_classes() -> n` | outputs per example (0 with no model) |
//! | `shrink_class_name_ptr(i)`, `shrink_class_name_len(i)` | UTF-8 name of class `i` (empty if unnamed) |
//! | `shrink_memory_bytes() -> n` | bytes the loaded weights take in memory |
//! | `shrink_predict(in, batch, out) -> code` | logits `out[batch × classes]` for raw inputs `in[batch × input_len]` |
//!
//! A return `code` is [`OK`] or one of the `ERR_*` constants, and the message is then
//! in `shrink_error_*`. A failed `shrink_load` leaves no model loaded. Bad bytes are an
//! error code, never a trap: the runtime checks every offset and length of a `.shrk`
//! file before use. Pointers are trusted: the caller passes what it allocated.
//!
//! Not here: drawing, image preprocessing, timing — the page does those.

use shrink_runtime::{Model, RuntimeError, Workspace};
use std::alloc::{self, Layout};
use std::cell::RefCell;
use std::ptr::{self, NonNull};

/// Success.
pub const OK: i32 = 0;
/// A null or misaligned pointer, or a length that overflows.
pub const ERR_ARGUMENT: i32 = 1;
/// `shrink_predict` before a model was loaded.
pub const ERR_NO_MODEL: i32 = 2;
/// The bytes are not a valid `.shrk` container (bad magic, CRC, truncated, …).
pub const ERR_FORMAT: i32 = 3;
/// A valid container whose spec and tensors do not make a runnable model.
pub const ERR_MODEL: i32 = 4;
/// A call made while another was running (cannot happen from single-threaded JS).
pub const ERR_BUSY: i32 = 5;

/// Alignment of every [`shrink_alloc`] block: enough for `f32` and `f64` views.
const ALIGN: usize = 8;

struct Loaded {
    model: Model,
    workspace: Workspace,
    logits: Vec<f32>,
}

struct State {
    loaded: Option<Loaded>,
    error: String,
}

thread_local! {
    // wasm32-unknown-unknown has one thread, so this is one global; natively each test
    // thread gets its own, which keeps the unit tests independent.
    static STATE: RefCell<State> = const {
        RefCell::new(State { loaded: None, error: String::new() })
    };
}

/// Run `f` on the state; `None` if it is already borrowed (a re-entrant call).
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE
        .try_with(|cell| cell.try_borrow_mut().ok().map(|mut state| f(&mut state)))
        .ok()
        .flatten()
}

fn fail(state: &mut State, code: i32, msg: impl Into<String>) -> i32 {
    state.error = msg.into();
    code
}

/// `len` bytes, aligned to 8, uninitialised; null when out of memory. A zero `len`
/// gives a dangling non-null pointer that must not be read.
#[no_mangle]
pub extern "C" fn shrink_alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return NonNull::<u64>::dangling().as_ptr().cast();
    }
    match Layout::from_size_align(len, ALIGN) {
        // SAFETY: the layout has a nonzero size.
        Ok(layout) => unsafe { alloc::alloc(layout) },
        Err(_) => ptr::null_mut(),
    }
}

/// Free a block from [`shrink_alloc`]; null is ignored.
///
/// # Safety
/// `ptr` came from `shrink_alloc(len)` with this same `len` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn shrink_free(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, ALIGN) {
        // SAFETY: by the caller's contract, `ptr` was allocated with this layout.
        unsafe { alloc::dealloc(ptr, layout) }
    }
}

/// Decode the `.shrk` file in `ptr[..len]` and make it the model (replacing any
/// previous one). Returns [`OK`], [`ERR_FORMAT`], [`ERR_MODEL`] or [`ERR_ARGUMENT`];
/// on failure no model is loaded. The bytes are not kept: free them after the call.
///
/// # Safety
/// `ptr[..len]` is readable (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn shrink_load(ptr: *const u8, len: usize) -> i32 {
    with_state(|state| {
        state.loaded = None;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if ptr.is_null() {
            return fail(state, ERR_ARGUMENT, "shrink_load: null pointer");
        } else {
            // SAFETY: readable by the caller's contract; `u8` needs no alignment.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        };
        match Model::from_bytes(bytes) {
            Ok(model) => {
                state.loaded = Some(Loaded {
                    model,
                    workspace: Workspace::default(),
                    logits: Vec::new(),
                });
                state.error.clear();
                OK
            }
            Err(err) => {
                let code = match err {
                    RuntimeError::Format(_) => ERR_FORMAT,
                    RuntimeError::InputLength { .. } => ERR_ARGUMENT,
                    _ => ERR_MODEL,
                };
                fail(state, code, err.to_string())
            }
        }
    })
    .unwrap_or(ERR_BUSY)
}

/// Start of the UTF-8 message of the last failed call (valid until the next call).
#[no_mangle]
pub extern "C" fn shrink_error_ptr() -> *const u8 {
    with_state(|state| state.error.as_ptr()).unwrap_or(ptr::null())
}

/// Length in bytes of the message at [`shrink_error_ptr`] (0 when none).
#[no_mangle]
pub extern "C" fn shrink_error_len() -> usize {
    with_state(|state| state.error.len()).unwrap_or(0)
}

/// `f32` values in one example (the product of the model's input shape); 0 with no
/// model.
#[no_mangle]
pub extern "C" fn shrink_input_len() -> usize {
    with_state(|state| state.loaded.as_ref().map_or(0, |l| l.model.input_len())).unwrap_or(0)
}

/// Outputs (logits) per example; 0 with no model.
#[no_mangle]
pub extern "C" fn shrink_classes() -> usize {
    with_state(|state| state.loaded.as_ref().map_or(0, |l| l.model.classes())).unwrap_or(0)
}

fn class_name(state: &State, i: usize) -> &str {
    state
        .loaded
        .as_ref()
        .and_then(|l| l.model.class_names().get(i))
        .map_or("", String::as_str)
}

/// Start of class `i`'s UTF-8 name (valid until the next `shrink_load`).
#[no_mangle]
pub extern "C" fn shrink_class_name_ptr(i: usize) -> *const u8 {
    with_state(|state| class_name(state, i).as_ptr()).unwrap_or(ptr::null())
}

/// Length in bytes of class `i`'s name; 0 when the spec names no classes or `i` is out
/// of range.
#[no_mangle]
pub extern "C" fn shrink_class_name_len(i: usize) -> usize {
    with_state(|state| class_name(state, i).len()).unwrap_or(0)
}

/// Bytes the loaded model's parameters take in memory (compressed matrices, codebooks,
/// biases), saturated at `u32::MAX`; 0 with no model.
#[no_mangle]
pub extern "C" fn shrink_memory_bytes() -> u32 {
    with_state(|state| {
        state.loaded.as_ref().map_or(0, |l| {
            u32::try_from(l.model.memory_bytes()).unwrap_or(u32::MAX)
        })
    })
    .unwrap_or(0)
}

/// Logits for `batch` examples: reads `input[..batch × input_len]` (row-major, raw
/// values: images in [0, 1]; the model normalises them itself) and writes
/// `output[..batch × classes]`. Returns [`OK`], [`ERR_NO_MODEL`] or [`ERR_ARGUMENT`]
/// (null or misaligned pointers, sizes that overflow).
///
/// # Safety
/// `input` and `output` point to that many readable/writable `f32`s (or `batch` is 0)
/// and do not overlap.
#[no_mangle]
pub unsafe extern "C" fn shrink_predict(input: *const f32, batch: usize, output: *mut f32) -> i32 {
    with_state(|state| {
        let Some(loaded) = state.loaded.as_mut() else {
            return fail(state, ERR_NO_MODEL, "no model loaded");
        };
        if batch == 0 {
            return OK;
        }
        let sizes = batch
            .checked_mul(loaded.model.input_len())
            .zip(batch.checked_mul(loaded.model.classes()))
            .filter(|&(n_in, n_out)| {
                let max = isize::MAX as usize / size_of::<f32>();
                n_in <= max && n_out <= max
            });
        let Some((n_in, n_out)) = sizes else {
            return fail(state, ERR_ARGUMENT, format!("batch {batch} is too large"));
        };
        if input.is_null() || output.is_null() || !input.is_aligned() || !output.is_aligned() {
            return fail(
                state,
                ERR_ARGUMENT,
                "shrink_predict: null or misaligned buffer (allocate with shrink_alloc)",
            );
        }
        // SAFETY: non-null, aligned, and (by the caller's contract) valid for these
        // lengths, which fit in `isize`.
        let x = unsafe { std::slice::from_raw_parts(input, n_in) };
        let y = unsafe { std::slice::from_raw_parts_mut(output, n_out) };
        let Loaded {
            model,
            workspace,
            logits,
        } = loaded;
        match model.forward(x, batch, workspace, logits) {
            Ok(()) => {
                y.copy_from_slice(logits);
                OK
            }
            Err(err) => fail(state, ERR_ARGUMENT, err.to_string()),
        }
    })
    .unwrap_or(ERR_BUSY)
}

#[cfg(test)]
mod tests;
