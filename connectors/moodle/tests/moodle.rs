//! The `moodle` declarative connector against an in-process fake of Moodle's web-service REST
//! server (`/webservice/rest/server.php`) answering from the recorded fixtures
//! (`tests/fixtures/`): the token as `wstoken`, errors as HTTP 200 exception documents
//! (`invalidtoken`, `accessexception`, `invalidparameter`), enrolments paged with
//! `limitfrom`/`limitnumber` options, and faults on demand (429, 500, a truncated page). Last,
//! one sync of a BambooHR and a Moodle connection through the `txlake` binary that fills
//! tx.employees and tx.learning and joins them by person.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use txlake_connector::{Connector, ConnectorError, DeclarativeConnector, StateMap, StreamMode};

use crate::bamboohr::{connector, ids, query_pairs, read, serve};

const MANIFEST: &str = include_str!("../manifest.yaml");
const SITE_INFO: &str = include_str!("fixtures/site_info.json");
const USERS: &str = include_str!("fixtures/users.json");
const CATEGORIES: &str = include_str!("fixtures/categories.json");
const COURSES: &str = include_str!("fixtures/courses.json");
const ENROLLED_USERS: &str = include_str!("fixtures/enrolled_users.json");
const USERS_COURSES: &str = include_str!("fixtures/users_courses.json");
const GRADE_ITEMS: &str = include_str!("fixtures/grade_items.json");
const ERRORS: &str = include_str!("fixtures/errors.json");

/// The web-service token the fake accepts.
pub(crate) const TOKEN: &str = "9c2f5b1e7a4d3c8b6e0f1a2b3c4d5e6f";

/// What the fake has seen, and the faults it injects next.
#[derive(Default)]
pub(crate) struct Fake {
    /// Answer this many requests with 429 + `Retry-After: 1`.
    too_many: AtomicUsize,
    /// Answer this many requests with 500.
    failures: AtomicUsize,
    /// Cut the next successful body in half.
    truncate: AtomicBool,
    /// `(wsfunction, key of errors.json)`: answer that function with that exception.
    refuse: Mutex<Option<(String, String)>>,
    /// Every request's query parameters.
    requests: Mutex<Vec<BTreeMap<String, String>>>,
    /// The courses (from the fixture).
    courses: Mutex<Value>,
}

impl Fake {
    /// Changes the site the way a teacher does: the GDPR course is edited now. Returns how
    /// many records changed per stream.
    pub(crate) fn touch(&self) -> BTreeMap<String, usize> {
        let mut courses = self.courses.lock().unwrap();
        let gdpr = courses.as_array_mut().unwrap().iter_mut().find(|c| c["id"] == 3).unwrap();
        gdpr["fullname"] = json!("GDPR essentials (2025 edition)");
        gdpr["timemodified"] = json!(chrono::Utc::now().timestamp());
        BTreeMap::from([("courses".to_string(), 1)])
    }

    fn calls(&self, function: &str) -> Vec<BTreeMap<String, String>> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.get("wsfunction").map(String::as_str) == Some(function))
            .cloned()
            .collect()
    }
}

/// The fake Moodle web-service server's routes and state.
pub(crate) fn fake_api() -> (Router, Arc<Fake>) {
    let fake = Arc::new(Fake { courses: Mutex::new(fixture(COURSES)), ..Fake::default() });
    let router = Router::new().route("/webservice/rest/server.php", get(server)).with_state(fake.clone());
    (router, fake)
}

/// Starts the fake Moodle on 127.0.0.1 (a free port) in the current runtime.
pub(crate) async fn start_fake() -> (String, Arc<Fake>) {
    let (router, fake) = fake_api();
    (serve(router).await, fake)
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixtures are JSON")
}

/// Moodle answers its errors with 200 and an exception document.
fn exception(key: &str) -> Value {
    fixture(ERRORS)[key].clone()
}

/// `options[i][name]` / `options[i][value]` pairs of a request.
fn options(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    (0..10)
        .filter_map(|i| {
            Some((
                params.get(&format!("options[{i}][name]"))?.clone(),
                params.get(&format!("options[{i}][value]"))?.clone(),
            ))
        })
        .collect()
}

async fn server(State(fake): State<Arc<Fake>>, RawQuery(query): RawQuery) -> Response {
    let params = query_pairs(&query);
    fake.requests.lock().unwrap().push(params.clone());
    if fake.too_many.load(Ordering::SeqCst) > 0 {
        fake.too_many.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "Too Many Requests").into_response();
    }
    if fake.failures.load(Ordering::SeqCst) > 0 {
        fake.failures.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::INTERNAL_SERVER_ERROR, "<h1>Internal Server Error</h1>").into_response();
    }
    if params.get("moodlewsrestformat").map(String::as_str) != Some("json") {
        return (StatusCode::OK, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE/>").into_response();
    }
    let body = answer(&fake, &params);
    let text = body.to_string();
    let text = if fake.truncate.swap(false, Ordering::SeqCst) { text[..text.len() / 2].to_string() } else { text };
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], text).into_response()
}

fn answer(fake: &Fake, params: &BTreeMap<String, String>) -> Value {
    if params.get("wstoken").map(String::as_str) != Some(TOKEN) {
        return exception("invalidtoken");
    }
    let function = params.get("wsfunction").cloned().unwrap_or_default();
    if let Some((refused, key)) = fake.refuse.lock().unwrap().clone()
        && refused == function
    {
        return exception(&key);
    }
    let by = |text: &str, key: &str| -> Value {
        match params.get(key) {
            Some(id) => fixture(text).get(id).cloned().unwrap_or(json!([])),
            None => exception("invalidparameter"),
        }
    };
    match function.as_str() {
        "core_webservice_get_site_info" => fixture(SITE_INFO),
        "core_user_get_users" => {
            let criterion = (params.get("criteria[0][key]"), params.get("criteria[0][value]"));
            if criterion != (Some(&"email".to_string()), Some(&"%".to_string())) {
                return exception("invalidparameter");
            }
            fixture(USERS)
        }
        "core_course_get_categories" => fixture(CATEGORIES),
        "core_course_get_courses" => fake.courses.lock().unwrap().clone(),
        "core_enrol_get_enrolled_users" => {
            let Some(course) = params.get("courseid") else { return exception("invalidparameter") };
            let mut users: Vec<Value> = if course == "1" {
                // The front page: Moodle counts every user as enrolled there.
                fixture(USERS)["users"].as_array().unwrap().clone()
            } else {
                fixture(ENROLLED_USERS).get(course).and_then(Value::as_array).cloned().unwrap_or_default()
            };
            let options = options(params);
            let from: usize = options.get("limitfrom").map_or(0, |v| v.parse().unwrap());
            let number: usize = options.get("limitnumber").map_or(0, |v| v.parse().unwrap());
            users = users.into_iter().skip(from).collect();
            if number > 0 {
                users.truncate(number);
            }
            Value::Array(users)
        }
        "core_enrol_get_users_courses" => by(USERS_COURSES, "userid"),
        "gradereport_user_get_grade_items" => {
            let grades = by(GRADE_ITEMS, "courseid");
            if grades.is_array() { json!({ "usergrades": [], "warnings": [] }) } else { grades }
        }
        _ => json!({
            "exception": "dml_missing_record_exception",
            "errorcode": "invalidrecord",
            "message": "Can't find data record in database table external_functions."
        }),
    }
}

fn moodle() -> DeclarativeConnector {
    connector(MANIFEST, "connectors/moodle/manifest.yaml")
}

fn config(base: &str) -> Value {
    json!({ "url": base, "token": TOKEN })
}

const ALL: [&str; 7] = ["site_info", "users", "categories", "courses", "enrolments", "user_courses", "grades"];

fn full(streams: &[&'static str]) -> Vec<(&'static str, StreamMode)> {
    streams.iter().map(|s| (*s, StreamMode::FullRefresh)).collect()
}

#[test]
fn the_manifest_is_the_built_in_one() {
    let embedded = txlake_sync::connectors::BUILTIN_MANIFESTS
        .iter()
        .find(|(path, _)| *path == "connectors/moodle/manifest.yaml")
        .expect("moodle is registered in BUILTIN_MANIFESTS");
    assert_eq!(embedded.1, MANIFEST);
}

#[tokio::test]
async fn spec_marks_the_token_secret_and_a_refused_token_is_an_auth_error() {
    let connector = moodle();
    let spec = connector.spec();
    assert_eq!(spec.secret_fields(), vec!["token".to_string()]);
    assert_eq!(spec.config_schema["required"], json!(["url", "token"]));
    for field in ["url", "token", "base_url"] {
        assert!(spec.config_schema["properties"][field]["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    spec.validate("moodle", &config("https://lms.example.com")).unwrap();

    let (base, fake) = start_fake().await;
    connector.check(&config(&base)).await.unwrap();
    assert_eq!(fake.calls("core_webservice_get_site_info").len(), 1);

    let wrong = json!({ "url": base, "token": "0123456789abcdef0123456789abcdef" });
    let err = connector.check(&wrong).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "a 200 exception document is an auth error: {err:?}");
    let text = err.to_string();
    assert!(text.contains("invalidtoken") && text.contains("Invalid token - token not found"), "{text}");
    assert!(text.contains("/webservice/rest/server.php") && text.contains("wstoken=***"), "{text}");
    assert!(!text.contains("0123456789abcdef"), "the token is masked: {text}");
}

#[tokio::test]
async fn a_function_missing_from_the_service_is_an_auth_error_and_other_exceptions_are_source_errors() {
    let (base, fake) = start_fake().await;
    let connector = moodle();
    *fake.refuse.lock().unwrap() = Some(("gradereport_user_get_grade_items".into(), "accessexception".into()));
    let err = read(&connector, &config(&base), &full(&["grades"]), StateMap::new()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert!(
        err.to_string().contains("accessexception") && err.to_string().contains("gradereport_user_get_grade_items")
    );

    *fake.refuse.lock().unwrap() = Some(("core_course_get_categories".into(), "invalidparameter".into()));
    let err = read(&connector, &config(&base), &full(&["categories"]), StateMap::new()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Source(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("invalidparameter") && text.contains("Missing required key"), "debuginfo shown: {text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn discover_gives_schemas_with_primary_keys() {
    let (base, _fake) = start_fake().await;
    let catalog = moodle().discover(&config(&base)).await.unwrap();
    assert_eq!(catalog.names(), ALL);
    let keys: BTreeMap<&str, Vec<String>> =
        catalog.streams.iter().map(|s| (s.name.as_str(), s.primary_key.clone())).collect();
    assert_eq!(keys["enrolments"], ["course_id", "id"]);
    assert_eq!(keys["user_courses"], ["user_id", "id"]);
    assert_eq!(keys["grades"], ["courseid", "userid"]);
    assert_eq!(keys["users"], ["id"]);
    let courses = catalog.stream("courses").unwrap();
    assert_eq!(courses.cursor_field.as_deref(), Some("timemodified"));
    assert_eq!(courses.default_mode, StreamMode::IncrementalDedupe);
    let enrolments = catalog.stream("enrolments").unwrap();
    assert_eq!(enrolments.schema.field_with_name("course_id").unwrap().data_type(), &arrow::datatypes::DataType::Int64);
    assert!(matches!(
        enrolments.schema.field_with_name("roles").unwrap().data_type(),
        arrow::datatypes::DataType::List(_)
    ));
    assert!(catalog.streams.iter().all(|s| !s.description.is_empty()));
}

#[tokio::test]
async fn a_full_read_returns_every_fixture_record_and_partitions_carry_their_parent() {
    let (base, fake) = start_fake().await;
    let read = read(&moodle(), &config(&base), &full(&ALL), StateMap::new()).await.unwrap();
    assert_eq!(read.rows["site_info"][0]["siteurl"], "https://academy.northwind.example");
    assert_eq!(read.rows["site_info"][0]["functions"].as_array().unwrap().len(), 7);
    assert_eq!(read.rows["users"].len(), 8);
    assert_eq!(read.rows["categories"].len(), 3);
    assert_eq!(ids(&read.rows["courses"], "id"), ["2", "3", "4"].map(String::from).into(), "no front page");

    // Enrolments: one request series per course (never the front page), each row with its course.
    let enrolment_calls = fake.calls("core_enrol_get_enrolled_users");
    let asked: BTreeSet<&str> = enrolment_calls.iter().map(|p| p["courseid"].as_str()).collect();
    assert_eq!(asked, BTreeSet::from(["2", "3", "4"]));
    let first = &enrolment_calls[0];
    let opts = options(first);
    assert_eq!(opts["limitfrom"], "0");
    assert_eq!(opts["limitnumber"], "500");
    assert_eq!(opts["sortby"], "id");
    assert!(opts["userfields"].contains("roles") && !opts["userfields"].contains("enrolledcourses"));
    let enrolments = &read.rows["enrolments"];
    assert_eq!(enrolments.len(), 10);
    let expected: BTreeMap<i64, Vec<i64>> =
        BTreeMap::from([(2, vec![3, 4, 5, 6, 7]), (3, vec![4, 5, 6]), (4, vec![2, 5])]);
    for (course, users) in &expected {
        let got: Vec<i64> =
            enrolments.iter().filter(|r| r["course_id"] == *course).map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(&got, users, "course {course}");
    }
    let ryota = enrolments.iter().find(|r| r["course_id"] == 4 && r["id"] == 5).unwrap();
    assert_eq!(ryota["roles"].as_array().unwrap().len(), 2);

    // Completion: one request per user, rows carry the user.
    assert_eq!(fake.calls("core_enrol_get_users_courses").len(), 8);
    let user_courses = &read.rows["user_courses"];
    assert_eq!(user_courses.len(), 9);
    let ashley_gdpr = user_courses.iter().find(|r| r["user_id"] == 4 && r["id"] == 3).unwrap();
    assert_eq!(ashley_gdpr["completed"], false);
    assert_eq!(ashley_gdpr["progress"], 50.0);
    assert!(user_courses.iter().find(|r| r["user_id"] == 5 && r["id"] == 3).unwrap().get("lastaccess").is_none());

    // Grades: one request per course, every gradable user, the course total among the items.
    assert_eq!(fake.calls("gradereport_user_get_grade_items").len(), 3);
    let grades = &read.rows["grades"];
    assert_eq!(grades.len(), 8);
    let total = grades.iter().find(|r| r["courseid"] == 2 && r["userid"] == 4).unwrap()["gradeitems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["itemtype"] == "course")
        .unwrap()
        .clone();
    assert_eq!(total["graderaw"], 86.5);
    assert_eq!(total["grademax"], 100.0);
}

#[tokio::test]
async fn incremental_courses_keep_only_those_changed_since_the_cursor() {
    let (base, _fake) = start_fake().await;
    // 2024-03-01T00:00:00Z = 1709251200: course 4 changed 100 s later, course 3 in June.
    let state = StateMap::from([("courses".to_string(), json!({ "cursor": "2024-03-01T00:00:00Z" }))]);
    let read = read(&moodle(), &config(&base), &[("courses", StreamMode::IncrementalDedupe)], state).await.unwrap();
    assert_eq!(ids(&read.rows["courses"], "id"), ["3", "4"].map(String::from).into());
    assert_eq!(read.states.last().unwrap(), &("courses".to_string(), json!({ "cursor": "2024-06-01T00:00:00Z" })));
}

#[tokio::test]
async fn an_incremental_read_after_a_finished_one_emits_nothing_until_a_course_changes() {
    let (base, fake) = start_fake().await;
    let connector = moodle();
    let courses = [("courses", StreamMode::IncrementalDedupe)];
    let first = read(&connector, &config(&base), &courses, StateMap::new()).await.unwrap();
    assert_eq!(first.rows["courses"].len(), 3);
    let state: StateMap = first.states.iter().cloned().collect();
    let again = read(&connector, &config(&base), &courses, state.clone()).await.unwrap();
    assert!(again.rows.values().all(Vec::is_empty), "{:?}", again.rows);
    fake.touch();
    let changed = read(&connector, &config(&base), &courses, state).await.unwrap();
    assert_eq!(ids(&changed.rows["courses"], "id"), ["3"].map(String::from).into());
    assert_eq!(changed.rows["courses"][0]["fullname"], "GDPR essentials (2025 edition)");
}

#[tokio::test]
async fn a_429_and_a_500_are_retried() {
    let (base, fake) = start_fake().await;
    fake.too_many.store(1, Ordering::SeqCst);
    fake.failures.store(1, Ordering::SeqCst);
    let read = read(&moodle(), &config(&base), &full(&["users"]), StateMap::new()).await.unwrap();
    assert_eq!(read.rows["users"].len(), 8);
    assert_eq!(fake.calls("core_user_get_users").len(), 3, "429, then 500, then the page");
}

#[tokio::test]
async fn a_truncated_page_fails_with_its_url_and_no_token() {
    let (base, fake) = start_fake().await;
    fake.truncate.store(true, Ordering::SeqCst);
    let err = read(&moodle(), &config(&base), &full(&["users"]), StateMap::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("{base}/webservice/rest/server.php")), "{text}");
    assert!(text.contains("wsfunction=core_user_get_users") && text.contains("wstoken=***"), "{text}");
    assert!(text.contains("truncated") && text.contains("stream `users`"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `txlake query --format json` rows.
fn query(config: &str, sql: &str) -> Vec<Value> {
    let output = crate::support::txlake(&["query", "--config", config, "--format", "json", sql]);
    assert!(output.status.success(), "{sql}: {}", text(&output.stderr));
    serde_json::from_slice::<Value>(&output.stdout).expect("JSON rows").as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_of_bamboohr_and_moodle_fills_tx_employees_and_tx_learning() {
    let (hr_base, _hr) = crate::bamboohr::start_fake().await;
    let (lms_base, _lms) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("txlake.toml");
    std::fs::write(
        &path,
        format!(
            "[lake]\nurl = \"file://./lake\"\n\n\
             [connections.hr]\nconnector = \"bamboohr\"\n\
             config = {{ subdomain = \"{}\", api_key = \"{}\", base_url = \"{hr_base}\", start_date = \"2024-01-01\" }}\n\n\
             [connections.lms]\nconnector = \"moodle\"\nconfig = {{ url = \"{lms_base}\", token = \"{TOKEN}\" }}\n",
            crate::bamboohr::SUBDOMAIN,
            crate::bamboohr::API_KEY,
        ),
    )
    .unwrap();
    let config = path.to_str().unwrap().to_string();

    // The fakes run on this runtime's workers while the binary runs on a blocking thread.
    let sync = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || crate::support::txlake(&["sync", "--config", &config])).await.unwrap()
    };
    assert!(sync.status.success(), "{}\n{}", text(&sync.stdout), text(&sync.stderr));
    let summary = text(&sync.stdout);
    for stream in ["employees_report", "time_off_requests", "enrolments", "user_courses", "grades"] {
        assert!(summary.lines().any(|l| l.contains(stream) && l.contains("succeeded")), "{stream}:\n{summary}");
    }

    let config = config.clone();
    tokio::task::spawn_blocking(move || check_the_canonical_views(&config)).await.unwrap();
}

fn check_the_canonical_views(config: &str) {
    let employees = query(
        config,
        "SELECT employee_key, person_key, source, name, department, team, role, manager_key, \
         CAST(hired_at AS VARCHAR) AS hired_at, CAST(terminated_at AS VARCHAR) AS terminated_at, annual_cost, currency \
         FROM tx.employees ORDER BY employee_key",
    );
    let keys: Vec<&str> = employees.iter().map(|e| e["employee_key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["hr:4", "hr:5", "hr:6", "hr:7", "hr:8"]);
    let by_key = |key: &str| employees.iter().find(|e| e["employee_key"] == key).unwrap().clone();
    let ashley = by_key("hr:5");
    assert_eq!(ashley["source"], "bamboohr");
    assert_eq!(ashley["name"], "Ashley Adams");
    assert_eq!(ashley["department"], "Customer Support");
    assert_eq!(ashley["team"], "EMEA");
    assert_eq!(ashley["role"], "Support Team Lead");
    assert_eq!(ashley["manager_key"], "hr:4");
    assert!(ashley["hired_at"].as_str().unwrap().starts_with("2022-06-01"), "{ashley}");
    assert!(ashley.get("terminated_at").is_none_or(Value::is_null), "0000-00-00 is no date: {ashley}");
    assert_eq!(ashley["annual_cost"], 62400.0, "5200 a month");
    assert_eq!(ashley["currency"], "EUR");
    // sha256("aadams@northwind.example")
    assert_eq!(ashley["person_key"].as_str().unwrap().len(), 64);
    let charlotte = by_key("hr:4");
    assert!(charlotte.get("manager_key").is_none_or(Value::is_null), "the head has no manager: {charlotte}");
    let daniel = by_key("hr:6");
    assert!(daniel["terminated_at"].as_str().unwrap().starts_with("2024-02-29"), "{daniel}");
    assert_eq!(daniel["team"], "Sales", "no division: the department");
    assert_eq!(by_key("hr:7")["annual_cost"], 50960.0, "24.50 an hour × 2080");
    let eric = by_key("hr:8");
    assert!(eric.get("person_key").is_none_or(Value::is_null), "no e-mail, no person: {eric}");
    assert!(eric.get("annual_cost").is_none_or(Value::is_null));
    assert_eq!(eric["team"], "Customer Support");

    let learning = query(
        config,
        "SELECT enrollment_key, employee_key, course_id, course_name, category, status, \
         CAST(completed_at AS VARCHAR) AS completed_at, enrolled_at, score FROM tx.learning ORDER BY enrollment_key",
    );
    let rows: Vec<(String, String, String)> = learning
        .iter()
        .map(|l| {
            (
                l["enrollment_key"].as_str().unwrap().to_string(),
                l["employee_key"].as_str().unwrap_or("-").to_string(),
                l["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("lms:2:4", "hr:5", "completed"),
        ("lms:2:5", "hr:7", "completed"),
        ("lms:2:6", "hr:6", "completed"),
        ("lms:2:7", "-", "enrolled"),
        ("lms:3:4", "hr:5", "enrolled"),
        ("lms:3:5", "hr:7", "enrolled"),
        ("lms:3:6", "hr:6", "dropped"),
        ("lms:4:5", "hr:7", "completed"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(rows, expected, "teachers and managers are no learners; e-mails match case-insensitively");
    let row = |key: &str| learning.iter().find(|l| l["enrollment_key"] == key).unwrap().clone();
    let ashley = row("lms:2:4");
    assert_eq!(ashley["course_id"], "2");
    assert_eq!(ashley["course_name"], "De-escalation techniques");
    assert_eq!(ashley["category"], "Customer service");
    assert_eq!(ashley["score"], 86.5);
    // gradedategraded of the course total: 1712189160 = 2024-04-04T00:06:00Z.
    assert!(ashley["completed_at"].as_str().unwrap().starts_with("2024-04-04T00:06:00"), "{ashley}");
    let product = row("lms:4:5");
    assert!(product.get("score").is_none_or(Value::is_null), "no course total: {product}");
    // No graded total: the last access to the course, 1711411200 = 2024-03-26T00:00:00Z.
    assert!(product["completed_at"].as_str().unwrap().starts_with("2024-03-26T00:00:00"), "{product}");
    assert_eq!(row("lms:3:5")["category"], "Compliance");
    assert!(row("lms:3:5").get("score").is_none_or(Value::is_null), "not completed: no score");
    assert!(learning.iter().all(|l| l.get("enrolled_at").is_none_or(Value::is_null)));

    let joined = query(
        config,
        "SELECT e.department, count(*) AS completed FROM tx.learning l \
         JOIN tx.employees e ON e.employee_key = l.employee_key \
         WHERE l.status = 'completed' GROUP BY e.department ORDER BY e.department",
    );
    assert_eq!(
        joined,
        vec![
            json!({ "department": "Customer Support", "completed": 3 }),
            json!({ "department": "Sales", "completed": 1 })
        ]
    );
}
