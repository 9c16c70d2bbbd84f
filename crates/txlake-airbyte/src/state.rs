//! Connector state both ways: the per-stream state txlake commits with each table → the
//! `read --state` file, and a source's `STATE` messages → the state each stream commits.
//!
//! Per-stream (`STREAM`) states are stored as the source wrote `stream_state`, and given
//! back as `[{"type":"STREAM","stream":{"stream_descriptor":…,"stream_state":…}}, …]`.
//!
//! A `LEGACY` state (one `data` document for the whole source) or a `GLOBAL` one (a
//! `shared_state` plus one state per stream) covers every stream at once, but txlake commits
//! each stream's table on its own, so after a failure the tables may hold states of
//! different moments. Each stored copy therefore carries a sequence number
//! (`airbyte_state_seq`, increasing across runs), and the next read is given the oldest:
//! nothing is skipped; streams that had committed further read some records again
//! (deduplicated in `incremental_dedupe` mode).

use serde_json::{Value, json};
use txlake_connector::StateMap;

use crate::catalog::AirbyteStream;

const LEGACY: &str = "airbyte_legacy_state";
const SHARED: &str = "airbyte_global_shared_state";
const STREAM: &str = "airbyte_stream_state";
const SEQ: &str = "airbyte_state_seq";

/// A committed state, as txlake stored it.
enum Stored<'a> {
    Stream(&'a Value),
    Legacy { seq: u64, data: &'a Value },
    Global { seq: u64, shared: &'a Value, stream: &'a Value },
}

fn classify(value: &Value) -> Stored<'_> {
    let seq = value.get(SEQ).and_then(Value::as_u64);
    match (seq, value.get(LEGACY), value.get(SHARED)) {
        (Some(seq), Some(data), _) => Stored::Legacy { seq, data },
        (Some(seq), None, Some(shared)) => {
            Stored::Global { seq, shared, stream: value.get(STREAM).unwrap_or(&Value::Null) }
        }
        _ => Stored::Stream(value),
    }
}

/// What to give `read --state`, if anything, and the next sequence number for shared
/// states.
pub fn state_file(state: &StateMap, streams: &[AirbyteStream]) -> (Option<Value>, u64) {
    let descriptor = |name: &str| {
        streams.iter().find(|s| s.name == name).map(AirbyteStream::descriptor).unwrap_or_else(|| json!({"name": name}))
    };
    let mut per_stream = Vec::new();
    let mut oldest_legacy: Option<(u64, &Value)> = None;
    let mut oldest_shared: Option<(u64, &Value)> = None;
    let mut global_streams = Vec::new();
    let mut newest = 0;
    for (name, value) in state {
        match classify(value) {
            Stored::Stream(stream_state) => per_stream.push(json!({
                "type": "STREAM",
                "stream": {"stream_descriptor": descriptor(name), "stream_state": stream_state},
            })),
            Stored::Legacy { seq, data } => {
                newest = newest.max(seq);
                if oldest_legacy.is_none_or(|(oldest, _)| seq < oldest) {
                    oldest_legacy = Some((seq, data));
                }
            }
            Stored::Global { seq, shared, stream } => {
                newest = newest.max(seq);
                if oldest_shared.is_none_or(|(oldest, _)| seq < oldest) {
                    oldest_shared = Some((seq, shared));
                }
                global_streams.push(json!({"stream_descriptor": descriptor(name), "stream_state": stream}));
            }
        }
    }
    let file = if let Some((_, data)) = oldest_legacy {
        Some(data.clone())
    } else if let Some((_, shared)) = oldest_shared {
        Some(json!([{"type": "GLOBAL", "global": {"shared_state": shared, "stream_states": global_streams}}]))
    } else if !per_stream.is_empty() {
        Some(Value::Array(per_stream))
    } else {
        None
    };
    (file, newest + 1)
}

/// Numbers the shared states of a read, continuing from the committed ones.
#[derive(Debug)]
pub struct Checkpoints {
    next_seq: u64,
}

impl Checkpoints {
    /// Numbering from `next_seq` (from [`state_file`]).
    pub fn new(next_seq: u64) -> Self {
        Self { next_seq }
    }

    fn seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// The states to commit for a `LEGACY` state message, given every stream read: the same
    /// document for each.
    pub fn legacy(&mut self, data: &Value, streams: &[String]) -> Vec<(String, Value)> {
        let seq = self.seq();
        streams.iter().map(|name| (name.clone(), json!({ LEGACY: data, SEQ: seq }))).collect()
    }

    /// The states to commit for a `GLOBAL` state message, given every stream read: each
    /// with its own `stream_state` (null when the message has none for it).
    pub fn global(&mut self, shared: &Value, states: &[(String, Value)], streams: &[String]) -> Vec<(String, Value)> {
        let seq = self.seq();
        streams
            .iter()
            .map(|name| {
                let own = states.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone()).unwrap_or(Value::Null);
                (name.clone(), json!({ SHARED: shared, STREAM: own, SEQ: seq }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams() -> Vec<AirbyteStream> {
        vec![
            AirbyteStream { raw: json!({}), name: "events".into(), namespace: Some("shop".into()) },
            AirbyteStream { raw: json!({}), name: "users".into(), namespace: None },
        ]
    }

    #[test]
    fn no_state_no_file() {
        assert_eq!(state_file(&StateMap::new(), &streams()), (None, 1));
    }

    #[test]
    fn per_stream_states_become_stream_messages() {
        let state = StateMap::from([("events".to_string(), json!({"id": 40})), ("users".into(), json!({"n": 1}))]);
        let (file, next) = state_file(&state, &streams());
        assert_eq!(
            file.unwrap(),
            json!([
                {"type": "STREAM", "stream": {"stream_descriptor": {"name": "events", "namespace": "shop"}, "stream_state": {"id": 40}}},
                {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"n": 1}}}
            ])
        );
        assert_eq!(next, 1);
    }

    #[test]
    fn legacy_states_round_trip_giving_back_the_oldest() {
        let mut checkpoints = Checkpoints::new(1);
        let read = ["events".to_string(), "users".to_string()];
        let first = checkpoints.legacy(&json!({"events": {"id": 10}}), &read);
        let second = checkpoints.legacy(&json!({"events": {"id": 20}}), &read);
        assert_eq!(first[0].1, first[1].1, "one document for every stream");
        // `users` committed the second checkpoint, `events` only the first.
        let state = StateMap::from([first[0].clone(), second[1].clone()]);
        let (file, next) = state_file(&state, &streams());
        assert_eq!(file.unwrap(), json!({"events": {"id": 10}}), "the raw data of the oldest");
        assert_eq!(next, 3, "numbering continues after the newest");
    }

    #[test]
    fn global_states_round_trip() {
        let mut checkpoints = Checkpoints::new(5);
        let read = ["events".to_string(), "users".to_string()];
        let older = checkpoints.global(&json!({"lsn": 1}), &[("events".into(), json!({"e": 1}))], &read);
        let newer = checkpoints.global(&json!({"lsn": 2}), &[("users".into(), json!({"u": 2}))], &read);
        assert_eq!(older[1].1[STREAM], Value::Null, "users had no state of its own in the first message");
        let state = StateMap::from([older[0].clone(), newer[1].clone()]);
        let (file, next) = state_file(&state, &streams());
        assert_eq!(
            file.unwrap(),
            json!([{"type": "GLOBAL", "global": {"shared_state": {"lsn": 1}, "stream_states": [
                {"stream_descriptor": {"name": "events", "namespace": "shop"}, "stream_state": {"e": 1}},
                {"stream_descriptor": {"name": "users"}, "stream_state": {"u": 2}}
            ]}}])
        );
        assert_eq!(next, 7);
    }
}
