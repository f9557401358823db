//! `shrink info MODEL|SPEC`: layers, shapes, parameters, bytes.

use super::print_json;
use anyhow::Result;
use shrink_core::info;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  shrink info zoo/lenet-5.toml")]
pub struct Args {
    /// A model directory or a spec file.
    pub model: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    if a.model.extension().is_some_and(|e| e == "shrk") {
        let s = info::shrk_summary(&a.model)?;
        if a.json {
            return print_json(&s.json());
        }
        print!("{}", s.render());
    } else {
        let s = info::spec_summary(&a.model)?;
        if a.json {
            return print_json(&s.json());
        }
        print!("{}", s.render());
    }
    Ok(())
}
