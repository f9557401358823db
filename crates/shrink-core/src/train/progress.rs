//! Progress of long loops (training epochs, teacher passes, building transfer sets): a
//! [`Progress`] handle that library code counts into, drawn by the [`Reporter`] the
//! program installed with [`set_reporter`] (the `shrink` binary installs indicatif
//! bars with rate and ETA on stderr). Nothing is drawn when no reporter is installed or
//! the caller asked for quiet output (one line per epoch is printed instead).
//!
//! Not here: drawing (the binary's `cli/progress.rs`), the per-epoch lines (`train`).

use std::sync::OnceLock;

/// One drawn bar, as a [`Reporter`] makes it.
pub trait Bar: Send + Sync {
    /// Count `n` more items done.
    fn inc(&self, n: u64);
    /// Change the number of items the bar counts to.
    fn set_length(&self, len: u64);
    /// Set the number of items done.
    fn set_position(&self, pos: u64);
    /// Show a short status after the counts (loss, accuracy, …).
    fn set_message(&self, msg: String);
    /// Remove the bar.
    fn finish_and_clear(&self);
}

/// Makes bars: the observer through which the library's loops show progress.
pub trait Reporter: Send + Sync {
    /// A bar counting `len` items, labelled `prefix`.
    fn bar(&self, len: u64, prefix: &str) -> Box<dyn Bar>;
}

static REPORTER: OnceLock<Box<dyn Reporter>> = OnceLock::new();

/// Install the process's reporter (the first call wins; later calls are ignored).
pub fn set_reporter(reporter: Box<dyn Reporter>) {
    let _ = REPORTER.set(reporter);
}

/// A progress handle: a bar of the installed reporter, or nothing.
pub struct Progress(Option<Box<dyn Bar>>);

impl Progress {
    /// A handle that shows nothing.
    pub fn hidden() -> Self {
        Progress(None)
    }
    /// Count `n` more items done.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
    /// Change the number of items counted to.
    pub fn set_length(&self, len: u64) {
        if let Some(b) = &self.0 {
            b.set_length(len);
        }
    }
    /// Set the number of items done.
    pub fn set_position(&self, pos: u64) {
        if let Some(b) = &self.0 {
            b.set_position(pos);
        }
    }
    /// Show a short status after the counts.
    pub fn set_message(&self, msg: impl Into<String>) {
        if let Some(b) = &self.0 {
            b.set_message(msg.into());
        }
    }
    /// Remove the bar.
    pub fn finish_and_clear(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A bar counting `len` items (images), labelled `prefix`; hidden when `quiet` or when
/// no reporter is installed.
pub fn bar(len: u64, prefix: &str, quiet: bool) -> Progress {
    match REPORTER.get() {
        Some(r) if !quiet => Progress(Some(r.bar(len, prefix))),
        _ => Progress::hidden(),
    }
}
