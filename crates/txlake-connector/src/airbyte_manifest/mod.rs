//! Airbyte low-code manifests (`declarative_component_schema.yaml` format, `type:
//! DeclarativeSource`) run on our declarative engine: the manifest is loaded the way
//! Airbyte's CDK loads it (`$ref` / `#/…` references resolved, component types inferred from
//! the parent field, `$parameters` propagated from parent to children), every component is
//! checked against the supported table ([`components::SUPPORTED`]), and the tree is
//! translated into our native manifest (`connectors/MANIFEST.md`) as a JSON value, which the
//! ordinary [`Manifest::parse`](crate::declarative::manifest::Manifest::parse) path then
//! reads. Anything outside the supported set is refused at load, naming its path in the
//! manifest (`streams[2].retriever.paginator.pagination_strategy`) and its type, with the
//! advice to run the source as an Airbyte process instead: never a silent partial run.
//!
//! - [`components`]: the supported / refused component table;
//! - `translate`: the walk from the Airbyte tree to the native manifest;
//! - `spec`: `spec.connection_specification` → the native `spec`.
//!
//! `connectors/AIRBYTE.md` is the user's reference.

pub mod components;
#[cfg(test)]
mod end_to_end;
mod spec;
mod translate;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::declarative::DeclarativeConnector;
use crate::error::ConnectorError;

pub use translate::Translated;

/// The connector-string scheme of Airbyte manifests: `airbyte-manifest:<path or URL>`.
pub const SCHEME: &str = "airbyte-manifest";

/// `$parameters`, the key Airbyte propagates from a component to its children.
const PARAMETERS: &str = "$parameters";

/// Whether a manifest's text is an Airbyte manifest (its top level says `type:
/// DeclarativeSource`) rather than one of ours.
pub fn is_airbyte_manifest(text: &str) -> bool {
    // Only the top-level key counts: our manifests never have a top-level `type`, while
    // their streams' paginators and auth blocks do (indented).
    text.lines().any(|line| {
        let Some(rest) = line.strip_prefix("type:") else { return false };
        rest.trim().trim_matches(|c| c == '"' || c == '\'') == "DeclarativeSource"
    })
}

/// The connector name of a manifest file: its folder's name without a `source_` /
/// `source-` prefix (`…/source_typeform/manifest.yaml` → `typeform`), lower-cased with
/// anything outside `[a-z0-9_-]` replaced by `_`.
pub fn name_from_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let folder = Path::new(trimmed)
        .parent()
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut name = folder.to_ascii_lowercase();
    for prefix in ["airbyte_source_", "airbyte-source-", "source_", "source-"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
            break;
        }
    }
    // A folder named after a pinned package (`airbyte-source-copper-0.3.16`) drops the version.
    if let Some((stem, version)) = name.rsplit_once('-')
        && !stem.is_empty()
        && version.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
    {
        name = stem.to_string();
    }
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if name.is_empty() { String::from("airbyte_manifest") } else { name }
}

/// Translates an Airbyte manifest into the native manifest (a JSON value in the shape of
/// `connectors/MANIFEST.md`). `origin` is named in errors, `name` becomes the connector's
/// name, `dir` is the manifest's folder (where `JsonFileSchemaLoader` files are looked for;
/// none for a manifest fetched from a URL).
pub fn translate(origin: &str, name: &str, text: &str, dir: Option<&Path>) -> Result<Translated, ConnectorError> {
    let manifest = load(origin, text)?;
    translate::translate(origin, name, &manifest, dir)
}

/// Translates an Airbyte manifest and builds the connector that runs it.
pub fn connector(
    origin: &str,
    name: &str,
    text: &str,
    dir: Option<&Path>,
) -> Result<DeclarativeConnector, ConnectorError> {
    translate(origin, name, text, dir)?.connector(origin)
}

/// Reads an Airbyte manifest from a file and builds its connector, named `name` or, when
/// `None`, after its folder ([`name_from_path`]).
pub fn connector_from_file(path: &Path, name: Option<&str>) -> Result<DeclarativeConnector, ConnectorError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConnectorError::Manifest { origin: origin.clone(), message: format!("cannot read it: {e}") })?;
    let name = name.map(str::to_string).unwrap_or_else(|| name_from_path(&origin));
    let dir: Option<PathBuf> = path.parent().map(Path::to_path_buf);
    connector(&origin, &name, &text, dir.as_deref())
}

/// Makes the connectors of `airbyte-manifest:<path or https URL>`: a path (relative to the
/// current directory) is read at every resolve, so an edited manifest is picked up; a URL is
/// fetched once per process and kept.
#[derive(Default)]
pub struct ManifestResolver {
    fetched: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<DeclarativeConnector>>>,
}

impl std::fmt::Debug for ManifestResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManifestResolver")
    }
}

impl ManifestResolver {
    async fn fetch(url: &str) -> Result<String, ConnectorError> {
        let fail = |message: String| ConnectorError::Manifest { origin: url.to_string(), message };
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| fail(format!("cannot make an HTTP client: {e}")))?;
        let response = client.get(url).send().await.map_err(|e| fail(format!("cannot fetch it: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!("fetching it answered {status}")));
        }
        response.text().await.map_err(|e| fail(format!("cannot read it: {e}")))
    }
}

#[async_trait::async_trait]
impl crate::registry::SchemeResolver for ManifestResolver {
    async fn resolve(&self, target: &str) -> Result<std::sync::Arc<dyn crate::Connector>, ConnectorError> {
        let target = target.trim();
        if target.is_empty() {
            return Err(ConnectorError::Manifest {
                origin: format!("{SCHEME}:"),
                message: format!("name the manifest: `{SCHEME}:<path or https URL to manifest.yaml>`"),
            });
        }
        if target.starts_with("https://") || target.starts_with("http://") {
            let cached = self.fetched.lock().ok().and_then(|cache| cache.get(target).cloned());
            let connector = match cached {
                Some(connector) => connector,
                None => {
                    let text = Self::fetch(target).await?;
                    let name = name_from_path(
                        url::Url::parse(target).map(|u| u.path().to_string()).as_deref().unwrap_or(target),
                    );
                    let connector = std::sync::Arc::new(connector(target, &name, &text, None)?);
                    if let Ok(mut cache) = self.fetched.lock() {
                        cache.insert(target.to_string(), connector.clone());
                    }
                    connector
                }
            };
            return Ok(connector);
        }
        let path = std::path::absolute(target).unwrap_or_else(|_| PathBuf::from(target));
        Ok(std::sync::Arc::new(connector_from_file(&path, None)?))
    }

    fn description(&self) -> &str {
        "an Airbyte low-code manifest (path or URL), run by txlake's engine (connectors/AIRBYTE.md)"
    }
}

/// Parses the YAML and resolves it as the CDK does before building components: references
/// first, then types and `$parameters`.
pub fn load(origin: &str, text: &str) -> Result<Value, ConnectorError> {
    let fail = |message: String| ConnectorError::Manifest { origin: origin.to_string(), message };
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| fail(format!("not YAML: {e}")))?;
    yaml.apply_merge().map_err(|e| fail(format!("YAML merge keys: {e}")))?;
    let mut manifest: Value =
        serde_json::to_value(&yaml).map_err(|e| fail(format!("not a JSON-like document: {e}")))?;
    let Some(top) = manifest.as_object_mut() else {
        return Err(fail("expected a mapping at the top level (`version`, `streams`, …)".into()));
    };
    top.entry("type").or_insert_with(|| Value::String("DeclarativeSource".into()));
    let resolved = resolve_references(&manifest).map_err(fail)?;
    Ok(propagate("", &resolved, &Map::new(), false))
}

/// Resolves `$ref: "#/a/b"` (the referenced mapping, overridden by the keys beside `$ref`)
/// and string references `"#/a/b"` everywhere, as Airbyte's `ManifestReferenceResolver`
/// does: a path segment is first tried as a whole key (`nested/path`), then split at `/`,
/// numbers index lists. A reference cycle or a missing target is an error naming it.
pub fn resolve_references(manifest: &Value) -> Result<Value, String> {
    let mut visiting = Vec::new();
    evaluate(manifest, manifest, &mut visiting)
}

fn evaluate(node: &Value, root: &Value, visiting: &mut Vec<String>) -> Result<Value, String> {
    match node {
        Value::Object(map) => {
            let mut evaluated = Map::new();
            for (key, value) in map {
                if key == "$ref" {
                    continue;
                }
                // Config overrides hold the user's values, never references.
                let value = if key == "config_overrides" { value.clone() } else { evaluate(value, root, visiting)? };
                evaluated.insert(key.clone(), value);
            }
            match map.get("$ref") {
                Some(reference) => match evaluate(reference, root, visiting)? {
                    Value::Object(mut base) => {
                        // The keys written beside `$ref` win over the referenced ones.
                        base.extend(evaluated);
                        Ok(Value::Object(base))
                    }
                    other => Ok(other),
                },
                None => Ok(Value::Object(evaluated)),
            }
        }
        Value::Array(items) => {
            items.iter().map(|v| evaluate(v, root, visiting)).collect::<Result<_, _>>().map(Value::Array)
        }
        Value::String(text) if text.starts_with("#/") => {
            if visiting.contains(text) {
                return Err(format!("circular reference `{text}` (through {})", visiting.join(" → ")));
            }
            let target = lookup(&text[2..], root)
                .ok_or_else(|| format!("reference `{text}` points at nothing in the manifest"))?;
            visiting.push(text.clone());
            let result = evaluate(target, root, visiting);
            visiting.pop();
            result
        }
        other => Ok(other.clone()),
    }
}

/// Airbyte's `_read_ref_value`: the whole remaining path as a key first, else its first
/// segment (a number indexes a list), and on.
fn lookup<'a>(path: &str, mut node: &'a Value) -> Option<&'a Value> {
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(found) = node.as_object().and_then(|m| m.get(rest)) {
            return Some(found);
        }
        let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
        node = match node {
            Value::Object(map) => map.get(head)?,
            Value::Array(items) => items.get(head.parse::<usize>().ok()?)?,
            _ => return None,
        };
        rest = tail;
    }
    Some(node)
}

/// Component types Airbyte infers from the parent's type and field when a component has
/// none (`DEFAULT_MODEL_TYPES` of the CDK's `manifest_component_transformer.py`).
const DEFAULT_MODEL_TYPES: &[(&str, &str)] = &[
    ("CompositeErrorHandler.error_handlers", "DefaultErrorHandler"),
    ("CursorPagination.decoder", "JsonDecoder"),
    ("DatetimeBasedCursor.end_datetime", "MinMaxDatetime"),
    ("DatetimeBasedCursor.end_time_option", "RequestOption"),
    ("DatetimeBasedCursor.start_datetime", "MinMaxDatetime"),
    ("DatetimeBasedCursor.start_time_option", "RequestOption"),
    ("DeclarativeSource.check", "CheckStream"),
    ("DeclarativeSource.spec", "Spec"),
    ("DeclarativeSource.streams", "DeclarativeStream"),
    ("DeclarativeStream.retriever", "SimpleRetriever"),
    ("DeclarativeStream.schema_loader", "JsonFileSchemaLoader"),
    ("DynamicDeclarativeStream.stream_template", "DeclarativeStream"),
    ("DynamicDeclarativeStream.components_resolver", "ConfigComponentResolver"),
    ("HttpComponentsResolver.retriever", "SimpleRetriever"),
    ("HttpComponentsResolver.components_mapping", "ComponentMappingDefinition"),
    ("ConfigComponentsResolver.stream_config", "StreamConfig"),
    ("ConfigComponentsResolver.components_mapping", "ComponentMappingDefinition"),
    ("DefaultErrorHandler.response_filters", "HttpResponseFilter"),
    ("DefaultPaginator.decoder", "JsonDecoder"),
    ("DefaultPaginator.page_size_option", "RequestOption"),
    ("DpathExtractor.decoder", "JsonDecoder"),
    ("DpathExtractor.record_expander", "RecordExpander"),
    ("HttpRequester.error_handler", "DefaultErrorHandler"),
    ("ListPartitionRouter.request_option", "RequestOption"),
    ("ParentStreamConfig.request_option", "RequestOption"),
    ("ParentStreamConfig.stream", "DeclarativeStream"),
    ("RecordExpander.parent_fields", "ParentFieldPath"),
    ("RecordSelector.extractor", "DpathExtractor"),
    ("RecordSelector.record_filter", "RecordFilter"),
    ("SimpleRetriever.paginator", "NoPagination"),
    ("SimpleRetriever.record_selector", "RecordSelector"),
    ("SimpleRetriever.requester", "HttpRequester"),
    ("SubstreamPartitionRouter.parent_stream_configs", "ParentStreamConfig"),
    ("AddFields.fields", "AddedFieldDefinition"),
    ("CustomPartitionRouter.parent_stream_configs", "ParentStreamConfig"),
    ("DynamicSchemaLoader.retriever", "SimpleRetriever"),
    ("SchemaTypeIdentifier.types_map", "TypesMap"),
];

/// The type Airbyte gives a `class_name` component from its place (`CUSTOM_COMPONENTS_MAPPING`).
const CUSTOM_COMPONENT_TYPES: &[(&str, &str)] = &[
    ("CompositeErrorHandler.backoff_strategies", "CustomBackoffStrategy"),
    ("DeclarativeStream.retriever", "CustomRetriever"),
    ("DeclarativeStream.transformations", "CustomTransformation"),
    ("DefaultErrorHandler.backoff_strategies", "CustomBackoffStrategy"),
    ("DefaultPaginator.pagination_strategy", "CustomPaginationStrategy"),
    ("HttpRequester.authenticator", "CustomAuthenticator"),
    ("HttpRequester.error_handler", "CustomErrorHandler"),
    ("RecordSelector.extractor", "CustomRecordExtractor"),
    ("SimpleRetriever.partition_router", "CustomPartitionRouter"),
];

/// Airbyte's `propagate_types_and_parameters`: infers a missing `type` from the parent field
/// (`SimpleRetriever.paginator` → `NoPagination`), merges the parent's `$parameters` with the
/// component's own (its own win, unless `use_parent`), copies every parameter onto the
/// component's fields that are unset or falsy, and recurses into child mappings and lists
/// (withholding the parameter named like the field, as the CDK does). JSON Schema objects
/// (`type: object` or a list of types) are left as they are.
pub fn propagate(
    parent_field: &str,
    component: &Value,
    parent_parameters: &Map<String, Value>,
    use_parent: bool,
) -> Value {
    let Value::Object(original) = component else { return component.clone() };
    let mut component = original.clone();
    if !component.contains_key("type") {
        let table = if component.contains_key("class_name") { CUSTOM_COMPONENT_TYPES } else { DEFAULT_MODEL_TYPES };
        if let Some((_, found)) = table.iter().find(|(field, _)| *field == parent_field) {
            component.insert("type".into(), Value::String((*found).into()));
        }
    }
    let own = match component.remove(PARAMETERS) {
        Some(Value::Object(own)) => own,
        _ => Map::new(),
    };
    let mut parameters = parent_parameters.clone();
    if use_parent {
        let mut merged = own;
        merged.extend(parameters);
        parameters = merged;
    } else {
        parameters.extend(own);
    }
    if is_json_schema_object(&component) {
        return Value::Object(component);
    }
    if !component.contains_key("type") {
        // A plain mapping (request parameters, …) whose values may be components.
        if component.values().any(|v| v.get("type").is_some_and(|t| !t.is_null())) {
            for value in component.values_mut() {
                if value.get("type").is_some_and(|t| !t.is_null()) {
                    *value = propagate(parent_field, value, &parameters, use_parent);
                }
            }
        }
        return Value::Object(component);
    }
    for (key, value) in &parameters {
        // Python's `component.get(key) or value`: a falsy field takes the parameter.
        if !component.get(key).is_some_and(truthy) {
            component.insert(key.clone(), value.clone());
        }
    }
    let kind = component.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let keys: Vec<String> = component.keys().cloned().collect();
    for key in keys {
        let field = format!("{kind}.{key}");
        let excluded = parameters.remove(&key);
        if let Some(value) = component.get_mut(&key) {
            match value {
                Value::Object(_) => *value = propagate(&field, value, &parameters, use_parent),
                Value::Array(items) => {
                    for item in items.iter_mut().filter(|i| i.is_object()) {
                        *item = propagate(&field, item, &parameters, use_parent);
                    }
                }
                _ => {}
            }
        }
        if let Some(excluded) = excluded.filter(truthy) {
            parameters.insert(key, excluded);
        }
    }
    if !parameters.is_empty() {
        component.insert(PARAMETERS.into(), Value::Object(parameters));
    }
    Value::Object(component)
}

fn is_json_schema_object(component: &Map<String, Value>) -> bool {
    match component.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(_) | Value::Object(_)) => true,
        _ => false,
    }
}

/// Python truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_resolve_like_the_cdk() {
        let manifest = json!({
            "definitions": {
                "requester": { "url_base": "https://api.example.com", "http_method": "GET" },
                "nested/path": "whole key",
                "nested": { "path": "split" },
                "list": [ "a", { "b": "#/definitions/requester/url_base" } ],
            },
            "ref": { "$ref": "#/definitions/requester", "http_method": "POST" },
            "string_ref": "#/definitions/requester/url_base",
            "ambiguous": "#/definitions/nested/path",
            "indexed": "#/definitions/list/1/b",
            "config_overrides": { "x": "#/not/a/reference" },
        });
        let resolved = resolve_references(&manifest).unwrap();
        assert_eq!(resolved["ref"], json!({ "url_base": "https://api.example.com", "http_method": "POST" }));
        assert_eq!(resolved["string_ref"], "https://api.example.com");
        assert_eq!(resolved["ambiguous"], "whole key");
        assert_eq!(resolved["indexed"], "https://api.example.com");
        assert_eq!(resolved["config_overrides"]["x"], "#/not/a/reference");
    }

    #[test]
    fn missing_and_circular_references_are_errors() {
        let err = resolve_references(&json!({ "a": "#/nowhere" })).unwrap_err();
        assert!(err.contains("#/nowhere") && err.contains("points at nothing"), "{err}");
        let err = resolve_references(&json!({ "a": "#/b", "b": "#/a" })).unwrap_err();
        assert!(err.contains("circular"), "{err}");
    }

    #[test]
    fn parameters_propagate_and_types_are_inferred() {
        let stream = json!({
            "type": "DeclarativeStream",
            "$parameters": { "name": "users", "path": "/users", "primary_key": "id" },
            "retriever": {
                "requester": { "url_base": "https://x", "$parameters": { "path": "/own" } },
                "record_selector": { "extractor": { "field_path": ["data"] } },
                "paginator": { "type": "DefaultPaginator", "pagination_strategy": { "type": "PageIncrement", "page_size": 10 } },
            },
            "schema_loader": { "type": "InlineSchemaLoader", "schema": { "type": "object", "properties": { "name": { "type": "string" } } } },
        });
        let source = json!({ "streams": [stream] });
        let out =
            propagate("", &json!({ "type": "DeclarativeSource", "streams": source["streams"] }), &Map::new(), false);
        let s = &out["streams"][0];
        assert_eq!(s["name"], "users", "parameters become fields of the component");
        assert_eq!(s["primary_key"], "id");
        assert_eq!(s["retriever"]["type"], "SimpleRetriever");
        assert_eq!(s["retriever"]["requester"]["type"], "HttpRequester");
        assert_eq!(s["retriever"]["requester"]["path"], "/own", "a child's own parameters win");
        assert_eq!(s["retriever"]["requester"]["$parameters"]["name"], "users");
        assert_eq!(s["retriever"]["record_selector"]["extractor"]["type"], "DpathExtractor");
        assert_eq!(s["retriever"]["record_selector"]["extractor"]["name"], "users");
        assert_eq!(s["retriever"]["paginator"]["pagination_strategy"]["name"], "users");
        // A JSON schema is not a component: no parameters copied into it.
        assert!(s["schema_loader"]["schema"].get("name").is_none());
        assert!(s["schema_loader"]["schema"]["properties"]["name"].get("path").is_none());
    }

    #[test]
    fn a_set_field_wins_over_a_parameter_unless_falsy() {
        let out = propagate(
            "DeclarativeSource.streams",
            &json!({ "name": "", "primary_key": "own", "$parameters": { "name": "p", "primary_key": "param" } }),
            &Map::new(),
            false,
        );
        assert_eq!(out["type"], "DeclarativeStream");
        assert_eq!(out["name"], "p");
        assert_eq!(out["primary_key"], "own");
    }

    #[test]
    fn class_names_become_custom_types() {
        let out = propagate("RecordSelector.extractor", &json!({ "class_name": "x.Y" }), &Map::new(), false);
        assert_eq!(out["type"], "CustomRecordExtractor");
    }

    #[test]
    fn airbyte_manifests_are_recognised_and_named() {
        assert!(is_airbyte_manifest("version: 6.1.0\ntype: DeclarativeSource\nstreams: []\n"));
        assert!(is_airbyte_manifest("version: 6.1.0\ntype: \"DeclarativeSource\"\n"));
        assert!(!is_airbyte_manifest("name: x\nstreams:\n  - paginator:\n      type: DeclarativeSource\n"));
        assert_eq!(name_from_path("/tmp/ab/m/source_typeform/manifest.yaml"), "typeform");
        assert_eq!(name_from_path("x/source-zendesk-chat/manifest.yaml"), "zendesk-chat");
        assert_eq!(name_from_path("x/airbyte_source_freshdesk/manifest.yaml"), "freshdesk");
        assert_eq!(name_from_path("manifest.yaml"), "airbyte_manifest");
        assert_eq!(name_from_path("/c/airbyte-source-copper-0.3.16/manifest.yaml"), "copper");
        assert_eq!(name_from_path("/c/source-v2/manifest.yaml"), "v2");
    }
}
