//! The lake's error type.

/// Result type of the lake.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// Everything that can go wrong writing or reading the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The lake URL in the configuration cannot be used.
    #[error("invalid lake url `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A stream's new schema cannot be written into its existing table.
    #[error(
        "stream `{stream}`: column `{column}` changed type from {old} to {new}, which cannot be stored in the existing table; \
         run the sync with --full-refresh to rebuild the table with the new type"
    )]
    IncompatibleType {
        /// The table (`connection.stream`).
        stream: String,
        /// The column.
        column: String,
        /// Its type in the table.
        old: String,
        /// Its type in the new data.
        new: String,
    },
    /// A stream asked for merge without a primary key.
    #[error("stream `{stream}`: incremental_dedupe needs a primary key, and the stream has none")]
    MissingPrimaryKey {
        /// The table (`connection.stream`).
        stream: String,
    },
    /// The saved state of a commit is unreadable.
    #[error("table `{table}` version {version}: the saved sync state is not valid JSON ({reason})")]
    CorruptState {
        /// The table.
        table: String,
        /// The Delta version.
        version: i64,
        /// The parse error.
        reason: String,
    },
    /// Another sync of the connection holds its lock.
    #[error("{0}")]
    Locked(Box<LockConflict>),
    /// The Delta library failed (storage unreachable, conflicting commit, …).
    #[error("delta table `{table}`: {source}")]
    Delta {
        /// The table.
        table: String,
        /// The underlying error (boxed: it is large, and errors travel in every `Result`).
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
    /// Object storage failed.
    #[error("object storage: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// Arrow failed on data the lake produced: a bug.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// DataFusion failed while merging or registering tables.
    #[error("datafusion: {0}")]
    DataFusion(#[from] deltalake::datafusion::error::DataFusionError),
}

/// Who holds the lock a sync could not take (boxed in [`LakeError::Locked`] to keep errors small).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "another sync of connection `{connection}` is running: {holder}; this sync did not start. \
     Wait for it to finish (a killed sync's lock expires at {expires}), or remove {path} from the lake \
     if you are sure no sync is running"
)]
pub struct LockConflict {
    /// The connection.
    pub connection: String,
    /// Who holds the lock.
    pub holder: String,
    /// When the lock expires unless renewed.
    pub expires: String,
    /// The lock object in the lake.
    pub path: String,
}

impl LakeError {
    pub(crate) fn delta(table: impl Into<String>) -> impl FnOnce(deltalake::DeltaTableError) -> Self {
        let table = table.into();
        move |source| LakeError::Delta { table, source: Box::new(source) }
    }
}
