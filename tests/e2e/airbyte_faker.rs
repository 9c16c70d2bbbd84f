//! A real, unmodified Airbyte source from PyPI through `connector = "airbyte:…"`:
//! `airbyte-source-faker` (pinned with its dependencies in tests/airbyte_faker/requirements.txt,
//! installed by tests/airbyte_faker/venv.sh into a venv under ~/.cache on first use). Full
//! sync of its three streams, incremental syncs given back the source's own state, SIGKILL
//! of `txlake sync` ten times mid-sync with the resume equal to an uninterrupted run, and a
//! source process killed mid-read failing the run with its signal and stderr.
//!
//! What the faker does with its state (airbyte-source-faker 7.2.1, `streams.py`): every read
//! generates the users, products and purchases from id 1 with the same seeded values (only
//! `updated_at` is the time of the read) and reports `{"seed", "updated_at", "loop_offset"}`
//! every `records_per_slice` records; given a state that has `updated_at` and
//! `always_updated: false` it emits nothing. So a larger `count` re-reads the old records
//! too: in `incremental_dedupe` (the default, the streams have a key and a cursor) they
//! replace themselves and only the new ids are added.
//!
//! `txlake sync --import-airbyte-state`: Airbyte's state given to the faker as it is, and
//! converted to the engine's cursor for an Airbyte manifest of a small fake API (the sync
//! then asks only for what came after it); refusals over existing state (and `--force`),
//! malformed files and unknown streams, with nothing written.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema};

use serde_json::{Value, json};
use txlake_lake::{Lake, RunStatus, StreamTable, TableId, WriteMode};
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{CommitPolicy, ConnectionConfig, QuietObserver, SyncOptions, SyncReport, sync_connection};

use crate::support::{TestRng, count_ids, file_lake, raw_engine, txlake, txlake_bin};

/// The venv holding `source-faker`, installed once per test binary (and per requirements
/// hash on the machine).
fn faker_venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/airbyte_faker/venv.sh");
        let output = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output().expect("venv.sh runs");
        assert!(output.status.success(), "{} failed", script.display());
        PathBuf::from(String::from_utf8(output.stdout).expect("a path").trim())
    })
}

/// `airbyte:<venv>/bin/source-faker`.
fn faker_connector() -> String {
    format!("airbyte:{}", faker_venv().join("bin/source-faker").display())
}

/// The faker's config: one worker process so the seeded values do not depend on how the
/// records are spread over workers; a STATE every `slice` records.
fn faker_config(count: u64, slice: u64) -> Value {
    json!({"count": count, "seed": 42, "parallelism": 1, "records_per_slice": slice})
}

fn connection(config: Value) -> ConnectionConfig {
    ConnectionConfig {
        connector: faker_connector(),
        config,
        streams: None,
        modes: Default::default(),
        survey_mapping: None,
    }
}

async fn sync(lake: &Lake, config: Value) -> SyncReport {
    let options =
        SyncOptions { policy: CommitPolicy { commit_rows: 1, ..CommitPolicy::default() }, ..SyncOptions::default() };
    let report = sync_connection(lake, &builtin_registry(), "faker", &connection(config), &options, &QuietObserver)
        .await
        .expect("the sync starts");
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    report
}

fn records(report: &SyncReport, stream: &str) -> u64 {
    report.streams.iter().find(|s| s.stream == stream).expect("the stream ran").records
}

/// The state committed with the newest commit of `faker.<stream>`.
async fn committed_state(lake: &Lake, stream: &str) -> Option<Value> {
    // Opening for reading the state only: a schema of the key column is enough.
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
    let table = StreamTable::open(lake, &TableId::new("faker", stream), schema, WriteMode::Append)
        .await
        .expect("the table opens");
    table.committed_state().await.expect("its state reads")
}

/// The rows of `faker.<table>` with ids up to `last`, but their `updated_at` (the time of the
/// read), in id order.
async fn rows_but_updated_at(lake: &Lake, table: &str, last: u64) -> String {
    let batches = raw_engine(lake)
        .await
        .sql(&format!("SELECT * EXCLUDE (updated_at) FROM faker.{table} WHERE id <= {last} ORDER BY id"))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    arrow::util::pretty::pretty_format_batches(&batches).expect("renders").to_string()
}

/// One integer from a one-row query.
async fn number(lake: &Lake, sql: &str) -> i64 {
    let batches = raw_engine(lake).await.sql(sql).await.expect("plans").collect().await.expect("runs");
    let value = arrow::util::display::array_value_to_string(batches[0].column(0), 0).expect("renders");
    value.parse().unwrap_or_else(|_| panic!("{sql} gave {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faker_full_then_incremental_syncs_with_the_sources_own_state() {
    let lake = Lake::open("memory://airbyte-faker", Path::new("/"), Default::default()).unwrap();
    // 60 users: 100 products are filtered to ids ≤ count; every 10 users buy 10 times.
    let report = sync(&lake, faker_config(60, 30)).await;
    assert_eq!((records(&report, "users"), records(&report, "products"), records(&report, "purchases")), (60, 60, 60));
    for table in ["users", "products", "purchases"] {
        assert_eq!(count_ids(&lake, &format!("faker.{table}")).await, (60, 60), "{table}");
        assert_eq!(report.streams.iter().find(|s| s.stream == table).unwrap().mode, "incremental_dedupe");
    }
    assert_eq!(number(&lake, "SELECT max(id) FROM faker.users").await, 60);
    assert_eq!(number(&lake, "SELECT count(*) FROM faker.purchases WHERE user_id NOT BETWEEN 1 AND 60").await, 0);
    assert_eq!(number(&lake, "SELECT count(DISTINCT email) FROM faker.users").await, 60);
    let state = committed_state(&lake, "users").await.expect("users committed a state");
    assert_eq!((&state["seed"], &state["loop_offset"]), (&json!(42), &json!(60)), "the faker's own state: {state}");
    assert!(state["updated_at"].as_str().is_some_and(|t| t.ends_with("+00:00")), "{state}");
    let first_users = rows_but_updated_at(&lake, "users", 60).await;

    // 90 users: the faker reads from id 1 again; the 60 known ids replace themselves with the
    // same values and 30 are added; nothing twice.
    sync(&lake, faker_config(90, 30)).await;
    for table in ["users", "products", "purchases"] {
        assert_eq!(count_ids(&lake, &format!("faker.{table}")).await, (90, 90), "{table}");
    }
    assert_eq!(rows_but_updated_at(&lake, "users", 60).await, first_users, "the first 60 users are unchanged");
    assert_eq!(first_users.lines().count(), 60 + 4, "60 rows, a header and three rules");
    assert_eq!(committed_state(&lake, "users").await.unwrap()["loop_offset"], json!(90));

    // Given back its state (`updated_at` set) with `always_updated: false`, the faker reads
    // nothing: the state reached it in Airbyte's per-stream form.
    let mut config = faker_config(120, 30);
    config["always_updated"] = json!(false);
    let report = sync(&lake, config).await;
    for stream in ["users", "products", "purchases"] {
        assert_eq!(records(&report, stream), 0, "{stream}: nothing after the state");
    }
    assert_eq!(count_ids(&lake, "faker.users").await, (90, 90));
}

/// `dir/txlake.toml` with the faker as connection `faker` (file lake, every state committed).
fn write_faker_config(dir: &Path, config: &Value) -> PathBuf {
    let path = dir.join("txlake.toml");
    let fields: Vec<String> = config.as_object().unwrap().iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let text = format!(
        "[lake]\nurl = \"file://./lake\"\n\n[sync]\ncommit_rows = 1\n\n[connections.faker]\nconnector = \"{}\"\nconfig = {{ {} }}\n",
        faker_connector(),
        fields.join(", ")
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `txlake sync`, reads `lines` of its log and SIGKILLs it.
fn sync_and_kill_after(config: &Path, lines: usize) {
    let mut child = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sync starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    // Waiting for output, not for time: the kill lands at a point of the sync's own progress.
    for _ in BufReader::new(stderr).lines().take(lines) {}
    child.kill().expect("SIGKILL is delivered or the process already ended");
    child.wait().expect("the killed sync is reaped");
}

#[test]
fn faker_sigkill_of_txlake_ten_times_mid_sync_resumes_to_the_uninterrupted_tables() {
    let config = faker_config(100, 25);
    let reference = tempfile::tempdir().unwrap();
    let reference_config = write_faker_config(reference.path(), &config);
    // The reference run goes on beside the interrupted ones (another lake).
    let reference_run = {
        let path = reference_config.clone();
        std::thread::spawn(move || txlake(&["sync", "--config", path.to_str().unwrap()]))
    };

    let crashed = tempfile::tempdir().unwrap();
    let crashed_config = write_faker_config(crashed.path(), &config);
    // Kill points: lines of the first (killed) run's own log. The log up to the source's
    // first record is the table setup and the faker's start; commits follow per STATE.
    let mut rng = TestRng::from_env();
    let mut commits_seen = 0;
    let first = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(&crashed_config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut first = first.expect("sync starts");
    let stop_at = 2 + rng.below(4);
    for line in BufReader::new(first.stderr.take().unwrap()).lines().map_while(Result::ok) {
        if line.contains("committed version") {
            commits_seen += 1;
            if commits_seen == stop_at {
                break;
            }
        }
    }
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    assert_eq!(commits_seen, stop_at, "killed after its {stop_at}th commit");

    let output = reference_run.join().unwrap();
    assert!(output.status.success(), "reference sync: {}", String::from_utf8_lossy(&output.stderr));
    let log = String::from_utf8_lossy(&output.stderr);
    let log_lines = log.lines().count();
    let reading = log.lines().position(|l| l.contains("Starting syncing")).expect("the faker's first log line");
    assert!(log_lines - reading > 20, "the read commits often enough to be interrupted: {log}");
    for _ in 1..10 {
        sync_and_kill_after(&crashed_config, reading + rng.below((log_lines - reading) as u64) as usize);
    }
    let output = txlake(&["sync", "--config", crashed_config.to_str().unwrap()]);
    assert!(output.status.success(), "final sync: {}", String::from_utf8_lossy(&output.stderr));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let expected = file_lake(reference.path());
        let actual = file_lake(crashed.path());
        for table in ["users", "products", "purchases"] {
            assert_eq!(
                count_ids(&actual, &format!("faker.{table}")).await,
                (100, 100),
                "{table}: no id twice, none lost"
            );
            assert_eq!(
                rows_but_updated_at(&expected, table, 100).await,
                rows_but_updated_at(&actual, table, 100).await,
                "{table}: the rows of the uninterrupted run"
            );
        }
    });
}

/// The pid of `parent`'s child whose command line contains `needle`.
fn child_with(parent: u32, needle: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The fields after the command name, which is in parentheses and may hold spaces.
        let Some(fields) = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect::<Vec<_>>()) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if fields.get(1) == Some(&parent.to_string().as_str()) && String::from_utf8_lossy(&cmdline).contains(needle) {
            return Some(pid);
        }
    }
    None
}

/// Runs `txlake sync` of a large faker read, sends `signal` to the source process once users
/// committed, and returns the sync's exit success, log and the `runs` output.
fn sync_killing_the_source(dir: &Path, signal: &str) -> (bool, String, String) {
    let config = write_faker_config(dir, &faker_config(200_000, 50));
    let mut child = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        // Python prints the stack of a source that dies of SIGABRT on its stderr.
        .env("PYTHONFAULTHANDLER", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sync starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok);
    let mut log = Vec::new();
    for line in lines.by_ref() {
        let committed = line.contains("faker.users: committed version");
        log.push(line);
        if committed {
            break;
        }
    }
    let source = child_with(child.id(), "source-faker").expect("the source runs while users are read");
    let killed = Command::new("kill").args([signal, &source.to_string()]).status().unwrap();
    assert!(killed.success());
    log.extend(lines);
    let status = child.wait().unwrap();
    let runs = txlake(&["runs", "--config", config.to_str().unwrap()]);
    (status.success(), log.join("\n"), String::from_utf8_lossy(&runs.stdout).into_owned())
}

#[test]
fn faker_source_killed_mid_read_fails_the_run_with_its_signal_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, log, runs) = sync_killing_the_source(dir.path(), "-KILL");
    assert!(!ok, "{log}");
    assert!(log.contains("bin/source-faker read` failed (killed by signal 9 (SIGKILL))"), "{log}");
    assert!(log.contains("stderr was empty"), "SIGKILL leaves Python no time to write: {log}");
    assert!(runs.contains("failed"), "{runs}");
    let committed = tokio::runtime::Runtime::new().unwrap().block_on(count_ids(&file_lake(dir.path()), "faker.users"));
    assert!(committed.0 >= 50 && committed.0 == committed.1, "users keep what was committed: {committed:?}");

    // A source that crashes hard (SIGABRT) leaves Python's dump on stderr: its tail is in the
    // error.
    let dir = tempfile::tempdir().unwrap();
    let (ok, log, _) = sync_killing_the_source(dir.path(), "-ABRT");
    assert!(!ok, "{log}");
    assert!(log.contains("failed (killed by signal 6 (SIGABRT))"), "{log}");
    assert!(log.contains("Fatal Python error: Aborted"), "the stderr tail: {log}");
}

/// `txlake sync --config F --import-airbyte-state STATE [extra…]`.
fn import_and_sync(config: &Path, state: &Path, extra: &[&str]) -> std::process::Output {
    let mut args =
        vec!["sync", "--config", config.to_str().unwrap(), "--import-airbyte-state", state.to_str().unwrap()];
    args.extend_from_slice(extra);
    txlake(&args)
}

fn summary_records(stdout: &[u8], stream: &str) -> u64 {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().find(|l| l.split_whitespace().nth(1) == Some(stream)).unwrap_or_else(|| panic!("{text}"));
    line.split_whitespace().nth(4).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn faker_imported_airbyte_state_is_given_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = faker_config(40, 40);
    config["always_updated"] = json!(false);
    let config = write_faker_config(dir.path(), &config);
    // What Airbyte would hold after syncing users and products: the faker, given it back,
    // reads nothing more of them; purchases have no state and are read in full.
    let state = dir.path().join("airbyte-state.json");
    let airbyte_state = json!([
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"},
            "stream_state": {"seed": 42, "updated_at": "2026-01-01T00:00:00+00:00", "loop_offset": 40}}},
        {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "products"},
            "stream_state": {"seed": 42, "updated_at": "2026-01-01T00:00:00+00:00"}}}}
    ]);
    std::fs::write(&state, airbyte_state.to_string()).unwrap();
    let output = import_and_sync(&config, &state, &["faker"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("imported the per-stream Airbyte state") && err.contains("kept in Airbyte's format"), "{err}");
    assert!(
        err.contains(
            r#"faker.users: {"loop_offset":40,"seed":42,"updated_at":"2026-01-01T00:00:00+00:00"} (version 1)"#
        ),
        "{err}"
    );
    assert_eq!(summary_records(&output.stdout, "users"), 0, "the source was given the users' state");
    assert_eq!(summary_records(&output.stdout, "products"), 0);
    assert_eq!(summary_records(&output.stdout, "purchases"), 40, "no state: read in full");
}

/// An API of tickets with an `updated_at` filter (`since`), recording the filters it is sent.
mod tickets_api {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Query, State};
    use serde_json::{Value, json};

    /// The `since` of every request.
    pub type Seen = Arc<Mutex<Vec<String>>>;

    async fn tickets(State(seen): State<Seen>, Query(q): Query<BTreeMap<String, String>>) -> axum::Json<Value> {
        let since = q.get("since").cloned().unwrap_or_default();
        seen.lock().unwrap().push(since.clone());
        // One ticket a day through January 2024, each updated at noon.
        let rows: Vec<Value> = (1..=31)
            .map(|day| json!({"id": day, "subject": format!("ticket {day}"), "updated_at": format!("2024-01-{day:02}T12:00:00Z")}))
            .filter(|t| since.is_empty() || t["updated_at"].as_str().unwrap() >= since.as_str())
            .collect();
        axum::Json(json!({ "tickets": rows }))
    }

    /// Serves the API on 127.0.0.1 from a thread of its own; returns its base URL.
    pub fn start(seen: Seen) -> String {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().route("/tickets", axum::routing::get(tickets)).with_state(seen);
                axum::serve(listener, app).await.unwrap();
            });
        });
        format!("http://{}", rx.recv().unwrap())
    }
}

/// An Airbyte low-code manifest of the tickets API: one incremental stream filtered on
/// `since`.
const TICKETS_MANIFEST: &str = r#"
version: 6.44.0
type: DeclarativeSource
check: { type: CheckStream, stream_names: [tickets] }
spec:
  type: Spec
  connection_specification:
    type: object
    required: [base_url, start_date]
    properties:
      base_url: { type: string }
      start_date: { type: string }
streams:
  - type: DeclarativeStream
    name: tickets
    primary_key: [id]
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config['base_url'] }}"
        path: /tickets
        http_method: GET
      record_selector:
        type: RecordSelector
        extractor: { type: DpathExtractor, field_path: [tickets] }
    incremental_sync:
      type: DatetimeBasedCursor
      cursor_field: updated_at
      datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      start_datetime:
        type: MinMaxDatetime
        datetime: "{{ config['start_date'] }}"
        datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      start_time_option: { type: RequestOption, inject_into: request_parameter, field_name: since }
    schema_loader:
      type: InlineSchemaLoader
      schema:
        type: object
        properties:
          id: { type: integer }
          subject: { type: string }
          updated_at: { type: string, format: date-time }
"#;

#[test]
fn airbyte_manifest_imported_state_becomes_the_engines_cursor() {
    let seen = tickets_api::Seen::default();
    let base_url = tickets_api::start(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, TICKETS_MANIFEST).unwrap();
    let config = dir.path().join("txlake.toml");
    std::fs::write(
        &config,
        format!(
            "[lake]\nurl = \"file://./lake\"\n\n[connections.desk]\nconnector = \"airbyte-manifest:{}\"\nconfig = {{ base_url = \"{base_url}\", start_date = \"2024-01-01T00:00:00Z\" }}\n",
            manifest.display()
        ),
    )
    .unwrap();
    // Airbyte had read up to Jan 20th noon.
    let state = dir.path().join("state.json");
    std::fs::write(
        &state,
        r#"[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "tickets"}, "stream_state": {"updated_at": "2024-01-20T12:00:00Z"}}}]"#,
    )
    .unwrap();
    let output = import_and_sync(&config, &state, &[]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("converted to the declarative engine's cursor"), "{err}");
    assert!(err.contains(r#"desk.tickets: {"cursor":"2024-01-20T12:00:00Z"}"#), "{err}");
    let requested = seen.lock().unwrap().clone();
    assert!(!requested.is_empty() && requested.iter().all(|s| s.as_str() >= "2024-01-20"), "{requested:?}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lake = file_lake(dir.path());
    let (rows, ids) = runtime.block_on(count_ids(&lake, "desk.tickets"));
    assert_eq!(rows, ids);
    assert!((11..=12).contains(&rows), "only the tickets from Jan 20th on: {rows}");
    assert_eq!(runtime.block_on(number(&lake, "SELECT min(id) FROM desk.tickets")), 32 - rows);

    // The connection has state now: another import is refused, naming the streams, and
    // nothing runs; with --force it replaces it, and the sync reads from there.
    std::fs::write(
        &state,
        r#"{"stateType": "stream", "streamState": [{"streamDescriptor": {"name": "tickets"}, "streamState": {"updated_at": "1706616000"}}]}"#,
    )
    .unwrap();
    let output = import_and_sync(&config, &state, &[]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(err.contains("connection `desk` already has state for `tickets`") && err.contains("pass --force"), "{err}");
    seen.lock().unwrap().clear();
    let output = import_and_sync(&config, &state, &["--force"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    // 1706616000 is 2024-01-30T12:00:00Z (Airbyte's `%s` cursors are unix seconds).
    assert!(
        err.contains(r#"desk.tickets: {"cursor":"2024-01-30T12:00:00Z"}"#) && err.contains("replacing its state"),
        "{err}"
    );
    let requested = seen.lock().unwrap().clone();
    assert!(!requested.is_empty() && requested.iter().all(|s| s.as_str() >= "2024-01-30"), "{requested:?}");
}

#[test]
fn import_airbyte_state_refuses_malformed_files_and_unknown_streams_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, TICKETS_MANIFEST).unwrap();
    let config = dir.path().join("txlake.toml");
    // Nothing is read: every import below fails before the sync.
    std::fs::write(
        &config,
        format!(
            "[lake]\nurl = \"file://./lake\"\n\n[connections.desk]\nconnector = \"airbyte-manifest:{}\"\nconfig = {{ base_url = \"http://127.0.0.1:9\", start_date = \"2024-01-01T00:00:00Z\" }}\n",
            manifest.display()
        ),
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    let refused = |text: &str| -> String {
        std::fs::write(&bad, text).unwrap();
        let output = import_and_sync(&config, &bad, &[]);
        assert!(!output.status.success(), "{text}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let err =
        refused(r#"[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "tickets"}, "stream_state": 5}}]"#);
    assert!(
        err.contains("bad.json: the Airbyte state file is not valid: item 0: stream `tickets`: `stream_state` is a number, not an object"),
        "{err}"
    );
    let err = refused("{\"tickets\": ");
    assert!(err.contains("not valid: it is not JSON"), "{err}");
    let err = refused(r#"[{"type": "STREAM", "stream": {"stream_state": {}}}]"#);
    assert!(err.contains("item 0: `stream_descriptor.name` is missing"), "{err}");
    let err = refused(r#"{"customers": {"updated_at": "2024-01-01"}}"#);
    assert!(
        err.contains("names stream `customers`, which connection `desk` does not sync (its streams: tickets)"),
        "{err}"
    );
    let err = refused(r#"{"tickets": {"updated_at": "last tuesday"}}"#);
    assert!(err.contains("stream `tickets`: `updated_at` = \"last tuesday\" is not a time"), "{err}");
    let output = txlake(&["sync", "--config", config.to_str().unwrap(), "--force"]);
    assert!(!output.status.success(), "--force needs --import-airbyte-state");
    assert!(!dir.path().join("lake").join("desk").exists(), "nothing was written");
}
