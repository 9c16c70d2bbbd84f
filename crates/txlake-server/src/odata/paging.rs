//! Server-driven paging: skip tokens and the open cursors behind them.
//!
//! A page ends with `@odata.nextLink` carrying an opaque `$skiptoken`: which read it belongs
//! to (a hash of the entity set and options), the lake version it was read at, and how many
//! rows came before. While a client follows its next links, the server keeps the read's
//! result stream open ([`Cursors`]), so paging a table costs one scan, not one per page. A
//! token whose cursor is gone (evicted, another replica, a restart) is answered by planning
//! the read again and skipping its rows: the feed plans in one partition, so at one lake
//! version the rows come in the same order. Once a sync commits, the old tokens are refused
//! (410): their rows would not line up with the new version.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use datafusion::physical_plan::SendableRecordBatchStream;
use sha2::{Digest, Sha256};

/// Open cursors kept at most; the least recently used goes first.
const MAX_CURSORS: usize = 64;
/// A cursor not read from for this long is dropped.
const IDLE: Duration = Duration::from_secs(300);

/// Where a page starts, as a next link carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipToken {
    /// Hash of the entity set and options.
    pub read: String,
    /// Hash of the lake version.
    pub version: String,
    /// Rows before the page.
    pub offset: u64,
    /// The open cursor, if the server kept one.
    pub cursor: u64,
}

impl SkipToken {
    /// The token as it goes in a URL.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}.{}.{}", self.read, self.version, self.offset, self.cursor))
    }

    /// Reads a token; `None` if it is not one the feed made.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('.');
        let token = SkipToken {
            read: parts.next()?.to_string(),
            version: parts.next()?.to_string(),
            offset: parts.next()?.parse().ok()?,
            cursor: parts.next()?.parse().ok()?,
        };
        (parts.next().is_none() && token.read.len() == 16 && token.version.len() == 16).then_some(token)
    }
}

/// A short, stable hash (16 hex digits) of `text`.
pub fn fingerprint(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A read in progress: its stream and the rows it has read but not yet sent.
pub struct Cursor {
    /// The token of the page it continues with.
    pub token: SkipToken,
    /// The result stream.
    pub stream: SendableRecordBatchStream,
    /// Rows already pulled from the stream that belong to the next page.
    pub pending: Option<RecordBatch>,
    used: Instant,
}

impl Cursor {
    /// A cursor that continues at `token`.
    pub fn new(token: SkipToken, stream: SendableRecordBatchStream, pending: Option<RecordBatch>) -> Self {
        Self { token, stream, pending, used: Instant::now() }
    }
}

/// The open cursors, by id.
#[derive(Default)]
pub struct Cursors {
    open: Mutex<HashMap<u64, Cursor>>,
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursors").finish_non_exhaustive()
    }
}

impl Cursors {
    /// Takes the cursor that continues exactly at `token`, if open.
    pub fn take(&self, token: &SkipToken) -> Option<Cursor> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get(&token.cursor) {
            Some(cursor) if &cursor.token == token => open.remove(&token.cursor),
            _ => None,
        }
    }

    /// Keeps `cursor` for its next page; drops idle cursors and, past the maximum, the least
    /// recently used.
    pub fn put(&self, mut cursor: Cursor) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, c| c.used.elapsed() < IDLE);
        while open.len() >= MAX_CURSORS {
            let Some(oldest) = open.iter().min_by_key(|(_, c)| c.used).map(|(id, _)| *id) else { break };
            open.remove(&oldest);
        }
        cursor.used = Instant::now();
        open.insert(cursor.token.cursor, cursor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let token = SkipToken { read: fingerprint("a"), version: fingerprint("v1"), offset: 5000, cursor: 42 };
        assert_eq!(SkipToken::decode(&token.encode()), Some(token.clone()));
        for garbage in ["", "abc", "!!!", &URL_SAFE_NO_PAD.encode("a.b.c.d"), &URL_SAFE_NO_PAD.encode("x.y.1.2.3")] {
            assert_eq!(SkipToken::decode(garbage), None, "{garbage}");
        }
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint("a").len(), 16);
    }
}
