//! The `qualtrics` connector: surveys, their questions and their responses from the
//! Qualtrics v3 API, responses through the response-export job API.
//!
//! Streams: `surveys` (`GET /surveys`), `questions` (each survey's definition),
//! `responses` (one row per recorded response with its metadata) and `response_values`
//! (one row per answered question or embedded data value of a response). The two response
//! streams read one export per survey (`POST /surveys/{id}/export-responses`, progress
//! polled with backoff under a deadline, the zip downloaded and decoded response by
//! response) and resume per survey from the newest `recordedDate` read.
//!
//! Module map: [`config`] (spec and settings), `api` (the HTTP calls and the export job),
//! `definitions` (questions, scales, discover's [`SurveyQuestion`]s), `export` (the export
//! file), [`streams`] (schemas and builders) and `read` (the read task and its state).
//!
//! [`SurveyQuestion`]: txlake_connector::SurveyQuestion

mod api;
pub mod config;
mod definitions;
mod export;
mod read;
pub mod streams;

use async_trait::async_trait;
use serde_json::Value;
use txlake_connector::{Catalog, Connector, MessageStream, ReadRequest, Result, Spec};

use crate::api::Api;
use crate::config::Settings;

/// The name connections use: `connector = "qualtrics"`.
pub const CONNECTOR_NAME: &str = "qualtrics";

/// The `qualtrics` connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct QualtricsConnector;

#[async_trait]
impl Connector for QualtricsConnector {
    fn name(&self) -> &str {
        CONNECTOR_NAME
    }

    fn description(&self) -> &str {
        "Qualtrics surveys, questions and responses (response export API), for NPS, CSAT, CES and eNPS."
    }

    fn spec(&self) -> Spec {
        config::spec()
    }

    /// Asks `GET /whoami` with the token.
    async fn check(&self, config: &Value) -> Result<()> {
        let settings = Settings::parse(config)?;
        Api::new(&settings)?.whoami().await.map(|_| ())
    }

    /// The four streams, and the questions of every survey read (one definition request
    /// per survey).
    async fn discover(&self, config: &Value) -> Result<Catalog> {
        let settings = Settings::parse(config)?;
        let api = Api::new(&settings)?;
        let ids = match &settings.surveys {
            Some(ids) => ids.clone(),
            None => api.surveys().await?.into_iter().map(|s| s.id).collect(),
        };
        let mut questions = Vec::new();
        for survey in &ids {
            let definition = api.definition(survey).await?;
            let (title, parsed) = definitions::parse(&definition);
            questions.extend(definitions::survey_questions(survey, title.as_deref().unwrap_or(survey), &parsed));
        }
        Ok(Catalog { streams: streams::catalog_streams(), questions })
    }

    async fn read(&self, request: ReadRequest) -> Result<MessageStream> {
        read::start(request)
    }
}
