//! The OpenAPI document of the service, generated from the handlers' annotations. It is
//! served at `/openapi.json`, printed by `txlake openapi`, and committed as
//! `openapi/openapi.json`; a test fails when the committed file and the code differ.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::api;
use crate::error::{ErrorBody, ErrorDetail};
use crate::syncs::SyncRun;

/// The service's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "txlake API",
        description = "Total Experience (CX + EX) metrics, canonical tables and read-only SQL over the txlake Delta lake.\n\nAuthenticate with an API key (`txlake keys create`) sent as `Authorization: Bearer <key>`, `X-API-Key: <key>`, the password of HTTP Basic (any user name), or the `api_key` query parameter. Roles: viewer (metrics, tables, connections, runs), analyst (+ SQL), admin (+ starting syncs). Every error is `{\"error\": {\"code\", \"message\"}}`.\n\nData endpoints answer in JSON (`{columns: [{name, type}], rows: [[...]], row_count}`), CSV, Arrow IPC stream or Parquet, chosen by `?format=` or the `Accept` header.",
        license(name = "Apache-2.0")
    ),
    paths(
        api::metrics::list,
        api::metrics::show,
        api::tables::list,
        api::tables::rows,
        api::query::run,
        api::session::show,
        api::syncs::connections,
        api::syncs::start,
        api::syncs::list,
        api::syncs::show,
        api::health::healthz,
        api::health::readyz,
        api::health::prometheus,
    ),
    components(schemas(ErrorBody, ErrorDetail, SyncRun)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "metrics", description = "The metric catalog and metric results"),
        (name = "tables", description = "Raw tables and canonical views"),
        (name = "query", description = "Read-only SQL (analyst role)"),
        (name = "session", description = "Who the caller is (the key's name and role)"),
        (name = "syncs", description = "Connections and sync runs"),
        (name = "operations", description = "Health, readiness and Prometheus metrics (no key needed)"),
    )
)]
pub struct ApiDoc;

/// The four ways to send an API key.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components
            .add_security_scheme("api_key_query", SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("api_key"))));
    }
}

/// The document as pretty JSON, as committed in `openapi/openapi.json`.
pub fn json() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// `openapi/openapi.json` is what the code serves. After changing an endpoint, run
    /// `cargo run -- openapi > openapi/openapi.json` (or set TXLAKE_UPDATE_OPENAPI=1 here).
    #[test]
    fn the_committed_openapi_document_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json");
        let generated = super::json();
        if std::env::var_os("TXLAKE_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi/openapi.json differs from the API the code serves; regenerate it with \
             `cargo run -- openapi > openapi/openapi.json` (or TXLAKE_UPDATE_OPENAPI=1 cargo test -p txlake-server openapi)"
        );
    }

    #[test]
    fn every_endpoint_is_documented_with_its_errors() {
        let doc: serde_json::Value = serde_json::from_str(&super::json()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/metrics",
            "/api/v1/metrics/{name}",
            "/api/v1/tables",
            "/api/v1/tables/{table}",
            "/api/v1/query",
            "/api/v1/connections",
            "/api/v1/connections/{name}/sync",
            "/api/v1/syncs",
            "/api/v1/syncs/{id}",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(paths.contains_key(path), "{path} is missing from the OpenAPI document");
        }
        let show = &doc["paths"]["/api/v1/metrics/{name}"]["get"];
        for status in ["200", "400", "401", "404"] {
            assert!(show["responses"][status].is_object(), "metrics/{{name}} lacks {status}");
        }
        assert!(doc["components"]["securitySchemes"]["api_key_query"].is_object());
    }
}
