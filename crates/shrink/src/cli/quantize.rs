//! `shrink quantize MODEL --data D --out FILE.shrk`: k-means weight sharing with
//! centroid fine-tuning, Huffman-coded into a `.shrk` file (pruned weights, the zeros of
//! the model, stay pruned).

use super::compress_flags::QuantizeFlags;
use super::print_json;
use anyhow::Result;
use shrink_core::batch::{self, Batcher};
use shrink_core::compress::{
    encode_and_report, fold, quantize_stage, render_table, CompressConfig, EncodeInputs, Stage,
};
use shrink_core::device::parse_device;
use shrink_core::model::io::{load_model, read_spec_file, SPEC_FILE};
use shrink_core::model::params::ParamTable;
use shrink_core::train::TrainConfig;
use shrink_core::workflow;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  shrink quantize runs/lenet-5-pruned --data mnist --out lenet-5.shrk --conv-bits 8 --fc-bits 5"
)]
pub struct Args {
    /// A model directory (typically the output of `shrink prune`).
    pub model: PathBuf,
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub label: Option<String>,
    /// The .shrk file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub quantize: QuantizeFlags,
    #[arg(long, default_value = "flex")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    shrink_core::model::io::check_output_file(&a.out, a.force)?;
    let started = Instant::now();
    let file = read_spec_file(&a.model.join(SPEC_FILE))?;
    let mut tcfg = TrainConfig::from_table(file.train.as_ref())?;
    let mut cfg = CompressConfig::from_table(file.compress.as_ref())?;
    a.quantize.apply(&mut cfg);
    cfg.validate()?;
    let device = parse_device(&a.device)?;
    let (spec, net) = load_model(&a.model, &device)?;
    let table = shrink_core::tables::dir_table(&a.model)?;
    let src = shrink_core::tables::load_data_for(&a.data, a.label.clone(), table.as_ref())?;
    workflow::check_fits(&spec, &src)?;
    for n in tcfg.fit_to_input(&src.train.shape) {
        if !a.quiet {
            eprintln!("note: {n}");
        }
    }
    let data = Batcher::new(
        &src.train,
        &src.test,
        spec.normalize.clone(),
        tcfg.val_fraction,
        tcfg.seed,
    );
    let table = ParamTable::from_net(&net)?;
    let before = workflow::evaluate(&spec, &net, &src, &device, "input")?;
    let (fspec, ftable, folded) = fold::fold_batch_norm(&spec, &table)?;
    let stage = Stage {
        train_cfg: &tcfg,
        cfg: &cfg,
        data: &data,
        device: &device,
        quiet: a.quiet,
    };
    let (qtable, quant) = quantize_stage(&stage, &fspec, &ftable)?;
    let mut tuned = shrink_core::model::Net::new(&fspec, &device)?;
    qtable.load_into(&mut tuned)?;
    let tuned_preds = batch::predictions(
        &tuned,
        &src.test,
        &fspec.input,
        fspec.normalize.as_ref(),
        &device,
    );
    let report = encode_and_report(&EncodeInputs {
        shrk_path: &a.out,
        spec: &fspec,
        table: &qtable,
        quant: &quant,
        cfg: &cfg,
        src: &src,
        device: &device,
        dense_name: &spec.name,
        dense_table: &table,
        dense_bytes: 4 * spec.param_count()? as u64,
        test_error_dense: before.test_error,
        test_error_pruned: before.test_error,
        tuned_preds: &tuned_preds,
        folded,
        started,
        quiet: a.quiet,
    })?;
    if a.json {
        print_json(&report)
    } else {
        print!("{}", render_table(&report));
        Ok(())
    }
}
