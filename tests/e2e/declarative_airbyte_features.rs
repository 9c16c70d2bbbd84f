//! The declarative keys Airbyte manifests translate to, together in one native manifest
//! against an in-process fake: a hidden parent stream paged with `full_response`, a child
//! read per (parent key × list value) with the values injected into the request, `*`
//! wildcards in `records.path`, list-form nested `add_fields` and `remove_fields`, windows
//! cut with `granularity` up to a configured `end` in Python strftime formats, per-partition
//! state (and today's `{cursor}` state still loading), and a `data_feed` stream that stops
//! paging at the saved cursor.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{ConfiguredCatalog, ConfiguredStream, Connector, DeclarativeConnector, Message, ReadRequest};

/// 2025-01-01T00:00:00Z in unix seconds.
const JAN_1: i64 = 1_735_689_600;
const HOUR: i64 = 3_600;

#[derive(Default)]
struct Api {
    /// (id, form, channel, unix seconds) of every response.
    responses: Mutex<Vec<(u32, String, String, i64)>>,
    /// (form, channel, since, until) of every responses request.
    windows: Mutex<Vec<(String, String, i64, i64)>>,
    /// Events, newest last.
    events: Mutex<Vec<i64>>,
    event_pages: Mutex<u32>,
}

async fn forms(Query(q): Query<BTreeMap<String, String>>) -> Response {
    // Two pages; the third form has no id (gives no partition).
    let body = match q.get("after").map(String::as_str) {
        None => json!({ "data": [{ "id": "f1", "meta": { "ref": "F-1" } }], "has_more": true }),
        Some("f1") => {
            json!({ "data": [{ "id": "f2", "meta": { "ref": "F-2" } }, { "meta": { "ref": "none" } }], "has_more": false })
        }
        Some(other) => return (axum::http::StatusCode::BAD_REQUEST, format!("no page after {other}")).into_response(),
    };
    axum::Json(body).into_response()
}

async fn responses(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let form = q.get("form_id").cloned().unwrap_or_default();
    let channel = headers.get("x-channel").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let since: i64 = q.get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
    let until: i64 = q.get("until").and_then(|v| v.parse().ok()).unwrap_or(i64::MAX);
    api.windows.lock().unwrap().push((form.clone(), channel.clone(), since, until));
    let rows: Vec<Value> = api
        .responses
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.1 == form && r.2 == channel && r.3 >= since && r.3 <= until)
        .map(|(id, _, _, at)| {
            let when = chrono::DateTime::from_timestamp(*at, 123_456_000).unwrap();
            // Half the cursors in the stream's format, half in a second one (`formats`).
            let submitted = if id % 2 == 0 {
                when.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            } else {
                when.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            };
            json!({ "id": id, "submitted": submitted, "score": id % 10, "secret": "s3cret",
                    "answers": [{ "q": "nps", "a": 9, "internal": "x" }] })
        })
        .collect();
    // Records in groups: the path is `groups.*.rows`.
    let (first, second) = rows.split_at(rows.len() / 2);
    axum::Json(json!({ "groups": [{ "rows": first }, { "rows": second }, { "other": 1 }], "total": rows.len() }))
        .into_response()
}

async fn events(State(api): State<Arc<Api>>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    *api.event_pages.lock().unwrap() += 1;
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let mut all: Vec<i64> = api.events.lock().unwrap().clone();
    all.reverse();
    let rows: Vec<Value> =
        all.iter().skip((page - 1) * 5).take(5).map(|at| json!({ "id": at, "at": at.to_string() })).collect();
    axum::Json(json!({ "events": rows })).into_response()
}

const MANIFEST: &str = r#"
name: airbyte_features
description: Forms and their responses.
spec: { type: object, properties: { start: { type: string }, end: { type: string } } }
requester: { base_url: "http://unused" }
streams:
  - name: forms
    hidden: true
    primary_key: [id]
    request: { path: /forms }
    records: { path: data }
    paginator:
      type: cursor
      token: "{{ response.data[-1].id if response.has_more else '' }}"
      inject: { param: after }
      full_response: true
  - name: responses
    primary_key: [id]
    request: { path: /responses, params: { since: "{{ slice.start }}", until: "{{ slice.end }}" } }
    records: { path: "groups.*.rows" }
    partition:
      - { stream: forms, parent_key: id, field: form_id, inject: { param: form_id } }
      - { values: "{{ ['web', 'mobile'] }}", field: channel, inject: { header: X-Channel } }
    incremental:
      cursor_field: submitted
      format: "%Y-%m-%d %H:%M:%S.%f"
      formats: ["%Y-%m-%dT%H:%M:%S.%fZ"]
      request_format: "%s"
      start: "{{ config.start }}"
      end: "{{ config.end }}"
      step: P1D
      granularity: PT1S
    add_fields:
      - { path: [form, id], value: "{{ partition.form_id }}" }
      - { path: [form, ref], value: "{{ partition.parent.meta.ref }}" }
      - { path: [channel], value: "{{ partition.channel }}" }
      - { path: [score_x2], value: "{{ record.score * 2 }}" }
    remove_fields: [[secret], [answers, "*", internal]]
    schema:
      type: object
      properties:
        id: { type: integer }
        submitted: { type: string }
        score: { type: integer }
        score_x2: { type: integer }
        secret: { type: [string, "null"] }
        channel: { type: string }
        form: { type: object, properties: { id: { type: string }, ref: { type: string } } }
        answers: { type: array, items: { type: object, properties: { q: { type: string }, a: { type: integer }, internal: { type: [string, "null"] } } } }
  - name: events
    primary_key: [id]
    request: { path: /events }
    records: { path: events }
    paginator: { type: page_number, param: page, size: 5 }
    incremental: { cursor_field: at, format: "%s", data_feed: true }
    schema: { type: object, properties: { id: { type: integer }, at: { type: string } } }
"#;

struct Read {
    rows: Vec<Value>,
    last_state: Option<Value>,
    states: usize,
}

async fn read(connector: &DeclarativeConnector, config: &Value, stream: &str, state: Option<Value>) -> Read {
    let catalog = connector.discover(config).await.unwrap();
    let descriptor = catalog.stream(stream).unwrap().clone();
    let request = ReadRequest {
        config: config.clone(),
        catalog: ConfiguredCatalog {
            streams: vec![ConfiguredStream { mode: descriptor.default_mode, stream: descriptor }],
        },
        state: state.map(|s| [(stream.to_string(), s)].into_iter().collect()).unwrap_or_default(),
    };
    let mut out = Read { rows: Vec::new(), last_state: None, states: 0 };
    let mut messages = connector.read(request).await.unwrap();
    while let Some(message) = messages.next().await {
        match message.unwrap() {
            Message::Batch { batch, .. } => {
                let mut buffer = Vec::new();
                let mut writer = arrow::json::ArrayWriter::new(&mut buffer);
                writer.write(&batch).unwrap();
                writer.finish().unwrap();
                let rows: Vec<Value> = serde_json::from_slice(&buffer).unwrap();
                out.rows.extend(rows);
            }
            Message::State { state, .. } => {
                out.states += 1;
                out.last_state = Some(state);
            }
            Message::StreamFailed { error, .. } => panic!("stream failed: {error}"),
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_airbyte_shaped_manifest_reads_partitions_windows_and_feeds_exactly_once() {
    let api = Arc::new(Api::default());
    {
        let mut responses = api.responses.lock().unwrap();
        let mut id = 0;
        for form in ["f1", "f2", "f3"] {
            for channel in ["web", "mobile", "email"] {
                // Every 7 hours over 4 days, from 2025-01-01T01:00:00Z.
                for k in 0..14 {
                    id += 1;
                    responses.push((id, form.to_string(), channel.to_string(), JAN_1 + HOUR + k * 7 * HOUR));
                }
            }
        }
        *api.events.lock().unwrap() = (0..20).map(|i| JAN_1 + i * HOUR).collect();
    }
    let router = axum::Router::new()
        .route("/forms", axum::routing::get(forms))
        .route("/responses", axum::routing::get(responses))
        .route("/events", axum::routing::get(events))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let connector = DeclarativeConnector::from_manifest("airbyte_features.yaml", MANIFEST).unwrap();
    let config = json!({ "base_url": base, "start": "2025-01-01T00:00:00Z", "end": "2025-01-03T00:00:00Z" });
    let catalog = connector.discover(&config).await.unwrap();
    let names: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["responses", "events"], "the hidden parent is no stream of the catalog");

    // First read: f1 and f2 (f3 is no form, the id-less form gives no partition) × web and
    // mobile, in windows of a day up to the configured end.
    api.windows.lock().unwrap().clear();
    let first = read(&connector, &config, "responses", None).await;
    let expected = |from: i64, to: i64| -> Vec<u32> {
        let mut ids: Vec<u32> = api
            .responses
            .lock()
            .unwrap()
            .iter()
            .filter(|r| ["f1", "f2"].contains(&r.1.as_str()) && ["web", "mobile"].contains(&r.2.as_str()))
            .filter(|r| r.3 >= from && r.3 <= to)
            .map(|r| r.0)
            .collect();
        ids.sort();
        ids
    };
    let ids = |rows: &[Value]| -> Vec<u32> {
        let mut ids: Vec<u32> = rows.iter().map(|r| r["id"].as_u64().unwrap() as u32).collect();
        ids.sort();
        ids
    };
    let end = JAN_1 + 2 * 24 * HOUR;
    assert_eq!(ids(&first.rows), expected(JAN_1, end), "every response of the four partitions once, up to the end");
    let sample = first.rows.iter().find(|r| r["form"]["id"] == "f2" && r["channel"] == "mobile").unwrap();
    assert_eq!(sample["form"]["ref"], "F-2", "nested add_fields from the parent record");
    assert_eq!(sample["score_x2"], sample["score"].as_i64().unwrap() * 2, "a per-record add_field");
    assert!(sample.get("secret").is_none_or(Value::is_null), "removed: {sample}");
    assert_eq!(sample["answers"], json!([{ "q": "nps", "a": 9 }]), "removed through the wildcard: {sample}");
    // Windows: a day each, ending a second before the next starts, per partition.
    let windows = api.windows.lock().unwrap().clone();
    // (Windows are fetched a few at a time, so they reach the fake in any order.)
    let mut f1_web: Vec<(i64, i64)> =
        windows.iter().filter(|w| w.0 == "f1" && w.1 == "web").map(|w| (w.2, w.3)).collect();
    f1_web.sort();
    // As Airbyte's DatetimeBasedCursor, a window starting at the end (inclusive) is read too.
    assert_eq!(f1_web, [(JAN_1, JAN_1 + 24 * HOUR - 1), (JAN_1 + 24 * HOUR, end - 1), (end, end)]);
    assert_eq!(windows.len(), 12, "2 forms × 2 channels × 3 windows: {windows:?}");
    // Per-partition state, one checkpoint per window of each partition.
    let state = first.last_state.unwrap();
    assert_eq!(first.states, 13, "a checkpoint per window of each partition, and the complete read's");
    assert_eq!(state["cursor"], "2025-01-03T00:00:00Z", "where a new partition starts: {state}");
    let partitions = state["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 4, "{state}");
    assert!(partitions.iter().all(|p| p["cursor"] == "2025-01-03T00:00:00Z"), "{state}");
    assert!(
        partitions.iter().any(|p| p["partition"] == json!({ "form_id": "f1", "channel": "web", "parent_slice": {} })),
        "{state}"
    );

    // Later: the end moves on; only what the saved per-partition cursors have not seen comes.
    let later = json!({ "base_url": base, "start": "2025-01-01T00:00:00Z", "end": "2025-01-05T00:00:00Z" });
    let second = read(&connector, &later, "responses", Some(state.clone())).await;
    assert_eq!(ids(&second.rows), expected(end + 1, JAN_1 + 4 * 24 * HOUR), "nothing lost, nothing twice");

    // Today's shape (one cursor for every partition) still loads.
    let legacy = read(&connector, &later, "responses", Some(json!({ "cursor": "2025-01-03T00:00:00Z" }))).await;
    assert_eq!(ids(&legacy.rows), ids(&second.rows));
    assert!(legacy.last_state.unwrap()["partitions"].as_array().unwrap().len() == 4);

    // A data feed: newest first; the second read stops at the page reaching the saved cursor.
    let feed = read(&connector, &config, "events", None).await;
    assert_eq!(feed.rows.len(), 20);
    assert_eq!(*api.event_pages.lock().unwrap(), 5, "four full pages and an empty one");
    api.events.lock().unwrap().extend([JAN_1 + 30 * HOUR, JAN_1 + 31 * HOUR, JAN_1 + 32 * HOUR]);
    *api.event_pages.lock().unwrap() = 0;
    let more = read(&connector, &config, "events", feed.last_state.clone()).await;
    assert_eq!(more.rows.len(), 3, "only the new events");
    assert_eq!(*api.event_pages.lock().unwrap(), 1, "the first page already reached the saved cursor");
    let column = more.rows.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(column, [JAN_1 + 32 * HOUR, JAN_1 + 31 * HOUR, JAN_1 + 30 * HOUR]);

    // The hidden parent cannot be read as a stream of its own.
    let mut descriptor = catalog.stream("events").unwrap().clone();
    descriptor.name = "forms".into();
    let request = ReadRequest {
        config: config.clone(),
        catalog: ConfiguredCatalog {
            streams: vec![ConfiguredStream { mode: descriptor.default_mode, stream: descriptor }],
        },
        state: Default::default(),
    };
    let error = connector.read(request).await.err().expect("a hidden stream is refused").to_string();
    assert!(error.contains("forms") && !error.contains("forms,"), "{error}");
}
