//! One sync run of one connection: connector messages in, Delta commits out.
//!
//! Records of a stream go to its [`StreamTable`] as they arrive. When the connector emits a
//! checkpoint (`State`) and the stream's pending records pass a threshold of the
//! [`CommitPolicy`], those records and that state are committed together. At the end every
//! stream commits what is left with its last state; full-refresh streams replace their table
//! in that one final commit. On an error nothing more is committed, so each table stays at
//! its last commit and the next run resumes from the state stored there.
//!
//! A connector may give up on one stream (`StreamFailed`): that stream's pending records are
//! dropped and it commits nothing more, the other streams finish and commit, and the run
//! ends `failed` naming the stream. `ReplaceRows` makes a stream's next commit also remove
//! the stored rows of a re-read source (a re-uploaded file), atomically with its new rows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt as _;
use serde_json::Value;
use tokio::sync::watch;
use txlake_connector::{
    ConfiguredCatalog, ConfiguredStream, ConnectorError, LogLevel, Message, ReadRequest, Registry, StateMap, StreamMode,
};
use txlake_lake::{
    CommitSummary, LOCK_TTL, Lake, RunRecord, RunStatus, StreamTable, SyncLock, SyncRuns, TableId, WriteMode,
};

use crate::config::{CommitPolicy, ConnectionConfig};
use crate::error::{Result, SyncError};

/// Receives what a sync is doing, for progress bars and logs. Every method has a no-op
/// default.
pub trait Observer: Send + Sync {
    /// A stream is about to be read; `resume_from` is its committed state, if any.
    fn stream_started(&self, _connection: &str, _stream: &str, _mode: StreamMode, _resume_from: Option<&Value>) {}
    /// `rows` more records of `stream` were received.
    fn records(&self, _stream: &str, _rows: u64) {}
    /// A commit landed.
    fn committed(&self, _stream: &str, _summary: &CommitSummary) {}
    /// The connector or the sync has something to say.
    fn log(&self, _level: LogLevel, _message: &str) {}
    /// Overall progress of the read.
    fn progress(&self, _done: u64, _total: Option<u64>) {}
    /// A stream's run ended.
    fn stream_finished(&self, _record: &RunRecord) {}
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct QuietObserver;

impl Observer for QuietObserver {}

/// Asks running syncs to stop. The first request stops at the next checkpoint of every
/// stream and commits up to it; a second one stops at once without committing more.
#[derive(Debug, Clone)]
pub struct StopHandle {
    requests: Arc<watch::Sender<u32>>,
}

impl Default for StopHandle {
    fn default() -> Self {
        Self { requests: Arc::new(watch::channel(0).0) }
    }
}

impl StopHandle {
    /// A handle nobody has pressed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests a stop (call again to abort).
    pub fn request_stop(&self) {
        self.requests.send_modify(|n| *n += 1);
    }

    /// How many stops were requested.
    pub fn requests(&self) -> u32 {
        *self.requests.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<u32> {
        self.requests.subscribe()
    }
}

/// How to run a sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Read every stream from scratch and replace its table.
    pub full_refresh: bool,
    /// When to commit.
    pub policy: CommitPolicy,
    /// Stop requests (Ctrl-C, SIGTERM).
    pub stop: StopHandle,
    /// The run's id in the history; a new UUID when absent. The API service picks it before
    /// the run starts, so it can answer with it at once.
    pub run_id: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The connection.
    pub connection: String,
    /// The run id, shared by its rows in the run history.
    pub run_id: String,
    /// How the run ended.
    pub status: RunStatus,
    /// One record per stream.
    pub streams: Vec<RunRecord>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

struct StreamRun {
    table: StreamTable,
    mode: StreamMode,
    state: Option<Value>,
    state_is_new: bool,
    last_commit: Instant,
    records: u64,
    bytes: u64,
    commits: u64,
    warnings: u64,
    /// Why the connector gave up on this stream ([`Message::StreamFailed`]); nothing more is
    /// committed for it.
    failed: Option<String>,
}

impl StreamRun {
    fn commit_due(&self, policy: &CommitPolicy) -> bool {
        let pending = self.table.pending_rows();
        // A replacement with no rows yet (the file is now empty) waits for the final commit.
        pending > 0
            && (pending >= policy.commit_rows
                || (self.mode == StreamMode::IncrementalDedupe && self.table.pending_bytes() >= policy.commit_bytes)
                || self.last_commit.elapsed() >= policy.interval())
    }

    async fn commit(&mut self, run_id: &str, stream: &str, observer: &dyn Observer) -> txlake_lake::Result<()> {
        let summary = self.table.commit(self.state.as_ref(), run_id).await?;
        self.records += summary.rows;
        self.bytes += summary.bytes;
        self.commits += 1;
        self.state_is_new = false;
        self.last_commit = Instant::now();
        observer.committed(stream, &summary);
        tracing::debug!(table = self.table.name(), version = summary.version, rows = summary.rows, "committed");
        Ok(())
    }
}

/// How the message loop ended.
enum Ending {
    Completed,
    Stopped,
    Aborted,
    Failed(String),
}

/// Runs one sync of the connection `name`, recording it in the run history.
///
/// Configuration and setup problems (unknown connector, invalid config, unknown stream,
/// incompatible schema) are returned as errors before anything is written. Failures while
/// reading are reported in the returned [`SyncReport`] with status `failed`, after the run
/// history has recorded them. While it runs the run holds the connection's [`SyncLock`]: a
/// second sync of the same connection fails at once naming the first.
pub async fn sync_connection(
    lake: &Lake,
    registry: &Registry,
    name: &str,
    connection: &ConnectionConfig,
    options: &SyncOptions,
    observer: &dyn Observer,
) -> Result<SyncReport> {
    let lake_error = |source: txlake_lake::LakeError| SyncError::Lake { connection: name.to_string(), source };
    let run_id = options.run_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // One sync of a connection at a time, across processes and machines.
    let lock = SyncLock::acquire(lake, name, &run_id, LOCK_TTL).await.map_err(lake_error)?;
    if !lock.is_held() {
        observer.log(
            LogLevel::Warn,
            &format!("{name}: the lake's object store cannot create objects conditionally, so this sync runs without a lock; do not start two syncs of `{name}` at once"),
        );
    }
    let result = sync_locked(lake, registry, name, connection, options, observer, run_id).await;
    if let Err(e) = lock.release().await {
        observer.log(LogLevel::Warn, &format!("{name}: could not remove the sync lock ({e}); it expires by itself"));
    }
    result
}

/// The sync itself, once the connection's lock is held; `run_id` is the run's id.
async fn sync_locked(
    lake: &Lake,
    registry: &Registry,
    name: &str,
    connection: &ConnectionConfig,
    options: &SyncOptions,
    observer: &dyn Observer,
    run_id: String,
) -> Result<SyncReport> {
    let connector_error = |source: ConnectorError| SyncError::Connector { connection: name.to_string(), source };
    let lake_error = |source: txlake_lake::LakeError| SyncError::Lake { connection: name.to_string(), source };
    let started_at = Utc::now();

    let connector =
        registry.resolve_validated(&connection.connector, &connection.config).await.map_err(connector_error)?;
    let catalog = connector.discover(&connection.config).await.map_err(connector_error)?;
    if let Some(mapping) = &connection.survey_mapping {
        mapping.check_questions(&format!("connections.{name}.survey_mapping"), &catalog.questions).map_err(
            |problems| SyncError::SurveyMapping { connection: name.to_string(), message: problems.join("; ") },
        )?;
    }
    let names = connection.streams.clone().unwrap_or_else(|| catalog.names());
    let unknown_stream = |stream: &str| {
        connector_error(ConnectorError::UnknownStream {
            connector: connection.connector.clone(),
            stream: stream.to_string(),
            available: catalog.names(),
        })
    };
    if let Some(stream) = connection.modes.keys().find(|s| catalog.stream(s).is_none()) {
        return Err(unknown_stream(stream));
    }

    let mut configured = ConfiguredCatalog::default();
    let mut runs: BTreeMap<String, StreamRun> = BTreeMap::new();
    let mut state = StateMap::new();
    for stream in &names {
        let descriptor = catalog.stream(stream).ok_or_else(|| unknown_stream(stream))?;
        let mode = if options.full_refresh {
            StreamMode::FullRefresh
        } else {
            connection.modes.get(stream).copied().unwrap_or(descriptor.default_mode)
        };
        descriptor.check_mode(mode).map_err(|reason| {
            connector_error(ConnectorError::UnsupportedMode { stream: stream.clone(), mode: mode.to_string(), reason })
        })?;
        let write_mode = match mode {
            StreamMode::FullRefresh => WriteMode::Overwrite,
            StreamMode::IncrementalAppend => WriteMode::Append,
            StreamMode::IncrementalDedupe => {
                WriteMode::Merge { key: descriptor.primary_key.clone(), cursor: descriptor.cursor_field.clone() }
            }
        };
        let unique_column = match descriptor.primary_key.as_slice() {
            [key] => Some(key.as_str()),
            _ => None,
        };
        let table = StreamTable::open(lake, &TableId::new(name, stream), descriptor.schema.clone(), write_mode)
            .await
            .map_err(lake_error)?
            .with_unique_column(unique_column);
        let committed = match mode {
            StreamMode::FullRefresh => None,
            _ => table.committed_state().await.map_err(lake_error)?,
        };
        if !table.new_columns().is_empty() {
            observer.log(
                LogLevel::Info,
                &format!("{}: adding new columns {}", table.name(), table.new_columns().join(", ")),
            );
        }
        observer.stream_started(name, stream, mode, committed.as_ref());
        if let Some(committed) = &committed {
            state.insert(stream.clone(), committed.clone());
        }
        configured.streams.push(ConfiguredStream { stream: descriptor.clone(), mode });
        runs.insert(
            stream.clone(),
            StreamRun {
                table,
                mode,
                state: committed,
                state_is_new: false,
                last_commit: Instant::now(),
                records: 0,
                bytes: 0,
                commits: 0,
                warnings: 0,
                failed: None,
            },
        );
    }

    let request = ReadRequest { config: connection.config.clone(), catalog: configured, state };
    let ending = match connector.read(request).await {
        Ok(messages) => pump(name, &connection.connector, messages, &mut runs, &run_id, options, observer).await,
        Err(e) => Ending::Failed(e.to_string()),
    };

    // How the run ended apart from the streams the connector gave up on.
    let (ended, ended_error) = match ending {
        Ending::Completed => match finish(&mut runs, &run_id, observer).await {
            Ok(()) => (RunStatus::Succeeded, None),
            Err(e) => (RunStatus::Failed, Some(e.to_string())),
        },
        Ending::Stopped | Ending::Aborted => (RunStatus::Cancelled, None),
        Ending::Failed(message) => (RunStatus::Failed, Some(message)),
    };
    if ended != RunStatus::Succeeded {
        for run in runs.values_mut() {
            run.table.abort();
        }
    }
    // A failed stream fails the run, after the other streams committed; the run's error
    // names each one.
    let failed: Vec<String> = runs
        .iter()
        .filter_map(|(stream, run)| run.failed.as_ref().map(|e| format!("stream `{stream}` failed: {e}")))
        .collect();
    let (status, error) = if failed.is_empty() {
        (ended, ended_error.clone())
    } else {
        let status = if ended == RunStatus::Cancelled { RunStatus::Cancelled } else { RunStatus::Failed };
        (status, Some(ended_error.iter().cloned().chain(failed).collect::<Vec<_>>().join("; ")))
    };

    let finished_at = Utc::now();
    let records: Vec<RunRecord> = runs
        .iter()
        .map(|(stream, run)| {
            let (status, error) = match &run.failed {
                Some(e) => (RunStatus::Failed, Some(e.clone())),
                None => (ended, ended_error.clone()),
            };
            RunRecord {
                run_id: run_id.clone(),
                connection: name.to_string(),
                stream: stream.clone(),
                mode: run.mode.to_string(),
                started_at,
                finished_at,
                status,
                records: run.records,
                bytes: run.bytes,
                commits: run.commits,
                error,
                warnings: run.warnings,
            }
        })
        .collect();
    for record in &records {
        observer.stream_finished(record);
    }
    SyncRuns::new(lake).append(&records).await.map_err(lake_error)?;
    Ok(SyncReport { connection: name.to_string(), run_id, status, streams: records, error })
}

/// Reads messages until the connector ends, fails, or a stop is requested.
async fn pump(
    connection: &str,
    connector: &str,
    mut messages: txlake_connector::MessageStream,
    runs: &mut BTreeMap<String, StreamRun>,
    run_id: &str,
    options: &SyncOptions,
    observer: &dyn Observer,
) -> Ending {
    let mut stop = options.stop.subscribe();
    let mut stopping = options.stop.requests() >= 1;
    loop {
        if stopping && runs.values().all(|r| r.mode == StreamMode::FullRefresh || r.table.pending_rows() == 0) {
            return Ending::Stopped;
        }
        let message = tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() { continue; }
                let requests = *stop.borrow_and_update();
                if requests >= 2 {
                    observer.log(LogLevel::Warn, "aborting: records since the last commit are discarded and will be read again next time");
                    return Ending::Aborted;
                }
                if !stopping {
                    observer.log(LogLevel::Warn, "stopping at the next checkpoint of each stream (press Ctrl-C again to abort)");
                }
                stopping = true;
                continue;
            }
            message = messages.next() => message,
        };
        match message {
            None => return Ending::Completed,
            Some(Err(e)) => return Ending::Failed(e.to_string()),
            Some(Ok(Message::Batch { stream, batch })) => {
                let Some(run) = runs.get_mut(&stream) else {
                    return unasked(connection, connector, "records", &stream);
                };
                if run.failed.is_some() {
                    // The connector gave up on the stream; nothing more of it is committed.
                    continue;
                }
                let rows = batch.num_rows() as u64;
                if let Err(e) = run.table.write(batch).await {
                    return Ending::Failed(e.to_string());
                }
                observer.records(&stream, rows);
            }
            Some(Ok(Message::State { stream, state })) => {
                let Some(run) = runs.get_mut(&stream) else {
                    return unasked(connection, connector, "state", &stream);
                };
                if run.failed.is_some() {
                    continue;
                }
                run.state_is_new |= run.state.as_ref() != Some(&state);
                run.state = Some(state);
                let due = if stopping {
                    run.table.pending_rows() > 0 || run.table.has_replacements()
                } else {
                    run.commit_due(&options.policy)
                };
                if run.mode != StreamMode::FullRefresh
                    && due
                    && let Err(e) = run.commit(run_id, &stream, observer).await
                {
                    return Ending::Failed(e.to_string());
                }
            }
            Some(Ok(Message::StreamFailed { stream, error })) => {
                let Some(run) = runs.get_mut(&stream) else {
                    return unasked(connection, connector, "a failure", &stream);
                };
                // Its table stays at the last commit, and so does its state.
                run.table.abort();
                observer.log(
                    LogLevel::Warn,
                    &format!("{}: the read failed, nothing more is committed for it: {error}", run.table.name()),
                );
                run.failed.get_or_insert(error);
            }
            Some(Ok(Message::ReplaceRows { stream, column, value })) => {
                let Some(run) = runs.get_mut(&stream) else {
                    return unasked(connection, connector, "a row replacement", &stream);
                };
                if run.failed.is_none() && !run.table.replace_rows(&column, &value) {
                    // Rows it meant to replace would stay next to their new versions.
                    let message = format!(
                        "it asked to replace the rows of stream `{stream}` whose `{column}` is `{value}`, and the stream has no column `{column}`"
                    );
                    return protocol(connection, connector, message);
                }
            }
            Some(Ok(Message::Warnings { stream, count })) => {
                let Some(run) = runs.get_mut(&stream) else {
                    return unasked(connection, connector, "warnings", &stream);
                };
                run.warnings += count;
            }
            Some(Ok(Message::Log { level, message })) => observer.log(level, &message),
            Some(Ok(Message::Progress { done, total, .. })) => observer.progress(done, total),
        }
    }
}

/// The run's end when the connector sent `what` about a stream it was not asked for.
fn unasked(connection: &str, connector: &str, what: &str, stream: &str) -> Ending {
    protocol(connection, connector, format!("it sent {what} for stream `{stream}`, which was not asked for"))
}

/// The run's end when the connector broke the protocol as `message` says.
fn protocol(connection: &str, connector: &str, message: String) -> Ending {
    Ending::Failed(
        SyncError::Protocol { connection: connection.to_string(), connector: connector.to_string(), message }
            .to_string(),
    )
}

/// The final commit of every stream after the connector ended normally; streams the
/// connector gave up on stay at their last commit.
async fn finish(
    runs: &mut BTreeMap<String, StreamRun>,
    run_id: &str,
    observer: &dyn Observer,
) -> txlake_lake::Result<()> {
    for (stream, run) in runs.iter_mut().filter(|(_, run)| run.failed.is_none()) {
        let needed = run.mode == StreamMode::FullRefresh
            || run.table.pending_rows() > 0
            || run.state_is_new
            || run.table.has_replacements();
        if needed {
            run.commit(run_id, stream, observer).await?;
        }
    }
    Ok(())
}
