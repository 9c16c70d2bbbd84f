//! The connector through its public operations on small files built here: discover's
//! schemas and questions, every format, encodings, headers, malformed rows in both modes,
//! the incremental state's transitions, resuming mid-file, per-file streams and an object
//! store source.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::Array;
use arrow::datatypes::DataType;
use futures::StreamExt;
use serde_json::{Value, json};
use txlake_connector::{
    Catalog, ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError, LogLevel, Message, ReadRequest, StateMap,
    StreamMode,
};

use crate::FilesConnector;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

fn config(dir: &Path, streams: Value) -> Value {
    json!({ "url": dir.display().to_string(), "streams": streams })
}

async fn discover(config: &Value) -> Catalog {
    FilesConnector.discover(config).await.unwrap_or_else(|e| panic!("discover {config}: {e}"))
}

/// Every message of a read of every discovered stream.
async fn read(config: &Value, state: &StateMap) -> Vec<Message> {
    let catalog = discover(config).await;
    let streams = catalog
        .streams
        .into_iter()
        .map(|stream| ConfiguredStream { stream, mode: StreamMode::IncrementalAppend })
        .collect();
    let request = ReadRequest { config: config.clone(), catalog: ConfiguredCatalog { streams }, state: state.clone() };
    let messages = FilesConnector.read(request).await.unwrap();
    messages.map(|m| m.unwrap()).collect().await
}

/// The rows of `stream`'s batches, each cell as text (`NULL` for nulls), the listed columns.
fn rows(messages: &[Message], stream: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for message in messages {
        if let Message::Batch { stream: s, batch } = message
            && s == stream
        {
            for row in 0..batch.num_rows() {
                out.push(
                    columns
                        .iter()
                        .map(|c| {
                            let mut array = batch.column_by_name(c).unwrap_or_else(|| panic!("no column {c}")).clone();
                            // Shown without the zone name (displaying "UTC" needs chrono-tz).
                            if let DataType::Timestamp(unit, Some(_)) = array.data_type() {
                                array = arrow::compute::cast(&array, &DataType::Timestamp(*unit, None)).unwrap();
                            }
                            if array.is_null(row) {
                                "NULL".to_string()
                            } else {
                                arrow::util::display::array_value_to_string(&array, row).unwrap()
                            }
                        })
                        .collect(),
                );
            }
        }
    }
    out
}

fn state_map(messages: &[Message]) -> StateMap {
    let mut map = StateMap::new();
    for message in messages {
        if let Message::State { stream, state } = message {
            map.insert(stream.clone(), state.clone());
        }
    }
    map
}

fn failures(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::StreamFailed { stream, error } => Some(format!("{stream}: {error}")),
            _ => None,
        })
        .collect()
}

fn warnings(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Log { level: LogLevel::Warn, message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn replaced(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::ReplaceRows { column, value, .. } => Some(format!("{column}={value}")),
            _ => None,
        })
        .collect()
}

fn types(catalog: &Catalog, stream: &str) -> Vec<(String, DataType)> {
    catalog.stream(stream).unwrap().schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect()
}

fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
}

const SURVEY: &str = "response_id,email,score,ratio,flag,answered_on,submitted_at,comment\n\
r1,a@x.example,9,0.5,true,2025-01-31,2025-01-31T10:00:00Z,fine\n\
r2,b@x.example,,1.25,false,2025-02-01,2025-02-01 11:30:00+03:00,\n\
r3,c@x.example,3,2,TRUE,2025-02-02,2025-02-02T00:00:00Z,\"a, b\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_infers_types_and_lists_score_columns_as_questions() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "survey.csv", SURVEY.as_bytes());
    let catalog = discover(&config(dir.path(), json!([{ "name": "answers", "glob": "*.csv" }]))).await;
    let ts = crate::value::timestamp_type();
    assert_eq!(
        types(&catalog, "answers"),
        vec![
            ("response_id".into(), DataType::Utf8),
            ("email".into(), DataType::Utf8),
            ("score".into(), DataType::Int64),
            ("ratio".into(), DataType::Float64),
            ("flag".into(), DataType::Boolean),
            ("answered_on".into(), DataType::Date32),
            ("submitted_at".into(), ts.clone()),
            ("comment".into(), DataType::Utf8),
            ("_file".into(), DataType::Utf8),
            ("_row".into(), DataType::Int64),
            ("_modified".into(), ts),
        ]
    );
    let stream = catalog.stream("answers").unwrap();
    assert_eq!(stream.primary_key, ["_file", "_row"]);
    assert_eq!(stream.cursor_field.as_deref(), Some("_modified"));
    assert_eq!(stream.default_mode, StreamMode::IncrementalAppend);
    assert!(stream.description.contains("survey.csv"), "{}", stream.description);
    assert_eq!(catalog.questions.len(), 1, "{:?}", catalog.questions);
    let question = &catalog.questions[0];
    assert_eq!((question.survey_id.as_str(), question.field.as_str()), ("answers", "score"));
    assert_eq!((question.kind.as_str(), question.scale), ("int", Some((3, 9))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_rows_carry_file_row_and_modified_and_parse_every_type() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "survey.csv", SURVEY.as_bytes());
    let messages = read(&config(dir.path(), json!([{ "name": "answers" }])), &StateMap::new()).await;
    assert!(failures(&messages).is_empty(), "{:?}", failures(&messages));
    let got = rows(
        &messages,
        "answers",
        &["response_id", "score", "ratio", "flag", "answered_on", "submitted_at", "comment", "_file", "_row"],
    );
    assert_eq!(
        got,
        table(&[
            &["r1", "9", "0.5", "true", "2025-01-31", "2025-01-31T10:00:00", "fine", "survey.csv", "1"],
            &["r2", "NULL", "1.25", "false", "2025-02-01", "2025-02-01T08:30:00", "NULL", "survey.csv", "2"],
            &["r3", "3", "2.0", "true", "2025-02-02", "2025-02-02T00:00:00", "a, b", "survey.csv", "3"],
        ])
    );
    let modified = std::fs::metadata(dir.path().join("survey.csv")).unwrap().modified().unwrap();
    let micros = modified.duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let batch = messages.iter().find_map(|m| match m {
        Message::Batch { batch, .. } => Some(batch.clone()),
        _ => None,
    });
    let batch = batch.unwrap();
    let column = batch.column_by_name("_modified").unwrap();
    let stamps = column.as_any().downcast_ref::<arrow::array::TimestampMicrosecondArray>().unwrap();
    assert!(stamps.iter().all(|t| t == Some(micros)), "{stamps:?} vs {micros}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encodings_delimiters_quoting_and_byte_order_marks() {
    let dir = tempfile::tempdir().unwrap();
    let (cp1251, _, _) =
        encoding_rs::WINDOWS_1251.encode("имя;дата;оценка;балл\nАня;31.01.2025;9;4,5\nБорис;01.02.2025;7;3\n");
    write(dir.path(), "ru.csv", &cp1251);
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "id\tcomment\r\n1\t\"Said \"\"hi\"\"\r\nthen left\"\r\n2\tплохо\r\n".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    write(dir.path(), "notes.tsv", &utf16);
    let config = config(
        dir.path(),
        json!([
            { "name": "ru", "glob": "ru.csv", "delimiter": ";", "encoding": "windows-1251", "date_format": "%d.%m.%Y", "decimal": "," },
            { "name": "notes", "glob": "*.tsv" },
        ]),
    );
    let catalog = discover(&config).await;
    assert_eq!(types(&catalog, "ru")[1], ("дата".into(), DataType::Date32));
    assert_eq!(types(&catalog, "ru")[3], ("балл".into(), DataType::Float64));
    let messages = read(&config, &StateMap::new()).await;
    assert!(failures(&messages).is_empty(), "{:?}", failures(&messages));
    assert_eq!(
        rows(&messages, "ru", &["имя", "дата", "оценка", "балл"]),
        table(&[&["Аня", "2025-01-31", "9", "4.5"], &["Борис", "2025-02-01", "7", "3.0"]])
    );
    // A .tsv is tab-separated by default; the BOM says UTF-16 LE; a quoted field keeps its
    // doubled quotes and line break, and `_row` counts records, not lines.
    assert_eq!(
        rows(&messages, "notes", &["id", "comment", "_row"]),
        table(&[&["1", "Said \"hi\"\r\nthen left", "1"], &["2", "плохо", "2"]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_rows_skip_rows_and_headerless_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "two.csv", b"Report of 2025-01\n\n,Q1 satisfaction,,\nid,price,speed,id\n1,5,4,x\n");
    write(dir.path(), "none.csv", b"1,a\n2,b\n");
    let config = config(
        dir.path(),
        json!([
            { "name": "two", "glob": "two.csv", "skip_rows": 2, "header_rows": 2 },
            { "name": "none", "glob": "none.csv", "header_rows": 0 },
        ]),
    );
    let catalog = discover(&config).await;
    let names: Vec<String> = types(&catalog, "two").into_iter().map(|(n, _)| n).take(4).collect();
    assert_eq!(names, ["id", "Q1 satisfaction price", "Q1 satisfaction speed", "Q1 satisfaction id"]);
    let names: Vec<String> = types(&catalog, "none").into_iter().map(|(n, _)| n).take(2).collect();
    assert_eq!(names, ["column_1", "column_2"]);
    let messages = read(&config, &StateMap::new()).await;
    assert_eq!(rows(&messages, "two", &["id", "Q1 satisfaction speed", "_row"]), table(&[&["1", "4", "1"]]));
    assert_eq!(
        rows(&messages, "none", &["column_1", "column_2", "_row"]),
        table(&[&["1", "a", "1"], &["2", "b", "2"]])
    );
}

const MALFORMED: &str = "id,score,comment\n1,9,ok\n2,n/a,bad value\n3,7\n4,8,\"fine\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_fails_its_stream_naming_file_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.csv", MALFORMED.as_bytes());
    write(dir.path(), "good.csv", b"id\n1\n");
    let config = config(
        dir.path(),
        json!([
            { "name": "bad", "glob": "bad.csv", "columns": { "score": "int" } },
            { "name": "good", "glob": "good.csv" },
        ]),
    );
    let messages = read(&config, &StateMap::new()).await;
    let failed = failures(&messages);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with("bad: malformed row at bad.csv:3:2 (column \"score\"): \"n/a\" is not an integer"),
        "{}",
        failed[0]
    );
    assert!(failed[0].contains("on_error = \"skip\""), "says how to go on: {}", failed[0]);
    // The other stream went on.
    assert_eq!(rows(&messages, "good", &["id"]), table(&[&["1"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rows_are_skipped_counted_and_logged_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = MALFORMED.to_string();
    text.push_str("5,\"open quote,x\n6,1,y\n");
    write(dir.path(), "bad.csv", text.as_bytes());
    let config = config(dir.path(), json!([{ "name": "bad", "columns": { "score": "int" }, "on_error": "skip" }]));
    let messages = read(&config, &StateMap::new()).await;
    assert!(failures(&messages).is_empty());
    assert_eq!(rows(&messages, "bad", &["id", "_row"]), table(&[&["1", "1"], &["4", "4"]]));
    let logged = warnings(&messages);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("skipped 3 malformed rows of bad.csv"), "{}", logged[0]);
    assert!(logged[0].contains("bad.csv:3:2"), "{}", logged[0]);
    assert!(logged[0].contains("bad.csv:4: the row has 2 fields where the header has 3"), "{}", logged[0]);
    assert!(logged[0].contains("is a quote left open?"), "{}", logged[0]);
    let counted: u64 = messages
        .iter()
        .filter_map(|m| match m {
            Message::Warnings { count, .. } => Some(*count),
            _ => None,
        })
        .sum();
    assert_eq!(counted, 3, "the run history counts the skipped rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bytes_in_the_encoding_make_the_row_malformed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "utf8.csv", b"id,name\n1,ok\n2,\xff\xfe\n");
    write(dir.path(), "cp.csv", b"id,name\n1,ok\n2,\xff\n");
    let config = config(
        dir.path(),
        json!([
            { "name": "utf8", "glob": "utf8.csv", "on_error": "skip" },
            { "name": "cp", "glob": "cp.csv", "encoding": "shift_jis", "on_error": "skip" },
        ]),
    );
    let messages = read(&config, &StateMap::new()).await;
    assert_eq!(rows(&messages, "utf8", &["id"]), table(&[&["1"]]));
    assert_eq!(rows(&messages, "cp", &["id"]), table(&[&["1"]]));
    let logged = warnings(&messages).join("\n");
    assert!(
        logged.contains("utf8.csv:3:2 (column \"name\"): the row holds bytes that are not valid UTF-8"),
        "{logged}"
    );
    assert!(logged.contains("cp.csv:3: the row holds bytes that are not valid Shift_JIS"), "{logged}");
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_unchanged_grown_replaced_and_added_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"id,score\n1,5\n2,6\n");
    let config = config(dir.path(), json!([{ "name": "s", "glob": "*.csv" }]));

    let first = read(&config, &StateMap::new()).await;
    assert_eq!(rows(&first, "s", &["id", "_row"]), table(&[&["1", "1"], &["2", "2"]]));
    let state = state_map(&first);
    assert_eq!(state["s"]["files"]["a.csv"]["complete"], true);
    assert_eq!(state["s"]["files"]["a.csv"]["rows"], 2);

    // Unchanged: nothing.
    let again = read(&config, &state).await;
    assert!(rows(&again, "s", &["id"]).is_empty());

    // Grown: only the new rows, numbered on.
    append(&dir.path().join("a.csv"), "3,7\n4,8\n");
    let grown = read(&config, &state).await;
    assert!(replaced(&grown).is_empty());
    assert_eq!(rows(&grown, "s", &["id", "_row"]), table(&[&["3", "3"], &["4", "4"]]));
    let state = state_map(&grown);
    assert_eq!(state["s"]["files"]["a.csv"]["rows"], 4);

    // Rewritten (same length, other bytes): its rows are replaced.
    write(dir.path(), "a.csv", b"id,score\n1,9\n2,9\n3,9\n4,9\n");
    let rewritten = read(&config, &state).await;
    assert_eq!(replaced(&rewritten), ["_file=a.csv"]);
    let position = |kind: fn(&Message) -> bool| rewritten.iter().position(kind).unwrap();
    assert!(position(|m| matches!(m, Message::ReplaceRows { .. })) < position(|m| matches!(m, Message::Batch { .. })));
    assert_eq!(rows(&rewritten, "s", &["id", "score", "_row"]).len(), 4);
    let state = state_map(&rewritten);

    // A new file is read whole; the old one stays skipped.
    write(dir.path(), "b.csv", b"id,score\n10,1\n");
    let added = read(&config, &state).await;
    assert!(replaced(&added).is_empty());
    assert_eq!(rows(&added, "s", &["id", "_file", "_row"]), table(&[&["10", "b.csv", "1"]]));
    assert_eq!(state_map(&added)["s"]["files"].as_object().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_stopped_mid_file_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,comment\n");
    for i in 1..=300_000 {
        text.push_str(&format!("{i},\"row {i} with a comma, and some padding text\"\n"));
    }
    write(dir.path(), "big.csv", text.as_bytes());
    write(
        dir.path(),
        "big.jsonl",
        text.lines()
            .skip(1)
            .map(|l| format!("{{\"id\": {}}}\n", l.split(',').next().unwrap()))
            .collect::<String>()
            .as_bytes(),
    );
    for (stream, glob) in [("csv", "big.csv"), ("jsonl", "big.jsonl")] {
        let config = config(dir.path(), json!([{ "name": stream, "glob": glob, "batch_size": 20000 }]));
        let all = read(&config, &StateMap::new()).await;
        let ids: Vec<String> = rows(&all, stream, &["id"]).into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(ids.len(), 300_000);
        // The state of the first checkpoint inside the file, as a crash after its commit leaves it.
        let checkpoint = all.iter().find_map(|m| match m {
            Message::State { state, .. } if state["files"][glob]["complete"] == false => Some(state.clone()),
            _ => None,
        });
        let checkpoint = checkpoint.unwrap_or_else(|| panic!("{stream}: a checkpoint inside the file"));
        let done = checkpoint["files"][glob]["rows"].as_u64().unwrap() as usize;
        assert!(done > 0 && done < 300_000, "{checkpoint}");
        let state = StateMap::from([(stream.to_string(), checkpoint)]);
        let rest = read(&config, &state).await;
        assert!(replaced(&rest).is_empty());
        let rest_ids: Vec<String> = rows(&rest, stream, &["id"]).into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(rest_ids, ids[done..], "{stream}: exactly the rows after the checkpoint");
        let rest_rows = rows(&rest, stream, &["_row"]);
        assert_eq!(rest_rows[0][0], (done + 1).to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_per_file_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "exports/2025/Q1 Pulse.csv", b"id\n1\n");
    write(dir.path(), "exports/2025/q2-pulse.csv", b"id\n2\n");
    write(dir.path(), "exports/readme.txt", b"not data\n");
    write(dir.path(), "top.csv", b"id\n3\n");
    let config = config(dir.path(), json!([{ "name": "pulse", "glob": "exports/**/*.csv", "stream_per_file": true }]));
    let catalog = discover(&config).await;
    assert_eq!(catalog.names(), ["pulse_q1_pulse", "pulse_q2_pulse"]);
    let messages = read(&config, &StateMap::new()).await;
    assert_eq!(rows(&messages, "pulse_q1_pulse", &["id", "_file"]), table(&[&["1", "exports/2025/Q1 Pulse.csv"]]));
    assert_eq!(rows(&messages, "pulse_q2_pulse", &["id", "_file"]), table(&[&["2", "exports/2025/q2-pulse.csv"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_file_adds_its_new_columns() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.csv", b"id,score\n1,5\n");
    write(dir.path(), "2.csv", b"id,score,team\n2,6,core\n");
    let config = config(dir.path(), json!([{ "name": "s" }]));
    let catalog = discover(&config).await;
    let names: Vec<String> = types(&catalog, "s").into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["id", "score", "team", "_file", "_row", "_modified"]);
    let messages = read(&config, &StateMap::new()).await;
    assert_eq!(rows(&messages, "s", &["id", "team"]), table(&[&["1", "NULL"], &["2", "core"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_file_adds_nothing_and_fails_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "0.csv", b"");
    write(dir.path(), "1.csv", b"id,score\n1,5\n");
    let config = config(dir.path(), json!([{ "name": "s" }]));
    let names: Vec<String> = types(&discover(&config).await, "s").into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["id", "score", "_file", "_row", "_modified"]);
    let messages = read(&config, &StateMap::new()).await;
    assert!(failures(&messages).is_empty(), "{:?}", failures(&messages));
    assert_eq!(rows(&messages, "s", &["id", "_file"]), table(&[&["1", "1.csv"]]));
    assert_eq!(state_map(&messages)["s"]["files"]["0.csv"]["complete"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_and_json_arrays() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.jsonl",
        b"{\"id\": 1, \"score\": 9, \"at\": \"2025-01-01T00:00:00Z\", \"tags\": [\"x\"]}\n\n{\"id\": 2, \"score\": null, \"ok\": true}\n",
    );
    write(dir.path(), "b.json", b"[{\"id\": 1, \"v\": 1.5}, {\"id\": 2, \"v\": 2}]");
    write(dir.path(), "c.json", b"{\"not\": \"an array\"}");
    let config =
        config(dir.path(), json!([{ "name": "lines", "glob": "*.jsonl" }, { "name": "array", "glob": "b.json" }]));
    let catalog = discover(&config).await;
    let lines = types(&catalog, "lines");
    assert_eq!(lines[2], ("at".into(), crate::value::timestamp_type()));
    assert_eq!(lines[3], ("tags".into(), DataType::Utf8));
    assert_eq!(lines[4], ("ok".into(), DataType::Boolean));
    assert_eq!(types(&catalog, "array")[1], ("v".into(), DataType::Float64));
    let messages = read(&config, &StateMap::new()).await;
    assert_eq!(
        rows(&messages, "lines", &["id", "score", "tags", "ok", "_row"]),
        table(&[&["1", "9", "[\"x\"]", "NULL", "1"], &["2", "NULL", "NULL", "true", "2"]])
    );
    assert_eq!(rows(&messages, "array", &["id", "v", "_row"]), table(&[&["1", "1.5", "1"], &["2", "2.0", "2"]]));
    let not_array = json!({ "url": dir.path().display().to_string(), "streams": [{ "name": "c", "glob": "c.json" }] });
    let error = FilesConnector.discover(&not_array).await.unwrap_err().to_string();
    assert!(error.contains("c.json") && error.contains("array"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_keeps_its_stored_schema() {
    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("score", DataType::Int32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec!["a", "b"])), Arc::new(Int32Array::from(vec![Some(3), None]))],
    )
    .unwrap();
    let file = std::fs::File::create(dir.path().join("p.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let config = config(dir.path(), json!([{ "name": "p" }]));
    let catalog = discover(&config).await;
    assert_eq!(types(&catalog, "p")[1], ("score".into(), DataType::Int32));
    assert_eq!(catalog.questions.len(), 1);
    let messages = read(&config, &StateMap::new()).await;
    assert_eq!(
        rows(&messages, "p", &["id", "score", "_row", "_file"]),
        table(&[&["a", "3", "1", "p.parquet"], &["b", "NULL", "2", "p.parquet"]])
    );
}

/// A minimal XLSX workbook: sheets of `(name, sheetData and mergeCells XML)`; cell style 1
/// is a date format.
fn xlsx(sheets: &[(&str, String)]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let mut types = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>"#,
    );
    let mut workbook =
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>"#);
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    );
    for (i, (name, _)) in sheets.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!(r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
        workbook.push_str(&format!(r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#));
        rels.push_str(&format!(
            r#"<Relationship Id="rId{n}" Type="{rel}/worksheet" Target="worksheets/sheet{n}.xml"/>"#
        ));
    }
    types.push_str("</Types>");
    workbook.push_str("</sheets></workbook>");
    rels.push_str(&format!(r#"<Relationship Id="rIdS" Type="{rel}/styles" Target="styles.xml"/></Relationships>"#));
    let styles = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{ns}"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut put = |name: &str, text: &str| {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    };
    put("[Content_Types].xml", &types);
    put(
        "_rels/.rels",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
        ),
    );
    put("xl/workbook.xml", &workbook);
    put("xl/_rels/workbook.xml.rels", &rels);
    put("xl/styles.xml", &styles);
    for (i, (_, body)) in sheets.iter().enumerate() {
        put(
            &format!("xl/worksheets/sheet{}.xml", i + 1),
            &format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}">{body}</worksheet>"#),
        );
    }
    zip.finish().unwrap().into_inner()
}

/// A row of inline-string (`s:`), number (`n:`) and date (`d:` Excel serial) cells from column A.
fn xrow(r: u32, cells: &[&str]) -> String {
    let mut out = format!(r#"<row r="{r}">"#);
    for (i, cell) in cells.iter().enumerate() {
        let at = format!("{}{r}", (b'A' + i as u8) as char);
        match cell.split_once(':') {
            Some(("s", text)) => out.push_str(&format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#)),
            Some(("n", v)) => out.push_str(&format!(r#"<c r="{at}"><v>{v}</v></c>"#)),
            Some(("d", v)) => out.push_str(&format!(r#"<c r="{at}" s="1"><v>{v}</v></c>"#)),
            _ => {}
        }
    }
    out.push_str("</row>");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_every_sheet_or_one_with_merged_two_row_headers_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let answers = format!(
        "<sheetData>{}{}{}{}{}</sheetData><mergeCells count=\"2\"><mergeCell ref=\"A2:A3\"/><mergeCell ref=\"B2:C2\"/></mergeCells>",
        xrow(1, &["s:eNPS export"]),
        xrow(2, &["s:ID", "s:Score", "", "s:Answered"]),
        xrow(3, &["", "s:NPS", "s:CSAT", ""]),
        xrow(4, &["s:r1", "n:9", "n:4", "d:45943"]),
        xrow(5, &["s:r2", "n:6", "n:5", "d:45944"]),
    );
    // The team cell is merged down over both answers.
    let q3 = format!(
        "<sheetData>{}{}{}</sheetData><mergeCells count=\"1\"><mergeCell ref=\"C2:C3\"/></mergeCells>",
        xrow(1, &["s:ID", "s:NPS", "s:Team"]),
        xrow(2, &["s:a1", "n:10", "s:core"]),
        xrow(3, &["s:a2", "n:8"])
    );
    let q4 = format!(
        "<sheetData>{}{}</sheetData>",
        xrow(1, &["s:ID", "s:NPS", "s:Team"]),
        xrow(2, &["s:b1", "n:7", "s:web"])
    );
    write(dir.path(), "pulse.xlsx", &xlsx(&[("Answers", answers)]));
    write(dir.path(), "quarters.xlsx", &xlsx(&[("Q3", q3), ("Q4", q4)]));
    let config = config(
        dir.path(),
        json!([
            { "name": "one", "glob": "pulse.xlsx", "sheet": "Answers", "skip_rows": 1, "header_rows": 2 },
            { "name": "all", "glob": "quarters.xlsx" },
        ]),
    );
    let catalog = discover(&config).await;
    assert_eq!(
        types(&catalog, "one")[..4],
        [
            ("ID".to_string(), DataType::Utf8),
            ("Score NPS".to_string(), DataType::Int64),
            ("Score CSAT".to_string(), DataType::Int64),
            ("Answered".to_string(), DataType::Date32),
        ]
    );
    assert_eq!(catalog.stream("all").unwrap().primary_key, ["_file", "_sheet", "_row"]);
    let messages = read(&config, &StateMap::new()).await;
    assert!(failures(&messages).is_empty(), "{:?}", failures(&messages));
    assert_eq!(
        rows(&messages, "one", &["ID", "Score NPS", "Score CSAT", "Answered", "_row"]),
        table(&[&["r1", "9", "4", "2025-10-13", "1"], &["r2", "6", "5", "2025-10-14", "2"]])
    );
    // Every sheet: `_sheet` names it and `_row` counts within it; a merged data cell fills its range.
    assert_eq!(
        rows(&messages, "all", &["_sheet", "_row", "ID", "NPS", "Team"]),
        table(&[&["Q3", "1", "a1", "10", "core"], &["Q3", "2", "a2", "8", "core"], &["Q4", "1", "b1", "7", "web"]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_store_source_lists_reads_and_grows() {
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};
    let store = Arc::new(InMemory::new());
    let put = |path: &str, text: &str| {
        let store = store.clone();
        let path = object_store::path::Path::from(path);
        let payload = PutPayload::from(text.as_bytes().to_vec());
        async move { store.put(&path, payload).await.unwrap() }
    };
    put("exports/a.csv", "id,score\n1,5\n").await;
    put("exports/sub/b.csv", "id,score\n2,6\n").await;
    put("other/c.csv", "id,score\n3,7\n").await;
    let location = crate::source::Location::Store { store: store.clone(), prefix: "exports".into() };
    let config = json!({ "url": "s3://bucket/exports", "streams": [{ "name": "s", "glob": "**/*.csv" }] });
    let settings = crate::FilesConfig::settings(&config).unwrap();
    let handle = tokio::runtime::Handle::current();
    let read_with = |state: StateMap| {
        let (settings, location, handle) = (settings.clone(), location.clone(), handle.clone());
        tokio::task::spawn_blocking(move || {
            let catalog = crate::discover_blocking(&settings, &location, &handle).unwrap();
            let plan = crate::read::ReadPlan::for_tests(settings, location, &catalog, state);
            let mut messages = Vec::new();
            crate::read::run(&plan, &handle, &mut |m| {
                messages.push(m);
                true
            });
            messages
        })
    };
    let first = read_with(StateMap::new()).await.unwrap();
    assert_eq!(rows(&first, "s", &["id", "_file"]), table(&[&["1", "a.csv"], &["2", "sub/b.csv"]]));
    put("exports/a.csv", "id,score\n1,5\n4,8\n").await;
    let second = read_with(state_map(&first)).await.unwrap();
    assert_eq!(rows(&second, "s", &["id", "_row"]), table(&[&["4", "2"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"id\n1\n");
    FilesConnector.check(&config(dir.path(), json!([{ "name": "a" }]))).await.unwrap();
    let error =
        FilesConnector.check(&config(dir.path(), json!([{ "name": "a", "glob": "*.xlsx" }]))).await.unwrap_err();
    assert!(error.to_string().contains("no file") && error.to_string().contains("*.xlsx"), "{error}");
    let cases = [
        (json!([{ "name": "a", "delimiter": ";;" }]), "config.streams.0.delimiter"),
        (json!([{ "name": "a", "encoding": "klingon-8" }]), "config.streams.0.encoding"),
        (json!([{ "name": "a", "glob": "[" }]), "config.streams.0.glob"),
        (json!([{ "name": "a", "date_format": "%Q" }]), "config.streams.0.date_format"),
        (json!([{ "name": "a", "columns": { "x": "decimal" } }]), "config.streams.0.columns.x"),
        (json!([{ "name": "a" }, { "name": "a" }]), "config.streams.1.name"),
        (json!([{ "name": "a b" }]), "config.streams.0.name"),
        (json!([{ "name": "a", "format": "docx" }]), "config.streams.0.format"),
    ];
    for (streams, key) in cases {
        let error = FilesConnector.check(&config(dir.path(), streams.clone())).await.unwrap_err();
        let ConnectorError::InvalidConfig { issues, .. } = &error else { panic!("{streams}: {error}") };
        assert!(issues.iter().any(|i| i.path == key), "{streams}: {error}");
    }
    let missing = FilesConnector
        .check(&json!({ "url": dir.path().join("nope").display().to_string(), "streams": [{ "name": "a" }] }))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
}

#[test]
fn the_spec_describes_every_key_and_marks_secrets() {
    let schema = crate::FilesConfig::spec().config_schema;
    let stream = &schema["properties"]["streams"]["items"]["properties"];
    for (name, property) in stream.as_object().unwrap() {
        assert!(property["description"].as_str().is_some_and(|d| d.len() > 15), "streams.{name} is described");
    }
    for name in ["url", "options", "streams"] {
        assert!(schema["properties"][name]["description"].is_string(), "{name} is described");
    }
    let options = &schema["properties"]["options"]["properties"];
    assert_eq!(options["aws_secret_access_key"]["x-secret"], true);
    assert_eq!(options["headers"]["x-secret"], true);
}
