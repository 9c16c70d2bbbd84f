//! A read: which streams in which modes, the per-survey cursors of the saved state, and the
//! task that lists surveys, reads their definitions and runs one response export per survey,
//! sending batches and, after each survey, the state that covers them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt as _;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use txlake_connector::{ConnectorError, LogLevel, Message, MessageStream, ReadRequest, Result, StreamMode, SyncMode};

use crate::api::Api;
use crate::config::Settings;
use crate::definitions;
use crate::export::{self, Response};
use crate::streams::{
    QUESTIONS, RESPONSE_VALUES, RESPONSES, ResponsesBuilder, SURVEYS, ValuesBuilder, catalog_streams, questions_batch,
    surveys_batch,
};

/// Responses per `responses` batch.
const RESPONSES_PER_BATCH: usize = 2_000;
/// Values per `response_values` batch.
const VALUES_PER_BATCH: usize = 16_384;

/// The saved cursors of one stream: survey id → the newest `recordedDate` read.
type Cursors = BTreeMap<String, DateTime<Utc>>;

/// What a read was asked for, checked.
#[derive(Debug)]
struct Plan {
    settings: Settings,
    modes: BTreeMap<String, StreamMode>,
    cursors: BTreeMap<String, Cursors>,
}

impl Plan {
    fn new(request: &ReadRequest) -> Result<Self> {
        let settings = Settings::parse(&request.config)?;
        let offered = catalog_streams();
        let mut modes = BTreeMap::new();
        let mut cursors = BTreeMap::new();
        for configured in &request.catalog.streams {
            let name = &configured.stream.name;
            let Some(stream) = offered.iter().find(|s| &s.name == name) else {
                return Err(ConnectorError::UnknownStream {
                    connector: crate::CONNECTOR_NAME.into(),
                    stream: name.clone(),
                    available: offered.iter().map(|s| s.name.clone()).collect(),
                });
            };
            stream.check_mode(configured.mode).map_err(|reason| ConnectorError::UnsupportedMode {
                stream: name.clone(),
                mode: configured.mode.to_string(),
                reason,
            })?;
            modes.insert(name.clone(), configured.mode);
            if configured.mode.sync_mode() == SyncMode::Incremental
                && let Some(state) = request.state.get(name)
            {
                cursors.insert(name.clone(), parse_state(name, state)?);
            }
        }
        Ok(Plan { settings, modes, cursors })
    }

    fn wants(&self, stream: &str) -> bool {
        self.modes.contains_key(stream)
    }

    /// The response streams asked for.
    fn response_streams(&self) -> Vec<&'static str> {
        [RESPONSES, RESPONSE_VALUES].into_iter().filter(|s| self.wants(s)).collect()
    }

    /// Where a stream's read of a survey resumes: after its saved cursor (exclusive).
    fn cursor(&self, stream: &str, survey: &str) -> Option<DateTime<Utc>> {
        self.cursors.get(stream).and_then(|c| c.get(survey)).copied()
    }
}

/// `{ "surveys": { "SV_…": "2024-05-01T10:03:01.25Z" } }`.
fn parse_state(stream: &str, state: &Value) -> Result<Cursors> {
    let invalid = |reason: &str| ConnectorError::InvalidState {
        stream: stream.into(),
        state: state.to_string(),
        reason: reason.into(),
    };
    let surveys = state
        .get("surveys")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("expected {\"surveys\": {\"SV_…\": \"<recordedDate>\"}}"))?;
    surveys
        .iter()
        .map(|(survey, at)| {
            let at = at
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .ok_or_else(|| invalid(&format!("the cursor of {survey} is not an RFC 3339 time")))?;
            Ok((survey.clone(), at.with_timezone(&Utc)))
        })
        .collect()
}

fn state_of(cursors: &Cursors) -> Value {
    let surveys: Map<String, Value> = cursors
        .iter()
        .map(|(survey, at)| (survey.clone(), json!(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))))
        .collect();
    json!({ "surveys": surveys })
}

/// Prefixes an error with the stream(s) it concerns.
fn in_streams(streams: &[&str], error: ConnectorError) -> ConnectorError {
    let names = streams.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
    let what = if streams.len() == 1 { format!("stream {names}") } else { format!("streams {names}") };
    match error {
        ConnectorError::Source(m) => ConnectorError::Source(format!("{what}: {m}")),
        ConnectorError::Auth(m) => ConnectorError::Auth(format!("{what}: {m}")),
        ConnectorError::Internal(m) => ConnectorError::Internal(format!("{what}: {m}")),
        other => other,
    }
}

/// Starts a read; messages arrive on the returned stream.
pub fn start(request: ReadRequest) -> Result<MessageStream> {
    let plan = Plan::new(&request)?;
    let api = Arc::new(Api::new(&plan.settings)?);
    let (tx, rx) = mpsc::channel::<Result<Message>>(4);
    tokio::spawn(async move {
        if let Err(e) = run(&plan, &api, &tx).await {
            // The receiver may be gone (the sync stopped): nothing to tell then.
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) }).boxed())
}

/// A closed channel: the consumer stopped reading.
fn stopped() -> ConnectorError {
    ConnectorError::Internal("the read was stopped".into())
}

async fn emit(tx: &mpsc::Sender<Result<Message>>, message: Message) -> Result<()> {
    tx.send(Ok(message)).await.map_err(|_| stopped())
}

async fn run(plan: &Plan, api: &Api, tx: &mpsc::Sender<Result<Message>>) -> Result<()> {
    let responses = plan.response_streams();
    let needs_list =
        plan.wants(SURVEYS) || (plan.settings.surveys.is_none() && (plan.wants(QUESTIONS) || !responses.is_empty()));
    let mut ids = plan.settings.surveys.clone().unwrap_or_default();
    if needs_list {
        let first = [SURVEYS, QUESTIONS, RESPONSES, RESPONSE_VALUES].into_iter().find(|s| plan.wants(s));
        let mut listed = api.surveys().await.map_err(|e| in_streams(&[first.unwrap_or(SURVEYS)], e))?;
        if let Some(chosen) = &plan.settings.surveys {
            listed.retain(|s| chosen.contains(&s.id));
        } else {
            ids = listed.iter().map(|s| s.id.clone()).collect();
        }
        if plan.wants(SURVEYS) {
            emit(tx, Message::Batch { stream: SURVEYS.into(), batch: surveys_batch(&listed)? }).await?;
        }
    }
    if plan.wants(QUESTIONS) {
        for survey in &ids {
            let definition = match api.definition(survey).await {
                Ok(definition) => definition,
                Err(e) if is_fatal(&e) => return Err(in_streams(&[QUESTIONS], e)),
                // One survey's definition failing fails `questions`; the responses go on.
                Err(e) => {
                    let error = format!("survey {survey}: {e}");
                    emit(tx, Message::StreamFailed { stream: QUESTIONS.into(), error }).await?;
                    break;
                }
            };
            let (_, questions) = definitions::parse(&definition);
            if !questions.is_empty() {
                emit(tx, Message::Batch { stream: QUESTIONS.into(), batch: questions_batch(survey, &questions)? })
                    .await?;
            }
        }
    }
    if responses.is_empty() {
        return Ok(());
    }
    let mut cursors: BTreeMap<&str, Cursors> =
        responses.iter().map(|s| (*s, plan.cursors.get(*s).cloned().unwrap_or_default())).collect();
    // A survey whose export fails is skipped (its cursor stays) and the others are read; the
    // response streams then fail naming every failed survey, so the run says so.
    let mut failures = Vec::new();
    for (done, survey) in ids.iter().enumerate() {
        match read_survey(plan, api, tx, survey, &responses, &mut cursors).await {
            Ok(()) => {
                for stream in &responses {
                    emit(tx, Message::State { stream: stream.to_string(), state: state_of(&cursors[stream]) }).await?;
                }
            }
            Err(e) if is_fatal(&e) => return Err(in_streams(&responses, e)),
            Err(e) => {
                let error = e.to_string();
                emit(tx, Message::Log { level: LogLevel::Warn, message: error.clone() }).await?;
                failures.push(error);
            }
        }
        emit(
            tx,
            Message::Progress {
                stream: Some(responses[0].into()),
                done: done as u64 + 1,
                total: Some(ids.len() as u64),
            },
        )
        .await?;
    }
    if !failures.is_empty() {
        for stream in &responses {
            emit(tx, Message::StreamFailed { stream: stream.to_string(), error: failures.join("; ") }).await?;
        }
    }
    Ok(())
}

/// Errors that end the whole read rather than one survey's: refused credentials (every
/// other request would be refused too) and a stopped consumer.
fn is_fatal(error: &ConnectorError) -> bool {
    matches!(error, ConnectorError::Auth(_) | ConnectorError::Internal(_))
}

/// Exports one survey's responses recorded since the oldest cursor of the response streams,
/// sends each stream the responses after its own cursor and advances the cursors.
async fn read_survey(
    plan: &Plan,
    api: &Api,
    tx: &mpsc::Sender<Result<Message>>,
    survey: &str,
    streams: &[&'static str],
    cursors: &mut BTreeMap<&str, Cursors>,
) -> Result<()> {
    // Incremental streams resume after their cursor; a stream without one (a first read, a
    // full refresh) starts at `start_date`.
    let after: BTreeMap<&'static str, Option<DateTime<Utc>>> = streams
        .iter()
        .map(|s| {
            let incremental = plan.modes[*s].sync_mode() == SyncMode::Incremental;
            (*s, if incremental { plan.cursor(s, survey) } else { None })
        })
        .collect();
    let start = if after.values().all(Option::is_some) { after.values().flatten().min().copied() } else { None };
    let start = start.or(plan.settings.start);
    let file = api.export(survey, start, plan.settings.poll_deadline, plan.settings.poll_interval).await?;
    let (survey_id, sender) = (survey.to_string(), tx.clone());
    let (wants_responses, wants_values) = (after.contains_key(RESPONSES), after.contains_key(RESPONSE_VALUES));
    let (after_responses, after_values) =
        (after.get(RESPONSES).copied().flatten(), after.get(RESPONSE_VALUES).copied().flatten());
    // "New" in the log: after the cursor of `responses`, or of `response_values` alone.
    let counted_after = if wants_responses { after_responses } else { after_values };
    let url = file.url.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        let mut responses = ResponsesBuilder::default();
        let mut values = ValuesBuilder::default();
        let mut newest: Option<DateTime<Utc>> = None;
        let mut new = 0usize;
        let send = |stream: &str, batch| {
            sender.blocking_send(Ok(Message::Batch { stream: stream.into(), batch })).map_err(|_| "stopped".to_string())
        };
        let count = export::decode_file(&file.body, &mut |raw| {
            let response = Response::from_raw(raw)?;
            newest = newest.max(Some(response.recorded));
            new += usize::from(counted_after.is_none_or(|c| response.recorded > c));
            if wants_responses && after_responses.is_none_or(|c| response.recorded > c) {
                responses.push(&survey_id, &response);
                if responses.len() >= RESPONSES_PER_BATCH {
                    send(RESPONSES, responses.finish().map_err(|e| e.to_string())?)?;
                }
            }
            if wants_values && after_values.is_none_or(|c| response.recorded > c) {
                values.push(&survey_id, &response);
                if values.len() >= VALUES_PER_BATCH {
                    send(RESPONSE_VALUES, values.finish().map_err(|e| e.to_string())?)?;
                }
            }
            Ok(())
        })?;
        if !responses.is_empty() {
            send(RESPONSES, responses.finish().map_err(|e| e.to_string())?)?;
        }
        if !values.is_empty() {
            send(RESPONSE_VALUES, values.finish().map_err(|e| e.to_string())?)?;
        }
        Ok::<_, String>((count, new, newest))
    })
    .await
    .map_err(|e| ConnectorError::Internal(format!("the export decoder stopped: {e}")))?;
    let (count, new, newest) = decoded.map_err(|e| match e.as_str() {
        "stopped" => stopped(),
        _ => ConnectorError::Source(format!("survey {survey}: {url}: {e}")),
    })?;
    if let Some(newest) = newest {
        for cursor in cursors.values_mut() {
            let entry = cursor.entry(survey.to_string()).or_insert(newest);
            *entry = (*entry).max(newest);
        }
    }
    emit(
        tx,
        Message::Log {
            level: LogLevel::Info,
            message: format!("survey {survey}: {count} responses exported, {new} of them new"),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_bad_ones_name_the_stream() {
        let state = json!({ "surveys": { "SV_a": "2024-05-01T10:03:01.250Z", "SV_b": "2024-06-01T00:00:00Z" } });
        let cursors = parse_state(RESPONSES, &state).unwrap();
        assert_eq!(
            state_of(&cursors),
            json!({ "surveys": { "SV_a": "2024-05-01T10:03:01.250Z", "SV_b": "2024-06-01T00:00:00Z" } })
        );
        let err = parse_state(RESPONSES, &json!({ "cursor": "x" })).unwrap_err().to_string();
        assert!(err.contains("`responses`") && err.contains("surveys"), "{err}");
        let err = parse_state(RESPONSES, &json!({ "surveys": { "SV_a": 7 } })).unwrap_err().to_string();
        assert!(err.contains("SV_a"), "{err}");
    }
}
