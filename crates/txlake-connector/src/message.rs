//! What a connector's read emits.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::error::ConnectorError;

/// The saved cursor of every stream of a connection, by stream name.
pub type StateMap = BTreeMap<String, Value>;

/// The async stream of messages a read produces.
pub type MessageStream = BoxStream<'static, Result<Message, ConnectorError>>;

/// Severity of a [`Message::Log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Detail for debugging.
    Debug,
    /// Normal progress.
    Info,
    /// Something the user should look at; the read goes on.
    Warn,
}

/// One message of a read.
#[derive(Debug, Clone)]
pub enum Message {
    /// Records of one stream, in the stream's schema.
    Batch {
        /// The stream they belong to.
        stream: String,
        /// The records.
        batch: RecordBatch,
    },
    /// A checkpoint: every record of `stream` up to the cursor in `state` has been emitted
    /// before this message. The sync commits it together with those records.
    State {
        /// The stream.
        stream: String,
        /// The connector's own cursor document, given back on the next read.
        state: Value,
    },
    /// A line for the user.
    Log {
        /// How important it is.
        level: LogLevel,
        /// The text.
        message: String,
    },
    /// How far the read has come, for progress bars.
    Progress {
        /// The stream, if the progress is about one.
        stream: Option<String>,
        /// Units done so far (days simulated, pages fetched, …).
        done: u64,
        /// Units in all, if known.
        total: Option<u64>,
    },
}
