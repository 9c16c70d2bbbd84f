//! Catalogs both ways: a source's `CATALOG` → txlake [`Catalog`], and a txlake
//! [`ConfiguredCatalog`] → the `ConfiguredAirbyteCatalog` file `read --catalog` takes.

use std::sync::Arc;

use serde_json::{Value, json};
use txlake_connector::{
    Catalog, ConfiguredCatalog, ConnectorError, StreamDescriptor, StreamMode, SyncMode, arrow_schema,
};

/// A stream as the source described it, kept whole so the configured catalog can send it
/// back unchanged.
#[derive(Debug, Clone)]
pub struct AirbyteStream {
    /// The `AirbyteStream` object.
    pub raw: Value,
    /// `name`.
    pub name: String,
    /// `namespace`, if any.
    pub namespace: Option<String>,
}

impl AirbyteStream {
    fn paths(&self, field: &str) -> Vec<Vec<String>> {
        self.raw.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(path).collect()
    }

    /// `default_cursor_field`, a path into the record (`["updated_at"]`).
    fn default_cursor(&self) -> Option<Vec<String>> {
        self.raw.get("default_cursor_field").and_then(path).filter(|p| !p.is_empty())
    }

    fn source_defined_cursor(&self) -> bool {
        self.raw.get("source_defined_cursor").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The `{"name", "namespace"}` descriptor states and statuses use.
    pub fn descriptor(&self) -> Value {
        match &self.namespace {
            Some(namespace) => json!({"name": self.name, "namespace": namespace}),
            None => json!({"name": self.name}),
        }
    }
}

fn path(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(|part| part.as_str().map(str::to_string)).collect()
}

/// The streams of a `CATALOG` message's `catalog`.
pub fn parse_catalog(catalog: &Value) -> Result<Vec<AirbyteStream>, ConnectorError> {
    let streams = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Source("the source's CATALOG has no `streams` list".into()))?;
    let mut out: Vec<AirbyteStream> = Vec::with_capacity(streams.len());
    for raw in streams {
        let name = raw
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Source(format!("the source's CATALOG has a stream without a name: {raw}")))?
            .to_string();
        if out.iter().any(|s| s.name == name) {
            return Err(ConnectorError::Source(format!(
                "the source's CATALOG has two streams named `{name}` (in different namespaces); txlake names tables by stream name only"
            )));
        }
        let namespace = raw.get("namespace").and_then(Value::as_str).map(str::to_string);
        out.push(AirbyteStream { raw: raw.clone(), name, namespace });
    }
    Ok(out)
}

/// The txlake descriptor of a stream: its `json_schema` as Arrow, a top-level primary key
/// and cursor (nested paths cannot key a table), the supported modes and a default mode.
pub fn descriptor(stream: &AirbyteStream) -> Result<StreamDescriptor, ConnectorError> {
    let json_schema = stream.raw.get("json_schema").cloned().unwrap_or_else(|| json!({}));
    let schema = arrow_schema(&json_schema).map_err(|e| match e {
        ConnectorError::Source(message) => ConnectorError::Source(format!("stream `{}`: {message}", stream.name)),
        other => other,
    })?;
    let has_column = |name: &str| schema.field_with_name(name).is_ok();

    let key_paths = stream.paths("source_defined_primary_key");
    let primary_key: Vec<String> = if key_paths.iter().all(|p| p.len() == 1 && has_column(&p[0])) {
        key_paths.into_iter().map(|mut p| p.remove(0)).collect()
    } else {
        tracing::warn!(stream = %stream.name, ?key_paths, "the primary key is not a set of top-level columns; the stream cannot be deduplicated");
        Vec::new()
    };
    let cursor_field = match stream.default_cursor() {
        Some(p) if p.len() == 1 && has_column(&p[0]) => Some(p[0].clone()),
        _ => None,
    };

    let mut sync_modes: Vec<SyncMode> = Vec::new();
    for mode in stream.raw.get("supported_sync_modes").and_then(Value::as_array).into_iter().flatten() {
        let mode = match mode.as_str() {
            Some("full_refresh") => SyncMode::FullRefresh,
            // Without a cursor the source wants the user to pick one, which txlake has no
            // setting for.
            Some("incremental") if stream.default_cursor().is_some() || stream.source_defined_cursor() => {
                SyncMode::Incremental
            }
            _ => continue,
        };
        if !sync_modes.contains(&mode) {
            sync_modes.push(mode);
        }
    }
    if sync_modes.is_empty() {
        sync_modes.push(SyncMode::FullRefresh);
    }
    let default_mode = match (sync_modes.contains(&SyncMode::Incremental), primary_key.is_empty()) {
        (true, false) => StreamMode::IncrementalDedupe,
        (true, true) => StreamMode::IncrementalAppend,
        (false, _) => StreamMode::FullRefresh,
    };
    let description = json_schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("`{}` records of the Airbyte source", stream.name));
    Ok(StreamDescriptor {
        name: stream.name.clone(),
        description,
        schema: Arc::new(schema),
        primary_key,
        cursor_field,
        sync_modes,
        default_mode,
    })
}

/// The txlake catalog of the source's streams.
pub fn to_catalog(streams: &[AirbyteStream]) -> Result<Catalog, ConnectorError> {
    Ok(Catalog { streams: streams.iter().map(descriptor).collect::<Result<_, _>>()?, questions: Vec::new() })
}

/// The `ConfiguredAirbyteCatalog` for a read: each chosen stream as the source described
/// it, with its sync mode, destination mode, cursor and primary key.
pub fn configured_catalog(catalog: &ConfiguredCatalog, streams: &[AirbyteStream]) -> Result<Value, ConnectorError> {
    let mut configured = Vec::with_capacity(catalog.streams.len());
    for chosen in &catalog.streams {
        let name = &chosen.stream.name;
        let stream = streams.iter().find(|s| &s.name == name).ok_or_else(|| ConnectorError::UnknownStream {
            connector: "airbyte".into(),
            stream: name.clone(),
            available: streams.iter().map(|s| s.name.clone()).collect(),
        })?;
        let (sync_mode, destination_sync_mode) = match chosen.mode {
            StreamMode::FullRefresh => ("full_refresh", "overwrite"),
            StreamMode::IncrementalAppend => ("incremental", "append"),
            StreamMode::IncrementalDedupe => ("incremental", "append_dedup"),
        };
        let cursor_field =
            stream.default_cursor().or_else(|| chosen.stream.cursor_field.clone().map(|c| vec![c])).unwrap_or_default();
        let mut primary_key = stream.paths("source_defined_primary_key");
        if primary_key.is_empty() {
            primary_key = chosen.stream.primary_key.iter().map(|k| vec![k.clone()]).collect();
        }
        configured.push(json!({
            "stream": stream.raw,
            "sync_mode": sync_mode,
            "destination_sync_mode": destination_sync_mode,
            "cursor_field": cursor_field,
            "primary_key": primary_key,
        }));
    }
    Ok(json!({ "streams": configured }))
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::DataType;
    use txlake_connector::ConfiguredStream;

    use super::*;

    fn source_catalog() -> Value {
        json!({"streams": [
            {
                "name": "events",
                "namespace": "shop",
                "json_schema": {"type": "object", "properties": {
                    "id": {"type": "integer"},
                    "updated_at": {"type": ["null", "string"], "format": "date-time"},
                    "payload": {"type": "object"}
                }},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": true,
                "default_cursor_field": ["updated_at"],
                "source_defined_primary_key": [["id"]],
                "is_resumable": true
            },
            {
                "name": "logs",
                "json_schema": {"type": "object", "properties": {"line": {"type": "string"}}},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": true
            },
            {
                "name": "users",
                "json_schema": {"type": "object", "description": "People.", "properties": {"id": {"type": "integer"}}},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_primary_key": [["id"]]
            },
            {"name": "nested", "json_schema": {}, "supported_sync_modes": ["incremental"],
             "default_cursor_field": ["meta", "at"], "source_defined_primary_key": [["meta", "id"]]}
        ]})
    }

    #[test]
    fn streams_map_to_descriptors() {
        let streams = parse_catalog(&source_catalog()).unwrap();
        let catalog = to_catalog(&streams).unwrap();
        assert_eq!(catalog.names(), ["events", "logs", "users", "nested"]);

        let events = catalog.stream("events").unwrap();
        assert_eq!(events.primary_key, ["id"]);
        assert_eq!(events.cursor_field.as_deref(), Some("updated_at"));
        assert_eq!(events.sync_modes, [SyncMode::FullRefresh, SyncMode::Incremental]);
        assert_eq!(events.default_mode, StreamMode::IncrementalDedupe);
        assert!(matches!(events.schema.field_with_name("updated_at").unwrap().data_type(), DataType::Timestamp(..)));
        assert!(events.schema.field_with_name("payload").is_err(), "an object without properties is omitted");

        let logs = catalog.stream("logs").unwrap();
        assert_eq!((logs.cursor_field.clone(), logs.default_mode), (None, StreamMode::IncrementalAppend));

        let users = catalog.stream("users").unwrap();
        assert_eq!(users.sync_modes, [SyncMode::FullRefresh], "incremental needs a cursor txlake cannot choose");
        assert_eq!(users.default_mode, StreamMode::FullRefresh);
        assert_eq!(users.description, "People.");

        let nested = catalog.stream("nested").unwrap();
        assert!(nested.primary_key.is_empty() && nested.cursor_field.is_none());
        assert_eq!(nested.default_mode, StreamMode::IncrementalAppend);
    }

    #[test]
    fn configured_catalog_sends_the_streams_back_with_their_modes() {
        let streams = parse_catalog(&source_catalog()).unwrap();
        let catalog = to_catalog(&streams).unwrap();
        let chosen = |name: &str, mode| ConfiguredStream { stream: catalog.stream(name).unwrap().clone(), mode };
        let configured = ConfiguredCatalog {
            streams: vec![
                chosen("events", StreamMode::IncrementalDedupe),
                chosen("logs", StreamMode::IncrementalAppend),
                chosen("users", StreamMode::FullRefresh),
            ],
        };
        let file = configured_catalog(&configured, &streams).unwrap();
        let streams = file["streams"].as_array().unwrap();
        assert_eq!(streams[0]["stream"], source_catalog()["streams"][0], "sent back unchanged");
        assert_eq!(streams[0]["sync_mode"], "incremental");
        assert_eq!(streams[0]["destination_sync_mode"], "append_dedup");
        assert_eq!(streams[0]["cursor_field"], json!(["updated_at"]));
        assert_eq!(streams[0]["primary_key"], json!([["id"]]));
        assert_eq!(streams[1]["destination_sync_mode"], "append");
        assert_eq!(streams[1]["cursor_field"], json!([]));
        assert_eq!(streams[2]["sync_mode"], "full_refresh");
        assert_eq!(streams[2]["destination_sync_mode"], "overwrite");
    }

    #[test]
    fn catalog_mistakes_are_reported() {
        let err = parse_catalog(&json!({})).unwrap_err().to_string();
        assert!(err.contains("streams"), "{err}");
        let twice = json!({"streams": [{"name": "a", "namespace": "x"}, {"name": "a", "namespace": "y"}]});
        assert!(parse_catalog(&twice).unwrap_err().to_string().contains("two streams named `a`"));
        let bad = json!({"streams": [{"name": "a", "json_schema": {"properties": {"x": {"type": "decimal"}}}}]});
        let err = to_catalog(&parse_catalog(&bad).unwrap()).unwrap_err().to_string();
        assert!(err.contains("stream `a`") && err.contains("decimal"), "{err}");
    }
}
