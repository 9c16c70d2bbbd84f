//! Prometheus metrics of the service itself, served at `/metrics`.
//!
//! Counts requests (by route template, method and status) and their latency, sync runs and the
//! records they wrote, and metric-cache hits and misses. Every label takes values from a
//! bounded set — route templates rather than raw paths, known HTTP methods, run statuses — so
//! no client can grow the number of series.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use txlake_lake::RunStatus;

/// The content type of [`Telemetry::encode`]'s output: `prometheus_client` writes OpenMetrics.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of requests no route matched (404s).
const UNMATCHED: &str = "unmatched";

/// Request latency buckets in seconds, 0.5 ms to 30 s: cached answers take well under a
/// millisecond, SQL over a large lake can take many seconds.
const DURATION_BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0];

/// The methods labelled by name; any other (extension) method is `other`, so invented methods
/// cannot add series.
static KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    connection: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    connection: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

/// The service's metrics and the registry that encodes them. Shared as `Arc<Telemetry>`;
/// recording takes `&self`.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    sync_runs: Family<SyncLabels, Counter>,
    records: Family<ConnectionLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
}

impl Telemetry {
    /// Fresh metrics, all at zero, ready to share with the router.
    pub fn new() -> Arc<Telemetry> {
        let mut registry = Registry::with_prefix("txlake");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
        let durations: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, until the response headers, by route template",
            Unit::Seconds,
            durations.clone(),
        );
        let sync_runs = Family::<SyncLabels, Counter>::default();
        registry.register("sync_runs", "Sync runs by connection and how they ended", sync_runs.clone());
        let records = Family::<ConnectionLabels, Counter>::default();
        registry.register("records_synced", "Records written to the lake by sync runs", records.clone());
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register("metric_cache", "Metric-result cache lookups by result (hit or miss)", cache.clone());
        // Both series exist from the start, so a query over hits or misses finds one before the first such lookup.
        for result in ["hit", "miss"] {
            cache.get_or_create_owned(&CacheLabels { result });
        }
        Arc::new(Telemetry { registry, requests, durations, sync_runs, records, cache })
    }

    /// Counts one answered request. `route` is the matched route template
    /// (`/api/v1/metrics/{name}`) or `unmatched`, never the raw path.
    pub fn record_request(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        let method = KNOWN_METHODS.iter().find(|known| *known == method).map_or("other", Method::as_str);
        self.requests.get_or_create(&RequestLabels { route: route.to_string(), method, status: status.as_u16() }).inc();
        self.durations.get_or_create(&RouteLabels { route: route.to_string() }).observe(elapsed.as_secs_f64());
    }

    /// Counts one finished sync run of `connection` and the records it wrote.
    pub fn record_sync(&self, connection: &str, status: RunStatus, records: u64) {
        self.sync_runs.get_or_create(&SyncLabels { connection: connection.to_string(), status: status.as_str() }).inc();
        self.records.get_or_create(&ConnectionLabels { connection: connection.to_string() }).inc_by(records);
    }

    /// Counts one metric-result cache lookup.
    pub fn record_cache(&self, hit: bool) {
        self.cache.get_or_create(&CacheLabels { result: if hit { "hit" } else { "miss" } }).inc();
    }

    /// All metrics in the OpenMetrics text format ([`OPENMETRICS_CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // The encoder only fails when its writer does, and writing to a String cannot fail.
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// Middleware recording every request's route template, method, status and latency.
///
/// Install it with `Router::layer` after adding all routes and the fallback:
/// `router.layer(axum::middleware::from_fn_with_state(telemetry, track))`. `Router::layer`
/// wraps each route and the fallback, and axum puts [`MatchedPath`] into the request before
/// calling a route, so the middleware sees the template; requests no route matched reach it
/// through the fallback without one and count as `unmatched`. Do not use `route_layer`: it
/// skips the fallback, so 404s would not be counted. Latency runs until the response headers;
/// streaming a body afterwards is not included.
pub async fn track(State(telemetry): State<Arc<Telemetry>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    // The access log shows the URI with any `api_key` value masked: keys never reach logs.
    let uri = tracing::enabled!(tracing::Level::DEBUG).then(|| crate::auth::redact_uri(request.uri()));
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    telemetry.record_request(route, &method, response.status(), started.elapsed());
    if let Some(uri) = uri {
        tracing::debug!(%method, %uri, status = response.status().as_u16(), ms = started.elapsed().as_secs_f64() * 1e3, "request");
    }
    response
}

/// `GET /metrics`: every metric, for Prometheus to scrape. Its state is `Arc<Telemetry>`; a
/// router with a larger state provides it through `FromRef`.
pub async fn metrics_endpoint(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], telemetry.encode())
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn recorded_values_are_encoded_with_their_labels() {
        let telemetry = Telemetry::new();
        telemetry.record_request("/api/v1/metrics/{name}", &Method::GET, StatusCode::OK, Duration::from_millis(3));
        telemetry.record_request("/api/v1/metrics/{name}", &Method::GET, StatusCode::OK, Duration::from_millis(40));
        let invented = Method::from_bytes(b"BREW").unwrap();
        telemetry.record_request("/api/v1/tables", &invented, StatusCode::METHOD_NOT_ALLOWED, Duration::ZERO);
        telemetry.record_sync("zendesk", RunStatus::Succeeded, 120);
        telemetry.record_sync("zendesk", RunStatus::Failed, 5);
        telemetry.record_sync("typeform", RunStatus::Cancelled, 0);
        telemetry.record_cache(true);
        telemetry.record_cache(true);
        telemetry.record_cache(false);

        let text = telemetry.encode();
        for line in [
            "# TYPE txlake_http_requests counter",
            r#"txlake_http_requests_total{route="/api/v1/metrics/{name}",method="GET",status="200"} 2"#,
            r#"txlake_http_requests_total{route="/api/v1/tables",method="other",status="405"} 1"#,
            "# TYPE txlake_http_request_duration_seconds histogram",
            "# UNIT txlake_http_request_duration_seconds seconds",
            r#"txlake_http_request_duration_seconds_bucket{le="0.0005",route="/api/v1/metrics/{name}"} 0"#,
            r#"txlake_http_request_duration_seconds_bucket{le="0.005",route="/api/v1/metrics/{name}"} 1"#,
            r#"txlake_http_request_duration_seconds_bucket{le="30.0",route="/api/v1/metrics/{name}"} 2"#,
            r#"txlake_http_request_duration_seconds_count{route="/api/v1/metrics/{name}"} 2"#,
            r#"txlake_sync_runs_total{connection="zendesk",status="succeeded"} 1"#,
            r#"txlake_sync_runs_total{connection="zendesk",status="failed"} 1"#,
            r#"txlake_sync_runs_total{connection="typeform",status="cancelled"} 1"#,
            r#"txlake_records_synced_total{connection="zendesk"} 125"#,
            r#"txlake_records_synced_total{connection="typeform"} 0"#,
            r#"txlake_metric_cache_total{result="hit"} 2"#,
            r#"txlake_metric_cache_total{result="miss"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn cache_series_exist_before_any_lookup() {
        let text = Telemetry::new().encode();
        assert!(text.contains("txlake_metric_cache_total{result=\"hit\"} 0\n"), "{text}");
        assert!(text.contains("txlake_metric_cache_total{result=\"miss\"} 0\n"), "{text}");
    }

    #[tokio::test]
    async fn the_middleware_records_route_templates_and_unmatched_requests() {
        let telemetry = Telemetry::new();
        let app = Router::new()
            .route("/things/{id}", get(|| async { "thing" }))
            .route("/metrics", get(metrics_endpoint))
            .with_state(telemetry.clone())
            .layer(axum::middleware::from_fn_with_state(telemetry.clone(), track));
        let send = |method: Method, uri: &str| {
            let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(request)
        };
        assert_eq!(send(Method::GET, "/things/1").await.unwrap().status(), StatusCode::OK);
        assert_eq!(send(Method::GET, "/things/2").await.unwrap().status(), StatusCode::OK);
        assert_eq!(send(Method::POST, "/things/3").await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(send(Method::GET, "/nothing/here").await.unwrap().status(), StatusCode::NOT_FOUND);

        let response = send(Method::GET, "/metrics").await.unwrap();
        assert_eq!(response.headers()[CONTENT_TYPE], OPENMETRICS_CONTENT_TYPE);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        for line in [
            r#"txlake_http_requests_total{route="/things/{id}",method="GET",status="200"} 2"#,
            r#"txlake_http_requests_total{route="/things/{id}",method="POST",status="405"} 1"#,
            r#"txlake_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"txlake_http_request_duration_seconds_count{route="/things/{id}"} 3"#,
            r#"txlake_http_request_duration_seconds_count{route="unmatched"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        assert!(!text.contains("/things/1") && !text.contains("/nothing"), "{text}");
    }
}
