//! The sync's error type.

use std::path::PathBuf;

/// Result type of the sync.
pub type Result<T, E = SyncError> = std::result::Result<T, E>;

/// Everything that can stop a sync.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The configuration file could not be read.
    #[error("cannot read config file {}: {source}; create one with `txlake init`", path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("invalid config file {}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// No connection of that name is configured.
    #[error("no connection `{name}` in the config; configured connections: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownConnection {
        /// The name asked for.
        name: String,
        /// The configured names.
        available: Vec<String>,
    },
    /// The connector failed or rejected its configuration.
    #[error("connection `{connection}`: {source}")]
    Connector {
        /// The connection.
        connection: String,
        /// The connector's error.
        #[source]
        source: txlake_connector::ConnectorError,
    },
    /// Writing the lake failed.
    #[error("connection `{connection}`: {source}")]
    Lake {
        /// The connection.
        connection: String,
        /// The lake's error.
        #[source]
        source: txlake_lake::LakeError,
    },
    /// The connection's survey mapping disagrees with the questions its source describes.
    #[error("connection `{connection}`: {message}")]
    SurveyMapping {
        /// The connection.
        connection: String,
        /// Every disagreement, naming the question, both scales and the fix.
        message: String,
    },
    /// The connector broke the protocol (a bug in the connector).
    #[error("connection `{connection}`: connector `{connector}` broke the protocol: {message}")]
    Protocol {
        /// The connection.
        connection: String,
        /// The connector.
        connector: String,
        /// What it did.
        message: String,
    },
}
