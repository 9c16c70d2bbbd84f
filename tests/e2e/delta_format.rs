//! The tables are plain Delta: the log replays with nothing but a JSON parser, the data
//! files read with a bare Parquet reader, and the Delta library agrees on the file set.

use std::collections::BTreeSet;

use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use txlake_lake::TableId;

use crate::support::{count_ids, file_lake, small_world, txlake, write_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_readable_by_any_delta_reader() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &small_world(None), 500);
    let output = txlake(&["sync", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let table_dir = dir.path().join("lake/raw/demo/touchpoint_events");
    let mut log_files: Vec<_> = std::fs::read_dir(table_dir.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    log_files.sort();
    assert!(log_files.len() > 2, "several commits: {log_files:?}");

    // Replay the log by hand, as a reader in another language would.
    let mut active = BTreeSet::new();
    let mut saw_protocol = false;
    let mut states = Vec::new();
    let mut txn_versions = Vec::new();
    for file in &log_files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let action: Value = serde_json::from_str(line).expect("every log line is JSON");
            if let Some(protocol) = action.get("protocol") {
                saw_protocol = true;
                assert!(protocol["minReaderVersion"].as_i64().unwrap() <= 3);
            }
            if let Some(add) = action.get("add") {
                active.insert(add["path"].as_str().unwrap().to_string());
            }
            if let Some(remove) = action.get("remove") {
                active.remove(remove["path"].as_str().unwrap());
            }
            if let Some(info) = action.get("commitInfo")
                && let Some(state) = info.get("txlake.state")
            {
                states.push(state.clone());
            }
            if let Some(txn) = action.get("txn") {
                assert_eq!(txn["appId"], "txlake:demo/touchpoint_events");
                txn_versions.push(txn["version"].as_i64().unwrap());
            }
        }
    }
    assert!(saw_protocol);
    assert!(!states.is_empty(), "commits carry the connector state");
    let last: Value = serde_json::from_str(states.last().unwrap().as_str().unwrap()).unwrap();
    assert!(last["cursor"].as_str().unwrap().starts_with("2025-04-01"), "final state is the end of the window: {last}");
    assert_eq!(txn_versions, (1..=txn_versions.len() as i64).collect::<Vec<_>>(), "txn versions count commits");

    // Read the active files with a bare Parquet reader.
    let mut rows = 0usize;
    for path in &active {
        let file = std::fs::File::open(table_dir.join(path)).expect("every active file exists");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            assert!(batch.schema().field_with_name("occurred_at").is_ok());
            rows += batch.num_rows();
        }
    }
    let lake = file_lake(dir.path());
    let (counted, _) = count_ids(&lake, "demo.touchpoint_events").await;
    assert_eq!(rows as i64, counted, "the hand-replayed log and the Delta reader see the same rows");

    // The Delta library's own view of the file set matches.
    let table = lake.load_table(&lake.table_url(&TableId::new("demo", "touchpoint_events"))).await.unwrap().unwrap();
    let uris: BTreeSet<String> =
        table.get_file_uris().unwrap().map(|u| u.rsplit('/').next().unwrap().to_string()).collect();
    let names: BTreeSet<String> = active.iter().map(|p| p.rsplit('/').next().unwrap().to_string()).collect();
    assert_eq!(uris, names);
}
