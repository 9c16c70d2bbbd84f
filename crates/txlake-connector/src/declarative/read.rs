//! Reading one stream of a declarative connector: requests built from the manifest, pages
//! followed by the paginator, window slices and partitions fetched concurrently (bounded)
//! but emitted in order, the next page requested while the current one decodes, the
//! incremental cursor filtered and checkpointed.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use futures::StreamExt as _;
use minijinja::Value as JinjaValue;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::cursor::{self, Micros, Slice};
use super::http::{Http, Page, PreparedRequest, form_pairs, snippet};
use super::manifest::{AddField, CursorFormat, Incremental, Inject, Manifest, Paginator, Request, StreamDefinition};
use super::records::{RecordDecoder, RecordPath, remove_field, select_path, set_field};
use super::template::{Templates, as_text, context};
use crate::catalog::SyncMode;
use crate::error::ConnectorError;
use crate::message::{LogLevel, Message};

type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Pages decoded ahead of the one being sent. The next page is fetched only after this one
/// arrived (a cursor comes from the body), so the decoders must have pages in hand to
/// cover that wait: at 2 the 2-core benchmark kept 1.68 cores busy, at 4 1.75 (8 adds
/// nothing but memory). Each page held costs its body and its batch, about 1 MB at 1,000
/// records.
const DECODE_AHEAD: usize = 4;

/// What every stream of one read shares.
#[derive(Debug)]
pub struct Reader {
    /// The manifest.
    pub manifest: Arc<Manifest>,
    /// The template environment.
    pub templates: Arc<Templates>,
    /// The HTTP client with credentials.
    pub http: Arc<Http>,
    /// The connection's config.
    pub config: Value,
    /// The base URL (the manifest's, or `config.base_url`).
    pub base_url: String,
}

/// Where a page loop is.
#[derive(Debug, Clone)]
enum PageState {
    First,
    Token(String),
    Url(String),
    Number(u64),
    Offset(u64),
}

/// One stream in one mode.
struct StreamPlan {
    definition: StreamDefinition,
    incremental: bool,
    decoder: RecordDecoder,
    /// Where the records are in a page.
    path: RecordPath,
    /// The configured start of the cursor, if any.
    start: Option<Micros>,
    /// Records after this are dropped (`incremental.end`); none: no upper bound.
    until: Option<Micros>,
    /// The end of the last window: now, or the configured `end` if earlier.
    end: Micros,
    /// The saved cursor (of the whole stream, or the fallback of every partition).
    saved: Saved,
    /// Index of the cursor column in the decoded batch.
    cursor_column: Option<usize>,
    /// Whether a page without the record path was reported already (once per stream).
    warned_no_records: AtomicBool,
}

/// A stream's saved state, as read.
#[derive(Debug, Default)]
struct Saved {
    /// The stream's cursor; in the per-partition shape, the one a partition not in the list
    /// resumes from (the oldest of the partitions' cursors at the end of the last complete
    /// read, or a cursor saved before per-partition state).
    cursor: Option<Micros>,
    /// Per-partition cursors by partition key (`{"partitions": [...]}`), when saved so.
    partitions: Option<BTreeMap<String, (Value, Micros)>>,
}

impl Saved {
    /// The cursor a partition resumes from: its own, else the stream's.
    fn of(&self, key: Option<&Value>) -> Option<Micros> {
        match (&self.partitions, key) {
            (Some(partitions), Some(key)) => partitions.get(&key.to_string()).map(|(_, at)| *at).or(self.cursor),
            _ => self.cursor,
        }
    }
}

/// A part of a stream read on its own: one partition, one window, or both.
#[derive(Debug, Clone)]
struct Unit {
    /// The `partition` template variable.
    partition: Option<Value>,
    /// What identifies the partition in the saved state.
    key: Option<Value>,
    slice: Option<Slice>,
    /// The lower bound of this read (saved cursor minus lookback, or the configured start).
    lower_bound: Option<Micros>,
    /// Records at or before this are dropped (client-side filtering).
    filter_at: Option<Micros>,
}

/// A record of a stream and the key of the partition it came from.
type KeyedRecord = (Value, Option<Value>);

/// One partition of a stream: its template variable and its key in the state.
#[derive(Debug, Clone)]
struct Part {
    vars: serde_json::Map<String, Value>,
    key: serde_json::Map<String, Value>,
}

/// What a unit tells the stream when it is done.
struct UnitDone {
    max_cursor: Option<Micros>,
}

/// Whether `error`, met reading one stream, ends the whole read rather than that stream.
/// Credentials (401/403) and the connection's or manifest's configuration are shared by
/// every stream, so each would fail the same way: the read stops at the first, with an
/// error naming what to fix. (A 403 from one endpoint, a token lacking one scope, stops the
/// read too; its message names the URL, and the stream can be left out of `streams`.)
/// Everything else (an HTTP error after retries, a malformed page, records that do not
/// decode, a stream's saved state) is that stream's alone.
pub(super) fn ends_read(error: &ConnectorError) -> bool {
    matches!(
        error,
        ConnectorError::Auth(_)
            | ConnectorError::InvalidConfig { .. }
            | ConnectorError::Manifest { .. }
            | ConnectorError::UnknownConnector { .. }
            | ConnectorError::UnknownStream { .. }
    )
}

/// The words of a [`Message::StreamFailed`] for `error`, met reading `stream`: the error
/// without the "source error: stream `…`: " its text starts with, which the message says.
pub(super) fn failure_text(stream: &str, error: &ConnectorError) -> String {
    match error {
        ConnectorError::Source(text) => text.strip_prefix(&format!("stream `{stream}`: ")).unwrap_or(text).to_string(),
        other => other.to_string(),
    }
}

/// The error of a partitioned stream whose parent stream failed earlier in this read: its
/// partitions come from the parent's records, so it fails too, saying so.
pub(super) fn failed_parent(definition: &StreamDefinition, failed: &BTreeSet<String>) -> Option<ConnectorError> {
    let parent = definition.partition.parents().find(|p| failed.contains(*p))?;
    Some(ConnectorError::Source(format!(
        "stream `{}` is read once per record of stream `{parent}`, which failed in this read; fix `{parent}` and sync again",
        definition.name
    )))
}

/// Whether an `add_fields` entry is one column whose value is the same for every record of
/// a page (it does not use `record`): then it is rendered once per page and appended as a
/// column, not written into each record.
pub(super) fn page_constant(field: &AddField) -> bool {
    field.path.len() == 1 && matches!(&field.value, Value::String(t) if !t.contains("record"))
}

/// The columns of a stream's `add_fields` that are appended per page (see [`page_constant`]).
pub(super) fn constant_columns(def: &StreamDefinition) -> Vec<String> {
    def.add_fields.0.iter().filter(|f| page_constant(f)).map(|f| f.path[0].clone()).collect()
}

/// Whether records of this stream are rewritten one by one (`remove_fields`, or
/// `add_fields` that are nested or use `record`).
fn reshapes(def: &StreamDefinition) -> bool {
    !def.remove_fields.is_empty() || def.add_fields.0.iter().any(|f| !page_constant(f))
}

/// The value at a dotted path of a record.
fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').filter(|p| !p.is_empty()).try_fold(record, |at, key| match at {
        Value::Object(map) => map.get(key),
        Value::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

impl Reader {
    /// Reads one stream, sending batches and checkpoints to `out`.
    pub async fn read_stream(
        self: Arc<Self>,
        definition: StreamDefinition,
        decoder: RecordDecoder,
        mode: SyncMode,
        saved: Option<Value>,
        out: mpsc::Sender<Result<Message>>,
    ) -> Result<()> {
        let incremental = mode == SyncMode::Incremental && definition.incremental.is_some();
        let plan = Arc::new(self.plan(definition, decoder, incremental, saved.as_ref())?);
        let partitions: Vec<Option<Part>> = if plan.definition.partition.is_some() {
            self.partitions(&plan.definition).await?.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        let mut units = Vec::new();
        let mut windowed = false;
        for part in partitions {
            let key = part.as_ref().map(|p| Value::Object(p.key.clone()));
            let saved_at = if plan.incremental { plan.saved.of(key.as_ref()) } else { None };
            let (lower_bound, filter_at) = self.bounds(&plan, saved_at)?;
            let slices: Vec<Option<Slice>> = match (&plan.definition.incremental, lower_bound) {
                (Some(inc), Some(start)) if inc.step.is_some() || inc.granularity.is_some() => match inc.granularity {
                    Some(g) => cursor::slices_with_granularity(start, plan.end, inc.step, g),
                    None => cursor::slices(start, plan.end, inc.step),
                }
                .into_iter()
                .map(Some)
                .collect(),
                (Some(_), start) => vec![start.map(|start| Slice { start, end: plan.end })],
                (None, _) => vec![None],
            };
            windowed |= slices.len() > 1;
            let vars = part.map(|p| Value::Object(p.vars));
            units.extend(slices.into_iter().map(|slice| Unit {
                partition: vars.clone(),
                key: key.clone(),
                slice,
                lower_bound,
                filter_at,
            }));
        }
        let total = units.len() as u64;
        let read_keys: HashSet<String> = units.iter().filter_map(|u| u.key.as_ref()).map(Value::to_string).collect();
        let concurrency = self.manifest.requester.concurrency.max(1);
        let name = plan.definition.name.clone();
        let per_partition = plan.definition.partition.is_some();
        let stepped = plan.definition.incremental.as_ref().is_some_and(|i| i.step.is_some() || i.granularity.is_some());
        let mut running = futures::stream::iter(units.into_iter().map(|unit| {
            let (tx, rx) = mpsc::channel(8);
            let key = unit.key.clone();
            let slice = unit.slice;
            let task = tokio::spawn(self.clone().read_unit(plan.clone(), unit, tx));
            futures::future::ready((rx, task, key, slice))
        }))
        .buffered(concurrency);
        let mut max_cursor = plan.saved.cursor;
        // Per-partition cursors: the saved ones, updated as each partition's units finish.
        let mut partition_cursors: BTreeMap<String, (Value, Micros)> =
            plan.saved.partitions.clone().unwrap_or_default();
        let mut done = 0u64;
        // Windows over an API that filters by overlap (BambooHR's time off by start/end) can
        // return one record in two windows: within a read, a key is emitted once.
        let mut seen = (windowed && !plan.definition.primary_key.is_empty()).then(HashSet::<String>::new);
        while let Some((mut rx, task, key, slice)) = running.next().await {
            while let Some(mut message) = rx.recv().await {
                if let (Some(seen), Message::Batch { batch, .. }) = (seen.as_mut(), &mut message) {
                    *batch = first_of_each_key(batch, &plan.definition.primary_key, seen)?;
                    if batch.num_rows() == 0 {
                        continue;
                    }
                }
                if out.send(Ok(message)).await.is_err() {
                    return Ok(());
                }
            }
            let finished = task
                .await
                .map_err(|e| ConnectorError::Internal(format!("stream `{name}`: a reader task failed: {e}")))??;
            max_cursor = max_cursor.max(finished.max_cursor);
            done += 1;
            // A partition checkpoints as each of its units ends (units run in order, and a
            // window is complete once read), so a crash re-reads one partition's window.
            if plan.incremental
                && per_partition
                && let Some(key) = key
            {
                let id = key.to_string();
                let previous = partition_cursors.get(&id).map(|(_, at)| *at);
                let window_end = if stepped { slice.map(|s| s.end) } else { None };
                if let Some(at) = previous.max(finished.max_cursor).max(window_end) {
                    partition_cursors.insert(id, (key, at));
                    // Until the read is complete, partitions not yet read keep resuming
                    // from the saved stream cursor.
                    let state = partitioned_state(&partition_cursors, plan.saved.cursor);
                    if out.send(Ok(Message::State { stream: name.clone(), state })).await.is_err() {
                        return Ok(());
                    }
                }
            }
            if total > 1 {
                let _ = out.send(Ok(Message::Progress { stream: Some(name.clone()), done, total: Some(total) })).await;
            }
        }
        if plan.incremental
            && !per_partition
            && let Some(cursor) = max_cursor
        {
            let _ = out.send(Ok(state_message(&name, cursor))).await;
        }
        if plan.incremental && per_partition {
            // The read is complete: partitions gone from the parent are dropped, and a
            // partition seen first next time resumes from the oldest cursor of this read's
            // partitions (each has been read up to at least there).
            partition_cursors.retain(|id, _| read_keys.contains(id));
            let oldest = partition_cursors.values().map(|(_, at)| *at).min().or(plan.saved.cursor);
            if oldest.is_some() || !partition_cursors.is_empty() {
                let state = partitioned_state(&partition_cursors, oldest);
                let _ = out.send(Ok(Message::State { stream: name, state })).await;
            }
        }
        Ok(())
    }

    fn plan(
        &self,
        definition: StreamDefinition,
        decoder: RecordDecoder,
        incremental: bool,
        saved: Option<&Value>,
    ) -> Result<StreamPlan> {
        let now = cursor::now();
        let mut start = None;
        let mut until = None;
        let mut cursor_column = None;
        let path = RecordPath::parse(&definition.records.path)
            .map_err(|e| ConnectorError::Source(format!("stream `{}`: records.path {e}", definition.name)))?;
        let saved = if incremental { parse_saved(&definition.name, saved)? } else { Saved::default() };
        if let Some(inc) = &definition.incremental {
            start = self.configured_time(&definition.name, inc, inc.start.as_ref(), "start")?;
            until = self.configured_time(&definition.name, inc, inc.end.as_ref(), "end")?;
            if (inc.step.is_some() || inc.granularity.is_some()) && start.is_none() && saved.cursor.is_none() {
                return Err(ConnectorError::Source(format!(
                    "stream `{}` reads in windows (`step`) and needs a start: set the connection's start date (see `txlake connectors spec {}`)",
                    definition.name, self.manifest.name
                )));
            }
            cursor_column = Some(decoder.schema().index_of(&inc.cursor_field).map_err(|_| {
                ConnectorError::Source(format!(
                    "stream `{}`: the cursor field `{}` is not a column of its schema",
                    definition.name, inc.cursor_field
                ))
            })?);
        }
        Ok(StreamPlan {
            definition,
            incremental,
            decoder,
            path,
            start,
            until,
            end: until.map_or(now, |u| u.min(now)),
            saved,
            cursor_column,
            warned_no_records: AtomicBool::new(false),
        })
    }

    /// The lower bound of a read and the client-side filter, from the saved cursor (of the
    /// stream or the partition): Airbyte's max(start, cursor − lookback).
    fn bounds(&self, plan: &StreamPlan, saved_at: Option<Micros>) -> Result<(Option<Micros>, Option<Micros>)> {
        let Some(inc) = &plan.definition.incremental else { return Ok((None, None)) };
        let lookback = inc.lookback.map(|d| d.as_micros() as i64).unwrap_or(0);
        let lower_bound = match saved_at {
            Some(at) => Some(plan.start.map_or(at - lookback, |s| s.max(at - lookback))),
            None => plan.start,
        };
        if (inc.step.is_some() || inc.granularity.is_some()) && lower_bound.is_none() {
            return Err(ConnectorError::Source(format!(
                "stream `{}` reads in windows (`step`) and needs a start: set the connection's start date (see `txlake connectors spec {}`)",
                plan.definition.name, self.manifest.name
            )));
        }
        let filter_at = if plan.incremental && inc.client_filter { saved_at.map(|at| at - lookback) } else { None };
        Ok((lower_bound, filter_at))
    }

    fn configured_time(
        &self,
        stream: &str,
        inc: &Incremental,
        template: Option<&String>,
        key: &str,
    ) -> Result<Option<Micros>> {
        let Some(template) = template else { return Ok(None) };
        let ctx = self.context(json!({}));
        let text = self.templates.render(template, &ctx, &format!("streams.{stream}.incremental.{key}"))?;
        if is_empty_token(&text) {
            return Ok(None);
        }
        cursor::parse_text_any(&text, &inc.formats, &inc.format).map(Some).ok_or_else(|| {
            ConnectorError::Source(format!(
                "stream `{stream}`: the {key} `{text}` is not a date; write it as RFC 3339 (2024-01-01T00:00:00Z) or a date (2024-01-01)"
            ))
        })
    }

    /// Every partition of a stream: the cartesian product of its partition forms (parents
    /// are small: courses, boards, forms).
    async fn partitions(self: &Arc<Self>, def: &StreamDefinition) -> Result<Vec<Part>> {
        let mut product = vec![Part { vars: serde_json::Map::new(), key: serde_json::Map::new() }];
        for form in &def.partition.0 {
            let mut options: Vec<Part> = Vec::new();
            if let Some(parent) = &form.stream {
                let parent_def = self
                    .manifest
                    .stream(parent)
                    .cloned()
                    .ok_or_else(|| ConnectorError::Internal(format!("no parent `{parent}`")))?;
                for (record, parent_key) in self.keyed_records(&parent_def).await? {
                    match (&form.parent_key, &form.field) {
                        (Some(path), Some(field)) => {
                            // A parent record without the key gives no partition (Airbyte skips it).
                            let Some(value) = lookup(&record, path).filter(|v| !v.is_null()).cloned() else {
                                continue;
                            };
                            let parent_slice = parent_key.unwrap_or_else(|| json!({}));
                            let mut vars = serde_json::Map::new();
                            vars.insert(field.clone(), value.clone());
                            vars.insert("parent".into(), record);
                            vars.insert("parent_slice".into(), parent_slice.clone());
                            let mut key = serde_json::Map::new();
                            key.insert(field.clone(), value);
                            key.insert("parent_slice".into(), parent_slice);
                            options.push(Part { vars, key });
                        }
                        _ => {
                            let Value::Object(map) = record else { continue };
                            // The parent's primary key identifies the partition in the state
                            // (the record's other fields change); without one, the record.
                            let key = if parent_def.primary_key.is_empty() {
                                map.clone()
                            } else {
                                parent_def
                                    .primary_key
                                    .iter()
                                    .map(|k| (k.clone(), map.get(k).cloned().unwrap_or(Value::Null)))
                                    .collect()
                            };
                            options.push(Part { vars: map, key });
                        }
                    }
                }
            } else if let (Some(values), Some(field)) = (&form.values, &form.field) {
                for value in self.partition_values(def, values)? {
                    let entry: serde_json::Map<String, Value> = [(field.clone(), value)].into_iter().collect();
                    options.push(Part { vars: entry.clone(), key: entry });
                }
            }
            product = product
                .iter()
                .flat_map(|done| {
                    options.iter().map(move |option| {
                        let mut merged = done.clone();
                        merged.vars.extend(option.vars.clone());
                        merged.key.extend(option.key.clone());
                        merged
                    })
                })
                .collect();
        }
        Ok(product)
    }

    /// The values of a list partition: a list, or a template rendering one (a JSON or
    /// Python list, or comma-separated text).
    fn partition_values(&self, def: &StreamDefinition, values: &Value) -> Result<Vec<Value>> {
        let ctx = self.context(json!({}));
        let what = format!("streams.{}.partition.values", def.name);
        let rendered = self.templates.render_value(values, &ctx, &what)?;
        Ok(match rendered {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            Value::String(text) => {
                let text = text.trim();
                match serde_json::from_str::<Value>(text).or_else(|_| serde_json::from_str(&text.replace('\'', "\""))) {
                    Ok(Value::Array(items)) => items,
                    _ if text.is_empty() => Vec::new(),
                    _ => text.split(',').map(|v| Value::String(v.trim().to_string())).collect(),
                }
            }
            other => vec![other],
        })
    }

    /// Every record of a stream (with its transformations) and the key of the partition it
    /// came from (none for a stream without partitions).
    fn keyed_records<'a>(
        self: &'a Arc<Self>,
        def: &'a StreamDefinition,
    ) -> futures::future::BoxFuture<'a, Result<Vec<KeyedRecord>>> {
        Box::pin(async move {
            let partitions: Vec<Option<Part>> = if def.partition.is_some() {
                self.partitions(def).await?.into_iter().map(Some).collect()
            } else {
                vec![None]
            };
            let mut out = Vec::new();
            for part in partitions {
                let (base, key) = match part {
                    Some(p) => (json!({ "partition": p.vars }), Some(Value::Object(p.key))),
                    None => (json!({}), None),
                };
                let added = self.added_fields(def, &base)?;
                for mut record in self.records_with(def, &base).await? {
                    if let Value::Object(map) = &mut record {
                        for (k, v) in &added {
                            map.insert(k.clone(), Value::String(v.clone()));
                        }
                    }
                    out.push((record, key.clone()));
                }
            }
            Ok(out)
        })
    }

    /// Every record of a stream as JSON, partition by partition, with its added fields: what
    /// discover reads to list survey questions (a form's fields, a survey's details).
    pub async fn stream_records(self: &Arc<Self>, def: &StreamDefinition) -> Result<Vec<Value>> {
        Ok(self.keyed_records(def).await?.into_iter().map(|(record, _)| record).collect())
    }

    /// Every record of a stream's pages (its full-refresh request) under the template
    /// variables `base`, as JSON, with its per-record transformations.
    async fn records_with(self: &Arc<Self>, definition: &StreamDefinition, base: &Value) -> Result<Vec<Value>> {
        let parent = definition.name.as_str();
        let mut records = Vec::new();
        let mut state = PageState::First;
        let path = RecordPath::parse(&definition.records.path)
            .map_err(|e| ConnectorError::Source(format!("stream `{parent}`: records.path {e}")))?;
        loop {
            let request =
                self.prepare(definition, &definition.request, definition.paginator.as_ref(), &state, base, None)?;
            let page = self.http.send(&request).await?;
            // A response rule said `ignore`: no records, and no next page.
            if page.ignored {
                break;
            }
            let selected = select_path(&page.body, &path).map_err(|e| malformed(parent, &page, &e))?;
            let count = selected.records.len();
            for raw in &selected.records {
                let mut record =
                    serde_json::from_slice::<Value>(raw).map_err(|e| malformed(parent, &page, &e.to_string()))?;
                // Partitions are the records the parent stream keeps (Moodle's site course is no course).
                if let Some(filter) = &definition.records.filter {
                    let ctx = self
                        .context(json!({ "record": record, "incremental": false, "partition": base.get("partition"),
                            "parameters": definition.parameters }));
                    if !self.templates.condition(filter, &ctx, &format!("streams.{parent}.records.filter"))? {
                        continue;
                    }
                }
                self.reshape(definition, &mut record, base)?;
                records.push(record);
            }
            let response = page_response(definition.paginator.as_ref(), &page, selected.response)?;
            let ctx = json!({ "response": response, "headers": headers_json(&page), "last_record": records.last(), "last_page_size": count });
            match self.next_page(definition, definition.paginator.as_ref(), &state, &ctx, &page, count)? {
                Some(next) => state = next,
                None => break,
            }
        }
        Ok(records)
    }

    /// Applies a stream's per-record transformations: `add_fields` that are nested or use
    /// `record` (rendered with `record` and the unit's variables `base`), then
    /// `remove_fields` (Airbyte applies transformations in the order written; the native
    /// manifest adds before it removes).
    fn reshape(&self, def: &StreamDefinition, record: &mut Value, base: &Value) -> Result<()> {
        let slow: Vec<&AddField> = def.add_fields.0.iter().filter(|f| !page_constant(f)).collect();
        if !slow.is_empty() {
            let mut vars = base.clone();
            if let Value::Object(map) = &mut vars {
                map.insert("record".into(), record.clone());
            }
            let ctx = self.context(vars);
            for field in slow {
                let what = format!("streams.{}.add_fields.{}", def.name, field.path.join("."));
                let value = self.templates.render_value(&field.value, &ctx, &what)?;
                set_field(record, &field.path, value);
            }
        }
        for pointer in &def.remove_fields {
            remove_field(record, pointer);
        }
        Ok(())
    }

    /// Reads one unit: its pages in order, the next requested while this one decodes.
    async fn read_unit(
        self: Arc<Self>,
        plan: Arc<StreamPlan>,
        unit: Unit,
        out: mpsc::Sender<Message>,
    ) -> Result<UnitDone> {
        let def = &plan.definition;
        let name = def.name.as_str();
        let request = def.request_for(plan.incremental);
        let paginator = def.paginator_for(plan.incremental);
        let path = &plan.path;
        let sorted = def.incremental.as_ref().is_some_and(|i| i.sorted);
        let requery_after = def.incremental.as_ref().and_then(|i| i.requery_after);
        let data_feed = plan.incremental && def.incremental.as_ref().is_some_and(|i| i.data_feed);
        let reshaped = reshapes(def);
        let mut slice = unit.slice;
        let mut base = self.unit_context(&plan, &unit, slice);
        let mut state = PageState::First;
        let mut in_query = 0u64;
        let mut max_cursor: Option<Micros> = None;
        let mut last_checkpoint: Option<Micros> = None;
        let first = self.prepare(def, request, paginator, &state, &base, None)?;
        let mut inflight = Some(spawn_send(&self.http, first));
        // Pages decode on blocking threads, at most `DECODE_AHEAD` at once, and are sent in order.
        let mut decoding: VecDeque<(tokio::task::JoinHandle<Result<RecordBatch, String>>, String)> = VecDeque::new();
        while inflight.is_some() || !decoding.is_empty() {
            if let Some(task) = inflight.take() {
                let page = task
                    .await
                    .map_err(|e| ConnectorError::Internal(format!("stream `{name}`: request task failed: {e}")))??;
                // A response rule said `ignore`: no records and no next page; what is
                // decoding still drains.
                if page.ignored {
                    continue;
                }
                let selected = select_path(&page.body, path).map_err(|e| malformed(name, &page, &e))?;
                if !selected.found && !self.no_records_path(&plan, &page, &out).await {
                    return Ok(UnitDone { max_cursor });
                }
                let mut records = selected.records;
                let count = records.len() as u64;
                in_query += count;
                // Newest first: a page ending at or before the saved cursor is the last one
                // with anything new (Airbyte's `is_data_feed` stop condition).
                let feed_ends = data_feed
                    && match (unit.filter_at.or(unit.lower_bound), records.last()) {
                        (Some(at), Some(raw)) => self.raw_cursor(&plan, raw).is_some_and(|c| c <= at),
                        _ => false,
                    };
                if let Some(filter) = &def.records.filter {
                    records = self.filter_records(name, filter, &plan, &unit, records, &page)?;
                }
                let last_record: Option<Value> = match records.last() {
                    Some(raw) => Some(serde_json::from_slice(raw).map_err(|e| malformed(name, &page, &e.to_string()))?),
                    None => None,
                };
                let response = page_response(paginator, &page, selected.response)?;
                let ctx = json!({ "response": response, "headers": headers_json(&page), "last_record": last_record, "last_page_size": count });
                let mut next = self.next_page(def, paginator, &state, &ctx, &page, count as usize)?;
                if feed_ends {
                    next = None;
                }
                let added = self.added_fields(def, &base)?;
                let (body, extents) = if reshaped {
                    self.reshaped_page(def, &records, &base, &page)?
                } else {
                    let start = page.body.as_ptr() as usize;
                    let extents: Vec<std::ops::Range<usize>> = records
                        .iter()
                        .map(|r| (r.as_ptr() as usize - start)..(r.as_ptr() as usize - start + r.len()))
                        .collect();
                    (page.body.clone(), extents)
                };
                let decoder = plan.decoder.clone();
                decoding.push_back((
                    tokio::task::spawn_blocking(move || decoder.decode_extents(&body, &extents, &added)),
                    page.url.clone(),
                ));
                // HubSpot's search stops at 10,000 results: a new query starts after the last
                // cursor, which needs this page decoded first.
                if let (Some(limit), Some(_), Some(current)) = (requery_after, next.as_ref(), slice)
                    && in_query + count > limit
                {
                    let (page_max, listening) =
                        self.drain(&plan, &unit, &mut decoding, &out, 0, &mut max_cursor).await?;
                    if !listening {
                        return Ok(UnitDone { max_cursor });
                    }
                    if let Some(from) = page_max {
                        slice = Some(Slice { start: from, end: current.end });
                        base = self.unit_context(&plan, &unit, slice);
                        in_query = 0;
                        next = Some(PageState::First);
                    }
                }
                if let Some(next_state) = next {
                    let request = self.prepare(def, request, paginator, &next_state, &base, Some(&ctx))?;
                    inflight = Some(spawn_send(&self.http, request));
                    state = next_state;
                }
            }
            let keep = if inflight.is_some() { DECODE_AHEAD } else { 0 };
            if !self.drain(&plan, &unit, &mut decoding, &out, keep, &mut max_cursor).await?.1 {
                return Ok(UnitDone { max_cursor });
            }
            let ordered_checkpoints = plan.incremental && sorted && unit.partition.is_none();
            if ordered_checkpoints
                && let Some(at) = max_cursor
                && Some(at) != last_checkpoint
                && inflight.is_some()
            {
                last_checkpoint = Some(at);
                if out.send(state_message(name, at)).await.is_err() {
                    return Ok(UnitDone { max_cursor });
                }
            }
        }
        // A finished window is a checkpoint: everything up to its end has been read.
        if plan.incremental
            && unit.partition.is_none()
            && def.incremental.as_ref().is_some_and(|i| i.step.is_some() || i.granularity.is_some())
            && let Some(s) = slice
        {
            let at = max_cursor.map_or(s.end, |m| m.max(s.end));
            let _ = out.send(state_message(name, at)).await;
            max_cursor = Some(at);
        }
        Ok(UnitDone { max_cursor })
    }

    /// Reports a page that lacks the stream's record path (zero records, maybe wrongly: an
    /// empty list left out, a side-load not returned): counted in the run's warnings, and
    /// said once per stream. Returns `false` when nobody listens any more.
    async fn no_records_path(&self, plan: &StreamPlan, page: &Page, out: &mpsc::Sender<Message>) -> bool {
        let stream = plan.definition.name.clone();
        if !plan.warned_no_records.swap(true, Ordering::Relaxed) {
            let message = format!(
                "stream `{stream}`: the answer of {} has no `{}` (the stream's records.path), so the page gave no records; \
                 if the API leaves the list out when it is empty this is harmless, otherwise check the request \
                 (further such pages of this stream are only counted, in the run's warnings)",
                page.url, plan.definition.records.path
            );
            if out.send(Message::Log { level: LogLevel::Warn, message }).await.is_err() {
                return false;
            }
        }
        out.send(Message::Warnings { stream, count: 1 }).await.is_ok()
    }

    /// Sends decoded pages in order until at most `keep` are still decoding; returns the
    /// largest cursor of the pages sent, and `false` when nobody listens any more.
    async fn drain(
        &self,
        plan: &StreamPlan,
        unit: &Unit,
        decoding: &mut VecDeque<(tokio::task::JoinHandle<Result<RecordBatch, String>>, String)>,
        out: &mpsc::Sender<Message>,
        keep: usize,
        max_cursor: &mut Option<Micros>,
    ) -> Result<(Option<Micros>, bool)> {
        let name = &plan.definition.name;
        let mut sent_max = None;
        while decoding.len() > keep {
            let Some((task, url)) = decoding.pop_front() else { break };
            let batch = task
                .await
                .map_err(|e| ConnectorError::Internal(format!("stream `{name}`: a decoding task failed: {e}")))?
                .map_err(|e| ConnectorError::Source(format!("stream `{name}`: page {url}: {e}")))?;
            let (batch, page_max) = apply_cursor(plan, unit.filter_at, batch)?;
            *max_cursor = (*max_cursor).max(page_max);
            sent_max = sent_max.max(page_max);
            if batch.num_rows() > 0 && out.send(Message::Batch { stream: name.clone(), batch }).await.is_err() {
                return Ok((sent_max, false));
            }
        }
        Ok((sent_max, true))
    }

    fn filter_records<'a>(
        &self,
        name: &str,
        filter: &str,
        plan: &StreamPlan,
        unit: &Unit,
        records: Vec<&'a [u8]>,
        page: &Page,
    ) -> Result<Vec<&'a [u8]>> {
        let mut kept = Vec::with_capacity(records.len());
        for raw in records {
            let record: Value = serde_json::from_slice(raw).map_err(|e| malformed(name, page, &e.to_string()))?;
            let ctx = self
                .context(json!({ "record": record, "partition": unit.partition, "incremental": plan.incremental,
                    "parameters": plan.definition.parameters }));
            if self.templates.condition(filter, &ctx, &format!("streams.{name}.records.filter"))? {
                kept.push(raw);
            }
        }
        Ok(kept)
    }

    /// The page-constant `add_fields` (see [`page_constant`]), rendered under `base`.
    fn added_fields(&self, def: &StreamDefinition, base: &Value) -> Result<BTreeMap<String, String>> {
        if def.add_fields.is_empty() {
            return Ok(BTreeMap::new());
        }
        let ctx = self.context(base.clone());
        def.add_fields
            .0
            .iter()
            .filter(|f| page_constant(f))
            .map(|f| {
                let k = &f.path[0];
                let template = f.value.as_str().unwrap_or_default();
                Ok((k.clone(), self.templates.render(template, &ctx, &format!("streams.{}.add_fields.{k}", def.name))?))
            })
            .collect()
    }

    /// A page's records rewritten one by one (see [`Reader::reshape`]) into a new body,
    /// with each record's extent in it.
    fn reshaped_page(
        &self,
        def: &StreamDefinition,
        records: &[&[u8]],
        base: &Value,
        page: &Page,
    ) -> Result<(bytes::Bytes, Vec<std::ops::Range<usize>>)> {
        let mut body = Vec::with_capacity(records.iter().map(|r| r.len()).sum::<usize>() + records.len());
        let mut extents = Vec::with_capacity(records.len());
        for raw in records {
            let mut record: Value =
                serde_json::from_slice(raw).map_err(|e| malformed(&def.name, page, &e.to_string()))?;
            self.reshape(def, &mut record, base)?;
            let start = body.len();
            serde_json::to_writer(&mut body, &record).map_err(|e| ConnectorError::Internal(e.to_string()))?;
            extents.push(start..body.len());
            body.push(b'\n');
        }
        Ok((bytes::Bytes::from(body), extents))
    }

    /// The cursor of one raw record (for the data-feed stop), parsed with the stream's formats.
    fn raw_cursor(&self, plan: &StreamPlan, raw: &[u8]) -> Option<Micros> {
        let inc = plan.definition.incremental.as_ref()?;
        let record: Value = serde_json::from_slice(raw).ok()?;
        match record.get(&inc.cursor_field)? {
            Value::String(text) => cursor::parse_text_any(text, &inc.formats, &inc.format),
            other => cursor::parse(other, &inc.format),
        }
    }

    /// The template variables of a unit: `state`, `slice`, `partition`.
    fn unit_context(&self, plan: &StreamPlan, unit: &Unit, slice: Option<Slice>) -> Value {
        let format = plan
            .definition
            .incremental
            .as_ref()
            .map(|i| i.request_format.clone().unwrap_or_else(|| i.format.clone()))
            .unwrap_or_default();
        let mut ctx = serde_json::Map::new();
        if let Some(p) = &unit.partition {
            ctx.insert("partition".into(), p.clone());
        }
        if let Some(s) = slice {
            ctx.insert(
                "slice".into(),
                json!({ "start": cursor::format(s.start, &format), "end": cursor::format(s.end, &format) }),
            );
        } else {
            ctx.insert("slice".into(), json!({ "end": cursor::format(plan.end, &format) }));
        }
        if plan.incremental
            && let Some(at) = unit.filter_at.or(unit.lower_bound)
        {
            ctx.insert("state".into(), json!({ "cursor": cursor::format(at, &format) }));
        }
        // `parameters` and `cursor_field` (Airbyte's `parameters`, `stream_state`).
        super::template_airbyte::stream_vars(&plan.definition, &mut ctx);
        Value::Object(ctx)
    }

    fn context(&self, mut vars: Value) -> JinjaValue {
        if let Value::Object(map) = &mut vars {
            map.insert("config".into(), self.config.clone());
        }
        context(&vars)
    }

    /// Builds the request of a page.
    fn prepare(
        &self,
        def: &StreamDefinition,
        request: &Request,
        paginator: Option<&Paginator>,
        state: &PageState,
        base: &Value,
        previous: Option<&Value>,
    ) -> Result<PreparedRequest> {
        let mut vars = base.clone();
        if let (Value::Object(map), Some(Value::Object(prev))) = (&mut vars, previous) {
            for (k, v) in prev {
                map.insert(k.clone(), v.clone());
            }
        }
        if let (Value::Object(map), PageState::Token(token)) = (&mut vars, state) {
            map.insert("next_page_token".into(), Value::String(token.clone()));
        }
        // Partition values a partition form injects into every request of the partition.
        let injected: Vec<(&String, &Inject, Value)> = def
            .partition
            .0
            .iter()
            .filter_map(|form| {
                let (field, inject) = (form.field.as_ref()?, form.inject.as_ref()?);
                let value = base.get("partition")?.get(field)?.clone();
                Some((field, inject, value))
            })
            .collect();
        let ctx = self.context(vars);
        let key = |k: &str| format!("streams.{}.request.{k}", def.name);
        let requester = &self.manifest.requester;
        let mut url = match state {
            PageState::Url(next) => resolve_url(&self.base_url, next).map_err(|e| {
                ConnectorError::Source(format!("stream `{}`: the next-page URL `{next}` is not a URL: {e}", def.name))
            })?,
            _ => {
                let path = self.templates.render(&request.path, &ctx, &key("path"))?;
                let mut url = resolve_url(&self.base_url, &path).map_err(|e| ConnectorError::InvalidConfig {
                    connector: self.manifest.name.clone(),
                    issues: vec![crate::ConfigIssue {
                        path: "config.base_url".into(),
                        message: format!("`{}` + `{path}` is not a URL: {e}", self.base_url),
                    }],
                })?;
                {
                    let mut query = url.query_pairs_mut();
                    for (name, template) in requester.params.iter().chain(request.params.iter()) {
                        let value = self.templates.render_value(template, &ctx, &key(&format!("params.{name}")))?;
                        match value {
                            Value::Null => {}
                            Value::Array(items) => {
                                for item in items {
                                    query.append_pair(name, &as_text(&item));
                                }
                            }
                            other => {
                                let text = as_text(&other);
                                if !text.is_empty() {
                                    query.append_pair(name, &text);
                                }
                            }
                        }
                    }
                    for (_, inject, value) in &injected {
                        if let Inject::Param(p) = inject {
                            query.append_pair(p, &as_text(value));
                        }
                    }
                    match (paginator, state) {
                        (Some(Paginator::PageNumber { param, start, size, size_param, .. }), s) => {
                            let n = if let PageState::Number(n) = s { *n } else { *start };
                            query.append_pair(param, &n.to_string());
                            if let Some(sp) = size_param {
                                query.append_pair(sp, &size.to_string());
                            }
                        }
                        (Some(Paginator::Offset { param, limit, limit_param, .. }), s) => {
                            let o = if let PageState::Offset(o) = s { *o } else { 0 };
                            query.append_pair(param, &o.to_string());
                            if let (Some(lp), Some(limit)) = (limit_param, limit) {
                                query.append_pair(lp, &limit.to_string());
                            }
                        }
                        (Some(Paginator::Cursor { inject: Inject::Param(p), .. }), PageState::Token(t)) => {
                            query.append_pair(p, t);
                        }
                        _ => {}
                    }
                }
                if url.query() == Some("") {
                    url.set_query(None);
                }
                url
            }
        };
        if url.cannot_be_a_base() {
            url = resolve_url(&self.base_url, url.as_str()).map_err(|e| ConnectorError::Source(e.to_string()))?;
        }
        let mut headers = Vec::new();
        for (name, template) in requester.headers.iter().chain(request.headers.iter()) {
            headers.push((name.clone(), self.templates.render(template, &ctx, &key(&format!("headers.{name}")))?));
        }
        let mut body = match &request.body {
            Some(b) => Some(self.templates.render_value(b, &ctx, &key("body"))?),
            None => None,
        };
        // A form body (`body_form`, helper "http"), which values injected into the body join.
        let mut form = match &request.body_form {
            Some(fields) => Some(form_pairs(fields, &self.templates, &ctx, &key("body_form"))?),
            None => None,
        };
        for (_, inject, value) in &injected {
            match inject {
                Inject::Header(h) => headers.push((h.clone(), as_text(value))),
                Inject::Body(field) if form.is_some() => {
                    form.get_or_insert_with(Vec::new).push((field.clone(), as_text(value)));
                }
                Inject::Body(field) => match &mut body {
                    Some(Value::Object(map)) => {
                        map.insert(field.clone(), value.clone());
                    }
                    _ => body = Some(json!({ field.clone(): value })),
                },
                Inject::Param(_) => {}
            }
        }
        if let (Some(Paginator::Cursor { inject, .. }), PageState::Token(t)) = (paginator, state) {
            match inject {
                Inject::Body(field) => {
                    if let Some(form) = &mut form {
                        form.push((field.clone(), t.clone()));
                    } else if let Some(Value::Object(map)) = &mut body {
                        map.insert(field.clone(), Value::String(t.clone()));
                    } else {
                        body = Some(json!({ field.clone(): t }));
                    }
                }
                Inject::Header(h) => headers.push((h.clone(), t.clone())),
                Inject::Param(_) => {}
            }
        }
        Ok(PreparedRequest { method: request.method, url, headers, body, form, responses: def.responses.clone() })
    }

    /// The state of the next page, or `None` after the last.
    fn next_page(
        &self,
        def: &StreamDefinition,
        paginator: Option<&Paginator>,
        state: &PageState,
        page_vars: &Value,
        page: &Page,
        count: usize,
    ) -> Result<Option<PageState>> {
        let Some(paginator) = paginator else { return Ok(None) };
        let ctx = self.context(page_vars.clone());
        let key = format!("streams.{}.paginator", def.name);
        let stopped = |stop: &Option<String>| -> Result<bool> {
            match stop {
                Some(expr) => self.templates.condition(expr, &ctx, &format!("{key}.stop")),
                None => Ok(false),
            }
        };
        Ok(match paginator {
            Paginator::Cursor { token, stop, .. } => {
                if stopped(stop)? {
                    return Ok(None);
                }
                let token = self.templates.render(token, &ctx, &format!("{key}.token"))?;
                (!is_empty_token(&token)).then_some(PageState::Token(token))
            }
            Paginator::NextUrl { url, stop, .. } => {
                if stopped(stop)? {
                    return Ok(None);
                }
                let url = self.templates.render(url, &ctx, &format!("{key}.url"))?;
                (!is_empty_token(&url)).then_some(PageState::Url(url))
            }
            Paginator::LinkHeader => next_link(&page.headers).map(PageState::Url),
            Paginator::PageNumber { start, size, stop, .. } => {
                if (count as u64) < *size || count == 0 || stopped(stop)? {
                    return Ok(None);
                }
                let n = if let PageState::Number(n) = state { *n } else { *start };
                Some(PageState::Number(n + 1))
            }
            Paginator::Offset { limit, stop, .. } => {
                if limit.is_some_and(|limit| (count as u64) < limit) || count == 0 || stopped(stop)? {
                    return Ok(None);
                }
                let o = if let PageState::Offset(o) = state { *o } else { 0 };
                Some(PageState::Offset(o + limit.unwrap_or(count as u64)))
            }
        })
    }

    /// Fetches the first page of a stream (for `check` and schema inference), with its
    /// transformations.
    pub async fn first_page_records(self: &Arc<Self>, def: &StreamDefinition) -> Result<Vec<Value>> {
        let partition = if def.partition.is_some() { self.partitions(def).await?.into_iter().next() } else { None };
        let mut base = serde_json::Map::new();
        if let Some(p) = partition {
            base.insert("partition".into(), Value::Object(p.vars));
        }
        let base = Value::Object(base);
        let path = RecordPath::parse(&def.records.path)
            .map_err(|e| ConnectorError::Source(format!("stream `{}`: records.path {e}", def.name)))?;
        let request = self.prepare(def, &def.request, def.paginator.as_ref(), &PageState::First, &base, None)?;
        let page = self.http.send(&request).await?;
        if page.ignored {
            return Ok(Vec::new());
        }
        let selected = select_path(&page.body, &path).map_err(|e| malformed(&def.name, &page, &e))?;
        let added = self.added_fields(def, &base)?;
        selected
            .records
            .iter()
            .map(|raw| {
                let mut record: Value =
                    serde_json::from_slice(raw).map_err(|e| malformed(&def.name, &page, &e.to_string()))?;
                self.reshape(def, &mut record, &base)?;
                if let Value::Object(map) = &mut record {
                    for (k, v) in &added {
                        map.insert(k.clone(), Value::String(v.clone()));
                    }
                }
                Ok(record)
            })
            .collect()
    }
}

/// The rows of `batch` whose primary key is not in `seen` (which learns them).
fn first_of_each_key(batch: &RecordBatch, key: &[String], seen: &mut HashSet<String>) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = key
        .iter()
        .map(|k| {
            let column = batch.column_by_name(k).ok_or_else(|| {
                ConnectorError::Source(format!("the primary key column `{k}` is not in the stream's schema"))
            })?;
            Ok(cast(column, &DataType::Utf8)?)
        })
        .collect::<Result<_>>()?;
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|row| {
            let id: Vec<&str> =
                columns.iter().map(|c| if c.is_null(row) { "" } else { c.as_string::<i32>().value(row) }).collect();
            Some(seen.insert(id.join("\u{1f}")))
        })
        .collect();
    if keep.true_count() == batch.num_rows() { Ok(batch.clone()) } else { Ok(filter_record_batch(batch, &keep)?) }
}

fn spawn_send(http: &Arc<Http>, request: PreparedRequest) -> tokio::task::JoinHandle<Result<Page>> {
    let http = http.clone();
    tokio::spawn(async move { http.send(&request).await })
}

/// Drops records at or before the client-side filter (and after the configured end) and
/// finds the page's largest cursor.
fn apply_cursor(
    plan: &StreamPlan,
    filter_at: Option<Micros>,
    batch: RecordBatch,
) -> Result<(RecordBatch, Option<Micros>)> {
    let (Some(index), Some(inc)) = (plan.cursor_column, plan.definition.incremental.as_ref()) else {
        return Ok((batch, None));
    };
    if batch.num_rows() == 0 {
        return Ok((batch, None));
    }
    let values = cursor_values(batch.column(index), &inc.formats, &inc.format)?;
    let kept = |v: Micros| filter_at.is_none_or(|at| v > at) && plan.until.is_none_or(|until| v <= until);
    let batch = if filter_at.is_some() || plan.until.is_some() {
        let keep: BooleanArray = values.iter().map(|v| Some(v.is_none_or(kept))).collect();
        if keep.true_count() == batch.num_rows() { batch } else { filter_record_batch(&batch, &keep)? }
    } else {
        batch
    };
    let max = values.iter().flatten().copied().filter(|v| kept(*v)).max();
    Ok((batch, max))
}

/// A cursor column as microseconds, whatever its type.
fn cursor_values(column: &ArrayRef, formats: &[CursorFormat], format: &CursorFormat) -> Result<Vec<Option<Micros>>> {
    Ok(match column.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let micros = cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            micros.as_primitive::<TimestampMicrosecondType>().iter().collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = cast(column, &DataType::Utf8)?;
            text.as_string::<i32>().iter().map(|v| v.and_then(|t| cursor::parse_text_any(t, formats, format))).collect()
        }
        t if t.is_numeric() => {
            let numbers = cast(column, &DataType::Float64)?;
            numbers
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.and_then(|n| cursor::parse(&Value::from(n), format)))
                .collect()
        }
        other => {
            return Err(ConnectorError::Source(format!(
                "a cursor column of type {other} cannot be compared; declare it as a string, integer or date-time"
            )));
        }
    })
}

fn state_message(stream: &str, at: Micros) -> Message {
    Message::State { stream: stream.to_string(), state: json!({ "cursor": cursor::rfc3339(at) }) }
}

/// The state of a partitioned stream: each partition's cursor under its key, and as
/// `cursor` the one a partition not in the list resumes from.
fn partitioned_state(partitions: &BTreeMap<String, (Value, Micros)>, newest: Option<Micros>) -> Value {
    let list: Vec<Value> =
        partitions.values().map(|(key, at)| json!({ "partition": key, "cursor": cursor::rfc3339(*at) })).collect();
    let mut state = json!({ "partitions": list });
    if let Some(at) = newest {
        state["cursor"] = Value::String(cursor::rfc3339(at));
    }
    state
}

/// Reads a saved state: `{"cursor": T}` (a stream, or every partition of a stream saved
/// before per-partition state) or `{"partitions": [{"partition": {...}, "cursor": T}],
/// "cursor": T}`.
fn parse_saved(stream: &str, saved: Option<&Value>) -> Result<Saved> {
    let Some(saved) = saved else { return Ok(Saved::default()) };
    let invalid = |reason: &str| ConnectorError::InvalidState {
        stream: stream.to_string(),
        state: saved.to_string(),
        reason: reason.into(),
    };
    let at = |value: &Value| cursor::parse(value, &CursorFormat::Rfc3339);
    let cursor = saved.get("cursor").and_then(at);
    let partitions = match saved.get("partitions") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| {
                    let key = item.get("partition").filter(|k| k.is_object());
                    match (key, item.get("cursor").and_then(at)) {
                        (Some(key), Some(at)) => Ok((key.to_string(), (key.clone(), at))),
                        _ => Err(invalid(
                            "each of `partitions` is {\"partition\": {...}, \"cursor\": \"<RFC 3339 time>\"}",
                        )),
                    }
                })
                .collect::<Result<BTreeMap<_, _>>>()?,
        ),
        Some(_) => return Err(invalid("`partitions` is a list")),
    };
    if cursor.is_none() && partitions.is_none() {
        return Err(invalid("expected {\"cursor\": \"<RFC 3339 time>\"}"));
    }
    Ok(Saved { cursor, partitions })
}

/// The `response` a paginator's templates see: the body without the records, or with
/// `full_response` the whole body.
fn page_response(paginator: Option<&Paginator>, page: &Page, without_records: Value) -> Result<Value> {
    let full = matches!(
        paginator,
        Some(
            Paginator::Cursor { full_response: true, .. }
                | Paginator::NextUrl { full_response: true, .. }
                | Paginator::PageNumber { full_response: true, .. }
                | Paginator::Offset { full_response: true, .. }
        )
    );
    if !full || page.body.is_empty() {
        return Ok(without_records);
    }
    serde_json::from_slice(&page.body).map_err(|e| {
        ConnectorError::Source(format!("the page {} is not JSON: {e}; it starts: {}", page.url, snippet(&page.body)))
    })
}

fn headers_json(page: &Page) -> Value {
    Value::Object(
        page.headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), Value::String(v.to_str().ok()?.to_string()))))
            .collect(),
    )
}

fn is_empty_token(token: &str) -> bool {
    // `{}`, `[]` and `False`: an Airbyte cursor template's falsy default
    // (`{{ response.get('next', {}) }}`), which ends paging there too.
    matches!(token.trim(), "" | "None" | "none" | "null" | "{}" | "[]" | "False")
}

/// Joins a path onto the base URL; a full URL stays as it is.
fn resolve_url(base: &str, path: &str) -> Result<url::Url, url::ParseError> {
    if path.starts_with("http://") || path.starts_with("https://") {
        return url::Url::parse(path);
    }
    if path.is_empty() {
        return url::Url::parse(base);
    }
    url::Url::parse(&format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/')))
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all(reqwest::header::LINK).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(
        |part| {
            let (target, params) = part.split_once(';')?;
            params
                .split(';')
                .any(|p| {
                    let p = p.trim().replace(' ', "");
                    p == "rel=\"next\"" || p == "rel=next"
                })
                .then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        },
    )
}

fn malformed(stream: &str, page: &Page, problem: &str) -> ConnectorError {
    ConnectorError::Source(format!(
        "stream `{stream}`: the page {} is unusable: {problem}; it starts: {}",
        page.url,
        snippet(&page.body)
    ))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    use super::*;

    #[test]
    fn which_failures_end_the_read_and_which_fail_one_stream() {
        assert!(ends_read(&ConnectorError::Auth("401 from GET http://x/a".into())));
        assert!(ends_read(&ConnectorError::InvalidConfig { connector: "c".into(), issues: vec![] }));
        assert!(!ends_read(&ConnectorError::Source("stream `a`: 500 from GET http://x/a".into())));
        assert!(!ends_read(&ConnectorError::Internal("a decoding task failed".into())));

        let child: StreamDefinition = serde_yaml::from_str(
            "name: enrolments\npartition: { stream: courses }\nrequest: { path: /e }\nschema: { type: object, properties: { id: { type: integer } } }",
        )
        .unwrap();
        assert!(failed_parent(&child, &BTreeSet::from(["users".to_string()])).is_none());
        let error = failed_parent(&child, &BTreeSet::from(["courses".to_string()])).unwrap().to_string();
        assert!(error.contains("stream `enrolments`") && error.contains("`courses`, which failed"), "{error}");

        let error = ConnectorError::Source("stream `a`: page http://x/a: the JSON ends early".into());
        assert_eq!(failure_text("a", &error), "page http://x/a: the JSON ends early");
        assert_eq!(failure_text("b", &error), "stream `a`: page http://x/a: the JSON ends early");
        assert_eq!(failure_text("a", &ConnectorError::Internal("x".into())), "internal connector error: x");
    }

    #[test]
    fn saved_states_of_both_shapes_load() {
        let legacy = parse_saved("s", Some(&json!({ "cursor": "2025-01-03T00:00:00Z" }))).unwrap();
        let at = cursor::parse_text("2025-01-03T00:00:00Z", &CursorFormat::Rfc3339);
        assert_eq!(legacy.of(Some(&json!({ "form_id": "f1" }))), at, "every partition resumes from it");
        assert_eq!(legacy.of(None), at);

        let f1 = json!({ "form_id": "f1", "parent_slice": {} });
        let cursors: BTreeMap<String, (Value, Micros)> =
            [(f1.to_string(), (f1.clone(), at.unwrap() + 5))].into_iter().collect();
        let state = partitioned_state(&cursors, at);
        let saved = parse_saved("s", Some(&state)).unwrap();
        assert_eq!(saved.of(Some(&f1)), Some(at.unwrap() + 5));
        assert_eq!(saved.of(Some(&json!({ "form_id": "new", "parent_slice": {} }))), at, "a new partition");
        let fresh = parse_saved("s", Some(&partitioned_state(&cursors, None))).unwrap();
        assert_eq!(fresh.of(Some(&json!({ "form_id": "new" }))), None, "no stream cursor: from the start");

        for bad in [json!({}), json!({ "partitions": {} }), json!({ "partitions": [{ "cursor": "x" }] })] {
            assert!(parse_saved("s", Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn partition_keys_are_looked_up_along_dotted_paths() {
        let record = json!({ "id": 1, "meta": { "ref": "F-1", "tags": ["a", "b"] } });
        assert_eq!(lookup(&record, "meta.ref"), Some(&json!("F-1")));
        assert_eq!(lookup(&record, "meta.tags.1"), Some(&json!("b")));
        assert_eq!(lookup(&record, "meta.missing"), None);
        let constant = AddField { path: vec!["source".into()], value: json!("{{ partition.id }}") };
        let per_record = AddField { path: vec!["x".into()], value: json!("{{ record.a }}") };
        let nested = AddField { path: vec!["a".into(), "b".into()], value: json!("v") };
        assert!(page_constant(&constant) && !page_constant(&per_record) && !page_constant(&nested));
    }

    #[test]
    fn link_headers_and_urls() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(r#"<https://x/api?page=1>; rel="prev", <https://x/api?page=3>; rel="next""#),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x/api?page=3"));
        assert_eq!(next_link(&HeaderMap::new()), None);
        assert_eq!(
            resolve_url("http://127.0.0.1:9/api/", "/v2/items").unwrap().as_str(),
            "http://127.0.0.1:9/api/v2/items"
        );
        assert_eq!(resolve_url("http://a/b", "https://c/d").unwrap().as_str(), "https://c/d");
        assert!(is_empty_token(" None "));
    }
}
