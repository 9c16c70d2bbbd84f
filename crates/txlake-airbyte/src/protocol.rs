//! The Airbyte protocol's messages: one JSON object per stdout line, parsed without building
//! a `serde_json::Value` for record data (the hot path borrows the raw bytes of `data`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use txlake_connector::{ConnectorError, LogLevel};

/// One line of a source's stdout.
#[derive(Debug)]
pub enum Line<'a> {
    /// A protocol message.
    Message(Message<'a>),
    /// An empty line.
    Blank,
    /// Not JSON, or JSON without a known message `type` (a stray `print`): logged, not fatal.
    Other,
}

/// A protocol message.
#[derive(Debug)]
pub enum Message<'a> {
    /// `RECORD`: one record of a stream.
    Record(Record<'a>),
    /// `STATE`: a checkpoint.
    State(State),
    /// `LOG`: a line for the user.
    Log(Log),
    /// `TRACE`: an error, an estimate or a stream status.
    Trace(Trace),
    /// `SPEC`: the configuration spec.
    Spec(SpecMessage),
    /// `CONNECTION_STATUS`: the answer of `check`.
    ConnectionStatus(ConnectionStatus),
    /// `CATALOG`: the answer of `discover`.
    Catalog(Value),
    /// `CONTROL` (a configuration update), which txlake does not persist.
    Control,
}

/// A `RECORD` message; `data` borrows the line.
#[derive(Debug, Deserialize)]
pub struct Record<'a> {
    /// The stream's name.
    #[serde(borrow)]
    pub stream: Cow<'a, str>,
    /// The record, as raw JSON text.
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// A `STATE` message, in one of the protocol's three forms.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// `type: STREAM`: the cursor of one stream.
    Stream {
        /// The stream.
        name: String,
        /// Its `stream_state` (null when absent).
        state: Value,
    },
    /// `type: GLOBAL`: a state shared by every stream plus one per stream.
    Global {
        /// `shared_state` (null when absent).
        shared: Value,
        /// `stream_states`, by stream name.
        streams: Vec<(String, Value)>,
    },
    /// `type: LEGACY` or no type: one `data` document for the whole source.
    Legacy(Value),
}

/// A `LOG` message.
#[derive(Debug, Clone, Deserialize)]
pub struct Log {
    /// `FATAL`, `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The text.
    pub message: String,
}

impl Log {
    /// The txlake level: errors and warnings are warnings (the read goes on until the
    /// process says otherwise), debug and trace are debug.
    pub fn level(&self) -> LogLevel {
        match self.level.to_ascii_uppercase().as_str() {
            "FATAL" | "ERROR" | "WARN" | "WARNING" => LogLevel::Warn,
            "DEBUG" | "TRACE" => LogLevel::Debug,
            _ => LogLevel::Info,
        }
    }

    /// The text, prefixed with `ERROR:` for errors (txlake's levels stop at warnings).
    pub fn text(&self) -> String {
        match self.level.to_ascii_uppercase().as_str() {
            "FATAL" | "ERROR" => format!("{}: {}", self.level.to_ascii_uppercase(), self.message),
            _ => self.message.clone(),
        }
    }
}

/// A `TRACE` message.
#[derive(Debug, Clone, PartialEq)]
pub enum Trace {
    /// `type: ERROR`: why the source is failing.
    Error {
        /// `message`, for the user.
        message: String,
        /// `internal_message`, for the developer.
        internal: Option<String>,
        /// `failure_type`: `config_error`, `system_error`, `transient_error`.
        failure_type: Option<String>,
    },
    /// `type: ESTIMATE`: how many records a stream (or the sync) will have.
    Estimate {
        /// The stream, absent for a whole-sync estimate.
        stream: Option<String>,
        /// `row_estimate`.
        rows: Option<u64>,
    },
    /// `type: STREAM_STATUS`: a stream started, completed, …
    StreamStatus {
        /// The stream.
        stream: String,
        /// `STARTED`, `RUNNING`, `COMPLETE`, `INCOMPLETE`.
        status: String,
    },
    /// Another kind (`ANALYTICS`, …), ignored.
    Other,
}

impl Trace {
    /// For an error: its message with the internal one, as a person reads it.
    pub fn error_text(&self) -> Option<String> {
        let Trace::Error { message, internal, failure_type } = self else { return None };
        let mut text = message.clone();
        if let Some(internal) = internal.as_deref().filter(|i| !i.is_empty() && *i != message) {
            text.push_str(&format!(" ({internal})"));
        }
        if let Some(kind) = failure_type {
            text.push_str(&format!(" [{kind}]"));
        }
        Some(text)
    }
}

/// A `SPEC` message.
#[derive(Debug, Clone, Deserialize)]
pub struct SpecMessage {
    /// The JSON Schema of the configuration.
    #[serde(rename = "connectionSpecification")]
    pub connection_specification: Value,
    /// Where the source is documented.
    #[serde(rename = "documentationUrl", default)]
    pub documentation_url: Option<String>,
}

/// A `CONNECTION_STATUS` message.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionStatus {
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// Why it failed.
    #[serde(default)]
    pub message: Option<String>,
}

/// The envelope of every message; only the field its `type` names is parsed further.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    record: Option<Record<'a>>,
    #[serde(borrow, default)]
    state: Option<&'a RawValue>,
    #[serde(borrow, default)]
    log: Option<&'a RawValue>,
    #[serde(borrow, default)]
    trace: Option<&'a RawValue>,
    #[serde(borrow, default)]
    spec: Option<&'a RawValue>,
    #[serde(rename = "connectionStatus", borrow, default)]
    connection_status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    catalog: Option<&'a RawValue>,
}

/// Just the `type`, to tell a malformed message from a line that is not a message at all.
#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

const KINDS: [&str; 8] = ["RECORD", "STATE", "LOG", "TRACE", "SPEC", "CONNECTION_STATUS", "CATALOG", "CONTROL"];

/// Parses one stdout line. A known message type with the wrong shape is an error (the
/// source broke the protocol); anything that is not a message is [`Line::Other`].
pub fn parse_line(line: &[u8]) -> Result<Line<'_>, ConnectorError> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Line::Blank);
    }
    if trimmed[0] != b'{' {
        return Ok(Line::Other);
    }
    let envelope: Envelope<'_> = match serde_json::from_slice(trimmed) {
        Ok(envelope) => envelope,
        Err(e) => {
            return match serde_json::from_slice::<Kind>(trimmed) {
                Ok(Kind { kind: Some(kind), .. }) if KINDS.contains(&kind.as_str()) => {
                    Err(malformed(&kind, &e.to_string(), trimmed))
                }
                _ => Ok(Line::Other),
            };
        }
    };
    let kind = envelope.kind.as_ref();
    let typed = |raw: &RawValue| -> Result<Value, ConnectorError> {
        serde_json::from_str(raw.get()).map_err(|e| malformed(kind, &e.to_string(), trimmed))
    };
    let message = match kind {
        "RECORD" => match envelope.record {
            Some(record) => Message::Record(record),
            None => return Err(malformed(kind, "no `record` field", trimmed)),
        },
        "STATE" => Message::State(
            parse_state(typed(required(kind, trimmed, envelope.state, "state")?)?)
                .map_err(|reason| malformed(kind, &reason, trimmed))?,
        ),
        "LOG" => Message::Log(deserialize(kind, required(kind, trimmed, envelope.log, "log")?, trimmed)?),
        "TRACE" => Message::Trace(parse_trace(typed(required(kind, trimmed, envelope.trace, "trace")?)?)),
        "SPEC" => Message::Spec(deserialize(kind, required(kind, trimmed, envelope.spec, "spec")?, trimmed)?),
        "CONNECTION_STATUS" => Message::ConnectionStatus(deserialize(
            kind,
            required(kind, trimmed, envelope.connection_status, "connectionStatus")?,
            trimmed,
        )?),
        "CATALOG" => Message::Catalog(typed(required(kind, trimmed, envelope.catalog, "catalog")?)?),
        "CONTROL" => Message::Control,
        _ => return Ok(Line::Other),
    };
    Ok(Line::Message(message))
}

fn required<'r>(
    kind: &str,
    line: &[u8],
    field: Option<&'r RawValue>,
    name: &str,
) -> Result<&'r RawValue, ConnectorError> {
    field.ok_or_else(|| malformed(kind, &format!("no `{name}` field"), line))
}

fn deserialize<T: serde::de::DeserializeOwned>(kind: &str, raw: &RawValue, line: &[u8]) -> Result<T, ConnectorError> {
    serde_json::from_str(raw.get()).map_err(|e| malformed(kind, &e.to_string(), line))
}

fn malformed(kind: &str, reason: &str, line: &[u8]) -> ConnectorError {
    ConnectorError::Source(format!(
        "the source sent a malformed {kind} message ({reason}): {}",
        snippet(&String::from_utf8_lossy(line), 300)
    ))
}

/// The start of `text`, at most `max` bytes, with `…` when cut.
pub fn snippet(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// An `AirbyteStateMessage` in any of its forms.
pub fn parse_state(state: Value) -> Result<State, String> {
    let kind = state.get("type").and_then(Value::as_str).unwrap_or("LEGACY").to_string();
    let descriptor_name = |entry: &Value| -> Result<String, String> {
        entry
            .pointer("/stream_descriptor/name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "a stream state without `stream_descriptor.name`".to_string())
    };
    match kind.as_str() {
        "STREAM" => {
            let stream = state.get("stream").ok_or("a STREAM state without `stream`")?;
            Ok(State::Stream {
                name: descriptor_name(stream)?,
                state: stream.get("stream_state").cloned().unwrap_or(Value::Null),
            })
        }
        "GLOBAL" => {
            let global = state.get("global").ok_or("a GLOBAL state without `global`")?;
            let streams = global
                .get("stream_states")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|entry| Ok((descriptor_name(entry)?, entry.get("stream_state").cloned().unwrap_or(Value::Null))))
                .collect::<Result<_, String>>()?;
            Ok(State::Global { shared: global.get("shared_state").cloned().unwrap_or(Value::Null), streams })
        }
        "LEGACY" => Ok(State::Legacy(state.get("data").cloned().unwrap_or(Value::Null))),
        other => Err(format!("unknown state type `{other}`")),
    }
}

fn parse_trace(trace: Value) -> Trace {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    match trace.get("type").and_then(Value::as_str) {
        Some("ERROR") => {
            let error = trace.get("error").cloned().unwrap_or(Value::Null);
            Trace::Error {
                message: text(error.get("message")).unwrap_or_else(|| "(no message)".into()),
                internal: text(error.get("internal_message")),
                failure_type: text(error.get("failure_type")),
            }
        }
        Some("ESTIMATE") => {
            let estimate = trace.get("estimate").cloned().unwrap_or(Value::Null);
            let whole_sync = estimate.get("type").and_then(Value::as_str) == Some("SYNC");
            Trace::Estimate {
                stream: if whole_sync { None } else { text(estimate.get("name")) },
                rows: estimate.get("row_estimate").and_then(Value::as_u64),
            }
        }
        Some("STREAM_STATUS") => {
            let status = trace.get("stream_status").cloned().unwrap_or(Value::Null);
            Trace::StreamStatus {
                stream: text(status.pointer("/stream_descriptor/name")).unwrap_or_default(),
                status: text(status.get("status")).unwrap_or_default(),
            }
        }
        _ => Trace::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(line: &str) -> Message<'_> {
        match parse_line(line.as_bytes()).unwrap() {
            Line::Message(message) => message,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn records_borrow_their_data() {
        let line = r#"{"type":"RECORD","record":{"stream":"users","data":{"id":1,"name":"a\"b"},"emitted_at":1}}"#;
        let Message::Record(record) = message(line) else { panic!() };
        assert_eq!(record.stream, "users");
        assert!(matches!(record.stream, Cow::Borrowed(_)));
        assert_eq!(record.data.get(), r#"{"id":1,"name":"a\"b"}"#);
    }

    #[test]
    fn states_in_every_form() {
        let stream = r#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"events","namespace":null},"stream_state":{"id":5}}}}"#;
        let Message::State(state) = message(stream) else { panic!() };
        assert_eq!(state, State::Stream { name: "events".into(), state: json!({"id": 5}) });

        let legacy = r#"{"type":"STATE","state":{"data":{"events":{"id":5}}}}"#;
        let Message::State(state) = message(legacy) else { panic!() };
        assert_eq!(state, State::Legacy(json!({"events": {"id": 5}})));
        let typed_legacy = r#"{"type":"STATE","state":{"type":"LEGACY","data":{"a":1}}}"#;
        assert!(matches!(message(typed_legacy), Message::State(State::Legacy(_))));

        let global = r#"{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"lsn":9},"stream_states":[{"stream_descriptor":{"name":"a"},"stream_state":{"x":1}}]}}}"#;
        let Message::State(state) = message(global) else { panic!() };
        assert_eq!(state, State::Global { shared: json!({"lsn": 9}), streams: vec![("a".into(), json!({"x": 1}))] });
    }

    #[test]
    fn logs_traces_and_answers() {
        let Message::Log(log) = message(r#"{"type":"LOG","log":{"level":"ERROR","message":"boom"}}"#) else { panic!() };
        assert_eq!((log.level(), log.text()), (LogLevel::Warn, "ERROR: boom".to_string()));
        let Message::Log(log) = message(r#"{"type":"LOG","log":{"level":"DEBUG","message":"x"}}"#) else { panic!() };
        assert_eq!(log.level(), LogLevel::Debug);

        let error = r#"{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"Bad key","internal_message":"401","failure_type":"config_error"}}}"#;
        let Message::Trace(trace) = message(error) else { panic!() };
        assert_eq!(trace.error_text().unwrap(), "Bad key (401) [config_error]");
        let estimate = r#"{"type":"TRACE","trace":{"type":"ESTIMATE","estimate":{"name":"events","type":"STREAM","row_estimate":40}}}"#;
        let Message::Trace(trace) = message(estimate) else { panic!() };
        assert_eq!(trace, Trace::Estimate { stream: Some("events".into()), rows: Some(40) });

        let spec =
            r#"{"type":"SPEC","spec":{"documentationUrl":"https://x","connectionSpecification":{"type":"object"}}}"#;
        let Message::Spec(spec) = message(spec) else { panic!() };
        assert_eq!(spec.documentation_url.as_deref(), Some("https://x"));
        let status = r#"{"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":"401"}}"#;
        let Message::ConnectionStatus(status) = message(status) else { panic!() };
        assert_eq!((status.status.as_str(), status.message.as_deref()), ("FAILED", Some("401")));
        assert!(matches!(message(r#"{"type":"CATALOG","catalog":{"streams":[]}}"#), Message::Catalog(_)));
    }

    #[test]
    fn stray_lines_are_not_messages() {
        for line in ["Starting source…", "[1, 2]", r#"{"hello": 1}"#, r#"{"type":"NEWS","x":1}"#, "{not json"] {
            assert!(matches!(parse_line(line.as_bytes()).unwrap(), Line::Other), "{line}");
        }
        assert!(matches!(parse_line(b"  \r").unwrap(), Line::Blank));
    }

    #[test]
    fn malformed_messages_are_errors() {
        for line in [
            r#"{"type":"RECORD","record":{"data":{"id":1}}}"#,
            r#"{"type":"RECORD"}"#,
            r#"{"type":"STATE","state":{"type":"STREAM","stream":{}}}"#,
            r#"{"type":"LOG","log":{"message":3}}"#,
        ] {
            let err = parse_line(line.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("malformed") && err.contains(&line[..line.len().min(20)]), "{err}");
        }
    }

    #[test]
    fn snippets_cut_on_char_boundaries() {
        assert_eq!(snippet("abc", 5), "abc");
        assert_eq!(snippet("ééé", 3), "é…");
    }
}
