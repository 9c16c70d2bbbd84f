//! `txlake sync`: run connections into the lake and print what happened.

use std::process::ExitCode;

use anyhow::bail;
use txlake_lake::RunStatus;
use txlake_sync::{StopHandle, SyncOptions, SyncReport, sync_connection};

use crate::progress::SyncProgress;

/// Syncs the named connections (all when empty).
pub async fn run(
    config_arg: &crate::cli::ConfigArg,
    connections: &[String],
    full_refresh: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let config_path = config_arg.config.as_path();
    let config = config_arg.load()?;
    let names: Vec<String> = if connections.is_empty() {
        config.connections.keys().cloned().collect()
    } else {
        for name in connections {
            config.connection(name)?;
        }
        connections.to_vec()
    };
    if names.is_empty() {
        bail!("{} has no connections; add a [connections.NAME] table (see `txlake init`)", config_path.display());
    }
    let lake = config.open_lake()?;
    let registry = config.registry()?;
    let options = SyncOptions { full_refresh, policy: config.sync.clone(), stop: StopHandle::new(), run_id: None };
    listen_for_stop(options.stop.clone());

    let mut reports = Vec::new();
    let mut ok = true;
    for name in &names {
        let progress = SyncProgress::new(name, quiet);
        let result = sync_connection(&lake, &registry, name, config.connection(name)?, &options, &progress).await;
        progress.finish();
        match result {
            Ok(report) => {
                ok &= report.status == RunStatus::Succeeded;
                reports.push(report);
            }
            Err(e) => {
                ok = false;
                eprintln!("error: {e}");
            }
        }
        if options.stop.requests() > 0 {
            break;
        }
    }
    print_summary(&reports);
    for report in &reports {
        if let Some(error) = &report.error {
            eprintln!("error: sync of `{}` failed: {error}", report.connection);
            eprintln!("       the tables keep their last commit; the next `txlake sync` resumes from there");
        }
    }
    let cancelled = reports.iter().any(|r| r.status == RunStatus::Cancelled);
    Ok(if cancelled {
        eprintln!("stopped: each stream committed up to its last checkpoint; run `txlake sync` again to continue");
        // 128 + SIGINT, as shells report an interrupted command.
        ExitCode::from(130)
    } else if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--import-airbyte-state FILE`: imports Airbyte's state into the one connection named (or
/// the only one configured) and says what each stream got; the sync follows.
pub async fn import_airbyte_state(
    config_arg: &crate::cli::ConfigArg,
    connections: &[String],
    file: &std::path::Path,
    force: bool,
) -> anyhow::Result<()> {
    let config = config_arg.load()?;
    let name = match connections {
        [name] => name.clone(),
        [] if config.connections.len() == 1 => config.connections.keys().next().cloned().unwrap_or_default(),
        [] => bail!(
            "--import-airbyte-state imports into one connection: name it (configured: {})",
            config.connections.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        _ => bail!("--import-airbyte-state imports into one connection; {} were named", connections.len()),
    };
    let connection = config.connection(&name)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read the Airbyte state file {}: {e}", file.display()))?;
    let state = txlake_sync::AirbyteState::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let lake = config.open_lake()?;
    let registry = config.registry()?;
    let report = txlake_sync::import_airbyte_state(&lake, &registry, &name, connection, &state, force)
        .await
        .map_err(|e| anyhow::anyhow!("importing {} into `{name}`: {e}", file.display()))?;
    let how = if report.airbyte_process {
        "kept in Airbyte's format for the airbyte: source"
    } else {
        "converted to the declarative engine's cursor"
    };
    eprintln!("imported the {} Airbyte state from {} into `{name}` ({how}):", report.form, file.display());
    for stream in &report.streams {
        let replaced = if report.replaced.contains(&stream.stream) { ", replacing its state" } else { "" };
        eprintln!("  {name}.{}: {} (version {}{replaced})", stream.stream, stream.state, stream.version);
    }
    Ok(())
}

/// Ctrl-C and SIGTERM ask the sync to stop at the next checkpoint; a second one aborts.
pub fn listen_for_stop(stop: StopHandle) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let terminated = async {
                match terminate.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let terminated = std::future::pending::<Option<()>>();
            tokio::select! {
                result = tokio::signal::ctrl_c() => if result.is_err() { return },
                _ = terminated => {}
            }
            stop.request_stop();
        }
    });
}

fn print_summary(reports: &[SyncReport]) {
    let mut rows = Vec::new();
    for report in reports {
        for stream in &report.streams {
            let seconds = (stream.finished_at - stream.started_at).num_milliseconds() as f64 / 1000.0;
            rows.push(vec![
                report.connection.clone(),
                stream.stream.clone(),
                stream.mode.clone(),
                stream.status.to_string(),
                stream.records.to_string(),
                stream.commits.to_string(),
                stream.warnings.to_string(),
                format!("{seconds:.1}"),
            ]);
        }
    }
    if !rows.is_empty() {
        print!(
            "{}",
            crate::commands::text_table(
                &["connection", "stream", "mode", "status", "records", "commits", "warnings", "seconds"],
                &rows
            )
        );
    }
}
