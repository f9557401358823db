//! shrink-wasm: the WebAssembly build of the C ABI of `crates/shrink-capi`
//! (`include/shrink.h`), so that JavaScript loads and runs a `.shrk` file with the very
//! functions a C program calls — built as `wasm32-unknown-unknown` with no wasm-bindgen
//! and no build tool beyond cargo (`web/build.sh`). `web/shrink.js` is its JavaScript
//! side.
//!
//! The module exports every `shrink_*` function of `shrink.h` (pointers are byte
//! offsets into the exported `memory`, `size_t` is 32 bits) and adds only what
//! JavaScript needs to hand over bytes:
//!
//! | export | what |
//! |---|---|
//! | `shrink_alloc(len) -> ptr` | `len` bytes, 8-aligned (so they can hold `f32`s); 0 when out of memory |
//! | `shrink_free(ptr, len)` | give back what `shrink_alloc(len)` returned |
//!
//! A panic aborts (the `wasm` profile), which JavaScript sees as a trap; bad bytes are
//! an error code, never a trap: the runtime checks every offset and length of a `.shrk`
//! file before use.
//!
//! Not here: drawing, image preprocessing, timing — the page does those.

pub use shrink_capi::*;

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

/// Alignment of every [`shrink_alloc`] block: enough for `f32` and `f64` views.
const ALIGN: usize = 8;

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

#[cfg(test)]
mod tests;
