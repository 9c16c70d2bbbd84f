//! The [`Connector`] trait every source implements.

use async_trait::async_trait;
use serde_json::Value;

use crate::catalog::{Catalog, ConfiguredCatalog};
use crate::error::Result;
use crate::message::{MessageStream, StateMap};
use crate::spec::Spec;

/// Everything a read needs, owned so the returned stream can outlive the call.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// The connection's configuration, already validated against the spec.
    pub config: Value,
    /// The streams to read and how.
    pub catalog: ConfiguredCatalog,
    /// The last committed state of each stream (absent: start from the beginning).
    pub state: StateMap,
}

/// A source of records.
///
/// Contract of [`Connector::read`]: batches of a stream follow the stream's schema; a
/// `State` message for a stream is emitted only once every record it covers has been
/// emitted; in incremental mode, a read given that state emits only records after it.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The name connections use in `connector = "…"`.
    fn name(&self) -> &str;

    /// One line on what the connector reads.
    fn description(&self) -> &str;

    /// The JSON Schema of the configuration.
    fn spec(&self) -> Spec;

    /// Verifies the configuration reaches the source; errors say what to fix.
    async fn check(&self, config: &Value) -> Result<()>;

    /// The streams available with this configuration.
    async fn discover(&self, config: &Value) -> Result<Catalog>;

    /// Reads the configured streams.
    async fn read(&self, request: ReadRequest) -> Result<MessageStream>;
}
