//! Airbyte's own `airbyte-source-delighted` manifest (PyPI 0.2.19), run UNCHANGED by txlake's
//! engine (`connector = "airbyte-manifest:…"`) against an in-process fake of the Delighted v1
//! API written from Delighted's public API documentation (delighted.com/docs/api):
//! - auth: HTTP Basic with the API key as the user name and an empty password (401 otherwise);
//! - `GET /v1/people.json`: `per_page` (default 20, at most 100), `since` / `until` (unix
//!   seconds, on `created_at`, inclusive), creation order, cursor pagination through a
//!   `Link: <…>; rel="next"` header;
//! - `GET /v1/survey_responses.json`: `page` / `per_page`, `since` / `until` on `created_at`,
//!   `updated_since` / `updated_until` on `updated_at`, creation order (oldest first);
//! - `GET /v1/unsubscribes.json`, `GET /v1/bounces.json`: `page` / `per_page`, `since` / `until`
//!   on `unsubscribed_at` / `bounced_at`, oldest first;
//! - a 429 carries `Retry-After` (seconds), as Delighted's rate limit does.
//!
//! Records are the documentation's example records (`tests/fixtures/*.json`), repeated with
//! fresh ids and timestamps into a survey blast big enough that every weekly window of the
//! manifest pages. Every version of every record is kept, so a test can ask what a sync that
//! read up to a given time must hold.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::airbyte_manifests::{self, query, sync};
use crate::support::txlake_bin;

const PACKAGE: &str = "airbyte-source-delighted";
const API_KEY: &str = "dl-test-k3Vq8Zr2Wm4x";
/// `base64("dl-test-k3Vq8Zr2Wm4x:")`: the key and its colon are 21 bytes, a whole number of
/// base64 groups, so every Basic header of this user name starts with it whatever the password.
const BASIC_USER_PREFIX: &str = "ZGwtdGVzdC1rM1ZxOFpyMldtNHg6";
/// Where the fixtures' survey blast begins: Monday 2026-11-02T00:00:00Z.
const BLAST_START: i64 = 1_793_577_600;
/// People (and responses) in the blast; one an hour, so a week holds 168 and pages twice.
const PEOPLE: i64 = 400;

/// The streams of the manifest, their cursor field and primary key.
const STREAMS: [(&str, &str, &str); 4] = [
    ("people", "created_at", "id"),
    ("unsubscribes", "unsubscribed_at", "person_id"),
    ("bounces", "bounced_at", "person_id"),
    ("survey_responses", "updated_at", "id"),
];

fn fixture(name: &str) -> Vec<Value> {
    let path = crate::hubspot::root().join("connectors/airbyte-delighted/tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What the fake does to the next request of a path instead of answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 500.
    ServerError,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: Vec<(String, String)>,
    status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    /// Every version of every record, per stream, in the order they were written.
    versions: BTreeMap<String, Vec<Value>>,
    faults: VecDeque<(String, Fault)>,
    seen: Vec<Seen>,
}

/// The fake Delighted API on 127.0.0.1.
#[derive(Debug, Clone)]
struct FakeDelighted {
    url: String,
    inner: Arc<Mutex<Inner>>,
}

/// The blast: `PEOPLE` people created an hour apart, each answering the NPS question half an
/// hour later (every third changes the answer two days on), every 40th unsubscribing three
/// days on and every 61st bouncing an hour on.
fn blast(email_of: &dyn Fn(i64) -> String) -> BTreeMap<String, Vec<Value>> {
    let people_t = fixture("people");
    let responses_t = fixture("survey_responses");
    let unsub_t = fixture("unsubscribes");
    let bounce_t = fixture("bounces");
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for i in 0..PEOPLE {
        let created = BLAST_START + i * 3600;
        let id = (1000 + i).to_string();
        let email = email_of(i);
        let mut person = people_t[(i % 2) as usize].clone();
        person["id"] = json!(id);
        person["email"] = json!(email);
        person["name"] = json!(format!("Customer {i:03}"));
        person["created_at"] = json!(created);
        person["last_sent_at"] = json!(created + 60);
        out.entry("people".into()).or_default().push(person);

        let answered = created + 1800;
        let mut response = responses_t[(i % 2) as usize].clone();
        response["id"] = json!((50_000 + i).to_string());
        response["person"] = json!(id);
        response["score"] = json!((i * 7) % 11);
        response["created_at"] = json!(answered);
        response["updated_at"] = json!(answered);
        out.entry("survey_responses".into()).or_default().push(response.clone());
        if i % 3 == 0 {
            // The customer comes back and changes the answer: a new version, updated later.
            response["score"] = json!((i * 7 + 4) % 11);
            response["updated_at"] = json!(answered + 2 * 86_400);
            out.entry("survey_responses".into()).or_default().push(response);
        }
        if i % 40 == 7 {
            let mut u = unsub_t[(i % 2) as usize].clone();
            u["person_id"] = json!(id);
            u["email"] = json!(email);
            u["name"] = json!(format!("Customer {i:03}"));
            u["unsubscribed_at"] = json!(created + 3 * 86_400);
            out.entry("unsubscribes".into()).or_default().push(u);
        }
        if i % 61 == 5 {
            let mut b = bounce_t[(i % 2) as usize].clone();
            b["person_id"] = json!(id);
            b["email"] = json!(email);
            b["name"] = json!(format!("Customer {i:03}"));
            b["bounced_at"] = json!(created + 3600);
            out.entry("bounces".into()).or_default().push(b);
        }
    }
    out
}

fn key_of(stream: &str) -> &'static str {
    STREAMS.iter().find(|s| s.0 == stream).map(|s| s.2).unwrap()
}

fn cursor_of(stream: &str) -> &'static str {
    STREAMS.iter().find(|s| s.0 == stream).map(|s| s.1).unwrap()
}

/// The latest version of each record of `stream` among `versions` whose cursor is at or before
/// `until` (all when `None`), in the API's order (creation, oldest first).
fn latest(versions: &[Value], stream: &str, until: Option<i64>) -> Vec<Value> {
    let key = key_of(stream);
    let cursor = cursor_of(stream);
    let mut by_key: BTreeMap<String, Value> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for v in versions {
        if until.is_some_and(|u| v[cursor].as_i64().unwrap_or(0) > u) {
            continue;
        }
        let k = v[key].as_str().unwrap().to_string();
        if by_key.insert(k.clone(), v.clone()).is_none() {
            order.push(k);
        }
    }
    order.into_iter().map(|k| by_key.remove(&k).unwrap()).collect()
}

/// The first value of each query parameter (a next-page link repeated by the requester must
/// not change the answer).
fn params(uri: &Uri) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://fake{uri}")).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn int_param(query: &[(String, String)], name: &str) -> Result<Option<i64>, String> {
    match param(query, name) {
        None => Ok(None),
        Some(text) => {
            text.parse::<i64>().map(Some).map_err(|_| format!("{name} must be an integer unix timestamp, got {text}"))
        }
    }
}

fn unprocessable(message: String) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({ "status": 422, "message": message }))).into_response()
}

/// Basic auth with the API key as the user name (the password is not checked: Delighted's is
/// empty, and a manifest may send anything there).
fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|encoded| encoded.trim().starts_with(BASIC_USER_PREFIX))
}

impl FakeDelighted {
    async fn start() -> Self {
        Self::start_with(blast(&|i| format!("customer{i:03}@shop.example"))).await
    }

    async fn start_with(versions: BTreeMap<String, Vec<Value>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner { versions, ..Inner::default() }));
        let state = (inner.clone(), url.clone());
        let app = axum::Router::new().fallback(handle).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// The connection's config: the manifest's spec plus `base_url` (the engine's override of
    /// `url_base`, so the unchanged manifest reaches this fake).
    fn config(&self) -> Value {
        json!({ "api_key": API_KEY, "since": "2026-11-01T00:00:00Z", "base_url": format!("{}/v1/", self.url) })
    }

    fn fail_next(&self, path: &str, fault: Fault) {
        self.inner.lock().unwrap().faults.push_back((path.to_string(), fault));
    }

    fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// What a sync that read every window ending at or before `until` must hold per stream.
    fn truth(&self, until: Option<i64>) -> BTreeMap<String, Vec<Value>> {
        let inner = self.inner.lock().unwrap();
        STREAMS
            .iter()
            .map(|(s, _, _)| {
                (s.to_string(), latest(inner.versions.get(*s).map_or(&[][..], |v| v.as_slice()), s, until))
            })
            .collect()
    }

    /// Changes at Delighted now: a customer changes an answer, a new person answers, another
    /// unsubscribes. Returns the time of the changes.
    fn touch(&self) -> i64 {
        let now = chrono::Utc::now().timestamp();
        let mut inner = self.inner.lock().unwrap();
        let responses = inner.versions.get_mut("survey_responses").unwrap();
        let mut changed = responses.iter().find(|r| r["id"] == "50004").unwrap().clone();
        changed["score"] = json!(10);
        changed["comment"] = json!("Support sorted it out the next day.");
        changed["updated_at"] = json!(now);
        responses.push(changed);
        let mut new_response = responses[0].clone();
        new_response["id"] = json!("59999");
        new_response["person"] = json!("9999");
        new_response["score"] = json!(2);
        new_response["created_at"] = json!(now);
        new_response["updated_at"] = json!(now);
        responses.push(new_response);
        let people = inner.versions.get_mut("people").unwrap();
        let mut person = people[0].clone();
        person["id"] = json!("9999");
        person["email"] = json!("late.joiner@shop.example");
        person["created_at"] = json!(now);
        people.push(person);
        let unsubscribes = inner.versions.get_mut("unsubscribes").unwrap();
        let mut u = unsubscribes[0].clone();
        u["person_id"] = json!("1003");
        u["unsubscribed_at"] = json!(now);
        unsubscribes.push(u);
        now
    }
}

type AppState = (Arc<Mutex<Inner>>, String);

async fn handle(
    axum::extract::State((inner, base)): axum::extract::State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query = params(&uri);
    let path = uri.path().to_string();
    let response = answer(&inner, &base, &headers, &path, &query);
    inner.lock().unwrap().seen.push(Seen { path, query, status: response.status().as_u16() });
    response
}

fn answer(inner: &Mutex<Inner>, base: &str, headers: &HeaderMap, path: &str, query: &[(String, String)]) -> Response {
    if !authorized(headers) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "status": 401, "message": "Invalid API key" })))
            .into_response();
    }
    let mut inner = inner.lock().unwrap();
    if let Some(at) = inner.faults.iter().position(|(p, _)| p == path) {
        let (_, fault) = inner.faults.remove(at).unwrap();
        return match fault {
            Fault::RateLimited => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({ "status": 429, "message": "Too Many Requests" })),
                )
                    .into_response();
                r.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
                r
            }
            Fault::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response(),
        };
    }
    let stream = match path {
        "/v1/people.json" => "people",
        "/v1/survey_responses.json" => "survey_responses",
        "/v1/unsubscribes.json" => "unsubscribes",
        "/v1/bounces.json" => "bounces",
        _ => {
            return (StatusCode::NOT_FOUND, axum::Json(json!({ "status": 404, "message": "Not Found" })))
                .into_response();
        }
    };
    let per_page = match int_param(query, "per_page") {
        Ok(n) => n.unwrap_or(20).clamp(1, 100) as usize,
        Err(m) => return unprocessable(m),
    };
    let mut filters: Vec<(&str, i64, bool)> = Vec::new();
    let created = if stream == "survey_responses" { "created_at" } else { cursor_of(stream) };
    for (name, field, lower) in [
        ("since", created, true),
        ("until", created, false),
        ("updated_since", "updated_at", true),
        ("updated_until", "updated_at", false),
    ] {
        if name.starts_with("updated") && stream != "survey_responses" {
            continue;
        }
        match int_param(query, name) {
            Ok(Some(v)) => filters.push((field, v, lower)),
            Ok(None) => {}
            Err(m) => return unprocessable(m),
        }
    }
    let records: Vec<Value> = latest(inner.versions.get(stream).map_or(&[][..], |v| v.as_slice()), stream, None)
        .into_iter()
        .filter(|r| {
            filters.iter().all(|(field, v, lower)| {
                let at = r[*field].as_i64().unwrap_or(0);
                if *lower { at >= *v } else { at <= *v }
            })
        })
        .collect();
    if stream == "people" {
        // Cursor pagination: the next page starts after the id in `page_info`.
        let start = match param(query, "page_info") {
            Some(after) => records.iter().position(|r| r["id"] == after).map_or(records.len(), |p| p + 1),
            None => 0,
        };
        let page: Vec<Value> = records.iter().skip(start).take(per_page).cloned().collect();
        let mut response = axum::Json(Value::Array(page.clone())).into_response();
        if start + page.len() < records.len() {
            let mut next = reqwest::Url::parse(&format!("{base}/v1/people.json")).unwrap();
            {
                let mut pairs = next.query_pairs_mut();
                pairs.append_pair("per_page", &per_page.to_string());
                for name in ["since", "until"] {
                    if let Some(v) = param(query, name) {
                        pairs.append_pair(name, v);
                    }
                }
                pairs.append_pair("page_info", page.last().unwrap()["id"].as_str().unwrap());
            }
            let link = format!("<{next}>; rel=\"next\"");
            response.headers_mut().insert("link", HeaderValue::from_str(&link).unwrap());
        }
        return response;
    }
    let page = match int_param(query, "page") {
        Ok(n) => n.unwrap_or(1).max(1) as usize,
        Err(m) => return unprocessable(m),
    };
    let slice: Vec<Value> = records.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    axum::Json(Value::Array(slice)).into_response()
}

/// Unix seconds of today's 00:00 UTC: the manifest's `end_datetime` (`today_utc()`).
fn today_start() -> i64 {
    chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}

/// Every row of `connection.stream` as JSON, in key order.
async fn rows(config: &Path, connection: &str, stream: &str) -> Vec<Value> {
    let key = key_of(stream);
    query(config, &format!("SELECT * FROM {connection}.{stream} ORDER BY {key}")).await
}

/// The fake's records in the shape the table holds them: by key, only the columns the table
/// has compared (a table may add none of its own; the ones it has must equal the API's).
fn assert_table_is(stream: &str, table: &[Value], truth: &[Value]) {
    let key = key_of(stream);
    let mut want: Vec<&Value> = truth.iter().collect();
    want.sort_by(|a, b| a[key].as_str().cmp(&b[key].as_str()));
    let got_keys: Vec<String> = table.iter().map(|r| r[key].to_string()).collect();
    let want_keys: Vec<String> = want.iter().map(|r| r[key].to_string()).collect();
    assert_eq!(got_keys.len(), want_keys.len(), "{stream}: as many rows as the API has records");
    assert_eq!(got_keys, want_keys, "{stream}: the API's records, each once");
    for (row, record) in table.iter().zip(want) {
        for field in
            ["score", "comment", "updated_at", "created_at", "email", "unsubscribed_at", "bounced_at", "person"]
        {
            if let Some(expected) = record.get(field) {
                // The query output leaves null columns out.
                assert_eq!(row.get(field).unwrap_or(&Value::Null), expected, "{stream} {}: {field}", record[key]);
            }
        }
    }
}

async fn assert_lake_is(config: &Path, connection: &str, truth: &BTreeMap<String, Vec<Value>>) {
    for (stream, records) in truth {
        assert_table_is(stream, &rows(config, connection, stream).await, records);
    }
}

fn write_config(dir: &Path, fake: &FakeDelighted, extra: &str) -> PathBuf {
    airbyte_manifests::write_config(dir, "nps", PACKAGE, &fake.config(), extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delighted_manifest_full_then_incremental_sync() {
    let fake = FakeDelighted::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    let end = today_start();

    sync(&config).await;
    assert_lake_is(&config, "nps", &fake.truth(Some(end))).await;
    let seen = fake.seen();
    assert!(seen.iter().all(|s| s.status == 200), "{:?}", seen.iter().filter(|s| s.status != 200).collect::<Vec<_>>());
    // The manifest's weekly windows page: survey_responses asks page 2 of a full week, people
    // follows a Link header.
    assert!(seen.iter().any(|s| s.path == "/v1/survey_responses.json" && param(&s.query, "page") == Some("2")));
    assert!(seen.iter().any(|s| s.path == "/v1/people.json" && param(&s.query, "page_info").is_some()));
    let first_requests = seen.len();

    // Changes now. The manifest ends its last window at today 00:00 UTC (`end_datetime:
    // today_utc()`), so a second sync today reads none of them and doubles nothing; the
    // tables stay what the API held up to that end, and the sync starts from the saved state
    // instead of from `since`.
    let changed_at = fake.touch();
    assert!(changed_at >= end);
    sync(&config).await;
    assert_lake_is(&config, "nps", &fake.truth(Some(end))).await;
    let again: Vec<Seen> = fake.seen().into_iter().skip(first_requests).collect();
    let since = chrono::NaiveDateTime::parse_from_str("2026-11-01 00:00:00", "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp();
    for s in &again {
        let lower = param(&s.query, "since").or(param(&s.query, "updated_since")).and_then(|v| v.parse::<i64>().ok());
        assert!(
            lower.is_some_and(|l| l > since + 7 * 86_400),
            "an incremental request re-reads from the start: {} {:?}",
            s.path,
            s.query
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delighted_manifest_retries_a_429_and_a_500() {
    let fake = FakeDelighted::start().await;
    fake.fail_next("/v1/survey_responses.json", Fault::RateLimited);
    fake.fail_next("/v1/people.json", Fault::ServerError);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    sync(&config).await;
    assert_lake_is(&config, "nps", &fake.truth(Some(today_start()))).await;
    let seen = fake.seen();
    for (path, status) in [("/v1/survey_responses.json", 429), ("/v1/people.json", 500)] {
        let failed = seen.iter().position(|s| s.path == path && s.status == status).expect("the fault was served");
        let retried =
            seen[failed + 1..].iter().any(|s| s.path == path && s.query == seen[failed].query && s.status == 200);
        assert!(retried, "{path}: the request answered {status} is sent again and answered");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delighted_manifest_wrong_key_fails_the_sync() {
    let fake = FakeDelighted::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fake.config();
    config["api_key"] = json!("not-the-key");
    let path = airbyte_manifests::write_config(dir.path(), "nps", PACKAGE, &config, "");
    let output = airbyte_manifests::run(vec!["sync".into(), "--config".into(), path.display().to_string()]).await;
    assert!(!output.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("401"), "the error names the 401: {text}");
}

/// Starts `txlake sync`, waits for `commits` "committed version" lines of survey_responses in
/// its log, and SIGKILLs it.
fn sync_and_kill_after_commits(config: &Path, commits: usize) -> bool {
    let mut child = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = 0;
    // Waiting for the sync's own progress, not for time.
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line.contains("survey_responses: committed version") {
            seen += 1;
            if seen == commits {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    seen == commits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delighted_manifest_sigkill_mid_sync_then_resume_equals_an_uninterrupted_run() {
    let fake = FakeDelighted::start().await;
    let reference = tempfile::tempdir().unwrap();
    let reference_config = write_config(reference.path(), &fake, "");
    sync(&reference_config).await;

    let crashed = tempfile::tempdir().unwrap();
    // Small commits: each finished window of 168 responses is committed on its own.
    let crashed_config = write_config(crashed.path(), &fake, "");
    let text = std::fs::read_to_string(&crashed_config).unwrap();
    std::fs::write(&crashed_config, text.replace("[connections.", "[sync]\ncommit_rows = 50\n\n[connections."))
        .unwrap();
    let config_path = crashed_config.clone();
    let killed = tokio::task::spawn_blocking(move || sync_and_kill_after_commits(&config_path, 2)).await.unwrap();
    assert!(killed, "the sync committed survey_responses twice before it was killed");
    let partial = rows(&crashed_config, "nps", "survey_responses").await;
    let full = rows(&reference_config, "nps", "survey_responses").await;
    assert!(
        !partial.is_empty() && partial.len() < full.len(),
        "killed mid-stream: {} of {}",
        partial.len(),
        full.len()
    );

    sync(&crashed_config).await;
    for (stream, _, _) in STREAMS {
        assert_eq!(
            rows(&crashed_config, "nps", stream).await,
            rows(&reference_config, "nps", stream).await,
            "{stream}: the resumed lake equals the uninterrupted one"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delighted_nps_answers_fill_tx_surveys_and_metrics_nps() {
    let fake = FakeDelighted::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "models = \"airbyte-delighted\"");
    sync(&config).await;
    let truth = fake.truth(Some(today_start()));
    let scores: Vec<i64> = truth["survey_responses"].iter().map(|r| r["score"].as_i64().unwrap()).collect();
    let promoters = scores.iter().filter(|s| **s >= 9).count() as i64;
    let detractors = scores.iter().filter(|s| **s <= 6).count() as i64;

    let surveys = query(
        &config,
        "SELECT survey, respondent_kind, count(*) AS n, min(scale_min) AS lo, max(scale_max) AS hi FROM tx.surveys GROUP BY survey, respondent_kind",
    )
    .await;
    assert_eq!(
        surveys,
        vec![json!({ "survey": "nps", "respondent_kind": "customer", "n": scores.len(), "lo": 0, "hi": 10 })]
    );
    let nps =
        query(&config, "SELECT sum(responses) AS n, sum(promoters) AS p, sum(detractors) AS d FROM metrics.nps").await;
    assert_eq!(nps, vec![json!({ "n": scores.len(), "p": promoters, "d": detractors })]);
}

/// A response with a note, in the shape Delighted's API describes notes (`id`, `text`,
/// `user_email`, `created_at`; `tests/fixtures/notes.json`). The manifest's schema declares
/// `notes` as an array whose items have no `type`; Airbyte passes any JSON there, txlake keeps
/// each note object as its JSON text (crates/txlake-connector/src/json_schema.rs, "Untyped fields").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delighted_manifest_reads_responses_with_notes() {
    let fake = FakeDelighted::start().await;
    {
        let mut inner = fake.inner.lock().unwrap();
        let responses = inner.versions.get_mut("survey_responses").unwrap();
        responses[1]["notes"] = Value::Array(fixture("notes"));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    sync(&config).await;
    assert_lake_is(&config, "nps", &fake.truth(Some(today_start()))).await;
    let noted = query(&config, "SELECT count(*) AS n FROM nps.survey_responses WHERE cardinality(notes) > 0").await;
    assert_eq!(noted, vec![json!({ "n": 1 })]);
}

/// Delighted surveys the people of the CRM: person i of the survey blast is Copper's person i
/// (same e-mail, lower-cased). Synced side by side, each NPS answer finds its customer, and
/// `metrics.nps` splits by the customers' country from Copper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delighted_nps_respondents_are_copper_customers() {
    use crate::airbyte_copper::{COMPANIES, COUNTRIES, FakeCopper};
    let copper = FakeCopper::start().await;
    let company = |i: i64| i as usize % COMPANIES;
    let fake = FakeDelighted::start_with(blast(&|i| format!("person{i:03}@company{:02}.example", company(i)))).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "models = \"airbyte-delighted\"");
    let crm = format!(
        "\n[connections.crm]\nconnector = {}\nconfig = {}\nmodels = \"airbyte-copper\"\n",
        Value::String(format!("airbyte-manifest:{}", airbyte_manifests::manifest("airbyte-source-copper").display())),
        airbyte_manifests::toml_value(&copper.config())
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&crm);
    std::fs::write(&config, text).unwrap();
    sync(&config).await;

    let answers = fake.truth(Some(today_start())).remove("survey_responses").unwrap();
    let matched = query(&config, "SELECT count(*) AS n, count(respondent_key) AS matched FROM tx.surveys").await;
    assert_eq!(matched, vec![json!({ "n": answers.len(), "matched": answers.len() })]);

    let mut want: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for answer in &answers {
        let person: i64 = answer["person"].as_str().unwrap().parse::<i64>().unwrap() - 1000;
        let entry = want.entry(COUNTRIES[company(person) % 5].to_string()).or_default();
        entry.0 += 1;
        entry.1 += i64::from(answer["score"].as_i64().unwrap() >= 9);
    }
    let by_country = query(
        &config,
        "SELECT country, sum(responses) AS n, sum(promoters) AS p FROM metrics.nps GROUP BY country ORDER BY country",
    )
    .await;
    let got: BTreeMap<String, (i64, i64)> = by_country
        .iter()
        .map(|r| (r["country"].as_str().unwrap().to_string(), (r["n"].as_i64().unwrap(), r["p"].as_i64().unwrap())))
        .collect();
    assert_eq!(got, want, "NPS answers per Copper country");
}
