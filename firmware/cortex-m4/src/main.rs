//! A `.shrk` model on a Cortex-M4F: the model's bytes and ten MNIST test images sit in
//! flash (`include_bytes!`); shrink-runtime (`no_std`) loads the model onto a small heap
//! and classifies each image with `Model::forward_in` in a static buffer whose size the
//! build script computed (`Model::working_memory`), so no activation touches the heap.
//! Classes, logits and the memory used go out over semihosting:
//!
//! ```text
//! model 39950 bytes, input 784, classes 10, working memory 32320 bytes
//! static RAM 1080940 bytes, of which heap arena 1048576 and working buffer 32320
//! image 0 class 7 logits [-3.3853827, 3.0179796, 6.454853, 4.964148, …]
//! heap peak 264744 bytes during load, 91492 in use after it, 0 allocations while running; stack peak 7684 bytes
//! ```
//!
//! Runs on QEMU's `mps2-an386` board (`cargo run --release`, see .cargo/config.toml);
//! crates/shrink-runtime/tests/cortex_m4.rs builds it, runs it and compares every line
//! with the host runtime.
//!
//! Memory is measured, not estimated: the heap is wrapped by an allocator that keeps
//! its high-water mark (bytes in use by the heap, as `embedded-alloc` counts them), and
//! the free stack is painted with a pattern before the work and scanned after it.

#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprint, hprintln};
use embedded_alloc::LlffHeap;
use shrink_runtime::Model;

mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
use model::{CLASSES, INPUT_LEN, MODEL, WORK_VALUES};

/// MNIST test images 0–9 (t10k), 784 bytes each.
static IMAGES: &[u8] = include_bytes!("../images.bin");

/// Heap arena: room for the decoded weights (a ceiling, not what is reported).
const HEAP_BYTES: usize = 1 << 20;

/// `embedded-alloc`'s heap, keeping the largest number of bytes it ever had in use.
struct CountingHeap {
    heap: LlffHeap,
    peak: AtomicUsize,
    allocations: AtomicUsize,
}

// SAFETY: every call is forwarded to `LlffHeap`, which is a correct allocator; the
// counting only reads its state.
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { self.heap.alloc(layout) };
        self.allocations.fetch_add(1, Ordering::Relaxed);
        self.peak.fetch_max(self.heap.used(), Ordering::Relaxed);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static HEAP: CountingHeap = CountingHeap {
    heap: LlffHeap::empty(),
    peak: AtomicUsize::new(0),
    allocations: AtomicUsize::new(0),
};

/// A static buffer handed out once (the arena of the heap, the working memory).
struct Buffer<T, const N: usize>(UnsafeCell<[MaybeUninit<T>; N]>);
// SAFETY: one thread, and `main` takes each buffer once.
unsafe impl<T, const N: usize> Sync for Buffer<T, N> {}

static HEAP_MEM: Buffer<u8, HEAP_BYTES> =
    Buffer(UnsafeCell::new([MaybeUninit::uninit(); HEAP_BYTES]));
static WORK: Buffer<f32, WORK_VALUES> =
    Buffer(UnsafeCell::new([MaybeUninit::uninit(); WORK_VALUES]));

/// The pattern painted over the free stack.
const PAINT: u32 = 0xA5C3_5A3C;

extern "C" {
    /// Start of the static data in RAM (cortex-m-rt).
    static __sdata: u32;
    /// End of the static data (cortex-m-rt): the stack may grow down to here.
    static __sheap: u32;
    /// The initial stack pointer, the top of RAM (cortex-m-rt).
    static _stack_start: u32;
}

/// Paint the free stack, from the end of static data up to a little below this frame.
#[inline(never)]
fn paint_stack() {
    let bottom = core::ptr::addr_of!(__sheap) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = bottom;
    while p + 256 < sp {
        // SAFETY: between the end of static data and the live stack: unused RAM.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack ever used: from the top of RAM down to the lowest overwritten word.
#[inline(never)]
fn stack_peak() -> usize {
    let bottom = core::ptr::addr_of!(__sheap) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut p = bottom;
    // SAFETY: reads of RAM between the end of static data and the top of the stack.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

#[entry]
fn main() -> ! {
    paint_stack();
    // SAFETY: called once, before any allocation; the arena is ours alone.
    unsafe { HEAP.heap.init(HEAP_MEM.0.get() as usize, HEAP_BYTES) };
    let code = match run() {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(e) => {
            hprintln!("error: {}", e);
            debug::EXIT_FAILURE
        }
    };
    debug::exit(code);
    loop {
        cortex_m::asm::wfi();
    }
}

fn run() -> Result<(), shrink_runtime::RuntimeError> {
    let model = Model::from_bytes(MODEL)?;
    let load_peak = HEAP.peak.load(Ordering::Relaxed);
    let after_load = HEAP.heap.used();
    hprintln!(
        "model {} bytes, input {}, classes {}, working memory {} bytes",
        MODEL.len(),
        INPUT_LEN,
        CLASSES,
        model.working_memory(1)?
    );
    let static_ram = core::ptr::addr_of!(__sheap) as usize - core::ptr::addr_of!(__sdata) as usize;
    hprintln!(
        "static RAM {} bytes, of which heap arena {} and working buffer {}",
        static_ram,
        HEAP_BYTES,
        WORK_VALUES * 4
    );
    // SAFETY: taken once; `f32` has no invalid bit patterns and `forward_in` writes
    // every value before reading it.
    let work: &mut [f32; WORK_VALUES] = unsafe { &mut *WORK.0.get().cast() };
    let mut x = [0.0f32; INPUT_LEN];
    let mut logits = [0.0f32; CLASSES];
    let allocations = HEAP.allocations.load(Ordering::Relaxed);
    for (i, image) in IMAGES.chunks_exact(INPUT_LEN).enumerate() {
        for (v, &p) in x.iter_mut().zip(image) {
            *v = p as f32 / 255.0;
        }
        model.forward_in(&x, 1, work, &mut logits)?;
        let class = (0..CLASSES).fold(0, |b, c| if logits[c] > logits[b] { c } else { b });
        hprint!("image {} class {} logits [", i, class);
        for (c, v) in logits.iter().enumerate() {
            hprint!("{}{:?}", if c == 0 { "" } else { ", " }, v);
        }
        hprintln!("]");
    }
    hprintln!(
        "heap peak {} bytes during load, {} in use after it, {} allocations while running; stack peak {} bytes",
        load_peak,
        after_load,
        HEAP.allocations.load(Ordering::Relaxed) - allocations,
        stack_peak()
    );
    Ok(())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
