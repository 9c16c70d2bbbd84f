//! The `files` connector: CSV, XLSX, JSON lines, JSON arrays and Parquet files from a local
//! folder, an S3 bucket or one HTTP(S) URL, each configured stream one raw table.
//!
//! Every row carries `_file` (the file's path relative to `url`), `_row` (its 1-based number
//! among the file's data rows, per sheet for workbooks) and `_modified` (the file's
//! modification time). Incremental reads remember each file read: new files are read whole,
//! unchanged ones skipped, CSV/JSONL files that only grew are read on from where the last read
//! stopped, and any other change replaces the file's rows (`Message::ReplaceRows`).
//!
//! Module map: [`config`] (configuration, spec), `source` (local, object store, HTTP),
//! `text` (blocks of whole lines, transcoding), `csv`, `json`, `xlsx`, `parquet` (the format
//! readers), `value` (types, parsing, inference), `names` (header names), `batch` (Arrow
//! builders), `sample` (discover: streams, schemas, score questions), `state` (incremental
//! state, change detection), `read` (the blocking read loop and its channel).

mod batch;
pub mod config;
mod csv;
mod json;
mod names;
mod parquet;
mod read;
mod sample;
mod source;
mod state;
mod text;
mod value;
mod xlsx;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use serde_json::Value;
use tokio::runtime::Handle;
use txlake_connector::{Catalog, ConfigIssue, Connector, ConnectorError, MessageStream, ReadRequest, Result, Spec};

pub use config::FilesConfig;

/// The name connections use: `connector = "files"`.
pub const CONNECTOR_NAME: &str = "files";

/// The `files` connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilesConnector;

impl FilesConnector {
    /// A new connector.
    pub fn new() -> Self {
        FilesConnector
    }
}

/// The source a checked configuration names.
fn location(settings: &config::Settings) -> Result<source::Location> {
    source::Location::parse(&settings.url, &settings.options).map_err(|message| ConnectorError::InvalidConfig {
        connector: CONNECTOR_NAME.to_string(),
        issues: vec![ConfigIssue { path: "config.url".to_string(), message }],
    })
}

/// Discover on the current (blocking) thread.
fn discover_blocking(settings: &config::Settings, location: &source::Location, handle: &Handle) -> Result<Catalog> {
    let targets = sample::all_targets(settings, location, handle)
        .map_err(|(stream, e)| ConnectorError::Source(format!("stream `{stream}`: {e}")))?;
    let mut catalog = Catalog::default();
    for target in &targets {
        let (descriptor, questions) = sample::describe(target, location, handle)
            .map_err(|e| ConnectorError::Source(format!("stream `{}`: {e}", target.name)))?;
        if catalog.stream(&descriptor.name).is_some() {
            return Err(ConnectorError::Source(format!(
                "two streams are named `{}` (stream_per_file names streams <name>_<file stem>); rename a stream or a file",
                descriptor.name
            )));
        }
        catalog.streams.push(descriptor);
        catalog.questions.extend(questions);
    }
    Ok(catalog)
}

/// Runs blocking work (file and network reads) off the async runtime.
async fn blocking<T: Send + 'static>(work: impl FnOnce(&Handle) -> Result<T> + Send + 'static) -> Result<T> {
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || work(&handle))
        .await
        .map_err(|e| ConnectorError::Internal(format!("the files connector's worker failed: {e}")))?
}

#[async_trait]
impl Connector for FilesConnector {
    fn name(&self) -> &str {
        CONNECTOR_NAME
    }

    fn description(&self) -> &str {
        "CSV, XLSX, JSON lines, JSON arrays and Parquet files from a local folder, S3 or an HTTPS URL."
    }

    fn spec(&self) -> Spec {
        FilesConfig::spec()
    }

    async fn check(&self, config: &Value) -> Result<()> {
        let settings = FilesConfig::settings(config)?;
        let location = location(&settings)?;
        blocking(move |handle| {
            let targets = sample::all_targets(&settings, &location, handle)
                .map_err(|(stream, e)| ConnectorError::Source(format!("stream `{stream}`: {e}")))?;
            for configured in &settings.streams {
                let mine: Vec<&sample::Target> =
                    targets.iter().filter(|t| t.settings.name == configured.name).collect();
                let Some(file) = mine.iter().find_map(|t| t.files.first()) else {
                    return Err(ConnectorError::Source(format!(
                        "stream `{}`: no file under {} matches `{}`",
                        configured.name,
                        location.describe(),
                        configured.glob_text
                    )));
                };
                sample::sample_file(&location, handle, file, configured)
                    .map_err(|e| ConnectorError::Source(format!("stream `{}`: {e}", configured.name)))?;
            }
            Ok(())
        })
        .await
    }

    async fn discover(&self, config: &Value) -> Result<Catalog> {
        let settings = FilesConfig::settings(config)?;
        let location = location(&settings)?;
        blocking(move |handle| discover_blocking(&settings, &location, handle)).await
    }

    async fn read(&self, request: ReadRequest) -> Result<MessageStream> {
        let plan = read::ReadPlan::new(&request)?;
        Ok(read::spawn(plan))
    }
}
