//! The connector conformance suite: every point of `connectors/CONFORMANCE.md`, checked
//! against every connector in [`targets`]. A connector joins by adding one line there.

pub mod faults;
mod targets;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::StreamExt as _;
use serde_json::Value;
use txlake_connector::{
    Catalog, ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, Message, ReadRequest, StateMap, StreamMode,
};

pub use self::faults::{Fault, FaultLayer};

/// An in-process fake of a connector's source system.
pub trait FakeSource: Send + Sync {
    /// Settings that work against the fake (with `base_url` pointing at it).
    fn config(&self) -> Value;
    /// The same settings with credentials the fake refuses.
    fn bad_credentials(&self) -> Value;
    /// Changes some records as the real system would (a newer modification time) and
    /// returns, per stream, how many records changed; `None` for a source that cannot change.
    fn touch(&self) -> Option<BTreeMap<String, usize>>;
    /// Where faults are injected.
    fn faults(&self) -> &FaultLayer;
}

/// A connector and a running fake of its source.
pub struct Target {
    /// The connector under test.
    pub connector: Arc<dyn Connector>,
    /// Its fake source.
    pub source: Arc<dyn FakeSource>,
    /// Which rules apply to it.
    pub kind: Kind,
}

/// What kind of source a connector reads, which decides the rules that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An HTTP API with credentials: every rule.
    HttpApi,
    /// A program with credentials but no HTTP of ours (Airbyte plugins): rules 3, 12 and 13
    /// are the program's own business.
    Program,
    /// A generator without credentials (`sample`): rules 3, 4, 12 and 13 do not apply.
    Generator,
}

/// What a read produced, by stream.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// Batches by stream.
    pub batches: BTreeMap<String, Vec<RecordBatch>>,
    /// The last state by stream.
    pub states: StateMap,
    /// Whether a state ever came before a batch of the same stream that it did not cover:
    /// checked by the order of messages (a batch after the final state is a violation).
    pub batches_after_final_state: Vec<String>,
}

impl ReadOutcome {
    /// Rows read of a stream.
    pub fn rows(&self, stream: &str) -> usize {
        self.batches.get(stream).map_or(0, |b| b.iter().map(RecordBatch::num_rows).sum())
    }
}

/// Every stream of the catalog in its default mode.
pub fn default_catalog(catalog: &Catalog) -> ConfiguredCatalog {
    ConfiguredCatalog {
        streams: catalog.streams.iter().map(|s| ConfiguredStream { stream: s.clone(), mode: s.default_mode }).collect(),
    }
}

/// Reads the configured streams to the end.
pub async fn read_all(
    connector: &dyn Connector,
    config: &Value,
    catalog: &ConfiguredCatalog,
    state: &StateMap,
) -> Result<ReadOutcome, ConnectorError> {
    let request = ReadRequest { config: config.clone(), catalog: catalog.clone(), state: state.clone() };
    let mut messages = connector.read(request).await?;
    let mut outcome = ReadOutcome::default();
    let mut pending_after_state: BTreeMap<String, bool> = BTreeMap::new();
    while let Some(message) = messages.next().await {
        match message? {
            Message::Batch { stream, batch } => {
                let expected = catalog.stream(&stream).map(|s| s.stream.schema.clone());
                if let Some(schema) = expected {
                    assert_eq!(
                        batch.schema().fields(),
                        schema.fields(),
                        "stream `{stream}`: a batch does not follow the discovered schema"
                    );
                }
                pending_after_state.insert(stream.clone(), true);
                outcome.batches.entry(stream).or_default().push(batch);
            }
            Message::State { stream, state } => {
                pending_after_state.insert(stream.clone(), false);
                outcome.states.insert(stream, state);
            }
            // A failed stream is a failed read for the rules below (rule 13 wants its URL).
            Message::StreamFailed { stream, error } => {
                return Err(ConnectorError::Source(format!("stream `{stream}`: {error}")));
            }
            Message::Log { .. } | Message::Progress { .. } | Message::ReplaceRows { .. } | Message::Warnings { .. } => {
            }
        }
    }
    outcome.batches_after_final_state = pending_after_state
        .into_iter()
        .filter(|(stream, pending)| *pending && outcome.states.contains_key(stream))
        .map(|(s, _)| s)
        .collect();
    Ok(outcome)
}

/// Runs every conformance check against one target; panics naming the rule that failed.
pub async fn check_target(target: &Target) {
    let connector = target.connector.as_ref();
    let name = connector.name().to_string();
    let source = target.source.as_ref();
    let config = source.config();

    // Spec: a valid JSON Schema, secrets marked, base_url accepted.
    let spec = connector.spec();
    jsonschema::validator_for(&spec.config_schema)
        .unwrap_or_else(|e| panic!("{name}: rule 1: spec is not a JSON Schema: {e}"));
    let secrets = spec.secret_fields();
    let properties = spec.config_schema["properties"].as_object().cloned().unwrap_or_default();
    for key in properties.keys() {
        let looks_secret =
            ["token", "password", "secret", "api_key"].iter().any(|w| key.contains(w)) && !key.ends_with("_url");
        assert!(
            !looks_secret || secrets.contains(key),
            "{name}: rule 2: `{key}` looks like a secret but is not marked x-secret"
        );
    }
    let http = target.kind == Kind::HttpApi;
    assert!(!http || properties.contains_key("base_url"), "{name}: rule 3: no `base_url` setting");
    spec.validate(&name, &config).unwrap_or_else(|e| panic!("{name}: the fake's settings do not pass the spec: {e}"));

    // Check.
    connector.check(&config).await.unwrap_or_else(|e| panic!("{name}: rule 4: check fails with working settings: {e}"));
    if target.kind != Kind::Generator {
        let bad = source.bad_credentials();
        match connector.check(&bad).await {
            Err(ConnectorError::Auth(message)) => assert_no_secret(&name, "rule 5 (check)", &message, &bad, &secrets),
            other => {
                panic!("{name}: rule 4: check with bad credentials should be an authentication error, got {other:?}")
            }
        }
    }

    // Discover.
    let catalog = connector.discover(&config).await.unwrap_or_else(|e| panic!("{name}: discover fails: {e}"));
    assert!(!catalog.streams.is_empty(), "{name}: discover returns no streams");
    for stream in &catalog.streams {
        let columns: Vec<&String> = stream.schema.fields().iter().map(|f| f.name()).collect();
        assert!(!columns.is_empty(), "{name}.{}: rule 6: empty schema", stream.name);
        for key in &stream.primary_key {
            assert!(columns.contains(&key), "{name}.{}: rule 7: primary key `{key}` is not a column", stream.name);
        }
        if let Some(cursor) = &stream.cursor_field {
            assert!(columns.contains(&cursor), "{name}.{}: rule 7: cursor `{cursor}` is not a column", stream.name);
        }
        if stream.sync_modes.contains(&txlake_connector::SyncMode::Incremental) {
            assert!(
                stream.cursor_field.is_some(),
                "{name}.{}: rule 8: incremental without a cursor field",
                stream.name
            );
        }
    }

    // Read, then resume: nothing twice; then touched records come back.
    let configured = default_catalog(&catalog);
    let first = read_all(connector, &config, &configured, &StateMap::new())
        .await
        .unwrap_or_else(|e| panic!("{name}: the first read fails: {e}"));
    assert!(
        first.batches_after_final_state.is_empty(),
        "{name}: rule 10: records after the last state of {:?}",
        first.batches_after_final_state
    );
    for stream in &catalog.streams {
        assert!(
            first.rows(&stream.name) > 0,
            "{name}.{}: the fake serves records but the read returned none",
            stream.name
        );
    }
    let incremental: Vec<&str> = configured
        .streams
        .iter()
        .filter(|s| s.mode != StreamMode::FullRefresh)
        .map(|s| s.stream.name.as_str())
        .collect();
    if !incremental.is_empty() {
        let again = read_all(connector, &config, &configured, &first.states)
            .await
            .unwrap_or_else(|e| panic!("{name}: resume fails: {e}"));
        for stream in &incremental {
            assert!(
                first.states.contains_key(*stream),
                "{name}.{stream}: rule 11: an incremental read ended without a state"
            );
            assert_eq!(again.rows(stream), 0, "{name}.{stream}: rule 11: resuming read records again");
        }
        let touched = source.touch().unwrap_or_default();
        let config = source.config();
        let after = read_all(connector, &config, &configured, &first.states)
            .await
            .unwrap_or_else(|e| panic!("{name}: resume fails: {e}"));
        for (stream, changed) in touched.iter().filter(|(s, _)| incremental.contains(&s.as_str())) {
            assert_eq!(
                after.rows(stream),
                *changed,
                "{name}.{stream}: rule 11: after {changed} changes the resumed read returned {}",
                after.rows(stream)
            );
        }
    }

    // Failures: one 429, one 500, one truncated page.
    if !http {
        return;
    }
    let check_stream = configured.streams[0].clone();
    let one =
        ConfiguredCatalog { streams: vec![ConfiguredStream { mode: StreamMode::FullRefresh, ..check_stream.clone() }] };
    let expected = read_all(connector, &config, &one, &StateMap::new()).await.unwrap().rows(&check_stream.stream.name);
    for fault in [Fault::RateLimited, Fault::ServerError] {
        source.faults().inject(fault);
        let outcome = read_all(connector, &config, &one, &StateMap::new())
            .await
            .unwrap_or_else(|e| panic!("{name}: rule 12: a read that met {fault:?} failed: {e}"));
        assert_eq!(
            outcome.rows(&check_stream.stream.name),
            expected,
            "{name}: rule 12: {fault:?} changed what was read"
        );
        assert!(source.faults().pending() == 0, "{name}: the {fault:?} was never requested");
    }
    source.faults().inject(Fault::Truncated);
    match read_all(connector, &config, &one, &StateMap::new()).await {
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("http://127.0.0.1"),
                "{name}: rule 13: the error does not name the URL: {message}"
            );
            assert!(
                message.contains(&check_stream.stream.name),
                "{name}: rule 13: the error does not name the stream: {message}"
            );
            assert_no_secret(&name, "rule 5 (read)", &message, &config, &secrets);
        }
        Ok(outcome) => panic!(
            "{name}: rule 13: a truncated page did not fail the read ({} rows)",
            outcome.rows(&check_stream.stream.name)
        ),
    }
}

fn assert_no_secret(name: &str, rule: &str, message: &str, config: &Value, secrets: &[String]) {
    for key in secrets {
        if let Some(value) = config.get(key).and_then(Value::as_str).filter(|v| v.len() >= 4) {
            assert!(!message.contains(value), "{name}: {rule}: the message shows the secret `{key}`: {message}");
        }
    }
}
