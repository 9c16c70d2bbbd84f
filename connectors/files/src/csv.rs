//! CSV: records parsed with `csv-core` straight from decoded text blocks (no allocation per
//! record), the header turned into column names, sampled values into types, and every data
//! record parsed into its row of the stream's batch.
//!
//! Checkpoints fall on the first block end (every 64 KiB) that is a record boundary after a
//! batch: there the raw byte offset is exact, so a grown file or an interrupted read goes on
//! from there.

use std::io::Read;

use csv_core::{ReadRecordResult, ReaderBuilder};

use crate::config::StreamSettings;
use crate::names::{join_header, unique_names};
use crate::read::{FileJob, ReadError};
use crate::sample::FileSample;
use crate::state::{FileEntry, PrefixHasher};
use crate::text::{Block, TextReader};
use crate::value::{Cell, ColumnType, Inference, TextFormats};

/// The most bytes one record may hold.
const MAX_RECORD_BYTES: usize = 64 << 20;
/// The most fields one record may have.
const MAX_RECORD_FIELDS: usize = 1 << 20;

/// Whether to go on after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read on.
    Continue,
    /// Stop reading (a sample has enough rows).
    Stop,
}

/// One parsed record.
#[derive(Debug)]
pub struct Record<'a> {
    buf: &'a [u8],
    ends: &'a [usize],
    /// The line the record starts on (1-based).
    pub line: u64,
    /// The line it ends on.
    pub end_line: u64,
    /// Whether it holds bytes invalid in the file's encoding.
    pub bad_encoding: bool,
    /// Whether it was too large to keep (its fields are then empty).
    pub too_long: bool,
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The range of field `i` in [`Record::bytes`].
    pub fn range(&self, i: usize) -> (usize, usize) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        (start, self.ends[i])
    }

    /// Field `i`.
    pub fn field(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.range(i);
        &self.buf[start..end]
    }

    /// All fields, back to back.
    pub fn bytes(&self) -> &'a [u8] {
        &self.buf[..self.ends.last().copied().unwrap_or(0)]
    }

    /// A line with nothing but blanks: not a record.
    pub fn is_blank(&self) -> bool {
        !self.too_long && self.len() <= 1 && self.bytes().trim_ascii().is_empty()
    }
}

/// A CSV parser fed block by block, remembering lines and a record split across blocks.
pub struct CsvParser {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    out_len: usize,
    n_ends: usize,
    /// Line number of the next unread byte.
    line: u64,
    record_line: Option<u64>,
    record_bad: bool,
    too_long: bool,
    skip_lines: usize,
    ended: bool,
}

impl CsvParser {
    /// A parser that skips `skip_lines` lines and then reads records, the first byte on
    /// line `line`.
    pub fn new(settings: &StreamSettings, skip_lines: usize, line: u64) -> CsvParser {
        let core = ReaderBuilder::new().delimiter(settings.delimiter).quote(settings.quote).double_quote(true).build();
        CsvParser {
            core,
            out: vec![0; 4096],
            ends: vec![0; 64],
            out_len: 0,
            n_ends: 0,
            line,
            record_line: None,
            record_bad: false,
            too_long: false,
            skip_lines,
            ended: false,
        }
    }

    /// Whether no record is half read.
    pub fn at_boundary(&self) -> bool {
        self.record_line.is_none() && self.skip_lines == 0
    }

    /// The line number of the next unread byte.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Parses a block, handing each complete record to `on_record`; at the last block the
    /// final record (without a line break) too.
    pub fn feed<E>(
        &mut self,
        block: &Block<'_>,
        on_record: &mut dyn FnMut(&Record<'_>) -> Result<Flow, E>,
    ) -> Result<Flow, E> {
        let text = block.text;
        let mut pos = 0;
        while self.skip_lines > 0 && pos < text.len() {
            pos = match memchr::memchr(b'\n', &text[pos..]) {
                Some(i) => pos + i + 1,
                None => text.len(),
            };
            self.line += 1;
            self.skip_lines -= 1;
        }
        loop {
            if self.ended {
                return Ok(Flow::Continue);
            }
            let input = &text[pos..];
            if input.is_empty() && !block.last {
                return Ok(Flow::Continue);
            }
            let (result, nin, nout, nend) =
                self.core.read_record(input, &mut self.out[self.out_len..], &mut self.ends[self.n_ends..]);
            let consumed = &input[..nin];
            if self.record_line.is_none()
                && let Some(k) = consumed.iter().position(|&b| b != b'\n' && b != b'\r')
            {
                self.record_line = Some(self.line + memchr::memchr_iter(b'\n', &consumed[..k]).count() as u64);
            }
            if !block.malformed.is_empty() {
                let first = block.malformed.partition_point(|&m| m < pos);
                if block.malformed.get(first).is_some_and(|&m| m < pos + nin) {
                    self.record_bad = true;
                }
            }
            self.line += memchr::memchr_iter(b'\n', consumed).count() as u64;
            pos += nin;
            self.out_len += nout;
            self.n_ends += nend;
            match result {
                ReadRecordResult::InputEmpty => {
                    if !block.last {
                        return Ok(Flow::Continue);
                    }
                }
                // A record too large to hold (an unclosed quote swallowing the rest of the
                // file) is consumed without keeping its text, and reported malformed.
                ReadRecordResult::OutputFull if self.out.len() >= MAX_RECORD_BYTES => {
                    self.too_long = true;
                    self.out_len = 0;
                }
                ReadRecordResult::OutputFull => {
                    let len = self.out.len();
                    self.out.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull if self.ends.len() >= MAX_RECORD_FIELDS => {
                    self.too_long = true;
                    self.n_ends = 0;
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                ReadRecordResult::Record => {
                    let line = self.record_line.take().unwrap_or(self.line);
                    let too_long = std::mem::take(&mut self.too_long);
                    let record = Record {
                        buf: if too_long { &[] } else { &self.out[..self.out_len] },
                        ends: if too_long { &[] } else { &self.ends[..self.n_ends] },
                        too_long,
                        line,
                        end_line: if self.line > line && text.get(pos.wrapping_sub(1)) == Some(&b'\n') {
                            self.line - 1
                        } else {
                            self.line
                        },
                        bad_encoding: std::mem::take(&mut self.record_bad),
                    };
                    let flow = on_record(&record)?;
                    self.out_len = 0;
                    self.n_ends = 0;
                    if flow == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                ReadRecordResult::End => {
                    self.ended = true;
                    return Ok(Flow::Continue);
                }
            }
        }
    }
}

/// The header records of a file, collected until `header_rows` are read.
fn header_names(rows: &[Vec<String>], header_rows: usize, width: usize) -> Vec<String> {
    if header_rows == 0 {
        return (1..=width).map(|i| format!("column_{i}")).collect();
    }
    unique_names(join_header(rows, true))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reads a file's header and samples up to `rows` data records for types.
pub fn sample(
    input: Box<dyn Read + Send>,
    settings: &StreamSettings,
    formats: &TextFormats,
    rows: usize,
) -> Result<FileSample, String> {
    let mut reader = TextReader::new(input, 0, &[], settings.encoding, PrefixHasher::default())
        .map_err(|e| format!("read error: {e}"))?;
    let mut parser = CsvParser::new(settings, settings.skip_rows, 1);
    let mut header: Vec<Vec<String>> = Vec::new();
    let mut inferences: Vec<Inference> = Vec::new();
    let mut width = 0;
    let mut sampled = 0;
    while let Some(block) = reader.next_block()? {
        let flow = parser.feed(&block, &mut |record: &Record<'_>| {
            if record.is_blank() {
                return Ok::<_, String>(Flow::Continue);
            }
            if header.len() < settings.header_rows {
                header.push((0..record.len()).map(|i| lossy(record.field(i))).collect());
                return Ok(if header.len() == settings.header_rows && rows == 0 { Flow::Stop } else { Flow::Continue });
            }
            if width == 0 {
                width = record.len();
            }
            if inferences.len() < record.len() {
                inferences.resize(record.len(), Inference::default());
            }
            for (i, inference) in inferences.iter_mut().enumerate().take(record.len()) {
                inference.text(record.field(i), formats);
            }
            sampled += 1;
            Ok(if sampled >= rows { Flow::Stop } else { Flow::Continue })
        })?;
        if flow == Flow::Stop {
            break;
        }
    }
    // An empty file (or one with nothing after skip_rows) has no columns and no rows: it
    // neither names columns nor fails the stream.
    let width = if settings.header_rows == 0 { width } else { header.iter().map(Vec::len).max().unwrap_or(0) };
    let names = header_names(&header, settings.header_rows, width);
    inferences.resize(names.len(), Inference::default());
    Ok(FileSample::inferred(names.into_iter().zip(inferences).collect()))
}

/// Where a read of a file begins.
pub struct Start {
    /// Raw byte offset (0: the beginning, header included).
    pub offset: u64,
    /// The line number at `offset`.
    pub line: u64,
    /// The hash of the bytes before `offset`.
    pub hasher: PrefixHasher,
    /// The column names, known beforehand when reading on from an offset.
    pub names: Option<Vec<String>>,
}

/// Reads a CSV file (from `start`) into the job's stream.
pub fn read(job: &mut FileJob<'_>, input: Box<dyn Read + Send>, start: Start) -> Result<(), ReadError> {
    let settings = job.settings;
    let fail = |e: String| ReadError::Failed(format!("{}: {e}", job.file.name));
    let head = start.hasher.head().to_vec();
    let mut reader = TextReader::new(input, start.offset, &head, settings.encoding, start.hasher)
        .map_err(|e| fail(e.to_string()))?;
    let skip = if start.offset == 0 { settings.skip_rows } else { 0 };
    let mut parser = CsvParser::new(settings, skip, start.line);
    let mut header: Vec<Vec<String>> = Vec::new();
    let mut columns: Option<Vec<(usize, ColumnType)>> = match start.names {
        Some(names) => Some(job.map_columns(&names)?),
        None => None,
    };
    let batch_size = settings.batch_size;
    let encoding = reader.encoding().name();
    loop {
        let file_name = job.file.name.clone();
        let Some(block) = reader.next_block().map_err(|e| ReadError::Failed(format!("{file_name}: {e}")))? else {
            break;
        };
        let raw_end = block.raw_end;
        parser.feed(&block, &mut |record: &Record<'_>| {
            if record.is_blank() {
                return Ok(Flow::Continue);
            }
            let Some(columns) = columns.as_ref() else {
                if header.len() < settings.header_rows {
                    header.push((0..record.len()).map(|i| lossy(record.field(i))).collect());
                    if header.len() == settings.header_rows {
                        let width = header.iter().map(Vec::len).max().unwrap_or(0);
                        columns = Some(job.map_columns(&header_names(&header, settings.header_rows, width))?);
                    }
                    return Ok(Flow::Continue);
                }
                // No header: the first record's width names the columns.
                columns = Some(job.map_columns(&header_names(&[], 0, record.len()))?);
                return data_record(job, columns.as_deref().unwrap_or_default(), record, encoding)
                    .map(|()| Flow::Continue);
            };
            data_record(job, columns, record, encoding)?;
            if job.pending() >= batch_size * 2 {
                job.flush()?;
            }
            Ok(Flow::Continue)
        })?;
        if parser.at_boundary() && job.pending() >= batch_size {
            let entry = FileEntry {
                offset: Some(raw_end),
                line: Some(parser.line()),
                fingerprint: Some(reader.hasher().fingerprint()),
                ..FileEntry::new(job.file, job.rows(), false)
            };
            job.checkpoint(entry)?;
        }
    }
    let offset = reader.hasher().len();
    let entry = FileEntry {
        offset: Some(offset),
        line: Some(parser.line()),
        fingerprint: Some(reader.hasher().fingerprint()),
        ..FileEntry::new(job.file, job.rows(), true)
    };
    job.checkpoint(entry)
}

/// Parses one data record into the job's next row, or reports it malformed.
fn data_record(
    job: &mut FileJob<'_>,
    columns: &[(usize, ColumnType)],
    record: &Record<'_>,
    encoding: &str,
) -> Result<(), ReadError> {
    job.next_row();
    if job.skipping() {
        return Ok(());
    }
    let line = record.line;
    if record.too_long {
        return job.malformed(
            line,
            None,
            format!(
                "is longer than {} MiB or has more than {MAX_RECORD_FIELDS} fields (it runs over lines {}–{}: is a quote left open?)",
                MAX_RECORD_BYTES >> 20,
                record.line,
                record.end_line
            ),
        );
    }
    if record.bad_encoding {
        return job.malformed(
            line,
            None,
            format!("holds bytes that are not valid {encoding}; set `encoding` to the file's encoding"),
        );
    }
    if record.len() != columns.len() {
        let span = if record.end_line > record.line {
            format!(" (the record runs over lines {}–{}: is a quote left open?)", record.line, record.end_line)
        } else {
            String::new()
        };
        return job.malformed(
            line,
            None,
            format!("has {} fields where the header has {}{span}", record.len(), columns.len()),
        );
    }
    let text = match std::str::from_utf8(record.bytes()) {
        Ok(text) => text,
        Err(e) => {
            let at = e.valid_up_to();
            let column = (0..record.len()).find(|&i| record.range(i).1 > at).unwrap_or(0);
            return job.malformed(
                line,
                Some(column),
                "holds bytes that are not valid UTF-8; set `encoding` (e.g. windows-1251, utf-16le)".to_string(),
            );
        }
    };
    let formats = job.formats;
    for (i, &(target, kind)) in columns.iter().enumerate() {
        let (start, end) = record.range(i);
        let field = &text.as_bytes()[start..end];
        let cell = if kind == ColumnType::String {
            if field.is_empty() { Cell::Null } else { Cell::Str(start as u32, end as u32) }
        } else {
            match formats.parse(kind, field) {
                Ok(cell) => cell,
                Err(reason) => {
                    let value = String::from_utf8_lossy(field).into_owned();
                    return job.malformed_value(line, i, &value, reason);
                }
            }
        };
        job.set(target, cell);
    }
    job.push_row(text);
    Ok(())
}
