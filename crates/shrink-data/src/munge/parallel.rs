//! A small work queue on `std::thread::scope`: numbered jobs, results in job
//! order, progress reported on the calling thread (so the caller's callback
//! need not be `Sync`). Results never depend on the number of threads, only
//! on the job number.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs `work(0..jobs)` on up to `threads` threads (at least one) and returns
/// the results in job order. `work` returns its result and a count of work
/// units; `progress(units)` runs on the calling thread as each job finishes.
pub(crate) fn run_jobs<R: Send>(
    jobs: usize,
    threads: usize,
    work: impl Fn(usize) -> (R, usize) + Sync,
    mut progress: impl FnMut(usize),
) -> Vec<R> {
    let mut out: Vec<Option<R>> = (0..jobs).map(|_| None).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..threads.clamp(1, jobs.max(1)) {
            let (tx, next, work) = (tx.clone(), &next, &work);
            s.spawn(move || loop {
                let job = next.fetch_add(1, Ordering::Relaxed);
                if job >= jobs {
                    break;
                }
                let (r, units) = work(job);
                if tx.send((job, r, units)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Ends when every worker has finished (or panicked: the scope re-raises).
        for (job, r, units) in rx {
            out[job] = Some(r);
            progress(units);
        }
    });
    out.into_iter()
        .map(|r| r.expect("every job ran (a worker panic is re-raised by the scope)"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_in_job_order_with_progress() {
        for threads in [1, 2, 7] {
            let mut units = 0;
            let mut calls = 0;
            let r = run_jobs(
                10,
                threads,
                |j| (j * j, j),
                |u| {
                    units += u;
                    calls += 1;
                },
            );
            assert_eq!(r, (0..10).map(|j| j * j).collect::<Vec<_>>());
            assert_eq!((units, calls), (45, 10));
        }
        assert!(run_jobs(0, 4, |j| (j, 1), |_| {}).is_empty());
    }
}
