//! The `typeform` declarative connector against an in-process fake of the Typeform API that
//! serves `connectors/typeform/tests/fixtures/*.json` as the documentation describes it:
//! GET /forms (`page`, `page_size` ≤ 200), GET /forms/{form_id} (the definition: fields,
//! groups, hidden fields), GET /forms/{form_id}/responses (`page_size` ≤ 1000, `since` and
//! `until` inclusive to the second, `before`/`after` response tokens in processing order and
//! never with `sort`, `response_type`; newest first; two responses a page whatever
//! `page_size` asks, so paging happens), a personal access token or an OAuth 2 refresh
//! token exchanged at POST /oauth/token (401 on anything else), and faults on demand (a 429
//! with `Retry-After: 1`, a 500, a truncated page). The end-to-end test syncs it and reads
//! tx.survey_answers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{
    ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, DeclarativeConnector, Message, ReadRequest,
    StateMap, StreamMode, SurveyQuestion,
};

use crate::hubspot::root;

/// A personal access token the fake accepts.
pub(crate) const TOKEN: &str = "tfp_4sXk9Qm2Lr7Vb3Nc8Hd5Jf1Gt6Wy0Pz";
const CLIENT_ID: &str = "7f3c9a1e-2b4d-4e8f-9a6b-1c2d3e4f5a6b";
const CLIENT_SECRET: &str = "tf-secret-Qp8Rz2Wx";
const REFRESH_TOKEN: &str = "tf-refresh-Lm4Nb6Vc";
/// The access token the fake's OAuth endpoint hands out.
const OAUTH_ACCESS: &str = "tf-oauth-access-Hj7Kl9";

/// Responses per page the fake serves, so every form's responses page.
const PAGE: usize = 2;

const STREAMS: [&str; 3] = ["forms", "form_fields", "responses"];
const FORMS: [&str; 2] = ["lT4Z3j", "Zc8rYp"];

fn fixture(name: &str) -> Value {
    let path = root().join("connectors/typeform/tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc)
}

/// `since`/`until` as the docs allow them: unix seconds or ISO 8601 UTC to the second.
fn bound(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(seconds) = text.parse::<i64>() {
        return chrono::DateTime::from_timestamp(seconds, 0);
    }
    chrono::NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc())
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
    forms: Vec<Value>,
    definitions: BTreeMap<String, Value>,
    /// Each form's responses in the order Typeform processed them (submission order).
    responses: BTreeMap<String, Vec<Value>>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
    token_requests: usize,
}

/// The fake's forms and responses, the faults it injects next and the requests it saw.
#[derive(Debug)]
pub(crate) struct Fake {
    inner: Mutex<Inner>,
}

/// The fake Typeform API's routes and state.
pub(crate) fn fake_api() -> (axum::Router, Arc<Fake>) {
    let responses = FORMS
        .iter()
        .map(|id| {
            let mut items = fixture(&format!("responses_{id}"))["items"].as_array().unwrap().clone();
            items.sort_by_key(|r| time(r["submitted_at"].as_str().unwrap()));
            (id.to_string(), items)
        })
        .collect();
    let fake = Arc::new(Fake {
        inner: Mutex::new(Inner {
            forms: fixture("forms")["items"].as_array().unwrap().clone(),
            definitions: FORMS.iter().map(|id| (id.to_string(), fixture(&format!("form_{id}")))).collect(),
            responses,
            faults: VecDeque::new(),
            seen: Vec::new(),
            token_requests: 0,
        }),
    });
    let router =
        axum::Router::new().route("/oauth/token", axum::routing::post(token)).fallback(handle).with_state(fake.clone());
    (router, fake)
}

impl Fake {
    /// A respondent submits the support survey now: 9 out of 10, from the help center.
    /// Returns how many records changed per stream.
    pub(crate) fn touch(&self) -> BTreeMap<String, usize> {
        let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.submit("lT4Z3j", "e7a1c3d5f9b24680ace13579bdf02468", &at, 9);
        BTreeMap::from([("responses".to_string(), 1)])
    }

    fn submit(&self, form: &str, token: &str, at: &str, nps: i64) {
        self.submit_from(form, token, at, nps, json!({ "utm_source": "help_center" }));
    }

    /// A completed response to `form`'s NPS question at `at` (after the fixture's responses),
    /// carrying these hidden fields.
    pub(crate) fn submit_from(&self, form: &str, token: &str, at: &str, nps: i64, hidden: Value) {
        let response = json!({
            "landing_id": token, "token": token, "response_id": token, "response_type": "completed",
            "landed_at": at, "submitted_at": at,
            "metadata": { "user_agent": "Mozilla/5.0", "platform": "other", "referer": "https://help.acme.example/", "network_id": "respondent_network_id", "browser": "default" },
            "hidden": hidden,
            "calculated": { "score": 0 },
            "answers": [ { "field": { "id": "Xk2mB7qa", "type": "nps", "ref": "nps_score" }, "type": "number", "number": nps } ]
        });
        self.inner.lock().unwrap().responses.get_mut(form).unwrap().push(response);
    }
}

/// The fake Typeform API on 127.0.0.1.
#[derive(Debug, Clone)]
struct FakeTypeform {
    url: String,
    fake: Arc<Fake>,
}

impl FakeTypeform {
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

    fn oauth_config(&self) -> Value {
        json!({ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN, "base_url": self.url })
    }

    fn fail_next(&self, fault: Fault) {
        self.fake.inner.lock().unwrap().faults.push_back(fault);
    }

    fn seen(&self) -> Vec<Seen> {
        self.fake.inner.lock().unwrap().seen.clone()
    }
}

fn typeform_error(status: StatusCode, code: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "code": code, "description": description }))).into_response()
}

/// POST /oauth/token with the refresh-token grant.
async fn token(State(fake): State<Arc<Fake>>, Form(form): Form<BTreeMap<String, String>>) -> Response {
    fake.inner.lock().unwrap().token_requests += 1;
    let get = |k: &str| form.get(k).map(String::as_str);
    if get("grant_type") != Some("refresh_token")
        || get("client_id") != Some(CLIENT_ID)
        || get("client_secret") != Some(CLIENT_SECRET)
        || get("refresh_token") != Some(REFRESH_TOKEN)
    {
        return typeform_error(StatusCode::UNAUTHORIZED, "invalid_grant", "the refresh token is invalid or revoked");
    }
    axum::Json(json!({
        "access_token": OAUTH_ACCESS,
        "token_type": "bearer",
        "expires_in": 604800,
        "refresh_token": REFRESH_TOKEN,
        "scope": get("scope").unwrap_or_default(),
    }))
    .into_response()
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
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if authorization != format!("Bearer {TOKEN}") && authorization != format!("Bearer {OAUTH_ACCESS}") {
        return typeform_error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILED",
            "Authentication credentials not found on the Request Headers",
        );
    }
    let fault = inner.faults.pop_front();
    match fault {
        Some(Fault::RateLimited) => {
            let body = json!({ "code": "RATE_LIMIT_EXCEEDED", "description": "Too many requests" });
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], axum::Json(body)).into_response();
        }
        Some(Fault::ServerError) => {
            return typeform_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", "Something went wrong");
        }
        _ => {}
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let page = match parts.as_slice() {
        ["forms"] => forms(inner, query),
        ["forms", id] => inner.definitions.get(*id).cloned().ok_or_else(|| form_not_found(id)),
        ["forms", id, "responses"] => responses(inner, id, query),
        _ => Err(typeform_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Endpoint not found")),
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

fn form_not_found(id: &str) -> Response {
    typeform_error(StatusCode::NOT_FOUND, "FORM_NOT_FOUND", &format!("Non existing form with uid {id}"))
}

fn number(query: &BTreeMap<String, String>, key: &str, default: usize) -> usize {
    query.get(key).map(|v| v.parse().unwrap()).unwrap_or(default)
}

/// GET /forms: `page` (from 1) and `page_size` (default 10, at most 200).
// The error is the response a handler sends; boxing it would only add noise to a fake.
#[allow(clippy::result_large_err)]
fn forms(inner: &Inner, query: &BTreeMap<String, String>) -> Result<Value, Response> {
    let size = number(query, "page_size", 10);
    if size > 200 {
        return Err(typeform_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "page_size must be at most 200"));
    }
    let page = number(query, "page", 1);
    let items: Vec<&Value> = inner.forms.iter().skip((page - 1) * size).take(size).collect();
    Ok(json!({ "total_items": inner.forms.len(), "page_count": inner.forms.len().div_ceil(size), "items": items }))
}

/// GET /forms/{form_id}/responses, newest first (or in processing order after `after`).
#[allow(clippy::result_large_err)]
fn responses(inner: &Inner, form: &str, query: &BTreeMap<String, String>) -> Result<Value, Response> {
    let Some(all) = inner.responses.get(form) else { return Err(form_not_found(form)) };
    let size = number(query, "page_size", 25);
    if size > 1000 {
        return Err(typeform_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "page_size must be at most 1000"));
    }
    if query.contains_key("sort") && (query.contains_key("before") || query.contains_key("after")) {
        return Err(typeform_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "before/after cannot be used together with sort",
        ));
    }
    let submitted = |r: &Value| time(r["submitted_at"].as_str().unwrap());
    let since = query.get("since").map(|s| bound(s).expect("since in a documented format"));
    let until = query.get("until").map(|s| bound(s).expect("until in a documented format"));
    let types: Option<BTreeSet<&str>> = query.get("response_type").map(|t| t.split(',').collect());
    let position = |token: &str| all.iter().position(|r| r["token"] == token);
    let before = query.get("before").map(|t| position(t).expect("a known token"));
    let after = query.get("after").map(|t| position(t).expect("a known token"));
    let mut matching: Vec<&Value> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| before.is_none_or(|b| *i < b) && after.is_none_or(|a| *i > a))
        .map(|(_, r)| r)
        .filter(|r| since.is_none_or(|s| submitted(r) >= s) && until.is_none_or(|u| submitted(r) <= u))
        .filter(|r| types.as_ref().is_none_or(|t| t.contains(r["response_type"].as_str().unwrap())))
        .collect();
    if after.is_none() {
        matching.reverse();
    }
    let served = size.min(PAGE);
    let items: Vec<&Value> = matching.iter().take(served).copied().collect();
    Ok(json!({ "total_items": matching.len(), "page_count": matching.len().div_ceil(served), "items": items }))
}

// ---------------------------------------------------------------------------------------
// Driving the connector.

fn connector() -> DeclarativeConnector {
    let text = std::fs::read_to_string(root().join("connectors/typeform/manifest.yaml")).unwrap();
    DeclarativeConnector::from_manifest("connectors/typeform/manifest.yaml", &text).unwrap()
}

#[derive(Debug, Default)]
struct Read {
    records: BTreeMap<String, Vec<Value>>,
    state: StateMap,
}

impl Read {
    fn ids(&self, stream: &str) -> BTreeSet<String> {
        let key = if stream == "responses" { "response_id" } else { "id" };
        let id = |r: &Value| match stream {
            "form_fields" => format!("{}/{}", r["form_id"].as_str().unwrap(), r[key].as_str().unwrap()),
            _ => r[key].as_str().unwrap().to_string(),
        };
        self.records.get(stream).into_iter().flatten().map(id).collect()
    }

    fn response(&self, id: &str) -> &Value {
        self.records["responses"].iter().find(|r| r["response_id"] == id).unwrap()
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
            _ => {}
        }
    }
    Ok(out)
}

/// Every response id of the fixtures.
fn fixture_responses() -> BTreeSet<String> {
    FORMS
        .iter()
        .flat_map(|id| fixture(&format!("responses_{id}"))["items"].as_array().unwrap().clone())
        .map(|r| r["response_id"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The connector's operations.

#[test]
fn the_spec_takes_a_token_or_oauth_and_marks_the_secrets() {
    let spec = connector().spec();
    for secret in ["access_token", "client_secret", "refresh_token"] {
        assert_eq!(spec.config_schema["properties"][secret]["x-secret"], true, "{secret}");
    }
    assert!(spec.config_schema["properties"]["client_id"].get("x-secret").is_none());
    let base = "http://127.0.0.1:1";
    spec.validate("typeform", &json!({ "access_token": TOKEN, "base_url": base })).unwrap();
    spec.validate(
        "typeform",
        &json!({ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN }),
    )
    .unwrap();
    assert!(spec.validate("typeform", &json!({ "start_date": "2024-01-01" })).is_err(), "no credentials");
    assert!(spec.validate("typeform", &json!({ "client_id": CLIENT_ID })).is_err(), "half an OAuth app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_and_a_wrong_token_fails_saying_so() {
    let fake = FakeTypeform::start().await;
    connector().check(&fake.config()).await.unwrap();
    assert_eq!(fake.seen()[0].path, "/forms");

    let mut wrong = fake.config();
    wrong["access_token"] = json!("tfp_revoked000000000000000000000000");
    let err = connector().check(&wrong).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("AUTHENTICATION_FAILED") && text.contains("/forms"), "{text}");
    assert!(!text.contains("tfp_revoked"), "no secret in the message: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_exchanges_the_refresh_token_once_per_read() {
    let fake = FakeTypeform::start().await;
    let read =
        read(&fake.oauth_config(), &["forms", "responses"], StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    assert_eq!(read.ids("forms"), FORMS.iter().map(|f| f.to_string()).collect());
    assert_eq!(read.ids("responses"), fixture_responses());
    // One exchange for discover (the questions), one for the read.
    assert_eq!(fake.fake.inner.lock().unwrap().token_requests, 2);

    let mut revoked = fake.oauth_config();
    revoked["refresh_token"] = json!("tf-refresh-revoked");
    let err = connector().check(&revoked).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert!(err.to_string().contains("refused the refresh token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_every_question_with_its_scale() {
    let fake = FakeTypeform::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    assert_eq!(catalog.names(), STREAMS);
    let responses = catalog.stream("responses").unwrap();
    assert_eq!(responses.cursor_field.as_deref(), Some("submitted_at"));
    assert_eq!(responses.primary_key, ["response_id"]);
    assert_eq!(responses.default_mode, StreamMode::IncrementalDedupe);
    let hidden = responses.schema.field_with_name("hidden").unwrap();
    assert!(matches!(hidden.data_type(), arrow::datatypes::DataType::Map(_, _)), "{hidden:?}");

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
    let support = "How was your support experience?";
    assert_eq!(
        catalog.questions,
        [
            q(
                "lT4Z3j",
                support,
                "nps_score",
                "How likely are you to recommend Acme to a friend or colleague?",
                "nps",
                Some((0, 10))
            ),
            q("lT4Z3j", support, "ease", "How easy was it to get your issue solved?", "opinion_scale", Some((1, 7))),
            q("lT4Z3j", support, "agent_stars", "Rate the agent who helped you", "rating", Some((1, 5))),
            q("lT4Z3j", support, "topic", "What was your request about?", "multiple_choice", None),
            q("lT4Z3j", support, "comment", "Anything else we should know?", "long_text", None),
            q("lT4Z3j", support, "email", "Your e-mail, if we may follow up", "email", None),
            q("lT4Z3j", support, "contact_date", "When did you contact us?", "date", None),
            q(
                "Zc8rYp",
                "Team pulse",
                "enps",
                "How likely are you to recommend working here to a friend?",
                "opinion_scale",
                Some((0, 10))
            ),
            q("Zc8rYp", "Team pulse", "team", "Which team are you in?", "short_text", None),
            // The fields inside the group come from the second questions block.
            q("lT4Z3j", support, "channels", "Where do you reach us?", "multiple_choice", None),
            q("lT4Z3j", support, "pick_again", "Would you pick Acme again?", "yes_no", None),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_read_pages_through_every_form() {
    let fake = FakeTypeform::start().await;
    let read = read(&fake.config(), &STREAMS, StreamMode::FullRefresh, StateMap::new()).await.unwrap();
    assert_eq!(read.ids("forms"), FORMS.iter().map(|f| f.to_string()).collect());
    assert_eq!(read.records["form_fields"].len(), 11, "nine fields of the support form, two of the pulse");
    assert_eq!(read.ids("responses"), fixture_responses());
    let maria = read.response("21085286190ffad1248d17c4135ee56f");
    assert_eq!(maria["form_id"], "lT4Z3j");
    // arrow-json writes a map as an object again.
    assert_eq!(
        maria["hidden"],
        json!({ "ticket_id": "35436", "utm_source": "zendesk", "customer_email": "maria.lopez@example.com" })
    );
    assert_eq!(maria["answers"][4]["choices"]["labels"], json!(["E-mail", "Chat"]));
    assert_eq!(maria["metadata"]["platform"], "other");
    let group = read.records["form_fields"].iter().find(|f| f["ref"] == "about_you").unwrap();
    assert_eq!(group["properties"]["fields"][0]["ref"], "channels");

    let seen = fake.seen();
    let support: Vec<&Seen> = seen.iter().filter(|r| r.path == "/forms/lT4Z3j/responses").collect();
    assert_eq!(support.len(), 2, "three responses, two a page");
    for request in &support {
        assert_eq!(request.query["page_size"], "1000");
        assert_eq!(request.query["response_type"], "completed");
        assert_eq!(request.query["since"], "2024-01-01T00:00:00", "the start date, to the second");
    }
    assert!(!support[0].query.contains_key("before"));
    assert_eq!(support[1].query["before"], "610fc266478b41e4927945e20fe54ad2", "the token of page 1's last");
    let forms: Vec<&Seen> = seen.iter().filter(|r| r.path == "/forms").collect();
    assert_eq!(forms[0].query["page_size"], "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_read_returns_only_new_responses() {
    let fake = FakeTypeform::start().await;
    let first = read(&fake.config(), &["responses"], StreamMode::IncrementalDedupe, StateMap::new()).await.unwrap();
    assert_eq!(first.ids("responses"), fixture_responses());
    // A cursor per form (its newest submission); `cursor` is where a form first seen later starts.
    assert_eq!(
        first.state["responses"],
        json!({ "partitions": [
            { "partition": { "id": "Zc8rYp" }, "cursor": "2024-05-22T17:45:49Z" },
            { "partition": { "id": "lT4Z3j" }, "cursor": "2024-05-11T08:01:30Z" }
        ], "cursor": "2024-05-11T08:01:30Z" }),
        "each form's newest submission"
    );

    let again = read(&fake.config(), &["responses"], StreamMode::IncrementalDedupe, first.state.clone()).await.unwrap();
    assert!(again.ids("responses").is_empty(), "nothing twice: {:?}", again.ids("responses"));

    fake.fake.submit("lT4Z3j", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "2024-06-01T10:00:00Z", 6);
    fake.fake.submit("Zc8rYp", "f9e8d7c6b5a4039281706f5e4d3c2b1a", "2024-06-02T11:30:00Z", 10);
    let before = fake.seen().len();
    let second =
        read(&fake.config(), &["responses"], StreamMode::IncrementalDedupe, first.state.clone()).await.unwrap();
    assert_eq!(
        second.ids("responses"),
        BTreeSet::from([
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9".to_string(),
            "f9e8d7c6b5a4039281706f5e4d3c2b1a".to_string()
        ])
    );
    assert_eq!(
        second.state["responses"],
        json!({ "partitions": [
            { "partition": { "id": "Zc8rYp" }, "cursor": "2024-06-02T11:30:00Z" },
            { "partition": { "id": "lT4Z3j" }, "cursor": "2024-06-01T10:00:00Z" }
        ], "cursor": "2024-06-01T10:00:00Z" }),
        "each form's cursor moved"
    );
    let seen = &fake.seen()[before..];
    let pulse = seen.iter().find(|r| r.path == "/forms/Zc8rYp/responses").unwrap();
    assert_eq!(pulse.query["since"], "2024-05-22T17:45:49", "from the saved cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    let fake = FakeTypeform::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    let requests = fake.seen().len();
    fake.fail_next(Fault::RateLimited);
    fake.fail_next(Fault::ServerError);
    let configured = ConfiguredCatalog {
        streams: vec![ConfiguredStream {
            stream: catalog.stream("forms").unwrap().clone(),
            mode: StreamMode::FullRefresh,
        }],
    };
    let mut messages = connector()
        .read(ReadRequest { config: fake.config(), catalog: configured, state: StateMap::new() })
        .await
        .unwrap();
    let mut forms = 0;
    while let Some(message) = messages.next().await {
        if let Message::Batch { batch, .. } = message.unwrap() {
            forms += batch.num_rows();
        }
    }
    assert_eq!(forms, 2);
    let statuses: Vec<u16> = fake.seen()[requests..].iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_page_fails_naming_its_url() {
    let fake = FakeTypeform::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    fake.fail_next(Fault::Truncated);
    let configured = ConfiguredCatalog {
        streams: vec![ConfiguredStream {
            stream: catalog.stream("forms").unwrap().clone(),
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
    assert!(text.contains(&format!("{}/forms", fake.url)) && text.contains("truncated"), "{text}");
}

// ---------------------------------------------------------------------------------------
// End to end: synced into a lake, read as tx.survey_answers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_become_survey_answers() {
    use txlake_engine::{Connection, Engine, EngineSettings, SqlSources};
    use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

    let fake = FakeTypeform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let lake =
        txlake_lake::Lake::open(&format!("file://{}", dir.path().display()), dir.path(), Default::default()).unwrap();
    let connection: ConnectionConfig =
        serde_json::from_value(json!({ "connector": "typeform", "config": fake.config() })).unwrap();
    let registry = txlake_sync::connectors::builtin_registry();
    sync_connection(&lake, &registry, "tf", &connection, &SyncOptions::default(), &QuietObserver).await.unwrap();
    let connections = [Connection { name: "tf".into(), connector: "typeform".into() }];
    let engine = Engine::open(&lake, &connections, &SqlSources::builtin(), &EngineSettings::default()).await.unwrap();
    assert!(engine.warnings().is_empty(), "the model plans: {:?}", engine.warnings());

    let sql = "SELECT answer_key, source, survey_id, response_id, field, question, question_type, value, value_text, \
               CAST(answered_at AS VARCHAR) AS answered_at FROM tx.survey_answers ORDER BY answer_key";
    let batches = engine.sql(sql).await.unwrap().collect().await.unwrap();
    let answers: Vec<Value> = batches.iter().flat_map(rows).collect();
    let maria = "21085286190ffad1248d17c4135ee56f";
    let of = |response: &str| -> BTreeMap<String, Value> {
        answers
            .iter()
            .filter(|a| a["response_id"] == response)
            .map(|a| (a["field"].as_str().unwrap().to_string(), a.clone()))
            .collect()
    };
    let hers = of(maria);
    let fields: Vec<&str> = hers.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "agent_stars",
            "channels",
            "comment",
            "contact_date",
            "ease",
            "email",
            "hidden.customer_email",
            "hidden.ticket_id",
            "hidden.utm_source",
            "meta.browser",
            "meta.platform",
            "meta.referer",
            "nps_score",
            "pick_again",
            "topic",
        ]
    );
    assert_eq!(
        hers["nps_score"],
        json!({
            "answer_key": format!("tf:{maria}:nps_score"), "source": "tf", "survey_id": "lT4Z3j", "response_id": maria,
            "field": "nps_score", "question": "How likely are you to recommend Acme to a friend or colleague?",
            "question_type": "nps", "value": 9.0, "value_text": "9", "answered_at": "2024-05-02T09:14:05Z",
        })
    );
    let text = |field: &str| hers[field]["value_text"].as_str().unwrap().to_string();
    assert_eq!(hers["ease"]["value"], 6.0);
    assert_eq!(hers["agent_stars"]["question_type"], "rating");
    assert_eq!((text("topic"), hers["topic"].get("value")), ("Billing".into(), None));
    assert_eq!(text("channels"), "E-mail, Chat");
    assert_eq!(hers["channels"]["question"], "Where do you reach us?", "a field inside a group has its title");
    assert_eq!((text("pick_again"), text("contact_date")), ("true".into(), "2024-05-01".into()));
    assert_eq!(text("email"), "maria.lopez@example.com");
    assert_eq!(text("hidden.ticket_id"), "35436");
    assert!(hers["hidden.ticket_id"].get("question").is_none() && hers["hidden.ticket_id"].get("value").is_none());
    assert_eq!(text("meta.platform"), "other");

    let other = of("610fc266478b41e4927945e20fe54ad2");
    assert_eq!(other["topic"]["value_text"], "A refund that never came", "an `other` choice");
    assert_eq!(other["pick_again"]["value_text"], "false");
    assert_eq!(other["meta.platform"]["value_text"], "mobile");
    let no_hidden = of("9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d");
    assert!(no_hidden.keys().all(|f| !f.starts_with("hidden.")), "{:?}", no_hidden.keys());
    let pulse = of("d3b7f5a1b02c4f8a9e4f6c7b8d9e0f1a");
    assert_eq!(pulse["enps"]["value"], 0.0);
    assert_eq!(pulse["enps"]["survey_id"], "Zc8rYp");
    assert_eq!(pulse["hidden.department"]["value_text"], "Sales");
    let keys: BTreeSet<&str> = answers.iter().map(|a| a["answer_key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), answers.len(), "answer_key is unique");
}
