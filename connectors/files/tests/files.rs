//! The `files` connector end to end: files from a local folder, an S3 bucket (an in-process
//! `s3s-fs` server) and an HTTP URL (an in-process axum server), synced through the real
//! sync runner into a file lake and read back with SQL.
//!
//! The fixtures (`connectors/files/tests/fixtures/`, written by `generate.py`) hold the same
//! twelve survey answers in every format and encoding; `expected_rows.json` is that truth.
//! The tests check that each gives those rows with the right types; XLSX sheets, merged
//! header cells, column overrides and date formats; malformed rows failing or skipped;
//! incremental runs (an unchanged file not re-read, an appended CSV adding only its new
//! rows, a re-uploaded file replacing its rows, a new file added); a 50 MB CSV whose sync is
//! aborted mid-file and resumed with nothing lost or doubled; and the errors users see.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use txlake_connector::LogLevel;
use txlake_lake::{Lake, RunStatus};
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{CommitPolicy, ConnectionConfig, Observer, QuietObserver, SyncOptions, SyncReport, sync_connection};

use crate::support::{file_lake, raw_engine};

/// The connection's name in every test: raw tables are `hr.<stream>`.
const CONNECTION: &str = "hr";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../connectors/files/tests/fixtures").canonicalize().unwrap()
}

fn fixture_url() -> String {
    fixtures().display().to_string()
}

/// The answers every survey fixture holds, rendered as [`CANONICAL`] renders a table's rows.
fn expected_rows() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(fixtures().join("expected_rows.json")).unwrap();
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    rows.iter()
        .map(|r| {
            ["response_id", "email", "department", "team", "survey", "answered_on", "submitted_at", "score", "comment"]
                .iter()
                .map(|k| match &r[*k] {
                    Value::Null => "NULL".to_string(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// The survey columns of a table in one comparable form, whatever types a format gives:
/// dates as `YYYY-MM-DD`, timestamps as Unix seconds, scores as integers, a missing comment
/// as ''. `{table}` and `{filter}` are filled in by [`canonical_rows`].
const CANONICAL: &str = "SELECT response_id, email, department, team, survey, \
     CAST(CAST(answered_on AS DATE) AS VARCHAR), CAST(to_unixtime(submitted_at) AS BIGINT), \
     CAST(score AS BIGINT), COALESCE(comment, '') FROM {table} {filter} ORDER BY response_id";

async fn canonical_rows(lake: &Lake, table: &str, filter: &str) -> Vec<Vec<String>> {
    rows(lake, &CANONICAL.replace("{table}", table).replace("{filter}", filter)).await
}

/// The rows of a query, each cell as text (`NULL` for a null).
async fn rows(lake: &Lake, sql: &str) -> Vec<Vec<String>> {
    let batches = raw_engine(lake)
        .await
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            out.push(batch.columns().iter().map(|c| cell(c, row)).collect());
        }
    }
    out
}

fn cell(array: &ArrayRef, row: usize) -> String {
    if array.is_null(row) {
        "NULL".to_string()
    } else {
        arrow::util::display::array_value_to_string(array, row).unwrap()
    }
}

/// One number from a query.
async fn number(lake: &Lake, sql: &str) -> i64 {
    let rows = rows(lake, sql).await;
    rows[0][0].parse().unwrap_or_else(|_| panic!("{sql}: {rows:?}"))
}

/// The columns of a raw table and their types, as SQL sees them.
async fn column_types(lake: &Lake, table: &str) -> BTreeMap<String, DataType> {
    let frame = raw_engine(lake).await.sql(&format!("SELECT * FROM {table} LIMIT 0")).await.unwrap();
    frame.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect()
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_timestamp(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(_, _))
}

/// Asserts the types a survey table must have: the fixture's columns inferred (or read) as
/// text, a date, a timestamp and an integer, plus the three columns every stream gets.
fn assert_survey_types(table: &str, types: &BTreeMap<String, DataType>, date_may_be_timestamp: bool) {
    for column in ["response_id", "email", "department", "team", "survey", "comment", "_file"] {
        assert!(is_text(&types[column]), "{table}.{column} is text: {types:?}");
    }
    let answered = &types["answered_on"];
    assert!(
        *answered == DataType::Date32 || (date_may_be_timestamp && is_timestamp(answered)),
        "{table}.answered_on is a date: {answered:?}"
    );
    assert!(is_timestamp(&types["submitted_at"]), "{table}.submitted_at is a timestamp: {types:?}");
    assert!(types["score"].is_integer(), "{table}.score is an integer: {types:?}");
    assert_eq!(types["_row"], DataType::Int64, "{table}._row");
    assert!(
        matches!(&types["_modified"], DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some(tz)) if ["UTC", "+00:00"].contains(&tz.as_ref())),
        "{table}._modified is a UTC timestamp in µs: {:?}",
        types["_modified"]
    );
}

/// A `files` connection, through serde so it gets every default a config file would.
fn connection(config: Value) -> ConnectionConfig {
    serde_json::from_value(json!({ "connector": "files", "config": config })).unwrap()
}

fn options(commit_rows: u64) -> SyncOptions {
    SyncOptions { policy: CommitPolicy { commit_rows, ..CommitPolicy::default() }, ..SyncOptions::default() }
}

/// Syncs `config` into `lake`, asserting the run succeeded.
async fn sync_ok(lake: &Lake, config: Value) -> SyncReport {
    sync_observed(lake, config, &options(100_000), &QuietObserver).await
}

async fn sync_observed(lake: &Lake, config: Value, options: &SyncOptions, observer: &dyn Observer) -> SyncReport {
    let report = sync_connection(lake, &builtin_registry(), CONNECTION, &connection(config.clone()), options, observer)
        .await
        .unwrap_or_else(|e| panic!("sync of {config}: {e}"));
    assert_eq!(report.status, RunStatus::Succeeded, "sync of {config}: {:?}", report.error);
    report
}

/// The error a sync of `config` ends with: refused before it starts, or a failed run.
async fn sync_error(lake: &Lake, config: Value) -> String {
    match sync_connection(
        lake,
        &builtin_registry(),
        CONNECTION,
        &connection(config.clone()),
        &options(1_000),
        &QuietObserver,
    )
    .await
    {
        Err(e) => e.to_string(),
        Ok(report) => {
            assert_eq!(report.status, RunStatus::Failed, "sync of {config} should fail");
            report.error.expect("a failed run says why")
        }
    }
}

/// Records a sync landed per stream.
fn landed(report: &SyncReport) -> BTreeMap<String, u64> {
    report.streams.iter().map(|s| (s.stream.clone(), s.records)).collect()
}

/// Collects what the sync logs.
#[derive(Default)]
struct Logs(Mutex<Vec<String>>);

impl Observer for Logs {
    fn log(&self, _level: LogLevel, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

/// A temporary folder with a lake in `lake/` and the files to sync in `data/`.
struct Workspace {
    dir: tempfile::TempDir,
    lake: Lake,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let lake = file_lake(dir.path());
        Self { dir, lake }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        self.data().display().to_string()
    }

    fn copy_fixture(&self, fixture: &str, to: &str) {
        std::fs::copy(fixtures().join(fixture), self.data().join(to)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_and_encoding_gives_the_same_rows_and_types() {
    let work = Workspace::new();
    let config = json!({ "url": fixture_url(), "streams": [
        { "name": "csv_utf8", "glob": "survey_utf8.csv" },
        { "name": "csv_1251", "glob": "survey_1251.csv", "delimiter": ";", "encoding": "windows-1251",
          "date_format": "%d.%m.%Y", "timestamp_format": "%d.%m.%Y %H:%M:%S" },
        // No encoding: the BOM says UTF-16 LE.
        { "name": "tsv_utf16", "glob": "survey_utf16.tsv", "delimiter": "\t" },
        { "name": "jsonl", "glob": "survey.jsonl" },
        { "name": "json", "glob": "survey.json" },
        { "name": "parquet", "glob": "survey.parquet" },
        { "name": "xlsx", "glob": "survey.xlsx", "sheet": "Answers" },
    ]});
    let report = sync_ok(&work.lake, config).await;
    let expected = expected_rows();
    for (stream, records) in landed(&report) {
        assert_eq!(records, expected.len() as u64, "{stream}: records landed");
    }
    for (stream, file) in [
        ("csv_utf8", "survey_utf8.csv"),
        ("csv_1251", "survey_1251.csv"),
        ("tsv_utf16", "survey_utf16.tsv"),
        ("jsonl", "survey.jsonl"),
        ("json", "survey.json"),
        ("parquet", "survey.parquet"),
        ("xlsx", "survey.xlsx"),
    ] {
        let table = format!("{CONNECTION}.{stream}");
        let got = canonical_rows(&work.lake, &table, "").await;
        assert_eq!(got, expected, "{table} holds the fixture's answers");
        let types = column_types(&work.lake, &table).await;
        assert_survey_types(&table, &types, stream == "xlsx");
        // `_row` numbers records, not lines: r-004's comment spans two lines in the CSVs.
        let numbered = rows(&work.lake, &format!("SELECT response_id, _row, _file FROM {table} ORDER BY _row")).await;
        let want: Vec<Vec<String>> =
            (1..=12).map(|n| vec![format!("r-{n:03}"), n.to_string(), file.to_string()]).collect();
        assert_eq!(numbered, want, "{table}: _row and _file");
    }
    // Cyrillic survives every decoding.
    let departments = rows(
        &work.lake,
        "SELECT DISTINCT department FROM hr.csv_1251 WHERE department IN ('Продажи', 'Поддержка', 'Разработка', 'Финансы', 'Маркетинг')",
    )
    .await;
    assert_eq!(departments.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_fields_keep_delimiters_quotes_and_newlines() {
    let work = Workspace::new();
    sync_ok(&work.lake, json!({ "url": fixture_url(), "streams": [{ "name": "quoted", "glob": "quoted.csv" }] })).await;
    let got =
        rows(&work.lake, "SELECT CAST(id AS BIGINT) AS n, COALESCE(text, ''), note, _row FROM hr.quoted ORDER BY n")
            .await;
    let want = [
        ["1", "a, b and c", "plain", "1"],
        ["2", "she said \"hi\"", "x", "2"],
        ["3", "line one\nline two", "crlf\r\ninside", "3"],
        ["4", "", "\"", "4"],
        ["5", "last", "end", "5"],
    ];
    assert_eq!(got, want.map(|r| r.map(String::from).to_vec()).to_vec());
}

/// The name of the column of `types` that reads as `wanted` once lower-cased with every
/// run of other characters made one `_` (so "Score NPS" and "score_nps" both match).
fn column_like(types: &BTreeMap<String, DataType>, wanted: &str) -> String {
    let normal = |name: &str| {
        let mut out = String::new();
        for c in name.trim().chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        out.trim_matches('_').to_string()
    };
    types
        .keys()
        .find(|name| normal(name) == wanted)
        .unwrap_or_else(|| panic!("a column `{wanted}` among {:?}", types.keys().collect::<Vec<_>>()))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_sheets_named_and_all_with_merged_two_row_headers() {
    let work = Workspace::new();
    let config = json!({ "url": fixture_url(), "streams": [
        // A named sheet whose two header rows have "Score" merged over "NPS" and "CSAT".
        { "name": "scores", "glob": "survey.xlsx", "sheet": "Scores", "header_rows": 2 },
        // Every sheet of a workbook, with `_sheet`.
        { "name": "pulse", "glob": "pulse.xlsx", "header_rows": 2 },
        // One sheet of the same workbook.
        { "name": "pulse_q4", "glob": "pulse.xlsx", "sheet": "Q4", "header_rows": 2 },
    ]});
    let report = sync_ok(&work.lake, config).await;
    assert_eq!(landed(&report), BTreeMap::from([("pulse".into(), 5), ("pulse_q4".into(), 2), ("scores".into(), 6)]));

    // The merged cell heads both columns under it: "Score NPS" and "Score CSAT".
    let types = column_types(&work.lake, "hr.scores").await;
    let nps = column_like(&types, "score_nps");
    let csat = column_like(&types, "score_csat");
    assert!(types[&nps].is_integer() && types[&csat].is_integer(), "{types:?}");
    for column in ["response_id", "team", "comment"] {
        assert!(types.contains_key(column), "{column} in {types:?}");
    }
    let got = rows(
        &work.lake,
        &format!("SELECT response_id, team, \"{nps}\", \"{csat}\", _row FROM hr.scores ORDER BY response_id"),
    )
    .await;
    let want = [
        ["r-001", "Enterprise", "9", "1", "1"],
        ["r-002", "SMB", "6", "2", "2"],
        ["r-003", "Tier 1", "10", "3", "3"],
        ["r-004", "Tier 2", "3", "4", "4"],
        ["r-005", "Платформа", "8", "5", "5"],
        ["r-006", "Mobile", "7", "1", "6"],
    ];
    assert_eq!(got, want.map(|r| r.map(String::from).to_vec()).to_vec());

    // Both sheets of pulse.xlsx, told apart by `_sheet`, each numbered from 1.
    let types = column_types(&work.lake, "hr.pulse").await;
    let nps = column_like(&types, "score_nps");
    let got =
        rows(&work.lake, &format!("SELECT _sheet, _row, response_id, \"{nps}\" FROM hr.pulse ORDER BY _sheet, _row"))
            .await;
    let want = [
        ["Q3", "1", "q3-00", "10"],
        ["Q3", "2", "q3-01", "9"],
        ["Q3", "3", "q3-02", "8"],
        ["Q4", "1", "q4-00", "5"],
        ["Q4", "2", "q4-01", "6"],
    ];
    assert_eq!(got, want.map(|r| r.map(String::from).to_vec()).to_vec());
    assert!(
        rows(&work.lake, "SELECT response_id FROM hr.pulse_q4 ORDER BY response_id").await
            == vec![vec!["q4-00".to_string()], vec!["q4-01".to_string()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_overrides_and_date_formats_set_the_types() {
    let work = Workspace::new();
    let config = json!({ "url": fixture_url(), "streams": [
        { "name": "ru", "glob": "survey_1251.csv", "delimiter": ";", "encoding": "windows-1251",
          "date_format": "%d.%m.%Y", "timestamp_format": "%d.%m.%Y %H:%M:%S",
          "columns": { "score": "float", "answered_on": "date", "submitted_at": "timestamp" } },
        { "name": "texts", "glob": "survey_utf8.csv", "columns": { "score": "string", "submitted_at": "string" } },
    ]});
    sync_ok(&work.lake, config).await;

    let types = column_types(&work.lake, "hr.ru").await;
    assert_eq!(types["score"], DataType::Float64, "{types:?}");
    assert_eq!(types["answered_on"], DataType::Date32, "{types:?}");
    assert!(is_timestamp(&types["submitted_at"]), "{types:?}");
    let got = rows(
        &work.lake,
        "SELECT CAST(answered_on AS VARCHAR), CAST(to_unixtime(submitted_at) AS BIGINT), score FROM hr.ru WHERE response_id IN ('r-005', 'r-007') ORDER BY response_id",
    )
    .await;
    assert_eq!(got, vec![vec!["2026-11-04", "1793790671", "8.0"], vec!["2026-11-05", "1793892645", "NULL"]]);

    let types = column_types(&work.lake, "hr.texts").await;
    assert!(is_text(&types["score"]) && is_text(&types["submitted_at"]), "{types:?}");
    let got = rows(&work.lake, "SELECT score, submitted_at FROM hr.texts WHERE response_id = 'r-003'").await;
    assert_eq!(got, vec![vec!["10", "2026-11-03T08:45:12Z"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_fails_the_stream_naming_file_line_and_column() {
    let work = Workspace::new();
    let error = sync_error(
        &work.lake,
        json!({ "url": fixture_url(), "streams": [
            { "name": "answers", "glob": "malformed.csv", "columns": { "score": "int" } }
        ]}),
    )
    .await;
    // Line 4 is r-003, whose score is `n/a`: the first bad row.
    assert!(error.contains("malformed.csv"), "names the file: {error}");
    assert!(error.contains(":4") || error.contains("line 4"), "names the line: {error}");
    assert!(error.contains("score"), "names the column: {error}");
    assert!(error.contains("n/a"), "shows the value: {error}");
    let tables = work.lake.list_raw_tables().await.unwrap();
    if !tables.is_empty() {
        assert_eq!(number(&work.lake, "SELECT count(*) FROM hr.answers").await, 0, "nothing of the file committed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rows_are_skipped_counted_and_reported_on_request() {
    let work = Workspace::new();
    let logs = Logs::default();
    let config = json!({ "url": fixture_url(), "streams": [
        { "name": "answers", "glob": "malformed.csv", "columns": { "score": "int" }, "on_error": "skip" }
    ]});
    let report = sync_observed(&work.lake, config, &options(1_000), &logs).await;
    assert_eq!(landed(&report)["answers"], 6);
    let ids = rows(&work.lake, "SELECT response_id FROM hr.answers ORDER BY response_id").await;
    let ids: Vec<&str> = ids.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        ids,
        ["r-001", "r-002", "r-005", "r-006", "r-009", "r-010"],
        "r-003 (line 4) and r-008 (line 7) skipped"
    );
    let logs = logs.0.lock().unwrap().join("\n");
    assert!(logs.contains('2') && logs.contains("skip"), "the run logs how many rows it skipped: {logs}");
    assert!(logs.contains("malformed.csv:4") || logs.contains("line 4"), "and where: {logs}");
    assert!(logs.contains("malformed.csv:7") || logs.contains("line 7"), "and where: {logs}");
}

/// Appends text to a file, as an export that grows does.
fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_runs_skip_unchanged_files_append_grown_ones_replace_reuploads_and_add_new_ones() {
    let work = Workspace::new();
    work.copy_fixture("survey_utf8.csv", "a.csv");
    let config = json!({ "url": work.url(), "streams": [{ "name": "answers", "glob": "*.csv" }] });
    let a = work.data().join("a.csv");
    let count = "SELECT count(*) FROM hr.answers";
    let distinct = "SELECT count(DISTINCT concat(_file, ':', CAST(_row AS VARCHAR))) FROM hr.answers";

    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["answers"], 12);

    // Unchanged: nothing read, nothing added.
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["answers"], 0);
    assert_eq!(number(&work.lake, count).await, 12);

    // Unchanged by its name, size and modification time, the file is not opened again: bytes
    // swapped behind the connector's back (same length, the old mtime put back) go unseen.
    let modified = std::fs::metadata(&a).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&a).unwrap();
    std::fs::write(&a, text.replace("Great team", "GREAT TEAM")).unwrap();
    std::fs::File::options().write(true).open(&a).unwrap().set_modified(modified).unwrap();
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["answers"], 0);
    assert_eq!(
        rows(&work.lake, "SELECT comment FROM hr.answers WHERE response_id = 'r-001'").await,
        vec![vec!["Great team, clear goals".to_string()]]
    );
    std::fs::write(&a, &text).unwrap();
    std::fs::File::options().write(true).open(&a).unwrap().set_modified(modified).unwrap();

    // Grown: only the appended rows are read, numbered on from the old end.
    append(
        &a,
        "r-101,m.one@acme.example,Продажи,SMB,enps,2026-11-20,2026-11-20T10:00:00Z,9,appended one\r\n\
         r-102,m.two@acme.example,Продажи,SMB,enps,2026-11-20,2026-11-20T10:05:00Z,4,\"appended, two\"\r\n\
         r-103,m.three@acme.example,Финансы,Payroll,enps,2026-11-21,2026-11-21T08:00:00Z,,appended three\r\n",
    );
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["answers"], 3);
    assert_eq!(number(&work.lake, count).await, 15);
    assert_eq!(number(&work.lake, distinct).await, 15);
    assert_eq!(
        rows(&work.lake, "SELECT response_id, _row, comment FROM hr.answers WHERE _row > 12 ORDER BY _row").await,
        vec![
            vec!["r-101", "13", "appended one"],
            vec!["r-102", "14", "appended, two"],
            vec!["r-103", "15", "appended three"]
        ]
    );

    // A new file: read whole, the others left alone.
    work.copy_fixture("survey_utf8.csv", "b.csv");
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["answers"], 12);
    assert_eq!(number(&work.lake, count).await, 27);

    // Re-uploaded: a.csv now holds r-001…r-010 with r-002's score changed. Its old rows go,
    // in the same commit as its new ones; b.csv's stay.
    let reuploaded: Vec<&str> = text.split("\r\n").collect();
    let mut lines: Vec<String> = Vec::new();
    for line in &reuploaded {
        if line.starts_with("r-011") {
            break;
        }
        lines.push(
            line.replace("SMB,enps,2026-11-02,2026-11-02T10:01:30Z,6,", "SMB,enps,2026-11-02,2026-11-02T10:01:30Z,7,"),
        );
    }
    std::fs::write(&a, lines.join("\r\n") + "\r\n").unwrap();
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["answers"], 10);
    assert_eq!(report.streams[0].commits, 1, "the old rows went in the commit that added the new ones");
    assert_eq!(number(&work.lake, count).await, 22);
    assert_eq!(number(&work.lake, distinct).await, 22, "no row twice");
    let got = rows(
        &work.lake,
        "SELECT _file, count(*), min(_row), max(_row), sum(score) FROM hr.answers GROUP BY _file ORDER BY _file",
    )
    .await;
    let a_sum = 9 + 7 + 10 + 3 + 8 + 7 + 9 + 5 + 10;
    let b_sum = 9 + 6 + 10 + 3 + 8 + 7 + 9 + 5 + 10 + 2 + 8;
    assert_eq!(
        got,
        vec![
            vec!["a.csv".to_string(), "10".into(), "1".into(), "10".into(), a_sum.to_string()],
            vec!["b.csv".to_string(), "12".into(), "1".into(), "12".into(), b_sum.to_string()],
        ]
    );
    assert_eq!(
        number(&work.lake, "SELECT count(*) FROM hr.answers WHERE response_id IN ('r-011', 'r-012', 'r-101', 'r-102', 'r-103') AND _file = 'a.csv'").await,
        0,
        "rows removed from the file are gone"
    );

    // And once more unchanged.
    let report = sync_ok(&work.lake, config).await;
    assert_eq!(landed(&report)["answers"], 0);
    assert_eq!(number(&work.lake, count).await, 22);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_per_file_makes_one_table_per_file() {
    let work = Workspace::new();
    work.copy_fixture("survey_utf8.csv", "Answers 2026-11.csv");
    work.copy_fixture("survey_utf8.csv", "pulse.csv");
    let config =
        json!({ "url": work.url(), "streams": [{ "name": "survey", "glob": "*.csv", "stream_per_file": true }] });
    let report = sync_ok(&work.lake, config).await;
    let streams: Vec<String> = landed(&report).into_keys().collect();
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert!(streams.iter().all(|s| s.starts_with("survey_")), "{streams:?}");
    assert!(streams.contains(&"survey_pulse".to_string()), "{streams:?}");
    for stream in &streams {
        assert!(stream.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{stream}");
        assert_eq!(canonical_rows(&work.lake, &format!("hr.{stream}"), "").await, expected_rows());
    }
}

/// A CSV of `rows` survey answers, `response_id` = its row number + `id_offset`; returns the
/// sum of the scores and of the comments' lengths, to check a table against.
fn write_big_csv(path: &Path, rows: u64, id_offset: u64) -> (i64, i64) {
    const WORDS: &str =
        "the onboarding was smooth but the tooling could be faster and the team lead listens to feedback every week";
    let departments = ["Продажи", "Поддержка", "Разработка", "Finance", "Marketing"];
    let teams = ["Enterprise", "SMB", "Tier 1", "Tier 2", "Platform", "Mobile", "Payroll"];
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    out.write_all(b"response_id,email,department,team,survey,submitted_at,score,comment\n").unwrap();
    let (mut score_sum, mut comment_len) = (0i64, 0i64);
    for id in 1..=rows {
        let score = if id % 97 == 0 { String::new() } else { (id % 11).to_string() };
        score_sum += score.parse::<i64>().unwrap_or(0);
        let comment = &WORDS[..(id * 7919 % 40) as usize];
        comment_len += comment.len() as i64;
        // Every tenth comment has a comma, and so quotes.
        let comment = if id % 10 == 0 { format!("\"{comment}, really\"") } else { comment.to_string() };
        if id % 10 == 0 {
            comment_len += ", really".len() as i64;
        }
        writeln!(
            out,
            "{},person{id}@acme.example,{},{},{},2026-{:02}-{:02}T{:02}:{:02}:{:02}Z,{score},{comment}",
            id + id_offset,
            departments[(id % 5) as usize],
            teams[(id % 7) as usize],
            if id % 3 == 0 { "pulse" } else { "enps" },
            id % 12 + 1,
            id % 28 + 1,
            id % 24,
            id % 60,
            id * 7 % 60,
        )
        .unwrap();
    }
    out.flush().unwrap();
    (score_sum, comment_len)
}

/// Aborts the sync (as a second Ctrl-C does: nothing more committed, pending records
/// dropped) once `after` records have arrived: a crash in the middle of a file.
struct CrashAfter {
    stop: txlake_sync::StopHandle,
    after: u64,
    seen: AtomicU64,
}

impl Observer for CrashAfter {
    fn records(&self, _stream: &str, rows: u64) {
        let before = self.seen.fetch_add(rows, Ordering::SeqCst);
        if before < self.after && before + rows >= self.after {
            self.stop.request_stop();
            self.stop.request_stop();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_csv_aborted_mid_file_resumes_with_nothing_lost_or_doubled() {
    const ROWS: u64 = 600_000;
    let work = Workspace::new();
    let big = work.data().join("answers_big.csv");
    let (score_sum, comment_len) = write_big_csv(&big, ROWS, 0);
    let size = std::fs::metadata(&big).unwrap().len();
    assert!(size > 45_000_000, "a 50 MB file: {size} bytes");
    let config = json!({ "url": work.url(), "streams": [{ "name": "answers", "glob": "*.csv" }] });

    let crash = CrashAfter { stop: txlake_sync::StopHandle::new(), after: 230_000, seen: AtomicU64::new(0) };
    let crashing = SyncOptions { stop: crash.stop.clone(), ..options(50_000) };
    let report =
        sync_connection(&work.lake, &builtin_registry(), CONNECTION, &connection(config.clone()), &crashing, &crash)
            .await
            .unwrap();
    assert_eq!(report.status, RunStatus::Cancelled, "{:?}", report.error);
    let committed = number(&work.lake, "SELECT count(*) FROM hr.answers").await;
    assert!(
        committed > 0 && committed < ROWS as i64,
        "checkpoints inside the file let commits land before the crash: {committed} rows committed"
    );

    let report = sync_observed(&work.lake, config.clone(), &options(50_000), &QuietObserver).await;
    assert_eq!(landed(&report)["answers"] as i64, ROWS as i64 - committed, "the resumed run read only the rest");
    let got = rows(
        &work.lake,
        "SELECT count(*), count(DISTINCT _row), min(_row), max(_row), sum(score), sum(length(comment)), \
         sum(CASE WHEN response_id = _row THEN 0 ELSE 1 END), count(DISTINCT _file) FROM hr.answers",
    )
    .await;
    assert_eq!(
        got,
        vec![vec![
            ROWS.to_string(),
            ROWS.to_string(),
            "1".into(),
            ROWS.to_string(),
            score_sum.to_string(),
            comment_len.to_string(),
            "0".into(),
            "1".into()
        ]],
        "count, distinct rows, first and last row, score and comment sums, rows out of place, files"
    );
    let report = sync_ok(&work.lake, config).await;
    assert_eq!(landed(&report)["answers"], 0, "then nothing more to read");
}

/// Serves an S3 API over `root` on a free loopback port (as tests/e2e/s3.rs does); returns
/// the endpoint.
async fn start_s3(root: &Path) -> String {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single("files-test", "files-secret"));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
    endpoint
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_from_an_s3_bucket() {
    let s3_root = tempfile::tempdir().unwrap();
    let prefix = s3_root.path().join("exports/survey");
    std::fs::create_dir_all(&prefix).unwrap();
    for file in ["survey_utf8.csv", "survey.parquet", "survey.xlsx"] {
        std::fs::copy(fixtures().join(file), prefix.join(file)).unwrap();
    }
    let endpoint = start_s3(s3_root.path()).await;
    let work = Workspace::new();
    let config = json!({
        "url": "s3://exports/survey",
        "options": {
            "aws_endpoint": endpoint, "aws_allow_http": "true", "aws_region": "us-east-1",
            "aws_access_key_id": "files-test", "aws_secret_access_key": "files-secret"
        },
        "streams": [
            { "name": "csv", "glob": "*.csv" },
            { "name": "parquet", "glob": "*.parquet" },
            { "name": "xlsx", "glob": "*.xlsx", "sheet": "Answers" },
        ]
    });
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report), BTreeMap::from([("csv".into(), 12), ("parquet".into(), 12), ("xlsx".into(), 12)]));
    for stream in ["csv", "parquet", "xlsx"] {
        assert_eq!(canonical_rows(&work.lake, &format!("hr.{stream}"), "").await, expected_rows(), "{stream}");
    }
    assert_eq!(rows(&work.lake, "SELECT DISTINCT _file FROM hr.csv").await, vec![vec!["survey_utf8.csv".to_string()]]);

    // Unchanged objects are not read again; a new one is.
    let report = sync_ok(&work.lake, config.clone()).await;
    assert!(landed(&report).values().all(|n| *n == 0), "{:?}", landed(&report));
    std::fs::copy(fixtures().join("survey_utf8.csv"), prefix.join("more.csv")).unwrap();
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["csv"], 12);
    assert_eq!(number(&work.lake, "SELECT count(*) FROM hr.csv").await, 24);

    // Wrong keys: the error names the bucket and what the store said.
    let mut wrong = config;
    wrong["options"]["aws_secret_access_key"] = json!("not-the-secret");
    let error = sync_error(&Workspace::new().lake, wrong).await;
    assert!(error.contains("s3://exports/survey") || error.contains("exports"), "{error}");
    assert!(!error.contains("not-the-secret"), "the secret stays out of errors: {error}");
}

/// The web server a file is downloaded from: one CSV behind a bearer token.
struct WebFile {
    body: Vec<u8>,
    authorizations: Mutex<Vec<String>>,
}

async fn serve_file(State(file): State<Arc<WebFile>>, headers: HeaderMap) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    file.authorizations.lock().unwrap().push(authorization.clone());
    if authorization != "Bearer files-token" {
        return (StatusCode::UNAUTHORIZED, "missing or wrong token").into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::LAST_MODIFIED, "Mon, 16 Nov 2026 10:00:00 GMT")],
        file.body.clone(),
    )
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_downloaded_over_http_with_a_header() {
    let file = Arc::new(WebFile {
        body: std::fs::read(fixtures().join("survey_utf8.csv")).unwrap(),
        authorizations: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new().route("/exports/survey.csv", axum::routing::get(serve_file)).with_state(file.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/exports/survey.csv", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let work = Workspace::new();
    let config = json!({
        "url": url,
        "options": { "headers": { "Authorization": "Bearer files-token" } },
        "streams": [{ "name": "answers" }]
    });
    let report = sync_ok(&work.lake, config.clone()).await;
    assert_eq!(landed(&report)["answers"], 12);
    assert_eq!(canonical_rows(&work.lake, "hr.answers", "").await, expected_rows());
    assert_eq!(rows(&work.lake, "SELECT DISTINCT _file FROM hr.answers").await, vec![vec![url.clone()]]);
    assert!(file.authorizations.lock().unwrap().iter().all(|a| a == "Bearer files-token"));

    let mut wrong = config;
    wrong["options"]["headers"]["Authorization"] = json!("Bearer expired");
    let error = sync_error(&Workspace::new().lake, wrong).await;
    assert!(error.contains("401"), "{error}");
    assert!(error.contains(&url), "names the URL: {error}");
    assert!(!error.contains("Bearer expired"), "the header stays out of errors: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_give_errors_naming_the_key() {
    let work = Workspace::new();
    let missing = work.dir.path().join("no-such-folder");
    let error = sync_error(
        &work.lake,
        json!({ "url": missing.display().to_string(), "streams": [{ "name": "answers", "glob": "*.csv" }] }),
    )
    .await;
    assert!(
        error.contains("no-such-folder") && (error.contains("url") || error.contains("folder")),
        "a missing folder: {error}"
    );

    let error = sync_error(
        &work.lake,
        json!({ "url": fixture_url(), "streams": [{ "name": "answers", "glob": "survey_1251.csv", "encoding": "klingon-8" }] }),
    )
    .await;
    assert!(error.contains("encoding") && error.contains("klingon-8"), "a bad encoding label: {error}");

    let error = sync_error(
        &work.lake,
        json!({ "url": fixture_url(), "streams": [{ "name": "answers", "glob": "survey_utf8.csv", "format": "docx" }] }),
    )
    .await;
    assert!(error.contains("format") && error.contains("docx"), "an unknown format: {error}");

    let error = sync_error(
        &work.lake,
        json!({ "url": fixture_url(), "streams": [{ "name": "answers", "glob": "survey_utf8.csv", "delimiter": ";;" }] }),
    )
    .await;
    assert!(error.contains("delimiter"), "a delimiter of two characters: {error}");
    assert!(work.lake.list_raw_tables().await.unwrap().is_empty(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_syncs_the_documented_toml_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("txlake.toml");
    std::fs::write(
        &config,
        format!(
            "[lake]\nurl = \"file://./lake\"\n\n[connections.hr_files]\nconnector = \"files\"\nconfig = {{ url = \"{}\", streams = [\n  {{ name = \"enps\", glob = \"survey_1251.csv\", delimiter = \";\", encoding = \"windows-1251\", columns = {{ score = \"int\" }}, date_format = \"%d.%m.%Y\" }},\n  {{ name = \"pulse\", glob = \"survey.xlsx\", sheet = \"Scores\", header_rows = 2 }},\n] }}\n",
            fixture_url()
        ),
    )
    .unwrap();
    let output = crate::support::txlake(&["sync", "--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("enps") && stdout.contains("pulse"), "{stdout}");
    let output = crate::support::txlake(&[
        "query",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        "SELECT department, count(*) AS answers, sum(score) AS score FROM hr_files.enps GROUP BY department ORDER BY department",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        got,
        json!([
            { "department": "Маркетинг", "answers": 2, "score": 14 },
            { "department": "Поддержка", "answers": 3, "score": 15 },
            { "department": "Продажи", "answers": 3, "score": 25 },
            { "department": "Разработка", "answers": 3, "score": 23 },
            // The one answer without a score: `--format json` leaves out a null.
            { "department": "Финансы", "answers": 1 },
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reupload_aborted_mid_file_ends_with_exactly_the_new_rows() {
    let work = Workspace::new();
    let path = work.data().join("answers.csv");
    write_big_csv(&path, 20_000, 0);
    let config = json!({ "url": work.url(), "streams": [{ "name": "answers", "glob": "*.csv", "batch_size": 1_000 }] });
    sync_observed(&work.lake, config.clone(), &options(1_000), &QuietObserver).await;

    // Re-uploaded with other answers (ids from 1,000,001), and the sync aborted half-way.
    write_big_csv(&path, 15_000, 1_000_000);
    let crash = CrashAfter { stop: txlake_sync::StopHandle::new(), after: 7_500, seen: AtomicU64::new(0) };
    let crashing = SyncOptions { stop: crash.stop.clone(), ..options(1_000) };
    let report =
        sync_connection(&work.lake, &builtin_registry(), CONNECTION, &connection(config.clone()), &crashing, &crash)
            .await
            .unwrap();
    assert_eq!(report.status, RunStatus::Cancelled, "{:?}", report.error);
    let split = "SELECT sum(CASE WHEN response_id > 1000000 THEN 0 ELSE 1 END), \
                 sum(CASE WHEN response_id > 1000000 THEN 1 ELSE 0 END) FROM hr.answers";
    let got = rows(&work.lake, split).await;
    let (old, new): (i64, i64) = (got[0][0].parse().unwrap(), got[0][1].parse().unwrap());
    assert_eq!(old, 0, "the first commit of the re-read removed the old rows");
    assert!(new > 0 && new < 15_000, "part of the new file committed: {new}");

    // Resumed: exactly the new file, once.
    sync_observed(&work.lake, config, &options(1_000), &QuietObserver).await;
    let got = rows(
        &work.lake,
        "SELECT count(*), count(DISTINCT _row), min(_row), max(_row), \
         sum(CASE WHEN response_id = _row + 1000000 THEN 0 ELSE 1 END) FROM hr.answers",
    )
    .await;
    assert_eq!(got, vec![vec!["15000", "15000", "1", "15000", "0"]]);
}
