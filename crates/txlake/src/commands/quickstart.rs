//! `txlake quickstart`: init + sync of the sample world + a first query, in one command.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use txlake_engine::{Grain, MetricRequest};
use txlake_sync::TxlakeConfig;

use crate::cli::OutputFormat;
use crate::commands::{init, query, sync};

/// The scorecard columns a newcomer sees first.
const HEADLINES: [&str; 8] = [
    "nps",
    "csat_pct",
    "ces_mean",
    "enps",
    "customer_churn_pct",
    "employee_attrition_pct",
    "avg_customer_ltv",
    "avg_employee_ltv",
];

/// Sets up `dir` (keeping an existing config), syncs it and prints a first result.
pub async fn run(dir: &Path, quiet: bool) -> anyhow::Result<ExitCode> {
    let config_path = dir.join("txlake.toml");
    if config_path.exists() {
        println!("Using the existing {}", config_path.display());
    } else {
        init::write_config(dir, false)?;
        println!("Wrote {}", config_path.display());
    }
    println!("Syncing the sample TX world into {} …", dir.join("lake").display());
    let code = sync::run(&config_path, &[], false, quiet).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let config = TxlakeConfig::load(&config_path)?;
    let engine = query::open_engine(&config).await?;
    let request = MetricRequest { grain: Some(Grain::Quarter), ..Default::default() };
    let columns: Vec<&str> = std::iter::once("period").chain(HEADLINES).collect();
    let batches = engine
        .metric("tx_scorecard", &request)
        .await?
        .select_columns(&columns)?
        .collect()
        .await
        .context("computing the TX scorecard")?;
    println!();
    println!("Total Experience scorecard by quarter (txlake metrics show tx_scorecard --grain quarter):");
    print!("{}", query::render(&batches, OutputFormat::Table)?);
    let shown = config_path.display();
    println!();
    println!("Try next:");
    println!("  txlake metrics list --config {shown}");
    println!("  txlake metrics show --config {shown} nps --group-by segment --grain month");
    println!("  txlake query --config {shown} \"SELECT segment, count(*) FROM tx.customers GROUP BY segment\"");
    println!("  txlake connectors discover --config {shown} demo");
    println!("  txlake runs --config {shown}");
    Ok(ExitCode::SUCCESS)
}
