//! `POST /api/v1/query`: read-only SQL for analysts, bounded in rows and time.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt as _;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Params, engine_error};
use crate::auth::Role;
use crate::error::{ApiError, ErrorBody};
use crate::format::{self, Format};
use crate::sql_guard;
use crate::state::AppState;

/// The body of a query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sql": "SELECT segment, count(*) AS customers FROM tx.customers GROUP BY segment"}))]
pub struct QueryBody {
    /// One SELECT, WITH or EXPLAIN statement over `<connection>.<stream>`, `tx.*` and `metrics.*`.
    pub sql: String,
}

/// Runs a read-only SQL query.
///
/// One statement. DDL, DML, COPY, SET and functions that read files are refused; at most
/// `[server] query_row_limit` rows come back (the result says so when it was cut), and a query
/// running past `[server] request_timeout_secs` is stopped.
#[utoipa::path(
    post,
    path = "/api/v1/query",
    operation_id = "runQuery",
    tag = "query",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    params(("format" = Option<String>, Query, description = "json (default), csv, arrow or parquet; or use the Accept header")),
    request_body(content = QueryBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The rows, streamed. `X-Txlake-Row-Limit` gives the row cap",
            content(
                (serde_json::Value = "application/json", example = json!({"columns": [{"name": "segment", "type": "Utf8"}, {"name": "customers", "type": "Int64"}], "rows": [["smb", 3120], ["enterprise", 410]], "row_count": 2})),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.arrow.stream"),
                (Vec<u8> = "application/vnd.apache.parquet"),
            )),
        (status = 400, description = "Not read-only, a syntax error, an unknown table or column, a failing expression", body = ErrorBody),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is not analyst or admin", body = ErrorBody),
        (status = 408, description = "The query ran past the time limit", body = ErrorBody),
        (status = 413, description = "The body is over `[server] body_limit_bytes`", body = ErrorBody),
    )
)]
pub async fn run(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.authorize(&headers, uri.query(), Role::Analyst)?;
    let params = Params::parse(uri.query())?;
    if let Some(name) = params.names().find(|n| *n != "format") {
        return Err(ApiError::bad_request(
            "unknown_parameter",
            format!("unknown parameter `{name}`; this endpoint takes `format`"),
        ));
    }
    let format = Format::negotiate(params.get("format"), headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))?;
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "invalid_body" };
        ApiError::new(status, code, format!("{rejection} ([server] body_limit_bytes bounds request bodies)"))
    })?;
    let body: QueryBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_body", format!("the body must be JSON {{\"sql\": \"SELECT …\"}}: {e}"))
    })?;
    sql_guard::check(&body.sql)?;

    let limit = state.config.server.query_row_limit;
    let timeout = Duration::from_secs(state.config.server.request_timeout_secs);
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "query_timeout",
            format!(
                "the query ran longer than {} s ([server] request_timeout_secs); narrow it or aggregate more",
                timeout.as_secs()
            ),
        )
    };
    let engine = state.engine();
    let frame =
        tokio::time::timeout_at(deadline, engine.context().sql_with_options(&body.sql, sql_guard::sql_options()))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| engine_error(e.into()))?;
    let frame = frame.limit(0, Some(limit)).map_err(|e| engine_error(e.into()))?;
    let stream = frame.execute_stream().await.map_err(|e| engine_error(e.into()))?;

    // The first batch decides the status: most failures (a bad cast, a missing file) show up
    // there, and a client deserves a 4xx for them rather than a cut-off 200.
    let schema = stream.schema();
    let mut stream = stream;
    let first = match tokio::time::timeout_at(deadline, stream.next()).await {
        Err(_) => return Err(timed_out()),
        Ok(Some(Err(e))) => return Err(engine_error(e.into())),
        Ok(first) => first,
    };
    let seconds = timeout.as_secs();
    let rest = futures::stream::unfold(Some(stream), move |stream| async move {
        let mut stream = stream?;
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(next) => next.map(|item| (item, Some(stream))),
            Err(_) => Some((
                Err(DataFusionError::Execution(format!("the query ran longer than {seconds} s and was stopped"))),
                None,
            )),
        }
    });
    let all = futures::stream::iter(first).chain(rest);
    let stream: SendableRecordBatchStream = Box::pin(RecordBatchStreamAdapter::new(schema, all));
    let mut response = format::response(format, format::stream_body(format, stream));
    response.headers_mut().insert("x-txlake-row-limit", limit.into());
    Ok(response)
}
