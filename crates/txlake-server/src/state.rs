//! What every request shares: the engine over the lake, the configuration, the API keys, the
//! metric cache, the telemetry and the sync runs.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use txlake_engine::{Connection, Engine, EngineSettings, MappedQuestion, SqlSources, WideSurveySource};
use txlake_lake::Lake;
use txlake_sync::TxlakeConfig;

use crate::auth::{ApiKeys, Principal, Role};
use crate::cache::{LakeVersion, MetricCache};
use crate::error::ApiError;
use crate::syncs::SyncManager;
use crate::telemetry::Telemetry;

/// The server's shared state.
pub struct AppState {
    /// The configuration the server started with.
    pub config: TxlakeConfig,
    /// The lake.
    pub lake: Lake,
    /// Accepted API keys; empty in local mode.
    pub keys: ApiKeys,
    /// Encoded metric answers per lake version.
    pub cache: MetricCache,
    /// Prometheus metrics.
    pub telemetry: Arc<Telemetry>,
    /// Sync runs started through the API.
    pub syncs: SyncManager,
    /// The OData feed's model and open cursors.
    pub feed: crate::odata::Feed,
    engine: RwLock<Arc<Engine>>,
    version: Mutex<Option<(Instant, LakeVersion)>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("lake", &self.config.lake.url).finish_non_exhaustive()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The lake could not be opened.
    #[error("cannot open the lake {url}: {source}")]
    Lake {
        /// The lake URL.
        url: String,
        /// The cause.
        source: txlake_lake::LakeError,
    },
    /// The engine could not load the lake or the SQL files.
    #[error("cannot load the metric catalog: {0}")]
    Engine(#[from] txlake_engine::EngineError),
    /// `[auth]` is wrong.
    #[error("txlake.toml [auth]: {0}")]
    Auth(String),
    /// `[server]` is wrong.
    #[error("txlake.toml [server]: {0}")]
    Server(String),
}

impl AppState {
    /// Opens the lake and the engine for `config`.
    pub async fn open(config: TxlakeConfig) -> Result<Arc<Self>, StartError> {
        let keys = ApiKeys::new(&config.auth).map_err(StartError::Auth)?;
        crate::odata::check_page_size(config.server.odata_page_size).map_err(StartError::Server)?;
        let lake = config.open_lake().map_err(|source| StartError::Lake { url: config.lake.url.clone(), source })?;
        let engine = open_engine(&config, &lake).await?;
        Ok(Arc::new(Self {
            cache: MetricCache::new(config.server.cache_bytes),
            config,
            lake,
            keys,
            telemetry: Telemetry::new(),
            syncs: SyncManager::default(),
            feed: Default::default(),
            engine: RwLock::new(Arc::new(engine)),
            version: Mutex::new(None),
        }))
    }

    /// The engine as of now.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Loads the engine again, so tables a sync created and columns it added are seen.
    pub async fn reload_engine(&self) -> Result<(), StartError> {
        let engine = Arc::new(open_engine(&self.config, &self.lake).await?);
        *self.engine.write().unwrap_or_else(|p| p.into_inner()) = engine;
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// The lake version, checked at most once per `[server] freshness_ms`: asking the store
    /// for every table's latest commit on each request would cost more than answering it.
    pub async fn lake_version(&self) -> Result<LakeVersion, ApiError> {
        let freshness = Duration::from_millis(self.config.server.freshness_ms);
        if let Some((at, version)) = self.version.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < freshness
        {
            return Ok(version.clone());
        }
        let version = self
            .engine()
            .lake_version()
            .await
            .map_err(|e| ApiError::internal(format!("cannot read the lake's versions: {e}")))?;
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), version.clone()));
        Ok(version)
    }

    /// The caller, if its key is valid and its role allows `needed`. In local mode (no keys)
    /// every caller is an admin: the server only listens on loopback then.
    pub fn authorize(&self, headers: &HeaderMap, query: Option<&str>, needed: Role) -> Result<Principal, ApiError> {
        if self.keys.is_empty() {
            return Ok(Principal { name: "local".into(), role: Role::Admin });
        }
        let principal = self.keys.authenticate(headers, query)?;
        crate::auth::require(&principal, needed)?;
        Ok(principal)
    }
}

/// Opens the engine over `lake` with the connections, settings and connector models of
/// `config`: what `txlake serve` and the CLI's SQL commands both query.
pub async fn open_engine(config: &TxlakeConfig, lake: &Lake) -> Result<Engine, txlake_engine::EngineError> {
    let connections: Vec<Connection> = config
        .connections
        .iter()
        .map(|(name, c)| Connection {
            name: name.clone(),
            connector: config.models_folder(name).unwrap_or(&c.connector).to_string(),
        })
        .collect();
    let mut sources = SqlSources::builtin();
    if let Some(dir) = config.connectors_dir() {
        sources.add_connectors_dir(&dir).map_err(|e| {
            txlake_engine::EngineError::file(
                &dir.display().to_string(),
                0,
                format!("cannot read the connector models: {e}"),
            )
        })?;
    }
    Engine::open(lake, &connections, &sources, &engine_settings(config)).await
}

/// The engine's settings from the config: `[metrics]` and the connections' survey mappings.
pub fn engine_settings(config: &TxlakeConfig) -> EngineSettings {
    let mut settings = EngineSettings { csi_weights: config.metrics.csi_weights.clone(), ..Default::default() };
    for (name, connection) in &config.connections {
        let Some(mapping) = &connection.survey_mapping else { continue };
        for (key, question) in &mapping.questions {
            let scale = question.resolved_scale();
            let (survey_id, field) = txlake_sync::survey_mapping::question_key(key);
            settings.survey_questions.push(MappedQuestion {
                source: name.clone(),
                field: field.to_string(),
                survey_id: survey_id.map(str::to_string),
                survey: question.survey.as_str().to_string(),
                respondent_kind: mapping.respondent.kind.as_str().to_string(),
                scale: scale.from,
                target_scale: scale.to,
                question_touchpoint: question.touchpoint.clone(),
                respondent_field: mapping.respondent.field.clone(),
                respondent_connection: mapping.respondent.connection.clone(),
                touchpoint_field: mapping.touchpoint.as_ref().and_then(|t| t.field.clone()),
                touchpoint_value: mapping.touchpoint.as_ref().and_then(|t| t.value.clone()),
                channel_field: mapping.channel.as_ref().and_then(|c| c.field.clone()),
                channel_value: mapping.channel.as_ref().and_then(|c| c.value.clone()),
                ticket_field: mapping.ticket.as_ref().map(|t| t.field.clone()),
                ticket_connection: mapping.ticket.as_ref().map(|t| t.connection.clone()),
            });
        }
        if let (Some(stream), Some(answered_at)) = (&mapping.stream, &mapping.answered_at) {
            settings.wide_survey_sources.push(WideSurveySource {
                connection: name.clone(),
                stream: stream.clone(),
                response_id: mapping.response_id.clone(),
                answered_at: answered_at.clone(),
                fields: mapping.fields(),
            });
        }
    }
    settings
}
