//! `txlake connectors list|spec|check|discover`.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::{Value, json};
use txlake_connector::{Connector, ConnectorError};
use txlake_sync::TxlakeConfig;
use txlake_sync::connectors::builtin_registry;

use crate::cli::{ConfigArg, ConnectorsCommand};
use crate::commands::text_table;

/// Runs a connectors subcommand.
pub async fn run(command: ConnectorsCommand) -> anyhow::Result<ExitCode> {
    let registry = builtin_registry();
    match command {
        ConnectorsCommand::List => {
            let mut rows: Vec<Vec<String>> =
                registry.iter().map(|c| vec![c.name().to_string(), c.description().to_string()]).collect();
            rows.extend(
                registry.schemes().map(|(scheme, r)| vec![format!("{scheme}:<command>"), r.description().into()]),
            );
            print!("{}", text_table(&["connector", "description"], &rows));
        }
        ConnectorsCommand::Spec { connector } => {
            let connector = registry.resolve(&connector).await?;
            println!("{}", serde_json::to_string_pretty(&connector.spec().config_schema)?);
        }
        ConnectorsCommand::Check { config, target } => {
            let (connector, settings) = resolve(&config, &target).await?;
            connector.spec().validate(connector.name(), &settings)?;
            connector.check(&settings).await?;
            println!("ok: `{target}` ({}) is reachable and its configuration is valid", connector.name());
        }
        ConnectorsCommand::Discover { config, target, json } => {
            let (connector, settings) = resolve(&config, &target).await?;
            connector.spec().validate(connector.name(), &settings)?;
            let catalog = connector.discover(&settings).await?;
            if json {
                let streams: Vec<Value> = catalog
                    .streams
                    .iter()
                    .map(|s| {
                        json!({
                            "name": s.name,
                            "description": s.description,
                            "primary_key": s.primary_key,
                            "cursor_field": s.cursor_field,
                            "sync_modes": s.sync_modes,
                            "default_mode": s.default_mode,
                            "columns": s.schema.fields().iter().map(|f| json!({
                                "name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable()
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&json!({ "streams": streams }))?);
            } else {
                let rows: Vec<Vec<String>> = catalog
                    .streams
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.default_mode.to_string(),
                            s.cursor_field.clone().unwrap_or_else(|| "-".into()),
                            s.primary_key.join(","),
                            s.schema.fields().len().to_string(),
                            s.description.clone(),
                        ]
                    })
                    .collect();
                print!("{}", text_table(&["stream", "default mode", "cursor", "key", "columns", "description"], &rows));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A connection of the config file, or else a connector name with an empty configuration.
async fn resolve(config: &ConfigArg, target: &str) -> anyhow::Result<(std::sync::Arc<dyn Connector>, Value)> {
    let registry = builtin_registry();
    if config.config.exists() {
        let file = TxlakeConfig::load(&config.config)?;
        if let Some(connection) = file.connections.get(target) {
            return Ok((registry.resolve(&connection.connector).await?, connection.config.clone()));
        }
    }
    match registry.resolve(target).await {
        Ok(connector) => Ok((connector, json!({}))),
        // `airbyte:…` that could not start: its own error says what to fix.
        Err(e) if !matches!(e, ConnectorError::UnknownConnector { .. }) => Err(e.into()),
        Err(_) => bail!(
            "`{target}` is neither a connection in {} nor a connector; connectors: {}",
            config.config.display(),
            registry.names().join(", ")
        ),
    }
}
