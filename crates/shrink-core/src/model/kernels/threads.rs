//! The training thread as one of the rayon pool's threads.
//!
//! Burn's Flex backend runs its parallel loops on rayon's global pool. By default that
//! pool has `RAYON_NUM_THREADS` threads of its own *besides* the thread that trains: at
//! 2 threads on 2 cores, three threads, and after each parallel loop the two idle pool
//! threads spin (`sched_yield`) for a while on the cores the training thread needs for the
//! sequential work in between (element-wise ops, the optimiser, autodiff). For
//! LeNet-300-100 at batch 64 that made the 2-thread step slower than the 1-thread one
//! (issue 12; `perf record -e sched:sched_switch` showed 80% of the switches as the two
//! pool threads yielding to each other). [`share_calling_thread`] builds the global pool
//! with the calling thread as its thread 0 (`use_current_thread`), so N threads are N.
//!
//! Only from 2 threads up: a pool of one thread that is the calling thread runs jobs
//! other threads hand it (a data-parallel replica's Flex ops, `train::parallel`) only
//! while the calling thread is itself inside a parallel loop, so it could wait forever on
//! a replica waiting on it. From 2 up, the other pool threads take those jobs. Sums are
//! split by the kernels over outputs only, so the weights do not depend on this.
//!
//! Not here: the thread count itself (`RAYON_NUM_THREADS`, set by `--threads`).

/// Build rayon's global pool with the calling thread as one of its threads, when the
/// pool is to have 2 threads or more (`RAYON_NUM_THREADS`, else the cores available) and
/// has not been built yet. Call once, from the thread that will run the training, before
/// any Burn call. Returns whether it did.
pub fn share_calling_thread() -> bool {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    threads >= 2
        && rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .build_global()
            .is_ok()
}
