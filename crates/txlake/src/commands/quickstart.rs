//! `txlake quickstart`: init + sync of the sample world + the TX scorecard + the API, in one
//! command.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use txlake_engine::{Grain, MetricRequest};
use txlake_sync::TxlakeConfig;

use crate::cli::OutputFormat;
use crate::commands::{init, query, serve, sync};

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

/// Sets up `dir` (keeping an existing config), syncs it, prints a first result and, with
/// `listen`, serves the API there.
pub async fn run(dir: &Path, listen: Option<&str>, quiet: bool) -> anyhow::Result<ExitCode> {
    let config_path = dir.join("txlake.toml");
    if config_path.exists() {
        println!("Using the existing {}", config_path.display());
    } else {
        init::write_config(dir, false)?;
        println!("Wrote {}", config_path.display());
    }
    println!("Syncing the sample TX world into {} …", dir.join("lake").display());
    let code = sync::run(&crate::cli::ConfigArg::file(&config_path), &[], false, quiet).await?;
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
    let shown = config_path.display().to_string();
    println!();
    println!("Try next:");
    println!("  txlake metrics list --config {shown}");
    println!("  txlake metrics show --config {shown} nps --group-by segment --grain month");
    println!("  txlake query --config {shown} \"SELECT segment, count(*) FROM tx.customers GROUP BY segment\"");
    let Some(listen) = listen else {
        println!(
            "  txlake serve --config {shown}    # the REST API, and the OData feed at /odata for Power BI / Excel"
        );
        return Ok(ExitCode::SUCCESS);
    };
    let banner = |address: std::net::SocketAddr| {
        let base = format!("http://{address}");
        println!();
        println!("The txlake API is up (local mode: no API keys, so only this machine can reach it). Open:");
        println!("  {base}/                                            the TX console: scorecard, trends, journey map, CX × EX, connections");
        println!("  {base}/docs                                        interactive API reference (served by txlake itself, works offline)");
        println!("  {base}/api/v1/metrics                              the metric catalog");
        println!("  {base}/api/v1/metrics/nps?group_by=segment         NPS by segment (JSON)");
        println!("  {base}/api/v1/metrics/nps?group_by=segment&format=csv    … as CSV (Power BI: Get data → Web)");
        println!("  {base}/api/v1/metrics/tx_scorecard?grain=quarter   the TX scorecard by quarter");
        println!(
            "  {base}/odata                                       OData feed for Power BI / Excel (Get data → OData feed)"
        );
        println!("  curl -s '{base}/api/v1/metrics/csat?group_by=touchpoint&order_by=-csat'");
        println!("Ctrl-C stops it; `txlake serve --config {shown}` starts it again.");
    };
    serve::serve(config, Some(listen), Some(&banner)).await
}
