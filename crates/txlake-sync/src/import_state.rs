//! Importing a connection's state from Airbyte (`txlake sync --import-airbyte-state FILE`), so
//! a team moving from Airbyte does not read everything again.
//!
//! The file is what Airbyte keeps for a connection, in any of its forms:
//! - the per-stream list `[{"type": "STREAM", "stream": {"stream_descriptor": {"name": …},
//!   "stream_state": {…}}}, …]` (each item may also be a whole `{"type": "STATE", "state": …}`
//!   message);
//! - `[{"type": "GLOBAL", "global": {"shared_state": …, "stream_states": [{"stream_descriptor":
//!   …, "stream_state": …}]}}]`;
//! - the legacy `{"<stream>": {…}, …}` document (or `[{"type": "LEGACY", "data": {…}}]`);
//! - the Airbyte API's connection state, `{"stateType": "stream" | "global" | "legacy",
//!   "streamState": [{"streamDescriptor": …, "streamState": …}], "globalState": …, "state": …}`.
//!
//! What is stored depends on who reads the state next:
//! - an `airbyte:` process gets Airbyte's format back ([`txlake_airbyte::state`]): a stream's
//!   `stream_state` as it is; a GLOBAL state as a shared state of every stream synced; a legacy
//!   document per stream (its keys are streams), as Airbyte's platform migrated legacy states,
//!   because today's sources (the Python CDK) read only the per-stream list;
//! - any other connector is our declarative engine (an Airbyte manifest run natively, or one
//!   of ours): a stream's `{"<cursor_field>": T}` becomes `{"cursor": "<T as RFC 3339>"}`, and
//!   Airbyte's per-partition `{"states": [{"partition": {…}, "cursor": {"<cursor_field>": T}}],
//!   "state": {…}}` becomes `{"partitions": [{"partition": {…}, "cursor": "<RFC 3339>"}],
//!   "cursor": "<the newest>"}` (connectors/MANIFEST.md).
//!
//! Each stream's state is committed to its table as a commit of its own, with no rows, under
//! the connection's sync lock, so the next sync starts from it exactly as from a state it had
//! committed itself. A stream that already has state is refused unless `force`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use txlake_connector::declarative::cursor;
use txlake_connector::declarative::manifest::CursorFormat;
use txlake_connector::{Registry, StreamMode};
use txlake_lake::{LOCK_TTL, Lake, StreamTable, SyncLock, TableId, WriteMode};

use crate::{ConnectionConfig, SyncError};

/// Why an import did not happen. Nothing is written unless every stream's state could be
/// converted.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not one of Airbyte's state forms.
    #[error("the Airbyte state file is not valid: {0}")]
    Malformed(String),
    /// The file names a stream the connection does not sync.
    #[error("the Airbyte state names stream `{stream}`, which connection `{connection}` does not sync (its streams: {})", available.join(", "))]
    UnknownStream {
        /// The connection.
        connection: String,
        /// The stream in the file.
        stream: String,
        /// The connection's streams.
        available: Vec<String>,
    },
    /// Streams of the connection already have state.
    #[error("connection `{connection}` already has state for {}: an import would replace what its syncs committed; pass --force to replace it", streams.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))]
    HasState {
        /// The connection.
        connection: String,
        /// Its streams with state.
        streams: Vec<String>,
    },
    /// A stream's state cannot be turned into the connector's.
    #[error("stream `{stream}`: {reason}")]
    Stream {
        /// The stream.
        stream: String,
        /// What is wrong.
        reason: String,
    },
    /// Resolving the connector or writing the lake failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// An Airbyte state file, read.
#[derive(Debug, Clone, PartialEq)]
pub enum AirbyteState {
    /// One state per stream (`STREAM` messages), in the file's order.
    Streams(Vec<(String, Value)>),
    /// The legacy document: one state per stream, keyed by stream name.
    Legacy(Vec<(String, Value)>),
    /// A `GLOBAL` state: the shared state and each stream's own.
    Global {
        /// `shared_state`.
        shared: Value,
        /// `stream_states`, by stream name.
        streams: Vec<(String, Value)>,
    },
}

impl AirbyteState {
    /// Reads a state file's text.
    pub fn parse(text: &str) -> Result<Self, ImportError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ImportError::Malformed(format!("it is not JSON ({e})")))?;
        Self::from_value(&value)
    }

    /// Reads a state file's JSON.
    pub fn from_value(value: &Value) -> Result<Self, ImportError> {
        match value {
            Value::Array(items) if items.is_empty() => Err(malformed("the list of state messages is empty")),
            Value::Array(items) => messages(items),
            Value::Object(map) if map.contains_key("stateType") => api_state(map),
            Value::Object(map) if map.contains_key("type") => messages(std::slice::from_ref(value)),
            Value::Object(map) if map.is_empty() => Err(malformed("the legacy state document is empty")),
            Value::Object(map) => legacy(map, "the legacy state document"),
            other => Err(malformed(&format!(
                "expected a list of state messages or a legacy {{\"<stream>\": {{…}}}} document, not {}",
                kind(other)
            ))),
        }
    }

    /// Each stream's own state, in the file's order.
    pub fn streams(&self) -> &[(String, Value)] {
        match self {
            Self::Streams(streams) | Self::Legacy(streams) | Self::Global { streams, .. } => streams,
        }
    }

    /// `per-stream`, `legacy` or `global`.
    pub fn form(&self) -> &'static str {
        match self {
            Self::Streams(_) => "per-stream",
            Self::Legacy(_) => "legacy",
            Self::Global { .. } => "global",
        }
    }
}

fn malformed(reason: &str) -> ImportError {
    ImportError::Malformed(reason.to_string())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `[{"type": "STREAM" | "GLOBAL" | "LEGACY", …}]`, each possibly wrapped in a `STATE`
/// message.
fn messages(items: &[Value]) -> Result<AirbyteState, ImportError> {
    let mut streams = Vec::new();
    let mut global = None;
    let mut legacy_doc = None;
    for (i, item) in items.iter().enumerate() {
        let at = |reason: &str| malformed(&format!("item {i}: {reason}"));
        let item = match item.get("type").and_then(Value::as_str) {
            Some("STATE") => item.get("state").ok_or_else(|| at("a STATE message without `state`"))?,
            _ => item,
        };
        let Value::Object(message) = item else { return Err(at(&format!("expected an object, not {}", kind(item)))) };
        // Airbyte's older per-stream messages had no `type`.
        let kind_of = message.get("type").and_then(Value::as_str).unwrap_or(if message.contains_key("stream") {
            "STREAM"
        } else if message.contains_key("data") {
            "LEGACY"
        } else {
            ""
        });
        match kind_of {
            "STREAM" => {
                let stream = message.get("stream").ok_or_else(|| at("a STREAM state without `stream`"))?;
                streams.push(stream_state(stream, "stream_descriptor", "stream_state").map_err(|e| at(&e))?);
            }
            "GLOBAL" => {
                let body = message.get("global").ok_or_else(|| at("a GLOBAL state without `global`"))?;
                if global.is_some() {
                    return Err(at("a second GLOBAL state"));
                }
                let list = match body.get("stream_states") {
                    Some(Value::Array(list)) => list.as_slice(),
                    None | Some(Value::Null) => &[],
                    Some(other) => return Err(at(&format!("`global.stream_states` is {}, not a list", kind(other)))),
                };
                let states = list
                    .iter()
                    .map(|s| stream_state(s, "stream_descriptor", "stream_state"))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| at(&format!("global.stream_states: {e}")))?;
                global = Some((body.get("shared_state").cloned().unwrap_or(Value::Null), states));
            }
            "LEGACY" => {
                let Some(Value::Object(data)) = message.get("data") else {
                    return Err(at("a LEGACY state's `data` is not a {\"<stream>\": {…}} object"));
                };
                legacy_doc = Some(data.clone());
            }
            "" => return Err(at("not a state message: it has no `type` (STREAM, GLOBAL or LEGACY)")),
            other => return Err(at(&format!("unknown state type `{other}` (expected STREAM, GLOBAL or LEGACY)"))),
        }
    }
    match (streams.is_empty(), global, legacy_doc) {
        (false, None, None) => Ok(AirbyteState::Streams(dedupe(streams)?)),
        (true, Some((shared, states)), None) => Ok(AirbyteState::Global { shared, streams: dedupe(states)? }),
        (true, None, Some(data)) => legacy(&data, "the LEGACY state's `data`"),
        _ => Err(malformed(
            "the messages mix state types (STREAM, GLOBAL, LEGACY); Airbyte keeps one type per connection",
        )),
    }
}

/// `{"<descriptor_key>": {"name": …}, "<state_key>": {…}}` → `(name, state)`.
fn stream_state(value: &Value, descriptor_key: &str, state_key: &str) -> Result<(String, Value), String> {
    let name = value
        .get(descriptor_key)
        .and_then(|d| d.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("`{descriptor_key}.name` is missing"))?;
    match value.get(state_key) {
        Some(state @ Value::Object(_)) => Ok((name.to_string(), state.clone())),
        None | Some(Value::Null) => Err(format!("stream `{name}` has no `{state_key}`")),
        Some(other) => Err(format!("stream `{name}`: `{state_key}` is {}, not an object", kind(other))),
    }
}

fn dedupe(streams: Vec<(String, Value)>) -> Result<Vec<(String, Value)>, ImportError> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in &streams {
        if !seen.insert(name.as_str()) {
            return Err(malformed(&format!("stream `{name}` has two states")));
        }
    }
    Ok(streams)
}

fn legacy(map: &Map<String, Value>, what: &str) -> Result<AirbyteState, ImportError> {
    let mut streams = Vec::new();
    for (name, state) in map {
        if !state.is_object() {
            return Err(malformed(&format!(
                "{what}: `{name}` is {}; a legacy state maps each stream's name to its state object",
                kind(state)
            )));
        }
        streams.push((name.clone(), state.clone()));
    }
    Ok(AirbyteState::Legacy(streams))
}

/// The Airbyte API's `GET /v1/connections/{id}/state` (and the web app's "connection state").
fn api_state(map: &Map<String, Value>) -> Result<AirbyteState, ImportError> {
    let list = |value: Option<&Value>, what: &str| -> Result<Vec<(String, Value)>, ImportError> {
        match value {
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| stream_state(s, "streamDescriptor", "streamState"))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| malformed(&format!("{what}: {e}")))
                .and_then(dedupe),
            _ => Err(malformed(&format!("`{what}` is not a list"))),
        }
    };
    match map.get("stateType").and_then(Value::as_str) {
        Some("stream") => Ok(AirbyteState::Streams(list(map.get("streamState"), "streamState")?)),
        Some("global") => {
            let global = map.get("globalState").ok_or_else(|| malformed("a global state without `globalState`"))?;
            Ok(AirbyteState::Global {
                shared: global.get("sharedState").cloned().unwrap_or(Value::Null),
                streams: list(global.get("streamStates"), "globalState.streamStates")?,
            })
        }
        Some("legacy") => match map.get("state") {
            Some(Value::Object(data)) => legacy(data, "the legacy `state`"),
            _ => Err(malformed("a legacy state without a `state` object")),
        },
        Some("not_set") => Err(malformed("the connection's state is `not_set`: there is nothing to import")),
        other => Err(malformed(&format!("unknown `stateType` {other:?} (expected stream, global or legacy)"))),
    }
}

/// One stream's imported state.
#[derive(Debug, Clone)]
pub struct ImportedStream {
    /// The stream.
    pub stream: String,
    /// The state as stored for the connector.
    pub state: Value,
    /// The Delta version of its table that holds it.
    pub version: i64,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// `per-stream`, `legacy` or `global`.
    pub form: &'static str,
    /// Whether the connector is an `airbyte:` process (Airbyte's format kept) or our engine
    /// (converted).
    pub airbyte_process: bool,
    /// Each stream imported.
    pub streams: Vec<ImportedStream>,
    /// Existing states replaced (with `force`).
    pub replaced: Vec<String>,
}

/// Imports `state` into connection `name` before its next sync: converts each stream's state
/// to what its connector reads, refuses streams that already have state unless `force`, and
/// commits each as a commit of its own to the stream's table.
pub async fn import_airbyte_state(
    lake: &Lake,
    registry: &Registry,
    name: &str,
    connection: &ConnectionConfig,
    state: &AirbyteState,
    force: bool,
) -> Result<ImportReport, ImportError> {
    let connector_error = |source| SyncError::Connector { connection: name.to_string(), source };
    let lake_error = |source| SyncError::Lake { connection: name.to_string(), source };
    // `airbyte:<command>`; `airbyte-manifest:` shares the word but is our engine.
    let airbyte_process =
        connection.connector.strip_prefix(txlake_airbyte::SCHEME).is_some_and(|rest| rest.starts_with(':'));
    let connector =
        registry.resolve_validated(&connection.connector, &connection.config).await.map_err(connector_error)?;
    let catalog = connector.discover(&connection.config).await.map_err(connector_error)?;
    let synced = connection.streams.clone().unwrap_or_else(|| catalog.names());

    for (stream, _) in state.streams() {
        if !synced.contains(stream) {
            return Err(ImportError::UnknownStream {
                connection: name.to_string(),
                stream: stream.clone(),
                available: synced.clone(),
            });
        }
    }

    // The states to store, by stream: every one converted before anything is written.
    let mut planned: BTreeMap<String, Value> = BTreeMap::new();
    if airbyte_process {
        match state {
            AirbyteState::Streams(streams) | AirbyteState::Legacy(streams) => {
                planned.extend(streams.iter().cloned());
            }
            AirbyteState::Global { shared, streams } => {
                // A shared state covers every stream synced, as when the source wrote it.
                let mut checkpoints = txlake_airbyte::state::Checkpoints::new(1);
                planned.extend(checkpoints.global(shared, streams, &synced));
            }
        }
    } else {
        for (stream, airbyte) in state.streams() {
            let descriptor = catalog.stream(stream).ok_or_else(|| ImportError::UnknownStream {
                connection: name.to_string(),
                stream: stream.clone(),
                available: synced.clone(),
            })?;
            let converted = declarative_state(airbyte, descriptor.cursor_field.as_deref())
                .map_err(|reason| ImportError::Stream { stream: stream.clone(), reason })?;
            planned.insert(stream.clone(), converted);
        }
    }

    let run_id = format!("import-airbyte-state-{}", uuid::Uuid::new_v4());
    let lock = SyncLock::acquire(lake, name, &run_id, LOCK_TTL).await.map_err(lake_error)?;
    let result = async {
        let mut tables = Vec::new();
        let mut existing = Vec::new();
        for stream in planned.keys() {
            let descriptor = catalog.stream(stream).expect("planned streams are in the catalog");
            let mode = connection.modes.get(stream).copied().unwrap_or(descriptor.default_mode);
            if mode == StreamMode::FullRefresh {
                return Err(ImportError::Stream {
                    stream: stream.clone(),
                    reason: "it is synced full_refresh, which reads everything and keeps no state; set its mode to incremental_append or incremental_dedupe in `modes`".into(),
                });
            }
            // No rows are written: the table is opened (created if new) with the stream's
            // schema only to commit the state.
            let table = StreamTable::open(lake, &TableId::new(name, stream), descriptor.schema.clone(), WriteMode::Append)
                .await
                .map_err(lake_error)?;
            if table.committed_state().await.map_err(lake_error)?.is_some() {
                existing.push(stream.clone());
            }
            tables.push((stream.clone(), table));
        }
        if !existing.is_empty() && !force {
            return Err(ImportError::HasState { connection: name.to_string(), streams: existing });
        }
        let mut streams = Vec::new();
        for (stream, mut table) in tables {
            let state = planned.remove(&stream).expect("each table has its state");
            let summary = table.commit(Some(&state), &run_id).await.map_err(lake_error)?;
            streams.push(ImportedStream { stream, state, version: summary.version });
        }
        Ok(ImportReport { form: state.form(), airbyte_process, streams, replaced: existing })
    }
    .await;
    let _ = lock.release().await;
    result
}

/// A stream's Airbyte state as our declarative engine keeps it.
fn declarative_state(airbyte: &Value, cursor_field: Option<&str>) -> Result<Value, String> {
    if let Some(states) = airbyte.get("states") {
        let Value::Array(items) = states else { return Err("`states` (per-partition state) is not a list".into()) };
        let mut partitions = Vec::new();
        let mut newest: Option<cursor::Micros> = None;
        for (i, item) in items.iter().enumerate() {
            let Some(Value::Object(partition)) = item.get("partition") else {
                return Err(format!("states[{i}] has no `partition` object"));
            };
            let at = item
                .get("cursor")
                .ok_or_else(|| format!("states[{i}] has no `cursor`"))
                .and_then(|c| cursor_time(c, cursor_field).map_err(|e| format!("states[{i}].cursor: {e}")))?;
            newest = newest.max(Some(at));
            partitions.push(json!({"partition": partition_key(partition), "cursor": cursor::rfc3339(at)}));
        }
        // The stream's own (global) cursor when Airbyte kept one, else the newest partition's.
        let global = match airbyte.get("state") {
            Some(state @ Value::Object(map)) if !map.is_empty() => {
                Some(cursor_time(state, cursor_field).map_err(|e| format!("state: {e}"))?)
            }
            _ => newest,
        };
        let mut state = json!({"partitions": partitions});
        if let Some(at) = global {
            state["cursor"] = Value::String(cursor::rfc3339(at));
        }
        return Ok(state);
    }
    let at = cursor_time(airbyte, cursor_field)?;
    Ok(json!({"cursor": cursor::rfc3339(at)}))
}

/// Airbyte's partition (`{"<field>": v, "parent_slice": {…}}`) as the engine keys it: the
/// same fields, `parent_slice` last.
fn partition_key(partition: &Map<String, Value>) -> Value {
    let mut key: Map<String, Value> =
        partition.iter().filter(|(k, _)| k.as_str() != "parent_slice").map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(parent) = partition.get("parent_slice") {
        key.insert("parent_slice".into(), parent.clone());
    }
    Value::Object(key)
}

/// The time in `{"<cursor_field>": T}`.
fn cursor_time(state: &Value, cursor_field: Option<&str>) -> Result<cursor::Micros, String> {
    let Value::Object(map) = state else { return Err(format!("expected {{\"<cursor field>\": <time>}}, not {state}")) };
    let (field, value) = match cursor_field.and_then(|f| map.get_key_value(f)) {
        Some(found) => found,
        None => {
            // Airbyte names the field as the manifest's cursor does; the only time-like
            // entry is it when our catalog names it otherwise.
            let times: Vec<_> = map.iter().filter(|(_, v)| v.is_string() || v.is_number()).collect();
            match (times.as_slice(), cursor_field) {
                ([only], _) => *only,
                (_, Some(field)) => {
                    return Err(format!(
                        "the state {state} has no `{field}` (the stream's cursor field) and no single time to use instead"
                    ));
                }
                (_, None) => {
                    return Err(format!(
                        "the stream has no cursor field, and the state {state} has no single time to use"
                    ));
                }
            }
        }
    };
    cursor::parse(value, &CursorFormat::Rfc3339)
        .ok_or_else(|| format!("`{field}` = {value} is not a time (RFC 3339, `YYYY-MM-DD[ HH:MM:SS]` or unix seconds)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_stream_list_and_wrapped_messages() {
        let state = AirbyteState::parse(
            r#"[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users", "namespace": "x"}, "stream_state": {"updated_at": "2024-01-02"}}},
                {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "tickets"}, "stream_state": {"id": 4}}}}]"#,
        )
        .unwrap();
        assert_eq!(
            state,
            AirbyteState::Streams(vec![
                ("users".into(), json!({"updated_at": "2024-01-02"})),
                ("tickets".into(), json!({"id": 4}))
            ])
        );
        assert_eq!(state.form(), "per-stream");
    }

    #[test]
    fn legacy_documents_and_global_states() {
        let legacy = AirbyteState::parse(r#"{"users": {"updated_at": 1}, "forms": {"x": "y"}}"#).unwrap();
        assert_eq!(legacy.form(), "legacy");
        assert_eq!(legacy.streams().len(), 2);
        let wrapped = AirbyteState::parse(r#"[{"type": "LEGACY", "data": {"users": {"updated_at": 1}}}]"#).unwrap();
        assert_eq!(wrapped, AirbyteState::Legacy(vec![("users".into(), json!({"updated_at": 1}))]));
        let global = AirbyteState::parse(
            r#"[{"type": "GLOBAL", "global": {"shared_state": {"lsn": 9}, "stream_states": [{"stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}}]}}]"#,
        )
        .unwrap();
        assert_eq!(
            global,
            AirbyteState::Global { shared: json!({"lsn": 9}), streams: vec![("a".into(), json!({"c": 1}))] }
        );
        let api = AirbyteState::parse(
            r#"{"stateType": "stream", "connectionId": "c", "streamState": [{"streamDescriptor": {"name": "a"}, "streamState": {"c": 2}}]}"#,
        )
        .unwrap();
        assert_eq!(api, AirbyteState::Streams(vec![("a".into(), json!({"c": 2}))]));
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        let err = |text: &str| AirbyteState::parse(text).unwrap_err().to_string();
        assert!(err("{not json").contains("it is not JSON"), "{}", err("{not json"));
        assert!(err("[]").contains("empty"));
        assert!(err("3").contains("not a number"));
        assert!(
            err(r#"[{"type": "STREAM", "stream": {"stream_state": {}}}]"#)
                .contains("item 0: `stream_descriptor.name` is missing")
        );
        assert!(
            err(r#"[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": 5}}]"#)
                .contains("stream `a`: `stream_state` is a number, not an object")
        );
        assert!(err(r#"[{"type": "STREAMZ"}]"#).contains("unknown state type `STREAMZ`"));
        assert!(err(r#"{"users": 5}"#).contains("`users` is a number"));
        let mixed = r#"[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {}}}, {"type": "GLOBAL", "global": {}}]"#;
        assert!(err(mixed).contains("mix state types"), "{}", err(mixed));
        let twice = r#"[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {}}}, {"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {}}}]"#;
        assert!(err(twice).contains("stream `a` has two states"));
        assert!(err(r#"{"stateType": "not_set"}"#).contains("nothing to import"));
    }

    #[test]
    fn cursor_states_become_the_engines() {
        assert_eq!(
            declarative_state(&json!({"updated_at": "2024-03-01T10:00:00Z"}), Some("updated_at")).unwrap(),
            json!({"cursor": "2024-03-01T10:00:00Z"})
        );
        // Unix seconds, and a field our catalog names otherwise.
        assert_eq!(
            declarative_state(&json!({"modified": 1_709_287_200}), Some("updated_at")).unwrap(),
            json!({"cursor": "2024-03-01T10:00:00Z"})
        );
        let err = declarative_state(&json!({"updated_at": "soon"}), Some("updated_at")).unwrap_err();
        assert!(err.contains("`updated_at` = \"soon\" is not a time"), "{err}");
        let err = declarative_state(&json!({"a": "2024-01-01", "b": "2024-01-02"}), Some("updated_at")).unwrap_err();
        assert!(err.contains("has no `updated_at`"), "{err}");
    }

    #[test]
    fn per_partition_states_become_the_engines() {
        let airbyte = json!({
            "states": [
                {"partition": {"parent_slice": {}, "form_id": "f1"}, "cursor": {"submitted_at": "2024-02-01T00:00:00Z"}},
                {"partition": {"form_id": "f2", "parent_slice": {}}, "cursor": {"submitted_at": "2024-03-01T00:00:00Z"}}
            ],
            "state": {"submitted_at": "2024-01-15T00:00:00Z"},
            "use_global_cursor": false,
            "lookback_window": 0
        });
        assert_eq!(
            declarative_state(&airbyte, Some("submitted_at")).unwrap(),
            json!({
                "partitions": [
                    {"partition": {"form_id": "f1", "parent_slice": {}}, "cursor": "2024-02-01T00:00:00Z"},
                    {"partition": {"form_id": "f2", "parent_slice": {}}, "cursor": "2024-03-01T00:00:00Z"}
                ],
                "cursor": "2024-01-15T00:00:00Z"
            })
        );
        let without_global = json!({"states": [{"partition": {"board": 1}, "cursor": {"t": "2024-02-01"}}]});
        assert_eq!(declarative_state(&without_global, Some("t")).unwrap()["cursor"], "2024-02-01T00:00:00Z");
        let err = declarative_state(&json!({"states": [{"cursor": {}}]}), Some("t")).unwrap_err();
        assert!(err.contains("states[0] has no `partition`"), "{err}");
    }
}
