//! JSON lines (one object per line, read in blocks like CSV, so grown files read on from an
//! offset) and JSON arrays of objects (streamed element by element, never the whole array in
//! memory). Keys become columns; nested objects and arrays are kept as JSON text.

use std::fmt;
use std::io::{BufReader, Read};

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::config::StreamSettings;
use crate::read::{FileJob, ReadError};
use crate::sample::FileSample;
use crate::state::{FileEntry, PrefixHasher};
use crate::text::TextReader;
use crate::value::{Cell, ColumnType, Inference, TextFormats};

/// Columns in first-seen key order, with their inferences.
#[derive(Default)]
struct Columns {
    names: Vec<String>,
    inferences: Vec<Inference>,
    index: std::collections::HashMap<String, usize>,
}

impl Columns {
    fn observe(&mut self, object: &[(String, Value)], formats: &TextFormats) {
        for (key, value) in object {
            let i = match self.index.get(key) {
                Some(&i) => i,
                None => {
                    self.index.insert(key.clone(), self.names.len());
                    self.names.push(key.clone());
                    self.inferences.push(Inference::default());
                    self.names.len() - 1
                }
            };
            let inference = &mut self.inferences[i];
            match value {
                Value::Null => {}
                Value::Bool(_) => inference.boolean(),
                Value::Number(n) => match n.as_i64() {
                    Some(v) => inference.int(v),
                    None => inference.float(n.as_f64().unwrap_or(f64::NAN)),
                },
                Value::String(s) => inference.text(s.as_bytes(), formats),
                Value::Array(_) | Value::Object(_) => inference.other(),
            }
        }
    }

    fn sample(self) -> Result<FileSample, String> {
        if let Some(clash) = self.names.iter().find(|n| crate::names::is_reserved(n)) {
            return Err(format!(
                "the key \"{clash}\" is one of the connector's own columns (_file, _row, _modified, _sheet); rename it in the data"
            ));
        }
        Ok(FileSample::inferred(self.names.into_iter().zip(self.inferences).collect()))
    }
}

/// A top-level JSON value, an object's keys kept in file order (serde_json's map sorts them,
/// and columns should come in the order the data has them).
enum Record {
    /// An object's entries.
    Object(Vec<(String, Value)>),
    /// Anything else, by kind.
    Other(&'static str),
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            entries.push((key, value));
        }
        Ok(Record::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Record, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Record::Other("an array"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Record, E> {
        Ok(Record::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Record, E> {
        Ok(Record::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Record, E> {
        Ok(Record::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Record, E> {
        Ok(Record::Other("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Record, E> {
        Ok(Record::Other("a string"))
    }

    fn visit_unit<E>(self) -> Result<Record, E> {
        Ok(Record::Other("null"))
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Record, D::Error> {
        deserializer.deserialize_any(RecordVisitor)
    }
}

fn object(line: &[u8]) -> Result<Vec<(String, Value)>, String> {
    match serde_json::from_slice::<Record>(line) {
        Ok(Record::Object(entries)) => Ok(entries),
        Ok(Record::Other(kind)) => Err(format!("is not a JSON object but {kind}")),
        Err(e) => Err(format!("is not valid JSON: {e}")),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Samples the first `rows` objects of a JSON lines file.
pub fn sample_lines(
    input: Box<dyn Read + Send>,
    settings: &StreamSettings,
    formats: &TextFormats,
    rows: usize,
) -> Result<FileSample, String> {
    let mut reader = TextReader::new(input, 0, &[], settings.encoding, PrefixHasher::default())
        .map_err(|e| format!("read error: {e}"))?;
    let mut columns = Columns::default();
    let mut sampled = 0;
    let mut line_no = 0u64;
    'blocks: while let Some(block) = reader.next_block()? {
        for line in block.text.split(|&b| b == b'\n') {
            line_no += 1;
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let map = object(line).map_err(|e| format!("line {line_no} {e}"))?;
            columns.observe(&map, formats);
            sampled += 1;
            if sampled >= rows {
                break 'blocks;
            }
        }
    }
    columns.sample()
}

/// Puts one JSON object into the job's current row, or reports why it cannot be.
fn object_row(job: &mut FileJob<'_>, map: &[(String, Value)], line: u64, text: &mut String) -> Result<(), ReadError> {
    text.clear();
    for (key, value) in map {
        let Some(&target) = job.layout().index.get(key) else {
            return job.malformed(
                line,
                None,
                format!(
                    "has the key \"{key}\", which the first infer_rows = {} rows of the stream's files lack; declare it in `columns` or raise infer_rows",
                    job.settings.infer_rows
                ),
            );
        };
        let Some(kind) = job.layout().kinds[target] else {
            return job.malformed(line, None, format!("has the key \"{key}\", one of the connector's own columns"));
        };
        let cell = match (value, kind) {
            (Value::Null, _) => Cell::Null,
            (Value::String(s), ColumnType::String) => push_text(text, s),
            (Value::String(s), kind) => match job.formats.parse(kind, s.as_bytes()) {
                Ok(cell) => cell,
                Err(why) => return job.malformed_value(line, target, s, why),
            },
            (Value::Bool(b), ColumnType::Bool) => Cell::Bool(*b),
            (Value::Number(n), ColumnType::Int) => match n.as_i64() {
                Some(v) => Cell::Int(v),
                None => return job.malformed_value(line, target, &n.to_string(), "is not an integer"),
            },
            (Value::Number(n), ColumnType::Float) => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
            (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_), ColumnType::String) => {
                push_text(text, &value.to_string())
            }
            (other, kind) => {
                let why = format!("is {} where the column holds {}", kind_of(other), kind.name());
                return job.malformed(line, Some(target), why);
            }
        };
        job.set(target, cell);
    }
    job.push_row(text);
    Ok(())
}

fn push_text(text: &mut String, value: &str) -> Cell {
    let start = text.len() as u32;
    text.push_str(value);
    Cell::Str(start, text.len() as u32)
}

/// Reads a JSON lines file from raw `offset` (line `line`; `hasher` has hashed the bytes
/// before it) into the job's stream.
pub fn read_lines(
    job: &mut FileJob<'_>,
    input: Box<dyn Read + Send>,
    offset: u64,
    line: u64,
    hasher: PrefixHasher,
) -> Result<(), ReadError> {
    let settings = job.settings;
    let head = hasher.head().to_vec();
    let mut reader = TextReader::new(input, offset, &head, settings.encoding, hasher)
        .map_err(|e| ReadError::Failed(format!("{}: read error: {e}", job.file.name)))?;
    let names: Vec<String> = job.layout().schema.fields().iter().map(|f| f.name().clone()).collect();
    job.set_names(names);
    let mut line_no = line;
    let mut text = String::new();
    loop {
        let name = job.file.name.clone();
        let Some(block) = reader.next_block().map_err(|e| ReadError::Failed(format!("{name}: {e}")))? else {
            break;
        };
        let raw_end = block.raw_end;
        let body = block.text.strip_suffix(b"\n").unwrap_or(block.text);
        let malformed = block.malformed;
        let mut pos = 0usize;
        for raw_line in body.split(|&b| b == b'\n') {
            let this = line_no;
            line_no += 1;
            let start = pos;
            pos += raw_line.len() + 1;
            let trimmed = raw_line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            job.next_row();
            if job.skipping() {
                continue;
            }
            let first_bad = malformed.partition_point(|&m| m < start);
            if malformed.get(first_bad).is_some_and(|&m| m < pos) {
                let encoding = reader_encoding(settings);
                job.malformed(this, None, format!("holds bytes that are not valid {encoding}; set `encoding`"))?;
                continue;
            }
            match object(trimmed) {
                Ok(map) => object_row(job, &map, this, &mut text)?,
                Err(e) => job.malformed(this, None, e)?,
            }
            if job.pending() >= settings.batch_size * 2 {
                job.flush()?;
            }
        }
        if job.pending() >= settings.batch_size {
            let entry = FileEntry {
                offset: Some(raw_end),
                line: Some(line_no),
                fingerprint: Some(reader.hasher().fingerprint()),
                ..FileEntry::new(job.file, job.rows(), false)
            };
            job.checkpoint(entry)?;
        }
    }
    let entry = FileEntry {
        offset: Some(reader.hasher().len()),
        line: Some(line_no),
        fingerprint: Some(reader.hasher().fingerprint()),
        ..FileEntry::new(job.file, job.rows(), true)
    };
    job.checkpoint(entry)
}

fn reader_encoding(settings: &StreamSettings) -> &'static str {
    settings.encoding.name()
}

/// Calls `each` with every element of a top-level JSON array, in order, until it says stop.
struct Elements<'f> {
    each: &'f mut dyn FnMut(Record) -> Result<bool, String>,
    stopped: bool,
}

impl<'de> Visitor<'de> for &mut Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Record>()? {
            match (self.each)(value) {
                Ok(true) => {}
                Ok(false) => {
                    self.stopped = true;
                    // Skip the rest quickly so the array still ends well-formed.
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(());
                }
                Err(e) => return Err(serde::de::Error::custom(e)),
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Elements<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

fn each_element(
    input: Box<dyn Read + Send>,
    each: &mut dyn FnMut(Record) -> Result<bool, String>,
) -> Result<(), String> {
    let mut elements = Elements { each, stopped: false };
    let mut deserializer = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, input));
    (&mut elements).deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    if !elements.stopped {
        deserializer.end().map_err(|e| format!("after the array: {e}"))?;
    }
    Ok(())
}

/// Samples the first `rows` objects of a JSON array file.
pub fn sample_array(input: Box<dyn Read + Send>, formats: &TextFormats, rows: usize) -> Result<FileSample, String> {
    let mut columns = Columns::default();
    let mut sampled = 0;
    each_element(input, &mut |value| match value {
        Record::Object(map) => {
            columns.observe(&map, formats);
            sampled += 1;
            Ok(sampled < rows)
        }
        Record::Other(kind) => Err(format!("element {} is {kind}, not an object", sampled + 1)),
    })?;
    columns.sample()
}

/// Reads a JSON array file into the job's stream; `_row` and the places in messages are the
/// elements' 1-based positions.
pub fn read_array(job: &mut FileJob<'_>, input: Box<dyn Read + Send>) -> Result<(), ReadError> {
    let names: Vec<String> = job.layout().schema.fields().iter().map(|f| f.name().clone()).collect();
    job.set_names(names);
    let batch_size = job.settings.batch_size;
    let mut text = String::new();
    let mut failure: Option<ReadError> = None;
    let parsed = each_element(input, &mut |value| {
        job.next_row();
        if job.skipping() {
            return Ok(true);
        }
        let position = job.rows();
        let step = match value {
            Record::Object(map) => object_row(job, &map, position, &mut text),
            Record::Other(kind) => job.malformed(position, None, format!("is {kind}, not an object")),
        };
        let step = step.and_then(|()| if job.pending() >= batch_size { job.checkpoint_rows(false) } else { Ok(()) });
        match step {
            Ok(()) => Ok(true),
            Err(e) => {
                failure = Some(e);
                Ok(false)
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    parsed.map_err(|e| ReadError::Failed(format!("{}: not a JSON array of objects: {e}", job.file.name)))?;
    job.checkpoint_rows(true)
}
