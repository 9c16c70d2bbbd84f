//! `GET /api/v1/tables` (the raw tables and canonical views) and
//! `GET /api/v1/tables/{schema}.{name}` (a table's columns and rows, streamed).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use datafusion::common::{Column, TableReference};
use datafusion::prelude::{Expr, cast, lit};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Params, engine_error};
use crate::auth::Role;
use crate::error::{ApiError, ErrorBody};
use crate::format::{self, Format};
use crate::state::AppState;

/// Parameters a table read takes; any other parameter is a column filter.
const STANDARD: [&str; 4] = ["columns", "limit", "offset", "format"];
/// Rows a table read returns when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;

/// A table or view.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "tx.customers", "schema": "tx", "table": "customers", "kind": "view"}))]
pub struct TableInfo {
    /// `<schema>.<table>`, as in the URL and in SQL.
    pub name: String,
    /// A connection (raw tables) or `tx` (the canonical model).
    pub schema: String,
    /// The table.
    pub table: String,
    /// `raw` (a synced stream) or `view` (the canonical model and its helper views).
    pub kind: String,
}

/// The tables and views.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableList {
    /// Raw tables, then views.
    pub tables: Vec<TableInfo>,
}

/// The raw tables (one per synced stream) and the canonical `tx` views.
#[utoipa::path(
    get,
    path = "/api/v1/tables",
    operation_id = "listTables",
    tag = "tables",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    responses(
        (status = 200, description = "Tables and views", body = TableList),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<TableList>, ApiError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    let engine = state.engine();
    let raw = engine.raw_tables().iter().map(|id| TableInfo {
        name: id.to_string(),
        schema: id.connection.clone(),
        table: id.stream.clone(),
        kind: "raw".into(),
    });
    let views = engine.views().iter().map(|view| TableInfo {
        name: format!("tx.{view}"),
        schema: "tx".into(),
        table: view.clone(),
        kind: "view".into(),
    });
    Ok(Json(TableList { tables: raw.chain(views).collect() }))
}

/// A table's rows.
///
/// With its columns (the JSON `columns` carry the types; `limit=0` gives the columns alone).
/// Any parameter other than those below filters a column: `country=DE` keeps rows whose
/// `country` is `DE`, `country=DE,FR` either.
#[utoipa::path(
    get,
    path = "/api/v1/tables/{table}",
    operation_id = "getTableRows",
    tag = "tables",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    params(
        ("table" = String, Path, description = "`<schema>.<table>` from `GET /api/v1/tables`", example = "tx.customers"),
        ("columns" = Option<String>, Query, description = "Columns to return, comma-separated (default: all)", example = "customer_key,segment"),
        ("limit" = Option<usize>, Query, description = "Rows at most (default 100; at most `[server] query_row_limit`)"),
        ("offset" = Option<usize>, Query, description = "Rows to skip"),
        ("format" = Option<String>, Query, description = "json (default), csv, arrow or parquet; or use the Accept header"),
    ),
    responses(
        (status = 200, description = "Rows, streamed",
            content(
                (serde_json::Value = "application/json", example = json!({"columns": [{"name": "customer_key", "type": "Utf8"}, {"name": "segment", "type": "Utf8"}], "rows": [["demo:1", "smb"]], "row_count": 1})),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.arrow.stream"),
                (Vec<u8> = "application/vnd.apache.parquet"),
            )),
        (status = 400, description = "Unknown column or parameter, a limit over the maximum", body = ErrorBody),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
        (status = 404, description = "No such table", body = ErrorBody),
    )
)]
pub async fn rows(
    State(state): State<Arc<AppState>>,
    Path(table): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    let params = Params::parse(uri.query())?;
    let format = Format::negotiate(params.get("format"), headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))?;
    let engine = state.engine();
    let known =
        engine.raw_tables().iter().map(|id| id.to_string()).chain(engine.views().iter().map(|v| format!("tx.{v}")));
    let known: Vec<String> = known.collect();
    if !known.contains(&table) {
        return Err(ApiError::not_found("unknown_table", format!("no table `{table}`; tables: {}", known.join(", "))));
    }
    let Some((schema, name)) = table.split_once('.') else {
        return Err(ApiError::not_found("unknown_table", format!("no table `{table}`")));
    };
    let frame =
        engine.context().table(TableReference::partial(schema, name)).await.map_err(|e| engine_error(e.into()))?;
    let columns: Vec<String> = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
    let unknown_column = |column: &str| {
        ApiError::bad_request(
            "unknown_column",
            format!("table `{table}` has no column `{column}`; columns: {}", columns.join(", ")),
        )
    };

    let mut filter: Option<Expr> = None;
    for name in params.names().filter(|n| !STANDARD.contains(n)) {
        if !columns.iter().any(|c| c == name) {
            return Err(unknown_column(name));
        }
        let values = params.list(name);
        // Compared as text, so a filter works the same on any column type.
        let column = cast(Expr::Column(Column::from_name(name)), arrow::datatypes::DataType::Utf8);
        let condition = column.in_list(values.into_iter().map(lit).collect(), false);
        filter = Some(match filter {
            Some(f) => f.and(condition),
            None => condition,
        });
    }
    let mut frame = frame;
    if let Some(filter) = filter {
        frame = frame.filter(filter).map_err(|e| engine_error(e.into()))?;
    }
    let selected = params.list("columns");
    if let Some(column) = selected.iter().find(|c| !columns.contains(c)) {
        return Err(unknown_column(column));
    }
    if !selected.is_empty() {
        let selected: Vec<&str> = selected.iter().map(String::as_str).collect();
        frame = frame.select_columns(&selected).map_err(|e| engine_error(e.into()))?;
    }
    let max = state.config.server.query_row_limit;
    let limit = params.number("limit")?.unwrap_or(DEFAULT_LIMIT.min(max));
    if limit > max {
        return Err(ApiError::bad_request(
            "limit_too_large",
            format!("`limit` {limit} is over the maximum of {max} rows ([server] query_row_limit); page with `offset`"),
        ));
    }
    let frame = frame.limit(params.number("offset")?.unwrap_or(0), Some(limit)).map_err(|e| engine_error(e.into()))?;
    let stream = frame.execute_stream().await.map_err(|e| engine_error(e.into()))?;
    Ok(format::response(format, format::stream_body(format, stream)))
}
