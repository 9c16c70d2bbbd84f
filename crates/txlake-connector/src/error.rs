//! Errors a connector reports, split into the user's mistakes (configuration, credentials,
//! an unknown stream) and failures of the source or of the connector itself.

use std::fmt;

/// Result type of the connector SDK.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// One problem found in a connector configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Where in the configuration, as a dotted path (`config.customers`); empty for the root.
    pub path: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.path, self.message)
        }
    }
}

/// Everything that can go wrong in a connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// No connector of that name is registered.
    #[error("unknown connector `{name}`; available connectors: {}", available.join(", "))]
    UnknownConnector {
        /// The name asked for.
        name: String,
        /// The names that are registered.
        available: Vec<String>,
    },
    /// The configuration does not match the connector's spec.
    #[error("invalid configuration for connector `{connector}`:\n{}", issues.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    InvalidConfig {
        /// The connector whose spec was violated.
        connector: String,
        /// Every problem found, each naming the field.
        issues: Vec<ConfigIssue>,
    },
    /// A stream was asked for that the connector does not offer.
    #[error("connector `{connector}` has no stream `{stream}`; its streams are: {}", available.join(", "))]
    UnknownStream {
        /// The connector.
        connector: String,
        /// The stream asked for.
        stream: String,
        /// The streams it offers.
        available: Vec<String>,
    },
    /// A stream was asked for in a mode it does not support.
    #[error("stream `{stream}` does not support {mode} syncs: {reason}")]
    UnsupportedMode {
        /// The stream.
        stream: String,
        /// The mode asked for.
        mode: String,
        /// Why, and what to use instead.
        reason: String,
    },
    /// The saved state of a stream cannot be understood by this connector.
    #[error(
        "stream `{stream}`: saved state {state} is not understood ({reason}); run with --full-refresh to start over"
    )]
    InvalidState {
        /// The stream.
        stream: String,
        /// The state as found.
        state: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A declarative connector's manifest is wrong.
    #[error("connector manifest {origin}: {message}")]
    Manifest {
        /// The manifest file.
        origin: String,
        /// What is wrong, with the key path and what was expected.
        message: String,
    },
    /// The source rejected the credentials.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The source failed or answered with something unusable.
    #[error("source error: {0}")]
    Source(String),
    /// Building Arrow data failed: a bug in the connector.
    #[error("connector produced invalid Arrow data: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Anything else that is the connector's own fault.
    #[error("internal connector error: {0}")]
    Internal(String),
}
