//! `/healthz` (the process is up), `/readyz` (the lake answers and the catalog is loaded) and
//! `/metrics` (Prometheus). None of them needs an API key: probes and scrapers call them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// The service can answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "tables": 9, "metrics": 17}))]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    /// Raw tables in the lake.
    pub tables: usize,
    /// Metrics in the catalog.
    pub metrics: usize,
}

/// Liveness: the process answers HTTP.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations", responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the lake is reachable and the metric catalog is loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The lake cannot be read", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let engine = state.engine();
    match state.lake.list_raw_tables().await {
        Ok(tables) => {
            Json(Readiness { status: "ready".into(), tables: tables.len(), metrics: engine.metrics().count() })
                .into_response()
        }
        Err(e) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "lake_unreachable", format!("cannot read the lake: {e}"))
                .into_response()
        }
    }
}

/// Prometheus metrics.
///
/// Requests by route and status, latencies, sync runs, records synced, metric cache hits.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getPrometheusMetrics",
    tag = "operations",
    responses((status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text", body = String))
)]
pub async fn prometheus(State(state): State<Arc<AppState>>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, crate::telemetry::OPENMETRICS_CONTENT_TYPE)], state.telemetry.encode())
        .into_response()
}
