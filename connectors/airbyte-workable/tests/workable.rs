//! Airbyte's `airbyte-source-workable` manifest (pinned in connectors/airbyte/packages.txt), run
//! UNCHANGED by `connector = "airbyte-manifest:<path>"` against an in-process fake of Workable's
//! SPI v3 (https://workable.readme.io/reference): a Bearer API token, `limit` and `since_id`
//! paging with a full `paging.next` URL that is left out of the last page (the manifest stops on
//! `'next' not in response['paging']` and follows the URL as a RequestPath), `created_after`
//! in ISO 8601 basic or extended form, and the jobs, candidates, stages and recruiters lists.
//! Every stream is full refresh. Fixtures: `tests/fixtures/*.json` (written by `generate.py`).
//! Proves: a full sync lands every record (130 candidates over two pages); after changes at
//! the fake the next sync's tables are the fake's records; one 429 and one 500 are retried; a
//! sync SIGKILLed mid-read and resumed ends with the tables of an uninterrupted run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::hubspot::sync;
use crate::manifest_fakes::{
    Fake, Fault, Req, Vendor, assert_same_lakes, assert_table_is, fixture, json_response, sync_killed_at, write_config,
};

const PACKAGE: &str = "airbyte-source-workable";
const CONNECTOR: &str = "airbyte-workable";
const TOKEN: &str = "wk-test-7cP0sVb2";
const STREAMS: [&str; 4] = ["jobs", "candidates", "stages", "recruiters"];

/// The Workable account behind the fake: stream → records.
struct Workable {
    lists: BTreeMap<String, Vec<Value>>,
}

impl Workable {
    fn new() -> Self {
        let lists =
            STREAMS.iter().map(|s| (s.to_string(), fixture(CONNECTOR, s)[*s].as_array().unwrap().clone())).collect();
        Self { lists }
    }

    /// What the manifest should land for `stream` with the connection's start date.
    fn truth(&self, stream: &str) -> Vec<Value> {
        let start = parse("20240101T000000Z").unwrap();
        self.lists[stream]
            .iter()
            .filter(|r| r["created_at"].as_str().and_then(parse).is_none_or(|t| t > start))
            .cloned()
            .collect()
    }
}

/// An ISO 8601 timestamp in basic (`20240101T000000Z`) or extended form.
fn parse(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|| chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc()))
}

fn workable_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

impl Vendor for Workable {
    fn authorized(&self, req: &Req) -> bool {
        req.authorization() == Some(format!("Bearer {TOKEN}").as_str())
    }

    fn unauthorized(&self) -> Response {
        workable_error(StatusCode::UNAUTHORIZED, "Not authorized")
    }

    fn answer(&mut self, req: &Req) -> Response {
        let Some(stream) = req.path.strip_prefix("/spi/v3/") else {
            return workable_error(StatusCode::NOT_FOUND, "Not found");
        };
        let Some(records) = self.lists.get(stream) else {
            return workable_error(StatusCode::NOT_FOUND, "Not found");
        };
        // Stages and recruiters are short lists, documented without paging or filters.
        if matches!(stream, "stages" | "recruiters") {
            return json_response(json!({ stream: records }));
        }
        let created_after = match req.q("created_after").map(parse) {
            Some(None) => return workable_error(StatusCode::UNPROCESSABLE_ENTITY, "created_after is not a timestamp"),
            Some(Some(t)) => Some(t),
            None => None,
        };
        let limit: usize = req.q("limit").and_then(|l| l.parse().ok()).unwrap_or(50).clamp(1, 100);
        let mut matching: Vec<&Value> = records
            .iter()
            .filter(|r| created_after.is_none_or(|after| parse(r["created_at"].as_str().unwrap()).unwrap() > after))
            .filter(|r| req.q("since_id").is_none_or(|since| r["id"].as_str().unwrap() >= since))
            .collect();
        matching.sort_by_key(|r| r["id"].as_str().unwrap().to_string());
        let page: Vec<&Value> = matching.iter().take(limit).copied().collect();
        let mut body = json!({ stream: page });
        if let Some(next) = matching.get(limit) {
            let mut query: Vec<String> =
                vec![format!("limit={limit}"), format!("since_id={}", next["id"].as_str().unwrap())];
            if let Some(after) = req.q("created_after") {
                query.push(format!("created_after={after}"));
            }
            body["paging"] = json!({ "next": format!("{}{}?{}", req.base, req.path, query.join("&")) });
        }
        json_response(body)
    }
}

fn config(fake: &Fake<Workable>) -> Value {
    json!({
        "api_key": TOKEN,
        "account_subdomain": "acme",
        "start_date": "20240101T000000Z",
        "base_url": fake.url,
    })
}

fn setup(fake: &Fake<Workable>, dir: &Path) -> PathBuf {
    write_config(dir, "ats", PACKAGE, &config(fake), "")
}

async fn assert_tables_are_the_fake(fake: &Fake<Workable>, dir: &Path) {
    for stream in STREAMS {
        let truth = fake.with(|w| w.truth(stream));
        let fields: &[&str] = match stream {
            "jobs" => &["id", "state", "title", "location.city"],
            "candidates" => &["id", "name", "email"],
            "stages" => &["slug", "name"],
            _ => &["id", "email"],
        };
        assert_table_is(dir, &format!("ats.{stream}"), &truth, fields).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workable_manifest_full_sync_then_changes_match_the_api() {
    let fake = Fake::start(Workable::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    let landed = sync(&config, &[]).await;
    assert_eq!(landed[&("ats".to_string(), "candidates".to_string())], 130);
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let seen = fake.seen();
    let pages: Vec<_> = seen.iter().filter(|s| s.path == "/spi/v3/candidates").collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!((pages[0].q("limit"), pages[0].q("created_after")), (Some("100"), Some("20240101T000000Z")));
    assert!(pages[1].q("since_id").is_some(), "the second page follows paging.next: {:?}", pages[1]);

    fake.with(|w| {
        let jobs = w.lists.get_mut("jobs").unwrap();
        jobs[0]["state"] = json!("closed");
        let mut late = w.lists["candidates"][0].clone();
        late["id"] = json!("1a2b3cff");
        late["name"] = json!("Late Applicant");
        late["created_at"] = json!("2024-07-01T08:00:00Z");
        w.lists.get_mut("candidates").unwrap().push(late);
    });
    let landed = sync(&config, &[]).await;
    assert_eq!(landed[&("ats".to_string(), "candidates".to_string())], 131);
    assert_tables_are_the_fake(&fake, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workable_manifest_retries_a_429_and_a_500() {
    let fake = Fake::start(Workable::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    fake.fail_next("/spi/v3/candidates", Fault::RateLimited);
    fake.fail_next("/spi/v3/jobs", Fault::ServerError);
    sync(&config, &[]).await;
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let statuses =
        |path: &str| -> Vec<u16> { fake.seen().iter().filter(|s| s.path == path).map(|s| s.status).collect() };
    assert_eq!(statuses("/spi/v3/candidates"), [429, 200, 200]);
    assert_eq!(statuses("/spi/v3/jobs"), [500, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workable_manifest_sync_killed_mid_read_resumes_to_the_same_tables() {
    let fake = Fake::start(Workable::new()).await;
    let reference = tempfile::tempdir().unwrap();
    sync(&setup(&fake, reference.path()), &[]).await;

    let crashed = tempfile::tempdir().unwrap();
    let config = setup(&fake, crashed.path());
    // Killed once the jobs are committed, while the candidates' first page is unanswered.
    fake.hold("/spi/v3/candidates");
    let log = sync_killed_at(&config, "jobs: committed version", fake.held()).await;
    assert!(!log.iter().any(|l| l.contains("candidates: committed")), "{log:?}");
    fake.release();
    sync(&config, &[]).await;
    assert_same_lakes(reference.path(), crashed.path()).await;
}
