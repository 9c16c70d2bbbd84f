//! `txlake connectors list|spec|check|discover`.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::{Value, json};
use txlake_connector::{Connector, ConnectorError};

use crate::cli::{ConfigArg, ConnectorsCommand};
use crate::commands::text_table;

/// Runs a connectors subcommand.
pub async fn run(command: ConnectorsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectorsCommand::List { config } => {
            let registry = config.registry()?;
            let mut rows: Vec<Vec<String>> =
                registry.iter().map(|c| vec![c.name().to_string(), c.description().to_string()]).collect();
            rows.extend(
                registry.schemes().map(|(scheme, r)| vec![format!("{scheme}:<command>"), r.description().into()]),
            );
            print!("{}", text_table(&["connector", "description"], &rows));
        }
        ConnectorsCommand::New { name, dir } => return scaffold(&name, &dir),
        ConnectorsCommand::Spec { config, connector } => {
            let connector = config.registry()?.resolve(&connector).await?;
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

/// The files `connectors new` writes: (path under the connector's folder, template).
const SCAFFOLD: &[(&str, &str)] = &[
    ("manifest.yaml", include_str!("scaffold/manifest.yaml")),
    ("models/customers.sql", include_str!("scaffold/customers.sql")),
    ("tests/fixtures/items.json", include_str!("scaffold/items.json")),
    ("tests/__NAME__.rs", include_str!("scaffold/fixture_test.rs")),
];

/// Writes a new connector's folder from the templates, refusing to overwrite anything.
fn scaffold(name: &str, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!(
            "`{name}` is not a connector name: start with a lower-case letter and use a-z, 0-9 and _ (it names SQL schemas and folders)"
        );
    }
    let folder = dir.join(name);
    if folder.exists() {
        bail!("{} exists already; choose another name or remove it", folder.display());
    }
    for (path, template) in SCAFFOLD {
        let target = folder.join(path.replace("__NAME__", name));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = template.replace("__NAME__", name).replace("__DIR__", &dir.display().to_string());
        std::fs::write(&target, text)?;
        println!("wrote {}", target.display());
    }
    // The scaffold must load as it is: a template that does not parse is a bug here.
    txlake_connector::DeclarativeConnector::from_manifest(
        &folder.join("manifest.yaml").display().to_string(),
        &std::fs::read_to_string(folder.join("manifest.yaml"))?,
    )?;
    println!(
        "\nnext:\n  1. edit {0}/manifest.yaml for the API (connectors/MANIFEST.md lists every key)\n  2. record real responses into {0}/tests/fixtures/\n  3. map streams onto the canonical views in {0}/models/ (sql/model/*.sql are the contracts)\n  4. txlake connectors discover --connectors-dir {1} {2}",
        folder.display(),
        dir.display(),
        name
    );
    Ok(ExitCode::SUCCESS)
}

/// A connection of the config file, or else a connector name with an empty configuration.
async fn resolve(config: &ConfigArg, target: &str) -> anyhow::Result<(std::sync::Arc<dyn Connector>, Value)> {
    let registry = config.registry()?;
    if config.config.exists() {
        let file = config.load()?;
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
