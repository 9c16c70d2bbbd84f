//! `GET /api/v1/session`: who the caller is. The console asks it once a key is entered, to
//! know whether the key is valid and which controls to show (only an admin gets "Sync now").

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The caller of a request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"mode": "keys", "key_name": "powerbi", "role": "viewer"}))]
pub struct Session {
    /// `keys` when the server checks API keys; `local` when none are configured (every caller
    /// is an admin and the server listens on loopback only).
    pub mode: String,
    /// The name of the key presented (`[[auth.keys]] name`); absent in local mode.
    pub key_name: Option<String>,
    /// The key's role: `viewer`, `analyst` or `admin`.
    #[schema(value_type = String, example = "viewer")]
    pub role: Role,
}

/// The caller: whether a key is needed, and the presented key's name and role.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    operation_id = "getSession",
    tag = "session",
    security(("api_key" = []), ("bearer" = []), ("basic" = []), ("api_key_query" = [])),
    responses(
        (status = 200, description = "The key is valid", body = Session),
        (status = 401, description = "No or unknown API key", body = ErrorBody),
    )
)]
pub async fn show(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Result<Json<Session>, ApiError> {
    let local = state.keys.is_empty();
    let principal = state.authorize(&headers, uri.query(), Role::Viewer)?;
    Ok(Json(Session {
        mode: if local { "local" } else { "keys" }.into(),
        key_name: (!local).then_some(principal.name),
        role: principal.role,
    }))
}
