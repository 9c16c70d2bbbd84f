//! `txlake quickstart`: init + sync of the sample world + a first query, in one command.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use txlake_sync::TxlakeConfig;

use crate::cli::OutputFormat;
use crate::commands::{init, query, sync};

/// The first query a newcomer sees.
const SURVEY_OVERVIEW: &str = include_str!("../../../../sql/quickstart/survey_overview.sql");

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
    let batches = query::execute(&config, SURVEY_OVERVIEW).await.context("the quickstart query failed")?;
    println!();
    println!("Survey answers in the lake:");
    print!("{}", query::render(&batches, OutputFormat::Table)?);
    let shown = config_path.display();
    println!();
    println!("Try next:");
    println!("  txlake query --config {shown} \"SELECT segment, count(*) FROM demo.customers GROUP BY segment\"");
    println!("  txlake connectors discover --config {shown} demo");
    println!("  txlake runs --config {shown}");
    Ok(ExitCode::SUCCESS)
}
