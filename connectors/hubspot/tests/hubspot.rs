//! The `hubspot` declarative connector against an in-process fake of the HubSpot CRM v3 API
//! that serves `connectors/hubspot/tests/fixtures/*.json`: the object listings (two records a
//! page, `paging.next.after`), the search API (GTE filter on the last-modified property,
//! ascending sort, `after` in the body), the owners API, bearer-token checks (401 on a wrong
//! token) and faults on demand (a 429 with `Retry-After: 1`, a 500, a truncated page).
//!
//! Compiled into the workspace's e2e test binary (`tests/e2e/main.rs`); the zendesk tests use
//! [`FakeHubspot`] too, to resolve Zendesk requesters to HubSpot customers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{
    ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, DeclarativeConnector, Message, ReadRequest,
    StateMap, StreamMode, SyncMode,
};

use crate::support::txlake;

/// The private-app token the fake accepts.
pub const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

/// Records per page the fake serves, whatever `limit` asks, so every stream pages.
const PAGE: usize = 2;

/// The five streams, in manifest order.
const STREAMS: [&str; 5] = ["contacts", "companies", "deals", "owners", "tickets"];

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn fixture(name: &str) -> Value {
    let path = root().join("connectors/hubspot/tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// What the fake does to the next request instead of answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: 1`, as HubSpot's secondly limit.
    RateLimited,
    /// 500.
    ServerError,
    /// The page cut off in the middle (a dropped connection behind a proxy).
    Truncated,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub status: u16,
}

#[derive(Debug)]
struct Inner {
    records: BTreeMap<String, Vec<Value>>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
}

/// The fake's records, the faults it injects next and the requests it saw: the state behind
/// its router.
#[derive(Debug)]
pub(crate) struct Fake {
    inner: Mutex<Inner>,
}

impl Fake {
    /// Changes a record as HubSpot would: the given properties (top-level fields of an owner),
    /// and its last-modified property and `updatedAt` set to `at`.
    pub fn update(&self, stream: &str, id: &str, at: &str, properties: Value) {
        let mut inner = self.inner.lock().unwrap();
        let record = inner.records.get_mut(stream).unwrap().iter_mut().find(|r| r["id"] == id).unwrap();
        record["updatedAt"] = json!(at);
        let fields = if stream == "owners" {
            &mut *record
        } else {
            record["properties"][modified_property(stream)] = json!(at);
            &mut record["properties"]
        };
        for (k, v) in properties.as_object().unwrap() {
            fields[k] = v.clone();
        }
    }

    /// Changes the CRM the way its users do, ten minutes ago (older than the 5 minutes the
    /// connector leaves to the search index): John becomes a customer, Contoso grows, the
    /// scheduled deal is won, an owner joins a team and the open ticket is closed. Returns how
    /// many records changed per stream.
    pub fn touch(&self) -> BTreeMap<String, usize> {
        let at = (chrono::Utc::now() - chrono::Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        self.update(
            "contacts",
            "102",
            &at,
            json!({ "lifecyclestage": "customer", "hs_lifecyclestage_customer_date": at }),
        );
        self.update("companies", "9003", &at, json!({ "numberofemployees": "320" }));
        self.update(
            "deals",
            "7004",
            &at,
            json!({ "dealstage": "closedwon", "hs_is_closed": "true", "hs_is_closed_won": "true", "closedate": at }),
        );
        self.update("owners", "503", &at, json!({ "teams": [{ "id": "88", "name": "Enterprise", "primary": true }] }));
        self.update("tickets", "3302", &at, json!({ "hs_pipeline_stage": "4", "closed_date": at }));
        STREAMS.iter().map(|s| (s.to_string(), 1)).collect()
    }
}

/// The fake HubSpot API's routes and state. Paging links name the host a request reached.
pub(crate) fn fake_api() -> (axum::Router, Arc<Fake>) {
    let records = STREAMS.iter().map(|s| (s.to_string(), fixture(s)["results"].as_array().unwrap().clone())).collect();
    let fake = Arc::new(Fake { inner: Mutex::new(Inner { records, faults: VecDeque::new(), seen: Vec::new() }) });
    let router = axum::Router::new().fallback(handle).with_state(fake.clone());
    (router, fake)
}

/// The fake HubSpot API, listening on 127.0.0.1 until the test's runtime ends.
#[derive(Debug, Clone)]
pub struct FakeHubspot {
    pub url: String,
    fake: Arc<Fake>,
}

impl FakeHubspot {
    /// Starts the fake with the fixtures.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (app, fake) = fake_api();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, fake }
    }

    /// The connection config pointing at the fake.
    pub fn config(&self) -> Value {
        json!({ "access_token": TOKEN, "base_url": self.url, "start_date": "2024-01-01" })
    }

    /// The next requests meet these faults, one each.
    pub fn fail_next(&self, fault: Fault) {
        self.fake.inner.lock().unwrap().faults.push_back(fault);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.fake.inner.lock().unwrap().seen.clone()
    }

    /// See [`Fake::update`].
    pub fn update(&self, stream: &str, id: &str, at: &str, properties: Value) {
        self.fake.update(stream, id, at, properties);
    }
}

/// The last-modified property search filters and sorts on.
fn modified_property(object: &str) -> &'static str {
    if object == "contacts" { "lastmodifieddate" } else { "hs_lastmodifieddate" }
}

fn millis(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
}

fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": "2d6c3f0e-9c3c-4b0a-8a55-0f8d9e1b7a10",
        "category": category,
    });
    (status, axum::Json(body)).into_response()
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body_json: Option<Value> = serde_json::from_slice(&body).ok();
    let mut inner = fake.inner.lock().unwrap();
    let (status, response) = answer(&mut inner, &method, uri.path(), &query, body_json.as_ref(), &headers);
    inner.seen.push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query,
        body: body_json,
        status: status.as_u16(),
    });
    response
}

fn answer(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
    headers: &HeaderMap,
) -> (StatusCode, Response) {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if authorization != format!("Bearer {TOKEN}") {
        let message = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview";
        return (StatusCode::UNAUTHORIZED, error(StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION", message));
    }
    let fault = inner.faults.pop_front();
    match fault {
        Some(Fault::RateLimited) => {
            let body = json!({
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
                "policyName": "SECONDLY",
            });
            let response = (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], axum::Json(body)).into_response();
            return (StatusCode::TOO_MANY_REQUESTS, response);
        }
        Some(Fault::ServerError) => {
            let response = error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error");
            return (StatusCode::INTERNAL_SERVER_ERROR, response);
        }
        _ => {}
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let page = match (method.as_str(), segments.as_slice()) {
        ("GET", ["crm", "v3", "owners"]) => Ok(list(inner, "owners", path, query, headers)),
        ("GET", ["crm", "v3", "objects", object]) if inner.records.contains_key(*object) => {
            Ok(list(inner, object, path, query, headers))
        }
        ("POST", ["crm", "v3", "objects", object, "search"]) if inner.records.contains_key(*object) => {
            search(inner, object, body)
        }
        _ => Err(error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to route {method} request to {path}"),
        )),
    };
    let page = match page {
        Ok(page) => page,
        Err(response) => return (response.status(), response),
    };
    let mut text = serde_json::to_vec(&page).unwrap();
    if fault == Some(Fault::Truncated) {
        text.truncate(text.len() / 2);
    }
    (StatusCode::OK, ([("content-type", "application/json;charset=utf-8")], text).into_response())
}

/// A record as the API returns it: only the requested properties (unset ones as null) and the
/// ones HubSpot always adds; associations only when asked for.
fn project(object: &str, record: &Value, properties: &[String], associations: &[String]) -> Value {
    if object == "owners" {
        return record.clone();
    }
    let mut out = record.clone();
    let all = &record["properties"];
    let mut shown = serde_json::Map::new();
    for name in properties.iter().map(String::as_str).chain(["hs_object_id", "createdate", modified_property(object)]) {
        shown.insert(name.to_string(), all.get(name).cloned().unwrap_or(Value::Null));
    }
    out["properties"] = Value::Object(shown);
    let map = out.as_object_mut().unwrap();
    match record.get("associations") {
        Some(Value::Object(assoc)) if !associations.is_empty() => {
            let kept: serde_json::Map<String, Value> =
                assoc.iter().filter(|(k, _)| associations.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
            map.insert("associations".into(), Value::Object(kept));
        }
        _ => {
            map.remove("associations");
        }
    }
    out
}

fn split_list(text: Option<&String>) -> Vec<String> {
    text.map(|t| t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

/// GET /crm/v3/objects/<object> and /crm/v3/owners.
fn list(inner: &Inner, object: &str, path: &str, query: &BTreeMap<String, String>, headers: &HeaderMap) -> Value {
    let records = &inner.records[object];
    let offset: usize = query.get("after").map(|a| a.parse().unwrap()).unwrap_or(0);
    let properties = split_list(query.get("properties"));
    let associations = split_list(query.get("associations"));
    let results: Vec<Value> =
        records.iter().skip(offset).take(PAGE).map(|r| project(object, r, &properties, &associations)).collect();
    let mut page = json!({ "results": results });
    if offset + PAGE < records.len() {
        let after = (offset + PAGE).to_string();
        let base = format!("http://{}", headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"));
        page["paging"] = json!({ "next": { "after": after, "link": format!("{base}{path}?after={after}") } });
    }
    page
}

/// POST /crm/v3/objects/<object>/search with filters on the last-modified property only
/// (`GTE`, `LTE`, `GT`, `LT`, all in one group, values in unix ms).
#[allow(clippy::result_large_err)] // the error is the response a handler sends
fn search(inner: &Inner, object: &str, body: Option<&Value>) -> Result<Value, Response> {
    let invalid = |message: &str| error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message);
    let body = body.ok_or_else(|| invalid("Invalid input JSON"))?;
    let property = modified_property(object);
    let filters = body["filterGroups"][0]["filters"].as_array().cloned().unwrap_or_default();
    let mut bounds = Vec::new();
    for filter in &filters {
        let value: Option<i64> = filter["value"].as_str().and_then(|v| v.parse().ok());
        match (filter["propertyName"] == property, filter["operator"].as_str(), value) {
            (true, Some(op @ ("GTE" | "LTE" | "GT" | "LT")), Some(value)) => bounds.push((op.to_string(), value)),
            _ => return Err(invalid(&format!("this fake filters {object} on {property} in unix ms only: {filter}"))),
        }
    }
    let within = |at: i64| {
        bounds.iter().all(|(op, v)| match op.as_str() {
            "GTE" => at >= *v,
            "LTE" => at <= *v,
            "GT" => at > *v,
            _ => at < *v,
        })
    };
    if body["sorts"][0]["propertyName"] != property || body["sorts"][0]["direction"] != "ASCENDING" {
        return Err(invalid("this fake needs sorts: [{propertyName: <last modified>, direction: ASCENDING}]"));
    }
    let properties: Vec<String> = body["properties"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let mut matching: Vec<&Value> = inner.records[object]
        .iter()
        .filter(|r| r["properties"][property].as_str().is_some_and(|t| within(millis(t))))
        .collect();
    matching.sort_by_key(|r| millis(r["properties"][property].as_str().unwrap()));
    let offset: usize = body["after"].as_str().map(|a| a.parse().unwrap()).unwrap_or(0);
    let results: Vec<Value> =
        matching.iter().skip(offset).take(PAGE).map(|r| project(object, r, &properties, &[])).collect();
    let mut page = json!({ "total": matching.len(), "results": results });
    if offset + PAGE < matching.len() {
        page["paging"] = json!({ "next": { "after": (offset + PAGE).to_string() } });
    }
    Ok(page)
}

// ---------------------------------------------------------------------------------------
// Driving the connector.

/// The manifest from its file, as `txlake` embeds it.
pub fn connector() -> DeclarativeConnector {
    let text = std::fs::read_to_string(root().join("connectors/hubspot/manifest.yaml")).unwrap();
    DeclarativeConnector::from_manifest("connectors/hubspot/manifest.yaml", &text).unwrap()
}

/// What a read emitted: records by stream (as JSON rows) and the last state of each stream.
#[derive(Debug, Default)]
struct Read {
    records: BTreeMap<String, Vec<Value>>,
    state: StateMap,
}

impl Read {
    fn ids(&self, stream: &str) -> BTreeSet<String> {
        self.records.get(stream).into_iter().flatten().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    }

    fn record(&self, stream: &str, id: &str) -> &Value {
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

fn fixture_ids(stream: &str) -> BTreeSet<String> {
    fixture(stream)["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// The connector's operations.

#[test]
fn the_spec_marks_the_token_secret_and_describes_every_field() {
    let spec = connector().spec().config_schema;
    assert_eq!(spec["properties"]["access_token"]["x-secret"], true, "{spec}");
    assert_eq!(spec["required"], json!(["access_token"]));
    for field in ["access_token", "start_date", "base_url"] {
        assert!(spec["properties"][field]["description"].as_str().is_some_and(|d| !d.is_empty()), "{field}");
    }
    assert_eq!(spec["properties"]["start_date"]["format"], "date");
}

#[test]
fn requested_properties_match_the_search_body_and_the_schema() {
    let connector = connector();
    for stream in &connector.manifest().streams {
        let Some(listed) = stream.request.params.get("properties").and_then(Value::as_str) else { continue };
        let listed: Vec<&str> = listed.split(',').collect();
        let declared: BTreeSet<&str> = stream.schema.as_ref().unwrap()["properties"]["properties"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "hs_object_id")
            .collect();
        assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), declared, "{}: listed vs schema", stream.name);
        if let Some(search) = stream.incremental.as_ref().and_then(|i| i.request.as_ref()) {
            let body = search.body.as_ref().unwrap();
            let searched: Vec<&str> =
                body["properties"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            assert_eq!(listed, searched, "{}: listing vs search properties", stream.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_and_a_wrong_token_fails_saying_so() {
    let fake = FakeHubspot::start().await;
    connector().check(&fake.config()).await.unwrap();

    let mut wrong = fake.config();
    wrong["access_token"] = json!("pat-na1-expired");
    let err = connector().check(&wrong).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("/crm/v3/objects/contacts"), "{text}");
    assert!(text.contains("credentials"), "says what to fix: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_declares_keys_cursors_and_the_nested_properties() {
    let fake = FakeHubspot::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    assert_eq!(catalog.names(), STREAMS);
    for stream in &catalog.streams {
        assert_eq!(stream.primary_key, ["id"], "{}", stream.name);
        assert_eq!(stream.cursor_field.as_deref(), Some("updatedAt"), "{}", stream.name);
        assert!(stream.sync_modes.contains(&SyncMode::Incremental), "{}", stream.name);
        assert_eq!(stream.default_mode, StreamMode::IncrementalDedupe, "{}", stream.name);
        let updated = stream.schema.field_with_name("updatedAt").unwrap();
        assert!(matches!(updated.data_type(), arrow::datatypes::DataType::Timestamp(_, Some(_))), "{}", stream.name);
    }
    let contacts = catalog.stream("contacts").unwrap();
    let arrow::datatypes::DataType::Struct(fields) = contacts.schema.field_with_name("properties").unwrap().data_type()
    else {
        panic!("contacts.properties is a struct")
    };
    assert!(fields.iter().any(|f| f.name() == "email"));
    assert!(catalog.stream("deals").unwrap().schema.field_with_name("associations").is_ok());
    assert!(fake.seen().is_empty(), "inline schemas: discover needs no request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_read_returns_every_fixture_record() {
    let fake = FakeHubspot::start().await;
    let read = read(&fake.config(), &STREAMS, StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    for stream in STREAMS {
        assert_eq!(read.ids(stream), fixture_ids(stream), "{stream}");
    }
    assert!(read.state.is_empty(), "full refreshes save no cursor");

    let maria = read.record("contacts", "101");
    assert_eq!(maria["properties"]["email"], "Maria.Garcia@example.com");
    assert_eq!(maria["properties"]["lifecyclestage"], "customer");
    assert_eq!(maria["updatedAt"], "2024-03-02T16:45:12.004Z");
    assert!(read.record("contacts", "104")["properties"].get("email").is_none(), "null stays null");
    let deal = read.record("deals", "7001");
    assert_eq!(deal["associations"]["contacts"]["results"][0]["id"], "101");
    assert_eq!(deal["properties"]["amount"], "12000.00");
    assert_eq!(read.record("owners", "502")["teams"][1]["name"], "Enterprise");

    let seen = fake.seen();
    assert!(seen.iter().all(|r| r.method == "GET"), "full refreshes list, never search");
    let contacts: Vec<&Seen> = seen.iter().filter(|r| r.path == "/crm/v3/objects/contacts").collect();
    assert_eq!(contacts.len(), 3, "five contacts, two a page");
    assert!(contacts.iter().all(|r| r.query["limit"] == "100" && r.query["properties"].contains("lifecyclestage")));
    assert_eq!(contacts[1].query.get("after").map(String::as_str), Some("2"));
    let deals = seen.iter().find(|r| r.path == "/crm/v3/objects/deals").unwrap();
    assert_eq!(deals.query["associations"], "contacts,companies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_read_from_saved_state_returns_only_changed_records() {
    let fake = FakeHubspot::start().await;
    let streams = ["contacts", "deals", "owners"];
    let first = read(&fake.config(), &streams, StreamMode::IncrementalDedupe, StateMap::new()).await.unwrap();
    for stream in streams {
        assert_eq!(first.ids(stream), fixture_ids(stream), "{stream}: a first read takes everything");
    }
    assert_eq!(first.state["contacts"], json!({ "cursor": "2025-05-12T10:20:00Z" }), "the newest updatedAt");
    let searches: Vec<Seen> = fake.seen().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(searches[0].path, "/crm/v3/objects/contacts/search");
    let filter = &searches[0].body.as_ref().unwrap()["filterGroups"][0]["filters"][0];
    assert_eq!(filter["value"], millis("2024-01-01T00:00:00Z").to_string(), "the start date in unix ms");
    assert_eq!(searches[1].body.as_ref().unwrap()["after"], "2", "the next page's token goes in the body");

    fake.update("contacts", "102", "2025-06-01T08:00:00.000Z", json!({ "lifecyclestage": "opportunity" }));
    fake.update("owners", "503", "2025-06-02T09:00:00.000Z", json!({}));
    let before = fake.seen().len();
    let second = read(&fake.config(), &streams, StreamMode::IncrementalDedupe, first.state.clone()).await.unwrap();
    assert_eq!(second.ids("contacts"), BTreeSet::from(["102".to_string()]));
    assert_eq!(second.record("contacts", "102")["properties"]["lifecyclestage"], "opportunity");
    assert_eq!(second.ids("deals"), BTreeSet::new(), "no deal changed");
    assert_eq!(second.ids("owners"), BTreeSet::from(["503".to_string()]), "owners are filtered client-side");
    assert_eq!(second.state["contacts"], json!({ "cursor": "2025-06-01T08:00:00Z" }));
    assert_eq!(second.state["owners"], json!({ "cursor": "2025-06-02T09:00:00Z" }));
    assert_eq!(second.state["deals"], first.state["deals"], "an unchanged stream keeps its cursor");
    let search = fake.seen()[before..].iter().find(|r| r.method == "POST").cloned().unwrap();
    let filters = search.body.unwrap()["filterGroups"][0]["filters"].clone();
    let bound = |i: usize| filters[i]["value"].as_str().unwrap().parse::<i64>().unwrap();
    assert_eq!(
        (filters[0]["operator"].as_str(), bound(0)),
        (Some("GTE"), millis("2025-05-12T10:20:00.000Z")),
        "from the saved cursor"
    );
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(filters[1]["operator"], "LTE");
    assert!((now - 320_000..=now - 300_000).contains(&bound(1)), "up to 5 minutes ago, for the index's lag: {filters}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    let fake = FakeHubspot::start().await;
    fake.fail_next(Fault::RateLimited);
    fake.fail_next(Fault::ServerError);
    let read = read(&fake.config(), &["contacts"], StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    assert_eq!(read.ids("contacts"), fixture_ids("contacts"));
    let statuses: Vec<u16> = fake.seen().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 200, 200, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_page_fails_naming_its_url() {
    let fake = FakeHubspot::start().await;
    fake.fail_next(Fault::Truncated);
    let err = read(&fake.config(), &["companies"], StreamMode::FullRefresh, StateMap::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("{}/crm/v3/objects/companies", fake.url)), "{text}");
    assert!(text.contains("truncated"), "{text}");
}

// ---------------------------------------------------------------------------------------
// End to end: the `txlake` binary syncs the fake into a lake; the canonical views fill.

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `txlake ARGS` on a blocking thread, so the fake keeps answering.
pub async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || txlake(&args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap()
}

/// `txlake query --format json SQL` → its rows.
pub async fn query(config: &Path, sql: &str) -> Vec<Value> {
    let output = run(vec![
        "query".into(),
        "--config".into(),
        config.display().to_string(),
        "--format".into(),
        "json".into(),
        sql.into(),
    ])
    .await;
    assert!(output.status.success(), "{sql}: {}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `txlake sync --config CONFIG [CONNECTION…]`, asserted to succeed; the records each stream
/// landed, by (connection, stream).
pub async fn sync(config: &Path, connections: &[&str]) -> BTreeMap<(String, String), u64> {
    let mut args = vec!["sync".to_string(), "--config".to_string(), config.display().to_string()];
    args.extend(connections.iter().map(|c| c.to_string()));
    let output = run(args).await;
    assert!(output.status.success(), "sync: {}\n{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
        .lines()
        .skip(2)
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            Some(((cells.first()?.to_string(), cells.get(1)?.to_string()), cells.get(4)?.parse().ok()?))
        })
        .collect()
}

/// A TOML inline table of a JSON object of strings.
pub fn inline(config: &Value) -> String {
    let fields: Vec<String> = config.as_object().unwrap().iter().map(|(k, v)| format!("{k} = {}", v)).collect();
    format!("{{ {} }}", fields.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synced_hubspot_fills_customers_revenue_and_touchpoints() {
    let fake = FakeHubspot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("txlake.toml");
    std::fs::write(
        &config,
        format!(
            "[lake]\nurl = \"file://./lake\"\n\n[connections.crm]\nconnector = \"hubspot\"\nconfig = {}\n",
            inline(&fake.config())
        ),
    )
    .unwrap();

    let landed = sync(&config, &[]).await;
    for stream in STREAMS {
        assert_eq!(landed[&("crm".to_string(), stream.to_string())], fixture_ids(stream).len() as u64, "{stream}");
    }

    let customers = query(
        &config,
        "SELECT customer_key, person_key, name, segment, country, acquisition_channel, lifecycle_stage, \
         CAST(became_customer_at AS VARCHAR) AS became, CAST(churned_at AS VARCHAR) AS churned \
         FROM tx.customers ORDER BY customer_key",
    )
    .await;
    assert_eq!(customers.len(), 5);
    let maria = &customers[0];
    assert_eq!(maria["customer_key"], "crm:101");
    // sha256("maria.garcia@example.com"): the trimmed, lower-cased e-mail.
    assert_eq!(maria["person_key"], "89b083d038d7df26a12266e6cae50dfe19a3e04025a98d7367a623ab1bc2e2c5");
    assert_eq!(maria["segment"], "mid_market", "Northwind has 250 employees");
    assert_eq!(maria["country"], "ES");
    assert_eq!(maria["acquisition_channel"], "organic_search");
    assert_eq!(maria["lifecycle_stage"], "customer");
    let john = &customers[1];
    assert_eq!((john["segment"].as_str(), john["country"].as_str()), (Some("smb"), Some("DE")), "{john}");
    assert_eq!(john["lifecycle_stage"], "lead");
    let wei = &customers[2];
    assert_eq!((wei["segment"].as_str(), wei["lifecycle_stage"].as_str()), (Some("enterprise"), Some("churned")));
    assert!(wei["churned"].as_str().unwrap().starts_with("2025-05-12T10:20:00"), "{wei}");
    assert!(customers[3].get("person_key").is_none(), "no e-mail, no person_key: {}", customers[3]);
    let olu = &customers[4];
    // sha256("olu.adeyemi@fabrikam.ng"): " Olu.Adeyemi@Fabrikam.ng " trimmed and lower-cased.
    assert_eq!(olu["person_key"], "74237e728507aa5ac2ca0edc4ad70aa3dbbe5928e6a99b1dfec9be515cfff195");
    assert_eq!(
        (olu["segment"].as_str(), olu["lifecycle_stage"].as_str()),
        (Some("smb"), Some("customer")),
        "an evangelist is a customer"
    );

    let revenue =
        query(&config, "SELECT revenue_key, customer_key, amount, currency, kind FROM tx.revenue ORDER BY revenue_key")
            .await;
    let keys: Vec<&str> = revenue.iter().map(|r| r["revenue_key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["crm:7001", "crm:7002", "crm:7005"], "won deals only");
    assert_eq!(revenue[0]["customer_key"], "crm:101");
    assert_eq!((revenue[0]["amount"].as_f64(), revenue[0]["currency"].as_str()), (Some(12000.0), Some("EUR")));
    assert!(revenue[2].get("currency").is_none(), "a single-currency portal's deal has no currency code");

    let stages = query(
        &config,
        "SELECT stage, touchpoint, count(*) AS n FROM tx.touchpoints GROUP BY stage, touchpoint ORDER BY stage, touchpoint",
    )
    .await;
    let stages: Vec<(String, String, i64)> = stages
        .iter()
        .map(|r| {
            (r["stage"].as_str().unwrap().into(), r["touchpoint"].as_str().unwrap().into(), r["n"].as_i64().unwrap())
        })
        .collect();
    let expected = [
        ("awareness", "contact_created", 1),
        ("awareness", "email_campaign", 1),
        ("awareness", "referral", 1),
        ("awareness", "ad", 1),
        ("awareness", "website_visit", 1),
        ("consideration", "deal_created", 4),
        ("purchase", "deal_won", 3),
    ];
    let mut expected: Vec<(String, String, i64)> =
        expected.iter().map(|(s, t, n)| (s.to_string(), t.to_string(), *n)).collect();
    expected.sort();
    assert_eq!(stages, expected);

    // A second sync after John's contact changed lands only that contact.
    fake.update(
        "contacts",
        "102",
        "2025-06-01T08:00:00.000Z",
        json!({ "lifecyclestage": "customer", "hs_lifecyclestage_customer_date": "2025-06-01T08:00:00.000Z" }),
    );
    let landed = sync(&config, &[]).await;
    for stream in STREAMS {
        let want = u64::from(stream == "contacts");
        assert_eq!(landed[&("crm".to_string(), stream.to_string())], want, "{stream}");
    }
    let john = query(
        &config,
        "SELECT lifecycle_stage, count(*) OVER () AS n FROM tx.customers WHERE customer_key = 'crm:102'",
    )
    .await;
    assert_eq!(john, [json!({ "lifecycle_stage": "customer", "n": 1 })]);
    let all = query(&config, "SELECT count(*) AS n FROM tx.customers").await;
    assert_eq!(all[0]["n"], 5, "merged on the key, not appended");
}
