//! Airbyte's `airbyte-source-northpass-lms` manifest (pinned in connectors/airbyte/packages.txt;
//! manifest-only: the wheel has no components.py), run UNCHANGED by
//! `connector = "airbyte-manifest:<path>"` against an in-process fake of Northpass' API v2
//! (https://developers.northpass.com/): the `X-Api-Key` header, JSON:API resources under
//! `data`, `page` paging (1-based; 0 reads as the first page), people, courses and each course's
//! enrollments. The manifest's paginator is an OffsetIncrement injected as `page` (it sends
//! `page=0`, then `page=<records so far>`, and stops on an empty page), so the fixtures keep
//! every list within one page, where that paging reads each record once (see README.md).
//! Every stream is full refresh. Fixtures: `tests/fixtures/*.json` (written by `generate.py`).
//! Proves: a full sync lands every record with the manifest's AddFields/RemoveFields applied;
//! after changes the next sync's tables are the fake's records; one 429 (the manifest's constant
//! 5 s backoff) and one 500 are retried; a sync SIGKILLed mid-read and resumed ends with the
//! tables of an uninterrupted run; models/learning.sql fills tx.learning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::hubspot::{query, sync};
use crate::manifest_fakes::{
    Fake, Fault, Req, Vendor, assert_same_lakes, assert_table_is, fixture, json_response, sync_killed_at, write_config,
};

const PACKAGE: &str = "airbyte-source-northpass-lms";
const CONNECTOR: &str = "airbyte-northpass-lms";
const API_KEY: &str = "np-test-Vb84kQz1";
/// Northpass' default page size.
const PAGE: usize = 20;

/// The Northpass school behind the fake.
struct Northpass {
    people: Vec<Value>,
    courses: Vec<Value>,
    /// course id → its enrollments.
    enrollments: BTreeMap<String, Vec<Value>>,
}

impl Northpass {
    fn new() -> Self {
        Self {
            people: fixture(CONNECTOR, "people")["data"].as_array().unwrap().clone(),
            courses: fixture(CONNECTOR, "courses")["data"].as_array().unwrap().clone(),
            enrollments: serde_json::from_value(fixture(CONNECTOR, "enrollments")).unwrap(),
        }
    }

    /// The records of `stream` as the manifest lands them: `attributes` lifted to the top.
    fn truth(&self, stream: &str) -> Vec<Value> {
        let records: Vec<Value> = match stream {
            "people" => self.people.clone(),
            "courses" => self.courses.clone(),
            _ => self.enrollments.values().flatten().cloned().collect(),
        };
        records
            .into_iter()
            .map(|mut r| {
                let attributes = r.as_object_mut().unwrap().remove("attributes").unwrap();
                for (k, v) in attributes.as_object().unwrap() {
                    r[k] = v.clone();
                }
                r
            })
            .collect()
    }
}

fn northpass_error(status: StatusCode, detail: &str) -> Response {
    (status, axum::Json(json!({ "errors": [{ "status": status.as_u16().to_string(), "detail": detail }] })))
        .into_response()
}

/// One page of `items` by `page` (1-based; 0 or absent is the first).
fn paged(req: &Req, items: &[Value]) -> Response {
    let page: usize = req.q("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let slice: Vec<&Value> = items.iter().skip((page - 1) * PAGE).take(PAGE).collect();
    let mut links = json!({ "self": format!("{}{}?page={page}", req.base, req.path) });
    if page * PAGE < items.len() {
        links["next"] = json!(format!("{}{}?page={}", req.base, req.path, page + 1));
    }
    json_response(json!({ "data": slice, "links": links }))
}

impl Vendor for Northpass {
    fn authorized(&self, req: &Req) -> bool {
        req.headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(API_KEY)
    }

    fn unauthorized(&self) -> Response {
        northpass_error(StatusCode::UNAUTHORIZED, "Invalid API key")
    }

    fn answer(&mut self, req: &Req) -> Response {
        let parts: Vec<&str> = req.path.trim_start_matches("/v2/").split('/').collect();
        match parts.as_slice() {
            ["people"] => paged(req, &self.people),
            ["courses"] => paged(req, &self.courses),
            ["courses", id, "enrollments"] => match self.enrollments.get(*id) {
                Some(rows) => paged(req, rows),
                None => northpass_error(StatusCode::NOT_FOUND, "Course not found"),
            },
            _ => northpass_error(StatusCode::NOT_FOUND, "Not found"),
        }
    }
}

const STREAMS: [&str; 3] = ["people", "courses", "course_enrollments"];

fn config(fake: &Fake<Northpass>) -> Value {
    json!({ "api_key": API_KEY, "base_url": format!("{}/v2", fake.url) })
}

fn setup(fake: &Fake<Northpass>, dir: &Path) -> PathBuf {
    write_config(dir, "lms", PACKAGE, &config(fake), &format!("models = \"{CONNECTOR}\""))
}

async fn assert_tables_are_the_fake(fake: &Fake<Northpass>, dir: &Path) {
    for stream in STREAMS {
        let truth = fake.with(|n| n.truth(stream));
        let fields: &[&str] = match stream {
            "people" => &["id", "email", "full_name", "activated_at"],
            "courses" => &["id", "name", "status"],
            _ => &["id", "person_id", "course_id", "progress"],
        };
        assert_table_is(dir, &format!("lms.{stream}"), &truth, fields).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn northpass_manifest_full_sync_then_changes_match_the_api() {
    let fake = Fake::start(Northpass::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    sync(&config, &[]).await;
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let people = crate::manifest_fakes::table(dir.path(), "lms.people").await;
    assert!(people.iter().all(|p| p.get("attributes").is_none()), "RemoveFields drops attributes: {people:?}");
    let seen = fake.seen();
    let pages: Vec<Option<&str>> = seen.iter().filter(|s| s.path == "/v2/people").map(|s| s.q("page")).collect();
    assert_eq!(pages, [Some("0"), Some("6")], "the offset of the records so far, injected as `page`");

    fake.with(|n| {
        let rows = n.enrollments.values_mut().next().unwrap();
        rows[1]["attributes"]["progress"] = json!(100.0);
        n.people[2]["attributes"]["email"] = json!("sam.reyes@newdomain.example");
    });
    sync(&config, &[]).await;
    assert_tables_are_the_fake(&fake, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn northpass_manifest_retries_a_429_and_a_500() {
    let fake = Fake::start(Northpass::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    fake.fail_next("/v2/people", Fault::RateLimited);
    fake.fail_next("/v2/courses", Fault::ServerError);
    sync(&config, &[]).await;
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let statuses =
        |path: &str| -> Vec<u16> { fake.seen().iter().filter(|s| s.path == path).map(|s| s.status).collect() };
    assert_eq!(statuses("/v2/people")[..2], [429, 200]);
    assert_eq!(statuses("/v2/courses")[..2], [500, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn northpass_manifest_sync_killed_mid_read_resumes_to_the_same_tables() {
    let fake = Fake::start(Northpass::new()).await;
    let reference = tempfile::tempdir().unwrap();
    sync(&setup(&fake, reference.path()), &[]).await;

    let crashed = tempfile::tempdir().unwrap();
    let config = setup(&fake, crashed.path());
    // Killed once people are committed, while a course's enrollments are unanswered.
    let course = fake.with(|n| n.courses[2]["id"].as_str().unwrap().to_string());
    fake.hold(&format!("/v2/courses/{course}/enrollments"));
    let log = sync_killed_at(&config, "people: committed version", fake.held()).await;
    assert!(!log.iter().any(|l| l.contains("course_enrollments: committed")), "{log:?}");
    fake.release();
    sync(&config, &[]).await;
    assert_same_lakes(reference.path(), crashed.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn northpass_model_fills_learning() {
    let fake = Fake::start(Northpass::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    sync(&config, &[]).await;
    let learning = query(
        &config,
        "SELECT course_name, status, count(*) AS n FROM tx.learning GROUP BY course_name, status ORDER BY course_name, status",
    )
    .await;
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    let names: BTreeMap<String, String> = fake.with(|n| {
        n.courses
            .iter()
            .map(|c| (c["id"].as_str().unwrap().into(), c["attributes"]["name"].as_str().unwrap().into()))
            .collect()
    });
    for e in fake.with(|n| n.truth("course_enrollments")) {
        let status = if e["progress"].as_f64().unwrap() >= 100.0 { "completed" } else { "enrolled" };
        *expected.entry((names[e["course_id"].as_str().unwrap()].clone(), status.into())).or_default() += 1;
    }
    let expected: Vec<Value> = expected
        .into_iter()
        .map(|((course, status), n)| json!({ "course_name": course, "status": status, "n": n }))
        .collect();
    assert_eq!(learning, expected);
}
