//! `shrink compress SPEC|MODEL --data D --out DIR`: the Deep Compression pipeline.

pub use super::compress_args::Args;
use super::print_json;
use anyhow::Result;
use shrink_core::compress::{compress, render_table, Job};
use shrink_core::device::parse_device;
use shrink_core::spec_file::SpecFile;
use std::path::Path;

pub fn run(a: Args) -> Result<()> {
    shrink_core::model::io::check_run_dir(
        &a.out,
        a.resume || a.replace,
        &["base", "pruned", "model.shrk", "report.json"],
    )?;
    let is_dir = a.model.is_dir();
    let file = SpecFile::of_model(&a.model)?;
    let (mut tcfg, mut cfg) = (file.train, file.compress);
    if let Some(v) = a.epochs {
        tcfg.epochs = v;
    }
    if let Some(v) = a.seed {
        tcfg.seed = v;
    }
    a.prune.overrides().apply(&mut cfg);
    a.quantize.overrides().apply(&mut cfg);
    a.budget.apply(&mut cfg);
    let device = parse_device(&a.device)?;
    if a.one_shot {
        let base = is_dir.then_some(a.model.as_path());
        let r = shrink_core::compress::oneshot::one_shot(
            file.spec, base, &cfg, tcfg.seed, &a.out, &a.batches, &device, a.quiet,
        )?;
        return if a.json {
            print_json(&r)
        } else {
            print!("{}", shrink_core::compress::oneshot::render(&r));
            Ok(())
        };
    }
    let data = a.data.as_deref().unwrap_or_default();
    // A trained model's table encoding; a spec is trained on the data's own.
    let table = if is_dir {
        shrink_core::tables::dir_table(&a.model)?
    } else {
        None
    };
    let src = shrink_core::tables::load_data_for(data, a.label.clone(), table.as_ref())?;
    let base: Option<&Path> = is_dir.then_some(a.model.as_path());
    let job = Job {
        spec: file.spec,
        base,
        train: &tcfg,
        cfg: &cfg,
        src: &src,
        out: &a.out,
        device: &device,
        resume: a.resume,
        quiet: a.quiet,
    };
    if let Some(budget) = a.budget.budget() {
        return super::compress_budget::run(&budget, job, a.json);
    }
    let report = compress(job)?;
    if a.json {
        print_json(&report)
    } else {
        print!("{}", render_table(&report));
        Ok(())
    }
}
