//! Progress bars on stderr (indicatif), with rate and ETA: the binary's
//! [`Reporter`](shrink_core::train::progress::Reporter) for the library's loops. Hidden
//! when stderr is not a terminal.
//!
//! Not here: what is counted (the library's loops call `train::progress::bar`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shrink_core::train::progress::{Bar, Reporter};

/// indicatif bars on stderr.
pub struct StderrBars;

struct Indicatif(ProgressBar);

impl Bar for Indicatif {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn set_position(&self, pos: u64) {
        self.0.set_position(pos);
    }
    fn set_message(&self, msg: String) {
        self.0.set_message(msg);
    }
    fn finish_and_clear(&self) {
        self.0.finish_and_clear();
    }
}

impl Reporter for StderrBars {
    fn bar(&self, len: u64, prefix: &str) -> Box<dyn Bar> {
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_prefix(prefix.to_string());
        Box::new(Indicatif(pb))
    }
}
