//! The `qualtrics` connector against an in-process fake of the Qualtrics v3 API that serves
//! `connectors/qualtrics/tests/fixtures/`: `X-API-TOKEN` auth (401 with the `meta.error`
//! envelope on a wrong token), `GET /whoami`, `GET /surveys` paged two at a time through
//! `result.nextPage`, `GET /survey-definitions/{id}`, and the response export job: `POST
//! …/export-responses` (honouring `format` and `startDate`) → a progress id, progress polls
//! that answer `inProgress`, `inProgress`, then `complete` with a file id (or `failed` with
//! Qualtrics' message, or `inProgress` for ever), and `…/{fileId}/file`, a real zip of the
//! JSON export built here. Faults on demand: a 429 with `Retry-After: 1`, a 500. The synced
//! responses are checked through `tx.survey_answers` and, with a survey mapping, `tx.surveys`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{
    Catalog, ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, Message, ReadRequest, StateMap,
    StreamMode, SyncMode,
};

use crate::hubspot::root;

/// The API token the fake accepts.
pub(crate) const TOKEN: &str = "qx-Hk29sLw04nXcT7vB1mPq";

const NPS: &str = "SV_3kCxNpsCustomer";
const PULSE: &str = "SV_9pEmployeePulse";
const WEB: &str = "SV_0aWebFeedback23";

/// Surveys per page of `GET /surveys`, so the list pages.
const PAGE: usize = 2;

fn fixture(name: &str) -> Value {
    let path = root().join("connectors/qualtrics/tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn instant(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc)
}

/// What the fake does to the next request instead of answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
}

/// How the next export job behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// `inProgress` twice, then `complete`.
    Completes,
    /// `inProgress` once, then `failed`.
    Fails,
    /// `inProgress` for ever.
    Hangs,
    /// Completes, but the file download breaks off half way.
    CutShort,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Value,
    status: u16,
}

#[derive(Debug)]
struct Job {
    survey: String,
    outcome: Outcome,
    polls: u32,
    file_id: String,
    zip: Vec<u8>,
}

#[derive(Debug)]
struct Inner {
    surveys: Vec<Value>,
    responses: BTreeMap<String, Vec<Value>>,
    jobs: BTreeMap<String, Job>,
    outcomes: VecDeque<Outcome>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
}

/// The fake's records, what it does next and the requests it saw.
#[derive(Debug)]
pub(crate) struct Fake {
    inner: Mutex<Inner>,
}

/// The fake Qualtrics API's routes and state. Next-page URLs name the host a request reached.
pub(crate) fn fake_api() -> (axum::Router, Arc<Fake>) {
    let responses = [NPS, PULSE, WEB]
        .iter()
        .map(|id| (id.to_string(), fixture(&format!("responses/{id}"))["responses"].as_array().unwrap().clone()))
        .collect();
    let fake = Arc::new(Fake {
        inner: Mutex::new(Inner {
            surveys: fixture("surveys")["elements"].as_array().unwrap().clone(),
            responses,
            jobs: BTreeMap::new(),
            outcomes: VecDeque::new(),
            faults: VecDeque::new(),
            seen: Vec::new(),
        }),
    });
    let router = axum::Router::new().fallback(handle).with_state(fake.clone());
    (router, fake)
}

impl Fake {
    /// A customer answers the NPS survey now (NPS 9, support CSAT 4, plan `pro`: three values,
    /// plus the e-mail they were invited at). Returns how many records changed per stream.
    pub(crate) fn touch(&self) -> BTreeMap<String, usize> {
        let now = chrono::Utc::now();
        self.add_response(NPS, "R_9zNpsNewcomer01", &now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        BTreeMap::from([("responses".to_string(), 1), ("response_values".to_string(), 3)])
    }

    fn add_response(&self, survey: &str, id: &str, recorded: &str) {
        let mut response = fixture(&format!("responses/{NPS}"))["responses"][0].clone();
        response["responseId"] = json!(id);
        let values = &mut response["values"];
        values["_recordId"] = json!(id);
        values["recordedDate"] = json!(recorded);
        values["endDate"] = json!(format!("{}Z", &recorded[..19]));
        values["startDate"] = json!(format!("{}Z", &recorded[..19]));
        values["recipientEmail"] = json!("newcomer@example.org");
        values["externalDataReference"] = json!("crm-150");
        for field in ["QID2_TEXT", "ticket_id"] {
            values.as_object_mut().unwrap().remove(field);
        }
        values["QID1"] = json!(9);
        values["QID3"] = json!(4);
        values["plan"] = json!("pro");
        response["labels"]["QID1"] = json!("9");
        response["labels"]["QID3"] = json!("Satisfied");
        self.inner.lock().unwrap().responses.get_mut(survey).unwrap().push(response);
    }
}

/// The fake Qualtrics API on 127.0.0.1.
#[derive(Debug, Clone)]
struct FakeQualtrics {
    url: String,
    fake: Arc<Fake>,
}

impl FakeQualtrics {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (app, fake) = fake_api();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, fake }
    }

    /// Settings for the fake: every survey, from 2024 on, polled every few milliseconds.
    fn config(&self) -> Value {
        json!({
            "datacenter": "fra1",
            "base_url": self.url,
            "api_token": TOKEN,
            "start_date": "2024-01-01",
            "poll_interval_ms": 2,
        })
    }

    fn fail_next(&self, fault: Fault) {
        self.fake.inner.lock().unwrap().faults.push_back(fault);
    }

    fn next_export(&self, outcome: Outcome) {
        self.fake.inner.lock().unwrap().outcomes.push_back(outcome);
    }

    fn seen(&self) -> Vec<Seen> {
        self.fake.inner.lock().unwrap().seen.clone()
    }

    /// The bodies of the export requests seen, by survey.
    fn exports(&self) -> Vec<(String, Value)> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .map(|s| (s.path.split('/').nth(4).unwrap().to_string(), s.body))
            .collect()
    }
}

fn request_id(n: usize) -> String {
    format!("7a9150e0-08bb-4953-89cf-{n:012x}")
}

/// The `{ "result", "meta" }` envelope of a successful answer.
fn ok(result: Value, n: usize) -> Response {
    axum::Json(json!({ "result": result, "meta": { "requestId": request_id(n), "httpStatus": "200 - OK" } }))
        .into_response()
}

/// An error in the envelope Qualtrics uses.
fn error(status: StatusCode, code: &str, message: &str, n: usize) -> Response {
    let http_status = format!("{} - {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let body = json!({ "meta": { "httpStatus": http_status, "requestId": request_id(n), "error": { "errorCode": code, "errorMessage": message } } });
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
    let mut inner = fake.inner.lock().unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = answer(&mut inner, &method, uri.path(), &query, &headers, &body);
    inner.seen.push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        body,
        status: response.status().as_u16(),
    });
    response
}

fn answer(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Value,
) -> Response {
    let n = inner.seen.len();
    if headers.get("x-api-token").and_then(|v| v.to_str().ok()) != Some(TOKEN) {
        return error(StatusCode::UNAUTHORIZED, "AUTH_1.2", "Invalid API token", n);
    }
    match inner.faults.pop_front() {
        Some(Fault::RateLimited) => {
            let body = json!({ "meta": { "httpStatus": "429 - Too Many Requests", "requestId": request_id(n),
                                         "error": { "errorCode": "RATE_1", "errorMessage": "Too many requests, slow down" } } });
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], axum::Json(body)).into_response();
        }
        Some(Fault::ServerError) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "GEN_1", "Internal server error", n);
        }
        None => {}
    }
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let parts: Vec<&str> = path.trim_start_matches("/API/v3/").split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["whoami"]) => {
            let mut whoami = fixture("whoami");
            whoami["meta"]["requestId"] = json!(request_id(n));
            axum::Json(whoami).into_response()
        }
        ("GET", ["surveys"]) => {
            let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let page: Vec<Value> = inner.surveys.iter().skip(offset).take(PAGE).cloned().collect();
            let next = (offset + PAGE < inner.surveys.len())
                .then(|| format!("http://{host}/API/v3/surveys?offset={}", offset + PAGE));
            ok(json!({ "elements": page, "nextPage": next }), n)
        }
        ("GET", ["survey-definitions", survey]) => {
            let path = root().join(format!("connectors/qualtrics/tests/fixtures/definitions/{survey}.json"));
            match std::fs::read_to_string(path) {
                Ok(text) => ([("content-type", "application/json")], text).into_response(),
                Err(_) => error(StatusCode::NOT_FOUND, "QVAL_1", "Survey not found", n),
            }
        }
        ("POST", ["surveys", survey, "export-responses"]) => start_export(inner, survey, body, n),
        ("GET", ["surveys", survey, "export-responses", progress]) => {
            let Some(job) = inner.jobs.get_mut(*progress).filter(|j| j.survey == *survey) else {
                return error(StatusCode::NOT_FOUND, "RE_404", "Export not found", n);
            };
            job.polls += 1;
            let (status, percent) = match (job.outcome, job.polls) {
                (Outcome::Completes | Outcome::CutShort, 1) => ("inProgress", 33.3),
                (Outcome::Completes | Outcome::CutShort, 2) => ("inProgress", 66.7),
                (Outcome::Completes | Outcome::CutShort, _) => ("complete", 100.0),
                (Outcome::Fails, 1) => ("inProgress", 10.0),
                (Outcome::Fails, _) => ("failed", 100.0),
                (Outcome::Hangs, _) => ("inProgress", 50.0),
            };
            let file_id = (status == "complete").then(|| job.file_id.clone());
            if status == "failed" {
                let body = json!({
                    "result": { "fileId": null, "percentComplete": percent, "status": "failed", "continuationToken": null },
                    "meta": { "requestId": request_id(n), "httpStatus": "200 - OK",
                              "error": { "errorCode": "RE_EXPORT_FAILED", "errorMessage": "The export could not be generated: the survey's response set is locked" } }
                });
                return axum::Json(body).into_response();
            }
            ok(json!({ "percentComplete": percent, "status": status, "fileId": file_id, "continuationToken": null }), n)
        }
        ("GET", ["surveys", survey, "export-responses", file, "file"]) => {
            match inner.jobs.values().find(|j| j.file_id == *file && j.survey == *survey && j.polls >= 3) {
                Some(job) if job.outcome == Outcome::CutShort => {
                    ([("content-type", "application/zip")], job.zip[..job.zip.len() / 2].to_vec()).into_response()
                }
                Some(job) => ([("content-type", "application/zip")], job.zip.clone()).into_response(),
                None => error(StatusCode::NOT_FOUND, "RE_404", "File not found or not ready", n),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "GEN_404", "Endpoint not found", n),
    }
}

/// `POST /surveys/{id}/export-responses`: the responses recorded from `startDate` on, zipped.
fn start_export(inner: &mut Inner, survey: &str, body: &Value, n: usize) -> Response {
    if body["format"] != "json" {
        return error(StatusCode::BAD_REQUEST, "QVAL_2", "this fake serves format json only", n);
    }
    let Some(all) = inner.responses.get(survey) else {
        return error(StatusCode::NOT_FOUND, "QVAL_1", "Survey not found", n);
    };
    let start = body.get("startDate").and_then(Value::as_str).map(instant);
    let chosen: Vec<&Value> = all
        .iter()
        .filter(|r| start.is_none_or(|s| instant(r["values"]["recordedDate"].as_str().unwrap()) >= s))
        .collect();
    let name = inner.surveys.iter().find(|s| s["id"] == survey).unwrap()["name"].as_str().unwrap().to_string();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(format!("{name}.json"), options).unwrap();
    zip.write_all(serde_json::to_string_pretty(&json!({ "responses": chosen })).unwrap().as_bytes()).unwrap();
    let zip = zip.finish().unwrap().into_inner();
    let progress = format!("ES_{:08}", inner.jobs.len() + 1);
    let outcome = inner.outcomes.pop_front().unwrap_or(Outcome::Completes);
    let file_id = format!("{}-file-{progress}", survey.to_lowercase());
    inner.jobs.insert(progress.clone(), Job { survey: survey.to_string(), outcome, polls: 0, file_id, zip });
    ok(json!({ "progressId": progress, "percentComplete": 0.0, "status": "inProgress", "continuationToken": null }), n)
}

// ---------------------------------------------------------------------------------------
// Driving the connector.

fn connector() -> Arc<dyn Connector> {
    txlake_sync::connectors::builtin_registry().get("qualtrics").unwrap()
}

#[derive(Debug, Default)]
struct Read {
    records: BTreeMap<String, Vec<Value>>,
    state: StateMap,
    /// `StreamFailed` errors by stream.
    failed: BTreeMap<String, String>,
}

impl Read {
    fn ids(&self, stream: &str) -> BTreeSet<String> {
        self.records
            .get(stream)
            .into_iter()
            .flatten()
            .map(|r| r["responseId"].as_str().or(r["id"].as_str()).unwrap().to_string())
            .collect()
    }

    fn values_of(&self, response: &str) -> BTreeMap<String, Value> {
        self.records["response_values"]
            .iter()
            .filter(|v| v["responseId"] == response)
            .map(|v| (v["field"].as_str().unwrap().to_string(), v.clone()))
            .collect()
    }
}

fn rows(batch: &RecordBatch) -> Vec<Value> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write_batches(&[batch]).unwrap();
    writer.finish().unwrap();
    let bytes = writer.into_inner();
    if bytes.is_empty() { Vec::new() } else { serde_json::from_slice(&bytes).unwrap() }
}

fn configure(catalog: &Catalog, streams: &[&str], mode: Option<StreamMode>) -> ConfiguredCatalog {
    ConfiguredCatalog {
        streams: streams
            .iter()
            .map(|s| {
                let stream = catalog.stream(s).unwrap().clone();
                ConfiguredStream { mode: mode.unwrap_or(stream.default_mode), stream }
            })
            .collect(),
    }
}

const STREAMS: [&str; 4] = ["surveys", "questions", "responses", "response_values"];

/// A read that must not fail, not even one stream.
async fn read(config: &Value, streams: &[&str], state: StateMap) -> Result<Read, ConnectorError> {
    let read = read_raw(config, streams, state).await?;
    match read.failed.iter().next() {
        Some((stream, error)) => Err(ConnectorError::Source(format!("stream `{stream}`: {error}"))),
        None => Ok(read),
    }
}

/// A read to its end, with the streams that failed.
async fn read_raw(config: &Value, streams: &[&str], state: StateMap) -> Result<Read, ConnectorError> {
    let connector = connector();
    let catalog = connector.discover(config).await?;
    let request = ReadRequest { config: config.clone(), catalog: configure(&catalog, streams, None), state };
    let mut messages = connector.read(request).await?;
    let mut out = Read::default();
    while let Some(message) = messages.next().await {
        match message? {
            Message::Batch { stream, batch } => {
                assert_eq!(batch.schema().fields(), catalog.stream(&stream).unwrap().schema.fields(), "{stream}");
                out.records.entry(stream).or_default().extend(rows(&batch));
            }
            Message::State { stream, state } => {
                assert!(!out.failed.contains_key(&stream), "{stream}: a state after StreamFailed");
                out.state.insert(stream, state);
            }
            Message::StreamFailed { stream, error } => {
                out.failed.insert(stream, error);
            }
            _ => {}
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The connector's operations.

#[test]
fn the_spec_marks_the_token_secret_and_accepts_a_base_url() {
    let spec = connector().spec().config_schema;
    assert_eq!(spec["properties"]["api_token"]["x-secret"], true, "{spec}");
    for field in ["datacenter", "base_url", "api_token", "surveys", "start_date", "poll_deadline_secs", "format"] {
        assert!(spec["properties"][field]["description"].as_str().is_some_and(|d| !d.is_empty()), "{field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_without_a_datacenter_or_base_url_say_which_to_set() {
    let err = connector().check(&json!({ "api_token": "t" })).await.unwrap_err();
    assert!(matches!(err, ConnectorError::InvalidConfig { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("config.datacenter") && text.contains("`base_url`"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_and_a_wrong_token_is_an_auth_error_naming_token_and_datacenter() {
    let fake = FakeQualtrics::start().await;
    connector().check(&fake.config()).await.unwrap();
    assert_eq!(fake.seen()[0].path, "/API/v3/whoami");

    let mut wrong = fake.config();
    wrong["api_token"] = json!("qx-revoked-000000000000");
    let err = connector().check(&wrong).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("Invalid API token"), "{text}");
    assert!(text.contains("`api_token`") && text.contains("`datacenter`"), "{text}");
    assert!(!text.contains("qx-revoked"), "no secret in messages: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_every_question_field_with_its_kind_and_scale() {
    let fake = FakeQualtrics::start().await;
    let catalog = connector().discover(&fake.config()).await.unwrap();
    assert_eq!(catalog.names(), STREAMS);
    let cursors: Vec<Option<&str>> = catalog.streams.iter().map(|s| s.cursor_field.as_deref()).collect();
    assert_eq!(cursors, [None, None, Some("recordedDate"), Some("recordedDate")]);
    let responses = catalog.stream("responses").unwrap();
    assert_eq!(
        (responses.default_mode, responses.primary_key.clone()),
        (StreamMode::IncrementalDedupe, vec!["responseId".to_string()])
    );
    assert!(responses.sync_modes.contains(&SyncMode::Incremental));
    assert_eq!(catalog.stream("response_values").unwrap().primary_key, ["responseId", "field"]);

    /// Survey, field, kind, scale.
    type Entry<'a> = (&'a str, &'a str, &'a str, Option<(i64, i64)>);
    let questions: Vec<Entry<'_>> =
        catalog.questions.iter().map(|q| (q.survey_id.as_str(), q.field.as_str(), q.kind.as_str(), q.scale)).collect();
    assert_eq!(
        questions,
        [
            (NPS, "QID1", "MC/NPS", Some((0, 10))),
            (NPS, "QID2", "TE/ML", None),
            (NPS, "QID3", "MC/SAVR", Some((1, 5))),
            (PULSE, "QID1", "MC/NPS", Some((0, 10))),
            (PULSE, "QID2_1", "Matrix/Likert", Some((1, 5))),
            (PULSE, "QID2_2", "Matrix/Likert", Some((1, 5))),
            (PULSE, "QID3_1", "Slider/HSLIDER", Some((0, 10))),
            (WEB, "QID1", "MC/MAVR", None),
        ],
        "every survey (paged list), QID order, the text block left out"
    );
    let nps = &catalog.questions[0];
    assert_eq!(nps.survey_title, "Customer NPS 2024");
    assert_eq!(nps.question, "How likely are you to recommend Acme to a friend or colleague?", "HTML stripped");
    assert_eq!(
        catalog.questions[5].question,
        "How much do you agree with the following statements? — My manager listens to me"
    );
    let lists = fake.seen().iter().filter(|s| s.path == "/API/v3/surveys").count();
    assert_eq!(lists, 2, "three surveys, two a page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_exports_each_survey_and_splits_every_response_into_values() {
    let fake = FakeQualtrics::start().await;
    let read = read(&fake.config(), &STREAMS, StateMap::new()).await.unwrap();
    assert_eq!(read.ids("surveys"), BTreeSet::from([NPS.to_string(), PULSE.to_string(), WEB.to_string()]));
    assert_eq!(read.records["questions"].len(), 3 + 4 + 1, "the text block is a question of its definition too");
    let matrix =
        read.records["questions"].iter().find(|q| q["surveyId"] == PULSE && q["QuestionID"] == "QID2").unwrap();
    assert_eq!((matrix["scale_min"].as_i64(), matrix["scale_max"].as_i64()), (Some(1), Some(5)));
    let answers: Value = serde_json::from_str(matrix["Answers"].as_str().unwrap()).unwrap();
    assert_eq!(answers["4"], json!({ "Display": "Agree", "Recode": "4" }));

    let expected: BTreeSet<String> =
        ["R_1dNpsMaria0001", "R_2eNpsJonas0002", "R_3fNpsAiko00003", "R_7hPulseEmp0001", "R_8iPulseEmp0002"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(read.ids("responses"), expected, "the 2023 response is before start_date");
    assert_eq!(read.ids("response_values"), expected);
    let maria = read.records["responses"].iter().find(|r| r["responseId"] == "R_1dNpsMaria0001").unwrap();
    assert_eq!(maria["surveyId"], NPS);
    assert_eq!(maria["recipientEmail"], "Maria.Lopez@example.com");
    assert_eq!(maria["distributionChannel"], "email");
    assert_eq!(maria["externalDataReference"], "crm-101");
    assert_eq!((maria["finished"].as_bool(), maria["duration"].as_i64()), (Some(true), Some(96)));
    assert_eq!(maria["status_label"], "IP Address");
    assert_eq!(maria["locationLatitude"].as_f64(), Some(52.5196));
    assert!(maria["recordedDate"].as_str().unwrap().starts_with("2024-05-02T09:14:27.310"), "{maria}");
    let embedded: Value = serde_json::from_str(maria["embedded_data"].as_str().unwrap()).unwrap();
    assert_eq!(embedded, json!({ "plan": "enterprise", "ticket_id": "35436" }));

    let values = read.values_of("R_1dNpsMaria0001");
    assert_eq!(values.keys().collect::<Vec<_>>(), ["QID1", "QID2_TEXT", "QID3", "plan", "ticket_id"]);
    assert_eq!(
        (
            values["QID1"]["value_number"].as_f64(),
            values["QID1"]["value_text"].as_str(),
            values["QID1"]["kind"].as_str()
        ),
        (Some(10.0), Some("10"), Some("question"))
    );
    assert_eq!(values["QID3"]["value_text"], "Very satisfied", "the choice's label");
    assert_eq!(values["QID2_TEXT"]["question_id"], "QID2");
    assert!(values["QID2_TEXT"].get("value_number").is_none());
    assert_eq!((values["plan"]["kind"].as_str(), values["plan"].get("question_id")), (Some("embedded"), None));
    let pulse = read.values_of("R_8iPulseEmp0002");
    assert_eq!(
        pulse.keys().collect::<Vec<_>>(),
        ["QID1", "QID2_1", "QID3_1", "department"],
        "unanswered rows left out"
    );
    assert_eq!(
        (pulse["QID2_1"]["value_number"].as_f64(), pulse["QID2_1"]["value_text"].as_str()),
        (Some(2.0), Some("Disagree"))
    );
    assert_eq!(pulse["QID3_1"]["value_text"], "9", "a slider has no label: its number as text");

    assert_eq!(
        read.state["responses"],
        json!({ "surveys": {
        NPS: "2024-05-06T08:01:55.900Z", PULSE: "2024-05-11T15:22:09.500Z"
    } }),
        "no cursor for a survey without responses"
    );
    assert_eq!(read.state["response_values"], read.state["responses"]);

    // One export per survey from start_date, each polled until complete, then downloaded.
    let exports = fake.exports();
    let bodies: Vec<(&str, &Value)> = exports.iter().map(|(s, b)| (s.as_str(), b)).collect();
    let first = json!({ "format": "json", "compress": true, "startDate": "2024-01-01T00:00:00Z" });
    assert_eq!(bodies, [(NPS, &first), (PULSE, &first), (WEB, &first)]);
    let seen = fake.seen();
    let polls =
        seen.iter().filter(|s| s.path.starts_with(&format!("/API/v3/surveys/{NPS}/export-responses/ES_"))).count();
    assert_eq!(polls, 3, "inProgress, inProgress, complete");
    assert!(seen.iter().any(|s| s.path.ends_with("/file") && s.path.contains(NPS)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_read_exports_from_each_cursor_and_yields_only_new_responses() {
    let fake = FakeQualtrics::start().await;
    let streams = ["responses", "response_values"];
    let first = read(&fake.config(), &streams, StateMap::new()).await.unwrap();
    assert_eq!(first.ids("responses").len(), 5);

    // Nothing new: the export from the cursor (whole seconds) holds the newest response again,
    // which the reader drops, so nothing is doubled.
    let before = fake.exports().len();
    let again = read(&fake.config(), &streams, first.state.clone()).await.unwrap();
    assert!(again.records.is_empty(), "{:?}", again.records);
    assert_eq!(again.state, first.state);
    let asked: Vec<(String, Value)> =
        fake.exports()[before..].iter().map(|(s, b)| (s.clone(), b["startDate"].clone())).collect();
    assert_eq!(
        asked,
        [
            (NPS.to_string(), json!("2024-05-06T08:01:55Z")),
            (PULSE.to_string(), json!("2024-05-11T15:22:09Z")),
            (WEB.to_string(), json!("2024-01-01T00:00:00Z")),
        ],
        "startDate is each survey's cursor; start_date where there is none"
    );

    fake.fake.add_response(NPS, "R_4gNpsLate00004", "2024-06-01T07:30:00.125Z");
    let later = read(&fake.config(), &streams, first.state.clone()).await.unwrap();
    assert_eq!(later.ids("responses"), BTreeSet::from(["R_4gNpsLate00004".to_string()]));
    assert_eq!(later.values_of("R_4gNpsLate00004").keys().collect::<Vec<_>>(), ["QID1", "QID3", "plan"]);
    assert_eq!(later.state["responses"]["surveys"][NPS], "2024-06-01T07:30:00.125Z");
    assert_eq!(later.state["responses"]["surveys"][PULSE], "2024-05-11T15:22:09.500Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_fails_the_response_streams_with_qualtrics_message_after_the_other_surveys() {
    let fake = FakeQualtrics::start().await;
    let mut config = fake.config();
    config["surveys"] = json!([PULSE, NPS]);
    fake.next_export(Outcome::Fails);
    let read = read_raw(&config, &["questions", "responses", "response_values"], StateMap::new()).await.unwrap();
    assert_eq!(read.failed.keys().collect::<Vec<_>>(), ["response_values", "responses"]);
    let text = &read.failed["responses"];
    assert!(text.contains(PULSE) && text.contains("ES_"), "{text}");
    assert!(text.contains("the survey's response set is locked") && text.contains("RE_EXPORT_FAILED"), "{text}");
    assert!(text.contains("requestId"), "support asks for it: {text}");
    // The other survey was read before the streams failed; its state came before the failure.
    assert_eq!(read.ids("responses").len(), 3);
    assert_eq!(read.state["responses"], json!({ "surveys": { NPS: "2024-05-06T08:01:55.900Z" } }));
    assert_eq!(read.records["questions"].len(), 7, "questions do not depend on exports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_short_export_file_fails_naming_its_url_and_keeps_the_cursor() {
    let fake = FakeQualtrics::start().await;
    let mut config = fake.config();
    config["surveys"] = json!([NPS]);
    let state = StateMap::from([("responses".to_string(), json!({ "surveys": { NPS: "2024-05-02T09:14:27.310Z" } }))]);
    fake.next_export(Outcome::CutShort);
    let read = read_raw(&config, &["responses"], state).await.unwrap();
    let text = &read.failed["responses"];
    let url = format!("{}/API/v3/surveys/{NPS}/export-responses/", fake.url);
    assert!(text.contains(&url) && text.contains("/file") && text.contains("not a readable zip"), "{text}");
    assert!(read.records.is_empty() && read.state.is_empty(), "nothing read, the saved cursor stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_never_completes_fails_at_the_deadline() {
    let fake = FakeQualtrics::start().await;
    let mut config = fake.config();
    config["surveys"] = json!([NPS]);
    config["poll_deadline_secs"] = json!(0.05);
    fake.next_export(Outcome::Hangs);
    let err = read(&config, &["responses"], StateMap::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(NPS) && text.contains("did not complete within 0.05 s"), "{text}");
    assert!(text.contains("inProgress, 50% complete") && text.contains("`poll_deadline_secs`"), "{text}");
    assert!(text.contains("`responses`"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_to_the_same_result() {
    let fake = FakeQualtrics::start().await;
    let mut config = fake.config();
    config["surveys"] = json!([NPS]);
    let clean = read(&config, &["responses"], StateMap::new()).await.unwrap();
    let before = fake.seen().len();
    fake.fail_next(Fault::RateLimited);
    fake.fail_next(Fault::ServerError);
    let retried = read(&config, &["responses"], StateMap::new()).await.unwrap();
    assert_eq!(retried.records, clean.records);
    assert_eq!(retried.state, clean.state);
    let statuses: Vec<u16> = fake.seen()[before..].iter().map(|s| s.status).take(3).collect();
    assert_eq!(statuses, [429, 500, 200]);
}

// ---------------------------------------------------------------------------------------
// End to end: synced into a lake, mapped onto tx.survey_answers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_responses_reach_tx_survey_answers() {
    use txlake_engine::{Connection, Engine, EngineSettings, SqlSources};
    use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

    let fake = FakeQualtrics::start().await;
    let lake = txlake_lake::Lake::open("memory://qualtrics-answers", Path::new("/"), Default::default()).unwrap();
    let connection = ConnectionConfig {
        connector: "qualtrics".into(),
        config: fake.config(),
        streams: None,
        modes: BTreeMap::new(),
        survey_mapping: None,
    };
    let registry = txlake_sync::connectors::builtin_registry();
    sync_connection(&lake, &registry, "qx", &connection, &SyncOptions::default(), &QuietObserver).await.unwrap();
    let connections = [Connection { name: "qx".into(), connector: "qualtrics".into() }];
    let engine = Engine::open(&lake, &connections, &SqlSources::builtin(), &EngineSettings::default()).await.unwrap();
    assert!(engine.warnings().is_empty(), "{:?}", engine.warnings());

    let sql = "SELECT answer_key, source, survey_id, response_id, field, question, question_type, value, value_text, \
               CAST(answered_at AS VARCHAR) AS answered_at FROM tx.survey_answers \
               WHERE response_id IN ('R_1dNpsMaria0001', 'R_8iPulseEmp0002') ORDER BY answer_key";
    let batches = engine.sql(sql).await.unwrap().collect().await.unwrap();
    let answers: Vec<Value> = batches.iter().flat_map(rows).collect();
    let at = "2024-05-02T09:14:27.310";
    let maria = |field: &str, question: Option<&str>, kind: Option<&str>, value: Option<f64>, text: &str| {
        let mut row = json!({ "answer_key": format!("qx:R_1dNpsMaria0001:{field}"), "source": "qx", "survey_id": NPS,
                              "response_id": "R_1dNpsMaria0001", "field": field, "value_text": text });
        if let Some(q) = question {
            row["question"] = json!(q);
        }
        if let Some(k) = kind {
            row["question_type"] = json!(k);
        }
        if let Some(v) = value {
            row["value"] = json!(v);
        }
        row
    };
    let nps_text = "How likely are you to recommend Acme to a friend or colleague?";
    let mut expected = vec![
        maria("QID1", Some(nps_text), Some("MC/NPS"), Some(10.0), "10"),
        maria(
            "QID2_TEXT",
            Some("What is the main reason for your score?"),
            Some("TE/ML"),
            None,
            "Support solved my VAT question in an hour.",
        ),
        maria("QID3", Some("How satisfied are you with our support?"), Some("MC/SAVR"), Some(5.0), "Very satisfied"),
        maria("hidden.plan", None, None, None, "enterprise"),
        maria("hidden.ticket_id", None, None, None, "35436"),
        maria("meta.channel", None, None, None, "email"),
        maria("meta.email", None, None, None, "Maria.Lopez@example.com"),
        maria("meta.external_id", None, None, None, "crm-101"),
    ];
    let answered: Vec<&str> = answers.iter().map(|a| a["answered_at"].as_str().unwrap()).collect();
    assert!(answered[..8].iter().all(|a| a.starts_with(at)), "{answered:?}");
    let answers: Vec<Value> = answers
        .into_iter()
        .map(|mut a| {
            a.as_object_mut().unwrap().remove("answered_at");
            a
        })
        .collect();
    let pulse = |field: &str, kind: Option<&str>, question: Option<&str>, value: Option<f64>, text: &str| {
        let mut row = json!({ "answer_key": format!("qx:R_8iPulseEmp0002:{field}"), "source": "qx", "survey_id": PULSE,
                              "response_id": "R_8iPulseEmp0002", "field": field, "value_text": text });
        if let (Some(q), Some(k)) = (question, kind) {
            row["question"] = json!(q);
            row["question_type"] = json!(k);
        }
        if let Some(v) = value {
            row["value"] = json!(v);
        }
        row
    };
    expected.extend([
        pulse("QID1", Some("MC/NPS"), Some("How likely are you to recommend Acme as a place to work?"), Some(3.0), "3"),
        pulse(
            "QID2_1",
            Some("Matrix/Likert"),
            Some("How much do you agree with the following statements?"),
            Some(2.0),
            "Disagree",
        ),
        pulse("QID3_1", Some("Slider/HSLIDER"), Some("Rate your workload"), Some(9.0), "9"),
        pulse("hidden.department", None, None, None, "Sales"),
        pulse("meta.channel", None, None, None, "anonymous"),
    ]);
    assert_eq!(answers, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_mapping_turns_the_nps_survey_into_tx_surveys() {
    use crate::hubspot::{inline, query, sync};

    let fake = FakeQualtrics::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fake.config();
    config["surveys"] = json!([NPS]);
    let path = dir.path().join("txlake.toml");
    let text = format!(
        "[lake]\nurl = \"file://./lake\"\n\n\
         [connections.qx_nps]\nconnector = \"qualtrics\"\nconfig = {}\n\n\
         [connections.qx_nps.survey_mapping]\n\
         respondent = {{ field = \"meta.email\", kind = \"customer\" }}\n\
         channel = {{ field = \"meta.channel\" }}\n\
         [connections.qx_nps.survey_mapping.questions]\n\
         QID1 = {{ survey = \"nps\" }}\n\
         QID3 = {{ survey = \"csat\" }}\n",
        inline(&config)
    );
    std::fs::write(&path, text).unwrap();
    let landed = sync(&path, &[]).await;
    assert_eq!(landed[&("qx_nps".to_string(), "responses".to_string())], 3);

    let surveys = query(
        &path,
        "SELECT response_key, survey, score, scale_min, scale_max, channel FROM tx.surveys ORDER BY response_key, survey",
    )
    .await;
    let row = |key: &str, survey: &str, score: i64, max: i64, channel: &str| {
        json!({ "response_key": key, "survey": survey, "score": score, "scale_min": if survey == "nps" { 0 } else { 1 },
                "scale_max": max, "channel": channel })
    };
    assert_eq!(
        surveys,
        [
            row("qx_nps:R_1dNpsMaria0001:QID1", "nps", 10, 10, "email"),
            row("qx_nps:R_1dNpsMaria0001:QID3", "csat", 5, 5, "email"),
            row("qx_nps:R_2eNpsJonas0002:QID1", "nps", 6, 10, "anonymous"),
            row("qx_nps:R_2eNpsJonas0002:QID3", "csat", 2, 5, "anonymous"),
            row("qx_nps:R_3fNpsAiko00003:QID1", "nps", 8, 10, "email"),
        ]
    );
}
