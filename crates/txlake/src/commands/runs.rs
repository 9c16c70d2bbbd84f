//! `txlake runs`: the run history.

use std::process::ExitCode;

use txlake_lake::SyncRuns;

use crate::commands::text_table;

/// Prints the newest `limit` stream runs.
pub async fn run(config: &crate::cli::ConfigArg, limit: usize) -> anyhow::Result<ExitCode> {
    let config = config.load()?;
    let lake = config.open_lake()?;
    let runs = SyncRuns::new(&lake).list().await?;
    if runs.is_empty() {
        println!("no sync has run yet; run `txlake sync`");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .take(limit)
        .map(|r| {
            vec![
                r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.connection.clone(),
                r.stream.clone(),
                r.status.to_string(),
                r.records.to_string(),
                r.warnings.to_string(),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        text_table(&["started (UTC)", "connection", "stream", "status", "records", "warnings", "error"], &rows)
    );
    Ok(ExitCode::SUCCESS)
}
