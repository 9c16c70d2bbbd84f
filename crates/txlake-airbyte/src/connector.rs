//! [`AirbyteConnector`]: the txlake [`Connector`] over one Airbyte source program.

use std::ffi::OsStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use txlake_connector::{Catalog, Connector, ConnectorError, MessageStream, ReadRequest, Result, Spec};

use crate::batch::{Batches, DEFAULT_BATCH_ROWS};
use crate::catalog::{self, AirbyteStream};
use crate::command::CommandLine;
use crate::files::ProtocolFiles;
use crate::process::{Process, run_to_end};
use crate::state::{self, Checkpoints};

/// The scheme of connector names this crate resolves: `airbyte:<command>`.
pub const SCHEME: &str = "airbyte";

/// A source program speaking the Airbyte protocol, as a txlake connector named
/// `airbyte:<command>`.
///
/// Its spec is asked for once, when it is made ([`AirbyteConnector::new`]); every other
/// operation starts the program again with its verb.
pub struct AirbyteConnector {
    name: String,
    description: String,
    command: CommandLine,
    spec: Spec,
    batch_rows: usize,
    /// The streams of the last discover, with the configuration they were discovered with:
    /// a sync discovers and then reads, and the read sends those streams back.
    discovered: Mutex<Option<(Value, Arc<Vec<AirbyteStream>>)>>,
}

impl std::fmt::Debug for AirbyteConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AirbyteConnector").field("command", &self.command).finish_non_exhaustive()
    }
}

impl AirbyteConnector {
    /// Runs `<command> spec` and makes the connector. Fails, naming the command, when the
    /// program cannot start, exits non-zero, or prints no `SPEC` message.
    pub async fn new(command: &str) -> Result<Self> {
        let command = CommandLine::parse(command)?;
        let (mut answers, exit) = run_to_end(&command, "spec", &[] as &[&str]).await?;
        if !exit.success() {
            return Err(exit.failure("failed, so the Airbyte source has no spec", &answers.trace_errors));
        }
        let Some(spec) = answers.specs.pop() else {
            return Err(exit.failure(
                "printed no SPEC message; is it an Airbyte source? (it must print JSON lines like {\"type\":\"SPEC\",…})",
                &answers.trace_errors,
            ));
        };
        let title = spec.connection_specification.get("title").and_then(Value::as_str).map(str::to_string);
        let description = match title {
            Some(title) => format!("Airbyte source `{command}`: {title}"),
            None => format!("Airbyte source `{command}`"),
        };
        let mut config_schema = spec.connection_specification;
        mark_secrets(&mut config_schema);
        Ok(Self {
            name: format!("{SCHEME}:{command}"),
            description,
            command,
            spec: Spec { config_schema, documentation: spec.documentation_url },
            batch_rows: DEFAULT_BATCH_ROWS,
            discovered: Mutex::new(None),
        })
    }

    /// Records per Arrow batch (default 8192); a `STATE` message flushes a batch sooner.
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// The command line the connector runs.
    pub fn command(&self) -> &CommandLine {
        &self.command
    }

    /// Runs `discover` and keeps its streams for the next read with this configuration.
    async fn discover_streams(&self, config: &Value) -> Result<Arc<Vec<AirbyteStream>>> {
        let files = ProtocolFiles::new()?;
        let config_path = files.write("config.json", config)?;
        let (answers, exit) =
            run_to_end(&self.command, "discover", &[OsStr::new("--config"), config_path.as_os_str()]).await?;
        if !exit.success() {
            return Err(exit.failure("failed", &answers.trace_errors));
        }
        let Some(found) = answers.catalogs.last() else {
            return Err(exit.failure("printed no CATALOG message", &answers.trace_errors));
        };
        let streams = Arc::new(catalog::parse_catalog(found)?);
        *self.discovered.lock().unwrap_or_else(|p| p.into_inner()) = Some((config.clone(), streams.clone()));
        Ok(streams)
    }

    /// The streams discovered with `config`, discovering again if the configuration differs.
    async fn streams_for(&self, config: &Value) -> Result<Arc<Vec<AirbyteStream>>> {
        let cached = self
            .discovered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(with, _)| with == config)
            .map(|(_, streams)| streams.clone());
        match cached {
            Some(streams) => Ok(streams),
            None => self.discover_streams(config).await,
        }
    }
}

#[async_trait]
impl Connector for AirbyteConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn spec(&self) -> Spec {
        self.spec.clone()
    }

    async fn check(&self, config: &Value) -> Result<()> {
        let files = ProtocolFiles::new()?;
        let config_path = files.write("config.json", config)?;
        let (answers, exit) =
            run_to_end(&self.command, "check", &[OsStr::new("--config"), config_path.as_os_str()]).await?;
        match answers.statuses.last() {
            Some(status) if status.status == "SUCCEEDED" && exit.success() => Ok(()),
            Some(status) if status.status == "FAILED" => {
                let message = status.message.clone().unwrap_or_else(|| "no reason given".into());
                Err(check_failed(&self.command, &message))
            }
            Some(_) => Err(exit.failure("failed", &answers.trace_errors)),
            None if exit.success() => Err(exit.failure("printed no CONNECTION_STATUS message", &answers.trace_errors)),
            None => Err(exit.failure("failed", &answers.trace_errors)),
        }
    }

    async fn discover(&self, config: &Value) -> Result<Catalog> {
        let streams = self.discover_streams(config).await?;
        catalog::to_catalog(&streams)
    }

    async fn read(&self, request: ReadRequest) -> Result<MessageStream> {
        let streams = self.streams_for(&request.config).await?;
        let catalog_file = catalog::configured_catalog(&request.catalog, &streams)?;
        let (state_file, next_seq) = state::state_file(&request.state, &streams);

        let files = ProtocolFiles::new()?;
        let mut args = vec![
            "--config".into(),
            files.write("config.json", &request.config)?,
            "--catalog".into(),
            files.write("catalog.json", &catalog_file)?,
        ];
        if let Some(state_file) = state_file {
            args.extend(["--state".into(), files.write("state.json", &state_file)?]);
        }
        let batches = Batches::new(
            request.catalog.streams.iter().map(|s| (s.stream.name.as_str(), s.stream.schema.clone())),
            self.batch_rows,
        )?;
        let process = Process::start(&self.command, "read", &args)?;
        Ok(crate::read::spawn(process, files, batches, Checkpoints::new(next_seq)))
    }
}

/// A `FAILED` connection status: credentials problems are [`ConnectorError::Auth`], the rest
/// [`ConnectorError::Source`].
fn check_failed(command: &CommandLine, message: &str) -> ConnectorError {
    const AUTH_WORDS: [&str; 12] = [
        "auth",
        "credential",
        "401",
        "403",
        "unauthori",
        "forbidden",
        "api key",
        "api_key",
        "token",
        "password",
        "permission",
        "access denied",
    ];
    let lower = message.to_lowercase();
    let text = format!("{message} (`{command} check`)");
    if AUTH_WORDS.iter().any(|w| lower.contains(w)) {
        ConnectorError::Auth(text)
    } else {
        ConnectorError::Source(format!("check failed: {text}"))
    }
}

/// Airbyte marks secrets `"airbyte_secret": true`; txlake masks fields marked
/// `"x-secret": true`.
fn mark_secrets(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("airbyte_secret").and_then(Value::as_bool) == Some(true) {
                map.insert("x-secret".into(), Value::Bool(true));
            }
            map.values_mut().for_each(mark_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(mark_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn airbyte_secrets_are_marked_for_masking() {
        let mut schema = json!({"properties": {
            "api_key": {"type": "string", "airbyte_secret": true},
            "auth": {"oneOf": [{"properties": {"password": {"type": "string", "airbyte_secret": true}}}]},
            "region": {"type": "string"}
        }});
        mark_secrets(&mut schema);
        let spec = Spec { config_schema: schema.clone(), documentation: None };
        assert_eq!(spec.secret_fields(), ["api_key"]);
        assert_eq!(schema.pointer("/properties/auth/oneOf/0/properties/password/x-secret"), Some(&json!(true)));
        assert!(schema.pointer("/properties/region/x-secret").is_none());
    }

    #[test]
    fn failed_checks_tell_credentials_from_other_failures() {
        let command = CommandLine::parse("source-x").unwrap();
        let auth = check_failed(&command, "401 Unauthorized: invalid api_key");
        assert!(matches!(auth, ConnectorError::Auth(_)), "{auth}");
        assert!(auth.to_string().contains("source-x check"), "{auth}");
        let other = check_failed(&command, "cannot reach db.example.com:5432");
        assert!(matches!(other, ConnectorError::Source(_)), "{other}");
    }
}
