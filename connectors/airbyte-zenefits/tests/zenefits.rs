//! Airbyte's `airbyte-source-zenefits` manifest (pinned in connectors/airbyte/packages.txt), run
//! UNCHANGED by `connector = "airbyte-manifest:<path>"` against an in-process fake of the Zenefits
//! platform API (https://developers.zenefits.com/docs): a Bearer token, the response envelope
//! `{"status": 200, "object": "/meta/response", "error": null, "data": {"object": "/meta/list",
//! "url": …, "next_url": …, "data": [...]}}` (records at `data.data`), `limit` (at most 100)
//! and `starting_after` paging through a full `next_url` that is JSON null on the last page (the
//! manifest's stop condition compares it with the string "null", so the stream must end on the
//! empty token), and the eleven lists the manifest reads. Every stream is full refresh.
//! Fixtures: `tests/fixtures/lists.json` (written by `generate.py`).
//! Proves: a full sync lands every record (105 people over two pages); after changes at the fake
//! the next sync's tables are the fake's records; one 429 and one 500 are retried; a sync
//! SIGKILLed mid-read and resumed ends with the tables of an uninterrupted run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::hubspot::sync;
use crate::manifest_fakes::{
    Fake, Fault, Req, Vendor, assert_same_lakes, assert_table_is, fixture, json_response, sync_killed_at, write_config,
};

const PACKAGE: &str = "airbyte-source-zenefits";
const CONNECTOR: &str = "airbyte-zenefits";
const TOKEN: &str = "zf-test-Hq71xYc4";

/// (stream, endpoint path).
const STREAMS: [(&str, &str); 11] = [
    ("people", "core/people"),
    ("employments", "core/employments"),
    ("departments", "core/departments"),
    ("locations", "core/locations"),
    ("labor_groups", "core/labor_groups"),
    ("labor_group_types", "core/labor_group_types"),
    ("custom_fields", "core/custom_fields"),
    ("custom_field_values", "core/custom_field_values"),
    ("vacation_requests", "time_off/vacation_requests"),
    ("vacation_types", "time_off/vacation_types"),
    ("time_durations", "time_attendance/time_durations"),
];

/// The Zenefits company behind the fake: endpoint path → records.
struct Zenefits {
    lists: BTreeMap<String, Vec<Value>>,
}

impl Zenefits {
    fn new() -> Self {
        Self { lists: serde_json::from_value(fixture(CONNECTOR, "lists")).unwrap() }
    }
}

fn envelope(status: StatusCode, data: Value, error: Value) -> Response {
    let body = json!({ "status": status.as_u16(), "object": "/meta/response", "data": data, "error": error });
    (status, axum::Json(body)).into_response()
}

impl Vendor for Zenefits {
    fn authorized(&self, req: &Req) -> bool {
        req.authorization() == Some(format!("Bearer {TOKEN}").as_str())
    }

    fn unauthorized(&self) -> Response {
        envelope(StatusCode::UNAUTHORIZED, Value::Null, json!("Authentication credentials were not provided."))
    }

    fn answer(&mut self, req: &Req) -> Response {
        let path = req.path.trim_start_matches('/');
        let Some(records) = self.lists.get(path) else {
            return envelope(StatusCode::NOT_FOUND, Value::Null, json!("Not found."));
        };
        let limit: usize = req.q("limit").and_then(|l| l.parse().ok()).unwrap_or(20).clamp(1, 100);
        // Records come in id order; `starting_after` is the last id of the previous page.
        let after = req.q("starting_after");
        let rest: Vec<&Value> =
            records.iter().filter(|r| after.is_none_or(|a| r["id"].as_str().unwrap() > a)).collect();
        let page: Vec<&Value> = rest.iter().take(limit).copied().collect();
        let next_url = match (rest.len() > limit, page.last()) {
            (true, Some(last)) => json!(format!("{}/{path}?starting_after={}", req.base, last["id"].as_str().unwrap())),
            _ => Value::Null,
        };
        json_response(json!({
            "status": 200,
            "object": "/meta/response",
            "error": null,
            "data": { "object": "/meta/list", "url": format!("/{path}"), "next_url": next_url, "data": page },
        }))
    }
}

fn config(fake: &Fake<Zenefits>) -> Value {
    json!({ "token": TOKEN, "base_url": format!("{}/", fake.url) })
}

fn setup(fake: &Fake<Zenefits>, dir: &Path) -> PathBuf {
    write_config(dir, "hris", PACKAGE, &config(fake), "")
}

async fn assert_tables_are_the_fake(fake: &Fake<Zenefits>, dir: &Path) {
    for (stream, path) in STREAMS {
        let truth = fake.with(|z| z.lists[path].clone());
        let fields: &[&str] = match stream {
            "people" => &["id", "status", "work_email", "department.url"],
            "employments" => &["id", "hire_date", "termination_date", "person.url"],
            _ => &["id", "url"],
        };
        assert_table_is(dir, &format!("hris.{stream}"), &truth, fields).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zenefits_manifest_full_sync_then_changes_match_the_api() {
    let fake = Fake::start(Zenefits::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    let landed = sync(&config, &[]).await;
    assert_eq!(landed[&("hris".to_string(), "people".to_string())], 105);
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let seen = fake.seen();
    let pages: Vec<_> = seen.iter().filter(|s| s.path == "/core/people").collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0].q("limit"), Some("100"));
    assert_eq!(pages[1].q("starting_after"), Some("1099"), "the second page follows next_url");

    fake.with(|z| {
        let people = z.lists.get_mut("core/people").unwrap();
        people[3]["status"] = json!("terminated");
        let employments = z.lists.get_mut("core/employments").unwrap();
        employments[3]["termination_date"] = json!("2024-06-30");
        employments[3]["is_active"] = json!(false);
        let mut hire = employments[0].clone();
        hire["id"] = json!("5105");
        hire["hire_date"] = json!("2024-07-01");
        employments.push(hire);
    });
    let landed = sync(&config, &[]).await;
    assert_eq!(landed[&("hris".to_string(), "employments".to_string())], 106);
    assert_tables_are_the_fake(&fake, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zenefits_manifest_retries_a_429_and_a_500() {
    let fake = Fake::start(Zenefits::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    fake.fail_next("/core/people", Fault::RateLimited);
    fake.fail_next("/core/departments", Fault::ServerError);
    sync(&config, &[]).await;
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let statuses =
        |path: &str| -> Vec<u16> { fake.seen().iter().filter(|s| s.path == path).map(|s| s.status).collect() };
    assert_eq!(statuses("/core/people"), [429, 200, 200]);
    assert_eq!(statuses("/core/departments"), [500, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zenefits_manifest_sync_killed_mid_read_resumes_to_the_same_tables() {
    let fake = Fake::start(Zenefits::new()).await;
    let reference = tempfile::tempdir().unwrap();
    sync(&setup(&fake, reference.path()), &[]).await;

    let crashed = tempfile::tempdir().unwrap();
    let config = setup(&fake, crashed.path());
    // Killed once people are committed, while the departments request is unanswered.
    fake.hold("/core/departments");
    let log = sync_killed_at(&config, "people: committed version", fake.held()).await;
    assert!(!log.iter().any(|l| l.contains("departments: committed")), "{log:?}");
    fake.release();
    sync(&config, &[]).await;
    assert_same_lakes(reference.path(), crashed.path()).await;
}
