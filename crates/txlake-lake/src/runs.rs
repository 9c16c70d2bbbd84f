//! The run history: one row per stream per sync run, in the Delta table
//! `<lake>/_txlake/sync_runs`, so any reader (and the API) can show what ran and what failed.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, TimeZone as _, Utc};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;

use crate::error::{LakeError, Result};
use crate::location::Lake;
use crate::table::create_table;

/// How a run of one stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Every record was committed.
    Succeeded,
    /// The run stopped on an error; the table is at its last commit.
    Failed,
    /// The user stopped the run; what was covered by a checkpoint is committed.
    Cancelled,
}

impl RunStatus {
    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "succeeded" => RunStatus::Succeeded,
            "cancelled" => RunStatus::Cancelled,
            _ => RunStatus::Failed,
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stream of one sync run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run (shared by all streams of one `txlake sync` of a connection).
    pub run_id: String,
    /// The connection.
    pub connection: String,
    /// The stream.
    pub stream: String,
    /// The write mode (`incremental_dedupe`, …).
    pub mode: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Records committed.
    pub records: u64,
    /// Arrow bytes committed.
    pub bytes: u64,
    /// Delta commits made.
    pub commits: u64,
    /// The error, for failed runs.
    pub error: Option<String>,
    /// Problems the read went past (pages without records, …); 0 in runs recorded before
    /// the history had this column.
    pub warnings: u64,
}

/// The run-history table of a lake.
#[derive(Debug, Clone)]
pub struct SyncRuns {
    lake: Lake,
}

impl SyncRuns {
    /// The history of `lake`.
    pub fn new(lake: &Lake) -> Self {
        Self { lake: lake.clone() }
    }

    fn schema() -> SchemaRef {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("run_id", DataType::Utf8, true),
            Field::new("connection", DataType::Utf8, true),
            Field::new("stream", DataType::Utf8, true),
            Field::new("mode", DataType::Utf8, true),
            Field::new("started_at", ts.clone(), true),
            Field::new("finished_at", ts, true),
            Field::new("status", DataType::Utf8, true),
            Field::new("records", DataType::Int64, true),
            Field::new("bytes", DataType::Int64, true),
            Field::new("commits", DataType::Int64, true),
            Field::new("error", DataType::Utf8, true),
            Field::new("warnings", DataType::Int64, true),
        ]))
    }

    /// Appends the records of a finished run in one commit.
    pub async fn append(&self, records: &[RunRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let url = self.lake.internal_table_url("sync_runs");
        let table = match self.lake.load_table(&url).await? {
            Some(table) => table,
            None => create_table(&self.lake, &url, "sync_runs", &Self::schema()).await?,
        };
        let strings =
            |f: fn(&RunRecord) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(records.iter().map(f))) };
        let times = |f: fn(&RunRecord) -> DateTime<Utc>| -> ArrayRef {
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(records.iter().map(|r| f(r).timestamp_micros()))
                    .with_timezone("UTC"),
            )
        };
        let numbers = |f: fn(&RunRecord) -> u64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(records.iter().map(|r| f(r) as i64)))
        };
        let batch = RecordBatch::try_new(
            Self::schema(),
            vec![
                strings(|r| &r.run_id),
                strings(|r| &r.connection),
                strings(|r| &r.stream),
                strings(|r| &r.mode),
                times(|r| r.started_at),
                times(|r| r.finished_at),
                strings(|r| r.status.as_str()),
                numbers(|r| r.records),
                numbers(|r| r.bytes),
                numbers(|r| r.commits),
                Arc::new(StringArray::from(records.iter().map(|r| r.error.as_deref()).collect::<Vec<_>>())),
                numbers(|r| r.warnings),
            ],
        )?;
        // Merge: a history written before a column was added gains it.
        table
            .write(vec![batch])
            .with_save_mode(SaveMode::Append)
            .with_schema_mode(SchemaMode::Merge)
            .await
            .map_err(LakeError::delta(url.as_str()))?;
        Ok(())
    }

    /// Every recorded run, newest first.
    pub async fn list(&self) -> Result<Vec<RunRecord>> {
        let url = self.lake.internal_table_url("sync_runs");
        let Some(table) = self.lake.load_table(&url).await? else { return Ok(Vec::new()) };
        let ctx = SessionContext::new();
        table.update_datafusion_session(&ctx.state()).map_err(LakeError::delta(url.as_str()))?;
        let provider = table.table_provider().await?;
        let batches = ctx.read_table(provider)?.collect().await?;
        let mut runs = Vec::new();
        for batch in &batches {
            // Parquet strings come back as Utf8View; normalise before reading them.
            let text = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| arrow::compute::cast(c, &DataType::Utf8).ok())
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            };
            let number =
                |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
            let time = |name: &str| {
                batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>().cloned())
            };
            let (Some(run_id), Some(connection), Some(stream), Some(mode), Some(status), Some(error)) =
                (text("run_id"), text("connection"), text("stream"), text("mode"), text("status"), text("error"))
            else {
                continue;
            };
            let (Some(records), Some(bytes), Some(commits), Some(started), Some(finished)) =
                (number("records"), number("bytes"), number("commits"), time("started_at"), time("finished_at"))
            else {
                continue;
            };
            let warnings = number("warnings");
            let at =
                |a: &TimestampMicrosecondArray, i: usize| Utc.timestamp_micros(a.value(i)).single().unwrap_or_default();
            for i in 0..batch.num_rows() {
                runs.push(RunRecord {
                    run_id: run_id.value(i).to_string(),
                    connection: connection.value(i).to_string(),
                    stream: stream.value(i).to_string(),
                    mode: mode.value(i).to_string(),
                    started_at: at(&started, i),
                    finished_at: at(&finished, i),
                    status: RunStatus::parse(status.value(i)),
                    records: records.value(i) as u64,
                    bytes: bytes.value(i) as u64,
                    commits: commits.value(i) as u64,
                    error: (!error.is_null(i)).then(|| error.value(i).to_string()),
                    warnings: warnings.as_ref().filter(|w| w.is_valid(i)).map_or(0, |w| w.value(i) as u64),
                });
            }
        }
        runs.sort_by(|a, b| b.started_at.cmp(&a.started_at).then_with(|| a.stream.cmp(&b.stream)));
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn record(stream: &str, warnings: u64) -> RunRecord {
        let at = Utc.timestamp_micros(1_700_000_000_000_000).single().unwrap();
        RunRecord {
            run_id: "run-1".into(),
            connection: "demo".into(),
            stream: stream.into(),
            mode: "full_refresh".into(),
            started_at: at,
            finished_at: at,
            status: RunStatus::Failed,
            records: 3,
            bytes: 10,
            commits: 1,
            error: Some("boom".into()),
            warnings,
        }
    }

    #[tokio::test]
    async fn warnings_are_recorded_and_a_history_without_the_column_gains_it() {
        let lake = Lake::open("memory://runs-warnings", std::path::Path::new("/"), HashMap::new()).unwrap();
        // A history written before the `warnings` column existed.
        let url = lake.internal_table_url("sync_runs");
        let old: Vec<Field> =
            SyncRuns::schema().fields().iter().filter(|f| f.name() != "warnings").map(|f| f.as_ref().clone()).collect();
        let old = Arc::new(Schema::new(old));
        let table = create_table(&lake, &url, "sync_runs", &old).await.unwrap();
        let columns = SyncRuns::schema()
            .fields()
            .iter()
            .filter(|f| f.name() != "warnings")
            .map(|f| arrow::array::new_null_array(f.data_type(), 1))
            .collect();
        let mut columns: Vec<ArrayRef> = columns;
        columns[2] = Arc::new(StringArray::from(vec!["old"]));
        table.write(vec![RecordBatch::try_new(old, columns).unwrap()]).await.unwrap();

        let runs = SyncRuns::new(&lake);
        runs.append(&[record("pages", 4)]).await.unwrap();
        let listed = runs.list().await.unwrap();
        let pages = listed.iter().find(|r| r.stream == "pages").unwrap();
        assert_eq!(pages, &record("pages", 4));
        let old = listed.iter().find(|r| r.stream == "old").expect("the row written before the column is listed");
        assert_eq!(old.warnings, 0);
    }
}
