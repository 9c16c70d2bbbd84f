//! What a connector offers ([`Catalog`]) and what a connection asks of it
//! ([`ConfiguredCatalog`]).

use std::fmt;

use arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

/// How a connector can read a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Every run reads the whole stream.
    FullRefresh,
    /// A run reads only what is newer than the saved cursor.
    Incremental,
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncMode::FullRefresh => "full_refresh",
            SyncMode::Incremental => "incremental",
        })
    }
}

/// How a connection writes a stream into the lake: the source read mode plus what the lake
/// does with records it already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// Read everything and replace the table in one commit at the end.
    FullRefresh,
    /// Read what is new since the cursor and append it.
    IncrementalAppend,
    /// Read what is new since the cursor and merge it on the primary key (newest cursor wins).
    IncrementalDedupe,
}

impl StreamMode {
    /// The read mode the connector is asked for.
    pub fn sync_mode(self) -> SyncMode {
        match self {
            StreamMode::FullRefresh => SyncMode::FullRefresh,
            StreamMode::IncrementalAppend | StreamMode::IncrementalDedupe => SyncMode::Incremental,
        }
    }

    /// All modes, as their configuration names.
    pub const NAMES: [&'static str; 3] = ["full_refresh", "incremental_append", "incremental_dedupe"];
}

impl fmt::Display for StreamMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamMode::FullRefresh => "full_refresh",
            StreamMode::IncrementalAppend => "incremental_append",
            StreamMode::IncrementalDedupe => "incremental_dedupe",
        })
    }
}

/// One stream a connector offers.
#[derive(Debug, Clone)]
pub struct StreamDescriptor {
    /// Stream name, unique within the connector (`tickets`).
    pub name: String,
    /// One sentence on what a record is.
    pub description: String,
    /// The Arrow schema of its record batches.
    pub schema: SchemaRef,
    /// Columns that identify a record.
    pub primary_key: Vec<String>,
    /// The column incremental reads advance on, if the stream supports them.
    pub cursor_field: Option<String>,
    /// Read modes the stream supports.
    pub sync_modes: Vec<SyncMode>,
    /// The mode a connection uses when it does not choose one.
    pub default_mode: StreamMode,
}

impl StreamDescriptor {
    /// Whether the stream can be read in this mode, with the reason when it cannot.
    pub fn check_mode(&self, mode: StreamMode) -> Result<(), String> {
        let wanted = mode.sync_mode();
        if !self.sync_modes.contains(&wanted) {
            return Err(format!(
                "it supports only {}",
                self.sync_modes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
        if mode == StreamMode::IncrementalDedupe && self.primary_key.is_empty() {
            return Err("it has no primary key to deduplicate on".into());
        }
        Ok(())
    }
}

/// Every stream a connector offers with a given configuration.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The streams, in the connector's order.
    pub streams: Vec<StreamDescriptor>,
    /// For survey sources: the questions of every survey, so a survey mapping
    /// (`survey_mapping` in txlake.toml) can be written from `txlake connectors discover`.
    /// Empty for other sources.
    pub questions: Vec<SurveyQuestion>,
}

/// One question of a survey, as a survey source describes it at discover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyQuestion {
    /// The survey (form) id in the tool.
    pub survey_id: String,
    /// The survey's title.
    pub survey_title: String,
    /// The question's id as answers name it: the `field` of `tx.survey_answers` and the key
    /// a survey mapping uses (a Typeform field ref, a SurveyMonkey question id, a Qualtrics QID,
    /// a file's column).
    pub field: String,
    /// The question's text.
    pub question: String,
    /// The tool's type of the question (`opinion_scale`, `nps`, `rating`, `matrix`, `int`, …).
    pub kind: String,
    /// The lowest and highest answer of a numeric scale, when the question has one.
    pub scale: Option<(i64, i64)>,
    /// Whether `scale` is only the lowest and highest answer seen in a sample (a file's
    /// column) rather than a scale the tool declares: a mapping's scale must then contain it,
    /// not equal it.
    pub scale_observed: bool,
}

impl Catalog {
    /// The stream of that name.
    pub fn stream(&self, name: &str) -> Option<&StreamDescriptor> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// The stream names, in order.
    pub fn names(&self) -> Vec<String> {
        self.streams.iter().map(|s| s.name.clone()).collect()
    }
}

/// A stream chosen for a sync, with the mode it is synced in.
#[derive(Debug, Clone)]
pub struct ConfiguredStream {
    /// The stream as discovered.
    pub stream: StreamDescriptor,
    /// How it is synced.
    pub mode: StreamMode,
}

/// The streams a sync asks a connector to read.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredCatalog {
    /// The chosen streams.
    pub streams: Vec<ConfiguredStream>,
}

impl ConfiguredCatalog {
    /// The configured stream of that name.
    pub fn stream(&self, name: &str) -> Option<&ConfiguredStream> {
        self.streams.iter().find(|s| s.stream.name == name)
    }
}
