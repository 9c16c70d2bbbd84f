//! The `read` verb as a txlake message stream: a task reads the source's stdout and sends
//! batches, states, logs and progress down a bounded channel.
//!
//! Ordering is what makes syncs exactly-once: a `STATE` of a stream is sent only after the
//! stream's pending records went out as a batch, so the runner commits a state together with
//! every record it covers. A crash (non-zero exit, a signal) or a `TRACE` error ends the
//! stream with an error instead of its last records; the runner then commits nothing more.
//! Dropping the stream kills the process.

use std::collections::{BTreeMap, BTreeSet};

use futures::channel::mpsc;
use futures::{SinkExt as _, StreamExt as _};
use txlake_connector::{ConnectorError, LogLevel, Message, MessageStream};

use crate::batch::Batches;
use crate::process::Process;
use crate::protocol::{self, Line, State, Trace};
use crate::state::Checkpoints;

/// Messages waiting for the runner; the source is paused (by its stdout pipe) beyond that.
const CHANNEL: usize = 16;

/// Starts reading: everything the read needs moves into the task.
pub fn spawn(
    process: Process,
    keep_alive: impl Send + 'static,
    batches: Batches,
    checkpoints: Checkpoints,
) -> MessageStream {
    let (tx, rx) = mpsc::channel(CHANNEL);
    tokio::spawn(async move {
        let mut reader = Reader {
            tx,
            batches,
            checkpoints,
            trace_errors: Vec::new(),
            stream_estimates: BTreeMap::new(),
            sync_estimate: None,
            records: 0,
            unknown_streams: BTreeSet::new(),
        };
        if let Err(Stop::Failed(error)) = reader.run(process).await {
            let _ = reader.tx.send(Err(error)).await;
        }
        // The temporary files go once the process is gone.
        drop(keep_alive);
    });
    rx.boxed()
}

/// Why the read loop ended early.
enum Stop {
    /// The runner dropped the stream.
    Closed,
    /// The read failed.
    Failed(ConnectorError),
}

impl From<ConnectorError> for Stop {
    fn from(error: ConnectorError) -> Self {
        Stop::Failed(error)
    }
}

struct Reader {
    tx: mpsc::Sender<Result<Message, ConnectorError>>,
    batches: Batches,
    checkpoints: Checkpoints,
    trace_errors: Vec<String>,
    stream_estimates: BTreeMap<String, u64>,
    sync_estimate: Option<u64>,
    records: u64,
    unknown_streams: BTreeSet<String>,
}

impl Reader {
    async fn run(&mut self, mut process: Process) -> Result<(), Stop> {
        let mut line = Vec::with_capacity(64 * 1024);
        while process.next_line(&mut line).await? {
            match protocol::parse_line(&line)? {
                Line::Message(protocol::Message::Record(record)) => {
                    if !self.batches.has(&record.stream) {
                        if self.unknown_streams.insert(record.stream.to_string()) {
                            let text =
                                format!("ignoring records of stream `{}`, which was not asked for", record.stream);
                            self.emit(Message::Log { level: LogLevel::Warn, message: text }).await?;
                        }
                        continue;
                    }
                    self.records += 1;
                    if let Some(batch) = self.batches.push(&record.stream, record.data.get().as_bytes())? {
                        let stream = record.stream.into_owned();
                        self.emit_batch(stream, batch).await?;
                    }
                }
                Line::Message(protocol::Message::State(state)) => self.state(state).await?,
                Line::Message(protocol::Message::Log(log)) => {
                    self.emit(Message::Log { level: log.level(), message: log.text() }).await?
                }
                Line::Message(protocol::Message::Trace(trace)) => self.trace(trace).await?,
                Line::Message(protocol::Message::Control) => {
                    let message = "the source sent a CONTROL message (a configuration update), which txlake does not apply; update the connection's config if the source needs it".to_string();
                    self.emit(Message::Log { level: LogLevel::Warn, message }).await?
                }
                Line::Message(_) | Line::Blank => {}
                Line::Other => {
                    let text = String::from_utf8_lossy(&line);
                    let message = format!("not an Airbyte message: {}", protocol::snippet(text.trim_end(), 300));
                    self.emit(Message::Log { level: LogLevel::Warn, message }).await?
                }
            }
        }
        let exit = process.finish().await?;
        if !exit.success() {
            return Err(exit.failure("failed", &self.trace_errors).into());
        }
        if !self.trace_errors.is_empty() {
            return Err(exit.failure("reported an error", &self.trace_errors).into());
        }
        for (stream, batch) in self.batches.flush_all()? {
            self.emit_batch(stream, batch).await?;
        }
        Ok(())
    }

    async fn state(&mut self, state: State) -> Result<(), Stop> {
        match state {
            State::Stream { name, state } => {
                if !self.batches.has(&name) {
                    tracing::debug!(stream = %name, "state of a stream that was not asked for");
                    return Ok(());
                }
                if let Some(batch) = self.batches.flush(&name)? {
                    self.emit_batch(name.clone(), batch).await?;
                }
                self.emit(Message::State { stream: name, state }).await
            }
            State::Legacy(data) => {
                let streams = self.flush_all().await?;
                for (stream, state) in self.checkpoints.legacy(&data, &streams) {
                    self.emit(Message::State { stream, state }).await?;
                }
                Ok(())
            }
            State::Global { shared, streams: states } => {
                let streams = self.flush_all().await?;
                for (stream, state) in self.checkpoints.global(&shared, &states, &streams) {
                    self.emit(Message::State { stream, state }).await?;
                }
                Ok(())
            }
        }
    }

    /// Sends every stream's pending records; returns the names of the streams read.
    async fn flush_all(&mut self) -> Result<Vec<String>, Stop> {
        for (stream, batch) in self.batches.flush_all()? {
            self.emit_batch(stream, batch).await?;
        }
        Ok(self.batches.names().map(str::to_string).collect())
    }

    async fn trace(&mut self, trace: Trace) -> Result<(), Stop> {
        match trace {
            Trace::Error { .. } => {
                let text = trace.error_text().unwrap_or_default();
                self.trace_errors.push(text.clone());
                self.emit(Message::Log { level: LogLevel::Warn, message: format!("source error: {text}") }).await
            }
            Trace::Estimate { stream: Some(stream), rows: Some(rows) } => {
                self.stream_estimates.insert(stream, rows);
                self.progress().await
            }
            Trace::Estimate { stream: None, rows: Some(rows) } => {
                self.sync_estimate = Some(rows);
                self.progress().await
            }
            Trace::StreamStatus { stream, status } => {
                self.emit(Message::Log { level: LogLevel::Debug, message: format!("stream `{stream}`: {status}") })
                    .await
            }
            Trace::Estimate { rows: None, .. } | Trace::Other => Ok(()),
        }
    }

    async fn emit_batch(&mut self, stream: String, batch: arrow::record_batch::RecordBatch) -> Result<(), Stop> {
        self.emit(Message::Batch { stream, batch }).await?;
        self.progress().await
    }

    /// Records read so far against the source's estimate, when it gave one.
    async fn progress(&mut self) -> Result<(), Stop> {
        let total = self
            .sync_estimate
            .or_else(|| (!self.stream_estimates.is_empty()).then(|| self.stream_estimates.values().sum::<u64>()));
        match total {
            Some(total) => self.emit(Message::Progress { stream: None, done: self.records, total: Some(total) }).await,
            None => Ok(()),
        }
    }

    async fn emit(&mut self, message: Message) -> Result<(), Stop> {
        self.tx.send(Ok(message)).await.map_err(|_| Stop::Closed)
    }
}
