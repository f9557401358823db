//! The `shrink` command line: thin wrappers that parse, call the library, print.

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
}

fn main() -> ExitCode {
    // `shrink info … | head` should end quietly like other Unix tools: restore the
    // default SIGPIPE action (Rust ignores it, turning a closed pipe into a panic).
    #[cfg(target_os = "linux")]
    // SAFETY: SIGPIPE (13) back to SIG_DFL (0) before any thread starts.
    unsafe {
        signal(13, 0);
    }
    // Training reuses freed buffers instead of faulting in fresh pages each step (issue 12).
    shrink_core::model::kernels::keep_freed_memory();
    // A bug must still end in one line, not a backtrace wall.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{loc}: {}",
            msg.lines().next().unwrap_or("")
        );
    }));
    let args = cli::Cli::parse();
    match std::panic::catch_unwind(|| cli::run(args)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(101),
    }
}
