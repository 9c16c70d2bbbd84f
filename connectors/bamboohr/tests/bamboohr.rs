//! The `bamboohr` declarative connector against an in-process fake of the BambooHR API that
//! answers from the recorded fixtures (`tests/fixtures/`): HTTP Basic with the API key and
//! `x`, the custom report's field list and `lastChanged` filter, time off by `start`/`end`,
//! and faults on demand (429 with `Retry-After`, 500, a truncated page). Compiled into the
//! workspace's e2e test binary (`tests/e2e/main.rs`); the sync into a lake is in `moodle.rs`,
//! which needs both connectors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{
    ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, DeclarativeConnector, Message, ReadRequest,
    StateMap, StreamMode,
};

const MANIFEST: &str = include_str!("../manifest.yaml");
const DIRECTORY: &str = include_str!("fixtures/directory.json");
const CUSTOM_REPORT: &str = include_str!("fixtures/custom_report.json");
const TIME_OFF: &str = include_str!("fixtures/time_off_requests.json");

/// The API key the fake accepts, and its `Authorization` header (base64 of `key:x`).
pub(crate) const API_KEY: &str = "3f1e9b7c5a2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f";
const BASIC_AUTH: &str = "Basic M2YxZTliN2M1YTJkNGU2ZjhhMGIxYzJkM2U0ZjVhNmI3YzhkOWUwZjp4";
pub(crate) const SUBDOMAIN: &str = "northwind";

/// What the fake has seen, and the faults it injects next.
#[derive(Default)]
pub(crate) struct Fake {
    /// Answer this many requests with 429 + `Retry-After: 1`.
    pub too_many: AtomicUsize,
    /// Answer this many requests with 500.
    pub failures: AtomicUsize,
    /// Cut the next successful body in half.
    pub truncate: AtomicBool,
    /// Every request: `METHOD path?query` and, for POST, the JSON body.
    pub requests: Mutex<Vec<(String, Value)>>,
    /// The custom report's answer to a request for every field (from the fixture).
    report: Mutex<Value>,
    /// Every time-off request (from the fixture).
    time_off: Mutex<Vec<Value>>,
}

impl Fake {
    /// Changes the company the way BambooHR users do: Ashley is promoted (her record's
    /// lastChanged moves to now) and Ryota asks for time off in two weeks. Returns how many
    /// records changed per stream.
    pub fn touch(&self) -> BTreeMap<String, usize> {
        let now = chrono::Utc::now();
        let mut report = self.report.lock().unwrap();
        let ashley = report["employees"].as_array_mut().unwrap().iter_mut().find(|e| e["id"] == "5").unwrap();
        ashley["jobTitle"] = json!("Support Manager");
        ashley["lastChanged"] = json!(now.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
        let day = |days: i64| (now + chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
        self.time_off.lock().unwrap().push(json!({
            "id": "1400", "employeeId": "7", "name": "Ryota Saito",
            "status": { "lastChanged": day(0), "lastChangedByUserId": "2371", "status": "requested" },
            "start": day(14), "end": day(15), "created": day(0),
            "type": { "id": "78", "name": "Vacation", "icon": "palm-trees" },
            "amount": { "unit": "days", "amount": "2" },
            "actions": { "view": true, "edit": true, "cancel": true, "approve": false, "deny": false, "bypass": false },
            "dates": { day(14): "1", day(15): "1" },
            "notes": { "employee": "Golden Week" }
        }));
        BTreeMap::from([("employees_report".to_string(), 1), ("time_off_requests".to_string(), 1)])
    }

    /// Hires someone: a copy of Charlotte Abbott's record (EEID 4) with another id, name and
    /// work e-mail, in `department`, so tests can grow a team past eNPS's anonymity threshold.
    pub(crate) fn hire(&self, id: &str, name: &str, email: &str, department: &str) {
        let mut report = self.report.lock().unwrap();
        let employees = report["employees"].as_array_mut().unwrap();
        let mut hire = employees.iter().find(|e| e["id"] == "4").unwrap().clone();
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        hire["id"] = json!(id);
        hire["employeeNumber"] = json!(id);
        hire["displayName"] = json!(name);
        hire["firstName"] = json!(first);
        hire["lastName"] = json!(last);
        hire["workEmail"] = json!(email);
        hire["department"] = json!(department);
        hire["jobTitle"] = json!("Support Agent");
        hire["supervisorEId"] = json!("4");
        employees.push(hire);
    }

    fn seen(&self, prefix: &str) -> Vec<(String, Value)> {
        self.requests.lock().unwrap().iter().filter(|(line, _)| line.contains(prefix)).cloned().collect()
    }
}

/// The fake BambooHR API's routes and state (the conformance suite can wrap the router).
pub(crate) fn fake_api() -> (Router, Arc<Fake>) {
    let fake = Arc::new(Fake {
        report: Mutex::new(serde_json::from_str(CUSTOM_REPORT).unwrap()),
        time_off: Mutex::new(serde_json::from_str(TIME_OFF).unwrap()),
        ..Fake::default()
    });
    let router = Router::new()
        .route("/api/gateway.php/{company}/v1/employees/directory", get(directory))
        .route("/api/gateway.php/{company}/v1/reports/custom", post(custom_report))
        .route("/api/gateway.php/{company}/v1/time_off/requests", get(time_off))
        .with_state(fake.clone());
    (router, fake)
}

/// Starts the fake BambooHR API on 127.0.0.1 (a free port) in the current runtime.
pub(crate) async fn start_fake() -> (String, Arc<Fake>) {
    let (router, fake) = fake_api();
    (serve(router).await, fake)
}

/// Serves a router on 127.0.0.1 (a free port) in the current runtime; its base URL.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the fake serves") });
    base
}

/// Auth, company and injected faults, shared by every route; `Err` is the response to send.
#[allow(clippy::result_large_err)] // the error is the response a handler sends
fn gate(fake: &Fake, headers: &HeaderMap, company: &str, line: String, body: Value) -> Result<(), Response> {
    fake.requests.lock().unwrap().push((line, body));
    if fake.too_many.load(Ordering::SeqCst) > 0 {
        fake.too_many.fetch_sub(1, Ordering::SeqCst);
        return Err((StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "").into_response());
    }
    if fake.failures.load(Ordering::SeqCst) > 0 {
        fake.failures.fetch_sub(1, Ordering::SeqCst);
        return Err(
            (StatusCode::INTERNAL_SERVER_ERROR, "<html><body>Internal Server Error</body></html>").into_response()
        );
    }
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(BASIC_AUTH) {
        return Err((StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"BambooHR API\"")], "")
            .into_response());
    }
    if company != SUBDOMAIN {
        return Err((StatusCode::NOT_FOUND, "").into_response());
    }
    if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) != Some("application/json") {
        // BambooHR answers XML unless asked for JSON.
        return Err((StatusCode::OK, "<?xml version=\"1.0\"?><directory/>").into_response());
    }
    Ok(())
}

fn answer(fake: &Fake, body: Value) -> Response {
    let text = body.to_string();
    let text = if fake.truncate.swap(false, Ordering::SeqCst) { text[..text.len() / 2].to_string() } else { text };
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// A query string's parameters, decoded.
pub(crate) fn query_pairs(query: &Option<String>) -> BTreeMap<String, String> {
    let uri: axum::http::Uri = format!("http://fake/?{}", query.as_deref().unwrap_or("")).parse().expect("a URI");
    axum::extract::Query::<BTreeMap<String, String>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default()
}

fn line(method: &str, path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) => format!("{method} {path}?{q}"),
        None => format!("{method} {path}"),
    }
}

async fn directory(
    State(fake): State<Arc<Fake>>,
    Path(company): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/gateway.php/{company}/v1/employees/directory");
    if let Err(response) = gate(&fake, &headers, &company, line("GET", &path, &query), Value::Null) {
        return response;
    }
    answer(&fake, serde_json::from_str(DIRECTORY).unwrap())
}

/// `POST /v1/reports/custom?format=JSON`: only the asked fields (and `id`), only employees
/// changed since `filters.lastChanged.value`, those without `lastChanged` unless `includeNull`.
async fn custom_report(
    State(fake): State<Arc<Fake>>,
    Path(company): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/api/gateway.php/{company}/v1/reports/custom");
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Err(response) = gate(&fake, &headers, &company, line("POST", &path, &query), request.clone()) {
        return response;
    }
    if query_pairs(&query).get("format").map(String::as_str) != Some("JSON") {
        return (StatusCode::BAD_REQUEST, "format must be JSON, CSV, PDF, XLS or XML").into_response();
    }
    let Some(fields) = request["fields"].as_array() else {
        return (StatusCode::BAD_REQUEST, "fields are required").into_response();
    };
    let fields: Vec<&str> = fields.iter().filter_map(Value::as_str).collect();
    let since = request["filters"]["lastChanged"]["value"].as_str().map(|v| time(v).expect("an ISO 8601 filter"));
    let include_null = request["filters"]["lastChanged"]["includeNull"].as_str() != Some("no");
    let report = fake.report.lock().unwrap().clone();
    let employees: Vec<Value> = report["employees"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| match (e["lastChanged"].as_str(), since) {
            (None, _) => include_null || since.is_none(),
            (Some(changed), Some(since)) => time(changed).unwrap() >= since,
            (Some(_), None) => true,
        })
        .map(|e| {
            let mut out = serde_json::Map::new();
            out.insert("id".into(), e["id"].clone());
            for field in &fields {
                out.insert(field.to_string(), e.get(*field).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        })
        .collect();
    let columns: Vec<&Value> =
        report["fields"].as_array().unwrap().iter().filter(|f| fields.contains(&f["id"].as_str().unwrap())).collect();
    answer(&fake, json!({ "title": request["title"], "fields": columns, "employees": employees }))
}

/// `GET /v1/time_off/requests?start=YYYY-MM-DD&end=YYYY-MM-DD`: requests overlapping the range.
async fn time_off(
    State(fake): State<Arc<Fake>>,
    Path(company): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/gateway.php/{company}/v1/time_off/requests");
    if let Err(response) = gate(&fake, &headers, &company, line("GET", &path, &query), Value::Null) {
        return response;
    }
    let params = query_pairs(&query);
    let (Some(start), Some(end)) = (params.get("start"), params.get("end")) else {
        return (StatusCode::BAD_REQUEST, "start and end are required").into_response();
    };
    let all = fake.time_off.lock().unwrap().clone();
    let overlapping: Vec<Value> = all
        .into_iter()
        .filter(|r| r["end"].as_str().unwrap() >= start.as_str() && r["start"].as_str().unwrap() <= end.as_str())
        .collect();
    answer(&fake, Value::Array(overlapping))
}

fn time(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text).ok()
}

pub(crate) fn connector(manifest: &str, origin: &str) -> DeclarativeConnector {
    DeclarativeConnector::from_manifest(origin, manifest).expect("the manifest parses")
}

fn bamboohr() -> DeclarativeConnector {
    connector(MANIFEST, "connectors/bamboohr/manifest.yaml")
}

fn config(base: &str) -> Value {
    json!({ "subdomain": SUBDOMAIN, "api_key": API_KEY, "base_url": base, "start_date": "2024-01-01" })
}

/// What one read emitted: rows per stream (as JSON objects) and the state messages.
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub rows: BTreeMap<String, Vec<Value>>,
    pub states: Vec<(String, Value)>,
}

/// Discovers, then reads `streams` in their modes with `state`; the first error (or failed
/// stream) ends it.
pub(crate) async fn read(
    connector: &DeclarativeConnector,
    config: &Value,
    streams: &[(&str, StreamMode)],
    state: StateMap,
) -> Result<Read, ConnectorError> {
    let catalog = connector.discover(config).await?;
    let configured = ConfiguredCatalog {
        streams: streams
            .iter()
            .map(|(name, mode)| ConfiguredStream {
                stream: catalog.stream(name).unwrap_or_else(|| panic!("stream {name} discovered")).clone(),
                mode: *mode,
            })
            .collect(),
    };
    let mut messages = connector.read(ReadRequest { config: config.clone(), catalog: configured, state }).await?;
    let mut out = Read::default();
    while let Some(message) = messages.next().await {
        match message? {
            Message::Batch { stream, batch } => {
                out.rows.entry(stream).or_default().extend(to_json(&batch));
            }
            Message::State { stream, state } => out.states.push((stream, state)),
            // A failed stream fails these reads (the sync goes on with the others).
            Message::StreamFailed { stream, error } => {
                return Err(ConnectorError::Source(format!("stream `{stream}`: {error}")));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn to_json(batch: &RecordBatch) -> Vec<Value> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    let bytes = writer.into_inner();
    if bytes.is_empty() { Vec::new() } else { serde_json::from_slice(&bytes).unwrap() }
}

pub(crate) fn ids(rows: &[Value], column: &str) -> BTreeSet<String> {
    rows.iter()
        .map(|r| match &r[column] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn full(streams: &[&'static str]) -> Vec<(&'static str, StreamMode)> {
    streams.iter().map(|s| (*s, StreamMode::FullRefresh)).collect()
}

#[test]
fn the_manifest_is_the_built_in_one() {
    let embedded = txlake_sync::connectors::BUILTIN_MANIFESTS
        .iter()
        .find(|(path, _)| *path == "connectors/bamboohr/manifest.yaml")
        .expect("bamboohr is registered in BUILTIN_MANIFESTS");
    assert_eq!(embedded.1, MANIFEST);
}

#[tokio::test]
async fn spec_marks_the_key_secret_and_check_fails_clearly_on_bad_credentials() {
    let connector = bamboohr();
    let spec = connector.spec();
    assert_eq!(spec.secret_fields(), vec!["api_key".to_string()]);
    let properties = spec.config_schema["properties"].as_object().unwrap();
    for field in ["subdomain", "api_key", "start_date", "include_compensation", "base_url"] {
        assert!(properties[field]["description"].as_str().is_some_and(|d| !d.is_empty()), "{field} described");
    }
    assert_eq!(spec.config_schema["required"], json!(["subdomain", "api_key"]));
    spec.validate("bamboohr", &config("http://127.0.0.1:1")).unwrap();
    let err = spec.validate("bamboohr", &json!({ "subdomain": SUBDOMAIN })).unwrap_err().to_string();
    assert!(err.contains("api_key"), "{err}");

    let (base, fake) = start_fake().await;
    connector.check(&config(&base)).await.unwrap();
    assert!(fake.seen("reports/custom").len() == 1, "check asks the custom report once");

    let mut wrong = config(&base);
    wrong["api_key"] = json!("0000000000000000000000000000000000000000");
    let err = connector.check(&wrong).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("/v1/reports/custom") && text.contains("credentials"), "{text}");
    assert!(!text.contains("0000000000") && !text.contains("Basic "), "no credential in the error: {text}");

    let mut company = config(&base);
    company["subdomain"] = json!("southwind");
    let err = connector.check(&company).await.unwrap_err().to_string();
    assert!(err.contains("404") && err.contains("southwind"), "{err}");
}

#[tokio::test]
async fn discover_gives_typed_schemas_primary_keys_and_cursors() {
    let (base, _fake) = start_fake().await;
    let catalog = bamboohr().discover(&config(&base)).await.unwrap();
    assert_eq!(catalog.names(), ["employees", "employees_report", "time_off_requests"]);
    for stream in &catalog.streams {
        assert_eq!(stream.primary_key, ["id"], "{}", stream.name);
        assert!(!stream.description.is_empty());
    }
    let report = catalog.stream("employees_report").unwrap();
    assert_eq!(report.cursor_field.as_deref(), Some("lastChanged"));
    assert_eq!(report.default_mode, StreamMode::IncrementalDedupe);
    for column in ["workEmail", "hireDate", "terminationDate", "supervisorEId", "jobTitle", "division", "payRate"] {
        assert!(report.schema.field_with_name(column).is_ok(), "{column}");
    }
    let time_off = catalog.stream("time_off_requests").unwrap();
    assert_eq!(time_off.cursor_field.as_deref(), Some("created"));
    assert_eq!(time_off.schema.field_with_name("start").unwrap().data_type(), &arrow::datatypes::DataType::Date32);
    assert!(time_off.schema.field_with_name("status").unwrap().data_type().is_nested());
    assert_eq!(catalog.stream("employees").unwrap().default_mode, StreamMode::FullRefresh);
}

#[tokio::test]
async fn a_full_read_returns_every_fixture_record() {
    let (base, fake) = start_fake().await;
    let read = read(
        &bamboohr(),
        &config(&base),
        &full(&["employees", "employees_report", "time_off_requests"]),
        StateMap::new(),
    )
    .await
    .unwrap();
    assert_eq!(ids(&read.rows["employees"], "id"), ["4", "5", "7", "8"].map(String::from).into());
    let report = &read.rows["employees_report"];
    assert_eq!(report.len(), 5);
    assert_eq!(ids(report, "id"), ["4", "5", "6", "7", "8"].map(String::from).into());
    let daniel = report.iter().find(|r| r["id"] == "6").unwrap();
    assert_eq!(daniel["terminationDate"], "2024-02-29");
    assert_eq!(daniel["status"], "Inactive");
    assert_eq!(daniel["payRate"], "72000.00 USD");
    let charlotte = report.iter().find(|r| r["id"] == "4").unwrap();
    assert_eq!(charlotte["terminationDate"], "0000-00-00", "kept as BambooHR writes it; the model NULLIFs it");
    assert!(charlotte.get("supervisorEId").is_none_or(Value::is_null));

    // Every requested report field is a column of the stream, pay included by default.
    let (_, body) = fake.seen("reports/custom").pop().unwrap();
    let asked: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for field in ["id", "workEmail", "hireDate", "terminationDate", "supervisorEId", "lastChanged", "payRate", "payPer"]
    {
        assert!(asked.contains(&field), "{field} in {asked:?}");
    }
    assert!(body.get("filters").is_none(), "a full refresh asks for everyone");

    let time_off = &read.rows["time_off_requests"];
    assert_eq!(ids(time_off, "id"), ["1342", "1351", "1360", "1377"].map(String::from).into());
    let ashley = time_off.iter().find(|r| r["id"] == "1342").unwrap();
    assert_eq!(ashley["start"], "2024-05-30");
    assert_eq!(ashley["status"]["status"], "approved");
    assert_eq!(ashley["type"]["name"], "Vacation");
    assert_eq!(ashley["amount"], json!({ "unit": "days", "amount": "3" }));
}

#[tokio::test]
async fn pay_fields_are_not_asked_for_without_compensation() {
    let (base, fake) = start_fake().await;
    let mut config = config(&base);
    config["include_compensation"] = json!(false);
    let read = read(&bamboohr(), &config, &full(&["employees_report"]), StateMap::new()).await.unwrap();
    let (_, body) = fake.seen("reports/custom").pop().unwrap();
    let asked = body["fields"].to_string();
    assert!(!asked.contains("pay") && asked.contains("hireDate"), "{asked}");
    assert!(read.rows["employees_report"].iter().all(|r| r.get("payRate").is_none_or(Value::is_null)));
}

#[tokio::test]
async fn incremental_report_reads_only_employees_changed_since_the_cursor() {
    let (base, fake) = start_fake().await;
    let connector = bamboohr();
    let incremental = [("employees_report", StreamMode::IncrementalDedupe)];

    // First incremental read: no cursor yet, so everyone (null lastChanged included).
    let first = read(&connector, &config(&base), &incremental, StateMap::new()).await.unwrap();
    assert_eq!(first.rows["employees_report"].len(), 5);
    let (_, body) = fake.seen("reports/custom").pop().unwrap();
    assert_eq!(body["filters"]["lastChanged"]["includeNull"], "yes");
    assert_eq!(
        first.states.last().unwrap(),
        &("employees_report".to_string(), json!({ "cursor": "2024-06-18T16:45:10Z" }))
    );

    let state = StateMap::from([("employees_report".to_string(), json!({ "cursor": "2024-05-01T00:00:00Z" }))]);
    let next = read(&connector, &config(&base), &incremental, state).await.unwrap();
    let (_, body) = fake.seen("reports/custom").pop().unwrap();
    assert_eq!(body["filters"]["lastChanged"], json!({ "includeNull": "no", "value": "2024-05-01T00:00:00Z" }));
    assert_eq!(ids(&next.rows["employees_report"], "id"), ["5", "7"].map(String::from).into());
    assert_eq!(next.states.last().unwrap().1, json!({ "cursor": "2024-06-18T16:45:10Z" }));

    let state = StateMap::from([("employees_report".to_string(), json!({ "cursor": "2024-06-18T16:45:10Z" }))]);
    let nothing_new = read(&connector, &config(&base), &incremental, state).await.unwrap();
    assert!(nothing_new.rows.get("employees_report").is_none_or(Vec::is_empty), "{:?}", nothing_new.rows);
}

#[tokio::test]
async fn time_off_is_read_in_date_windows_up_to_the_horizon() {
    let (base, fake) = start_fake().await;
    let connector = bamboohr();
    read(&connector, &config(&base), &full(&["time_off_requests"]), StateMap::new()).await.unwrap();
    let mut windows: Vec<(String, String)> = fake
        .seen("time_off/requests")
        .iter()
        .map(|(line, _)| {
            let params = query_pairs(&line.split_once('?').map(|(_, q)| q.to_string()));
            (params["start"].clone(), params["end"].clone())
        })
        .collect();
    windows.sort();
    assert_eq!(windows[0].0, "2024-01-01", "the first window starts at start_date");
    assert_eq!(windows[0].1, "2024-01-31", "30-day windows");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for pair in windows.windows(2).filter(|pair| pair[0].1 < today) {
        assert_eq!(pair[0].1, pair[1].0, "windows follow each other without a gap: {pair:?}");
    }
    let horizon = (chrono::Utc::now() + chrono::Duration::days(365)).format("%Y-%m-%d").to_string();
    let yesterday_horizon = (chrono::Utc::now() + chrono::Duration::days(364)).format("%Y-%m-%d").to_string();
    let last_end = &windows.last().unwrap().1;
    assert!(last_end == &horizon || last_end == &yesterday_horizon, "the last window reaches a year ahead: {last_end}");

    // An incremental read starts 30 days (the lookback) before the saved cursor and keeps
    // every request it is given (status changes of recent requests), nothing older.
    fake.requests.lock().unwrap().clear();
    let state = StateMap::from([("time_off_requests".to_string(), json!({ "cursor": "2024-08-10T06:00:00Z" }))]);
    let next =
        read(&connector, &config(&base), &[("time_off_requests", StreamMode::IncrementalDedupe)], state).await.unwrap();
    let starts: BTreeSet<String> = fake
        .seen("time_off/requests")
        .iter()
        .map(|(line, _)| query_pairs(&line.split_once('?').map(|(_, q)| q.to_string()))["start"].clone())
        .collect();
    assert_eq!(starts.first().unwrap(), "2024-07-11");
    assert_eq!(ids(&next.rows["time_off_requests"], "id"), ["1351", "1377"].map(String::from).into());
    let (stream, state) = next.states.last().unwrap();
    assert_eq!(stream, "time_off_requests");
    let cursor = chrono::DateTime::parse_from_rfc3339(state["cursor"].as_str().unwrap()).unwrap();
    assert!(chrono::Utc::now().signed_duration_since(cursor).num_minutes().abs() < 5, "the watermark is now: {cursor}");
}

#[tokio::test]
async fn a_429_and_a_500_are_retried() {
    let (base, fake) = start_fake().await;
    fake.too_many.store(1, Ordering::SeqCst);
    fake.failures.store(1, Ordering::SeqCst);
    let read = read(&bamboohr(), &config(&base), &full(&["employees"]), StateMap::new()).await.unwrap();
    assert_eq!(read.rows["employees"].len(), 4);
    assert_eq!(fake.seen("employees/directory").len(), 3, "429, then 500, then the page");
}

#[tokio::test]
async fn a_truncated_page_fails_with_its_url_and_no_secret() {
    let (base, fake) = start_fake().await;
    fake.truncate.store(true, Ordering::SeqCst);
    let err = read(&bamboohr(), &config(&base), &full(&["employees_report"]), StateMap::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("{base}/api/gateway.php/northwind/v1/reports/custom")), "{text}");
    assert!(text.contains("truncated") && text.contains("employees_report"), "{text}");
    assert!(!text.contains(API_KEY) && !text.contains(&BASIC_AUTH[6..]), "{text}");
}

#[tokio::test]
async fn an_incremental_read_after_a_finished_one_emits_nothing_until_the_source_changes() {
    let (base, fake) = start_fake().await;
    let connector = bamboohr();
    let streams =
        [("employees_report", StreamMode::IncrementalDedupe), ("time_off_requests", StreamMode::IncrementalDedupe)];
    let first = read(&connector, &config(&base), &streams, StateMap::new()).await.unwrap();
    assert_eq!(first.rows["employees_report"].len(), 5);
    assert_eq!(ids(&first.rows["time_off_requests"], "id").len(), 4);
    let state: StateMap = first.states.iter().cloned().collect();

    let again = read(&connector, &config(&base), &streams, state.clone()).await.unwrap();
    assert!(again.rows.values().all(Vec::is_empty), "nothing new: {:?}", again.rows);

    fake.touch();
    let changed = read(&connector, &config(&base), &streams, state).await.unwrap();
    let report = &changed.rows["employees_report"];
    assert_eq!(ids(report, "id"), ["5"].map(String::from).into());
    assert_eq!(report[0]["jobTitle"], "Support Manager");
    assert_eq!(ids(&changed.rows["time_off_requests"], "id"), ["1400"].map(String::from).into());
}
