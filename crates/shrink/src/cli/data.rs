//! `shrink data check PATH`: load a data set with full validation and summarise it.

use super::print_json;
use anyhow::Result;
use shrink_core::workflow;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Validate and summarise a data set (`mnist` or a path).
    #[command(after_help = "Example:\n  shrink data check mnist")]
    Check {
        path: String,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(c: Cmd) -> Result<()> {
    match c {
        Cmd::Check { path, label, json } => {
            let src = workflow::load_data(&path, label)?;
            if json {
                print_json(&src.summary_json())
            } else {
                println!("{}", shrink_data::describe(&src));
                Ok(())
            }
        }
    }
}
