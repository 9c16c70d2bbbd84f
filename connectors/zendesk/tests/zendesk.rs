//! The `zendesk` declarative connector against an in-process fake of the Zendesk Support API
//! that serves `connectors/zendesk/tests/fixtures/*.json`: the cursor-based incremental
//! exports of tickets (with `include=metric_sets`) and users (`start_time`, then `cursor`,
//! two records a page, `end_of_stream`), the satisfaction ratings with cursor pagination
//! (`page[size]`, `links.next`, `meta.has_more`), API-token basic auth (401 on a wrong
//! token) and faults on demand (a 429 with `Retry-After: 1`, a 500, a truncated page).
//! The end-to-end tests sync it beside the HubSpot fake, so requesters resolve to customers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{
    ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, DeclarativeConnector, Message, ReadRequest,
    StateMap, StreamMode, SyncMode,
};

use crate::hubspot::{FakeHubspot, inline, query, root, sync};

pub(crate) const EMAIL: &str = "admin@acme.example";
pub(crate) const API_TOKEN: &str = "zd-test-8Jq2vN4pX7";
/// `Basic base64("admin@acme.example/token:zd-test-8Jq2vN4pX7")`, as Zendesk expects an API token.
const AUTHORIZATION: &str = "Basic YWRtaW5AYWNtZS5leGFtcGxlL3Rva2VuOnpkLXRlc3QtOEpxMnZONHBYNw==";

/// Records per page the fake serves, so every stream pages.
const PAGE: usize = 2;

const STREAMS: [&str; 4] = ["tickets", "ticket_metrics", "users", "satisfaction_ratings"];

fn fixture(name: &str) -> Value {
    let path = root().join("connectors/zendesk/tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn unix(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp()
}

/// What the fake does to the next request instead of answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
    Truncated,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: BTreeMap<String, String>,
    status: u16,
}

#[derive(Debug)]
struct Inner {
    tickets: Vec<Value>,
    metric_sets: Vec<Value>,
    users: Vec<Value>,
    ratings: Vec<Value>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
}

/// The fake's records, the faults it injects next and the requests it saw: the state behind
/// its router.
#[derive(Debug)]
pub(crate) struct Fake {
    inner: Mutex<Inner>,
}

/// The fake Zendesk API's routes and state. Next-page URLs name the host a request reached.
pub(crate) fn fake_api() -> (axum::Router, Arc<Fake>) {
    let tickets = fixture("tickets");
    let fake = Arc::new(Fake {
        inner: Mutex::new(Inner {
            tickets: tickets["tickets"].as_array().unwrap().clone(),
            metric_sets: tickets["metric_sets"].as_array().unwrap().clone(),
            users: fixture("users")["users"].as_array().unwrap().clone(),
            ratings: fixture("satisfaction_ratings")["satisfaction_ratings"].as_array().unwrap().clone(),
            faults: VecDeque::new(),
            seen: Vec::new(),
        }),
    });
    let router = axum::Router::new().fallback(handle).with_state(fake.clone());
    (router, fake)
}

impl Fake {
    /// A ticket changes at `at`: the fields given, its timestamps, and, when `metrics` is
    /// given, its metric set's.
    fn update_ticket(&self, id: i64, at: &str, fields: Value, metrics: Option<Value>) {
        let mut inner = self.inner.lock().unwrap();
        let ticket = inner.tickets.iter_mut().find(|t| t["id"] == id).unwrap();
        ticket["updated_at"] = json!(at);
        ticket["generated_timestamp"] = json!(unix(at));
        for (k, v) in fields.as_object().unwrap() {
            ticket[k] = v.clone();
        }
        let Some(metrics) = metrics else { return };
        let metric = inner.metric_sets.iter_mut().find(|m| m["ticket_id"] == id).unwrap();
        metric["updated_at"] = json!(at);
        for (k, v) in metrics.as_object().unwrap() {
            metric[k] = v.clone();
        }
    }

    /// A requester answers (or changes) the survey of a rating at `at`.
    fn update_rating(&self, id: i64, at: &str, score: &str) {
        let mut inner = self.inner.lock().unwrap();
        let rating = inner.ratings.iter_mut().find(|r| r["id"] == id).unwrap();
        rating["updated_at"] = json!(at);
        rating["score"] = json!(score);
    }

    fn update_user(&self, id: i64, at: &str, fields: Value) {
        let mut inner = self.inner.lock().unwrap();
        let user = inner.users.iter_mut().find(|u| u["id"] == id).unwrap();
        user["updated_at"] = json!(at);
        for (k, v) in fields.as_object().unwrap() {
            user[k] = v.clone();
        }
    }

    /// Changes the help desk the way agents and requesters do, now: the SSO ticket is solved
    /// (its metric set records the solve) and its requester answers the survey (the rating, and
    /// the ticket's copy of it); an agent tags the new ticket (no metric changes); a requester
    /// adds a phone number. Returns how many records changed per stream.
    pub(crate) fn touch(&self) -> BTreeMap<String, usize> {
        let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.update_rating(62003, &at, "good");
        self.update_ticket(
            35437,
            &at,
            json!({ "status": "solved", "satisfaction_rating": { "id": 62003, "score": "good", "comment": null } }),
            Some(json!({ "solved_at": at, "status_updated_at": at })),
        );
        self.update_ticket(35438, &at, json!({ "tags": ["vip"] }), None);
        self.update_user(381002, &at, json!({ "phone": "+86 21 5555 0100" }));
        BTreeMap::from([
            ("tickets".to_string(), 2),
            ("ticket_metrics".to_string(), 1),
            ("users".to_string(), 1),
            ("satisfaction_ratings".to_string(), 1),
        ])
    }
}

/// The fake Zendesk API on 127.0.0.1.
#[derive(Debug, Clone)]
struct FakeZendesk {
    url: String,
    fake: Arc<Fake>,
}

impl FakeZendesk {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (app, fake) = fake_api();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, fake }
    }

    fn config(&self) -> Value {
        json!({
            "subdomain": "acme",
            "email": EMAIL,
            "api_token": API_TOKEN,
            "base_url": self.url,
            "start_date": "2024-01-01",
        })
    }

    fn fail_next(&self, fault: Fault) {
        self.fake.inner.lock().unwrap().faults.push_back(fault);
    }

    fn seen(&self) -> Vec<Seen> {
        self.fake.inner.lock().unwrap().seen.clone()
    }

    /// See [`Fake::update_ticket`]; the metric set changes too.
    fn update_ticket(&self, id: i64, at: &str, fields: Value, metrics: Value) {
        self.fake.update_ticket(id, at, fields, Some(metrics));
    }

    /// See [`Fake::update_rating`].
    fn update_rating(&self, id: i64, at: &str, score: &str) {
        self.fake.update_rating(id, at, score);
    }

    /// See [`Fake::update_user`].
    fn update_user(&self, id: i64, at: &str, fields: Value) {
        self.fake.update_user(id, at, fields);
    }
}

fn zendesk_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "error": error, "description": description }))).into_response()
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    let response = answer(&mut inner, uri.path(), &query, &headers);
    inner.seen.push(Seen { path: uri.path().to_string(), query, status: response.status().as_u16() });
    response
}

fn answer(inner: &mut Inner, path: &str, query: &BTreeMap<String, String>, headers: &HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(AUTHORIZATION) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "Couldn't authenticate you" }))).into_response();
    }
    let fault = inner.faults.pop_front();
    match fault {
        Some(Fault::RateLimited) => {
            let body = json!({ "error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded" });
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], axum::Json(body)).into_response();
        }
        Some(Fault::ServerError) => {
            return zendesk_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "Something went wrong");
        }
        _ => {}
    }
    let base = format!("http://{}", headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"));
    let page = match path.trim_end_matches(".json") {
        "/api/v2/incremental/tickets/cursor" => {
            let mut tickets = inner.tickets.clone();
            tickets.sort_by_key(|t| (t["generated_timestamp"].as_i64().unwrap(), t["id"].as_i64().unwrap()));
            export(inner, &base, path, query, "tickets", tickets, |t| t["generated_timestamp"].as_i64().unwrap())
        }
        "/api/v2/incremental/users/cursor" => {
            let mut users = inner.users.clone();
            users.sort_by_key(|u| (unix(u["updated_at"].as_str().unwrap()), u["id"].as_i64().unwrap()));
            export(inner, &base, path, query, "users", users, |u| unix(u["updated_at"].as_str().unwrap()))
        }
        "/api/v2/satisfaction_ratings" => Ok(ratings(inner, &base, path, query)),
        _ => Err(zendesk_error(StatusCode::NOT_FOUND, "InvalidEndpoint", "Not found")),
    };
    let page = match page {
        Ok(page) => page,
        Err(response) => return response,
    };
    let mut text = serde_json::to_vec(&page).unwrap();
    if fault == Some(Fault::Truncated) {
        text.truncate(text.len() / 2);
    }
    ([("content-type", "application/json; charset=utf-8")], text).into_response()
}

/// A cursor-based incremental export: `start_time` on the first request, `cursor` after.
/// The cursor is opaque to clients; here it carries the start and the offset.
// The error is the response a handler sends; boxing it would only add noise to a fake.
#[allow(clippy::result_large_err)]
fn export(
    inner: &Inner,
    base: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    key: &str,
    items: Vec<Value>,
    changed_at: impl Fn(&Value) -> i64,
) -> Result<Value, Response> {
    let (start, offset) = match (query.get("start_time"), query.get("cursor")) {
        (Some(_), Some(_)) => {
            return Err(zendesk_error(
                StatusCode::BAD_REQUEST,
                "InvalidPaginationParameter",
                "this fake expects start_time or cursor, not both",
            ));
        }
        (Some(start), None) => (start.parse::<i64>().unwrap(), 0usize),
        (None, Some(cursor)) => {
            let (start, offset) = cursor.strip_prefix("cur_").and_then(|c| c.split_once('_')).unwrap();
            (start.parse().unwrap(), offset.parse().unwrap())
        }
        (None, None) => {
            return Err(zendesk_error(
                StatusCode::BAD_REQUEST,
                "InvalidPaginationParameter",
                "start_time or cursor is required",
            ));
        }
    };
    let matching: Vec<Value> = items.into_iter().filter(|i| changed_at(i) >= start).collect();
    let page: Vec<Value> = matching.iter().skip(offset).take(PAGE).cloned().collect();
    let next = (offset + PAGE).min(matching.len());
    let cursor = format!("cur_{start}_{next}");
    let mut out = json!({
        key: page,
        "after_url": format!("{base}{path}?cursor={cursor}"),
        "after_cursor": cursor,
        "before_url": null,
        "before_cursor": null,
        "end_of_stream": next >= matching.len(),
    });
    if key == "tickets" && query.get("include").is_some_and(|i| i.split(',').any(|s| s == "metric_sets")) {
        let ids: BTreeSet<i64> = page.iter().map(|t| t["id"].as_i64().unwrap()).collect();
        let sets: Vec<&Value> =
            inner.metric_sets.iter().filter(|m| ids.contains(&m["ticket_id"].as_i64().unwrap())).collect();
        out["metric_sets"] = json!(sets);
    }
    Ok(out)
}

/// GET /api/v2/satisfaction_ratings with `score`, `start_time` (creation) and cursor paging.
fn ratings(inner: &Inner, base: &str, path: &str, query: &BTreeMap<String, String>) -> Value {
    let size: usize = query.get("page[size]").map(|s| s.parse().unwrap()).unwrap_or(100).min(PAGE);
    let offset: usize = query.get("page[after]").map(|s| s.parse().unwrap()).unwrap_or(0);
    let start = query.get("start_time").map(|s| s.parse::<i64>().unwrap()).unwrap_or(0);
    let received = |score: &str| matches!(score, "good" | "bad");
    let matching: Vec<&Value> = inner
        .ratings
        .iter()
        .filter(|r| match query.get("score").map(String::as_str) {
            Some("received") => received(r["score"].as_str().unwrap()),
            Some(score) => r["score"] == score,
            None => true,
        })
        .filter(|r| unix(r["created_at"].as_str().unwrap()) >= start)
        .collect();
    let page: Vec<&Value> = matching.iter().skip(offset).take(size).copied().collect();
    let has_more = offset + size < matching.len();
    let mut next_query: BTreeMap<String, String> = query.clone();
    next_query.insert("page[after]".into(), (offset + size).to_string());
    let encoded: Vec<String> =
        next_query.iter().map(|(k, v)| format!("{}={}", k.replace('[', "%5B").replace(']', "%5D"), v)).collect();
    json!({
        "satisfaction_ratings": page,
        "meta": { "has_more": has_more, "after_cursor": (offset + size).to_string(), "before_cursor": offset.to_string() },
        "links": {
            "prev": null,
            "next": if has_more { json!(format!("{base}{path}?{}", encoded.join("&"))) } else { Value::Null },
        },
    })
}

// ---------------------------------------------------------------------------------------
// Driving the connector.

fn connector() -> DeclarativeConnector {
    let text = std::fs::read_to_string(root().join("connectors/zendesk/manifest.yaml")).unwrap();
    DeclarativeConnector::from_manifest("connectors/zendesk/manifest.yaml", &text).unwrap()
}

#[derive(Debug, Default)]
struct Read {
    records: BTreeMap<String, Vec<Value>>,
    state: StateMap,
}

impl Read {
    fn ids(&self, stream: &str) -> BTreeSet<i64> {
        self.records.get(stream).into_iter().flatten().map(|r| r["id"].as_i64().unwrap()).collect()
    }

    fn record(&self, stream: &str, id: i64) -> &Value {
        self.records[stream].iter().find(|r| r["id"] == id).unwrap()
    }
}

fn rows(batch: &RecordBatch) -> Vec<Value> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write_batches(&[batch]).unwrap();
    writer.finish().unwrap();
    let bytes = writer.into_inner();
    if bytes.is_empty() { Vec::new() } else { serde_json::from_slice(&bytes).unwrap() }
}

async fn read(config: &Value, streams: &[&str], mode: StreamMode, state: StateMap) -> Result<Read, ConnectorError> {
    let connector = connector();
    let catalog = connector.discover(config).await?;
    let catalog = ConfiguredCatalog {
        streams: streams
            .iter()
            .map(|s| ConfiguredStream { stream: catalog.stream(s).unwrap().clone(), mode })
            .collect(),
    };
    let mut messages = connector.read(ReadRequest { config: config.clone(), catalog, state }).await?;
    let mut out = Read::default();
    while let Some(message) = messages.next().await {
        match message? {
            Message::Batch { stream, batch } => out.records.entry(stream).or_default().extend(rows(&batch)),
            Message::State { stream, state } => {
                out.state.insert(stream, state);
            }
            // A failed stream fails these reads (the sync goes on with the others).
            Message::StreamFailed { stream, error } => {
                return Err(ConnectorError::Source(format!("stream `{stream}`: {error}")));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn ids_of(items: &Value) -> BTreeSet<i64> {
    items.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

/// What the API returns for each stream: every fixture record, ratings only when received.
fn expected_ids(stream: &str) -> BTreeSet<i64> {
    match stream {
        "tickets" => ids_of(&fixture("tickets")["tickets"]),
        "ticket_metrics" => ids_of(&fixture("tickets")["metric_sets"]),
        "users" => ids_of(&fixture("users")["users"]),
        _ => fixture("satisfaction_ratings")["satisfaction_ratings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["score"] == "good" || r["score"] == "bad")
            .map(|r| r["id"].as_i64().unwrap())
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// The connector's operations.

#[test]
fn the_spec_marks_the_token_secret_and_describes_every_field() {
    let spec = connector().spec().config_schema;
    assert_eq!(spec["properties"]["api_token"]["x-secret"], true, "{spec}");
    assert!(spec["properties"]["email"].get("x-secret").is_none());
    assert_eq!(spec["required"], json!(["subdomain", "email", "api_token"]));
    for field in ["subdomain", "email", "api_token", "start_date", "base_url"] {
        assert!(spec["properties"][field]["description"].as_str().is_some_and(|d| !d.is_empty()), "{field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_and_a_wrong_token_fails_saying_so() {
    let fake = FakeZendesk::start().await;
    connector().check(&fake.config()).await.unwrap();
    let check = &fake.seen()[0];
    assert_eq!(check.path, "/api/v2/incremental/users/cursor.json");
    assert!(check.query["start_time"].parse::<i64>().unwrap() > unix("2024-01-01T00:00:00Z"), "a day back");

    let mut wrong = fake.config();
    wrong["api_token"] = json!("revoked");
    let err = connector().check(&wrong).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("Couldn't authenticate you"), "{text}");
    assert!(text.contains("/api/v2/incremental/users/cursor.json") && text.contains("credentials"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_declares_keys_and_cursors() {
    let fake = FakeZendesk::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    assert_eq!(catalog.names(), STREAMS);
    let cursors: Vec<Option<&str>> = catalog.streams.iter().map(|s| s.cursor_field.as_deref()).collect();
    assert_eq!(cursors, [Some("generated_timestamp"), Some("updated_at"), Some("updated_at"), Some("updated_at")]);
    for stream in &catalog.streams {
        assert_eq!(stream.primary_key, ["id"], "{}", stream.name);
        assert!(stream.sync_modes.contains(&SyncMode::Incremental));
        assert_eq!(stream.default_mode, StreamMode::IncrementalDedupe);
    }
    let tickets = &catalog.stream("tickets").unwrap().schema;
    assert!(matches!(tickets.field_with_name("via").unwrap().data_type(), arrow::datatypes::DataType::Struct(_)));
    assert_eq!(tickets.field_with_name("id").unwrap().data_type(), &arrow::datatypes::DataType::Int64);
    assert!(fake.seen().is_empty(), "inline schemas: discover needs no request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_read_returns_every_fixture_record() {
    let fake = FakeZendesk::start().await;
    let read = read(&fake.config(), &STREAMS, StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    for stream in STREAMS {
        assert_eq!(read.ids(stream), expected_ids(stream), "{stream}");
    }
    let ticket = read.record("tickets", 35436);
    assert_eq!(ticket["via"]["channel"], "email");
    assert_eq!(ticket["tags"], json!(["billing", "vat"]));
    assert_eq!(ticket["satisfaction_rating"]["score"], "good");
    assert!(read.record("tickets", 35438).get("priority").is_none(), "a null priority stays null");
    let metrics = read.records["ticket_metrics"].iter().find(|m| m["ticket_id"] == 35437).unwrap();
    assert_eq!(
        (metrics["reopens"].as_i64(), metrics["reply_time_in_minutes"]["calendar"].as_i64()),
        (Some(1), Some(95))
    );
    assert_eq!(read.record("satisfaction_ratings", 62002)["score"], "bad");

    let seen = fake.seen();
    let exports: Vec<&Seen> = seen.iter().filter(|r| r.path == "/api/v2/incremental/tickets/cursor.json").collect();
    assert_eq!(exports.len(), 6, "tickets and metric sets: five tickets, two a page, each");
    assert_eq!(exports[0].query.get("start_time"), Some(&unix("2024-01-01T00:00:00Z").to_string()));
    assert!(!exports[0].query.contains_key("cursor"));
    assert!(
        !exports[1].query.contains_key("start_time") && exports[1].query.contains_key("cursor"),
        "{:?}",
        exports[1]
    );
    assert_eq!(exports.iter().filter(|r| r.query.get("include").map(String::as_str) == Some("metric_sets")).count(), 3);
    let ratings: Vec<&Seen> = seen.iter().filter(|r| r.path == "/api/v2/satisfaction_ratings").collect();
    assert_eq!(ratings[0].query["score"], "received");
    assert_eq!(ratings[0].query["page[size]"], "100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_read_from_saved_state_returns_only_changed_records() {
    let fake = FakeZendesk::start().await;
    let first = read(&fake.config(), &STREAMS, StreamMode::IncrementalDedupe, StateMap::new()).await.unwrap();
    for stream in STREAMS {
        assert_eq!(first.ids(stream), expected_ids(stream), "{stream}: a first read takes everything");
    }
    let newest_ticket = fixture("tickets")["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["generated_timestamp"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(
        first.state["tickets"]["cursor"].as_str().map(unix),
        Some(newest_ticket),
        "the newest generated_timestamp"
    );
    assert_eq!(first.state["users"], json!({ "cursor": "2024-07-05T19:46:00Z" }));

    fake.update_ticket(
        35437,
        "2024-10-01T09:00:00Z",
        json!({ "status": "solved" }),
        json!({ "solved_at": "2024-10-01T09:00:00Z" }),
    );
    fake.update_user(381002, "2024-10-02T10:00:00Z", json!({ "phone": "+86 21 5555 0100" }));
    // The survey of the SSO ticket, offered in June, is answered in October.
    fake.update_rating(62003, "2024-10-03T07:45:00Z", "bad");
    let before = fake.seen().len();
    let second = read(&fake.config(), &STREAMS, StreamMode::IncrementalDedupe, first.state.clone()).await.unwrap();
    assert_eq!(second.ids("tickets"), BTreeSet::from([35437]));
    assert_eq!(second.record("tickets", 35437)["status"], "solved");
    assert_eq!(second.ids("ticket_metrics"), BTreeSet::from([7100437]));
    assert_eq!(second.ids("users"), BTreeSet::from([381002]));
    // Created (offered) before the cursor, answered after it: still found.
    assert_eq!(second.ids("satisfaction_ratings"), BTreeSet::from([62003]));
    assert_eq!(second.record("satisfaction_ratings", 62003)["score"], "bad");
    assert_eq!(second.state["tickets"]["cursor"].as_str().map(unix), Some(unix("2024-10-01T09:00:00Z")));

    let seen = &fake.seen()[before..];
    let first_export = seen.iter().find(|r| r.path == "/api/v2/incremental/tickets/cursor.json").unwrap();
    assert_eq!(first_export.query["start_time"], newest_ticket.to_string(), "from the saved cursor");
    let users = seen.iter().find(|r| r.path == "/api/v2/incremental/users/cursor.json").unwrap();
    assert_eq!(users.query["start_time"], unix("2024-07-05T19:46:00Z").to_string());
    let ratings = seen.iter().find(|r| r.path == "/api/v2/satisfaction_ratings").unwrap();
    assert_eq!(ratings.query["start_time"], unix("2024-01-01T00:00:00Z").to_string(), "always the start date");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    let fake = FakeZendesk::start().await;
    fake.fail_next(Fault::RateLimited);
    fake.fail_next(Fault::ServerError);
    let read = read(&fake.config(), &["users"], StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    assert_eq!(read.ids("users"), expected_ids("users"));
    let statuses: Vec<u16> = fake.seen().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 200, 200, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_page_fails_naming_its_url() {
    let fake = FakeZendesk::start().await;
    fake.fail_next(Fault::Truncated);
    let err = read(&fake.config(), &["tickets"], StreamMode::FullRefresh, StateMap::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("{}/api/v2/incremental/tickets/cursor.json", fake.url)), "{text}");
    assert!(text.contains("truncated"), "{text}");
}

// ---------------------------------------------------------------------------------------
// End to end: HubSpot and Zendesk synced by the `txlake` binary into one lake.

/// Zendesk beside a HubSpot that syncs what tx.customers needs.
fn write_config(dir: &Path, crm: &FakeHubspot, desk: &FakeZendesk) -> std::path::PathBuf {
    let path = dir.join("txlake.toml");
    let text = format!(
        "[lake]\nurl = \"file://./lake\"\n\n\
         [connections.crm]\nconnector = \"hubspot\"\nconfig = {}\nstreams = [\"contacts\", \"companies\"]\n\n\
         [connections.desk]\nconnector = \"zendesk\"\nconfig = {}\n",
        inline(&crm.config()),
        inline(&desk.config())
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_tickets_and_csat_join_the_hubspot_customers() {
    let crm = FakeHubspot::start().await;
    let desk = FakeZendesk::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &crm, &desk);

    let landed = sync(&config, &[]).await;
    for stream in STREAMS {
        assert_eq!(landed[&("desk".to_string(), stream.to_string())], expected_ids(stream).len() as u64, "{stream}");
    }

    let tickets = query(
        &config,
        "SELECT ticket_key, customer_key, assignee_key, channel, priority, status, \
         CAST(created_at AS VARCHAR) AS created, CAST(first_response_at AS VARCHAR) AS first_response, \
         CAST(solved_at AS VARCHAR) AS solved, reopened FROM tx.tickets ORDER BY ticket_key",
    )
    .await;
    let keys: Vec<&str> = tickets.iter().map(|t| t["ticket_key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["desk:35436", "desk:35437", "desk:35438", "desk:35439"], "the deleted ticket is left out");
    let vat = &tickets[0];
    assert_eq!(vat["customer_key"], "crm:101", "Maria's e-mail, in another case in HubSpot");
    assert_eq!(
        (vat["channel"].as_str(), vat["priority"].as_str(), vat["status"].as_str()),
        (Some("email"), Some("high"), Some("solved"))
    );
    assert!(vat["first_response"].as_str().unwrap().starts_with("2024-04-01T08:42:00"), "created + 42 minutes: {vat}");
    assert!(vat["solved"].as_str().unwrap().starts_with("2024-04-02T15:30:00"), "{vat}");
    assert_eq!(vat["reopened"], false);
    assert!(vat.get("assignee_key").is_none(), "no HRM connection: agents are no employees yet");
    let sso = &tickets[1];
    assert_eq!(sso["customer_key"], "crm:103");
    assert_eq!((sso["reopened"].as_bool(), sso.get("solved")), (Some(true), None), "reopened and open again: {sso}");
    assert!(tickets[2].get("customer_key").is_none(), "a visitor without e-mail is no known customer");
    assert_eq!(tickets[3]["channel"], "phone", "voice");

    let surveys = query(
        &config,
        "SELECT response_key, respondent_kind, respondent_key, survey, score, scale_min, scale_max, touchpoint, ticket_key \
         FROM tx.surveys ORDER BY response_key",
    )
    .await;
    assert_eq!(
        surveys,
        [
            json!({ "response_key": "desk:62001", "respondent_kind": "customer", "respondent_key": "crm:101", "survey": "csat",
                    "score": 5, "scale_min": 1, "scale_max": 5, "touchpoint": "support_ticket", "ticket_key": "desk:35436" }),
            json!({ "response_key": "desk:62002", "respondent_kind": "customer", "respondent_key": "crm:101", "survey": "csat",
                    "score": 1, "scale_min": 1, "scale_max": 5, "touchpoint": "support_ticket", "ticket_key": "desk:35439" }),
        ]
    );
    let totals = query(
        &config,
        "SELECT (SELECT count(*) FROM tx.touchpoints WHERE stage = 'support') AS support, \
                (SELECT sum(responses) FROM metrics.csat) AS responses, \
                (SELECT sum(satisfied) FROM metrics.csat) AS satisfied",
    )
    .await;
    assert_eq!(
        totals,
        [json!({ "support": 3, "responses": 2, "satisfied": 1 })],
        "support events of known customers' tickets (the deleted one aside); one good CSAT of two"
    );

    // The SSO ticket is solved: the next sync lands that ticket and its metric set only.
    desk.update_ticket(
        35437,
        "2024-10-01T09:00:00Z",
        json!({ "status": "solved" }),
        json!({ "solved_at": "2024-10-01T09:00:00Z" }),
    );
    let landed = sync(&config, &["desk"]).await;
    let desk_landed: Vec<(String, u64)> =
        STREAMS.iter().map(|s| (s.to_string(), landed[&("desk".to_string(), s.to_string())])).collect();
    assert_eq!(
        desk_landed,
        [("tickets".into(), 1), ("ticket_metrics".into(), 1), ("users".into(), 0), ("satisfaction_ratings".into(), 0)]
    );
    let sso = query(
        &config,
        "SELECT status, CAST(solved_at AS VARCHAR) AS solved, count(*) OVER () AS tickets \
         FROM tx.tickets ORDER BY ticket_key = 'desk:35437' DESC LIMIT 1",
    )
    .await;
    assert_eq!(sso[0]["status"], "solved");
    assert!(sso[0]["solved"].as_str().unwrap().starts_with("2024-10-01T09:00:00"), "{}", sso[0]);
    assert_eq!(sso[0]["tickets"], 4, "merged, not appended");
}

// ---------------------------------------------------------------------------------------
// Every metric over a lake fed by HubSpot and Zendesk, with an HRM that knows the staff.

/// The staff as an HRM would map them onto tx.employees (a literal model, no source needed):
/// Anna (a HubSpot owner and a Zendesk agent) was employed before and is again, Tom owns
/// deals, Sam is a Zendesk admin, with his e-mail written in another case.
const STAFF: &str = "
SELECT * FROM (VALUES
    ('hr:1044', encode(sha256('anna.berg@ourcompany.com'), 'hex'), 'hr_fixture', 'Anna Berg', 'Support', 'Support 01', 'Support Agent', 'hr:1001',
     CAST('2023-09-01T00:00:00' AS TIMESTAMP), CAST(NULL AS TIMESTAMP), 52000.0, 'EUR'),
    ('hr:0311', encode(sha256('anna.berg@ourcompany.com'), 'hex'), 'hr_fixture', 'Anna Berg', 'Sales', 'Sales 01', 'Account Executive', 'hr:1001',
     CAST('2019-03-01T00:00:00' AS TIMESTAMP), CAST('2021-06-30T00:00:00' AS TIMESTAMP), 61000.0, 'EUR'),
    ('hr:1050', encode(sha256('tom.okafor@ourcompany.com'), 'hex'), 'hr_fixture', 'Tom Okafor', 'Sales', 'Sales 01', 'Account Executive', 'hr:1001',
     CAST('2023-11-20T00:00:00' AS TIMESTAMP), CAST(NULL AS TIMESTAMP), 70000.0, 'EUR'),
    ('hr:1001', encode(sha256('sam.reyes@ourcompany.com'), 'hex'), 'hr_fixture', 'Sam Reyes', 'Support', 'Support 01', 'Head of Support', CAST(NULL AS VARCHAR),
     CAST('2023-06-01T00:00:00' AS TIMESTAMP), CAST(NULL AS TIMESTAMP), 98000.0, 'EUR')
) AS e(employee_key, person_key, source, name, department, team, role, manager_key, hired_at, terminated_at, annual_cost, currency)
";

async fn column_of(engine: &txlake_engine::Engine, sql: &str) -> Vec<Value> {
    let batches = engine.sql(sql).await.unwrap().collect().await.unwrap();
    batches.iter().flat_map(rows).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_plans_and_staff_resolve_to_employees() {
    use txlake_engine::{Connection, Engine, EngineSettings, SqlFile, SqlSources};
    use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

    let crm = FakeHubspot::start().await;
    let desk = FakeZendesk::start().await;
    let lake = txlake_lake::Lake::open("memory://zendesk-metrics", Path::new("/"), Default::default()).unwrap();
    for (name, connector, config) in [("crm", "hubspot", crm.config()), ("desk", "zendesk", desk.config())] {
        let connection = ConnectionConfig {
            connector: connector.into(),
            config,
            streams: None,
            modes: BTreeMap::new(),
            survey_mapping: None,
        };
        let registry = txlake_sync::connectors::builtin_registry();
        sync_connection(&lake, &registry, name, &connection, &SyncOptions::default(), &QuietObserver).await.unwrap();
    }
    let mut sources = SqlSources::builtin();
    sources.insert(SqlFile { path: "connectors/hr_fixture/models/employees.sql".into(), text: STAFF.into() });
    let connections: Vec<Connection> = [("crm", "hubspot"), ("desk", "zendesk"), ("hr", "hr_fixture")]
        .iter()
        .map(|(name, connector)| Connection { name: name.to_string(), connector: connector.to_string() })
        .collect();
    let engine = Engine::open(&lake, &connections, &sources, &EngineSettings::default()).await.unwrap();
    assert!(engine.warnings().is_empty(), "every model plans: {:?}", engine.warnings());

    let assignees = column_of(&engine, "SELECT ticket_key, assignee_key FROM tx.tickets ORDER BY ticket_key").await;
    assert_eq!(
        assignees,
        [
            json!({ "ticket_key": "desk:35436", "assignee_key": "hr:1044" }),
            json!({ "ticket_key": "desk:35437", "assignee_key": "hr:1044" }),
            json!({ "ticket_key": "desk:35438" }),
            json!({ "ticket_key": "desk:35439", "assignee_key": "hr:1001" }),
        ],
        "agents by e-mail; Anna's current employment"
    );
    let owners = column_of(&engine, "SELECT revenue_key, employee_key FROM tx.revenue ORDER BY revenue_key").await;
    let owners: Vec<&str> = owners.iter().map(|r| r["employee_key"].as_str().unwrap()).collect();
    assert_eq!(owners, ["hr:1044", "hr:1050", "hr:1044"], "deal owners by e-mail");
    let events = column_of(
        &engine,
        "SELECT employee_key, count(*) AS n FROM tx.touchpoints WHERE employee_key IS NOT NULL GROUP BY employee_key ORDER BY employee_key",
    )
    .await;
    // Deal events of Anna's deals (7001, 7005: created + won) and her support tickets (35436,
    // 35437); Tom's deal 7002 (created + won); Sam's ticket 35439.
    assert_eq!(
        events,
        [
            json!({ "employee_key": "hr:1001", "n": 1 }),
            json!({ "employee_key": "hr:1044", "n": 6 }),
            json!({ "employee_key": "hr:1050", "n": 2 }),
        ]
    );

    // Every metric plans (DataFusion's optimizer has failed on some struct-field
    // expressions); the CX × EX link also runs: CSAT reaches the agents who earned it.
    let mut failed = Vec::new();
    for metric in engine.metrics() {
        let sql = format!("SELECT * FROM metrics.{}", metric.name);
        let planned = match engine.sql(&sql).await {
            Ok(frame) => frame.create_physical_plan().await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = planned {
            failed.push(format!("{}: {e}", metric.name));
        }
    }
    assert!(failed.is_empty(), "metrics that do not plan over HubSpot + Zendesk data:\n{}", failed.join("\n"));
    let link = column_of(&engine, "SELECT sum(csat_responses) AS n FROM metrics.cx_ex_link").await;
    assert!(link[0]["n"].as_i64().unwrap_or(0) > 0, "CSAT reaches the agents: {link:?}");
}
