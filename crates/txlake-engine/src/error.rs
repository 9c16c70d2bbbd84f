//! The engine's error type: the user's mistakes (a bad request, bad SQL, a broken SQL file)
//! are kept apart from failures of the lake or of the engine itself.

use datafusion::error::DataFusionError;

/// Result type of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A shipped or user SQL file is broken (header or SQL), found at load time.
    #[error("{file}:{line}: {message}")]
    SqlFile {
        /// Path of the file.
        file: String,
        /// 1-based line (0 when the whole file is concerned).
        line: usize,
        /// What is wrong and what is expected.
        message: String,
    },
    /// No metric of that name.
    #[error("unknown metric `{name}`; metrics: {}", available.join(", "))]
    UnknownMetric {
        /// The name asked for.
        name: String,
        /// The catalog's names.
        available: Vec<String>,
    },
    /// A grouping or filter names something that is not a dimension of the metric.
    #[error("metric `{metric}` has no dimension `{name}`{}; dimensions: {}", if *is_measure { " (it is a measure, which cannot be grouped or filtered on)" } else { "" }, available.join(", "))]
    UnknownDimension {
        /// The metric.
        metric: String,
        /// The name given.
        name: String,
        /// Whether it is one of the metric's measures.
        is_measure: bool,
        /// The metric's dimensions.
        available: Vec<String>,
    },
    /// A request parameter has a bad value.
    #[error("invalid `{parameter}` value `{value}`: {expected}")]
    InvalidParameter {
        /// The parameter.
        parameter: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// User SQL failed to plan or run.
    #[error("{0}")]
    Sql(#[source] DataFusionError),
    /// Reading the lake failed.
    #[error(transparent)]
    Lake(#[from] txlake_lake::LakeError),
}

impl From<DataFusionError> for EngineError {
    fn from(error: DataFusionError) -> Self {
        EngineError::Sql(error)
    }
}

impl EngineError {
    /// An error in a SQL file (or folder), at a line (0: the whole file).
    pub fn file(file: &str, line: usize, message: impl Into<String>) -> Self {
        EngineError::SqlFile { file: file.to_string(), line, message: message.into() }
    }
}
