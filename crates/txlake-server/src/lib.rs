//! The txlake API service: the metric catalog, canonical tables, read-only SQL and sync runs
//! over HTTP for dashboards (Power BI first), an OData v4 feed ([`odata`]), with API-key auth, an OpenAPI document and
//! interactive docs, health probes and Prometheus metrics.
//!
//! The interactive docs at `/docs` are Scalar's API reference rendering `/openapi.json`, from a
//! pinned build vendored under `console/vendor/scalar/` and embedded with the console
//! ([`console`]): every byte the page needs comes from this server, so it works offline.
//!
//! [`router`] builds the axum application over an [`AppState`]; [`serve`] runs it until a
//! shutdown signal, letting requests in flight finish.

pub mod api;
pub mod auth;
pub mod cache;
pub mod console;
pub mod error;
pub mod format;
pub mod odata;
pub mod openapi;
pub mod sql_guard;
pub mod state;
pub mod syncs;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

pub use error::ApiError;
pub use state::{AppState, StartError};

/// The application: every route, auth inside the handlers, body and time limits, CORS and
/// request metrics.
pub fn router(state: Arc<AppState>) -> Router {
    let server = &state.config.server;
    let telemetry = state.telemetry.clone();
    let api = Router::new()
        .route("/api/v1/metrics", get(api::metrics::list))
        .route("/api/v1/metrics/{name}", get(api::metrics::show))
        .route("/api/v1/tables", get(api::tables::list))
        .route("/api/v1/tables/{table}", get(api::tables::rows))
        .route("/api/v1/query", post(api::query::run))
        .route("/api/v1/session", get(api::session::show))
        .route("/api/v1/connections", get(api::syncs::connections))
        .route("/api/v1/connections/{name}/sync", post(api::syncs::start))
        .route("/api/v1/syncs", get(api::syncs::list))
        .route("/api/v1/syncs/{id}", get(api::syncs::show))
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .route("/metrics", get(api::health::prometheus))
        .route("/openapi.json", get(openapi_json))
        // The interactive reference: a vendored Scalar build served from the binary, so it
        // works offline (see console.rs).
        .route("/docs", get(console::docs))
        .route("/", get(console::index))
        .route("/console/{*path}", get(console::file))
        .merge(odata::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // `layer`, not `route_layer`: the fallback's 404s are counted too (as `unmatched`).
        .layer(axum::middleware::from_fn_with_state(telemetry, telemetry::track))
        .with_state(state.clone());
    let timeout = Duration::from_secs(server.request_timeout_secs);
    api.layer(DefaultBodyLimit::max(server.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(timeout, deadline))
        .layer(cors(&server.cors_origins))
}

/// Answers 408 in the API's error shape when a request takes longer than `timeout`
/// (`[server] request_timeout_secs`); the work is dropped with it.
async fn deadline(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} s ([server] request_timeout_secs); ask for less (filters, a coarser grain) or raise the limit",
                timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

fn cors(origins: &[String]) -> CorsLayer {
    if origins.is_empty() {
        return CorsLayer::new();
    }
    let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(Any);
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    layer.allow_origin(AllowOrigin::list(origins))
}

async fn openapi_json() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi::json())
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no endpoint {}; see /docs or /openapi.json", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}; see /docs", uri.path()),
    )
}

/// Why the server will not listen where it was asked.
pub fn check_listen(address: &SocketAddr, has_keys: bool) -> Result<(), String> {
    if has_keys || address.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "no API keys are configured (local mode), so txlake only listens on a loopback address, not {address}: \
         create a key with `txlake keys create --name powerbi --role viewer`, paste the lines it prints into \
         txlake.toml, and start again (or listen on 127.0.0.1)"
    ))
}

/// Serves `state` on `listener` until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The views computed per lake version are computed now, so that the first dashboard
    // request does not wait for them; the console's landing page first.
    let warm = state.clone();
    tokio::spawn(async move {
        if let Err(e) = warm.engine().refresh_materialized_metrics_first(console::LANDING_METRICS).await {
            tracing::warn!("could not compute the materialized views: {e}");
        }
    });
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt as _;

    use super::*;

    #[test]
    fn local_mode_listens_on_loopback_only() {
        assert!(check_listen(&"127.0.0.1:8080".parse().unwrap(), false).is_ok());
        assert!(check_listen(&"[::1]:8080".parse().unwrap(), false).is_ok());
        let refused = check_listen(&"0.0.0.0:8080".parse().unwrap(), false).unwrap_err();
        assert!(refused.contains("txlake keys create"), "{refused}");
        assert!(check_listen(&"0.0.0.0:8080".parse().unwrap(), true).is_ok());
    }

    async fn preflight(origins: &[&str], origin: &str) -> Option<String> {
        let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
        let app: Router = Router::new().route("/x", get(|| async { "x" })).layer(cors(&origins));
        let request = Request::builder()
            .method(Method::OPTIONS)
            .uri("/x")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string())
    }

    #[tokio::test]
    async fn a_request_past_its_deadline_is_a_json_408() {
        let app: Router = Router::new()
            .route("/slow", get(std::future::pending::<&'static str>))
            .route("/fast", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(Duration::from_millis(5), deadline));
        let response = app.clone().oneshot(Request::get("/slow").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "request_timeout");
        assert!(body["error"]["message"].as_str().unwrap().contains("request_timeout_secs"));
        let response = app.oneshot(Request::get("/fast").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn cors_allows_the_configured_origins_only() {
        assert_eq!(preflight(&[], "https://bi.example.com").await, None, "no origins: no CORS");
        assert_eq!(
            preflight(&["https://bi.example.com"], "https://bi.example.com").await.as_deref(),
            Some("https://bi.example.com")
        );
        assert_eq!(preflight(&["https://bi.example.com"], "https://evil.example.com").await, None);
        assert_eq!(preflight(&["*"], "https://any.example.com").await.as_deref(), Some("*"));
    }
}
