//! Sync semantics through the library: a connector failing mid-stream, incremental runs with
//! dedupe, full refresh, the run history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt as _;
use serde_json::{Value, json};
use txlake_connector::{Catalog, Connector, ConnectorError, Message, MessageStream, ReadRequest, Registry, Spec};
use txlake_connector_sample::SampleConnector;
use txlake_lake::{CommitSummary, Lake, RunStatus, SyncRuns, TableId};
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{CommitPolicy, ConnectionConfig, Observer, QuietObserver, SyncOptions, sync_connection};

use crate::support::{assert_same_tables, count_ids, small_world};

fn memory_lake(name: &str) -> Lake {
    Lake::open(&format!("memory://{name}"), std::path::Path::new("/"), HashMap::new()).unwrap()
}

fn connection(connector: &str, config: Value) -> ConnectionConfig {
    ConnectionConfig {
        connector: connector.into(),
        config,
        streams: None,
        modes: Default::default(),
        survey_mapping: None,
    }
}

fn options(commit_rows: u64) -> SyncOptions {
    SyncOptions { policy: CommitPolicy { commit_rows, ..CommitPolicy::default() }, ..SyncOptions::default() }
}

/// The sample connector, but the source "fails" after a number of messages.
struct FlakySample {
    fail_after_messages: usize,
}

#[async_trait]
impl Connector for FlakySample {
    fn name(&self) -> &str {
        "flaky"
    }
    fn description(&self) -> &str {
        "the sample connector with an upstream failure mid-stream"
    }
    fn spec(&self) -> Spec {
        SampleConnector.spec()
    }
    async fn check(&self, config: &Value) -> txlake_connector::Result<()> {
        SampleConnector.check(config).await
    }
    async fn discover(&self, config: &Value) -> txlake_connector::Result<Catalog> {
        SampleConnector.discover(config).await
    }
    async fn read(&self, request: ReadRequest) -> txlake_connector::Result<MessageStream> {
        let inner = SampleConnector.read(request).await?;
        let fail_after = self.fail_after_messages;
        Ok(inner
            .enumerate()
            .map(move |(i, message)| {
                if i == fail_after {
                    Err(ConnectorError::Source("HTTP 502 Bad Gateway from upstream on page 17".into()))
                } else {
                    message
                }
            })
            .take_while({
                let mut failed = false;
                move |m: &Result<Message, ConnectorError>| {
                    let go = !failed;
                    failed |= m.is_err();
                    futures::future::ready(go)
                }
            })
            .boxed())
    }
}

/// Remembers the version of every commit per stream.
#[derive(Default)]
struct Commits(Mutex<HashMap<String, i64>>);

impl Observer for Commits {
    fn committed(&self, stream: &str, summary: &CommitSummary) {
        self.0.lock().unwrap().insert(stream.to_string(), summary.version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_mid_stream_keeps_the_last_commit_and_records_the_error() {
    // Fail 60% of the way through the read, so some commits land before the failure.
    let catalog = SampleConnector.discover(&small_world(None)).await.unwrap();
    let configured = txlake_connector::ConfiguredCatalog {
        streams: catalog
            .streams
            .iter()
            .map(|s| txlake_connector::ConfiguredStream { stream: s.clone(), mode: s.default_mode })
            .collect(),
    };
    let request = ReadRequest { config: small_world(None), catalog: configured, state: Default::default() };
    let total = SampleConnector.read(request).await.unwrap().count().await;
    let lake = memory_lake("flaky");
    let mut registry = Registry::new();
    registry.register(Arc::new(FlakySample { fail_after_messages: total * 3 / 5 }));
    let commits = Commits::default();
    let report =
        sync_connection(&lake, &registry, "demo", &connection("flaky", small_world(None)), &options(300), &commits)
            .await
            .unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    assert!(report.error.as_deref().unwrap().contains("502"), "{:?}", report.error);

    // Every table is exactly at the last commit the sync reported.
    let committed = commits.0.lock().unwrap().clone();
    assert!(!committed.is_empty(), "some commits landed before the failure");
    for (stream, version) in &committed {
        let table = lake.load_table(&lake.table_url(&TableId::new("demo", stream))).await.unwrap().unwrap();
        assert_eq!(table.version().map(|v| v as i64), Some(*version), "{stream} is at its last commit");
    }

    // The run history says what happened.
    let runs = SyncRuns::new(&lake).list().await.unwrap();
    assert!(!runs.is_empty());
    assert!(runs.iter().all(|r| r.status == RunStatus::Failed && r.error.as_deref().unwrap_or("").contains("502")));

    // The next run resumes and ends identical to a run that never failed.
    let report = sync_connection(
        &lake,
        &builtin_registry(),
        "demo",
        &connection("sample", small_world(None)),
        &options(500),
        &QuietObserver,
    )
    .await
    .unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let reference = memory_lake("flaky-reference");
    sync_connection(
        &reference,
        &builtin_registry(),
        "demo",
        &connection("sample", small_world(None)),
        &options(500),
        &QuietObserver,
    )
    .await
    .unwrap();
    assert_same_tables(&reference, &lake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_runs_dedupe_updates_and_match_a_single_run() {
    let registry = builtin_registry();
    let lake = memory_lake("incremental");
    for end in ["2025-02-10", "2025-03-05", "2025-04-01"] {
        let report = sync_connection(
            &lake,
            &registry,
            "demo",
            &connection("sample", small_world(Some(end))),
            &options(2_000),
            &QuietObserver,
        )
        .await
        .unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    }
    let reference = memory_lake("incremental-reference");
    sync_connection(
        &reference,
        &registry,
        "demo",
        &connection("sample", small_world(Some("2025-04-01"))),
        &options(2_000),
        &QuietObserver,
    )
    .await
    .unwrap();
    assert_same_tables(&reference, &lake).await;

    // Updated records replaced their older versions: one row per customer and ticket.
    for table in ["demo.customers", "demo.tickets", "demo.enrollments", "demo.employees"] {
        let (rows, ids) = count_ids(&lake, table).await;
        assert_eq!(rows, ids, "{table} holds one row per id");
        assert!(rows > 0);
    }
    let solved = crate::support::raw_engine(&lake)
        .await
        .sql("SELECT count(*) FROM demo.tickets WHERE status = 'solved' AND solved_at IS NOT NULL")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let solved = solved[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0);
    assert!(solved > 0, "tickets opened in one run and solved in a later one were updated in place");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_refresh_replaces_each_table_in_one_commit() {
    let registry = builtin_registry();
    let lake = memory_lake("full-refresh");
    let demo = connection("sample", small_world(None));
    sync_connection(&lake, &registry, "demo", &demo, &options(1_000), &QuietObserver).await.unwrap();
    let url = lake.table_url(&TableId::new("demo", "survey_responses"));
    let before = lake.load_table(&url).await.unwrap().unwrap().version().unwrap();
    let before_rows = count_ids(&lake, "demo.survey_responses").await;

    let refresh = SyncOptions { full_refresh: true, ..options(1_000) };
    let report = sync_connection(&lake, &registry, "demo", &demo, &refresh, &QuietObserver).await.unwrap();
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(report.streams.iter().all(|s| s.mode == "full_refresh" && s.commits == 1));
    let after = lake.load_table(&url).await.unwrap().unwrap().version().unwrap();
    assert_eq!(after, before + 1, "the whole table was replaced in a single commit");
    assert_eq!(count_ids(&lake, "demo.survey_responses").await, before_rows, "same records, not twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_mistakes_are_reported_before_anything_is_written() {
    let registry = builtin_registry();
    let lake = memory_lake("mistakes");
    let bad = connection("sample", json!({"customers": "many"}));
    let err =
        sync_connection(&lake, &registry, "demo", &bad, &options(1_000), &QuietObserver).await.unwrap_err().to_string();
    assert!(err.contains("config.customers"), "{err}");

    let mut unknown_stream = connection("sample", small_world(None));
    unknown_stream.streams = Some(vec!["invoices".into()]);
    let err = sync_connection(&lake, &registry, "demo", &unknown_stream, &options(1_000), &QuietObserver)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invoices") && err.contains("tickets"), "{err}");

    let mut bad_mode = connection("sample", small_world(None));
    bad_mode.streams = Some(vec!["courses".into()]);
    bad_mode.modes.insert("courses".into(), txlake_connector::StreamMode::IncrementalAppend);
    let err = sync_connection(&lake, &registry, "demo", &bad_mode, &options(1_000), &QuietObserver)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("courses") && err.contains("full_refresh"), "{err}");

    let err = sync_connection(
        &lake,
        &registry,
        "demo",
        &connection("salesforce", json!({})),
        &options(1_000),
        &QuietObserver,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("salesforce") && err.contains("sample"), "{err}");
    assert!(lake.list_raw_tables().await.unwrap().is_empty(), "nothing was written");
}
