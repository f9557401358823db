//! `shrink compress MODEL --data D --out DIR --max-error E | --max-error-increase D |
//! --max-bytes N`: compression to a budget (the library's `compress::budget`), with the
//! per-layer kept fractions and bits chosen by the pipeline. Exit status 1, with one
//! line naming the closest attempt, when the budget cannot be met.
//!
//! Not here: the search itself (`shrink_core::compress::budget`).

use super::print_json;
use anyhow::{bail, Result};
use shrink_core::compress::budget::{compress_to_budget, parse_error, render, Budget};
use shrink_core::compress::{CompressConfig, Job};

fn error_arg(s: &str) -> Result<f64, String> {
    parse_error(s).map_err(|e| format!("{e:#}"))
}

/// The budget flags of `shrink compress`.
#[derive(clap::Args, Default)]
pub struct BudgetFlags {
    /// Budget: most validation error of the written .shrk (run by shrink-runtime), as a
    /// fraction (0.008) or a percentage (0.8%); the pipeline chooses each layer's kept
    /// fraction and bits (sensitivity scans, a greedy search, whole runs checked on the
    /// file). The test error is reported, never used to decide.
    #[arg(long, value_parser = error_arg, conflicts_with = "one_shot")]
    pub max_error: Option<f64>,
    /// Budget: most validation error over the dense model's (0.002 or 0.2%).
    #[arg(long, value_parser = error_arg, conflicts_with = "one_shot")]
    pub max_error_increase: Option<f64>,
    /// Budget: most bytes of the .shrk on disk.
    #[arg(long, conflicts_with = "one_shot")]
    pub max_bytes: Option<u64>,
    /// With a budget: at most this many runs of the whole pipeline.
    #[arg(long, default_value_t = 4)]
    pub budget_rounds: usize,
    /// With a budget: the sensitivity scans measure at most this many validation
    /// examples (0: all); the attempts are judged on all of them.
    #[arg(long, default_value_t = 2000)]
    pub scan_examples: usize,
    /// Retrain after pruning and fine-tune centroids on the labels, not on the outputs
    /// of the model being compressed (`[compress] distill = false`; issue 14 item 4
    /// measures what distillation buys).
    #[arg(long)]
    pub no_distill: bool,
}

impl BudgetFlags {
    /// Apply `--no-distill` to the settings.
    pub fn apply(&self, cfg: &mut CompressConfig) {
        if self.no_distill {
            cfg.distill = false;
        }
    }

    /// The budget asked for, if any.
    pub fn budget(&self) -> Option<Budget> {
        (self.max_error.is_some() || self.max_error_increase.is_some() || self.max_bytes.is_some())
            .then_some(Budget {
                max_error: self.max_error,
                max_error_increase: self.max_error_increase,
                max_bytes: self.max_bytes,
                rounds: self.budget_rounds,
                scan_examples: self.scan_examples,
            })
    }
}

/// Run the budgeted pipeline and print its table (or JSON); an unmet budget is an error.
pub fn run(budget: &Budget, job: Job, json: bool) -> Result<()> {
    let r = compress_to_budget(job, budget)?;
    if json {
        print_json(&r)?;
    } else {
        print!("{}", render(&r));
    }
    if !r.met {
        bail!("{}", r.not_met_line());
    }
    Ok(())
}
