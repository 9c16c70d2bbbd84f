//! A read from start to finish: checking a [`ReadRequest`] into a [`ReadPlan`] (config,
//! streams, modes and saved watermarks), running the simulation on a blocking thread, and
//! handing its messages to the async caller through a small bounded channel.
//!
//! State of an incremental stream is `{"cursor": "<RFC 3339 UTC timestamp>"}`: an exclusive
//! watermark — every record whose cursor is earlier has been emitted before.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream;
use serde_json::Value;
use txlake_connector::{ConnectorError, Message, MessageStream, ReadRequest, Result, StreamMode, SyncMode};

use crate::CONNECTOR_NAME;
use crate::config::{SampleConfig, Settings};
use crate::emit::Emitter;
use crate::simulation;
use crate::streams::StreamKind;

/// Messages buffered between the generator thread and the reader.
const CHANNEL_CAPACITY: usize = 4;

/// How one stream is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamPlan {
    pub kind: StreamKind,
    pub mode: StreamMode,
    /// The saved exclusive watermark, in microseconds since the epoch (incremental reads).
    pub watermark: Option<i64>,
}

/// A checked read request.
#[derive(Debug, Clone)]
pub(crate) struct ReadPlan {
    pub settings: Settings,
    pub streams: Vec<StreamPlan>,
}

impl ReadPlan {
    /// Checks the configuration, the catalog and the state of a request.
    pub(crate) fn new(request: &ReadRequest) -> Result<ReadPlan> {
        let settings = SampleConfig::from_json(&request.config)?.settings()?;
        let mut streams: Vec<StreamPlan> = Vec::new();
        for configured in &request.catalog.streams {
            let name = configured.stream.name.as_str();
            let kind = StreamKind::from_name(name).ok_or_else(|| ConnectorError::UnknownStream {
                connector: CONNECTOR_NAME.to_string(),
                stream: name.to_string(),
                available: StreamKind::ALL.iter().map(|k| k.name().to_string()).collect(),
            })?;
            kind.descriptor().check_mode(configured.mode).map_err(|reason| ConnectorError::UnsupportedMode {
                stream: name.to_string(),
                mode: configured.mode.to_string(),
                reason,
            })?;
            if streams.iter().any(|s| s.kind == kind) {
                continue;
            }
            let watermark = match (configured.mode.sync_mode(), request.state.get(name)) {
                (SyncMode::Incremental, Some(state)) => Some(parse_state(name, state)?),
                _ => None,
            };
            streams.push(StreamPlan { kind, mode: configured.mode, watermark });
        }
        Ok(ReadPlan { settings, streams })
    }
}

/// Reads `{"cursor": "<RFC 3339>"}` into microseconds since the epoch.
pub(crate) fn parse_state(stream: &str, state: &Value) -> Result<i64> {
    let rejected = |reason: &str| ConnectorError::InvalidState {
        stream: stream.to_string(),
        state: state.to_string(),
        reason: reason.to_string(),
    };
    let object =
        state.as_object().ok_or_else(|| rejected("expected an object {\"cursor\": \"<RFC 3339 timestamp>\"}"))?;
    if let Some(extra) = object.keys().find(|k| k.as_str() != "cursor") {
        return Err(rejected(&format!("unexpected key `{extra}`; expected only `cursor`")));
    }
    let text = object
        .get("cursor")
        .and_then(Value::as_str)
        .ok_or_else(|| rejected("`cursor` must be a string holding an RFC 3339 timestamp"))?;
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|e| rejected(&format!("`cursor` {text:?} is not an RFC 3339 timestamp: {e}")))?;
    Ok(at.with_timezone(&Utc).timestamp_micros())
}

/// Formats a watermark as an RFC 3339 UTC timestamp (`2025-01-02T00:00:00Z`).
pub(crate) fn format_cursor(micros: i64) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(at) => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        // Watermarks come from dates between 1900 and 2300, which are always representable.
        None => micros.to_string(),
    }
}

/// Runs a checked read on the current thread, passing every message to `sink` until it
/// returns `false`. A read of no streams emits nothing.
pub(crate) fn run_blocking(plan: &ReadPlan, sink: &mut dyn FnMut(Message) -> bool) -> Result<()> {
    if plan.streams.is_empty() {
        return Ok(());
    }
    let mut emitter = Emitter::new(&plan.streams, plan.settings.batch_size, sink);
    simulation::run(&plan.settings, &mut emitter);
    emitter.finish(plan.settings.end_us())
}

/// Starts the read on a blocking thread and returns its messages as an async stream. When
/// the stream is dropped, the generator notices at its next message and stops.
pub(crate) fn spawn(plan: ReadPlan) -> MessageStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Message>>(CHANNEL_CAPACITY);
    tokio::task::spawn_blocking(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_blocking(&plan, &mut |message| tx.blocking_send(Ok(message)).is_ok())
        }));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(ConnectorError::Internal("the sample generator panicked; this is a bug".to_string())),
        };
        if let Some(e) = failure {
            // The receiver may be gone already; then nobody needs the error.
            let _ = tx.blocking_send(Err(e));
        }
    });
    Box::pin(stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|message| (message, rx)) }))
}
