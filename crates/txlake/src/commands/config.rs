//! `txlake config check`: is this configuration one `txlake sync` and `txlake serve` will
//! accept? Everything that can be checked without reaching a source or the lake is:
//! the file parses and its `${VAR}`s are set, the lake URL, every connection's connector
//! and options (against the connector's spec), the server's listen address and API keys.
//! All problems are listed, not just the first, so one run fixes a rendered Helm config.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::cli::ConfigArg;

/// Checks the configuration file and prints a summary or every problem.
pub async fn check(config_arg: &ConfigArg) -> anyhow::Result<ExitCode> {
    let path = config_arg.config.display().to_string();
    let config = match config_arg.load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{path}: not valid\n  ✗ {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut problems: Vec<String> = Vec::new();
    let mut summary: Vec<String> = Vec::new();

    match config.open_lake() {
        Ok(_) => summary.push(format!("lake {}", config.lake.url)),
        Err(e) => problems.push(format!("lake.url: {e}")),
    }

    match config.registry() {
        Err(e) => problems.push(format!("connectors_dir: {e}")),
        Ok(registry) => {
            for (name, connection) in &config.connections {
                match registry.resolve_validated(&connection.connector, &connection.config).await {
                    Ok(_) => summary.push(format!("connection {name} ({})", connection.connector)),
                    Err(e) => problems.push(format!("connections.{name}: {e}")),
                }
            }
        }
    }
    if config.connections.is_empty() {
        summary.push("no connections".into());
    }
    if !config.connection_models.is_empty() {
        let mut sources = txlake_engine::SqlSources::builtin();
        let loaded = match config.connectors_dir() {
            Some(dir) => sources.add_connectors_dir(&dir).map_err(|e| format!("connectors_dir {}: {e}", dir.display())),
            None => Ok(()),
        };
        match loaded {
            Err(e) => problems.push(e),
            Ok(()) => {
                for (name, folder) in &config.connection_models {
                    match sources.connector_models(folder).count() {
                        0 => problems.push(format!(
                            "connections.{name}.models: no models in `connectors/{folder}/models/*.sql` (built in or in connectors_dir)"
                        )),
                        n => summary.push(format!("connection {name} uses the {n} model(s) of connectors/{folder}")),
                    }
                }
            }
        }
    }

    if let Err(e) = txlake_server::odata::check_page_size(config.server.odata_page_size) {
        problems.push(format!("server.odata_page_size: {e}"));
    }
    if let Err(e) = txlake_server::auth::ApiKeys::new(&config.auth) {
        problems.push(format!("auth.keys: {e}"));
    }
    match config.server.listen.parse::<SocketAddr>() {
        Ok(address) => match txlake_server::check_listen(&address, !config.auth.keys.is_empty()) {
            Ok(()) => summary.push(format!(
                "server {address}, {}",
                match config.auth.keys.len() {
                    0 => "local mode (no API keys)".to_string(),
                    1 => "1 API key".to_string(),
                    n => format!("{n} API keys"),
                }
            )),
            Err(e) => problems.push(format!("server.listen: {e}")),
        },
        // A host name is resolved when the server starts; only its shape is checked here.
        Err(_) if config.server.listen.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) => {
            summary.push(format!("server {}", config.server.listen));
        }
        Err(_) => problems
            .push(format!("server.listen: `{}` is not host:port (for example 0.0.0.0:8080)", config.server.listen)),
    }

    if problems.is_empty() {
        println!("{path}: valid");
        for line in summary {
            println!("  ✓ {line}");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{path}: not valid ({} problem{})", problems.len(), if problems.len() == 1 { "" } else { "s" });
        for problem in problems {
            eprintln!("  ✗ {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}
