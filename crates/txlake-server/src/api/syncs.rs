//! `GET /api/v1/connections`, `POST /api/v1/connections/{name}/sync` (a sync in the
//! background), `GET /api/v1/syncs` and `GET /api/v1/syncs/{id}` (runs and their outcome).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use serde::Serialize;
use txlake_lake::{RunStatus, SyncRuns};
use txlake_sync::{SyncOptions, sync_connection};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::syncs::{StartRefused, SyncRun};

/// A configured connection.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "demo", "connector": "sample", "streams": null, "running": false}))]
pub struct ConnectionInfo {
    /// Its name: the SQL schema of its raw tables.
    pub name: String,
    /// The connector.
    pub connector: String,
    /// The streams it syncs (all of the connector's when null).
    pub streams: Option<Vec<String>>,
    /// Whether a sync started through the API is running.
    pub running: bool,
    /// Its latest finished run, if any.
    pub last_run: Option<SyncRun>,
}

/// The configured connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// By name.
    pub connections: Vec<ConnectionInfo>,
}

/// Sync runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunList {
    /// Running runs of this server, then the lake's history.
    pub runs: Vec<SyncRun>,
}

/// A started run.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"run_id": "6f1c2e0a-8a9b-4b7e-9d51-2f0c1e5b7a10", "status": "running", "url": "/api/v1/syncs/6f1c2e0a-8a9b-4b7e-9d51-2f0c1e5b7a10"}))]
pub struct SyncStarted {
    /// The run's id.
    pub run_id: String,
    /// `running`.
    pub status: String,
    /// Where to follow it.
    pub url: String,
}

/// Every run: those running in this server and the lake's history.
async fn all_runs(state: &AppState) -> Result<Vec<SyncRun>, ApiError> {
    let history = SyncRuns::new(&state.lake)
        .list()
        .await
        .map_err(|e| ApiError::internal(format!("cannot read the run history: {e}")))?;
    let history = SyncRun::from_history(history);
    // A run of this server is `running` until the engine sees its tables, even though the
    // history has it once its last commit landed; after that the history, which has every
    // stream's figures, speaks for it.
    let active = state.syncs.runs();
    let running: Vec<String> = active.iter().filter(|r| r.status == "running").map(|r| r.run_id.clone()).collect();
    let mut runs: Vec<SyncRun> =
        active.into_iter().filter(|r| r.status == "running" || !history.iter().any(|h| h.run_id == r.run_id)).collect();
    runs.extend(history.into_iter().filter(|h| !running.contains(&h.run_id)));
    runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
    Ok(runs)
}

/// The configured connections, with their latest run.
#[utoipa::path(
    get,
    path = "/api/v1/connections",
    operation_id = "listConnections",
    tag = "syncs",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    responses(
        (status = 200, description = "Connections", body = ConnectionList),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
    )
)]
pub async fn connections(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<ConnectionList>, ApiError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    let runs = all_runs(&state).await?;
    let connections = state
        .config
        .connections
        .iter()
        .map(|(name, connection)| ConnectionInfo {
            name: name.clone(),
            connector: connection.connector.clone(),
            streams: connection.streams.clone(),
            running: state.syncs.is_running(name),
            last_run: runs.iter().find(|r| &r.connection == name && r.status != "running").cloned(),
        })
        .collect();
    Ok(Json(ConnectionList { connections }))
}

/// Starts a sync of a connection.
///
/// The sync runs in the background; the answer comes at once with its run id. One run per
/// connection at a time: a second request while one runs gets 409.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{name}/sync",
    operation_id = "startSync",
    tag = "syncs",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    params(("name" = String, Path, description = "Connection name", example = "demo")),
    responses(
        (status = 202, description = "Started", body = SyncStarted),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is not admin", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
        (status = 409, description = "A sync of this connection is running", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<(StatusCode, Json<SyncStarted>), ApiError> {
    state.authorize(&headers, uri.query(), Role::Admin)?;
    let Some(connection) = state.config.connections.get(&name).cloned() else {
        return Err(ApiError::not_found(
            "unknown_connection",
            format!(
                "no connection `{name}`; connections: {}",
                state.config.connections.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let run = state.syncs.start(&name).map_err(|StartRefused::AlreadyRunning(id)| {
        ApiError::new(
            StatusCode::CONFLICT,
            "sync_running",
            format!("connection `{name}` is already syncing (run {id}); wait for it: GET /api/v1/syncs/{id}"),
        )
    })?;
    let run_id = run.snapshot().run_id;
    let options = SyncOptions { policy: state.config.sync.clone(), run_id: Some(run_id.clone()), ..Default::default() };
    let task_state = state.clone();
    tokio::spawn(async move {
        // The runner's future holds lake writers that are not `Sync`, so it cannot be a
        // spawned task; a blocking-pool thread drives it on this runtime instead.
        let outcome = tokio::task::spawn_blocking({
            let (state, name, run) = (task_state.clone(), name.clone(), run.clone());
            move || {
                let registry = state.config.registry().map_err(|e| e.to_string())?;
                tokio::runtime::Handle::current()
                    .block_on(sync_connection(&state.lake, &registry, &name, &connection, &options, &*run))
                    .map_err(|e| e.to_string())
            }
        })
        .await
        .unwrap_or_else(|stopped| Err(format!("the sync task stopped: {stopped}")));
        let (status, records, streams, error) = match outcome {
            Ok(report) => {
                (report.status, report.streams.iter().map(|s| s.records).sum(), report.streams.len(), report.error)
            }
            Err(error) => (RunStatus::Failed, 0, 0, Some(error)),
        };
        tracing::info!(connection = %name, run_id = %run.snapshot().run_id, %status, records, "sync finished");
        task_state.telemetry.record_sync(&name, status, records);
        // New tables and columns become visible, and the views computed per lake version are
        // brought up to date before the next request needs them.
        if let Err(e) = task_state.reload_engine().await {
            tracing::warn!("could not reload the engine after the sync: {e}");
        } else if let Err(e) =
            task_state.engine().refresh_materialized_metrics_first(crate::console::LANDING_METRICS).await
        {
            tracing::warn!("could not refresh the materialized views after the sync: {e}");
        }
        run.finish(status.as_str(), records, streams, error);
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(SyncStarted { url: format!("/api/v1/syncs/{run_id}"), run_id, status: "running".into() }),
    ))
}

/// Sync runs, newest first: those running now and the lake's history.
#[utoipa::path(
    get,
    path = "/api/v1/syncs",
    operation_id = "listSyncs",
    tag = "syncs",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    responses(
        (status = 200, description = "Runs", body = SyncRunList),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<SyncRunList>, ApiError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    Ok(Json(SyncRunList { runs: all_runs(&state).await? }))
}

/// One run: status, records, error.
#[utoipa::path(
    get,
    path = "/api/v1/syncs/{id}",
    operation_id = "getSync",
    tag = "syncs",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = SyncRun),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<SyncRun>, ApiError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    all_runs(&state).await?.into_iter().find(|r| r.run_id == id).map(Json).ok_or_else(|| {
        ApiError::not_found("unknown_run", format!("no sync run `{id}`; list them with GET /api/v1/syncs"))
    })
}
