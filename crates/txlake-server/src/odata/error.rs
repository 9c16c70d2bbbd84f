//! The feed's errors, in the OData JSON error format
//! (`{"error": {"code", "message", "target"}}`, OData JSON Format §21) with the
//! `OData-Version` header. A client's mistake is a 4xx naming the option (and the position in
//! it); an option the feed does not implement is a 501 naming it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

/// An error answered by the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// The query option or path segment at fault (`$filter`), if one.
    pub target: Option<String>,
}

impl ODataError {
    /// 400: a malformed or wrong query option.
    pub fn bad_option(target: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_option",
            message: message.into(),
            target: Some(target.into()),
        }
    }

    /// 501: a query option (or a part of one) the feed does not implement.
    pub fn not_implemented(target: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_IMPLEMENTED,
            code: "not_implemented",
            message: message.into(),
            target: Some(target.into()),
        }
    }
}

impl From<ApiError> for ODataError {
    fn from(error: ApiError) -> Self {
        Self { status: error.status, code: error.code, message: error.message, target: None }
    }
}

impl std::fmt::Display for ODataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ODataError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(target) = &self.target {
            error["target"] = json!(target);
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        let headers = response.headers_mut();
        headers.insert("OData-Version", HeaderValue::from_static("4.0"));
        if self.status == StatusCode::UNAUTHORIZED {
            // Power BI and Excel offer their credential dialog on this challenge.
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="txlake""#));
        }
        response
    }
}
