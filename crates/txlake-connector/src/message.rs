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
    /// The read of `stream` failed; the read goes on with the streams that do not depend on
    /// it. The sync commits nothing more for `stream` (its pending records are dropped, so its
    /// table and state stay at their last commit), lets the other streams finish, and ends the
    /// run `failed` naming the stream and `error`. A connector sends no further message about
    /// `stream` after this one.
    StreamFailed {
        /// The stream that failed.
        stream: String,
        /// Why, for the user: the URL or file, what was wrong, what to do.
        error: String,
    },
    /// Every record of `stream` already stored whose `column` equals `value` (compared as
    /// text) is removed by the stream's next commit, atomically with the records that commit
    /// adds. A connector sends it before re-reading a source whose earlier rows it replaces
    /// (a re-uploaded file: column `_file`, value the file's name). It applies to the next
    /// commit only, so later commits of the same source's further rows add without deleting;
    /// a read interrupted before that commit leaves the old rows in place. Full-refresh
    /// streams replace their whole table anyway, so there it does nothing.
    ReplaceRows {
        /// The stream.
        stream: String,
        /// The column identifying the rows' origin.
        column: String,
        /// The value whose stored rows are replaced.
        value: String,
    },
    /// The read of `stream` went past `count` more problems worth a look (pages that lacked
    /// the records path, …). The run history counts them per stream; the connector says what
    /// they were in a [`Message::Log`] (once, not once per problem).
    Warnings {
        /// The stream.
        stream: String,
        /// How many more.
        count: u64,
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
