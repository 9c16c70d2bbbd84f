//! Declarative connectors: a `manifest.yaml` describes a REST API (requests, auth, record
//! selection, pagination, incremental cursor, partitions, error rules, schema) and this
//! engine turns it into a [`Connector`]. No Rust is needed to add a source.
//!
//! - [`manifest`]: the typed manifest and its validation;
//! - [`template`]: minijinja interpolation;
//! - [`http`]: auth, retries, rate limit, error rules;
//! - [`records`]: record selection and Arrow decoding;
//! - `scan`: where a JSON object or array ends, found with bit masks (the selector's hot loop);
//! - [`cursor`]: incremental cursor formats and window slices;
//! - `read`: the page loop of a stream.

pub mod cursor;
pub mod http;
pub mod manifest;
mod read;
pub mod records;
mod scan;
pub mod template;
pub mod template_airbyte;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use self::http::Http;
use self::manifest::{Manifest, StreamDefinition};
use self::read::Reader;
use self::records::{RecordDecoder, infer_schema};
use self::template::{Templates, context};
use crate::catalog::{Catalog, StreamDescriptor, StreamMode, SurveyQuestion, SyncMode};
use crate::connector::{Connector, ReadRequest};
use crate::error::{ConnectorError, Result};
use crate::message::{LogLevel, Message, MessageStream};
use crate::spec::Spec;

/// A connector defined by a manifest.
#[derive(Debug, Clone)]
pub struct DeclarativeConnector {
    manifest: Arc<Manifest>,
    origin: String,
    templates: Arc<Templates>,
}

impl DeclarativeConnector {
    /// Parses a manifest; `origin` (its path) is named in errors.
    pub fn from_manifest(origin: &str, text: &str) -> Result<Self> {
        let manifest = Manifest::parse(origin, text)?;
        Ok(Self {
            templates: Arc::new(Templates::for_dialect(manifest.templates)),
            manifest: Arc::new(manifest),
            origin: origin.to_string(),
        })
    }

    /// Loads `<dir>/*/manifest.yaml` (one connector per folder, as in `connectors/`).
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>> {
        let entries = std::fs::read_dir(dir).map_err(|e| ConnectorError::Manifest {
            origin: dir.display().to_string(),
            message: format!("cannot read the connectors folder: {e}"),
        })?;
        let mut paths: Vec<_> =
            entries.flatten().map(|e| e.path().join("manifest.yaml")).filter(|p| p.is_file()).collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).map_err(|e| ConnectorError::Manifest {
                    origin: path.display().to_string(),
                    message: e.to_string(),
                })?;
                Self::from_manifest(&path.display().to_string(), &text)
            })
            .collect()
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the manifest came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn reader(&self, config: &Value) -> Result<Arc<Reader>> {
        let requester = &self.manifest.requester;
        let base_url = match config.get("base_url").and_then(Value::as_str).filter(|s| !s.trim().is_empty()) {
            Some(url) => url.trim().to_string(),
            None => self.templates.render(
                &requester.base_url,
                &context(&json!({ "config": config })),
                "requester.base_url",
            )?,
        };
        if url::Url::parse(&base_url).is_err() {
            return Err(ConnectorError::InvalidConfig {
                connector: self.manifest.name.clone(),
                issues: vec![crate::ConfigIssue {
                    path: "config.base_url".into(),
                    message: format!("`{base_url}` is not a URL; write it as https://host[/path]"),
                }],
            });
        }
        let http = Http::new(
            requester.auth.as_ref(),
            requester.retry.clone(),
            requester.rate_limit.as_ref().map(|r| r.requests_per_second),
            Duration::from_secs(requester.timeout_secs),
            requester.errors.clone(),
            requester.quota.clone(),
            self.templates.clone(),
            config,
        )
        .map_err(|e| match e {
            ConnectorError::InvalidConfig { issues, .. } => {
                ConnectorError::InvalidConfig { connector: self.manifest.name.clone(), issues }
            }
            other => other,
        })?
        .with_responses(requester.responses.clone())
        // The manifest's own base URL only moves a session login under `config.base_url`; a
        // template that needs settings this config leaves out then moves nothing.
        .with_base_urls(
            self.templates
                .render(&requester.base_url, &context(&json!({ "config": config })), "requester.base_url")
                .unwrap_or_else(|_| base_url.clone()),
            base_url.clone(),
        );
        Ok(Arc::new(Reader {
            manifest: self.manifest.clone(),
            templates: self.templates.clone(),
            http: Arc::new(http),
            config: config.clone(),
            base_url,
        }))
    }

    async fn schema_of(&self, reader: &Arc<Reader>, stream: &StreamDefinition) -> Result<SchemaRef> {
        let added: Vec<String> = read::constant_columns(stream);
        let mut schema = match &stream.schema {
            Some(schema) => crate::json_schema::arrow_schema(schema).map_err(|e| ConnectorError::Manifest {
                origin: self.origin.clone(),
                message: format!("at `streams.{}.schema`: {e}", stream.name),
            })?,
            None => {
                let sample = reader.first_page_records(stream).await?;
                infer_schema(&sample, &added).map_err(|e| {
                    ConnectorError::Source(format!(
                        "stream `{}`: cannot infer a schema from the first page: {e}",
                        stream.name
                    ))
                })?
            }
        };
        // Every one-column added field is a column, text unless the schema says otherwise.
        let single: Vec<String> =
            stream.add_fields.0.iter().filter(|f| f.path.len() == 1).map(|f| f.path[0].clone()).collect();
        let missing: Vec<Field> = single
            .iter()
            .filter(|n| schema.field_with_name(n).is_err())
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect();
        if !missing.is_empty() {
            let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend(missing);
            schema = Schema::new(fields);
        }
        Ok(Arc::new(schema))
    }
}

#[async_trait]
impl Connector for DeclarativeConnector {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn description(&self) -> &str {
        &self.manifest.description
    }

    fn spec(&self) -> Spec {
        let mut schema = self.manifest.spec.clone();
        if let Some(Value::Object(props)) = schema.get_mut("properties") {
            props.entry("base_url").or_insert_with(|| {
                json!({
                    "type": "string",
                    "description": "Overrides the API's base URL (a sandbox, a proxy, a test server)."
                })
            });
        } else if let Value::Object(map) = &mut schema {
            map.insert("properties".into(), json!({ "base_url": { "type": "string" } }));
        }
        Spec { config_schema: schema, documentation: self.manifest.documentation.clone() }
    }

    async fn check(&self, config: &Value) -> Result<()> {
        let reader = self.reader(config)?;
        let stream = match &self.manifest.check {
            Some(check) => self.manifest.stream(&check.stream),
            None => self.manifest.streams.iter().find(|s| !s.hidden).or(self.manifest.streams.first()),
        }
        .ok_or_else(|| ConnectorError::Internal("the manifest has no stream to check".into()))?;
        reader.first_page_records(stream).await.map(|_| ())
    }

    async fn discover(&self, config: &Value) -> Result<Catalog> {
        let reader = self.reader(config)?;
        let mut streams = Vec::new();
        for stream in self.manifest.streams.iter().filter(|s| !s.hidden) {
            let schema = self.schema_of(&reader, stream).await?;
            let cursor_field = stream.incremental.as_ref().map(|i| i.cursor_field.clone());
            let mut sync_modes = vec![SyncMode::FullRefresh];
            let default_mode = match (&cursor_field, stream.primary_key.is_empty()) {
                (Some(_), false) => StreamMode::IncrementalDedupe,
                (Some(_), true) => StreamMode::IncrementalAppend,
                (None, _) => StreamMode::FullRefresh,
            };
            if cursor_field.is_some() {
                sync_modes.push(SyncMode::Incremental);
            }
            streams.push(StreamDescriptor {
                name: stream.name.clone(),
                description: stream.description.clone(),
                schema,
                primary_key: stream.primary_key.clone(),
                cursor_field,
                sync_modes,
                default_mode,
            });
        }
        let questions = self.questions(&reader).await?;
        Ok(Catalog { streams, questions })
    }

    async fn read(&self, request: ReadRequest) -> Result<MessageStream> {
        let reader = self.reader(&request.config)?;
        let mut plans = Vec::new();
        for configured in &request.catalog.streams {
            let name = &configured.stream.name;
            // A hidden stream is only a partition parent, never a table of its own.
            let definition = self.manifest.stream(name).filter(|s| !s.hidden).cloned().ok_or_else(|| {
                ConnectorError::UnknownStream {
                    connector: self.manifest.name.clone(),
                    stream: name.clone(),
                    available: self.manifest.streams.iter().filter(|s| !s.hidden).map(|s| s.name.clone()).collect(),
                }
            })?;
            let added: Vec<String> = read::constant_columns(&definition);
            let decoder = RecordDecoder::new(configured.stream.schema.clone(), &added);
            plans.push((definition, decoder, configured.mode.sync_mode(), request.state.get(name).cloned()));
        }
        // Room for a few row groups of batches, so decoding goes on while the sync encodes.
        let (tx, rx) = mpsc::channel(32);
        tokio::spawn(async move {
            // A stream's failure is its own (`StreamFailed`); the read goes on with the others.
            let mut failed = std::collections::BTreeSet::new();
            for (definition, decoder, mode, saved) in plans {
                let name = definition.name.clone();
                let outcome = match read::failed_parent(&definition, &failed) {
                    Some(error) => Err(error),
                    None => reader.clone().read_stream(definition, decoder, mode, saved, tx.clone()).await,
                };
                match outcome {
                    Ok(()) => {}
                    Err(e) if read::ends_read(&e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    Err(e) => {
                        let error = read::failure_text(&name, &e);
                        let _ = tx.send(Ok(Message::StreamFailed { stream: name.clone(), error })).await;
                        failed.insert(name);
                    }
                }
            }
            for message in quota_report(&reader.http) {
                let _ = tx.send(Ok(message)).await;
            }
        });
        Ok(Box::pin(tokio_stream_of(rx)))
    }
}

impl DeclarativeConnector {
    /// The survey questions the manifest's `questions` blocks find, in their order.
    async fn questions(&self, reader: &Arc<Reader>) -> Result<Vec<SurveyQuestion>> {
        let mut out = Vec::new();
        // Blocks over the same stream read it once (a survey's details hold its questions and
        // its matrix rows): requests count against daily quotas.
        let mut read: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (i, block) in self.manifest.questions.iter().enumerate() {
            let stream = self
                .manifest
                .stream(&block.stream)
                .ok_or_else(|| ConnectorError::Internal(format!("questions[{i}]: no stream `{}`", block.stream)))?;
            if let std::collections::btree_map::Entry::Vacant(slot) = read.entry(&block.stream) {
                slot.insert(reader.stream_records(stream).await?);
            }
            for record in &read[block.stream.as_str()] {
                let mut items = Vec::new();
                walk(record, record, &block.each.split('.').filter(|p| !p.is_empty()).collect::<Vec<_>>(), &mut items);
                for (parent, item) in items {
                    let ctx =
                        context(&json!({ "config": reader.config, "record": record, "parent": parent, "item": item }));
                    let what = |key: &str| format!("questions[{i}].{key}");
                    if let Some(filter) = &block.filter
                        && !self.templates.condition(filter, &ctx, &what("filter"))?
                    {
                        continue;
                    }
                    let text = |template: &str, key: &str| self.templates.render(template, &ctx, &what(key));
                    let bound = |template: &Option<String>, key: &str| -> Result<Option<i64>> {
                        let Some(template) = template else { return Ok(None) };
                        let rendered = text(template, key)?;
                        let rendered = rendered.trim();
                        if is_blank(rendered) {
                            return Ok(None);
                        }
                        rendered.parse::<f64>().map(|x| Some(x.round() as i64)).map_err(|_| {
                            ConnectorError::Source(format!(
                                "questions[{i}].{key} of stream `{}` rendered `{rendered}`, which is not a number",
                                block.stream
                            ))
                        })
                    };
                    let scale = match (bound(&block.scale_min, "scale_min")?, bound(&block.scale_max, "scale_max")?) {
                        (Some(low), Some(high)) => Some((low, high)),
                        _ => None,
                    };
                    out.push(SurveyQuestion {
                        survey_id: text(&block.survey_id, "survey_id")?,
                        survey_title: text(&block.survey_title, "survey_title")?,
                        field: text(&block.field, "field")?,
                        question: text(&block.question, "question")?,
                        kind: text(&block.kind, "kind")?,
                        scale,
                        scale_observed: false,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Every element at the end of `path` below `value`, with its parent: the element of the
/// last list walked through on the way (or the record). Lists met on the way are walked
/// element by element.
fn walk<'a>(value: &'a Value, parent: &'a Value, path: &[&str], out: &mut Vec<(&'a Value, &'a Value)>) {
    match value {
        Value::Array(items) => {
            for item in items.iter().filter(|i| !i.is_null()) {
                if path.is_empty() {
                    out.push((parent, item));
                } else {
                    walk(item, item, path, out);
                }
            }
        }
        Value::Null => {}
        _ if path.is_empty() => out.push((parent, value)),
        Value::Object(map) => {
            if let Some(inner) = map.get(path[0]) {
                walk(inner, parent, &path[1..], out);
            }
        }
        _ => {}
    }
}

fn is_blank(text: &str) -> bool {
    matches!(text, "" | "none" | "None" | "null" | "undefined")
}

/// The end-of-read lines about the API's request quotas: what is left, a warning when low.
fn quota_report(http: &Http) -> Vec<Message> {
    let now = chrono::Utc::now();
    http.quota_readings()
        .into_iter()
        .map(|(quota, reading)| {
            let of = reading.limit.map(|l| format!(" of {l}")).unwrap_or_default();
            let resets = match http::reset_phrase(&reading, now) {
                phrase if phrase.is_empty() => String::new(),
                phrase => format!(", resetting{phrase}"),
            };
            let low = quota.warn_below.or(reading.limit.map(|l| l / 10)).is_some_and(|floor| reading.remaining < floor);
            if low {
                Message::Log {
                    level: LogLevel::Warn,
                    message: format!(
                        "the API's `{}` request quota is nearly spent: {} requests{of} left{resets}; a sync that needs more fails until then (its saved state is kept)",
                        quota.name, reading.remaining
                    ),
                }
            } else {
                Message::Log {
                    level: LogLevel::Info,
                    message: format!(
                        "the API's `{}` request quota: {} requests{of} left{resets}",
                        quota.name, reading.remaining
                    ),
                }
            }
        })
        .collect()
}

fn tokio_stream_of<T: Send + 'static>(mut rx: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(found: &[(&Value, &Value)]) -> Vec<(String, String)> {
        found.iter().map(|(p, i)| (p["id"].to_string(), i["id"].to_string())).collect()
    }

    #[test]
    fn questions_are_walked_through_every_list_on_their_path() {
        let survey = json!({ "id": "s", "pages": [
            { "id": "p1", "questions": [{ "id": "q1", "answers": { "rows": [{ "id": "r1" }, { "id": "r2" }] } }, { "id": "q2" }] },
            { "id": "p2", "questions": [{ "id": "q3" }] },
            { "id": "p3" }
        ]});
        let mut found = Vec::new();
        walk(&survey, &survey, &["pages", "questions"], &mut found);
        let expected = [("\"p1\"", "\"q1\""), ("\"p1\"", "\"q2\""), ("\"p2\"", "\"q3\"")];
        assert_eq!(ids(&found), expected.map(|(a, b)| (a.to_string(), b.to_string())));
        let mut rows = Vec::new();
        walk(&survey, &survey, &["pages", "questions", "answers", "rows"], &mut rows);
        assert_eq!(
            ids(&rows),
            [("\"q1\"", "\"r1\""), ("\"q1\"", "\"r2\"")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let mut itself = Vec::new();
        walk(&survey, &survey, &[], &mut itself);
        assert_eq!(ids(&itself), [("\"s\"".to_string(), "\"s\"".to_string())]);
    }
}
