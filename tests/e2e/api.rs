//! The API service end to end: the real server on 127.0.0.1 (a random port) over a synced
//! sample lake, called over HTTP as a dashboard or an analyst would.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use txlake_server::auth::{Role, config_snippet, generate_key};
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{QuietObserver, SyncOptions, TxlakeConfig, sync_connection};

use crate::support::txlake;

/// One key per role, and the `[[auth.keys]]` lines that accept them.
pub(crate) struct Keys {
    pub(crate) viewer: String,
    pub(crate) analyst: String,
    pub(crate) admin: String,
    config: String,
}

/// A running server and what a client needs to reach it.
pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) keys: Arc<Keys>,
    pub(crate) client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The keys of every test server, made once.
fn keys() -> Arc<Keys> {
    static KEYS: OnceLock<Arc<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (viewer, analyst, admin) = (generate_key(), generate_key(), generate_key());
        let config = [("bi", Role::Viewer, &viewer), ("ana", Role::Analyst, &analyst), ("ops", Role::Admin, &admin)]
            .iter()
            .map(|(name, role, key)| config_snippet(name, *role, &key.sha256))
            .collect::<String>();
        Arc::new(Keys { viewer: viewer.key, analyst: analyst.key, admin: admin.key, config })
    })
    .clone()
}

fn config_text(lake_dir: &Path, extra: &str) -> String {
    format!(
        "[lake]\nurl = \"file://{}\"\n\n[server]\nquery_row_limit = 50\nfreshness_ms = 0\nodata_page_size = 200\n\n{}\n[connections.demo]\nconnector = \"sample\"\nconfig = {{ customers = 600, employees = 30, days = 90, seed = 7, start_date = \"2025-01-01\", batch_size = 256 }}\n{extra}",
        lake_dir.display(),
        keys().config
    )
}

/// A lake synced once for all tests that only read.
pub(crate) fn shared_lake() -> &'static Path {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        // Its own runtime: each test has one, and this lake outlives them all.
        std::thread::spawn({
            let dir = dir.clone();
            move || {
                tokio::runtime::Runtime::new().unwrap().block_on(sync_into(&dir));
            }
        })
        .join()
        .expect("the shared lake syncs");
        dir
    })
}

pub(crate) async fn sync_into(dir: &Path) {
    sync_with(dir, &SyncOptions::default()).await;
}

/// Syncs the test world into `dir` with `options`.
pub(crate) async fn sync_with(dir: &Path, options: &SyncOptions) {
    let config =
        TxlakeConfig::parse(&config_text(&dir.join("lake"), ""), Path::new("test"), dir.to_path_buf(), &|_| None)
            .expect("config parses");
    let lake = config.open_lake().expect("lake opens");
    let connection = config.connection("demo").expect("demo");
    let report = sync_connection(&lake, &builtin_registry(), "demo", connection, options, &QuietObserver)
        .await
        .expect("sync runs");
    assert!(report.error.is_none(), "{:?}", report.error);
}

pub(crate) async fn start(lake_dir: &Path, extra: &str) -> Server {
    let config = TxlakeConfig::parse(
        &config_text(&lake_dir.join("lake"), extra),
        Path::new("test"),
        lake_dir.to_path_buf(),
        &|_| None,
    )
    .expect("config parses");
    let state = txlake_server::AppState::open(config).await.expect("server state opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(txlake_server::serve(state, listener, async move {
        let _ = stopped.await;
    }));
    Server { base, keys: keys(), client: reqwest::Client::new(), _stop: stop }
}

impl Server {
    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.keys.admin)
    }

    pub(crate) async fn json(&self, path: &str) -> Value {
        let response = self.get(path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    async fn query(&self, key: &str, sql: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/query", self.base))
            .header("x-api-key", key)
            .json(&json!({ "sql": sql }))
            .send()
            .await
            .unwrap()
    }
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn metrics_catalog_and_results_in_every_format() {
    let server = start(shared_lake(), "").await;
    let catalog = server.json("/api/v1/metrics").await;
    let names: Vec<&str> = catalog["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    for name in ["nps", "csat", "customer_ltv", "journey_funnel", "tx_scorecard"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let nps = &catalog["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "nps").unwrap();
    assert!(nps["dimensions"].as_array().unwrap().iter().any(|d| d == "segment"));
    assert!(nps["grains"].as_array().unwrap().iter().any(|g| g == "month"));

    // JSON: columns with types, rows as arrays.
    let result = server.json("/api/v1/metrics/nps?group_by=segment&order_by=segment").await;
    let columns: Vec<&str> =
        result["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns[0], "segment");
    assert!(columns.contains(&"nps") && columns.contains(&"responses"), "{columns:?}");
    let rows = result["rows"].as_array().unwrap();
    assert!(rows.len() >= 2, "{result}");
    assert_eq!(result["row_count"], rows.len());
    let total_responses: i64 = {
        let i = columns.iter().position(|c| *c == "responses").unwrap();
        rows.iter().map(|r| r[i].as_i64().unwrap()).sum()
    };
    let overall = server.json("/api/v1/metrics/nps").await;
    let i = overall["columns"].as_array().unwrap().iter().position(|c| c["name"] == "responses").unwrap();
    assert_eq!(overall["rows"][0][i].as_i64().unwrap(), total_responses, "groups add up to the total");

    // Filters and grains.
    let smb = server.json("/api/v1/metrics/nps?group_by=segment&segment=smb").await;
    assert_eq!(smb["rows"].as_array().unwrap().len(), 1);
    let monthly = server.json("/api/v1/metrics/nps?grain=month").await;
    let months = monthly["rows"].as_array().unwrap();
    assert!(months.len() >= 2, "{monthly}");
    let later = server.json("/api/v1/metrics/nps?grain=month&from=2025-03-01").await;
    let later = later["rows"].as_array().unwrap();
    assert!(later.len() < months.len() && later.iter().all(|r| r[0].as_str().unwrap() >= "2025-03-01"), "{later:?}");

    // CSV, by query parameter and by Accept.
    let csv = server.get("/api/v1/metrics/nps?group_by=segment&format=csv").send().await.unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.lines().next().unwrap().starts_with("segment,"), "{text}");
    assert_eq!(text.lines().count(), rows.len() + 1);
    let by_accept =
        server.get("/api/v1/metrics/nps?group_by=segment").header("accept", "text/csv").send().await.unwrap();
    assert_eq!(by_accept.text().await.unwrap(), text);

    // Arrow IPC stream and Parquet decode to the same rows.
    let arrow_bytes =
        server.get("/api/v1/metrics/nps?group_by=segment&format=arrow").send().await.unwrap().bytes().await.unwrap();
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(arrow_bytes), None).unwrap();
    let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), rows.len());
    assert_eq!(batches[0].schema().field(0).name(), "segment");
    let parquet_bytes = server
        .get("/api/v1/metrics/nps?group_by=segment")
        .header("accept", "application/vnd.apache.parquet")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(parquet_bytes).unwrap().build().unwrap();
    let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), rows.len());

    // Asked twice, answered from the cache the second time.
    server.json("/api/v1/metrics/csat?group_by=touchpoint").await;
    server.json("/api/v1/metrics/csat?group_by=touchpoint").await;
    let prometheus = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(prometheus.contains("txlake_metric_cache_total{result=\"hit\"}"), "{prometheus}");
    assert!(
        prometheus.contains("txlake_http_requests_total{") && prometheus.contains("/api/v1/metrics/{name}"),
        "{prometheus}"
    );
}

#[tokio::test]
async fn bad_metric_requests_are_400s_that_name_the_problem() {
    let server = start(shared_lake(), "").await;
    let cases = [
        ("/api/v1/metrics/npss", 404, "unknown_metric", "npss"),
        ("/api/v1/metrics/nps?segmnt=smb", 400, "unknown_parameter", "segmnt"),
        ("/api/v1/metrics/nps?group_by=region", 400, "unknown_dimension", "region"),
        ("/api/v1/metrics/nps?group_by=promoters", 400, "unknown_dimension", "measure"),
        ("/api/v1/metrics/nps?grain=fortnight", 400, "invalid_parameter", "fortnight"),
        ("/api/v1/metrics/nps?from=yesterday", 400, "invalid_parameter", "yesterday"),
        ("/api/v1/metrics/nps?limit=-1", 400, "invalid_parameter", "limit"),
        ("/api/v1/metrics/nps?format=xlsx", 400, "unknown_format", "xlsx"),
        ("/api/v1/metrics/nps?segment=a&segment=b", 400, "duplicate_parameter", "segment"),
        ("/api/v1/tables/tx.nope", 404, "unknown_table", "tx.customers"),
        ("/api/v1/tables/tx.customers?columns=nope", 400, "unknown_column", "nope"),
        ("/api/v1/tables/tx.customers?limit=51", 400, "limit_too_large", "query_row_limit"),
        ("/api/v1/syncs/nope", 404, "unknown_run", "nope"),
        ("/api/v2/metrics", 404, "not_found", "/docs"),
    ];
    for (path, status, code, mentions) in cases {
        let response = server.get(path).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(mentions), "{path}: {body}");
    }
    let response = server.client.delete(format!("{}/api/v1/metrics", server.base)).send().await.unwrap();
    assert_eq!(error_code(response).await, (405, "method_not_allowed".into()));
}

#[tokio::test]
async fn tables_list_and_rows_with_columns_filters_and_paging() {
    let server = start(shared_lake(), "").await;
    let list = server.json("/api/v1/tables").await;
    let names: Vec<&str> = list["tables"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"demo.customers") && names.contains(&"tx.customers"), "{names:?}");

    let page = server.json("/api/v1/tables/tx.customers?columns=customer_key,segment&segment=smb&limit=5").await;
    let columns: Vec<&str> = page["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["customer_key", "segment"]);
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r[1] == "smb"));
    let next =
        server.json("/api/v1/tables/tx.customers?columns=customer_key,segment&segment=smb&limit=5&offset=5").await;
    assert_ne!(next["rows"][0], rows[0], "offset pages on");
    let schema_only = server.json("/api/v1/tables/demo.tickets?limit=0").await;
    assert!(schema_only["rows"].as_array().unwrap().is_empty());
    assert!(schema_only["columns"].as_array().unwrap().iter().any(|c| c["name"] == "id" && c["type"] == "Int64"));
    let csv = server.get("/api/v1/tables/demo.tickets?limit=3&format=csv").send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().count(), 4);
}

#[tokio::test]
async fn read_only_sql_with_a_row_limit_and_the_guard() {
    let server = start(shared_lake(), "").await;
    let analyst = server.keys.analyst.clone();
    let response = server
        .query(&analyst, "SELECT segment, count(*) AS n FROM tx.customers GROUP BY segment ORDER BY segment")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-txlake-row-limit"], "50");
    let body: Value = response.json().await.unwrap();
    assert!(body["rows"].as_array().unwrap().len() >= 2);
    let capped: Value = server.query(&analyst, "SELECT * FROM demo.touchpoint_events").await.json().await.unwrap();
    assert_eq!(capped["rows"].as_array().unwrap().len(), 50, "the row limit caps the answer");

    let refused = [
        ("CREATE TABLE t AS SELECT 1", "read_only"),
        ("DROP VIEW tx.customers", "read_only"),
        ("INSERT INTO demo.customers SELECT * FROM demo.customers", "read_only"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "read_only"),
        ("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'", "read_only"),
        ("SET datafusion.execution.batch_size = 1", "read_only"),
        ("SELECT * FROM '/etc/passwd'", "read_only"),
        ("WITH f AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM f", "read_only"),
        ("SELECT 1; SELECT 2", "multiple_statements"),
        ("", "empty_query"),
        ("SELEC 1", "sql_syntax"),
        ("SELECT nope FROM tx.customers", "query_failed"),
        ("SELECT * FROM tx.nope", "query_failed"),
    ];
    for (sql, code) in refused {
        let (status, got) = error_code(server.query(&analyst, sql).await).await;
        assert_eq!((status, got.as_str()), (400, code), "{sql}");
    }
    let broken_body = server
        .client
        .post(format!("{}/api/v1/query", server.base))
        .bearer_auth(&analyst)
        .header("content-type", "application/json")
        .body("{\"sql\": \"SELECT 1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(broken_body).await, (400, "invalid_body".into()));
    let huge = "x".repeat(2 * 1024 * 1024);
    let too_big = server.query(&analyst, &huge).await;
    assert_eq!(error_code(too_big).await, (413, "body_too_large".into()), "bodies are bounded");
}

#[tokio::test]
async fn every_way_to_send_a_key_against_every_role_and_endpoint_class() {
    let server = start(shared_lake(), "").await;
    let keys = &server.keys;
    // (role's key, expected status for viewer / analyst / admin endpoints)
    let roles = [
        (keys.viewer.as_str(), [200, 403, 403]),
        (keys.analyst.as_str(), [200, 200, 403]),
        (keys.admin.as_str(), [200, 200, 404]),
    ];
    let endpoint = |class: usize| -> reqwest::RequestBuilder {
        match class {
            0 => server.client.get(format!("{}/api/v1/metrics", server.base)),
            1 => server.client.post(format!("{}/api/v1/query", server.base)).json(&json!({"sql": "SELECT 1"})),
            // An admin reaches the handler, which knows no such connection.
            _ => server.client.post(format!("{}/api/v1/connections/nope/sync", server.base)),
        }
    };
    for (key, expected) in roles {
        for (class, status) in expected.iter().enumerate() {
            let ways = [
                endpoint(class).bearer_auth(key),
                endpoint(class).header("x-api-key", key),
                endpoint(class).basic_auth("powerbi", Some(key)),
                endpoint(class).query(&[("api_key", key)]),
            ];
            for (way, request) in ways.into_iter().enumerate() {
                let response = request.send().await.unwrap();
                assert_eq!(response.status().as_u16(), *status, "class {class}, way {way}");
            }
        }
    }
    for class in 0..3 {
        let (status, code) = error_code(endpoint(class).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "no key, class {class}");
        let (status, _) = error_code(endpoint(class).bearer_auth("txl_wrong").send().await.unwrap()).await;
        assert_eq!(status, 401, "wrong key, class {class}");
    }
    // Probes and the documents need no key.
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"] {
        let response = server.client.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let ready: Value = server.client.get(format!("{}/readyz", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert!(ready["tables"].as_u64().unwrap() >= 9);
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let server = start(shared_lake(), "").await;
    let served = server.client.get(format!("{}/openapi.json", server.base)).send().await.unwrap().text().await.unwrap();
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json")).unwrap();
    assert_eq!(served, committed, "regenerate with `cargo run -- openapi > openapi/openapi.json`");
    let docs = server.client.get(format!("{}/docs", server.base)).send().await.unwrap().text().await.unwrap();
    // The reference page loads the vendored Scalar from this server, nothing from a CDN.
    assert!(docs.contains("console/vendor/scalar/standalone.js") && !docs.contains("https://"), "{docs}");
    let printed = txlake(&["openapi"]);
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), committed);
}

#[tokio::test]
async fn a_sync_starts_in_the_background_refuses_a_second_and_reports_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "").await;
    let admin = server.keys.admin.clone();
    let sync =
        || server.client.post(format!("{}/api/v1/connections/demo/sync", server.base)).bearer_auth(&admin).send();
    let first = sync().await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let started: Value = first.json().await.unwrap();
    let run_id = started["run_id"].as_str().unwrap().to_string();
    let (status, code) = error_code(sync().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (409, "sync_running"));

    let connections = server.json("/api/v1/connections").await;
    assert_eq!(connections["connections"][0]["name"], "demo");
    assert_eq!(connections["connections"][0]["running"], true);

    // Wait for the run to end (the sync runs on this runtime; polling yields to it).
    let run = loop {
        let run = server.json(&format!("/api/v1/syncs/{run_id}")).await;
        if run["status"] != "running" {
            break run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["records"].as_u64().unwrap() > 1000, "{run}");
    let runs = server.json("/api/v1/syncs").await;
    assert_eq!(runs["runs"][0]["run_id"], run_id.as_str());
    // The new tables are queryable at once, and the prometheus counters saw the run.
    let tables = server.json("/api/v1/tables").await;
    assert!(tables["tables"].as_array().unwrap().iter().any(|t| t["name"] == "demo.customers"));
    let nps = server.json("/api/v1/metrics/nps").await;
    assert_eq!(nps["rows"].as_array().unwrap().len(), 1);
    let prometheus = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(prometheus.contains("txlake_sync_runs_total{connection=\"demo\",status=\"succeeded\"} 1"), "{prometheus}");
    let second = sync().await.unwrap();
    assert_eq!(second.status(), StatusCode::ACCEPTED, "once the run ended, another may start");
}

#[test]
fn without_keys_the_server_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("txlake.toml"), "[lake]\nurl = \"file://./lake\"\n").unwrap();
    let config = dir.path().join("txlake.toml");
    let output = txlake(&["serve", "--config", config.to_str().unwrap(), "--listen", "0.0.0.0:0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("loopback") && stderr.contains("txlake keys create"), "{stderr}");

    let created = txlake(&["keys", "create", "--name", "powerbi", "--role", "viewer"]);
    assert!(created.status.success());
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(
        stdout.contains("[[auth.keys]]") && stdout.contains("role = \"viewer\"") && stdout.contains("txl_"),
        "{stdout}"
    );
    let bad_role = txlake(&["keys", "create", "--name", "x", "--role", "owner"]);
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("viewer"), "the error lists the roles");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Whatever a client sends, the answer is never a 5xx.
    #[test]
    fn no_request_makes_the_server_fail(
        path in prop::sample::select(vec![
            "/api/v1/metrics/nps", "/api/v1/metrics/csat", "/api/v1/metrics/journey_paths", "/api/v1/metrics/",
            "/api/v1/tables/tx.customers", "/api/v1/tables/demo.tickets", "/api/v1/query", "/api/v1/syncs/x",
        ]),
        query in "[a-z_=&%,.:0-9 -]{0,40}",
        body in ".{0,60}",
        post in any::<bool>(),
    ) {
        let runtime = test_runtime();
        runtime.block_on(async {
            let server = shared_server().await;
            let url = format!("{}{path}?{query}", server.base);
            let request = if post {
                server.client.post(&url).body(body.clone()).header("content-type", "application/json")
            } else {
                server.client.get(&url)
            };
            let response = request.bearer_auth(&server.keys.admin).send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            prop_assert!(status.as_u16() < 500, "{} {url} {body:?} -> {status} {text}", if post { "POST" } else { "GET" });
            Ok(())
        })?;
    }
}

/// One runtime for the property test's cases, so their server lives across them.
fn test_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Runtime::new().unwrap())
}

async fn shared_server() -> &'static Server {
    static SERVER: tokio::sync::OnceCell<Server> = tokio::sync::OnceCell::const_new();
    SERVER.get_or_init(|| start(shared_lake(), "")).await
}
