//! Sync runs started through the API: one at a time per connection, run in the background,
//! visible while they run and, once finished, in the lake's run history.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use txlake_connector::StreamMode;
use txlake_lake::RunRecord;
use txlake_sync::Observer;
use utoipa::ToSchema;

/// One sync run of one connection, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"run_id": "6f1c2e0a-8a9b-4b7e-9d51-2f0c1e5b7a10", "connection": "demo", "status": "succeeded",
    "started_at": "2026-11-23T10:00:00Z", "finished_at": "2026-11-23T10:00:42Z", "records": 1830412, "streams": 9, "error": null,
    "stream_runs": [{"stream": "customers", "status": "succeeded", "records": 5000, "error": null}], "read_progress": null}))]
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
    /// Each stream as far as it got, by name: records so far while the run goes (a stream
    /// that has started and not finished is `running`), its outcome once it finished.
    pub stream_runs: Vec<StreamRun>,
    /// How far the connector's read is, while the run goes and the connector says so.
    pub read_progress: Option<ReadProgress>,
}

/// One stream of a sync run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StreamRun {
    /// The stream.
    pub stream: String,
    /// `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Records received so far while running; committed once finished.
    pub records: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// The connector's own measure of its read (units it chose: pages, days, files…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReadProgress {
    /// Units read.
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
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
                stream_runs: Vec::new(),
                read_progress: None,
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
                run.error = record.error.clone();
            }
            run.stream_runs.push(StreamRun::from(&record));
        }
        let mut runs: Vec<SyncRun> = runs.into_values().collect();
        for run in &mut runs {
            run.stream_runs.sort_by(|a, b| a.stream.cmp(&b.stream));
        }
        runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        runs
    }
}

impl From<&RunRecord> for StreamRun {
    fn from(record: &RunRecord) -> Self {
        Self {
            stream: record.stream.clone(),
            status: record.status.as_str().to_string(),
            records: record.records,
            error: record.error.clone(),
        }
    }
}

/// A run in progress (or just finished) in this process.
#[derive(Debug)]
pub struct ActiveRun {
    run: Mutex<SyncRun>,
    records: AtomicU64,
    /// Streams by name, as the runner reports them.
    streams: Mutex<BTreeMap<String, StreamRun>>,
    read_progress: Mutex<Option<ReadProgress>>,
}

impl ActiveRun {
    fn new(run: SyncRun) -> Self {
        Self {
            run: Mutex::new(run),
            records: AtomicU64::new(0),
            streams: Mutex::new(BTreeMap::new()),
            read_progress: Mutex::new(None),
        }
    }

    /// How the run stands now.
    pub fn snapshot(&self) -> SyncRun {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner()).clone();
        run.records = run.records.max(self.records.load(Ordering::Relaxed));
        run.stream_runs = self.streams.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        if run.status == "running" {
            run.read_progress = *self.read_progress.lock().unwrap_or_else(|p| p.into_inner());
        }
        run
    }

    /// The stream `stream`, entered as running if the runner has not named it before.
    fn with_stream(&self, stream: &str, change: impl FnOnce(&mut StreamRun)) {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let entry = streams.entry(stream.to_string()).or_insert_with(|| StreamRun {
            stream: stream.to_string(),
            status: "running".into(),
            records: 0,
            error: None,
        });
        change(entry);
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

/// Counts records as the runner reports them, per stream and in all, so a running sync shows
/// progress.
impl Observer for ActiveRun {
    fn stream_started(&self, _connection: &str, stream: &str, _mode: StreamMode, _resume_from: Option<&Value>) {
        self.with_stream(stream, |_| {});
    }

    fn records(&self, stream: &str, rows: u64) {
        self.records.fetch_add(rows, Ordering::Relaxed);
        self.with_stream(stream, |s| s.records += rows);
    }

    fn progress(&self, done: u64, total: Option<u64>) {
        *self.read_progress.lock().unwrap_or_else(|p| p.into_inner()) = Some(ReadProgress { done, total });
    }

    fn stream_finished(&self, record: &RunRecord) {
        self.with_stream(&record.stream, |s| *s = StreamRun::from(record));
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
        let run = Arc::new(ActiveRun::new(SyncRun {
            run_id: uuid::Uuid::new_v4().to_string(),
            connection: connection.to_string(),
            status: "running".into(),
            started_at: Utc::now(),
            finished_at: None,
            records: 0,
            streams: 0,
            error: None,
            stream_runs: Vec::new(),
            read_progress: None,
        }));
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

    fn record(
        run_id: &str,
        stream: &str,
        status: txlake_lake::RunStatus,
        records: u64,
        error: Option<&str>,
    ) -> RunRecord {
        let at = Utc::now();
        RunRecord {
            run_id: run_id.into(),
            connection: "demo".into(),
            stream: stream.into(),
            mode: "full_refresh".into(),
            started_at: at,
            finished_at: at,
            status,
            records,
            bytes: 0,
            commits: 1,
            error: error.map(str::to_string),
            warnings: 0,
        }
    }

    #[test]
    fn a_running_sync_shows_each_stream_and_the_read_progress() {
        let manager = SyncManager::default();
        let run = manager.start("demo").unwrap();
        let id = run.snapshot().run_id;
        run.stream_started("demo", "customers", StreamMode::FullRefresh, None);
        run.stream_started("demo", "deals", StreamMode::FullRefresh, None);
        run.records("customers", 40);
        run.records("customers", 2);
        run.records("deals", 7);
        run.progress(3, Some(10));
        let now = run.snapshot();
        assert_eq!(now.records, 49);
        assert_eq!(now.read_progress, Some(ReadProgress { done: 3, total: Some(10) }));
        let streams: Vec<(&str, &str, u64)> =
            now.stream_runs.iter().map(|s| (s.stream.as_str(), s.status.as_str(), s.records)).collect();
        assert_eq!(streams, [("customers", "running", 42), ("deals", "running", 7)]);

        // A finished stream shows its outcome (committed records, error) from the history.
        run.stream_finished(&record(&id, "deals", txlake_lake::RunStatus::Failed, 5, Some("HTTP 500 from /deals")));
        let deals = run.snapshot().stream_runs.into_iter().find(|s| s.stream == "deals").unwrap();
        assert_eq!(
            deals,
            StreamRun {
                stream: "deals".into(),
                status: "failed".into(),
                records: 5,
                error: Some("HTTP 500 from /deals".into())
            }
        );
        run.finish("failed", 47, 2, Some("HTTP 500 from /deals".into()));
        assert_eq!(run.snapshot().read_progress, None, "no read progress once finished");
    }

    #[test]
    fn the_history_lists_each_stream_of_a_run() {
        let runs = SyncRun::from_history(vec![
            record("r1", "tickets", txlake_lake::RunStatus::Succeeded, 3, None),
            record("r1", "customers", txlake_lake::RunStatus::Failed, 0, Some("bad token")),
        ]);
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!((run.status.as_str(), run.records, run.streams), ("failed", 3, 2));
        let streams: Vec<(&str, &str, Option<&str>)> =
            run.stream_runs.iter().map(|s| (s.stream.as_str(), s.status.as_str(), s.error.as_deref())).collect();
        assert_eq!(streams, [("customers", "failed", Some("bad token")), ("tickets", "succeeded", None)]);
    }
}
