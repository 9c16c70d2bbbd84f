//! A read from start to finish: the configured streams matched to their files, each file's
//! plan from the saved state (skip, read whole, read on, replace), the format readers run on
//! a blocking thread, and their messages handed to the async caller through a small bounded
//! channel so decoding overlaps the sync's Parquet encoding.
//!
//! A stream whose file cannot be read fails alone (`Message::StreamFailed`); the others go on.

use arrow::record_batch::RecordBatch;
use futures::stream;
use serde_json::Value;
use tokio::runtime::Handle;
use txlake_connector::{
    ConfiguredStream, ConnectorError, LogLevel, Message, MessageStream, ReadRequest, Result, SyncMode,
};

use crate::batch::{BatchBuilder, Layout};
use crate::config::{FilesConfig, Format, OnError, Settings, StreamSettings};
use crate::names::FILE_COLUMN;
use crate::sample::{Target, formats, targets};
use crate::source::{FileMeta, Location};
use crate::state::{FileEntry, Plan, PrefixHasher, StreamState, plan};
use crate::value::{Cell, ColumnType, TextFormats};
use crate::{csv, json, parquet, xlsx};

/// Messages buffered between the reading thread and the sync. Two batches in flight keep
/// decoding and the sync's Parquet encoding overlapped; each more costs a batch of memory
/// (~10 MB at 65,536 survey rows) without adding speed on two cores.
const CHANNEL_CAPACITY: usize = 2;
/// Reasons of skipped rows quoted in the log for each file.
const REASONS_LOGGED: usize = 5;

/// Why a stream's read ended early.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The stream fails, for this reason.
    #[error("{0}")]
    Failed(String),
    /// The sync stopped listening.
    #[error("the sync stopped reading")]
    Stopped,
}

/// A checked read request.
#[derive(Debug)]
pub struct ReadPlan {
    settings: Settings,
    location: Location,
    streams: Vec<(ConfiguredStream, Option<Value>)>,
}

impl ReadPlan {
    /// Checks the configuration of a request.
    pub fn new(request: &ReadRequest) -> Result<ReadPlan> {
        let settings = FilesConfig::settings(&request.config)?;
        let location = crate::location(&settings)?;
        let streams = request
            .catalog
            .streams
            .iter()
            .map(|configured| (configured.clone(), request.state.get(&configured.stream.name).cloned()))
            .collect();
        Ok(ReadPlan { settings, location, streams })
    }
}

#[cfg(test)]
impl ReadPlan {
    /// A plan reading every stream of `catalog` incrementally from `location`.
    pub fn for_tests(
        settings: Settings,
        location: Location,
        catalog: &txlake_connector::Catalog,
        state: txlake_connector::StateMap,
    ) -> ReadPlan {
        let streams = catalog
            .streams
            .iter()
            .map(|stream| {
                let configured =
                    ConfiguredStream { stream: stream.clone(), mode: txlake_connector::StreamMode::IncrementalAppend };
                (configured, state.get(&stream.name).cloned())
            })
            .collect();
        ReadPlan { settings, location, streams }
    }
}

/// Starts the read on a blocking thread and returns its messages as an async stream. When
/// the stream is dropped, the reader notices at its next message and stops.
pub fn spawn(plan: ReadPlan) -> MessageStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Message>>(CHANNEL_CAPACITY);
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(&plan, &handle, &mut |message| tx.blocking_send(Ok(message)).is_ok());
        }));
        if outcome.is_err() {
            // The receiver may be gone already; then nobody needs the error.
            let _ = tx.blocking_send(Err(ConnectorError::Internal("the files reader panicked; this is a bug".into())));
        }
    });
    Box::pin(stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|message| (message, rx)) }))
}

/// Runs a checked read on the current (blocking) thread, passing every message to `send`
/// until it returns `false`.
pub fn run(plan: &ReadPlan, handle: &Handle, send: &mut dyn FnMut(Message) -> bool) {
    // Each configured stream's files, listed once.
    let listings: Vec<(&StreamSettings, std::result::Result<Vec<Target>, String>)> = plan
        .settings
        .streams
        .iter()
        .filter(|s| plan.streams.iter().any(|(c, _)| belongs(s, &c.stream.name)))
        .map(|s| (s, plan.location.list(handle, &s.glob).map(|files| targets(s, files))))
        .collect();
    for (configured, saved) in &plan.streams {
        let name = configured.stream.name.as_str();
        let found = listings.iter().find_map(|(settings, listing)| match listing {
            Ok(targets) => targets.iter().find(|t| t.name == name).map(Ok),
            Err(e) if belongs(settings, name) => Some(Err(e.clone())),
            Err(_) => None,
        });
        let outcome = match found {
            Some(Ok(target)) => read_stream(plan, handle, target, configured, saved.as_ref(), send),
            Some(Err(e)) => Err(ReadError::Failed(e)),
            None => {
                let message = format!("stream `{name}`: its file is gone since discover; nothing to read");
                if send(Message::Log { level: LogLevel::Warn, message }) { Ok(()) } else { Err(ReadError::Stopped) }
            }
        };
        match outcome {
            Ok(()) => {}
            Err(ReadError::Stopped) => return,
            Err(ReadError::Failed(error)) => {
                if !send(Message::StreamFailed { stream: name.to_string(), error }) {
                    return;
                }
            }
        }
    }
}

fn belongs(settings: &StreamSettings, stream: &str) -> bool {
    if settings.stream_per_file {
        stream.strip_prefix(settings.name.as_str()).is_some_and(|rest| rest.starts_with('_'))
    } else {
        stream == settings.name
    }
}

fn read_stream(
    plan: &ReadPlan,
    handle: &Handle,
    target: &Target,
    configured: &ConfiguredStream,
    saved: Option<&Value>,
    send: &mut dyn FnMut(Message) -> bool,
) -> std::result::Result<(), ReadError> {
    let settings = &target.settings;
    let stream = target.name.as_str();
    let mut state = match (configured.mode.sync_mode(), saved) {
        (SyncMode::Incremental, Some(value)) => {
            StreamState::parse(stream, value).map_err(|e| ReadError::Failed(e.to_string()))?
        }
        _ => StreamState::default(),
    };
    if target.files.is_empty() {
        let message =
            format!("stream `{stream}`: no file under {} matches `{}`", plan.location.describe(), settings.glob_text);
        return if send(Message::Log { level: LogLevel::Warn, message }) { Ok(()) } else { Err(ReadError::Stopped) };
    }
    let layout = Layout::new(configured.stream.schema.clone());
    let formats = formats(settings);
    // Rows emitted by the files before, for progress.
    let mut emitted = 0u64;
    let location = &plan.location;
    for file in &target.files {
        let format = settings.format_of(&file.name).map_err(ReadError::Failed)?;
        let mut verified: Option<PrefixHasher> = None;
        let decision = plan_file(location, handle, &state, file, format, &mut verified)
            .map_err(|e| ReadError::Failed(format!("{}: {e}", file.name)))?;
        if decision == Plan::Skip {
            continue;
        }
        if decision == (Plan::Whole { replace: true }) {
            let replace = Message::ReplaceRows {
                stream: stream.to_string(),
                column: FILE_COLUMN.to_string(),
                value: file.name.clone(),
            };
            if !send(replace) {
                return Err(ReadError::Stopped);
            }
        }
        let mut job = FileJob::new(file, settings, &formats, &layout, stream, &mut state, send);
        job.emitted_before = emitted;
        let open = |offset: u64| {
            location.open(handle, file, offset).map_err(|e| ReadError::Failed(format!("{}: {e}", file.name)))
        };
        let fetch = || location.fetch(handle, file).map_err(|e| ReadError::Failed(format!("{}: {e}", file.name)));
        match (format, decision) {
            (_, Plan::Skip) => {}
            (Format::Csv | Format::Jsonl, Plan::From { offset, line, rows }) => {
                job.rows = rows;
                let hasher = verified.take().unwrap_or_default();
                if format == Format::Csv {
                    let header = csv::sample(open(0)?, settings, &formats, 0)
                        .map_err(|e| ReadError::Failed(format!("{}: {e}", file.name)))?;
                    let names = header.columns.into_iter().map(|c| c.name).collect();
                    csv::read(&mut job, open(offset)?, csv::Start { offset, line, hasher, names: Some(names) })?;
                } else {
                    json::read_lines(&mut job, open(offset)?, offset, line, hasher)?;
                }
            }
            (_, Plan::SkipRows { rows }) => {
                job.skip_until = rows;
                read_whole(&mut job, format, &open, &fetch)?;
            }
            (_, _) => read_whole(&mut job, format, &open, &fetch)?,
        }
        job.finish()?;
        emitted = job.emitted_before + job.emitted;
    }
    Ok(())
}

type Open<'a> = dyn Fn(u64) -> std::result::Result<Box<dyn std::io::Read + Send>, ReadError> + 'a;
type Fetch<'a> = dyn Fn() -> std::result::Result<crate::source::Whole, ReadError> + 'a;

fn read_whole(
    job: &mut FileJob<'_>,
    format: Format,
    open: &Open<'_>,
    fetch: &Fetch<'_>,
) -> std::result::Result<(), ReadError> {
    match format {
        Format::Csv => {
            csv::read(job, open(0)?, csv::Start { offset: 0, line: 1, hasher: PrefixHasher::default(), names: None })
        }
        Format::Jsonl => json::read_lines(job, open(0)?, 0, 1, PrefixHasher::default()),
        Format::Json => json::read_array(job, open(0)?),
        Format::Xlsx => xlsx::read(job, fetch()?),
        Format::Parquet => parquet::read(job, fetch()?),
    }
}

/// What to do with one file, verifying the bytes read before when it may have grown.
fn plan_file(
    location: &Location,
    handle: &Handle,
    state: &StreamState,
    file: &FileMeta,
    format: Format,
    verified: &mut Option<PrefixHasher>,
) -> std::result::Result<Plan, String> {
    plan(state.files.get(&file.name), file, format.appendable(), &mut |offset| {
        let mut input = location.open(handle, file, 0)?;
        let hasher = PrefixHasher::of_prefix(&mut input, offset).map_err(|e| format!("read error: {e}"))?;
        if hasher.len() < offset {
            return Ok(String::new());
        }
        let fingerprint = hasher.fingerprint();
        *verified = Some(hasher);
        Ok(fingerprint)
    })
}

/// The read of one file into its stream: rows, batches, checkpoints and malformed rows.
pub struct FileJob<'a> {
    /// The file.
    pub file: &'a FileMeta,
    /// Its stream's configuration.
    pub settings: &'a StreamSettings,
    /// How text values parse.
    pub formats: &'a TextFormats,
    layout: &'a Layout,
    stream: &'a str,
    state: &'a mut StreamState,
    send: &'a mut dyn FnMut(Message) -> bool,
    builder: BatchBuilder,
    cells: Vec<Cell>,
    names: Vec<String>,
    /// Data rows of the file so far (the `_row` of the latest).
    rows: u64,
    /// Rows up to this number were emitted by an earlier read and are not emitted again.
    skip_until: u64,
    sheet: Option<String>,
    /// Rows of the file before the current sheet (`_row` counts per sheet).
    row_base: u64,
    skipped: u64,
    reasons: Vec<String>,
    /// Rows of the stream emitted by the files read before this one (for progress).
    emitted_before: u64,
    /// Rows of this file emitted.
    emitted: u64,
}

impl<'a> FileJob<'a> {
    fn new(
        file: &'a FileMeta,
        settings: &'a StreamSettings,
        formats: &'a TextFormats,
        layout: &'a Layout,
        stream: &'a str,
        state: &'a mut StreamState,
        send: &'a mut dyn FnMut(Message) -> bool,
    ) -> FileJob<'a> {
        FileJob {
            file,
            settings,
            formats,
            layout,
            stream,
            state,
            send,
            builder: BatchBuilder::new(layout, settings.batch_size.min(1 << 16)),
            cells: vec![Cell::Null; layout.len()],
            names: Vec::new(),
            rows: 0,
            skip_until: 0,
            sheet: None,
            row_base: 0,
            skipped: 0,
            reasons: Vec::new(),
            emitted_before: 0,
            emitted: 0,
        }
    }

    fn send(&mut self, message: Message) -> std::result::Result<(), ReadError> {
        if (self.send)(message) { Ok(()) } else { Err(ReadError::Stopped) }
    }

    /// The stream's layout.
    pub fn layout(&self) -> &Layout {
        self.layout
    }

    /// Maps a file's column names onto the stream's fields, remembering them for messages.
    pub fn map_columns(&mut self, names: &[String]) -> std::result::Result<Vec<(usize, ColumnType)>, ReadError> {
        self.names = names.to_vec();
        names
            .iter()
            .map(|name| match self.layout.index.get(name).map(|&i| (i, self.layout.kinds[i])) {
                Some((i, Some(kind))) => Ok((i, kind)),
                _ => Err(ReadError::Failed(format!(
                    "{}: column \"{name}\" was not in the stream's schema when the sync began (the files changed during the sync); run the sync again",
                    self.file.name
                ))),
            })
            .collect()
    }

    /// Names the stream's fields in messages (formats without a header of their own).
    pub fn set_names(&mut self, names: Vec<String>) {
        self.names = names;
    }

    /// Rows waiting to be emitted.
    pub fn pending(&self) -> usize {
        self.builder.len()
    }

    /// Data rows of the file so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Counts the next data row.
    pub fn next_row(&mut self) {
        self.rows += 1;
    }

    /// How many of the next `n` rows an earlier read emitted already.
    pub fn skip_count(&self, n: u64) -> u64 {
        self.skip_until.saturating_sub(self.rows).min(n)
    }

    /// Counts `n` rows read at once.
    pub fn advance(&mut self, n: u64) {
        self.rows += n;
    }

    /// Emits a batch built elsewhere (in the stream's schema).
    pub fn emit(&mut self, batch: RecordBatch) -> std::result::Result<(), ReadError> {
        self.flush()?;
        self.emitted += batch.num_rows() as u64;
        let stream = self.stream.to_string();
        self.send(Message::Batch { stream, batch })
    }

    /// Whether the current row was emitted by an earlier read.
    pub fn skipping(&self) -> bool {
        self.rows <= self.skip_until
    }

    /// Sets field `target` of the current row.
    pub fn set(&mut self, target: usize, cell: Cell) {
        self.cells[target] = cell;
    }

    /// Adds the current row (text cells index into `text`).
    pub fn push_row(&mut self, text: &str) {
        self.builder.append(&self.cells, text, (self.rows - self.row_base) as i64);
        self.cells.fill(Cell::Null);
    }

    /// The name of the file's column `i`.
    pub fn column_name(&self, i: usize) -> &str {
        self.names.get(i).map(String::as_str).unwrap_or("?")
    }

    fn place(&self, line: u64, column: Option<usize>) -> String {
        let sheet = self.sheet.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
        match column {
            Some(c) => format!("{}{sheet}:{line}:{} (column \"{}\")", self.file.name, c + 1, self.column_name(c)),
            None => format!("{}{sheet}:{line}", self.file.name),
        }
    }

    /// Reports the current row malformed: the stream fails, or the row is skipped and counted.
    pub fn malformed(
        &mut self,
        line: u64,
        column: Option<usize>,
        detail: String,
    ) -> std::result::Result<(), ReadError> {
        let reason = format!("{}: the row {detail}", self.place(line, column));
        self.reject(reason, false)
    }

    /// Reports a value that does not parse as its column's type.
    pub fn malformed_value(
        &mut self,
        line: u64,
        column: usize,
        value: &str,
        why: &str,
    ) -> std::result::Result<(), ReadError> {
        let shown: String = value.chars().take(80).collect();
        let reason = format!("{}: {shown:?} {why}", self.place(line, Some(column)));
        self.reject(reason, true)
    }

    fn reject(&mut self, reason: String, value: bool) -> std::result::Result<(), ReadError> {
        self.cells.fill(Cell::Null);
        match self.settings.on_error {
            OnError::Fail => {
                let fix = if value { ", declare the column's type in `columns`" } else { "" };
                Err(ReadError::Failed(format!(
                    "malformed row at {reason}; fix the file{fix}, or set on_error = \"skip\" on stream `{}` to skip such rows",
                    self.settings.name
                )))
            }
            OnError::Skip => {
                self.skipped += 1;
                if self.reasons.len() < REASONS_LOGGED {
                    self.reasons.push(reason);
                }
                Ok(())
            }
        }
    }

    /// Emits the pending rows as a batch.
    pub fn flush(&mut self) -> std::result::Result<(), ReadError> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = self
            .builder
            .finish(&self.file.name, self.file.modified, self.sheet.as_deref())
            .map_err(|e| ReadError::Failed(format!("{}: building a batch failed (a bug): {e}", self.file.name)))?;
        self.emitted += batch.num_rows() as u64;
        let stream = self.stream.to_string();
        self.send(Message::Batch { stream, batch })
    }

    /// Emits pending rows of the previous sheet, then goes on with `sheet`.
    pub fn set_sheet(&mut self, sheet: Option<String>) -> std::result::Result<(), ReadError> {
        self.flush()?;
        self.sheet = sheet;
        self.row_base = self.rows;
        Ok(())
    }

    /// Emits the pending rows, then a checkpoint saying the file is read as far as `entry`.
    pub fn checkpoint(&mut self, entry: FileEntry) -> std::result::Result<(), ReadError> {
        self.flush()?;
        self.state.files.insert(self.file.name.clone(), entry);
        let state = self.state.to_value();
        let stream = self.stream.to_string();
        self.send(Message::State { stream: stream.clone(), state })?;
        let done = self.emitted_before + self.emitted;
        self.send(Message::Progress { stream: Some(stream), done, total: None })
    }

    /// A checkpoint for a format read whole: the rows read so far, `complete` at the end.
    pub fn checkpoint_rows(&mut self, complete: bool) -> std::result::Result<(), ReadError> {
        let entry = FileEntry::new(self.file, self.rows, complete);
        self.checkpoint(entry)
    }

    /// Ends the file: logs the rows skipped as malformed.
    fn finish(&mut self) -> std::result::Result<(), ReadError> {
        if self.skipped == 0 {
            return Ok(());
        }
        let message = format!(
            "stream `{}`: skipped {} malformed row{} of {}: {}{}",
            self.stream,
            self.skipped,
            if self.skipped == 1 { "" } else { "s" },
            self.file.name,
            self.reasons.join("; "),
            if self.skipped > self.reasons.len() as u64 { "; …" } else { "" }
        );
        self.send(Message::Log { level: LogLevel::Warn, message })?;
        // The run history counts skipped rows as the stream's warnings.
        self.send(Message::Warnings { stream: self.stream.to_string(), count: self.skipped })
    }
}
