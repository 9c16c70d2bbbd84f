//! Sync runs started through the API: one at a time per connection, run in the background,
//! visible while they run and, once finished, in the lake's run history.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;
use txlake_lake::RunRecord;
use txlake_sync::Observer;
use utoipa::ToSchema;

/// One sync run of one connection, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"run_id": "6f1c2e0a-8a9b-4b7e-9d51-2f0c1e5b7a10", "connection": "demo", "status": "succeeded",
    "started_at": "2026-11-23T10:00:00Z", "finished_at": "2026-11-23T10:00:42Z", "records": 1830412, "streams": 9, "error": null}))]
pub struct SyncRun {
    /// The run's id.
    pub run_id: String,
    /// The connection.
    pub connection: String,
    /// `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished (absent while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// Records written so far.
    pub records: u64,
    /// Streams in the run (known once they finish).
    pub streams: usize,
    /// Why it failed.
    pub error: Option<String>,
}

impl SyncRun {
    /// Folds the history's per-stream records into runs, newest first.
    pub fn from_history(records: Vec<RunRecord>) -> Vec<SyncRun> {
        let mut runs: BTreeMap<String, SyncRun> = BTreeMap::new();
        for record in records {
            let run = runs.entry(record.run_id.clone()).or_insert_with(|| SyncRun {
                run_id: record.run_id.clone(),
                connection: record.connection.clone(),
                status: "succeeded".into(),
                started_at: record.started_at,
                finished_at: Some(record.finished_at),
                records: 0,
                streams: 0,
                error: None,
            });
            run.started_at = run.started_at.min(record.started_at);
            run.finished_at = run.finished_at.max(Some(record.finished_at));
            run.records += record.records;
            run.streams += 1;
            // The run failed if a stream failed; it was cancelled if a stream was.
            let status = record.status.as_str();
            if status == "failed" || (status == "cancelled" && run.status == "succeeded") {
                run.status = status.to_string();
            }
            if run.error.is_none() {
                run.error = record.error;
            }
        }
        let mut runs: Vec<SyncRun> = runs.into_values().collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        runs
    }
}

/// A run in progress (or just finished) in this process.
#[derive(Debug)]
pub struct ActiveRun {
    run: Mutex<SyncRun>,
    records: AtomicU64,
}

impl ActiveRun {
    /// How the run stands now.
    pub fn snapshot(&self) -> SyncRun {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner()).clone();
        run.records = run.records.max(self.records.load(Ordering::Relaxed));
        run
    }

    /// Records the end of the run.
    pub fn finish(&self, status: &str, records: u64, streams: usize, error: Option<String>) {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        run.status = status.to_string();
        run.finished_at = Some(Utc::now());
        run.records = records;
        run.streams = streams;
        run.error = error;
    }
}

/// Counts records as the runner reports them, so a running sync shows progress.
impl Observer for ActiveRun {
    fn records(&self, _stream: &str, rows: u64) {
        self.records.fetch_add(rows, Ordering::Relaxed);
    }
}

/// The runs this process started, and which connection is busy.
#[derive(Debug, Default)]
pub struct SyncManager {
    runs: Mutex<Vec<Arc<ActiveRun>>>,
}

/// Why a run could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum StartRefused {
    /// The connection already has a run going; its id.
    AlreadyRunning(String),
}

impl SyncManager {
    /// Registers a new run of `connection`, unless one is going.
    pub fn start(&self, connection: &str) -> Result<Arc<ActiveRun>, StartRefused> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) =
            runs.iter().map(|r| r.snapshot()).find(|r| r.connection == connection && r.status == "running")
        {
            return Err(StartRefused::AlreadyRunning(running.run_id));
        }
        let run = Arc::new(ActiveRun {
            run: Mutex::new(SyncRun {
                run_id: uuid::Uuid::new_v4().to_string(),
                connection: connection.to_string(),
                status: "running".into(),
                started_at: Utc::now(),
                finished_at: None,
                records: 0,
                streams: 0,
                error: None,
            }),
            records: AtomicU64::new(0),
        });
        runs.push(run.clone());
        // Finished runs are in the lake's history; keep only the recent ones here.
        if runs.len() > 100 {
            runs.remove(0);
        }
        Ok(run)
    }

    /// Runs of this process, newest first.
    pub fn runs(&self) -> Vec<SyncRun> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.iter().rev().map(|r| r.snapshot()).collect()
    }

    /// Whether `connection` has a run going.
    pub fn is_running(&self, connection: &str) -> bool {
        self.runs().iter().any(|r| r.connection == connection && r.status == "running")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_per_connection_at_a_time() {
        let manager = SyncManager::default();
        let first = manager.start("demo").unwrap();
        let id = first.snapshot().run_id;
        assert_eq!(manager.start("demo").unwrap_err(), StartRefused::AlreadyRunning(id));
        assert!(manager.start("crm").is_ok(), "another connection may run");
        first.records("customers", 5);
        assert_eq!(first.snapshot().records, 5);
        first.finish("succeeded", 7, 2, None);
        assert!(!manager.is_running("demo"));
        assert!(manager.start("demo").is_ok());
        assert_eq!(manager.runs().len(), 3);
    }
}
