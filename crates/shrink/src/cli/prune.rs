//! `shrink prune MODEL --data D --out DIR`: magnitude pruning with retraining, and
//! `--sensitivity` to scan accuracy against sparsity per layer first.

use super::compress_flags::PruneFlags;
use super::print_json;
use anyhow::Result;
use shrink_core::batch::Batcher;
use shrink_core::compress::{fold, prune_stage, sensitivity_scan, CompressConfig, Stage};
use shrink_core::device::parse_device;
use shrink_core::model::io::{load_model, read_spec_file, save_model_with, SPEC_FILE};
use shrink_core::model::params::ParamTable;
use shrink_core::train::TrainConfig;
use shrink_core::workflow;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  shrink prune runs/lenet-5 --data mnist --out runs/lenet-5-pruned --keep layers.5.weight=0.08\n  shrink prune runs/lenet-5 --data mnist --out runs/lenet-5-scan --sensitivity"
)]
pub struct Args {
    /// A trained model directory.
    pub model: PathBuf,
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub label: Option<String>,
    /// Output model directory (pruned weights are exact zeros in model.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub prune: PruneFlags,
    /// Only scan: accuracy when each layer alone is pruned to 100…2% (no retraining).
    #[arg(long)]
    pub sensitivity: bool,
    #[arg(long, default_value = "flex")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    let file = read_spec_file(&a.model.join(SPEC_FILE))?;
    let mut tcfg = TrainConfig::from_table(file.train.as_ref())?;
    let mut cfg = CompressConfig::from_table(file.compress.as_ref())?;
    a.prune.apply(&mut cfg);
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
    let (fspec, ftable, _) = fold::fold_batch_norm(&spec, &ParamTable::from_net(&net)?)?;
    std::fs::create_dir_all(&a.out)?;
    if a.sensitivity {
        let keeps = [1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02];
        let points = sensitivity_scan(&fspec, &ftable, &data, &device, &keeps)?;
        shrink_core::model::io::write_atomic(
            &a.out.join("sensitivity.json"),
            serde_json::to_string_pretty(&points)?.as_bytes(),
        )?;
        if a.json {
            return print_json(&points);
        }
        print!("{:<20}", "layer \\ kept");
        for k in keeps {
            print!(" {:>6.0}%", 100.0 * k);
        }
        println!();
        for chunk in points.chunks(keeps.len()) {
            print!("{:<20}", chunk[0].layer);
            for p in chunk {
                print!(" {:>6.2}%", 100.0 * p.accuracy);
            }
            println!();
        }
        return Ok(());
    }
    let stage = Stage {
        train_cfg: &tcfg,
        cfg: &cfg,
        data: &data,
        device: &device,
        quiet: a.quiet,
    };
    let (pspec, ptable) = prune_stage(&stage, &fspec, &ftable)?;
    let mut pnet = shrink_core::model::Net::new(&pspec, &device)?;
    ptable.load_into(&mut pnet)?;
    let mut extra = toml::Table::new();
    extra.insert("train".into(), toml::Value::try_from(&tcfg)?);
    extra.insert("compress".into(), toml::Value::try_from(&cfg)?);
    save_model_with(&a.out, &pspec, &pnet, &extra)?;
    if let Some(schema) = &src.schema {
        shrink_core::tables::save_table(&a.out, schema)?;
    }
    let before = workflow::evaluate(&spec, &net, &src, &device, "dense")?;
    let after = workflow::evaluate(&pspec, &pnet, &src, &device, "pruned")?;
    let layers: Vec<_> = shrink_core::compress::weight_names(&pspec, &device)?
        .into_iter()
        .filter_map(|n| {
            ptable.get(&n).map(|p| {
                (
                    n,
                    p.data.len(),
                    p.data.iter().filter(|v| **v != 0.0).count(),
                )
            })
        })
        .collect();
    let kept: usize = layers.iter().map(|l| l.2).sum();
    let total: usize = layers.iter().map(|l| l.1).sum();
    if a.json {
        return print_json(&serde_json::json!({
            "model": a.out, "test_error_dense": before.test_error, "test_error": after.test_error,
            "n": after.n, "kept_percent": 100.0 * kept as f64 / total.max(1) as f64,
            "layers": layers.iter().map(|(n, t, k)| serde_json::json!({"name": n, "weights": t, "kept": k})).collect::<Vec<_>>(),
        }));
    }
    for (n, t, k) in &layers {
        println!(
            "{n:<22} {t:>8} weights, {:>5.1}% kept",
            100.0 * *k as f64 / *t as f64
        );
    }
    println!(
        "kept {:.1}% of weights ({}x fewer); test error {:.2}% -> {:.2}% -> {}",
        100.0 * kept as f64 / total.max(1) as f64,
        total / kept.max(1),
        100.0 * before.test_error,
        100.0 * after.test_error,
        a.out.display()
    );
    Ok(())
}
