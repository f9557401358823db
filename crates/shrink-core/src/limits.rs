//! The limits every command applies to specs and `.shrk` files (parameters, activation
//! size, working memory per batch, multiply-adds per example, layer count, spec bytes):
//! [`shrink_format::Limits::DEFAULT`] unless the command line raised them
//! (`--max-params`, `--max-macs`, …: the binary's `cli/limits.rs`). Set once at start-up, read
//! wherever a spec or a model file is opened.
//!
//! Not here: the flags (the `shrink` binary), the checks themselves (`ModelSpec::check` in shrink-format, the runtime's
//! loader), data-file bounds (`shrink-data`).

use shrink_format::Limits;
use std::sync::OnceLock;

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// The limits in force: those set by [`set`], else the defaults.
pub fn get() -> Limits {
    LIMITS.get().copied().unwrap_or(Limits::DEFAULT)
}

/// Set the process's limits (the first call wins; later calls are ignored).
pub fn set(limits: Limits) {
    let _ = LIMITS.set(limits);
}

/// The [`Limits`] field names, as limit errors name them; each has a flag of the same
/// name (`max_params` → `--max-params`).
pub const LIMIT_NAMES: [&str; 6] = [
    "max_params",
    "max_macs",
    "max_batch_bytes",
    "max_activation",
    "max_layers",
    "max_spec_bytes",
];

/// `e` with, when it is a limit error (it names its limit, e.g. "(max_params)"), the
/// flag that raises that limit added: "…; raise it with --max-params". Other errors are
/// given back as they are.
pub fn with_flag_hint(e: anyhow::Error) -> anyhow::Error {
    let msg = format!("{e:#}");
    match LIMIT_NAMES.iter().find(|n| msg.contains(&format!("({n})"))) {
        Some(n) => anyhow::anyhow!("{msg}; raise it with --{}", n.replace('_', "-")),
        None => e,
    }
}
