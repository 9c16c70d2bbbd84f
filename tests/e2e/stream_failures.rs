//! One stream's failure does not stop the others, and clear words about why: a declarative
//! connector whose `site` answer lacks a required field (the stream fails, naming the field
//! and showing the record; its partition child fails saying its parent failed; the other
//! streams commit; `txlake sync` exits 1) and whose `courses` answer lacks the records path
//! (a warning, counted in the run history). Through the library: `ReplaceRows` swaps a
//! re-read file's rows in one commit, only once, and an abort before that commit keeps the
//! old rows; `StreamFailed` drops the stream's pending records and keeps its state.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use arrow::array::{AsArray as _, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use async_trait::async_trait;
use axum::extract::Query;
use axum::response::IntoResponse;
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use txlake_connector::{
    Catalog, Connector, Message, MessageStream, ReadRequest, Registry, Spec, StreamDescriptor, StreamMode, SyncMode,
};
use txlake_lake::{Lake, RunStatus, StreamTable, SyncRuns, TableId, WriteMode};
use txlake_sync::{ConnectionConfig, Observer, StopHandle, SyncOptions, sync_connection};

use crate::support::{file_lake, raw_engine, txlake_bin};

const MANIFEST: &str = r#"
name: campus_api
description: A fake campus API whose site answer lacks a required field.
spec:
  type: object
  required: [token]
  properties:
    token: { type: string, x-secret: true }
requester:
  base_url: https://campus.invalid
  auth: { type: bearer, token: "{{ config.token }}" }
  retry: { base_delay_ms: 10, max_attempts: 2 }
streams:
  - name: site
    primary_key: [siteurl]
    request: { path: /site }
    schema:
      type: object
      required: [siteurl]
      properties:
        siteurl: { type: string }
        sitename: { type: [string, "null"] }
  - name: site_admins
    primary_key: [id]
    partition: { stream: site }
    request: { path: /admins, params: { site: "{{ partition.siteurl }}" } }
    schema:
      type: object
      required: [id]
      properties:
        id: { type: integer }
  - name: courses
    primary_key: [id]
    request: { path: /courses }
    records: { path: courses }
    paginator: { type: cursor, token: "{{ response.next }}", inject: { param: page } }
    schema:
      type: object
      required: [id]
      properties:
        id: { type: integer }
        name: { type: [string, "null"] }
  - name: groups
    primary_key: [id]
    request: { path: /groups }
    schema:
      type: object
      required: [id]
      properties:
        id: { type: integer }
        name: { type: [string, "null"] }
"#;

async fn campus_api() -> String {
    let router = axum::Router::new()
        .route(
            "/site",
            axum::routing::get(|| async {
                axum::Json(json!({ "sitename": "Campus", "username": "admin", "release": "4.3", "lang": "en" }))
            }),
        )
        .route("/admins", axum::routing::get(|| async { axum::Json(json!([{ "id": 1 }])) }))
        .route(
            "/courses",
            axum::routing::get(|Query(q): Query<HashMap<String, String>>| async move {
                // The second page leaves `courses` out (as some APIs do when a list is empty).
                match q.get("page").map(String::as_str) {
                    None => axum::Json(json!({ "courses": [{ "id": 1, "name": "Onboarding" }, { "id": 2, "name": "Safety" }], "next": "2" })),
                    Some(_) => axum::Json(json!({ "next": null })),
                }
                .into_response()
            }),
        )
        .route("/groups", axum::routing::get(|| async { axum::Json(json!([{ "id": 7, "name": "Support" }])) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_stream_fails_the_run_by_name_while_the_others_commit() {
    let base = campus_api().await;
    let dir = tempfile::tempdir().unwrap();
    let connectors = dir.path().join("connectors/campus_api");
    std::fs::create_dir_all(&connectors).unwrap();
    std::fs::write(connectors.join("manifest.yaml"), MANIFEST).unwrap();
    let config = dir.path().join("txlake.toml");
    std::fs::write(
        &config,
        format!(
            "connectors_dir = \"connectors\"\n[lake]\nurl = \"file://./lake\"\n[connections.campus]\nconnector = \"campus_api\"\nconfig = {{ token = \"s3cret-token\", base_url = \"{base}\" }}\nstreams = [\"site\", \"site_admins\", \"courses\", \"groups\"]\n"
        ),
    )
    .unwrap();
    let run = |command: &'static str| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(txlake_bin())
                .arg(command)
                .arg("--config")
                .arg(&config)
                .env_remove("RUST_LOG")
                .output()
                .unwrap()
        })
    };
    let output = run("sync").await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "a failed stream fails the sync: {stderr}");
    // The failed stream, the field, that the schema requires it, the record.
    assert!(stderr.contains("stream `site` failed"), "{stderr}");
    assert!(stderr.contains("lacks the field `siteurl`, which the stream's schema requires"), "{stderr}");
    assert!(stderr.contains(r#""sitename":"Campus""#), "the record is shown: {stderr}");
    assert!(!stderr.contains("unmasked nulls"), "Arrow's words are translated: {stderr}");
    // Its partition child fails, saying why.
    assert!(stderr.contains("stream `site_admins` failed") && stderr.contains("`site`, which failed"), "{stderr}");
    // The page without `courses` is a warning naming the stream, the path and the URL.
    assert!(stderr.contains("stream `courses`: the answer of") && stderr.contains("/courses?page=2"), "{stderr}");
    assert!(!stderr.contains("s3cret-token"), "{stderr}");

    let lake = file_lake(dir.path());
    let engine = raw_engine(&lake).await;
    let count = |table: &'static str| {
        let engine = &engine;
        async move {
            let batches =
                engine.sql(&format!("SELECT count(*) FROM campus.{table}")).await.unwrap().collect().await.unwrap();
            batches[0].column(0).as_primitive::<Int64Type>().value(0)
        }
    };
    assert_eq!(count("courses").await, 2, "the other streams committed");
    assert_eq!(count("groups").await, 1);

    let runs = SyncRuns::new(&lake).list().await.unwrap();
    let by_stream = |s: &str| runs.iter().find(|r| r.stream == s).unwrap().clone();
    assert_eq!(by_stream("site").status, RunStatus::Failed);
    assert!(by_stream("site").error.unwrap().contains("siteurl"));
    assert_eq!(by_stream("site_admins").status, RunStatus::Failed);
    assert_eq!(by_stream("courses").status, RunStatus::Succeeded);
    assert_eq!(by_stream("courses").warnings, 1, "one page lacked the records path");
    assert_eq!((by_stream("groups").status, by_stream("groups").warnings), (RunStatus::Succeeded, 0));

    let listing = run("runs").await.unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(listing.contains("warnings"), "{listing}");
    assert!(listing.lines().any(|l| l.contains("courses") && l.contains("succeeded")), "{listing}");
    assert!(listing.lines().any(|l| l.contains("site ") && l.contains("failed")), "{listing}");
}

/// What the scripted connector's read sends, by the test, message by message.
type Script = Arc<Mutex<Option<mpsc::UnboundedReceiver<Message>>>>;

/// A connector whose read sends what the test pushes into its script.
struct Scripted {
    script: Script,
}

fn answers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("_file", DataType::Utf8, true),
        Field::new("score", DataType::Int64, true),
    ]))
}

fn answers(rows: &[(i64, &str, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        answers_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap()
}

#[async_trait]
impl Connector for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn description(&self) -> &str {
        "sends what the test scripts"
    }
    fn spec(&self) -> Spec {
        Spec { config_schema: json!({ "type": "object" }), documentation: None }
    }
    async fn check(&self, _config: &Value) -> txlake_connector::Result<()> {
        Ok(())
    }
    async fn discover(&self, _config: &Value) -> txlake_connector::Result<Catalog> {
        let stream = |name: &str| StreamDescriptor {
            name: name.into(),
            description: String::new(),
            schema: answers_schema(),
            primary_key: vec!["id".into()],
            cursor_field: None,
            sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
            default_mode: StreamMode::IncrementalAppend,
        };
        Ok(Catalog { streams: vec![stream("answers"), stream("other")], ..Catalog::default() })
    }
    async fn read(&self, _request: ReadRequest) -> txlake_connector::Result<MessageStream> {
        let rx = self.script.lock().unwrap().take().expect("one read per script");
        Ok(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (Ok(m), rx)) }).boxed())
    }
}

/// Wakes the test when records arrive.
#[derive(Default)]
struct Arrivals(Notify);

impl Observer for Arrivals {
    fn records(&self, _stream: &str, _rows: u64) {
        self.0.notify_one();
    }
}

async fn rows(lake: &Lake, table: &str) -> Vec<(i64, String, i64)> {
    let batches = raw_engine(lake)
        .await
        .sql(&format!("SELECT id, _file, score FROM {table} ORDER BY id"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in batches {
        let files = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
        for i in 0..b.num_rows() {
            out.push((
                b.column(0).as_primitive::<Int64Type>().value(i),
                files.as_string::<i32>().value(i).to_string(),
                b.column(2).as_primitive::<Int64Type>().value(i),
            ));
        }
    }
    out
}

async fn committed_state(lake: &Lake, stream: &str) -> Option<Value> {
    StreamTable::open(lake, &TableId::new("uploads", stream), answers_schema(), WriteMode::Append)
        .await
        .unwrap()
        .committed_state()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_rows_swaps_a_reuploaded_file_once_and_a_failed_stream_keeps_its_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let lake = file_lake(dir.path());
    let script: Script = Arc::default();
    let mut registry = Registry::new();
    registry.register(Arc::new(Scripted { script: script.clone() }));
    let connection: ConnectionConfig = serde_json::from_value(json!({ "connector": "scripted" })).unwrap();
    let state = |files: Value| json!({ "files": files });
    // Runs one sync over `messages`.
    let sync = |messages: Vec<Message>| {
        let (tx, rx) = mpsc::unbounded_channel();
        *script.lock().unwrap() = Some(rx);
        for m in messages {
            tx.send(m).unwrap();
        }
        drop(tx);
        let (lake, registry, connection) = (&lake, &registry, &connection);
        async move {
            sync_connection(lake, registry, "uploads", connection, &SyncOptions::default(), &Arrivals::default())
                .await
                .unwrap()
        }
    };
    let batch =
        |stream: &str, rows: &[(i64, &str, i64)]| Message::Batch { stream: stream.into(), batch: answers(rows) };
    let checkpoint = |stream: &str, files: Value| Message::State { stream: stream.into(), state: state(files) };

    // First upload of a.csv and b.csv.
    let report = sync(vec![
        batch("answers", &[(1, "a.csv", 9), (2, "a.csv", 7), (3, "b.csv", 10)]),
        checkpoint("answers", json!(["a.csv@1", "b.csv@1"])),
        batch("other", &[(1, "x", 1)]),
        checkpoint("other", json!(["x@1"])),
    ])
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);

    // a.csv is re-uploaded with other rows, and `other` fails after sending a record.
    let report = sync(vec![
        Message::ReplaceRows { stream: "answers".into(), column: "_file".into(), value: "a.csv".into() },
        batch("answers", &[(4, "a.csv", 3)]),
        checkpoint("answers", json!(["a.csv@2", "b.csv@1"])),
        batch("other", &[(2, "y", 1)]),
        Message::StreamFailed { stream: "other".into(), error: "y.csv: row 3 has 4 fields, the header 3".into() },
        // a.csv grew: its further rows are added, the rows just written are not deleted again.
        batch("answers", &[(5, "a.csv", 8)]),
        checkpoint("answers", json!(["a.csv@3", "b.csv@1"])),
    ])
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.clone().unwrap();
    assert!(error.contains("stream `other` failed: y.csv: row 3"), "{error}");
    let other = report.streams.iter().find(|r| r.stream == "other").unwrap();
    assert_eq!((other.status, other.records), (RunStatus::Failed, 0));
    let answers_run = report.streams.iter().find(|r| r.stream == "answers").unwrap();
    assert_eq!((answers_run.status, answers_run.error.as_deref()), (RunStatus::Succeeded, None));
    assert_eq!(
        rows(&lake, "uploads.answers").await,
        vec![(3, "b.csv".into(), 10), (4, "a.csv".into(), 3), (5, "a.csv".into(), 8)],
        "a.csv's old rows are gone, its new ones are there once"
    );
    assert_eq!(committed_state(&lake, "answers").await, Some(state(json!(["a.csv@3", "b.csv@1"]))));
    assert_eq!(rows(&lake, "uploads.other").await, vec![(1, "x".into(), 1)], "the failed stream kept its commit");
    assert_eq!(committed_state(&lake, "other").await, Some(state(json!(["x@1"]))), "and its state");

    // a.csv re-uploaded again, but the run is aborted after the replacement and before the
    // commit: the old rows and state stay.
    let (tx, rx) = mpsc::unbounded_channel();
    *script.lock().unwrap() = Some(rx);
    tx.send(Message::ReplaceRows { stream: "answers".into(), column: "_file".into(), value: "a.csv".into() }).unwrap();
    tx.send(batch("answers", &[(6, "a.csv", 1)])).unwrap();
    let observer = Arrivals::default();
    let options = SyncOptions { stop: StopHandle::new(), ..SyncOptions::default() };
    let run = sync_connection(&lake, &registry, "uploads", &connection, &options, &observer);
    let abort = async {
        observer.0.notified().await;
        options.stop.request_stop();
        options.stop.request_stop();
    };
    let (report, ()) = tokio::join!(run, abort);
    drop(tx);
    assert_eq!(report.unwrap().status, RunStatus::Cancelled);
    assert_eq!(rows(&lake, "uploads.answers").await.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 4, 5]);
    assert_eq!(committed_state(&lake, "answers").await, Some(state(json!(["a.csv@3", "b.csv@1"]))));

    // Replacing by a column the stream does not have would leave old rows beside new ones.
    let report = sync(vec![
        Message::ReplaceRows { stream: "answers".into(), column: "file".into(), value: "a.csv".into() },
        batch("answers", &[(7, "a.csv", 2)]),
        checkpoint("answers", json!(["a.csv@4", "b.csv@1"])),
    ])
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(report.error.as_deref().is_some_and(|e| e.contains("has no column `file`")), "{:?}", report.error);
    assert_eq!(rows(&lake, "uploads.answers").await.len(), 3, "nothing committed");
}

/// Issue 16's report: Moodle's `site_info` answered without `siteurl` used to leave
/// `courses` and `enrolments` empty. Now only `site_info` fails, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moodle_site_info_without_siteurl_fails_alone() {
    let (router, _fake) = crate::moodle::fake_api();
    // The site answer loses `siteurl` on its way out of the fake.
    let router = router.layer(axum::middleware::from_fn(
        |request: axum::extract::Request, next: axum::middleware::Next| async move {
            let site = request.uri().query().is_some_and(|q| q.contains("wsfunction=core_webservice_get_site_info"));
            let response = next.run(request).await;
            if !site {
                return response;
            }
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let mut body: Value = serde_json::from_slice(&bytes).unwrap();
            body.as_object_mut().unwrap().remove("siteurl");
            axum::Json(body).into_response()
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let dir = tempfile::tempdir().unwrap();
    let lake = file_lake(dir.path());
    let connection: ConnectionConfig = serde_json::from_value(json!({
        "connector": "moodle",
        "config": { "url": base, "token": crate::moodle::TOKEN },
        "streams": ["site_info", "courses", "enrolments"],
    }))
    .unwrap();
    let registry = txlake_sync::connectors::builtin_registry();
    let report = sync_connection(&lake, &registry, "lms", &connection, &SyncOptions::default(), &Arrivals::default())
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("stream `site_info` failed") && error.contains("lacks the field `siteurl`"), "{error}");
    assert!(error.contains(r#""fullname":"txlake Integration""#), "the record is shown: {error}");
    assert!(!error.contains(crate::moodle::TOKEN), "{error}");
    for stream in ["courses", "enrolments"] {
        let run = report.streams.iter().find(|r| r.stream == stream).unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{stream}: {:?}", run.error);
        assert!(run.records > 0, "{stream} committed its records");
    }
}
