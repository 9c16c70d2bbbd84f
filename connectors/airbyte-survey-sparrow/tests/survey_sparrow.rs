//! Airbyte's own `airbyte-source-survey-sparrow` manifest (PyPI 0.2.14), run UNCHANGED by
//! txlake's engine (`connector = "airbyte-manifest:…"`) against an in-process fake of the
//! SurveySparrow v3 REST API written from its public documentation
//! (surveysparrow.com/developer):
//! - auth: `Authorization: Bearer <access token>` (401 otherwise);
//! - `GET /v3/{contacts,contact_lists,surveys,survey_folders,roles,users}` and
//!   `GET /v3/{questions,responses}?survey_id=…` (400 without it): `page` (from 1) and `limit`,
//!   answered `{"data": [...], "has_next_page": bool}`;
//! - 429 when over the request limit, 500 on a server error.
//!
//! The region's `url_base` in the config points at the fake, as the manifest's spec offers
//! (`region.url_base`), so nothing but the config changes.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::airbyte_manifests::{self, query, sync};
use crate::support::txlake_bin;

const PACKAGE: &str = "airbyte-source-survey-sparrow";
const TOKEN: &str = "ss-test-Lw9pQ2xR";
const STREAMS: [&str; 8] =
    ["contacts", "contact_lists", "questions", "responses", "roles", "surveys", "survey_folders", "users"];
/// The surveys the config names (`survey_id`), each with questions and responses.
const SURVEYS: [i64; 2] = [11, 12];

fn templates() -> Value {
    let path = crate::hubspot::root().join("connectors/airbyte-survey-sparrow/tests/fixtures/records.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: Vec<(String, String)>,
    status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<String, Vec<Value>>,
    faults: VecDeque<(String, Fault)>,
    seen: Vec<Seen>,
}

#[derive(Debug, Clone)]
struct FakeSparrow {
    url: String,
    inner: Arc<Mutex<Inner>>,
}

/// The account. Without `answers`, responses carry an empty `answers` list: the manifest's
/// schema declares `answers` as an array without `items`, and txlake rejects the answer
/// objects there (see [`survey_sparrow_manifest_reads_answers`]).
fn account(answers: bool) -> BTreeMap<String, Vec<Value>> {
    let t = templates();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut add = |stream: &str, n: i64, edit: &dyn Fn(i64, &mut Value)| {
        for i in 0..n {
            let mut r = t[stream].clone();
            edit(i, &mut r);
            out.entry(stream.to_string()).or_default().push(r);
        }
    };
    add("contacts", 130, &|i, r| {
        r["id"] = json!(40_000 + i);
        r["first_name"] = json!(format!("Contact{i:03}"));
        r["name"] = json!(format!("Contact{i:03} Raman"));
        r["email"] = json!(format!("contact{i:03}@example.com"));
    });
    add("contact_lists", 3, &|i, r| {
        r["id"] = json!(1200 + i);
        r["name"] = json!(format!("List {i}"));
    });
    add("surveys", 3, &|i, r| {
        r["id"] = json!(11 + i);
        r["archived"] = json!(i == 2);
    });
    add("survey_folders", 2, &|i, r| r["id"] = json!(21 + i));
    add("roles", 3, &|i, r| {
        r["id"] = json!(3 + i);
        r["name"] = json!(["Admin", "Editor", "Viewer"][i as usize]);
    });
    add("users", 4, &|i, r| {
        r["id"] = json!(77 + i);
        r["email"] = json!(format!("user{i}@example.com"));
    });
    for survey in SURVEYS {
        add("questions", 4, &|i, r| {
            r["id"] = json!(survey * 100 + i);
            r["position"] = json!((i + 1).to_string());
        });
        add("responses", 70, &|i, r| {
            r["id"] = json!(survey * 100_000 + i);
            r["survey_id"] = json!(survey);
            r["contact"] = json!((40_000 + i).to_string());
            r["answers"][0]["question_id"] = json!(survey * 100);
            r["answers"][0]["answer"] = json!((i * 3) % 11);
            if !answers {
                r["answers"] = json!([]);
            }
        });
    }
    out
}

fn params(uri: &Uri) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://fake{uri}")).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

type AppState = Arc<Mutex<Inner>>;

async fn handle(axum::extract::State(inner): axum::extract::State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let query = params(&uri);
    let path = uri.path().to_string();
    let mut guard = inner.lock().unwrap();
    let response = answer(&mut guard, &headers, &path, &query);
    guard.seen.push(Seen { path, query, status: response.status().as_u16() });
    response
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "message": message, "type": "error" } }))).into_response()
}

fn answer(inner: &mut Inner, headers: &HeaderMap, path: &str, query: &[(String, String)]) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    if bearer != Some(format!("Bearer {TOKEN}").as_str()) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized: bad or missing token");
    }
    if let Some(at) = inner.faults.iter().position(|(p, _)| p == path) {
        let (_, fault) = inner.faults.remove(at).unwrap();
        return match fault {
            Fault::RateLimited => error(StatusCode::TOO_MANY_REQUESTS, "Api request limit exceeded"),
            Fault::ServerError => error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        };
    }
    let Some(stream) = path.strip_prefix("/v3/").filter(|s| STREAMS.contains(s)) else {
        return error(StatusCode::NOT_FOUND, "Not found");
    };
    let mut records: Vec<Value> = inner.records.get(stream).cloned().unwrap_or_default();
    if matches!(stream, "questions" | "responses") {
        let Some(survey) = param(query, "survey_id").and_then(|s| s.parse::<i64>().ok()) else {
            return error(StatusCode::BAD_REQUEST, "survey_id is required");
        };
        // A question's survey is known to the API by its id (here: survey × 100 + n); a
        // response carries its survey_id.
        records.retain(|r| {
            if stream == "questions" {
                r["id"].as_i64().map(|id| id / 100) == Some(survey)
            } else {
                r["survey_id"] == survey
            }
        });
    }
    // Pages start at 1; page 0 (which the manifest's paginator asks first) is answered like
    // a missing page number: the first page.
    let page = param(query, "page").and_then(|s| s.parse::<usize>().ok()).unwrap_or(1).max(1);
    let limit = param(query, "limit").and_then(|s| s.parse::<usize>().ok()).unwrap_or(10).clamp(1, 100);
    let data: Vec<Value> = records.iter().skip((page - 1) * limit).take(limit).cloned().collect();
    let has_next_page = page * limit < records.len();
    axum::Json(json!({ "data": data, "has_next_page": has_next_page })).into_response()
}

impl FakeSparrow {
    async fn start() -> Self {
        Self::start_with(account(false)).await
    }

    async fn start_with(records: BTreeMap<String, Vec<Value>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner { records, ..Inner::default() }));
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    fn config(&self) -> Value {
        // `region.url_base` must be one of the spec's two constants (Airbyte validates the config
        // against the spec too), so the fake is reached through txlake's `base_url` override.
        json!({ "access_token": TOKEN, "base_url": format!("{}/v3", self.url), "survey_id": SURVEYS })
    }

    fn fail_next(&self, stream: &str, fault: Fault) {
        self.inner.lock().unwrap().faults.push_back((format!("/v3/{stream}"), fault));
    }

    fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// What the manifest reads from the API now, stream by stream: the records in the API's
    /// order, the first full page twice. Airbyte's `PageIncrement` with the default
    /// `start_from_page: 0` asks the first page without a number (txlake's translation sends
    /// `page=0`, answered as page 1), then page 1 again, then 2: the manifest's bug against
    /// 1-based pages, the same under Airbyte and txlake (it needs `start_from_page: 1`).
    fn truth(&self) -> BTreeMap<String, Vec<Value>> {
        const PAGE: usize = 50;
        let records = self.inner.lock().unwrap().records.clone();
        records
            .into_iter()
            .map(|(stream, records)| {
                let mut reads = Vec::new();
                // Questions and responses are read per survey: each partition pages on its own.
                let groups: Vec<Vec<Value>> = if matches!(stream.as_str(), "questions" | "responses") {
                    SURVEYS
                        .iter()
                        .map(|survey| {
                            records
                                .iter()
                                .filter(|r| {
                                    if stream == "questions" {
                                        r["id"].as_i64().map(|id| id / 100) == Some(*survey)
                                    } else {
                                        r["survey_id"] == *survey
                                    }
                                })
                                .cloned()
                                .collect()
                        })
                        .collect()
                } else {
                    vec![records]
                };
                for group in groups {
                    if group.len() >= PAGE {
                        reads.extend_from_slice(&group[..PAGE]);
                    }
                    reads.extend(group);
                }
                (stream, reads)
            })
            .collect()
    }

    /// New answers arrive, a contact unsubscribes, a user leaves.
    fn touch(&self) {
        let mut inner = self.inner.lock().unwrap();
        let responses = inner.records.get_mut("responses").unwrap();
        for i in 0..5 {
            let mut r = responses[0].clone();
            r["id"] = json!(1_200_000 + i);
            r["survey_id"] = json!(12);
            if let Some(answer) = r["answers"].get_mut(0) {
                answer["answer"] = json!(10);
            }
            responses.push(r);
        }
        let contacts = inner.records.get_mut("contacts").unwrap();
        contacts[9]["unsubscribed"] = json!(true);
        contacts[9]["active"] = json!(false);
        inner.records.get_mut("users").unwrap().retain(|u| u["id"] != 79);
    }
}

async fn rows(config: &Path, stream: &str) -> Vec<Value> {
    query(config, &format!("SELECT * FROM sparrow.{stream} ORDER BY id")).await
}

fn assert_table_is(stream: &str, table: &[Value], truth: &[Value]) {
    let mut want: Vec<&Value> = truth.iter().collect();
    want.sort_by_key(|r| r["id"].as_i64());
    let got: Vec<Option<i64>> = table.iter().map(|r| r["id"].as_i64()).collect();
    let ids: Vec<Option<i64>> = want.iter().map(|r| r["id"].as_i64()).collect();
    assert_eq!(got, ids, "{stream}: the records the manifest reads, no more, no fewer");
    for (row, record) in table.iter().zip(want) {
        for field in ["name", "email", "survey_id", "unsubscribed", "active", "state", "rtxt"] {
            if let Some(expected) = record.get(field) {
                assert_eq!(row.get(field).unwrap_or(&Value::Null), expected, "{stream} {}: {field}", record["id"]);
            }
        }
    }
}

async fn assert_lake_is(config: &Path, truth: &BTreeMap<String, Vec<Value>>) {
    for stream in STREAMS {
        assert_table_is(stream, &rows(config, stream).await, &truth[stream]);
    }
}

fn write_config(dir: &Path, fake: &FakeSparrow) -> PathBuf {
    airbyte_manifests::write_config(dir, "sparrow", PACKAGE, &fake.config(), "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_sparrow_manifest_full_sync_then_a_sync_after_changes() {
    let fake = FakeSparrow::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake);
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
    let seen = fake.seen();
    assert!(seen.iter().all(|s| s.status == 200), "{:?}", seen.iter().filter(|s| s.status != 200).collect::<Vec<_>>());
    // One partition per configured survey, each paging 50 at a time.
    for survey in SURVEYS {
        let pages: Vec<Option<&str>> = seen
            .iter()
            .filter(|s| s.path == "/v3/responses" && param(&s.query, "survey_id") == Some(&survey.to_string()))
            .map(|s| param(&s.query, "page"))
            .collect();
        assert_eq!(
            pages,
            vec![Some("0"), Some("1"), Some("2")],
            "survey {survey}: 70 responses, 50 a page, asked from page 0"
        );
    }

    // Full refresh only (the manifest has no incremental streams): the next sync makes every
    // table the account as it is now.
    fake.touch();
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_sparrow_manifest_retries_a_429_and_a_500() {
    let fake = FakeSparrow::start().await;
    fake.fail_next("responses", Fault::RateLimited);
    fake.fail_next("contacts", Fault::ServerError);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake);
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
    let seen = fake.seen();
    for (path, status) in [("/v3/responses", 429), ("/v3/contacts", 500)] {
        let failed = seen.iter().position(|s| s.path == path && s.status == status).expect("the fault was served");
        assert!(
            seen[failed + 1..].iter().any(|s| s.path == path && s.query == seen[failed].query && s.status == 200),
            "{path}: the request answered {status} is sent again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_sparrow_manifest_sigkill_mid_sync_then_resume_equals_an_uninterrupted_run() {
    let fake = FakeSparrow::start().await;
    let reference = tempfile::tempdir().unwrap();
    let reference_config = write_config(reference.path(), &fake);
    sync(&reference_config).await;

    let crashed = tempfile::tempdir().unwrap();
    let crashed_config = write_config(crashed.path(), &fake);
    let path = crashed_config.clone();
    let killed = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(txlake_bin())
            .args(["sync", "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        // Killed at the sync's first commit, not after a time.
        let committed = BufReader::new(stderr).lines().map_while(Result::ok).any(|l| l.contains(": committed version"));
        child.kill().unwrap();
        child.wait().unwrap();
        committed
    })
    .await
    .unwrap();
    assert!(killed, "the sync committed a table before it was killed");
    sync(&crashed_config).await;
    for stream in STREAMS {
        assert_eq!(rows(&crashed_config, stream).await, rows(&reference_config, stream).await, "{stream}");
    }
}

/// Responses with their answers (`{question_id, question, answer, question_type}`), as the
/// API returns them: the manifest's schema has `answers: {type: array}` without `items`;
/// Airbyte passes the objects on, txlake keeps each answer object as its JSON text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_sparrow_manifest_reads_answers() {
    let fake = FakeSparrow::start_with(account(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake);
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
}
