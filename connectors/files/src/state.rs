//! A stream's incremental state: every file read so far, and what to do with each file now
//! (skip it, read it whole, read on from where the last read stopped, or replace its rows).
//!
//! The state document of a stream is `{"files": {"<file>": FileEntry, …}}`. An entry is
//! written at every checkpoint of a file (`complete: false` while the file is being read),
//! so a read that stops mid-file resumes from its last committed checkpoint.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use txlake_connector::{ConnectorError, Result};

use crate::source::FileMeta;

/// Bytes at each end of a read prefix that its fingerprint covers.
pub const FINGERPRINT_SPAN: u64 = 64 * 1024;

/// What the state remembers of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Size when it was read (bytes), if the source tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Modification time when it was read (RFC 3339, µs).
    pub modified: String,
    /// ETag when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Data rows read so far (skipped malformed rows included: `_row` numbers them too).
    pub rows: u64,
    /// CSV/JSONL: the byte offset read up to (the end of the last record read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// CSV/JSONL: the line number at `offset` (for messages after a resumed read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// CSV/JSONL: SHA-256 of the first and last 64 KiB of the bytes before `offset`, and
    /// `offset` itself, so a file that only grew is told from one that was rewritten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Whether the whole file was read.
    pub complete: bool,
}

impl FileEntry {
    /// An entry for `file` as it is now, `rows` read.
    pub fn new(file: &FileMeta, rows: u64, complete: bool) -> FileEntry {
        FileEntry {
            size: file.size,
            modified: format_micros(file.modified),
            etag: file.etag.clone(),
            rows,
            offset: None,
            line: None,
            fingerprint: None,
            complete,
        }
    }

    fn same_version(&self, file: &FileMeta) -> bool {
        self.size == file.size && self.modified == format_micros(file.modified) && self.etag == file.etag
    }
}

/// RFC 3339 UTC with microseconds.
pub fn format_micros(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_else(|| micros.to_string())
}

/// The state of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamState {
    /// Every file read, by its name.
    pub files: BTreeMap<String, FileEntry>,
}

impl StreamState {
    /// Reads a saved state document.
    pub fn parse(stream: &str, state: &Value) -> Result<StreamState> {
        serde_json::from_value(state.clone()).map_err(|e| ConnectorError::InvalidState {
            stream: stream.to_string(),
            state: truncate(&state.to_string(), 300),
            reason: format!("expected {{\"files\": {{\"<file>\": {{\"modified\", \"rows\", \"complete\", …}}}}}}: {e}"),
        })
    }

    /// The document sent in `Message::State`.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// What to do with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Already read as it is.
    Skip,
    /// Read from the start; `replace` when rows of an earlier version are in the lake.
    Whole {
        /// Emit `ReplaceRows` for the file first.
        replace: bool,
    },
    /// Read on from a byte offset (the file grew, or its read stopped there).
    From {
        /// Where to go on.
        offset: u64,
        /// The line number there.
        line: u64,
        /// Rows read before it.
        rows: u64,
    },
    /// The same version of a file whose read stopped after `rows` rows: read it again,
    /// emitting only the rows after those.
    SkipRows {
        /// Rows already emitted.
        rows: u64,
    },
}

/// Decides what to do with `file` given its saved entry. `fingerprint(offset)` computes the
/// fingerprint of the file's first `offset` bytes as they are now (only asked for files that
/// can be read on from an offset).
pub fn plan(
    entry: Option<&FileEntry>,
    file: &FileMeta,
    appendable: bool,
    fingerprint: &mut dyn FnMut(u64) -> std::result::Result<String, String>,
) -> std::result::Result<Plan, String> {
    let Some(entry) = entry else { return Ok(Plan::Whole { replace: false }) };
    let same = entry.same_version(file);
    if entry.complete && same {
        return Ok(Plan::Skip);
    }
    if appendable
        && let (Some(offset), Some(line), Some(saved)) = (entry.offset, entry.line, entry.fingerprint.as_deref())
        && file.size.is_none_or(|size| size >= offset)
        && fingerprint(offset)? == saved
    {
        return Ok(Plan::From { offset, line, rows: entry.rows });
    }
    if !appendable && !entry.complete && same {
        return Ok(Plan::SkipRows { rows: entry.rows });
    }
    Ok(Plan::Whole { replace: true })
}

/// Hashes the bytes of a file as they are read, for the fingerprint of any prefix: CRC-32 of
/// every byte (cheap enough for every byte read) and SHA-256 of the first and last 64 KiB and
/// the length.
#[derive(Debug, Clone, Default)]
pub struct PrefixHasher {
    crc: crc32fast::Hasher,
    head: Vec<u8>,
    tail: Vec<u8>,
    len: u64,
}

impl PrefixHasher {
    /// Adds the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        self.len += bytes.len() as u64;
        let span = FINGERPRINT_SPAN as usize;
        if self.head.len() < span {
            let take = (span - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        if bytes.len() >= span {
            self.tail.clear();
            self.tail.extend_from_slice(&bytes[bytes.len() - span..]);
        } else {
            self.tail.extend_from_slice(bytes);
            if self.tail.len() > span {
                self.tail.drain(..self.tail.len() - span);
            }
        }
    }

    /// The first bytes hashed (up to 64 KiB): enough to see a byte order mark.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The fingerprint of everything hashed so far.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(&self.head);
        hasher.update(&self.tail);
        hasher.update(self.len.to_le_bytes());
        hasher.update(self.crc.clone().finalize().to_le_bytes());
        hex::encode(hasher.finalize())
    }

    /// Hashes the first `len` bytes a reader yields (fewer if it ends first).
    pub fn of_prefix(reader: &mut dyn std::io::Read, len: u64) -> std::io::Result<PrefixHasher> {
        let mut hasher = PrefixHasher::default();
        let mut buf = vec![0u8; 1 << 20];
        while hasher.len < len {
            let want = ((len - hasher.len) as usize).min(buf.len());
            let n = reader.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64, modified: i64) -> FileMeta {
        FileMeta { name: "a.csv".into(), size: Some(size), modified, etag: None }
    }

    fn entry(file: &FileMeta, offset: u64, complete: bool) -> FileEntry {
        FileEntry {
            offset: Some(offset),
            line: Some(3),
            fingerprint: Some("fp".into()),
            ..FileEntry::new(file, 2, complete)
        }
    }

    #[test]
    fn new_unchanged_grown_and_replaced_files() {
        let v1 = meta(100, 1);
        let mut same_prefix = |_: u64| Ok("fp".to_string());
        let mut other_prefix = |_: u64| Ok("other".to_string());
        assert_eq!(plan(None, &v1, true, &mut same_prefix), Ok(Plan::Whole { replace: false }));
        let done = entry(&v1, 100, true);
        assert_eq!(plan(Some(&done), &v1, true, &mut other_prefix), Ok(Plan::Skip));
        // Grown: larger, newer, the bytes read unchanged.
        let v2 = meta(150, 2);
        assert_eq!(plan(Some(&done), &v2, true, &mut same_prefix), Ok(Plan::From { offset: 100, line: 3, rows: 2 }));
        // Rewritten: the bytes read changed, or it shrank.
        assert_eq!(plan(Some(&done), &v2, true, &mut other_prefix), Ok(Plan::Whole { replace: true }));
        assert_eq!(plan(Some(&done), &meta(50, 2), true, &mut same_prefix), Ok(Plan::Whole { replace: true }));
        // Formats without offsets: any change replaces.
        let whole = FileEntry::new(&v1, 10, true);
        assert_eq!(plan(Some(&whole), &v2, false, &mut same_prefix), Ok(Plan::Whole { replace: true }));
        assert_eq!(plan(Some(&whole), &v1, false, &mut same_prefix), Ok(Plan::Skip));
        // A read that stopped mid-file goes on.
        let partial = entry(&v1, 40, false);
        assert_eq!(plan(Some(&partial), &v1, true, &mut same_prefix), Ok(Plan::From { offset: 40, line: 3, rows: 2 }));
        let partial_whole = FileEntry::new(&v1, 7, false);
        assert_eq!(plan(Some(&partial_whole), &v1, false, &mut same_prefix), Ok(Plan::SkipRows { rows: 7 }));
        assert_eq!(plan(Some(&partial_whole), &v2, false, &mut same_prefix), Ok(Plan::Whole { replace: true }));
        // A failing fingerprint read is reported.
        let mut failing = |_: u64| Err("cannot read".to_string());
        assert!(plan(Some(&done), &v2, true, &mut failing).is_err());
    }

    #[test]
    fn state_round_trips_and_rejects_garbage() {
        let mut state = StreamState::default();
        state.files.insert("a.csv".into(), entry(&meta(100, 1_700_000_000_123_456), 100, true));
        let value = state.to_value();
        assert_eq!(value["files"]["a.csv"]["modified"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(StreamState::parse("s", &value).unwrap(), state);
        let err = StreamState::parse("s", &serde_json::json!({"cursor": 3})).unwrap_err().to_string();
        assert!(err.contains("stream `s`") && err.contains("--full-refresh"), "{err}");
    }

    #[test]
    fn fingerprints_cover_every_byte_and_the_length() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let of = |bytes: &[u8]| {
            let mut hasher = PrefixHasher::default();
            // Fed in uneven pieces, as blocks arrive.
            for piece in bytes.chunks(70_001) {
                hasher.update(piece);
            }
            hasher.fingerprint()
        };
        let whole = of(&data);
        assert_eq!(PrefixHasher::of_prefix(&mut &data[..], data.len() as u64).unwrap().fingerprint(), whole);
        for at in [0, 100_000, 299_999] {
            let mut changed = data.clone();
            changed[at] ^= 1;
            assert_ne!(of(&changed), whole, "a change at {at}");
        }
        assert_ne!(of(&data[..10]), of(&data[..11]));
        let prefix = PrefixHasher::of_prefix(&mut &data[..], 1000).unwrap();
        assert_eq!(prefix.len(), 1000);
        assert_eq!(prefix.fingerprint(), of(&data[..1000]));
    }
}
