//! txlake connectors that run an external program speaking the
//! [Airbyte protocol](https://docs.airbyte.com/understanding-airbyte/airbyte-protocol), so
//! the hundreds of existing Airbyte sources (Python packages, Docker images, any
//! executable) can feed a txlake connection: `connector = "airbyte:<command>"`.
//!
//! The program is started once per operation with the protocol's verb after the command's
//! own arguments (`spec`, `check --config F`, `discover --config F`,
//! `read --config F --catalog F [--state F]`) and speaks JSON lines on stdout:
//!
//! - `RECORD` → Arrow record batches per stream ([`batch`]), decoded with the schema its
//!   `json_schema` maps to ([`txlake_connector::arrow_schema`]);
//! - `STATE` → `Message::State` after the stream's pending records ([`state`], [`read`]);
//! - `LOG` → `Message::Log`; `TRACE` errors → the failure's message, estimates →
//!   `Message::Progress`;
//! - a non-zero exit or a signal → the read fails with the command, the exit code and the
//!   end of stderr ([`process`], [`tail`]).
//!
//! Modules: [`command`] (the command line), [`process`] (one run of a verb), [`tail`],
//! [`protocol`] (the messages), [`catalog`], [`state`], [`files`] (the JSON files given to
//! the program), [`batch`], [`read`], [`connector`] ([`AirbyteConnector`]) and [`resolver`]
//! ([`AirbyteResolver`], for the registry).

pub mod batch;
pub mod catalog;
pub mod command;
pub mod connector;
pub mod files;
pub mod process;
pub mod protocol;
pub mod read;
pub mod resolver;
pub mod state;
pub mod tail;

pub use command::CommandLine;
pub use connector::{AirbyteConnector, SCHEME};
pub use resolver::AirbyteResolver;
