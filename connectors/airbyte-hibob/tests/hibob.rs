//! Airbyte's `airbyte-source-hibob` manifest (pinned in connectors/airbyte/packages.txt), run
//! UNCHANGED by `connector = "airbyte-manifest:<path>"` against an in-process fake of Bob's API
//! (https://apidocs.hibob.com/) as the manifest calls it: `GET /v1/profiles` (the active
//! employees' profiles) and `GET /v1/payroll/history` (every employee with the lifecycle and
//! payroll sections), Basic auth with the service user's ID and token, `{"employees": [...]}`
//! answers that are not paginated (Bob documents these reads without pagination: the
//! manifest's `limit` and `cursor` are ignored and no `next_cursor` is returned, so its
//! `{{ response.get('next_cursor', {}) }}` must end the stream after one page). Both streams are
//! full refresh. Fixtures: `tests/fixtures/*.json` (written by `generate.py`).
//! Proves: a full sync lands every employee; after a hire and a termination at the fake the
//! next sync's tables are the fake's records; one 429 and one 500 are retried; a sync SIGKILLed
//! mid-read and resumed ends with the tables of an uninterrupted run; models/employees.sql
//! fills tx.employees and the EX metrics (employee_attrition, tenure) fill from it.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::hubspot::{query, sync};
use crate::manifest_fakes::{
    Fake, Fault, Req, Vendor, assert_same_lakes, assert_table_is, basic, fixture, json_response, sync_killed_at,
    write_config,
};

const PACKAGE: &str = "airbyte-source-hibob";
const CONNECTOR: &str = "airbyte-hibob";
const SERVICE_USER: &str = "SERVICE-4711";
const TOKEN: &str = "hb-test-q8Wm2Zr5";

/// Bob's employees behind the fake.
struct Bob {
    /// Every employee as /payroll/history returns them (current and former).
    payroll: Vec<Value>,
}

impl Bob {
    fn new() -> Self {
        Self { payroll: fixture(CONNECTOR, "payroll_history")["employees"].as_array().unwrap().clone() }
    }

    fn active(employee: &Value) -> bool {
        employee["internal"]["lifecycleStatus"] != "terminated"
    }

    /// /profiles: the active employees, without the lifecycle and payroll sections.
    fn profiles(&self) -> Vec<Value> {
        self.payroll
            .iter()
            .filter(|e| Self::active(e))
            .map(|e| {
                let mut profile = e.clone();
                let object = profile.as_object_mut().unwrap();
                for private in ["internal", "payroll", "home", "fullName", "creationDateTime"] {
                    object.remove(private);
                }
                profile
            })
            .collect()
    }

    fn truth(&self, stream: &str) -> Vec<Value> {
        match stream {
            "payroll" => self.payroll.clone(),
            _ => self.profiles(),
        }
    }

    /// HR terminates employee `id` effective `on`.
    fn terminate(&mut self, id: &str, on: &str) {
        let e = self.payroll.iter_mut().find(|e| e["id"] == id).unwrap();
        e["internal"] =
            json!({ "status": "Inactive", "lifecycleStatus": "terminated", "currentActiveStatusStartDate": on });
    }

    /// HR hires a new employee (a copy of `like` with a new id, name and start date).
    fn hire(&mut self, like: &str, id: &str, first: &str, start: &str) {
        let mut e = self.payroll.iter().find(|e| e["id"] == like).unwrap().clone();
        e["id"] = json!(id);
        e["firstName"] = json!(first);
        e["displayName"] = json!(format!("{first} {}", e["surname"].as_str().unwrap()));
        e["email"] = json!(format!("{}@ourcompany.com", first.to_lowercase()));
        e["work"]["startDate"] = json!(start);
        e["internal"] =
            json!({ "status": "Active", "lifecycleStatus": "employed", "currentActiveStatusStartDate": start });
        self.payroll.push(e);
    }
}

impl Vendor for Bob {
    fn authorized(&self, req: &Req) -> bool {
        req.authorization() == Some(basic(SERVICE_USER, TOKEN).as_str())
    }

    fn unauthorized(&self) -> Response {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "Unauthorized", "key": "unauthorized" })))
            .into_response()
    }

    fn answer(&mut self, req: &Req) -> Response {
        match req.path.as_str() {
            "/v1/profiles" => json_response(json!({ "employees": self.profiles() })),
            "/v1/payroll/history" => json_response(json!({ "employees": self.payroll })),
            _ => (StatusCode::NOT_FOUND, axum::Json(json!({ "error": "Not Found" }))).into_response(),
        }
    }
}

const STREAMS: [&str; 2] = ["payroll", "profiles"];

fn config(fake: &Fake<Bob>) -> Value {
    json!({
        "username": SERVICE_USER,
        "password": TOKEN,
        "is_sandbox": false,
        "base_url": format!("{}/v1/", fake.url),
    })
}

fn setup(fake: &Fake<Bob>, dir: &Path) -> PathBuf {
    write_config(dir, "hr", PACKAGE, &config(fake), &format!("models = \"{CONNECTOR}\""))
}

async fn assert_tables_are_the_fake(fake: &Fake<Bob>, dir: &Path) {
    for stream in STREAMS {
        let truth = fake.with(|b| b.truth(stream));
        let fields: &[&str] = match stream {
            "payroll" => &["id", "email", "work.department", "work.startDate", "internal.lifecycleStatus"],
            _ => &["id", "email", "work.title", "work.reportsTo.id"],
        };
        assert_table_is(dir, &format!("hr.{stream}"), &truth, fields).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibob_manifest_full_sync_then_changes_match_the_api() {
    let fake = Fake::start(Bob::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    let landed = sync(&config, &[]).await;
    assert_eq!(landed[&("hr".to_string(), "payroll".to_string())], 8);
    assert_eq!(landed[&("hr".to_string(), "profiles".to_string())], 6, "the two leavers have no profile");
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let seen = fake.seen();
    let history: Vec<_> = seen.iter().filter(|s| s.path == "/v1/payroll/history").collect();
    assert_eq!(history.len(), 1, "no next_cursor: one page ({history:?})");
    assert_eq!(history[0].q("limit"), Some("200"));
    assert_eq!(history[0].q("cursor"), None, "the first page has no cursor");

    fake.with(|b| {
        b.terminate("3332883884017713006", "2024-05-31");
        b.hire("3332883884017713002", "3332883884017713009", "Kim", "2024-06-03");
    });
    let landed = sync(&config, &[]).await;
    assert_eq!(landed[&("hr".to_string(), "payroll".to_string())], 9);
    assert_tables_are_the_fake(&fake, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibob_manifest_retries_a_429_and_a_500() {
    let fake = Fake::start(Bob::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    fake.fail_next("/v1/payroll/history", Fault::RateLimited);
    fake.fail_next("/v1/profiles", Fault::ServerError);
    sync(&config, &[]).await;
    assert_tables_are_the_fake(&fake, dir.path()).await;
    let statuses =
        |path: &str| -> Vec<u16> { fake.seen().iter().filter(|s| s.path == path).map(|s| s.status).collect() };
    assert_eq!(statuses("/v1/payroll/history"), [429, 200]);
    assert_eq!(statuses("/v1/profiles"), [500, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibob_manifest_sync_killed_mid_read_resumes_to_the_same_tables() {
    let fake = Fake::start(Bob::new()).await;
    let reference = tempfile::tempdir().unwrap();
    sync(&setup(&fake, reference.path()), &[]).await;

    let crashed = tempfile::tempdir().unwrap();
    let config = setup(&fake, crashed.path());
    // Killed once payroll is committed, while the profiles request is unanswered.
    fake.hold("/v1/profiles");
    let log = sync_killed_at(&config, "payroll: committed version", fake.held()).await;
    assert!(!log.iter().any(|l| l.contains("profiles: committed")), "{log:?}");
    fake.release();
    sync(&config, &[]).await;
    assert_same_lakes(reference.path(), crashed.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibob_model_fills_employees_and_the_ex_metrics() {
    let fake = Fake::start(Bob::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(&fake, dir.path());
    sync(&config, &[]).await;

    let employees = query(
        &config,
        "SELECT employee_key, name, department, team, role, manager_key, CAST(hired_at AS VARCHAR) AS hired, \
         CAST(terminated_at AS VARCHAR) AS terminated, annual_cost, currency, length(person_key) AS person_key_len \
         FROM tx.employees ORDER BY employee_key",
    )
    .await;
    assert_eq!(employees.len(), 8);
    assert_eq!(
        employees[1],
        json!({ "employee_key": "hr:3332883884017713002", "name": "Anna Berg", "department": "Support", "team": "Support",
                "role": "Support Agent", "manager_key": "hr:3332883884017713001", "hired": "2023-09-01T00:00:00Z",
                "annual_cost": 51600.0, "currency": "EUR", "person_key_len": 64 }),
        "a monthly salary × 12; reports to Sam"
    );
    assert!(employees[0].get("manager_key").is_none(), "the head of support reports to no one: {}", employees[0]);
    assert_eq!(employees[5]["annual_cost"], 52000.0, "25 an hour × 2080");
    let leavers: Vec<(&str, &str)> =
        employees.iter().filter_map(|e| Some((e["employee_key"].as_str()?, e.get("terminated")?.as_str()?))).collect();
    assert_eq!(
        leavers,
        [("hr:3332883884017713007", "2024-03-31T00:00:00Z"), ("hr:3332883884017713008", "2024-02-29T00:00:00Z")]
    );

    let attrition =
        query(&config, "SELECT sum(leavers) AS leavers, sum(hires) AS hires FROM metrics.employee_attrition").await;
    assert_eq!(attrition, [json!({ "leavers": 2, "hires": 8 })], "both terminations fall in the span of the data");
    let tenure = query(
        &config,
        "SELECT status, sum(employees) AS employees FROM metrics.tenure GROUP BY status ORDER BY status",
    )
    .await;
    assert_eq!(tenure, [json!({ "status": "active", "employees": 6 }), json!({ "status": "left", "employees": 2 })]);
}
