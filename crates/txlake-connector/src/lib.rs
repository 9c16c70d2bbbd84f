//! The txlake connector SDK.
//!
//! A connector is a plugin that reads one kind of source system (a CRM, an HRM, an LMS, a
//! ticketing tool, a generator) and speaks four operations, in the spirit of the Airbyte
//! protocol:
//!
//! - [`Connector::spec`]: the JSON Schema of its configuration ([`Spec`]);
//! - [`Connector::check`]: can it reach the source with this configuration?
//! - [`Connector::discover`]: which streams it offers ([`Catalog`] of [`StreamDescriptor`]s);
//! - [`Connector::read`]: an async stream of [`Message`]s (Arrow record batches and state).
//!
//! Connectors know nothing of the lake: the sync (crate `txlake-sync`) turns their messages
//! into Delta commits. The [`Registry`] finds connectors by name.

pub mod airbyte_manifest;
mod catalog;
mod connector;
pub mod declarative;
mod error;
mod json_schema;
mod message;
mod registry;
mod spec;

pub use catalog::{
    Catalog, ConfiguredCatalog, ConfiguredStream, StreamDescriptor, StreamMode, SurveyQuestion, SyncMode,
};
pub use connector::{Connector, ReadRequest};
pub use declarative::DeclarativeConnector;
pub use error::{ConfigIssue, ConnectorError, Result};
pub use json_schema::{arrow_field, arrow_schema};
pub use message::{LogLevel, Message, MessageStream, StateMap};
pub use registry::{Registry, SchemeResolver};
pub use spec::Spec;
