//! Airbyte's own `airbyte-source-copper` manifest (PyPI 0.3.16), run UNCHANGED by txlake's
//! engine (`connector = "airbyte-manifest:…"`) against an in-process fake of Copper's
//! Developer API written from its public documentation (developer.copper.com):
//! - auth: the headers `X-PW-AccessToken` (the API key), `X-PW-Application: developer_api` and
//!   `X-PW-UserEmail` (the key owner's e-mail); 401 otherwise;
//! - `POST /developer_api/v1/{people,companies,opportunities,projects}/search`: a JSON array of
//!   records; `page_number` (from 1) and `page_size` (default 20, at most 200), sorted by
//!   `sort_by` (default the name); the documentation names them body fields, the manifest sends
//!   them as query parameters, so the fake reads either (body first);
//! - a 429 when over the rate limit (Copper allows 180 requests a minute).
//!
//! Records are the documentation's example records (`tests/fixtures/*.json`), repeated with
//! fresh ids, names and e-mails into a CRM big enough that people and opportunities page
//! (the manifest asks 200 a page).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::airbyte_manifests::{self, query, sync};
use crate::support::txlake_bin;

const PACKAGE: &str = "airbyte-source-copper";
const API_KEY: &str = "cu-test-7f3b9d2e";
const USER_EMAIL: &str = "admin@crm.example";
const STREAMS: [&str; 4] = ["people", "companies", "opportunities", "projects"];
const PEOPLE: usize = 450;
/// Companies; person i works at company i % COMPANIES.
pub(crate) const COMPANIES: usize = 60;
const OPPORTUNITIES: usize = 230;
const PROJECTS: usize = 12;
/// 2026-01-05T00:00:00Z: the CRM's records are created from here on.
const START: i64 = 1_767_571_200;

fn fixture(name: &str) -> Value {
    let path = crate::hubspot::root().join("connectors/airbyte-copper/tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()[0].clone()
}

/// What the fake does to the next request of a path instead of answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    page: (usize, usize),
    status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<String, Vec<Value>>,
    faults: VecDeque<(String, Fault)>,
    seen: Vec<Seen>,
}

/// The fake Copper API on 127.0.0.1.
#[derive(Debug, Clone)]
pub(crate) struct FakeCopper {
    url: String,
    inner: Arc<Mutex<Inner>>,
}

/// Company c (and its people) is in COUNTRIES[c % 5].
pub(crate) const COUNTRIES: [&str; 5] = ["US", "DE", "GB", "FR", "BR"];

/// The CRM. `complete` keeps the documentation's custom field values, people's social
/// profiles and companies' phone numbers; without it those lists are empty (an account that
/// defines no custom fields and records no socials or company phones), because the manifest's
/// schema declares them as arrays without `items` and txlake rejects objects there (see
/// [`copper_manifest_reads_custom_fields_socials_and_company_phones`]).
fn crm(complete: bool) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let company_t = fixture("companies");
    for i in 0..COMPANIES {
        let mut c = company_t.clone();
        c["id"] = json!(13_000_000 + i);
        c["name"] = json!(format!("Company {i:02}"));
        c["email_domain"] = json!(format!("company{i:02}.example"));
        c["address"]["country"] = json!(COUNTRIES[i % 5]);
        c["date_created"] = json!(START + i as i64 * 86_400);
        c["date_modified"] = json!(START + i as i64 * 86_400 + 3600);
        out.entry("companies".into()).or_default().push(c);
    }
    let person_t = fixture("people");
    for i in 0..PEOPLE {
        let mut p = person_t.clone();
        let company = i % COMPANIES;
        p["id"] = json!(27_000_000 + i);
        p["first_name"] = json!(format!("Person{i:03}"));
        p["last_name"] = json!(format!("Family{}", i % 17));
        p["name"] = json!(format!("Person{i:03} Family{}", i % 17));
        p["company_id"] = json!(13_000_000 + company);
        p["company_name"] = json!(format!("Company {company:02}"));
        p["emails"] = json!([{ "email": format!("Person{i:03}@Company{company:02}.example "), "category": "work" }]);
        p["address"]["country"] = json!(COUNTRIES[company % 5]);
        p["details"] = if i % 4 == 0 { json!("Met at the spring fair.") } else { Value::Null };
        p["date_created"] = json!(START + i as i64 * 7200);
        p["date_modified"] = json!(START + i as i64 * 7200 + 600);
        out.entry("people".into()).or_default().push(p);
    }
    let opportunity_t = fixture("opportunities");
    for i in 0..OPPORTUNITIES {
        let mut o = opportunity_t.clone();
        let person = (i * 2) % PEOPLE;
        let company = person % COMPANIES;
        let status = ["Won", "Open", "Lost", "Won", "Abandoned"][i % 5];
        o["id"] = json!(2_800_000 + i);
        o["name"] = json!(format!("{} seats", 5 + i % 40));
        o["status"] = json!(status);
        o["primary_contact_id"] = json!(27_000_000 + person);
        o["company_id"] = json!(13_000_000 + company);
        o["company_name"] = json!(format!("Company {company:02}"));
        o["monetary_value"] = json!(1000 * (5 + i % 40));
        o["close_date"] = json!(format!("{}/{}/2026", 1 + i % 11, 1 + i % 28));
        o["date_created"] = json!(START + i as i64 * 3600);
        o["date_modified"] = json!(START + i as i64 * 3600 + 60);
        out.entry("opportunities".into()).or_default().push(o);
    }
    let project_t = fixture("projects");
    for i in 0..PROJECTS {
        let mut p = project_t.clone();
        p["id"] = json!(208_000 + i);
        p["name"] = json!(format!("Rollout {i:02}"));
        p["status"] = json!(if i % 3 == 0 { "Completed" } else { "Open" });
        out.entry("projects".into()).or_default().push(p);
    }
    if !complete {
        for (stream, lists) in [
            ("people", &["custom_fields", "socials"][..]),
            ("companies", &["custom_fields", "phone_numbers"][..]),
            ("opportunities", &["custom_fields"][..]),
            ("projects", &["custom_fields"][..]),
        ] {
            for record in out.get_mut(stream).unwrap() {
                for list in lists {
                    record[*list] = json!([]);
                }
            }
        }
    }
    out
}

/// The records the manifest reads, in the API's order, exactly as Airbyte's CDK reads them:
/// `PageIncrement` with the default `start_from_page: 0` asks the first page without a number
/// (txlake's translation sends `page_number=0`, which Copper answers as page 1), then
/// `start_from_page + 1` = 1: against Copper's 1-based pages the first full page is read
/// twice. A full-refresh table therefore holds its first 200 records twice, under Airbyte
/// and under txlake alike: the manifest's bug (it needs `start_from_page: 1`), kept here so the
/// test shows the manifest running unchanged.
fn as_airbyte_reads(stream: &str, records: Vec<Value>) -> Vec<Value> {
    let sort_by = if stream == "people" { "first_name" } else { "name" };
    let mut sorted = records;
    sorted.sort_by(|a, b| {
        a[sort_by].to_string().cmp(&b[sort_by].to_string()).then(a["id"].as_i64().cmp(&b["id"].as_i64()))
    });
    const PAGE: usize = 200;
    if sorted.len() < PAGE {
        return sorted;
    }
    let mut out: Vec<Value> = sorted[..PAGE].to_vec();
    out.extend(sorted);
    out
}

fn authorized(headers: &HeaderMap) -> bool {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    h("x-pw-accesstoken") == Some(API_KEY)
        && h("x-pw-application") == Some("developer_api")
        && h("x-pw-useremail") == Some(USER_EMAIL)
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://fake{uri}")).ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

type AppState = Arc<Mutex<Inner>>;

async fn handle(
    axum::extract::State(inner): axum::extract::State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body: Value = if body.is_empty() { json!({}) } else { serde_json::from_slice(&body).unwrap_or(Value::Null) };
    // The documented body field, else the query parameter the manifest sends.
    let number = |name: &str, default: usize| -> usize {
        body.get(name)
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .or_else(|| query_param(&uri, name).and_then(|v| v.parse().ok()))
            .unwrap_or(default)
    };
    // The raw page number asked for; Copper's pages start at 1, and 0 (which the manifest's
    // paginator sends first, see `as_airbyte_reads`) is answered like a missing number: page 1.
    let page = (number("page_number", 1), number("page_size", 20).clamp(1, 200));
    let mut guard = inner.lock().unwrap();
    let response = answer(&mut guard, &method, &headers, &path, &body, page);
    guard.seen.push(Seen { path, page, status: response.status().as_u16() });
    response
}

fn answer(
    inner: &mut Inner,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    body: &Value,
    page: (usize, usize),
) -> Response {
    if !authorized(headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({ "success": false, "status": 401, "message": "API Key, email, or application is invalid" }),
            ),
        )
            .into_response();
    }
    if let Some(at) = inner.faults.iter().position(|(p, _)| p == path) {
        let (_, fault) = inner.faults.remove(at).unwrap();
        return match fault {
            Fault::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({ "success": false, "status": 429, "message": "Rate limit exceeded" })),
            )
                .into_response(),
            Fault::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ "success": false, "status": 500, "message": "Internal error" })),
            )
                .into_response(),
        };
    }
    let Some(stream) = path.strip_prefix("/developer_api/v1/").and_then(|p| p.strip_suffix("/search")) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "success": false, "status": 404, "message": "Resource not found" })),
        )
            .into_response();
    };
    if *method != Method::POST || body.is_null() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "success": false, "status": 400, "message": "search takes a POST with a JSON body" })),
        )
            .into_response();
    }
    let Some(records) = inner.records.get(stream) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "success": false, "status": 404, "message": "Resource not found" })),
        )
            .into_response();
    };
    let sort_by =
        body.get("sort_by").and_then(Value::as_str).unwrap_or(if stream == "people" { "first_name" } else { "name" });
    let mut sorted: Vec<&Value> = records.iter().collect();
    sorted.sort_by(|a, b| {
        a[sort_by].to_string().cmp(&b[sort_by].to_string()).then(a["id"].as_i64().cmp(&b["id"].as_i64()))
    });
    let (number, size) = page;
    let out: Vec<Value> = sorted.into_iter().skip((number.max(1) - 1) * size).take(size).cloned().collect();
    axum::Json(Value::Array(out)).into_response()
}

impl FakeCopper {
    /// Starts the fake with the CRM whose object lists are empty (see [`crm`]).
    pub(crate) async fn start() -> Self {
        Self::start_with(crm(false)).await
    }

    async fn start_with(records: BTreeMap<String, Vec<Value>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner { records, ..Inner::default() }));
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// The connection's config: the manifest's spec plus `base_url` pointing at the fake.
    pub(crate) fn config(&self) -> Value {
        json!({ "api_key": API_KEY, "user_email": USER_EMAIL, "base_url": format!("{}/developer_api/v1/", self.url) })
    }

    fn fail_next(&self, stream: &str, fault: Fault) {
        self.inner.lock().unwrap().faults.push_back((format!("/developer_api/v1/{stream}/search"), fault));
    }

    fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// The records as the API holds them now.
    fn records(&self) -> BTreeMap<String, Vec<Value>> {
        self.inner.lock().unwrap().records.clone()
    }

    /// What the manifest reads from the API now, stream by stream (see [`as_airbyte_reads`]).
    fn truth(&self) -> BTreeMap<String, Vec<Value>> {
        self.records()
            .into_iter()
            .map(|(stream, records)| {
                let reads = as_airbyte_reads(&stream, records);
                (stream, reads)
            })
            .collect()
    }

    /// A salesperson's afternoon: a contact renamed, a deal won, a new lead, a company removed.
    fn touch(&self) {
        let now = chrono::Utc::now().timestamp();
        let mut inner = self.inner.lock().unwrap();
        let people = inner.records.get_mut("people").unwrap();
        people[3]["last_name"] = json!("Okafor");
        people[3]["name"] = json!("Person003 Okafor");
        people[3]["date_modified"] = json!(now);
        let mut lead = people[0].clone();
        lead["id"] = json!(27_999_999);
        lead["first_name"] = json!("Aaron");
        lead["name"] = json!("Aaron Newlead");
        lead["emails"] = json!([{ "email": "aaron@newlead.example", "category": "work" }]);
        lead["date_created"] = json!(now);
        people.push(lead);
        let opportunities = inner.records.get_mut("opportunities").unwrap();
        let open = opportunities.iter_mut().find(|o| o["status"] == "Open").unwrap();
        open["status"] = json!("Won");
        open["date_modified"] = json!(now);
        let companies = inner.records.get_mut("companies").unwrap();
        companies.retain(|c| c["id"] != 13_000_007);
    }
}

async fn rows(config: &Path, stream: &str) -> Vec<Value> {
    query(config, &format!("SELECT * FROM crm.{stream} ORDER BY id")).await
}

/// The table holds exactly the API's records (by id), with the API's values in the columns
/// the schema names.
fn assert_table_is(stream: &str, table: &[Value], truth: &[Value]) {
    let mut want: Vec<&Value> = truth.iter().collect();
    want.sort_by_key(|r| r["id"].as_i64());
    let got_ids: Vec<Option<i64>> = table.iter().map(|r| r["id"].as_i64()).collect();
    let want_ids: Vec<Option<i64>> = want.iter().map(|r| r["id"].as_i64()).collect();
    assert_eq!(got_ids, want_ids, "{stream}: the records the manifest reads, no more, no fewer");
    for (row, record) in table.iter().zip(want) {
        for field in ["name", "status", "monetary_value", "date_created", "date_modified", "email_domain"] {
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

fn write_config(dir: &Path, fake: &FakeCopper, extra: &str) -> PathBuf {
    airbyte_manifests::write_config(dir, "crm", PACKAGE, &fake.config(), extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copper_manifest_full_sync_then_a_sync_after_changes() {
    let fake = FakeCopper::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
    let seen = fake.seen();
    assert!(seen.iter().all(|s| s.status == 200));
    // 450 people at 200 a page: page 0 (answered as 1), 1, 2 and 3 (the short one ends the
    // stream), as Airbyte's PageIncrement asks them.
    let people: Vec<(usize, usize)> = seen.iter().filter(|s| s.path.contains("/people/")).map(|s| s.page).collect();
    assert_eq!(people, vec![(0, 200), (1, 200), (2, 200), (3, 200)]);

    // Copper's search has no modified-since filter in this manifest: every sync reads
    // everything, and the tables become the CRM as it is now (the removed company gone, the
    // renamed contact renamed, nothing twice).
    fake.touch();
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copper_manifest_retries_a_429_and_a_500() {
    let fake = FakeCopper::start().await;
    fake.fail_next("people", Fault::RateLimited);
    fake.fail_next("opportunities", Fault::ServerError);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
    let seen = fake.seen();
    for (stream, status) in [("people", 429), ("opportunities", 500)] {
        let failed =
            seen.iter().position(|s| s.path.contains(stream) && s.status == status).expect("the fault was served");
        assert!(
            seen[failed + 1..]
                .iter()
                .any(|s| s.path == seen[failed].path && s.page == seen[failed].page && s.status == 200),
            "{stream}: the page answered {status} is asked again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copper_manifest_sigkill_mid_sync_then_resume_equals_an_uninterrupted_run() {
    let fake = FakeCopper::start().await;
    let reference = tempfile::tempdir().unwrap();
    let reference_config = write_config(reference.path(), &fake, "");
    sync(&reference_config).await;

    let crashed = tempfile::tempdir().unwrap();
    let crashed_config = write_config(crashed.path(), &fake, "");
    let path = crashed_config.clone();
    // Killed once the first table committed, while others are still being read.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copper_people_and_won_opportunities_fill_customers_and_revenue() {
    let fake = FakeCopper::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "models = \"airbyte-copper\"");
    sync(&config).await;
    let truth = fake.records();
    let won: Vec<&Value> = truth["opportunities"].iter().filter(|o| o["status"] == "Won").collect();
    let buyers: std::collections::BTreeSet<i64> =
        won.iter().map(|o| o["primary_contact_id"].as_i64().unwrap()).collect();

    let customers = query(
        &config,
        "SELECT count(*) AS n, count(DISTINCT person_key) AS keys, sum(CASE WHEN lifecycle_stage = 'customer' THEN 1 ELSE 0 END) AS buying FROM tx.customers",
    )
    .await;
    assert_eq!(customers, vec![json!({ "n": PEOPLE, "keys": PEOPLE, "buying": buyers.len() })]);
    // The e-mail is trimmed and lower-cased before hashing, as every connector does.
    let jane = query(&config, "SELECT person_key, country FROM tx.customers WHERE customer_key = 'crm:27000000'").await;
    // sha256("person000@company00.example"), computed apart from txlake.
    let expected_key = "dfe36c993fecff5b3843b030e4c53cc7a25d5074fdc8d1073bbc8fa0e48c449e";
    assert_eq!(jane, vec![json!({ "person_key": expected_key, "country": "US" })]);

    let revenue = query(
        &config,
        "SELECT count(*) AS n, sum(amount) AS total, min(kind) AS kind, min(currency) AS currency, count(customer_key) AS paid_by FROM tx.revenue",
    )
    .await;
    let total: i64 = won.iter().map(|o| o["monetary_value"].as_i64().unwrap()).sum();
    assert_eq!(revenue[0]["n"], json!(won.len()));
    assert_eq!(revenue[0]["total"].as_f64(), Some(total as f64));
    assert_eq!(revenue[0]["kind"], json!("deal"));
    // Copper's monetary_unit is not in the manifest's schema, so txlake keeps no such column.
    assert_eq!(revenue[0]["currency"], Value::Null);
    assert_eq!(revenue[0]["paid_by"], json!(won.len()), "every won deal names its buyer");
}

/// Copper's documented records as they are: custom field values (`{custom_field_definition_id,
/// value}`), people's socials and companies' phone numbers are objects in lists the manifest's
/// schema declares without `items` (`type: array` with `properties`). Airbyte passes them on;
/// txlake keeps each such object as its JSON text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copper_manifest_reads_custom_fields_socials_and_company_phones() {
    let fake = FakeCopper::start_with(crm(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    sync(&config).await;
    assert_lake_is(&config, &fake.truth()).await;
}
