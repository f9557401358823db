//! `shrink mimic --teacher T… --student SPEC --data D --transfer KIND --loss KIND --out DIR`:
//! train a small student from a teacher (Ba & Caruana's mimic learning, Hinton's
//! knowledge distillation, Buciluǎ's MUNGE transfer sets).

pub use super::mimic_flags::Args;
use super::print_json;
use anyhow::Result;
use shrink_core::device::parse_device;
use shrink_core::distill::{self, MimicSettings, Teacher, TransferKind, TransferOptions};
use shrink_core::spec_file::SpecFile;
use shrink_core::workflow;
use std::path::PathBuf;

pub fn run(a: Args) -> Result<()> {
    // Cheap checks first: a bad flag must not wait for a teacher to load.
    let transfer = TransferKind::parse(&a.transfer)?;
    let loss = distill::parse_loss(&a.loss, a.temperature, a.alpha)?;
    let file = SpecFile::read(&a.student)?;
    let cfg = file.train.with(&a.train.overrides())?;
    let device = parse_device(&a.device)?;
    let teacher = Teacher::load(&a.teachers, &device)?;
    // The teachers' table encoding, so that they see the features they were trained on.
    let table = shrink_core::tables::teachers_table(&a.teachers)?;
    let src = shrink_core::tables::load_data_for(&a.data, a.label.clone(), table.as_ref())?;
    let name = file.name(&a.student, "student");
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("mimic-{name}")));
    let settings = MimicSettings {
        transfer,
        transfer_options: TransferOptions {
            munge_p: a.munge_p,
            munge_s: a.munge_s,
            seed: a.transfer_seed,
            synthetic_only: a.synthetic_only,
        },
        loss,
        cache_dir: a.cache.clone(),
    };
    let opts = workflow::RunOpts {
        resume: a.resume,
        stop_after: a.stop_after,
        quiet: a.quiet,
        ..Default::default()
    };
    let (r, _, _) = distill::mimic(
        &teacher, file.spec, &cfg, &settings, &src, &out, &device, &opts,
    )?;
    if a.json {
        print_json(&r)?;
    } else {
        println!(
            "{name}: test error {:.2}% ({} parameters) vs teacher {:.2}% ({} parameters); {} on {} ({} examples), {} epochs, {:.0}s -> {}",
            100.0 * r.test_error,
            r.student_params,
            100.0 * r.teacher_test_error,
            r.teacher_params,
            r.loss,
            r.transfer,
            r.transfer_examples,
            r.epochs,
            r.seconds,
            out.display()
        );
    }
    Ok(())
}
