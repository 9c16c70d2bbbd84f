//! External connectors speaking the Airbyte protocol (`connector = "airbyte:<command>"`),
//! driven by a small Python source (`fixtures/airbyte_source.py`): spec, check and discover
//! through the connector and the CLI; full and incremental syncs into Delta tables; a crash
//! mid-read that keeps the last committed state and resumes without loss or duplicates; the
//! legacy state form; records that do not fit; logs in the sync output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use serde_json::{Value, json};
use txlake_airbyte::AirbyteConnector;
use txlake_connector::{Connector, ConnectorError, StreamMode, SyncMode};
use txlake_lake::{Lake, RunStatus, StreamTable, SyncRuns, TableId, WriteMode};
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{CommitPolicy, ConnectionConfig, QuietObserver, SyncOptions, SyncReport, sync_connection};

use crate::support::{count_ids, raw_engine, txlake_bin};

/// The repository root, where the CLI tests run so relative paths can be used.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `python3 '<absolute path of the fixture>'`.
fn command() -> String {
    format!("python3 '{}'", root().join("tests/e2e/fixtures/airbyte_source.py").display())
}

fn connector_name() -> String {
    format!("airbyte:{}", command())
}

fn memory_lake(name: &str) -> Lake {
    Lake::open(&format!("memory://airbyte-{name}"), Path::new("/"), HashMap::new()).unwrap()
}

/// The fixture as connection `src`, its events appended (so a record landing twice shows).
fn connection(config: Value) -> ConnectionConfig {
    ConnectionConfig {
        connector: connector_name(),
        config,
        streams: None,
        modes: [("events".to_string(), StreamMode::IncrementalAppend)].into(),
        survey_mapping: None,
    }
}

/// Every checkpoint is committed.
fn options() -> SyncOptions {
    SyncOptions { policy: CommitPolicy { commit_rows: 1, ..CommitPolicy::default() }, ..SyncOptions::default() }
}

async fn sync(lake: &Lake, config: Value) -> SyncReport {
    sync_connection(lake, &builtin_registry(), "src", &connection(config), &options(), &QuietObserver).await.unwrap()
}

fn records(report: &SyncReport, stream: &str) -> u64 {
    report.streams.iter().find(|s| s.stream == stream).unwrap().records
}

async fn one_row(lake: &Lake, sql: &str) -> arrow::record_batch::RecordBatch {
    let batches = raw_engine(lake).await.sql(sql).await.unwrap().collect().await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1, "{sql}");
    batches.into_iter().find(|b| b.num_rows() == 1).unwrap()
}

async fn committed_events_state(lake: &Lake) -> Option<Value> {
    let catalog =
        AirbyteConnector::new(&command()).await.unwrap().discover(&json!({"api_key": "secret"})).await.unwrap();
    let schema = catalog.stream("events").unwrap().schema.clone();
    let table = StreamTable::open(lake, &TableId::new("src", "events"), schema, WriteMode::Append).await.unwrap();
    table.committed_state().await.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `txlake ARGS` run from the repository root.
fn txlake_at_root(args: &[&str]) -> Output {
    Command::new(txlake_bin()).args(args).current_dir(root()).env_remove("RUST_LOG").output().unwrap()
}

fn write_config(dir: &Path, config: &str) -> PathBuf {
    let path = dir.join("txlake.toml");
    let text = format!(
        "[lake]\nurl = \"file://./lake\"\n\n[sync]\ncommit_rows = 1\n\n[connections.src]\nconnector = \"{}\"\nconfig = {config}\nmodes = {{ events = \"incremental_append\" }}\n",
        connector_name()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airbyte_spec_check_and_discover_through_the_connector() {
    let connector = AirbyteConnector::new(&command()).await.unwrap();
    assert_eq!(connector.name(), connector_name());
    assert!(connector.description().contains("Fixture Source Spec"), "{}", connector.description());
    let spec = connector.spec();
    assert!(spec.config_schema["properties"]["events"].is_object());
    assert_eq!(spec.secret_fields(), ["api_key"], "airbyte_secret fields are masked");
    assert_eq!(spec.documentation.as_deref(), Some("https://example.com/airbyte-fixture"));
    spec.validate(connector.name(), &json!({"api_key": "secret", "events": 3})).unwrap();
    assert!(spec.validate(connector.name(), &json!({"events": -1})).is_err());

    connector.check(&json!({"api_key": "secret"})).await.unwrap();

    let catalog = connector.discover(&json!({"api_key": "secret"})).await.unwrap();
    assert_eq!(catalog.names(), ["events", "users"]);
    let events = catalog.stream("events").unwrap();
    assert_eq!(events.primary_key, ["id"]);
    assert_eq!(events.cursor_field.as_deref(), Some("id"));
    assert_eq!(events.sync_modes, [SyncMode::FullRefresh, SyncMode::Incremental]);
    assert_eq!(events.default_mode, StreamMode::IncrementalDedupe);
    assert_eq!(events.description, "One event.");
    let schema = &events.schema;
    assert!(matches!(schema.field_with_name("at").unwrap().data_type(), DataType::Timestamp(..)));
    assert_eq!(schema.field_with_name("day").unwrap().data_type(), &DataType::Date32);
    assert!(matches!(schema.field_with_name("meta").unwrap().data_type(), DataType::Struct(f) if f.len() == 2));
    assert!(schema.field_with_name("payload").is_err(), "an object without properties has no column");
    let users = catalog.stream("users").unwrap();
    assert_eq!(
        (users.sync_modes.as_slice(), users.default_mode),
        ([SyncMode::FullRefresh].as_slice(), StreamMode::FullRefresh)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airbyte_check_with_bad_credentials_fails_clearly() {
    let connector = AirbyteConnector::new(&command()).await.unwrap();
    let err = connector.check(&json!({"api_key": "wrong"})).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("authentication failed") && message.contains("401 Unauthorized"), "{message}");
    assert!(message.contains("airbyte_source.py"), "names the command: {message}");
}

#[test]
fn airbyte_connectors_through_the_cli() {
    let name = "airbyte:python3 tests/e2e/fixtures/airbyte_source.py";
    let spec = txlake_at_root(&["connectors", "spec", name]);
    assert!(spec.status.success(), "{}", text(&spec.stderr));
    let schema: Value = serde_json::from_slice(&spec.stdout).unwrap();
    assert_eq!(schema["properties"]["api_key"]["x-secret"], json!(true));

    let list = txlake_at_root(&["connectors", "list"]);
    assert!(text(&list.stdout).contains("airbyte:<command>"), "{}", text(&list.stdout));

    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), "{ api_key = \"secret\" }");
    let discover = txlake_at_root(&["connectors", "discover", "--config", good.to_str().unwrap(), "src"]);
    assert!(discover.status.success(), "{}", text(&discover.stderr));
    let out = text(&discover.stdout);
    assert!(out.contains("events") && out.contains("incremental_dedupe") && out.contains("users"), "{out}");
    let check = txlake_at_root(&["connectors", "check", "--config", good.to_str().unwrap(), "src"]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    let bad = write_config(dir.path(), "{ api_key = \"wrong\" }");
    let check = txlake_at_root(&["connectors", "check", "--config", bad.to_str().unwrap(), "src"]);
    assert!(!check.status.success());
    let err = text(&check.stderr);
    assert!(err.contains("authentication failed") && err.contains("api_key is not valid"), "{err}");

    let missing = txlake_at_root(&["connectors", "spec", "airbyte:./no-such-source --flag"]);
    assert!(!missing.status.success());
    let err = text(&missing.stderr);
    assert!(err.contains("cannot start `") && err.contains("no-such-source`") && err.contains("No such file"), "{err}");
    assert!(err.contains("set connector = \"airbyte:/absolute/path\""), "{err}");

    let not_a_source = txlake_at_root(&["connectors", "spec", "airbyte:true"]);
    assert!(!not_a_source.status.success());
    assert!(
        text(&not_a_source.stderr).contains("`true spec` printed no SPEC message"),
        "{}",
        text(&not_a_source.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airbyte_full_then_incremental_sync_lands_only_new_records() {
    let lake = memory_lake("incremental");
    let report = sync(&lake, json!({"api_key": "secret", "events": 12, "users": 3})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!((records(&report, "events"), records(&report, "users")), (12, 3));
    assert_eq!(count_ids(&lake, "src.events").await, (12, 12));
    assert_eq!(count_ids(&lake, "src.users").await, (3, 3));

    // The values arrive typed: sum(1.5 · i) over 1..12 = 117; ids divisible by 4 have no
    // name; even ids are active; the struct and list columns are queryable.
    let row = one_row(
        &lake,
        "SELECT sum(amount) AS amount, count(name) AS named, sum(CASE WHEN active THEN 1 ELSE 0 END) AS active, \
         max(meta['score']) AS score, count(tags[1]) AS tagged, min(day) AS day, \
         CAST(max(at) AS VARCHAR) AS at FROM src.events",
    )
    .await;
    assert_eq!(row.column(0).as_primitive::<Float64Type>().value(0), 117.0);
    assert_eq!(row.column(1).as_primitive::<Int64Type>().value(0), 9);
    assert_eq!(row.column(2).as_primitive::<Int64Type>().value(0), 6);
    assert_eq!(row.column(3).as_primitive::<Int64Type>().value(0), 4);
    assert_eq!(row.column(4).as_primitive::<Int64Type>().value(0), 12);
    assert!(!row.column(5).is_null(0));
    let at = arrow::util::display::array_value_to_string(row.column(6), 0).unwrap();
    assert!(at.starts_with("2025-01-01T00:12:00"), "{at}");
    assert_eq!(committed_events_state(&lake).await, Some(json!({"id": 12})), "the source's own stream_state");

    // The source now has 20 events: the next run is given the state and reads 8.
    let report = sync(&lake, json!({"api_key": "secret", "events": 20, "users": 3})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(records(&report, "events"), 8, "only the new events");
    assert_eq!(count_ids(&lake, "src.events").await, (20, 20));
    assert_eq!(count_ids(&lake, "src.users").await, (3, 3), "full refresh replaced the users");
    assert_eq!(committed_events_state(&lake).await, Some(json!({"id": 20})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airbyte_crash_mid_read_keeps_the_last_state_and_a_rerun_completes() {
    let lake = memory_lake("crash");
    // STATE every 5 events, a crash after the 17th: 15 are committed, 16 and 17 are not.
    let crashing = json!({"api_key": "secret", "events": 30, "state_every": 5, "fail_after": 17});
    let report = sync(&lake, crashing).await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.clone().unwrap();
    assert!(error.contains("airbyte_source.py") && error.contains("read` failed (exit code 3)"), "{error}");
    assert!(error.contains("Lost the connection to the events API"), "the TRACE error: {error}");
    assert!(error.contains("ConnectionResetError: upstream hung up after 17 records"), "stderr tail: {error}");
    assert_eq!(count_ids(&lake, "src.events").await, (15, 15), "the table stays at the last committed STATE");
    assert_eq!(committed_events_state(&lake).await, Some(json!({"id": 15})));
    let runs = SyncRuns::new(&lake).list().await.unwrap();
    assert!(
        runs.iter().any(|r| r.status == RunStatus::Failed && r.error.as_deref().unwrap_or("").contains("exit code 3"))
    );

    // The source recovers: the re-run resumes after 15, nothing lost or doubled.
    let report = sync(&lake, json!({"api_key": "secret", "events": 30, "state_every": 5})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(records(&report, "events"), 15);
    assert_eq!(count_ids(&lake, "src.events").await, (30, 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airbyte_legacy_state_round_trips() {
    let lake = memory_lake("legacy");
    let report = sync(&lake, json!({"api_key": "secret", "events": 10, "legacy_state": true})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let state = committed_events_state(&lake).await.unwrap();
    assert_eq!(state["airbyte_legacy_state"], json!({"events": {"id": 10}}), "{state}");
    // The fixture fails unless it is given the legacy document back.
    let report = sync(&lake, json!({"api_key": "secret", "events": 14, "legacy_state": true})).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    assert_eq!(records(&report, "events"), 4);
    assert_eq!(count_ids(&lake, "src.events").await, (14, 14));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airbyte_record_that_does_not_fit_fails_the_run_with_the_record() {
    let lake = memory_lake("mismatch");
    let report = sync(&lake, json!({"api_key": "secret", "events": 12, "bad_amount_at": 7})).await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("stream `events`") && error.contains(r#""amount": "lots""#), "{error}");
    assert_eq!(count_ids(&lake, "src.events").await, (5, 5), "committed up to the STATE before the bad record");
}

#[test]
fn airbyte_sync_through_the_cli_logs_the_source_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "{ api_key = \"secret\", events = 7 }");
    let sync = txlake_at_root(&["sync", "--config", config.to_str().unwrap()]);
    assert!(sync.status.success(), "{}", text(&sync.stderr));
    let logs = text(&sync.stderr);
    assert!(logs.contains("fixture: reading events after id 0"), "the source's LOG line:\n{logs}");
    assert!(logs.contains("not an Airbyte message: fixture: this line is not JSON"), "{logs}");
    let summary = text(&sync.stdout);
    assert!(summary.lines().any(|l| l.contains("events") && l.contains("succeeded")), "{summary}");

    let crashed = write_config(dir.path(), "{ api_key = \"secret\", events = 30, fail_after = 12 }");
    let sync = txlake_at_root(&["sync", "--config", crashed.to_str().unwrap()]);
    assert!(!sync.status.success());
    let logs = text(&sync.stderr);
    assert!(logs.contains("exit code 3") && logs.contains("upstream hung up"), "{logs}");
    let runs = txlake_at_root(&["runs", "--config", crashed.to_str().unwrap()]);
    assert!(text(&runs.stdout).contains("failed"), "{}", text(&runs.stdout));
}
