//! The `--max-*` flags every command takes, raising (or lowering) the limits in force
//! (`shrink_core::limits`).
//!
//! Not here: the limits themselves and where they are read (`shrink_core::limits`).

use shrink_format::Limits;

/// Command-line flags that raise (or lower) the limits; every command takes them.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Most learned parameters a model may have.
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.max_params)]
    pub max_params: u64,
    /// Most multiply-adds one example may take.
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.max_macs)]
    pub max_macs: u64,
    /// Most bytes of working memory one batch may use; larger batches are split (run,
    /// eval) or refused (train).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = Limits::DEFAULT.max_batch_bytes)]
    pub max_batch_bytes: u64,
    /// Most values in one layer's activation of one example.
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.max_activation)]
    pub max_activation: u64,
    /// Most layers in a spec, counting nested ones.
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.max_layers)]
    pub max_layers: u64,
    /// Most bytes of spec text.
    #[arg(long, global = true, value_name = "BYTES", default_value_t = Limits::DEFAULT.max_spec_bytes)]
    pub max_spec_bytes: u64,
}

impl LimitArgs {
    /// The limits these flags give.
    pub fn limits(&self) -> Limits {
        Limits {
            max_params: self.max_params,
            max_macs: self.max_macs,
            max_batch_bytes: self.max_batch_bytes,
            max_activation: self.max_activation,
            max_layers: self.max_layers,
            max_spec_bytes: self.max_spec_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_only_what_they_name() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            limits: LimitArgs,
        }
        let l = Cli::parse_from(["x"]).limits.limits();
        assert_eq!(l, Limits::DEFAULT);
        let l = Cli::parse_from(["x", "--max-params", "7"]).limits.limits();
        assert_eq!(l.max_params, 7);
        assert_eq!(
            Limits {
                max_params: Limits::DEFAULT.max_params,
                ..l
            },
            Limits::DEFAULT
        );
    }
}
