//! Runs txlake connections: reads a connector's messages and turns them into Delta commits
//! that carry the connector state, so syncs are exactly-once across crashes.
//!
//! - [`config`]: the `txlake.toml` file (lake, sync policy, connections), with `${VAR}`
//!   secrets read from the environment;
//! - [`connectors`]: the registry of built-in connectors;
//! - [`runner`]: one sync run of one connection, its commit policy, progress and history;
//! - [`survey_mapping`]: what a survey source's answers mean in the canonical model.

pub mod config;
pub mod connectors;
mod error;
pub mod import_state;
pub mod runner;
pub mod survey_mapping;

pub use config::{ApiKeyConfig, AuthConfig, CommitPolicy, ConnectionConfig, ServerConfig, TxlakeConfig};
pub use error::{Result, SyncError};
pub use import_state::{AirbyteState, ImportError, ImportReport, import_airbyte_state};
pub use runner::{Observer, QuietObserver, StopHandle, SyncOptions, SyncReport, sync_connection};
pub use survey_mapping::SurveyMapping;
