//! The OData v4 feed under `/odata`, for Power BI's "OData feed" connector, Excel and other
//! BI tools: a service document, `$metadata` (CSDL), and entity set reads that fold
//! `$select`, `$filter`, `$orderby`, `$top`, `$skip` and `$count` into DataFusion plans, with
//! server-driven paging through `@odata.nextLink`. Same keys and roles as the REST API.
//!
//! - [`model`]: the entity sets, from the canonical views and the metric catalog;
//! - [`csdl`]: the `$metadata` document;
//! - [`options`] and [`filter`]: the query options and the `$filter` expression language;
//! - [`apply`]: `$apply` (groupby, aggregate) on metric sets, through the semantic layer;
//! - [`paging`]: skip tokens and open cursors;
//! - [`read`]: an entity set read, page by page, encoded as OData JSON;
//! - [`error`]: the OData error format.

pub mod apply;
pub mod csdl;
pub mod error;
pub mod filter;
pub mod model;
pub mod options;
pub mod paging;
pub mod read;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use txlake_engine::Engine;

use crate::auth::Role;
use crate::state::AppState;
use error::ODataError;
use model::Model;

/// The media type of every JSON answer.
pub const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false";

/// What the feed keeps between requests.
#[derive(Debug, Default)]
pub struct Feed {
    /// The model of the engine it was built from.
    model: Mutex<Option<(Arc<Engine>, Arc<Model>)>>,
    /// Reads in progress.
    pub cursors: paging::Cursors,
}

impl Feed {
    /// The model of `engine`, built on first use and after the engine reloads.
    pub async fn model(&self, engine: &Arc<Engine>) -> Result<Arc<Model>, ODataError> {
        if let Some((built_for, model)) = self.model.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && Arc::ptr_eq(built_for, engine)
        {
            return Ok(model.clone());
        }
        let model = Model::build(engine).await?;
        *self.model.lock().unwrap_or_else(|p| p.into_inner()) = Some((engine.clone(), model.clone()));
        Ok(model)
    }
}

/// Why `[server] odata_page_size` cannot be used, if it cannot.
pub fn check_page_size(size: usize) -> Result<(), String> {
    if (1..=read::MAX_PAGE).contains(&size) {
        return Ok(());
    }
    Err(format!("`odata_page_size = {size}` must be between 1 and {} rows", read::MAX_PAGE))
}

/// The feed's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/odata", get(service_document))
        .route("/odata/", get(service_document))
        .route("/odata/$metadata", get(metadata))
        .route("/odata/{set}", get(entity_set))
        .route("/odata/{set}/$count", get(count))
}

/// The feed's root URL as the client reached it (behind a proxy, from its forwarded headers).
pub fn root_url(headers: &HeaderMap) -> String {
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or(v).trim());
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or("localhost");
    format!("{scheme}://{host}/odata")
}

/// A response with the OData headers.
pub fn with_headers(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("OData-Version", HeaderValue::from_static("4.0"));
    response
}

async fn service_document(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ODataError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    let model = state.feed.model(&state.engine()).await?;
    let root = root_url(&headers);
    let sets: Vec<_> =
        model.sets.iter().map(|s| json!({ "name": s.name, "kind": "EntitySet", "url": s.name })).collect();
    let body = json!({ "@odata.context": format!("{root}/$metadata"), "value": sets });
    Ok(with_headers(axum::Json(body).into_response(), JSON))
}

async fn metadata(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Result<Response, ODataError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    let model = state.feed.model(&state.engine()).await?;
    Ok(with_headers(csdl::metadata(&model).into_response(), "application/xml"))
}

async fn entity_set(
    State(state): State<Arc<AppState>>,
    Path(set): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ODataError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    read::page(&state, &set, &headers, uri.query()).await
}

async fn count(
    State(state): State<Arc<AppState>>,
    Path(set): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ODataError> {
    state.authorize(&headers, uri.query(), Role::Viewer)?;
    let rows = read::count(&state, &set, uri.query()).await?;
    Ok(with_headers(rows.to_string().into_response(), "text/plain"))
}
