//! The REST API under `/api/v1`, one module per resource, and what they share: query
//! parameters and the mapping of engine errors onto HTTP.

pub mod health;
pub mod metrics;
pub mod query;
pub mod session;
pub mod syncs;
pub mod tables;

use axum::http::StatusCode;
use txlake_engine::EngineError;

use crate::error::ApiError;

/// A request's query parameters, in order, without `api_key` (a credential, not a parameter).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string; a parameter given twice is a 400 (which one would win is not
    /// obvious to a client).
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if name == "api_key" {
                continue;
            }
            if pairs.iter().any(|(n, _)| n == &name) {
                return Err(ApiError::bad_request(
                    "duplicate_parameter",
                    format!(
                        "parameter `{name}` is given twice; give it once (use a comma-separated list for several values)"
                    ),
                ));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A comma-separated parameter as a list (empty items dropped).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// A whole-number parameter (`limit`, `offset`), if given.
    pub fn number(&self, name: &str) -> Result<Option<usize>, ApiError> {
        self.get(name)
            .map(|text| {
                text.parse::<usize>().map_err(|_| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("invalid `{name}` value `{text}`: expected a whole number ≥ 0"),
                    )
                })
            })
            .transpose()
    }

    /// Parameter names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// The parameters sorted, without `format`: two requests asking the same thing get the
    /// same key, whatever their parameter order.
    pub fn canonical(&self) -> String {
        let mut pairs: Vec<&(String, String)> = self.0.iter().filter(|(n, _)| n != "format").collect();
        pairs.sort();
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter().map(|(n, v)| (n, v))).finish()
    }
}

/// An engine error as the client should see it: a bad request names what was wrong; a lake
/// failure is the server's.
pub fn engine_error(error: EngineError) -> ApiError {
    match &error {
        EngineError::UnknownMetric { .. } => ApiError::not_found("unknown_metric", error.to_string()),
        EngineError::UnknownDimension { .. } => ApiError::bad_request("unknown_dimension", error.to_string()),
        EngineError::InvalidParameter { .. } => ApiError::bad_request("invalid_parameter", error.to_string()),
        EngineError::Lake(_) => ApiError::internal(error.to_string()),
        EngineError::Sql(inner) if is_server_side(inner) => ApiError::internal(error.to_string()),
        _ => ApiError::new(StatusCode::BAD_REQUEST, "query_failed", error.to_string()),
    }
}

/// Storage and IO failures are the server's; planning and evaluation errors come from what
/// the client asked.
pub fn is_server_side(error: &datafusion::error::DataFusionError) -> bool {
    use datafusion::error::DataFusionError as E;
    match error {
        E::IoError(_) | E::ObjectStore(_) | E::ResourcesExhausted(_) | E::Internal(_) => true,
        E::Context(_, inner) | E::Diagnostic(_, inner) => is_server_side(inner),
        E::Shared(inner) => is_server_side(inner),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_drop_the_api_key_and_refuse_duplicates() {
        let params = Params::parse(Some("segment=smb%2Cmid&api_key=secret&group_by=segment,%20country")).unwrap();
        assert_eq!(params.get("segment"), Some("smb,mid"));
        assert_eq!(params.get("api_key"), None);
        assert_eq!(params.list("group_by"), ["segment", "country"]);
        let err = Params::parse(Some("a=1&a=2")).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (400, "duplicate_parameter"));
    }

    #[test]
    fn the_canonical_form_ignores_order_and_format() {
        let a = Params::parse(Some("b=2&a=1&format=csv")).unwrap();
        let b = Params::parse(Some("a=1&b=2")).unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), "a=1&b=2");
    }
}
