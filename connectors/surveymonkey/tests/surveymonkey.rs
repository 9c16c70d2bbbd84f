//! The `surveymonkey` declarative connector against an in-process fake of the SurveyMonkey
//! API v3 that serves `connectors/surveymonkey/tests/fixtures/*.json` as the documentation
//! describes it: GET /v3/surveys (`per_page` ≤ 1000, `page`, `include`, `sort_by`,
//! `sort_order`, `start_modified_at`), GET /v3/surveys/{id}/details, GET
//! /v3/surveys/{id}/responses/bulk (`per_page` ≤ 100, `page`, `status`, `start_modified_at`,
//! `sort_by`, `sort_order`), pages linked by `links.next`, two records a page whatever
//! `per_page` asks (so paging happens), a bearer access token (401 with SurveyMonkey's error
//! document otherwise), the `X-Ratelimit-App-Global-{Minute,Day}-{Limit,Remaining,Reset}`
//! headers on every answer with a daily budget that runs out (then 429), and faults on
//! demand (a 429 with `Retry-After: 1`, a 500, a truncated page). The end-to-end test syncs
//! it and reads tx.survey_answers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{
    ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, DeclarativeConnector, LogLevel, Message,
    ReadRequest, StateMap, StreamMode, SurveyQuestion,
};

use crate::hubspot::root;

/// The access token the fake accepts.
pub(crate) const TOKEN: &str = "sm-Xq7Lw2Pz9Rk4Tn6Vb8Mc1Hd3Jf5Gs0Ay";

/// Records per page the fake serves, so responses page.
const PAGE: usize = 2;
/// What the fake's reset headers say: seconds to the day's end (and the minute's).
const DAY_RESET_SECS: u64 = 15_000;

const STREAMS: [&str; 3] = ["surveys", "survey_details", "responses"];
const SURVEYS: [&str; 2] = ["405837261", "405901118"];

fn fixture(name: &str) -> Value {
    let path = root().join("connectors/surveymonkey/tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc)
}

/// `start_modified_at` as the docs write it: `YYYY-MM-DDTHH:MM:SS`, UTC.
fn bound(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").expect("YYYY-MM-DDTHH:MM:SS").and_utc()
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
    surveys: Vec<Value>,
    details: BTreeMap<String, Value>,
    responses: BTreeMap<String, Vec<Value>>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
    /// Requests left today.
    day_remaining: u64,
}

/// The fake's surveys and responses, its daily budget, the faults it injects next and the
/// requests it saw.
#[derive(Debug)]
pub(crate) struct Fake {
    inner: Mutex<Inner>,
}

/// The fake SurveyMonkey API's routes and state. Next-page links name the host a request reached.
pub(crate) fn fake_api() -> (axum::Router, Arc<Fake>) {
    let fake = Arc::new(Fake {
        inner: Mutex::new(Inner {
            surveys: fixture("surveys")["data"].as_array().unwrap().clone(),
            details: SURVEYS.iter().map(|id| (id.to_string(), fixture(&format!("details_{id}")))).collect(),
            responses: SURVEYS
                .iter()
                .map(|id| (id.to_string(), fixture(&format!("responses_{id}"))["data"].as_array().unwrap().clone()))
                .collect(),
            faults: VecDeque::new(),
            seen: Vec::new(),
            day_remaining: 500,
        }),
    });
    let router = axum::Router::new().fallback(handle).with_state(fake.clone());
    (router, fake)
}

impl Fake {
    /// A respondent completes the support survey now, choosing 9 for NPS.
    pub(crate) fn touch(&self) -> BTreeMap<String, usize> {
        let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
        self.complete("114299990001", &at, "4385172941");
        BTreeMap::from([("responses".to_string(), 1)])
    }

    /// A completed response to the support survey, modified at `at`, with an NPS choice.
    fn complete(&self, id: &str, at: &str, nps_choice: &str) {
        let response = json!({
            "id": id, "recipient_id": "", "collection_mode": "default", "response_status": "completed",
            "custom_value": "", "first_name": "", "last_name": "", "email_address": "", "ip_address": "192.0.2.99",
            "logic_path": {}, "metadata": {}, "page_path": [], "collector_id": "431882746", "survey_id": "405837261",
            "custom_variables": { "utm_source": "help_center" },
            "edit_url": "https://www.surveymonkey.com/r/", "analyze_url": "https://www.surveymonkey.com/analyze/browse/405837261",
            "total_time": 30, "date_modified": at, "date_created": at,
            "href": format!("https://api.surveymonkey.com/v3/surveys/405837261/responses/{id}"),
            "pages": [{ "id": "168830041", "questions": [
                { "id": "667461690", "answers": [{ "choice_id": nps_choice, "row_id": "4385172931" }] }
            ]}]
        });
        self.inner.lock().unwrap().responses.get_mut("405837261").unwrap().push(response);
    }
}

/// The fake SurveyMonkey API on 127.0.0.1.
#[derive(Debug, Clone)]
struct FakeSurveyMonkey {
    url: String,
    fake: Arc<Fake>,
}

impl FakeSurveyMonkey {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (app, fake) = fake_api();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, fake }
    }

    fn config(&self) -> Value {
        json!({ "access_token": TOKEN, "base_url": self.url, "start_date": "2024-01-01" })
    }

    fn fail_next(&self, fault: Fault) {
        self.fake.inner.lock().unwrap().faults.push_back(fault);
    }

    fn seen(&self) -> Vec<Seen> {
        self.fake.inner.lock().unwrap().seen.clone()
    }

    fn set_day_remaining(&self, left: u64) {
        self.fake.inner.lock().unwrap().day_remaining = left;
    }
}

/// SurveyMonkey's error document.
fn sm_error(status: StatusCode, id: &str, name: &str, message: &str) -> Response {
    let body = json!({ "error": {
        "id": id, "name": name, "docs": "https://developer.surveymonkey.com/api/v3/#error-codes",
        "message": message, "http_status_code": status.as_u16()
    }});
    (status, axum::Json(body)).into_response()
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    let mut response = answer(&mut inner, uri.path(), &query, &headers);
    let limits = [
        ("x-ratelimit-app-global-minute-limit", "120".to_string()),
        ("x-ratelimit-app-global-minute-remaining", "119".to_string()),
        ("x-ratelimit-app-global-minute-reset", "60".to_string()),
        ("x-ratelimit-app-global-day-limit", "500".to_string()),
        ("x-ratelimit-app-global-day-remaining", inner.day_remaining.to_string()),
        ("x-ratelimit-app-global-day-reset", DAY_RESET_SECS.to_string()),
    ];
    for (name, value) in limits {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    inner.seen.push(Seen { path: uri.path().to_string(), query, status: response.status().as_u16() });
    response
}

fn answer(inner: &mut Inner, path: &str, query: &BTreeMap<String, String>, headers: &HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        return sm_error(
            StatusCode::UNAUTHORIZED,
            "1011",
            "Authorization Error",
            "The authorization token provided was invalid.",
        );
    }
    if inner.day_remaining == 0 {
        return sm_error(
            StatusCode::TOO_MANY_REQUESTS,
            "1040",
            "Rate limit reached",
            "Too many requests were made, try again later.",
        );
    }
    inner.day_remaining -= 1;
    let fault = inner.faults.pop_front();
    match fault {
        Some(Fault::RateLimited) => {
            let body = json!({ "error": { "id": "1040", "name": "Rate limit reached", "docs": "https://developer.surveymonkey.com/api/v3/#error-codes", "message": "Too many requests were made, try again later.", "http_status_code": 429 } });
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], axum::Json(body)).into_response();
        }
        Some(Fault::ServerError) => {
            return sm_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "1050",
                "Internal Server Error",
                "Oh bananas! We couldn't process your request.",
            );
        }
        _ => {}
    }
    let base = format!("http://{}", headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let page = match parts.as_slice() {
        ["v3", "surveys"] => surveys(inner, &base, path, query),
        ["v3", "surveys", id, "details"] => inner.details.get(*id).cloned().ok_or_else(|| not_found(id)),
        ["v3", "surveys", id, "responses", "bulk"] => responses(inner, &base, path, id, query),
        _ => Err(sm_error(
            StatusCode::NOT_FOUND,
            "1020",
            "Resource Not Found",
            "There was an error retrieving the requested resource.",
        )),
    };
    let page = match page {
        Ok(page) => page,
        Err(response) => return response,
    };
    let mut text = serde_json::to_vec(&page).unwrap();
    if fault == Some(Fault::Truncated) {
        text.truncate(text.len() / 2);
    }
    ([("content-type", "application/json")], text).into_response()
}

fn not_found(id: &str) -> Response {
    sm_error(StatusCode::NOT_FOUND, "1020", "Resource Not Found", &format!("There is no survey with id {id}."))
}

fn bad_request(message: &str) -> Response {
    sm_error(StatusCode::BAD_REQUEST, "1002", "Bad Request", message)
}

fn number(query: &BTreeMap<String, String>, key: &str, default: usize) -> usize {
    query.get(key).map(|v| v.parse().unwrap()).unwrap_or(default)
}

/// Sorts and filters by `date_modified` as asked, then serves `page` with `links`.
#[allow(clippy::result_large_err)]
fn listing(
    items: Vec<Value>,
    base: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    max_per_page: usize,
    default_sort: &str,
) -> Result<Value, Response> {
    let per_page = number(query, "per_page", 50);
    if per_page > max_per_page {
        return Err(bad_request(&format!("Invalid value for per_page: at most {max_per_page}")));
    }
    let page = number(query, "page", 1);
    let modified = |r: &Value| time(r["date_modified"].as_str().unwrap());
    let since = query.get("start_modified_at").map(|s| bound(s));
    let mut matching: Vec<Value> = items.into_iter().filter(|r| since.is_none_or(|s| modified(r) >= s)).collect();
    match query.get("sort_by").map(String::as_str) {
        None | Some("date_modified") => matching.sort_by_key(|r| (modified(r), r["id"].as_str().unwrap().to_string())),
        Some(other) => return Err(bad_request(&format!("Invalid sort_by `{other}`"))),
    }
    if query.get("sort_order").map_or(default_sort, String::as_str) == "DESC" {
        matching.reverse();
    }
    let served = per_page.min(PAGE);
    let data: Vec<&Value> = matching.iter().skip((page - 1) * served).take(served).collect();
    let link = |n: usize| {
        let mut q = query.clone();
        q.insert("page".into(), n.to_string());
        let encoded: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", v.replace(',', "%2C"))).collect();
        format!("{base}{path}?{}", encoded.join("&"))
    };
    let last = matching.len().div_ceil(served).max(1);
    let mut links = json!({ "self": link(page), "last": link(last) });
    if page < last {
        links["next"] = json!(link(page + 1));
    }
    if page > 1 {
        links["prev"] = json!(link(page - 1));
    }
    Ok(json!({ "data": data, "per_page": served, "page": page, "total": matching.len(), "links": links }))
}

/// GET /v3/surveys: id, title, nickname and href, plus what `include` asks for.
#[allow(clippy::result_large_err)]
fn surveys(inner: &Inner, base: &str, path: &str, query: &BTreeMap<String, String>) -> Result<Value, Response> {
    let include: BTreeSet<&str> = query.get("include").map(|i| i.split(',').collect()).unwrap_or_default();
    let items = inner
        .surveys
        .iter()
        .map(|s| {
            let mut out = serde_json::Map::new();
            for (k, v) in s.as_object().unwrap() {
                if ["id", "title", "nickname", "href"].contains(&k.as_str()) || include.contains(k.as_str()) {
                    out.insert(k.clone(), v.clone());
                }
            }
            // Filtering needs date_modified even when it is not shown.
            (Value::Object(out), s["date_modified"].clone())
        })
        .map(|(mut shown, modified)| {
            shown["date_modified"] = modified;
            shown
        })
        .collect();
    listing(items, base, path, query, 1000, "DESC")
}

/// GET /v3/surveys/{id}/responses/bulk.
#[allow(clippy::result_large_err)]
fn responses(
    inner: &Inner,
    base: &str,
    path: &str,
    id: &str,
    query: &BTreeMap<String, String>,
) -> Result<Value, Response> {
    let Some(all) = inner.responses.get(id) else { return Err(not_found(id)) };
    let items: Vec<Value> = all
        .iter()
        .filter(|r| query.get("status").is_none_or(|s| r["response_status"] == s.as_str()))
        .cloned()
        .collect();
    listing(items, base, path, query, 100, "DESC")
}

// ---------------------------------------------------------------------------------------
// Driving the connector.

fn connector() -> DeclarativeConnector {
    let text = std::fs::read_to_string(root().join("connectors/surveymonkey/manifest.yaml")).unwrap();
    DeclarativeConnector::from_manifest("connectors/surveymonkey/manifest.yaml", &text).unwrap()
}

#[derive(Debug, Default)]
struct Read {
    records: BTreeMap<String, Vec<Value>>,
    state: StateMap,
    logs: Vec<(LogLevel, String)>,
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
            Message::Log { level, message } => out.logs.push((level, message)),
            _ => {}
        }
    }
    Ok(out)
}

fn fixture_ids(name: &str) -> BTreeSet<String> {
    SURVEYS
        .iter()
        .flat_map(|id| fixture(&format!("{name}_{id}"))["data"].as_array().unwrap().clone())
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The connector's operations.

#[test]
fn the_spec_marks_the_token_secret() {
    let spec = connector().spec().config_schema;
    assert_eq!(spec["properties"]["access_token"]["x-secret"], true);
    assert_eq!(spec["required"], json!(["access_token"]));
    for field in ["access_token", "start_date", "base_url"] {
        assert!(spec["properties"][field]["description"].as_str().is_some_and(|d| !d.is_empty()), "{field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_and_a_wrong_token_fails_saying_so() {
    let fake = FakeSurveyMonkey::start().await;
    connector().check(&fake.config()).await.unwrap();
    assert_eq!(fake.seen()[0].path, "/v3/surveys");

    let mut wrong = fake.config();
    wrong["access_token"] = json!("sm-revoked-000000000000");
    let err = connector().check(&wrong).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("authorization token provided was invalid"), "{text}");
    assert!(!text.contains("sm-revoked"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_every_question_with_its_scale() {
    let fake = FakeSurveyMonkey::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    assert_eq!(catalog.names(), STREAMS);
    let responses = catalog.stream("responses").unwrap();
    assert_eq!(responses.cursor_field.as_deref(), Some("date_modified"));
    assert_eq!(responses.default_mode, StreamMode::IncrementalDedupe);

    let q = |survey: &str, title: &str, field: &str, question: &str, kind: &str, scale: Option<(i64, i64)>| {
        SurveyQuestion {
            survey_id: survey.into(),
            survey_title: title.into(),
            field: field.into(),
            question: question.into(),
            kind: kind.into(),
            scale,
            scale_observed: false,
        }
    };
    let (support, pulse) = ("Support satisfaction", "Employee pulse");
    let agent = "How would you rate our agent on…";
    assert_eq!(
        catalog.questions,
        [
            q(
                "405837261",
                support,
                "667461690",
                "How likely is it that you would recommend Acme to a friend or colleague?",
                "matrix/rating",
                Some((0, 10))
            ),
            q(
                "405837261",
                support,
                "667461691",
                "How satisfied were you with the support you received?",
                "single_choice/vertical",
                Some((1, 5))
            ),
            q("405837261", support, "667461693", "Which channels did you use?", "multiple_choice/vertical", None),
            q("405837261", support, "667461694", "What could we do better?", "open_ended/essay", None),
            q(
                "405901118",
                pulse,
                "668000001",
                "How likely are you to recommend Acme as a place to work?",
                "matrix/rating",
                Some((0, 10))
            ),
            q("405901118", pulse, "668000002", "Which team are you in?", "open_ended/single", None),
            // Each row of the agent matrix, from the second questions block: positions 1–5.
            q(
                "405837261",
                support,
                "667461692.4385172960",
                &format!("{agent} Friendliness"),
                "matrix/rating",
                Some((1, 5))
            ),
            q(
                "405837261",
                support,
                "667461692.4385172961",
                &format!("{agent} Knowledge"),
                "matrix/rating",
                Some((1, 5))
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_read_pages_through_every_survey_and_reports_the_daily_budget() {
    let fake = FakeSurveyMonkey::start().await;
    let read = read(&fake.config(), &STREAMS, StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    assert_eq!(read.ids("surveys"), SURVEYS.iter().map(|s| s.to_string()).collect());
    assert_eq!(read.ids("survey_details"), SURVEYS.iter().map(|s| s.to_string()).collect());
    assert_eq!(read.ids("responses"), fixture_ids("responses"));
    let maria = read.record("responses", "114291851893");
    assert_eq!(maria["custom_variables"], json!({ "ticket_id": "35436", "utm_source": "zendesk" }));
    assert_eq!(maria["metadata"]["contact"]["email"]["value"], "maria.lopez@example.com");
    assert_eq!(maria["pages"][0]["questions"][3]["answers"][2]["text"], "WhatsApp");
    let details = read.record("survey_details", "405837261");
    assert_eq!(details["pages"][0]["questions"][2]["answers"]["choices"][4]["weight"], 5.0);
    let surveys = read.record("surveys", "405837261");
    assert_eq!(surveys["response_count"], 3, "the include parameter asked for the counts");

    let seen = fake.seen();
    let bulk: Vec<&Seen> = seen.iter().filter(|r| r.path == "/v3/surveys/405837261/responses/bulk").collect();
    assert_eq!(bulk.len(), 2, "three responses, two a page");
    assert_eq!(bulk[0].query["per_page"], "100");
    assert_eq!(bulk[0].query["status"], "completed");
    assert_eq!((bulk[0].query["sort_by"].as_str(), bulk[0].query["sort_order"].as_str()), ("date_modified", "ASC"));
    assert_eq!(bulk[0].query["start_modified_at"], "2024-01-01T00:00:00");
    assert_eq!(bulk[1].query["page"], "2", "links.next");

    let left = 500 - seen.len();
    let budget: Vec<&(LogLevel, String)> =
        read.logs.iter().filter(|(_, m)| m.contains("`day` request quota")).collect();
    assert_eq!(budget.len(), 1, "{:?}", read.logs);
    assert_eq!(budget[0].0, LogLevel::Info);
    assert!(budget[0].1.contains(&format!("{left} requests of 500 left")), "{}", budget[0].1);
    assert!(budget[0].1.contains("resetting in 4h 10m"), "{}", budget[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_read_returns_only_changed_responses() {
    let fake = FakeSurveyMonkey::start().await;
    let first = read(&fake.config(), &["responses"], StreamMode::IncrementalDedupe, StateMap::new()).await.unwrap();
    assert_eq!(first.ids("responses"), fixture_ids("responses"));
    // A cursor per survey (its newest change); `cursor` is where a survey first seen later starts.
    assert_eq!(
        first.state["responses"],
        json!({ "partitions": [
            { "partition": { "id": "405837261" }, "cursor": "2024-05-11T08:00:55Z" },
            { "partition": { "id": "405901118" }, "cursor": "2024-05-17T16:20:41Z" }
        ], "cursor": "2024-05-11T08:00:55Z" }),
        "each survey's newest change"
    );

    let again = read(&fake.config(), &["responses"], StreamMode::IncrementalDedupe, first.state.clone()).await.unwrap();
    assert!(again.ids("responses").is_empty(), "nothing twice: {:?}", again.ids("responses"));

    fake.fake.complete("114299990002", "2024-06-01T10:00:00+00:00", "4385172938");
    let before = fake.seen().len();
    let second =
        read(&fake.config(), &["responses"], StreamMode::IncrementalDedupe, first.state.clone()).await.unwrap();
    assert_eq!(second.ids("responses"), BTreeSet::from(["114299990002".to_string()]));
    assert_eq!(
        second.state["responses"],
        json!({ "partitions": [
            { "partition": { "id": "405837261" }, "cursor": "2024-06-01T10:00:00Z" },
            { "partition": { "id": "405901118" }, "cursor": "2024-05-17T16:20:41Z" }
        ], "cursor": "2024-05-17T16:20:41Z" }),
        "the changed survey's cursor moved"
    );
    // Each survey is asked from its own saved cursor.
    for (survey, from) in [("405837261", "2024-05-11T08:00:55"), ("405901118", "2024-05-17T16:20:41")] {
        let bulk = fake.seen()[before..]
            .iter()
            .find(|r| r.path.ends_with(&format!("/surveys/{survey}/responses/bulk")))
            .cloned()
            .unwrap();
        assert_eq!(bulk.query["start_modified_at"], from, "survey {survey} from its saved cursor");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    let fake = FakeSurveyMonkey::start().await;
    fake.fail_next(Fault::RateLimited);
    fake.fail_next(Fault::ServerError);
    let read = read(&fake.config(), &["surveys"], StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    assert_eq!(read.ids("surveys"), SURVEYS.iter().map(|s| s.to_string()).collect());
    let statuses: Vec<u16> = fake.seen().iter().map(|r| r.status).collect();
    // discover's questions: surveys (429, 500, 200), two details; then the read's surveys.
    assert_eq!(statuses, [429, 500, 200, 200, 200, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_budget_fails_at_once_saying_when_it_resets() {
    let fake = FakeSurveyMonkey::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    // Enough for the surveys and one survey's details, not the rest.
    fake.set_day_remaining(2);
    let before = fake.seen().len();
    let configured = ConfiguredCatalog {
        streams: ["surveys", "survey_details"]
            .iter()
            .map(|s| ConfiguredStream { stream: catalog.stream(s).unwrap().clone(), mode: StreamMode::FullRefresh })
            .collect(),
    };
    let mut messages = connector()
        .read(ReadRequest { config: fake.config(), catalog: configured, state: StateMap::new() })
        .await
        .unwrap();
    let mut failure = None;
    while let Some(message) = messages.next().await {
        // A failed stream ends the read, or (with per-stream failures) only that stream.
        match message {
            Err(e) => failure = Some(e.to_string()),
            Ok(Message::StreamFailed { error, .. }) => failure = Some(error),
            Ok(_) => {}
        }
    }
    let text = failure.expect("the read fails");
    assert!(text.contains("`day` request quota of 500 requests is spent"), "{text}");
    assert!(text.contains("resets in 4h 10m"), "{text}");
    assert!(text.contains("saved state"), "{text}");
    let statuses: Vec<u16> = fake.seen()[before..].iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1, "not retried: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_daily_budget_is_a_warning() {
    let fake = FakeSurveyMonkey::start().await;
    fake.set_day_remaining(40);
    let read = read(&fake.config(), &["surveys"], StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    let warnings: Vec<&String> = read.logs.iter().filter(|(l, _)| *l == LogLevel::Warn).map(|(_, m)| m).collect();
    assert_eq!(warnings.len(), 1, "{:?}", read.logs);
    assert!(warnings[0].contains("nearly spent") && warnings[0].contains("36 requests of 500 left"), "{}", warnings[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_page_fails_naming_its_url() {
    let fake = FakeSurveyMonkey::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    fake.fail_next(Fault::Truncated);
    let configured = ConfiguredCatalog {
        streams: vec![ConfiguredStream {
            stream: catalog.stream("surveys").unwrap().clone(),
            mode: StreamMode::FullRefresh,
        }],
    };
    let mut messages = connector()
        .read(ReadRequest { config: fake.config(), catalog: configured, state: StateMap::new() })
        .await
        .unwrap();
    let mut failure = None;
    while let Some(message) = messages.next().await {
        // A failed stream ends the read, or (with per-stream failures) only that stream.
        match message {
            Err(e) => failure = Some(e.to_string()),
            Ok(Message::StreamFailed { error, .. }) => failure = Some(error),
            Ok(_) => {}
        }
    }
    let text = failure.expect("the read fails");
    assert!(text.contains(&format!("{}/v3/surveys", fake.url)) && text.contains("truncated"), "{text}");
}

// ---------------------------------------------------------------------------------------
// End to end: synced into a lake, read as tx.survey_answers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_become_survey_answers() {
    use txlake_engine::{Connection, Engine, EngineSettings, SqlSources};
    use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

    let fake = FakeSurveyMonkey::start().await;
    let dir = tempfile::tempdir().unwrap();
    let lake =
        txlake_lake::Lake::open(&format!("file://{}", dir.path().display()), dir.path(), Default::default()).unwrap();
    let connection: ConnectionConfig =
        serde_json::from_value(json!({ "connector": "surveymonkey", "config": fake.config() })).unwrap();
    let registry = txlake_sync::connectors::builtin_registry();
    sync_connection(&lake, &registry, "sm", &connection, &SyncOptions::default(), &QuietObserver).await.unwrap();
    let connections = [Connection { name: "sm".into(), connector: "surveymonkey".into() }];
    let engine = Engine::open(&lake, &connections, &SqlSources::builtin(), &EngineSettings::default()).await.unwrap();
    assert!(engine.warnings().is_empty(), "the model plans: {:?}", engine.warnings());

    let sql = "SELECT answer_key, source, survey_id, response_id, field, question, question_type, value, value_text, \
               CAST(answered_at AS VARCHAR) AS answered_at FROM tx.survey_answers ORDER BY answer_key";
    let batches = engine.sql(sql).await.unwrap().collect().await.unwrap();
    let answers: Vec<Value> = batches.iter().flat_map(rows).collect();
    let of = |response: &str| -> BTreeMap<String, Value> {
        answers
            .iter()
            .filter(|a| a["response_id"] == response)
            .map(|a| (a["field"].as_str().unwrap().to_string(), a.clone()))
            .collect()
    };
    let maria = "114291851893";
    let hers = of(maria);
    let fields: Vec<&str> = hers.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "667461690",
            "667461691",
            "667461692.4385172960",
            "667461692.4385172961",
            "667461693",
            "667461694",
            "hidden.ticket_id",
            "hidden.utm_source",
            "meta.collector_id",
            "meta.email",
        ]
    );
    assert_eq!(
        hers["667461690"],
        json!({
            "answer_key": format!("sm:{maria}:667461690"), "source": "sm", "survey_id": "405837261", "response_id": maria,
            "field": "667461690", "question": "How likely is it that you would recommend Acme to a friend or colleague?",
            "question_type": "matrix/rating", "value": 9.0, "value_text": "9", "answered_at": "2024-05-02T09:15:10Z",
        }),
        "an NPS choice is its number"
    );
    let value = |field: &str| hers[field].get("value").and_then(Value::as_f64);
    let text = |field: &str| hers[field]["value_text"].as_str().unwrap().to_string();
    assert_eq!((value("667461691"), text("667461691")), (Some(5.0), "Very satisfied".into()), "by the choice's weight");
    assert_eq!((value("667461692.4385172960"), text("667461692.4385172960")), (Some(5.0), "Excellent".into()));
    assert_eq!(value("667461692.4385172961"), Some(4.0), "a rating row by its position");
    assert_eq!(hers["667461692.4385172961"]["question"], "How would you rate our agent on… Knowledge");
    assert_eq!((value("667461693"), text("667461693")), (None, "E-mail, Chat, WhatsApp".into()), "several choices");
    assert_eq!((value("667461694"), text("667461694")), (None, "Nothing, keep it up.".into()));
    assert_eq!(text("hidden.ticket_id"), "35436");
    assert!(hers["hidden.ticket_id"].get("question").is_none());
    assert_eq!(text("meta.email"), "maria.lopez@example.com");
    assert_eq!(text("meta.collector_id"), "431882745");

    let detractor = of("114291900412");
    assert_eq!(detractor["667461690"]["value"], 3.0);
    assert_eq!(detractor["667461691"]["value"], 2.0);
    assert!(!detractor.contains_key("meta.email"), "no contact, no e-mail");
    let pulse = of("114300000102");
    assert_eq!(
        (pulse["668000001"]["value"].as_f64(), pulse["668000001"]["survey_id"].as_str()),
        (Some(0.0), Some("405901118"))
    );
    assert_eq!(pulse["hidden.department"]["value_text"], "Sales");
    let keys: BTreeSet<&str> = answers.iter().map(|a| a["answer_key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), answers.len(), "answer_key is unique");
}
