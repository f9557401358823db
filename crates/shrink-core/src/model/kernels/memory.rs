//! Keep freed heap memory in the process instead of handing it back to the kernel.
//!
//! A training step allocates and frees the same large buffers every step (activations,
//! im2col matrices, gradients). With glibc's defaults the top of the heap is trimmed on
//! free and the next step's allocation faults in fresh zeroed pages again; in a LeNet-5
//! step that was about a sixth of the CPU time in the kernel (page faults, `clear_page`;
//! crates/shrink/PERF.md). Raising the trim threshold and padding the heap's top keeps
//! those pages mapped; the process's resident size then stays at its peak. Blocks past
//! glibc's mmap threshold (LeNet-5's im2col matrices at batch 256, 15–33 MB) were each
//! their own `mmap`, unmapped on free: 8 000 fresh pages a step, ~20% of its CPU time.
//! With mmap off for `malloc`, they come from the heap and are reused too.
//!
//! Not here: any allocator of our own; other platforms than Linux with glibc (a no-op).

/// Ask glibc's allocator to keep freed memory (no-op elsewhere). Call once, early.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_TOP_PAD: i32 = -2;
        const M_MMAP_MAX: i32 = -4;
        // SAFETY: mallopt only changes allocator tunables; the values are in range.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
            mallopt(M_TOP_PAD, 64 << 20);
            mallopt(M_MMAP_MAX, 0);
        }
    }
}
