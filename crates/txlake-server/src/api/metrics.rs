//! `GET /api/v1/metrics` (the catalog) and `GET /api/v1/metrics/{name}` (one metric, grouped,
//! filtered and cached per lake version).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use txlake_engine::{Grain, MetricDef, MetricKind, MetricRequest, OrderBy};
use utoipa::ToSchema;

use super::{Params, engine_error};
use crate::auth::Role;
use crate::error::{ApiError, ErrorBody};
use crate::format::{self, Format};
use crate::state::AppState;

/// Parameters every metric takes; any other parameter must be one of its dimensions.
const STANDARD: [&str; 8] = ["group_by", "grain", "from", "to", "order_by", "limit", "offset", "format"];

/// One metric of the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "nps", "title": "Net Promoter Score", "description": "NPS = 100 × (promoters − detractors) ÷ responses …",
    "kind": "aggregate", "time": "answered_at", "grains": ["day", "week", "month", "quarter", "year"],
    "dimensions": ["segment", "country", "touchpoint"], "measures": [{"name": "responses", "aggregation": "sum"}],
    "derived": [{"name": "nps", "expression": "100.0 * (promoters - detractors) / NULLIF(responses, 0)"}]}))]
pub struct MetricInfo {
    /// Name, as in the URL.
    pub name: String,
    /// Human title.
    pub title: String,
    /// What it measures and the formula.
    pub description: String,
    /// `aggregate` (grouped and filtered on request) or `table` (rows as they are, filtered).
    pub kind: String,
    /// The time column `from`/`to` and `grain` apply to, if any.
    pub time: Option<String>,
    /// Grains a request may ask for (none without a time column).
    pub grains: Vec<String>,
    /// Columns to group and filter by.
    pub dimensions: Vec<String>,
    /// Base measures and how they add up.
    pub measures: Vec<MeasureInfo>,
    /// Measures computed from the summed base measures.
    pub derived: Vec<DerivedInfo>,
}

/// A base measure.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureInfo {
    /// Column name.
    pub name: String,
    /// `sum`, `count`, `count_distinct`, `min` or `max`.
    pub aggregation: String,
}

/// A derived measure.
#[derive(Debug, Serialize, ToSchema)]
pub struct DerivedInfo {
    /// Column name.
    pub name: String,
    /// SQL over the base measures.
    pub expression: String,
}

/// The catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricCatalog {
    /// Every metric, by name.
    pub metrics: Vec<MetricInfo>,
}

impl From<&MetricDef> for MetricInfo {
    fn from(def: &MetricDef) -> Self {
        let aggregate = def.kind == MetricKind::Aggregate;
        Self {
            name: def.name.clone(),
            title: def.title.clone(),
            description: def.description.clone(),
            kind: if aggregate { "aggregate" } else { "table" }.into(),
            time: def.time.clone(),
            grains: match (&def.time, aggregate) {
                (Some(_), true) => Grain::NAMES.iter().map(|g| g.to_string()).collect(),
                _ => Vec::new(),
            },
            dimensions: def.dimensions.clone(),
            measures: def
                .measures
                .iter()
                .map(|m| MeasureInfo { name: m.name.clone(), aggregation: m.aggregation.as_str().to_string() })
                .collect(),
            derived: def
                .derived
                .iter()
                .map(|d| DerivedInfo { name: d.name.clone(), expression: d.expression.clone() })
                .collect(),
        }
    }
}

/// The metric catalog: every metric with its dimensions and measures.
#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    operation_id = "listMetrics",
    tag = "metrics",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    responses(
        (status = 200, description = "The catalog", body = MetricCatalog),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<MetricCatalog>, ApiError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    Ok(Json(MetricCatalog { metrics: state.engine().metrics().map(MetricInfo::from).collect() }))
}

/// One metric's values.
///
/// Grouped by any of its dimensions and a time grain, filtered by dimension values and time,
/// in JSON, CSV, Arrow or Parquet. Answers are cached until a sync commits.
///
/// Besides the parameters below, each dimension of the metric is a filter parameter:
/// `segment=smb` keeps that value, `segment=smb,enterprise` any of them. An unknown
/// parameter is a 400 that names it.
#[utoipa::path(
    get,
    path = "/api/v1/metrics/{name}",
    operation_id = "getMetric",
    tag = "metrics",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    params(
        ("name" = String, Path, description = "Metric name, from `GET /api/v1/metrics`", example = "nps"),
        ("group_by" = Option<String>, Query, description = "Dimensions to group by, comma-separated", example = "segment,country"),
        ("grain" = Option<String>, Query, description = "Time grain: day, week, month, quarter or year (adds a `period` column)", example = "month"),
        ("from" = Option<String>, Query, description = "Earliest time, inclusive: YYYY-MM-DD or RFC 3339", example = "2025-01-01"),
        ("to" = Option<String>, Query, description = "Latest time: a date is inclusive (the whole day), a timestamp exclusive", example = "2025-12-31"),
        ("order_by" = Option<String>, Query, description = "Columns to sort by, comma-separated; `-nps` or `nps desc` for largest first", example = "-nps"),
        ("limit" = Option<usize>, Query, description = "Rows at most"),
        ("offset" = Option<usize>, Query, description = "Rows to skip"),
        ("format" = Option<String>, Query, description = "json (default), csv, arrow or parquet; or use the Accept header"),
    ),
    responses(
        (status = 200, description = "The metric's rows. JSON: `{columns: [{name, type}], rows: [[...]], row_count}`",
            content(
                (serde_json::Value = "application/json", example = json!({"columns": [{"name": "segment", "type": "Utf8"}, {"name": "responses", "type": "Int64"}, {"name": "nps", "type": "Float64"}], "rows": [["enterprise", 412, 31.5], ["smb", 1290, 12.2]], "row_count": 2})),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.arrow.stream"),
                (Vec<u8> = "application/vnd.apache.parquet"),
            )),
        (status = 400, description = "Unknown parameter, dimension or grain; a filter on a measure; a malformed date", body = ErrorBody),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
        (status = 404, description = "No such metric", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    let params = Params::parse(uri.query())?;
    let format = Format::negotiate(params.get("format"), headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))?;
    let engine = state.engine();
    let def = engine.metric_def(&name).map_err(engine_error)?;
    let request = metric_request(def, &params)?;

    let version = state.lake_version().await?;
    let key = format!("{name}?{}#{}", params.canonical(), format.name());
    let bytes = match state.cache.get(&version, &key) {
        Some(bytes) => {
            state.telemetry.record_cache(true);
            bytes
        }
        None => {
            state.telemetry.record_cache(false);
            let frame = engine.metric(&name, &request).await.map_err(engine_error)?;
            let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await.map_err(|e| engine_error(e.into()))?;
            let bytes = format::encode(format, &schema, &batches)?;
            state.cache.put(&version, key, bytes.clone());
            bytes
        }
    };
    Ok(format::response(format, axum::body::Body::from(bytes)).into_response())
}

/// Builds the engine request, refusing parameters the metric does not know.
fn metric_request(def: &MetricDef, params: &Params) -> Result<MetricRequest, ApiError> {
    let unknown: Vec<&str> =
        params.names().filter(|n| !STANDARD.contains(n) && !def.dimensions.iter().any(|d| d == n)).collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(
            "unknown_parameter",
            format!(
                "unknown parameter(s) {} for metric `{}`; parameters: {}, and one filter per dimension: {}",
                unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                def.name,
                STANDARD.join(", "),
                def.dimensions.join(", ")
            ),
        ));
    }
    let grain = match params.get("grain") {
        None | Some("") => None,
        Some(text) => Some(Grain::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("invalid `grain` value `{text}`; grains: {}", Grain::NAMES.join(", ")),
            )
        })?),
    };
    Ok(MetricRequest {
        group_by: params.list("group_by"),
        grain,
        from: params.get("from").map(str::to_string),
        to: params.get("to").map(str::to_string),
        filters: def
            .dimensions
            .iter()
            .filter_map(|d| params.get(d).map(|v| (d.clone(), v.split(',').map(|s| s.trim().to_string()).collect())))
            .collect(),
        order_by: params.list("order_by").iter().map(|o| OrderBy::parse(o)).collect(),
        limit: params.number("limit")?,
        offset: params.number("offset")?.unwrap_or(0),
    })
}
