//! The walk from a resolved Airbyte manifest (references resolved, types inferred,
//! `$parameters` propagated) to the native manifest. Every component met is checked against
//! [`components::SUPPORTED`](super::components::SUPPORTED) and the place it may appear; a
//! refusal names the manifest path, the component type and the `airbyte:` advice.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::components::{self, Support};
use super::spec;
use crate::error::ConnectorError;

/// A translated manifest.
#[derive(Debug, Clone)]
pub struct Translated {
    /// The native manifest (the shape of `connectors/MANIFEST.md`), ready for
    /// [`Manifest::parse`](crate::declarative::manifest::Manifest::parse).
    pub manifest: Value,
    /// What the translation approximated (shown by `txlake connectors translate`).
    pub notes: Vec<String>,
}

impl Translated {
    /// The native manifest as YAML, as `txlake connectors translate` prints it.
    pub fn to_yaml(&self) -> Result<String> {
        serde_yaml::to_string(&self.manifest)
            .map_err(|e| ConnectorError::Internal(format!("cannot write the translated manifest: {e}")))
    }

    /// The connector running the native manifest; `origin` (the Airbyte manifest) is named
    /// in errors.
    pub fn connector(&self, origin: &str) -> Result<crate::declarative::DeclarativeConnector> {
        crate::declarative::DeclarativeConnector::from_manifest(
            &format!("{origin} (translated from Airbyte's format)"),
            &self.to_yaml()?,
        )
    }
}

type Result<T> = std::result::Result<T, ConnectorError>;
type Object = Map<String, Value>;

/// One translated stream with what belongs to the shared native requester.
struct StreamOut {
    stream: Value,
    url_base: Option<String>,
    auth: Option<Value>,
    retry: Retry,
}

/// Retry settings gathered from an error handler.
#[derive(Default, Clone, PartialEq)]
struct Retry {
    max_attempts: Option<u64>,
    backoff: Vec<Value>,
}

struct Walk<'a> {
    origin: &'a str,
    dir: Option<&'a Path>,
    notes: Vec<String>,
    /// Names of the source's own streams (parents found among them are referenced by name).
    names: Vec<String>,
    /// Parents that are not streams of the source: read as hidden streams.
    hidden: Vec<(String, StreamOut)>,
}

/// Translates a resolved manifest ([`super::load`]'s output).
pub fn translate(origin: &str, name: &str, manifest: &Value, dir: Option<&Path>) -> Result<Translated> {
    let mut walk = Walk { origin, dir, notes: Vec::new(), names: Vec::new(), hidden: Vec::new() };
    let (top, _) = walk.component("", manifest, &["DeclarativeSource"])?;
    for key in ["dynamic_streams"] {
        if let Some(value) = top.get(key).filter(|v| super::truthy(v)) {
            let kind = match (key, value.as_array().and_then(|a| a.first())) {
                ("dynamic_streams", Some(first)) => kind_of(first).unwrap_or("DynamicDeclarativeStream").to_string(),
                ("dynamic_streams", None) => "DynamicDeclarativeStream".into(),
                _ => kind_of(value).unwrap_or("HTTPAPIBudget").to_string(),
            };
            return Err(walk.refuse(key, &kind, refused_reason(&kind)));
        }
    }
    let streams = top.get("streams").and_then(Value::as_array).filter(|s| !s.is_empty()).ok_or_else(|| {
        walk.refuse(
            "streams",
            "DeclarativeSource",
            "no `streams` (a source whose streams are generated is not supported)",
        )
    })?;
    walk.names = streams.iter().filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string)).collect();
    let mut outs = Vec::new();
    for (i, stream) in streams.iter().enumerate() {
        outs.push((format!("streams[{i}]"), walk.stream(&format!("streams[{i}]"), stream)?));
    }
    let hidden = std::mem::take(&mut walk.hidden);
    let first = &outs[0].1;
    let base_url = outs
        .iter()
        .find_map(|(_, o)| o.url_base.clone())
        .ok_or_else(|| walk.refuse("streams[0].retriever.requester", "HttpRequester", "no stream has a `url_base`"))?;
    let auth = first.auth.clone();
    let mut retry = Retry::default();
    let mut native_streams = Vec::new();
    for (path, out) in outs.into_iter().chain(hidden) {
        if out.auth != auth {
            return Err(walk.refuse(
                &format!("{path}.retriever.requester.authenticator"),
                "HttpRequester",
                "this stream authenticates differently from the first stream; txlake's engine has one authentication per connector",
            ));
        }
        retry.max_attempts = retry.max_attempts.max(out.retry.max_attempts);
        if retry.backoff.is_empty() {
            retry.backoff = out.retry.backoff.clone();
        } else if !out.retry.backoff.is_empty() && out.retry.backoff != retry.backoff {
            walk.notes.push(format!("{path}: its backoff differs from the first stream's; the first one's is used"));
        }
        let mut stream = out.stream;
        if let Some(url_base) = out.url_base.filter(|u| *u != base_url) {
            // The native requester has one base URL: this stream's requests go to its own.
            let request = &mut stream["request"];
            let joined = join_url(&url_base, request.get("path").and_then(Value::as_str).unwrap_or_default());
            request["path"] = Value::String(joined);
        }
        native_streams.push(stream);
    }
    let mut requester = json!({ "base_url": base_url });
    if let Some(auth) = auth {
        requester["auth"] = auth;
    }
    if retry.max_attempts.is_some() || !retry.backoff.is_empty() {
        let mut r = Object::new();
        if let Some(n) = retry.max_attempts {
            r.insert("max_attempts".into(), json!(n));
        }
        match retry.backoff.len() {
            0 => {}
            1 => {
                r.insert("backoff".into(), retry.backoff[0].clone());
            }
            _ => {
                r.insert("backoff".into(), Value::Array(retry.backoff.clone()));
            }
        }
        requester["retry"] = Value::Object(r);
    }
    if let Some(budget) = top.get("api_budget").filter(|v| !v.is_null())
        && let Some(rate) = walk.api_budget("api_budget", budget)?
    {
        requester["rate_limit"] = json!({ "requests_per_second": rate });
    }
    if let Some(level) = top.get("concurrency_level") {
        let (c, _) = walk.component("concurrency_level", level, &["ConcurrencyLevel"])?;
        let n = c
            .get("default_concurrency")
            .and_then(Value::as_u64)
            .or_else(|| c.get("max_concurrency").and_then(Value::as_u64));
        match n {
            Some(n) if n > 0 => requester["concurrency"] = json!(n),
            _ => {
                walk.notes.push("concurrency_level: a templated level; the engine's default concurrency is used".into())
            }
        }
    }
    let spec_component = match top.get("spec") {
        Some(s) => Some(walk.component("spec", s, &["Spec"])?.0),
        None => None,
    };
    let spec_value = spec_component.map(|m| Value::Object(m.clone()));
    let mut native = json!({
        "name": name,
        "description": top.get("description").and_then(Value::as_str).map(first_line).unwrap_or_else(|| format!("Airbyte manifest `{name}`, run by txlake's engine")),
        "spec": spec::native_spec(spec_value.as_ref()),
        "templates": "airbyte",
        "requester": requester,
        "streams": native_streams,
    });
    if let Some(doc) = spec::documentation(spec_value.as_ref()) {
        native["documentation"] = Value::String(doc);
    }
    if let Some(check) = top.get("check") {
        let (c, _) = walk.component("check", check, &["CheckStream"])?;
        if let Some(first) =
            c.get("stream_names").and_then(Value::as_array).and_then(|n| n.first()).and_then(Value::as_str)
            && walk.names.iter().any(|n| n == first)
        {
            native["check"] = json!({ "stream": first });
        }
    }
    check_templates(&walk, &native)?;
    Ok(Translated { manifest: native, notes: walk.notes })
}

fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_string()
}

fn kind_of(value: &Value) -> Option<&str> {
    value.get("type").and_then(Value::as_str)
}

fn refused_reason(kind: &str) -> String {
    match components::lookup(kind) {
        Some(c) if c.support == Support::Refused => format!("`{kind}` is not supported: {}", c.maps_to),
        _ => format!("`{kind}` is not supported"),
    }
}

/// Airbyte's `url_base` + `path` join.
fn join_url(base: &str, path: &str) -> String {
    if path.is_empty() {
        return base.to_string();
    }
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_string();
    }
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// `{{ parameters.x }}` / `{{ parameters['x'] }}` replaced by the parameter's value, where
/// the native manifest needs a literal (a records path, a field name, a page size).
fn substitute_parameters(text: &str, parameters: &Object) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let inner = rest[start + 2..start + len].trim();
        out.push_str(&rest[..start]);
        match parameter_expression(inner, parameters) {
            Some(Value::String(s)) => out.push_str(&s),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => out.push_str(&v.to_string()),
            _ => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The value of an expression over `parameters` only: `parameters.x`, `parameters['x']`,
/// `parameters.get('x')`, `parameters.get('x', 'default')`, a quoted literal, joined by
/// `or` (the first truthy one). None: the expression reads something else.
fn parameter_expression(expression: &str, parameters: &Object) -> Option<Value> {
    let unquote = |t: &str| {
        let t = t.trim();
        (t.len() >= 2 && ((t.starts_with('\'') && t.ends_with('\'')) || (t.starts_with('"') && t.ends_with('"'))))
            .then(|| t[1..t.len() - 1].to_string())
    };
    let mut last = None;
    for term in expression.split(" or ") {
        let term = term.trim();
        let value = if let Some(literal) = unquote(term) {
            Value::String(literal)
        } else {
            let rest = term.strip_prefix("parameters")?;
            if let Some(args) = rest.strip_prefix(".get(").and_then(|a| a.strip_suffix(')')) {
                let (key, default) = match args.split_once(',') {
                    Some((k, d)) => (unquote(k)?, Some(d)),
                    None => (unquote(args)?, None),
                };
                match (parameters.get(&key), default) {
                    (Some(v), _) => v.clone(),
                    (None, Some(d)) => Value::String(unquote(d)?),
                    (None, None) => Value::Null,
                }
            } else {
                let key = rest
                    .strip_prefix('.')
                    .map(str::to_string)
                    .or_else(|| rest.strip_prefix('[').and_then(|k| k.strip_suffix(']')).and_then(unquote))?;
                if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return None;
                }
                parameters.get(&key).cloned().unwrap_or(Value::Null)
            }
        };
        if super::truthy(&value) {
            return Some(value);
        }
        last = Some(value);
    }
    last
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// A records path segment, quoted when it holds a dot.
fn segment(text: &str) -> String {
    if text.contains('.') { format!("\"{text}\"") } else { text.to_string() }
}

fn parameters_of(component: &Object) -> Object {
    component.get(super::PARAMETERS).and_then(Value::as_object).cloned().unwrap_or_default()
}

impl Walk<'_> {
    fn refuse(&self, path: &str, kind: &str, reason: impl std::fmt::Display) -> ConnectorError {
        let at = if path.is_empty() { String::from("the top level") } else { format!("`{path}`") };
        ConnectorError::Manifest {
            origin: self.origin.to_string(),
            message: format!(
                "at {at} ({kind}): {reason}. txlake runs an Airbyte manifest only when every component is supported \
                 (connectors/AIRBYTE.md); run this source as an Airbyte process instead: \
                 connector = \"airbyte:<command>\" (e.g. `airbyte:source-<name>` after `pip install airbyte-source-<name>`)"
            ),
        }
    }

    /// The component at `path`, refused unless its type is supported and one of `allowed`.
    fn component<'v>(&self, path: &str, value: &'v Value, allowed: &[&str]) -> Result<(&'v Object, &'v str)> {
        let Some(map) = value.as_object() else {
            return Err(self.refuse(
                path,
                "?",
                format!("expected a component (a mapping with `type`), found `{value}`"),
            ));
        };
        let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
        if map.contains_key("class_name") || kind.starts_with("Custom") {
            let class = map.get("class_name").and_then(Value::as_str).unwrap_or("?");
            let kind = if kind.is_empty() { "custom component" } else { kind };
            return Err(self.refuse(
                path,
                kind,
                format!(
                    "a custom component (Python class `{class}` shipped with the source) cannot run on txlake's engine"
                ),
            ));
        }
        if kind.is_empty() {
            return Err(self.refuse(path, "?", "the component has no `type` and Airbyte infers none here"));
        }
        match components::lookup(kind) {
            Some(c) if c.support == Support::Refused => Err(self.refuse(path, kind, refused_reason(kind))),
            None => Err(self.refuse(path, kind, format!("`{kind}` is not a component txlake supports"))),
            Some(_) if !allowed.contains(&kind) => Err(self.refuse(
                path,
                kind,
                format!("`{kind}` is not supported here; expected {}", allowed.join(" or ")),
            )),
            Some(_) => Ok((map, kind)),
        }
    }

    fn optional<'v>(
        &self,
        path: &str,
        map: &'v Object,
        key: &str,
        allowed: &[&str],
    ) -> Result<Option<(&'v Object, &'v str)>> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.component(&format!("{path}.{key}"), v, allowed).map(Some),
        }
    }

    fn string(&self, path: &str, kind: &str, map: &Object, key: &str) -> Result<String> {
        match map.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
            _ => Err(self.refuse(&format!("{path}.{key}"), kind, format!("`{key}` is required (a string)"))),
        }
    }

    /// A literal integer (a number, a text holding one, or `{{ parameters.x }}` holding one).
    fn integer(&self, path: &str, kind: &str, value: &Value, parameters: &Object) -> Result<u64> {
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => substitute_parameters(s, parameters).trim().to_string(),
            other => other.to_string(),
        };
        text.parse::<u64>().map_err(|_| {
            self.refuse(
                path,
                kind,
                format!("`{text}` must be a whole number here (txlake does not template it from the config)"),
            )
        })
    }

    fn stream(&mut self, path: &str, value: &Value) -> Result<StreamOut> {
        let (s, kind) = self.component(path, value, &["DeclarativeStream"])?;
        let name = self.string(path, kind, s, "name")?;
        let mut parameters = parameters_of(s);
        let mut stream = json!({ "name": name });
        if let Some(pk) = self.primary_key(&format!("{path}.primary_key"), s.get("primary_key"))? {
            stream["primary_key"] = pk;
        }
        let retriever_path = format!("{path}.retriever");
        let (r, _) =
            self.component(&retriever_path, s.get("retriever").unwrap_or(&Value::Null), &["SimpleRetriever"])?;
        let (q, _) = self.component(
            &format!("{retriever_path}.requester"),
            r.get("requester").unwrap_or(&Value::Null),
            &["HttpRequester"],
        )?;
        // The requester's own `$parameters` (its `path`, mostly) are what its templates see.
        parameters.extend(parameters_of(q));
        let requester_path = format!("{retriever_path}.requester");
        let (mut request, url_base) = self.request(&requester_path, q)?;
        let auth = match q.get("authenticator") {
            None | Some(Value::Null) => None,
            Some(a) => self.auth(&format!("{requester_path}.authenticator"), a)?,
        };
        let mut rules = Vec::new();
        let mut retry = Retry::default();
        if let Some(handler) = q.get("error_handler").filter(|v| !v.is_null()) {
            self.error_handler(&format!("{requester_path}.error_handler"), handler, &mut rules, &mut retry)?;
        }
        self.optional(&retriever_path, r, "decoder", &["JsonDecoder"])?;
        let records = self.records(&format!("{retriever_path}.record_selector"), r, &parameters)?;
        let records_first_key = records
            .get("path")
            .and_then(Value::as_str)
            .map(|p| p.split('.').next().unwrap_or("").trim_matches('"').to_string())
            .unwrap_or_default();
        stream["records"] = records;
        let paginator =
            self.paginator(&format!("{retriever_path}.paginator"), r, &parameters, &records_first_key, &mut request)?;
        if r.get("ignore_stream_slicer_parameters_on_paginated_requests").is_some_and(super::truthy)
            && !matches!(
                paginator.as_ref().and_then(|p| p.get("type")).and_then(Value::as_str),
                Some("next_url") | None
            )
        {
            return Err(self.refuse(
                &format!("{retriever_path}.ignore_stream_slicer_parameters_on_paginated_requests"),
                "SimpleRetriever",
                "leaving the slice's request options out of pages after the first is supported only when the next page is a URL (`RequestPath`)",
            ));
        }
        if let Some(p) = paginator {
            stream["paginator"] = p;
        }
        let routers: Vec<(String, &Value)> = match r.get("partition_router").or_else(|| r.get("stream_slicer")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, v)| (format!("{retriever_path}.partition_router[{i}]"), v)).collect()
            }
            Some(v) => vec![(format!("{retriever_path}.partition_router"), v)],
        };
        let mut partitions = Vec::new();
        for (p, router) in routers {
            partitions.push(self.partition(&p, router, &parameters, &mut request)?);
        }
        match partitions.len() {
            0 => {}
            1 => stream["partition"] = partitions.pop().unwrap_or_default(),
            _ => stream["partition"] = Value::Array(partitions),
        }
        if let Some(incremental) = s.get("incremental_sync").filter(|v| !v.is_null()) {
            stream["incremental"] =
                self.incremental(&format!("{path}.incremental_sync"), incremental, &parameters, &mut request)?;
        }
        if let Some(Value::Array(transformations)) = s.get("transformations") {
            self.transformations(&format!("{path}.transformations"), transformations, &parameters, &mut stream)?;
        }
        if let Some(Value::Array(migrations)) = s.get("state_migrations") {
            for (i, m) in migrations.iter().enumerate() {
                self.component(&format!("{path}.state_migrations[{i}]"), m, &["LegacyToPerPartitionStateMigration"])?;
            }
        }
        if let Some(schema) = self.schema(&format!("{path}.schema_loader"), s, &name, &parameters)? {
            stream["schema"] = schema;
        }
        if !rules.is_empty() {
            stream["responses"] = Value::Array(rules);
        }
        stream["request"] = Value::Object(request);
        if !parameters.is_empty() {
            stream["parameters"] = Value::Object(parameters);
        }
        Ok(StreamOut { stream, url_base, auth, retry })
    }

    fn primary_key(&self, path: &str, value: Option<&Value>) -> Result<Option<Value>> {
        let mut columns = Vec::new();
        match value {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.is_empty() => return Ok(None),
            Some(Value::String(s)) => columns.push(s.clone()),
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) => columns.push(s.clone()),
                        Value::Array(inner) if inner.len() == 1 && inner[0].is_string() => {
                            columns.push(inner[0].as_str().unwrap_or_default().to_string());
                        }
                        other => {
                            return Err(self.refuse(
                                path,
                                "DeclarativeStream",
                                format!("primary key part `{other}` is a nested path; txlake's primary keys are top-level columns"),
                            ));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(self.refuse(path, "DeclarativeStream", format!("`{other}` is not a primary key")));
            }
        }
        Ok((!columns.is_empty()).then(|| json!(columns)))
    }

    /// The stream's native `request` and the requester's `url_base`.
    fn request(&self, path: &str, q: &Object) -> Result<(Object, Option<String>)> {
        let kind = "HttpRequester";
        let mut request = Object::new();
        let mut url_base = q.get("url_base").and_then(Value::as_str).filter(|u| !u.is_empty()).map(str::to_string);
        let mut route = q.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(url) = q.get("url").and_then(Value::as_str).filter(|u| !u.is_empty()) {
            // `url` is the whole URL (newer manifests): an absolute path.
            route = url.to_string();
            url_base = None;
        }
        request.insert("path".into(), Value::String(route));
        match q.get("http_method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase().as_str() {
            "GET" => {}
            "POST" => {
                request.insert("method".into(), json!("POST"));
            }
            other => {
                return Err(self.refuse(
                    &format!("{path}.http_method"),
                    kind,
                    format!("method `{other}` is not supported (GET or POST)"),
                ));
            }
        }
        let mapping = |key: &str| -> Result<Option<Object>> {
            match q.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(m)) if m.is_empty() => Ok(None),
                Some(Value::Object(m)) => Ok(Some(m.clone())),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(other) => Err(self.refuse(
                    &format!("{path}.{key}"),
                    kind,
                    format!("`{other}` is a template rendering a whole mapping; txlake needs each key written out"),
                )),
            }
        };
        if let Some(params) = mapping("request_parameters")? {
            for (k, v) in &params {
                if v.is_object() {
                    let kind = kind_of(v).unwrap_or("mapping");
                    return Err(self.refuse(&format!("{path}.request_parameters.{k}"), kind, refused_reason(kind)));
                }
            }
            request.insert("params".into(), Value::Object(params));
        }
        if let Some(headers) = mapping("request_headers")? {
            let headers: Object = headers
                .into_iter()
                .map(|(k, v)| (k, Value::String(super::super::declarative::template::as_text(&v))))
                .collect();
            request.insert("headers".into(), Value::Object(headers));
        }
        if let Some(body) = mapping("request_body_json")? {
            request.insert("body".into(), Value::Object(body));
        }
        if let Some(form) = mapping("request_body_data")? {
            request.insert("body_form".into(), Value::Object(form));
        }
        if let Some(body) = q.get("request_body").filter(|v| !v.is_null()) {
            let kind = kind_of(body).unwrap_or("?");
            let value = body.get("value").cloned().unwrap_or(Value::Null);
            match (kind, value) {
                ("RequestBodyJsonObject", v @ Value::Object(_)) => {
                    request.insert("body".into(), v);
                }
                ("RequestBodyUrlEncodedForm", v @ Value::Object(_)) => {
                    request.insert("body_form".into(), v);
                }
                (kind, _) => {
                    return Err(self.refuse(
                        &format!("{path}.request_body"),
                        kind,
                        "only a JSON object or a form mapping is supported as a body",
                    ));
                }
            }
        }
        Ok((request, url_base))
    }

    /// Puts a value where a `RequestOption` says: a query parameter, a header or a body field.
    fn inject_value(
        &self,
        path: &str,
        option: &Object,
        value: Value,
        parameters: &Object,
        request: &mut Object,
    ) -> Result<()> {
        let (field, place) = self.request_option(path, option, parameters)?;
        let key = match place {
            "param" => "params",
            "header" => "headers",
            "body" => "body",
            _ => "body_form",
        };
        let value = if key == "headers" { Value::String(crate::declarative::template::as_text(&value)) } else { value };
        let target = request.entry(key).or_insert_with(|| Value::Object(Object::new()));
        if let Some(map) = target.as_object_mut() {
            map.insert(field, value);
        }
        Ok(())
    }

    /// A `RequestOption`'s field name and place (`param`, `header`, `body`, `body_form`).
    fn request_option(&self, path: &str, option: &Object, parameters: &Object) -> Result<(String, &'static str)> {
        let kind = "RequestOption";
        // `field_path` counts only without `field_name`: a stream's `$parameters` often
        // carry a `field_path` (its records path) that propagation copies onto every option.
        let field = match (option.get("field_name").filter(|v| !v.is_null()), option.get("field_path")) {
            (Some(_), _) => self.string(path, kind, option, "field_name")?,
            (None, Some(Value::Array(parts))) if parts.len() == 1 && parts[0].is_string() => {
                parts[0].as_str().unwrap_or_default().to_string()
            }
            (None, Some(_)) => {
                return Err(self.refuse(
                    &format!("{path}.field_path"),
                    kind,
                    "a nested body field (`field_path` of several keys) is not supported",
                ));
            }
            (None, None) => return Err(self.refuse(&format!("{path}.field_name"), kind, "`field_name` is required")),
        };
        let field = substitute_parameters(&field, parameters);
        let place = match option.get("inject_into").and_then(Value::as_str).unwrap_or_default() {
            "request_parameter" => "param",
            "header" => "header",
            "body_json" => "body",
            "body_data" => "body_form",
            other => {
                return Err(self.refuse(
                    &format!("{path}.inject_into"),
                    kind,
                    format!("`inject_into: {other}` is not supported"),
                ));
            }
        };
        Ok((field, place))
    }

    /// A `RequestOption` as the native `inject` of a paginator token or a partition value.
    fn inject(&self, path: &str, option: &Object, parameters: &Object) -> Result<Value> {
        let (field, place) = self.request_option(path, option, parameters)?;
        if place == "body_form" {
            return Err(self.refuse(
                &format!("{path}.inject_into"),
                "RequestOption",
                "`inject_into: body_data` is not supported here",
            ));
        }
        Ok(json!({ place: field }))
    }

    fn records(&mut self, path: &str, r: &Object, parameters: &Object) -> Result<Value> {
        let Some((selector, _)) =
            self.optional(path.trim_end_matches(".record_selector"), r, "record_selector", &["RecordSelector"])?
        else {
            return Err(self.refuse(path, "SimpleRetriever", "a `record_selector` is required"));
        };
        let mut records = Object::new();
        let (extractor, _) = self.component(
            &format!("{path}.extractor"),
            selector.get("extractor").unwrap_or(&Value::Null),
            &["DpathExtractor"],
        )?;
        self.optional(&format!("{path}.extractor"), extractor, "decoder", &["JsonDecoder"])?;
        if extractor.get("record_expander").is_some_and(super::truthy) {
            return Err(self.refuse(
                &format!("{path}.extractor.record_expander"),
                "RecordExpander",
                "`RecordExpander` is not supported",
            ));
        }
        let mut segments = Vec::new();
        for (i, part) in
            extractor.get("field_path").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate()
        {
            let text = match part {
                Value::String(s) => substitute_parameters(s, parameters),
                other => other.to_string(),
            };
            if is_template(&text) {
                return Err(self.refuse(
                    &format!("{path}.extractor.field_path[{i}]"),
                    "DpathExtractor",
                    format!("`{text}` depends on the config; txlake needs a fixed records path"),
                ));
            }
            segments.push(segment(&text));
        }
        records.insert("path".into(), Value::String(segments.join(".")));
        if let Some((filter, _)) = self.optional(path, selector, "record_filter", &["RecordFilter"])? {
            let condition = self.string(&format!("{path}.record_filter"), "RecordFilter", filter, "condition")?;
            records.insert("filter".into(), Value::String(condition));
        }
        match selector.get("schema_normalization") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == "None" || s == "Default" => {}
            Some(other) => {
                self.component(&format!("{path}.schema_normalization"), other, &[])?;
            }
        }
        Ok(Value::Object(records))
    }

    fn paginator(
        &mut self,
        path: &str,
        r: &Object,
        parameters: &Object,
        records_first_key: &str,
        request: &mut Object,
    ) -> Result<Option<Value>> {
        let Some(value) = r.get("paginator").filter(|v| !v.is_null()) else { return Ok(None) };
        let (p, kind) = self.component(path, value, &["DefaultPaginator", "NoPagination"])?;
        if kind == "NoPagination" {
            return Ok(None);
        }
        self.optional(path, p, "decoder", &["JsonDecoder"])?;
        let strategy_path = format!("{path}.pagination_strategy");
        let (strategy, strategy_kind) = self.component(
            &strategy_path,
            p.get("pagination_strategy").unwrap_or(&Value::Null),
            &["CursorPagination", "PageIncrement", "OffsetIncrement"],
        )?;
        self.optional(&strategy_path, strategy, "decoder", &["JsonDecoder"])?;
        let token_path = format!("{path}.page_token_option");
        let token_option = match p.get("page_token_option").filter(|v| !v.is_null()) {
            Some(v) => Some(self.component(&token_path, v, &["RequestOption", "RequestPath"])?),
            None => None,
        };
        let page_size = match strategy.get("page_size").filter(|v| !v.is_null()) {
            Some(v) => Some(self.integer(&format!("{strategy_path}.page_size"), strategy_kind, v, parameters)?),
            None => None,
        };
        let size_option = match p.get("page_size_option").filter(|v| !v.is_null()) {
            Some(v) => Some(self.component(&format!("{path}.page_size_option"), v, &["RequestOption"])?.0),
            None => None,
        };
        let native = match strategy_kind {
            "CursorPagination" => {
                let token = self.string(&strategy_path, strategy_kind, strategy, "cursor_value")?;
                let stop = strategy.get("stop_condition").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
                if let (Some(option), Some(size)) = (size_option, page_size) {
                    self.inject_value(&format!("{path}.page_size_option"), option, json!(size), parameters, request)?;
                }
                let full =
                    [Some(token.as_str()), stop].iter().flatten().any(|t| mentions_records(t, records_first_key));
                let mut native = match token_option {
                    Some((_, "RequestPath")) => json!({ "type": "next_url", "url": token }),
                    Some((option, _)) => {
                        json!({ "type": "cursor", "token": token, "inject": self.inject(&token_path, option, parameters)? })
                    }
                    None => {
                        return Err(self.refuse(
                            &token_path,
                            "DefaultPaginator",
                            "a `page_token_option` is required (where the token goes)",
                        ));
                    }
                };
                if let Some(stop) = stop {
                    native["stop"] = json!(stop);
                }
                if full {
                    native["full_response"] = json!(true);
                }
                native
            }
            "PageIncrement" | "OffsetIncrement" => {
                let param = match token_option {
                    Some((option, "RequestOption")) => match self.request_option(&token_path, option, parameters)? {
                        (field, "param") => field,
                        _ => {
                            return Err(self.refuse(
                                &token_path,
                                "RequestOption",
                                "page numbers and offsets go into a query parameter only",
                            ));
                        }
                    },
                    _ => {
                        return Err(self.refuse(
                            &token_path,
                            strategy_kind,
                            "expected a `RequestOption` into a query parameter",
                        ));
                    }
                };
                let size_param = match size_option {
                    Some(option) => {
                        match self.request_option(&format!("{path}.page_size_option"), option, parameters)? {
                            (field, "param") => Some(field),
                            _ => {
                                return Err(self.refuse(
                                    &format!("{path}.page_size_option"),
                                    "RequestOption",
                                    "the page size goes into a query parameter only",
                                ));
                            }
                        }
                    }
                    None => None,
                };
                if strategy_kind == "PageIncrement" {
                    let start = match strategy.get("start_from_page") {
                        Some(v) if !v.is_null() => {
                            self.integer(&format!("{strategy_path}.start_from_page"), strategy_kind, v, parameters)?
                        }
                        _ => 0,
                    };
                    // Without a page size Airbyte stops at an empty page: a size of 1 does the same.
                    let mut native = json!({ "type": "page_number", "param": param, "start": start, "size": page_size.unwrap_or(1) });
                    if let (Some(sp), Some(_)) = (size_param, page_size) {
                        native["size_param"] = json!(sp);
                    }
                    native
                } else {
                    // Without a page size the offset grows by each page's records and an empty
                    // page ends the stream, as Airbyte's OffsetIncrement does.
                    let mut native = json!({ "type": "offset", "param": param });
                    if let Some(limit) = page_size {
                        native["limit"] = json!(limit);
                        if let Some(lp) = size_param {
                            native["limit_param"] = json!(lp);
                        }
                    }
                    native
                }
            }
            other => return Err(self.refuse(&strategy_path, other, refused_reason(other))),
        };
        Ok(Some(native))
    }

    fn partition(&mut self, path: &str, router: &Value, parameters: &Object, request: &mut Object) -> Result<Value> {
        let (m, kind) = self.component(path, router, &["SubstreamPartitionRouter", "ListPartitionRouter"])?;
        if kind == "ListPartitionRouter" {
            let values = match m.get("values") {
                Some(v @ (Value::Array(_) | Value::String(_))) => v.clone(),
                _ => {
                    return Err(self.refuse(
                        &format!("{path}.values"),
                        kind,
                        "`values` is required (a list or a template)",
                    ));
                }
            };
            let field = substitute_parameters(&self.string(path, kind, m, "cursor_field")?, parameters);
            let mut native = json!({ "values": values, "field": field });
            if let Some((option, _)) = self.optional(path, m, "request_option", &["RequestOption"])? {
                native["inject"] = self.inject(&format!("{path}.request_option"), option, parameters)?;
            }
            let _ = request;
            return Ok(native);
        }
        let configs = m.get("parent_stream_configs").and_then(Value::as_array).cloned().unwrap_or_default();
        if configs.len() != 1 {
            return Err(self.refuse(
                &format!("{path}.parent_stream_configs"),
                kind,
                format!(
                    "{} parent streams: txlake reads one parent per router (routers in a list multiply)",
                    configs.len()
                ),
            ));
        }
        let config_path = format!("{path}.parent_stream_configs[0]");
        let (c, ckind) = self.component(&config_path, &configs[0], &["ParentStreamConfig"])?;
        for key in ["extra_fields", "lazy_read_pointer"] {
            if c.get(key).is_some_and(super::truthy) {
                return Err(self.refuse(&format!("{config_path}.{key}"), ckind, format!("`{key}` is not supported")));
            }
        }
        if c.get("incremental_dependency").is_some_and(super::truthy) {
            self.notes.push(format!("{config_path}: incremental_dependency: the parent is read in full at every sync"));
        }
        let parent_value = c.get("stream").unwrap_or(&Value::Null);
        let parent_name = parent_value.get("name").and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
            self.refuse(&format!("{config_path}.stream"), "DeclarativeStream", "the parent stream has no `name`")
        })?;
        if !self.names.contains(&parent_name)
            && !self.hidden.iter().any(|(_, h)| h.stream["name"] == parent_name.as_str())
        {
            let mut out = self.stream(&format!("{config_path}.stream"), parent_value)?;
            out.stream["hidden"] = json!(true);
            self.hidden.push((format!("{config_path}.stream"), out));
        }
        let parent_key = substitute_parameters(&self.string(&config_path, ckind, c, "parent_key")?, parameters);
        let parent_key = parent_key.split('/').map(segment).collect::<Vec<_>>().join(".");
        let field = substitute_parameters(&self.string(&config_path, ckind, c, "partition_field")?, parameters);
        let mut native = json!({ "stream": parent_name, "parent_key": parent_key, "field": field });
        if let Some((option, _)) = self.optional(&config_path, c, "request_option", &["RequestOption"])? {
            native["inject"] = self.inject(&format!("{config_path}.request_option"), option, parameters)?;
        }
        Ok(native)
    }

    fn incremental(&mut self, path: &str, value: &Value, parameters: &Object, request: &mut Object) -> Result<Value> {
        let (c, kind) = self.component(path, value, &["DatetimeBasedCursor"])?;
        for key in ["partition_field_start", "partition_field_end"] {
            if let Some(v) = c.get(key).and_then(Value::as_str).filter(|v| !matches!(*v, "start_time" | "end_time")) {
                return Err(self.refuse(
                    &format!("{path}.{key}"),
                    kind,
                    format!("`{key}: {v}`: only the default slice names are supported"),
                ));
            }
        }
        if c.get("clamping").is_some_and(super::truthy) {
            return Err(self.refuse(&format!("{path}.clamping"), kind, "`clamping` is not supported"));
        }
        let cursor_field = substitute_parameters(&self.string(path, kind, c, "cursor_field")?, parameters);
        let datetime_format = self.string(path, kind, c, "datetime_format")?;
        let request_format = self.format(&format!("{path}.datetime_format"), &datetime_format)?;
        let parse_formats: Vec<String> = match c.get("cursor_datetime_formats").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    self.format(&format!("{path}.cursor_datetime_formats[{i}]"), f.as_str().unwrap_or_default())
                })
                .collect::<Result<_>>()?,
            _ => vec![request_format.clone()],
        };
        let mut native = json!({ "cursor_field": cursor_field, "format": parse_formats[0] });
        if parse_formats.len() > 1 {
            native["formats"] = json!(parse_formats);
        }
        if request_format != parse_formats[0] {
            native["request_format"] = json!(request_format);
        }
        native["start"] =
            json!(self.datetime(&format!("{path}.start_datetime"), c.get("start_datetime"))?.ok_or_else(|| {
                self.refuse(&format!("{path}.start_datetime"), kind, "`start_datetime` is required")
            })?);
        if let Some(end) = self.datetime(&format!("{path}.end_datetime"), c.get("end_datetime"))? {
            native["end"] = json!(end);
        }
        for (key, native_key) in
            [("step", "step"), ("cursor_granularity", "granularity"), ("lookback_window", "lookback")]
        {
            if let Some(text) = c.get(key).and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
                let text = substitute_parameters(text, parameters);
                if is_template(&text) {
                    return Err(self.refuse(
                        &format!("{path}.{key}"),
                        kind,
                        format!("`{text}` depends on the config; txlake needs a fixed duration"),
                    ));
                }
                native[native_key] = json!(duration(&text));
            }
        }
        if c.get("is_data_feed").is_some_and(super::truthy) {
            native["data_feed"] = json!(true);
        }
        // Airbyte keeps every record the API returns unless the cursor is client-side.
        native["client_filter"] = json!(c.get("is_client_side_incremental").is_some_and(super::truthy));
        for (key, slice_key) in [("start_time_option", "start_time"), ("end_time_option", "end_time")] {
            if let Some((option, _)) = self.optional(path, c, key, &["RequestOption"])? {
                let value = json!(format!("{{{{ stream_interval.{slice_key} }}}}"));
                self.inject_value(&format!("{path}.{key}"), option, value, parameters, request)?;
            }
        }
        Ok(native)
    }

    /// An Airbyte datetime format as a native cursor format.
    fn format(&self, path: &str, text: &str) -> Result<String> {
        match text {
            "%s" => Ok("unix_seconds".into()),
            "%ms" => Ok("unix_ms".into()),
            t if t.contains('%') => Ok(t.to_string()),
            t => Err(self.refuse(path, "DatetimeBasedCursor", format!("`{t}` is not a datetime format"))),
        }
    }

    /// A start or end: a template, or a `MinMaxDatetime`'s `datetime`.
    fn datetime(&self, path: &str, value: Option<&Value>) -> Result<Option<String>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => {
                let (m, kind) = self.component(path, v, &["MinMaxDatetime"])?;
                for key in ["min_datetime", "max_datetime"] {
                    if m.get(key).is_some_and(super::truthy) {
                        return Err(self.refuse(&format!("{path}.{key}"), kind, format!("`{key}` is not supported")));
                    }
                }
                self.string(path, kind, m, "datetime").map(Some)
            }
        }
    }

    fn transformations(&mut self, path: &str, list: &[Value], parameters: &Object, stream: &mut Value) -> Result<()> {
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let tpath = format!("{path}[{i}]");
            let (m, kind) = self.component(&tpath, t, &["AddFields", "RemoveFields"])?;
            if m.get("condition").and_then(Value::as_str).is_some_and(|c| !c.trim().is_empty()) {
                return Err(self.refuse(
                    &format!("{tpath}.condition"),
                    kind,
                    "a conditional transformation is not supported",
                ));
            }
            if kind == "AddFields" {
                for (j, f) in m.get("fields").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate()
                {
                    let fpath = format!("{tpath}.fields[{j}]");
                    let (field, fkind) = self.component(&fpath, f, &["AddedFieldDefinition"])?;
                    let pointer: Vec<Value> = field
                        .get("path")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|p| json!(substitute_parameters(p.as_str().unwrap_or_default(), parameters)))
                        .collect();
                    if pointer.is_empty() {
                        return Err(self.refuse(&format!("{fpath}.path"), fkind, "`path` is required"));
                    }
                    let value = field.get("value").cloned().unwrap_or(Value::Null);
                    if field.get("value_type").is_some_and(super::truthy) {
                        self.notes
                            .push(format!("{fpath}: value_type is not applied; the schema decides the column's type"));
                    }
                    added.push(json!({ "path": pointer, "value": value }));
                }
            } else {
                for pointer in m.get("field_pointers").and_then(Value::as_array).cloned().unwrap_or_default() {
                    removed.push(pointer);
                }
            }
        }
        if !added.is_empty() {
            stream["add_fields"] = Value::Array(added);
        }
        if !removed.is_empty() {
            stream["remove_fields"] = Value::Array(removed);
        }
        Ok(())
    }

    fn schema(&mut self, path: &str, s: &Object, name: &str, parameters: &Object) -> Result<Option<Value>> {
        let loader = match s.get("schema_loader") {
            None | Some(Value::Null) => None,
            Some(Value::Array(_)) => {
                return Err(self.refuse(path, "SchemaLoader", "a list of schema loaders is not supported"));
            }
            Some(v) => Some(self.component(path, v, &["InlineSchemaLoader", "JsonFileSchemaLoader"])?),
        };
        let schema = match loader {
            Some((m, "InlineSchemaLoader")) => m.get("schema").cloned(),
            _ => {
                let file = loader
                    .and_then(|(m, _)| m.get("file_path"))
                    .and_then(Value::as_str)
                    .map(|f| substitute_parameters(f, parameters));
                self.schema_file(file.as_deref(), name)
            }
        };
        // A schema without properties says nothing the inference would not find.
        Ok(schema.filter(|s| s.get("properties").is_some_and(Value::is_object)))
    }

    fn schema_file(&mut self, file: Option<&str>, name: &str) -> Option<Value> {
        let dir = self.dir?;
        let file_name = file
            .filter(|f| !is_template(f))
            .and_then(|f| Path::new(f).file_name().map(|n| n.to_string_lossy().to_string()))
            .unwrap_or_else(|| format!("{name}.json"));
        let mut candidates = Vec::new();
        if let Some(f) = file.filter(|f| !is_template(f)) {
            candidates.push(dir.join(f));
        }
        candidates.push(dir.join("schemas").join(&file_name));
        candidates.push(dir.join(&file_name));
        for candidate in candidates {
            if let Ok(text) = std::fs::read_to_string(&candidate) {
                match serde_json::from_str::<Value>(&text) {
                    Ok(schema) => return Some(super::resolve_references(&schema).unwrap_or(schema)),
                    Err(e) => {
                        self.notes.push(format!("{}: not JSON ({e}); the schema is inferred", candidate.display()))
                    }
                }
            }
        }
        self.notes
            .push(format!("stream `{name}`: no schema file {file_name} beside the manifest; the schema is inferred"));
        None
    }

    fn auth(&self, path: &str, value: &Value) -> Result<Option<Value>> {
        let (m, kind) = self.component(
            path,
            value,
            &[
                "ApiKeyAuthenticator",
                "BearerAuthenticator",
                "BasicHttpAuthenticator",
                "OAuthAuthenticator",
                "SessionTokenAuthenticator",
                "SelectiveAuthenticator",
                "NoAuth",
            ],
        )?;
        let auth = match kind {
            "NoAuth" => return Ok(None),
            "ApiKeyAuthenticator" => {
                let token = self.string(path, kind, m, "api_token")?;
                let mut native = json!({ "type": "api_key", "value": token });
                match (m.get("inject_into").and_then(Value::as_object), m.get("header").and_then(Value::as_str)) {
                    (Some(option), _) => {
                        let (field, place) =
                            self.request_option(&format!("{path}.inject_into"), option, &parameters_of(m))?;
                        match place {
                            "header" | "param" => native[place] = json!(field),
                            _ => {
                                return Err(self.refuse(
                                    &format!("{path}.inject_into"),
                                    kind,
                                    "an API key goes into a header or a query parameter",
                                ));
                            }
                        }
                    }
                    (None, Some(header)) => native["header"] = json!(header),
                    (None, None) => return Err(self.refuse(path, kind, "`inject_into` is required")),
                }
                native
            }
            "BearerAuthenticator" => json!({ "type": "bearer", "token": self.string(path, kind, m, "api_token")? }),
            "BasicHttpAuthenticator" => json!({
                "type": "basic",
                "username": self.string(path, kind, m, "username")?,
                "password": m.get("password").and_then(Value::as_str).unwrap_or_default(),
            }),
            "OAuthAuthenticator" => {
                for key in
                    ["refresh_token_updater", "refresh_request_headers", "profile_assertion", "use_profile_assertion"]
                {
                    if m.get(key).is_some_and(super::truthy) {
                        return Err(self.refuse(&format!("{path}.{key}"), kind, format!("`{key}` is not supported")));
                    }
                }
                let grant = m.get("grant_type").and_then(Value::as_str).unwrap_or("refresh_token");
                let mut native = json!({
                    "type": "oauth2",
                    "token_url": self.string(path, kind, m, "token_refresh_endpoint")?,
                    "client_id": self.string(path, kind, m, "client_id")?,
                    "client_secret": self.string(path, kind, m, "client_secret")?,
                });
                match grant {
                    "refresh_token" => native["refresh_token"] = json!(self.string(path, kind, m, "refresh_token")?),
                    "client_credentials" => native["grant_type"] = json!("client_credentials"),
                    other => {
                        return Err(self.refuse(
                            &format!("{path}.grant_type"),
                            kind,
                            format!("grant type `{other}` is not supported"),
                        ));
                    }
                }
                if let Some(scopes) = m.get("scopes").and_then(Value::as_array).filter(|s| !s.is_empty()) {
                    native["scopes"] = json!(scopes);
                }
                if let Some(name) = m.get("access_token_name").and_then(Value::as_str).filter(|n| *n != "access_token")
                {
                    native["token_path"] = json!(name);
                }
                if let Some(name) = m.get("expires_in_name").and_then(Value::as_str).filter(|n| *n != "expires_in") {
                    native["expires_in_path"] = json!(name);
                }
                if let Some(body) = m.get("refresh_request_body").and_then(Value::as_object).filter(|b| !b.is_empty()) {
                    native["body"] = Value::Object(body.clone());
                }
                native
            }
            "SessionTokenAuthenticator" => self.session_token(path, m)?,
            "SelectiveAuthenticator" => {
                let selector: Vec<String> = m
                    .get("authenticator_selection_path")
                    .and_then(Value::as_array)
                    .map(|p| p.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default();
                if selector.is_empty() {
                    return Err(self.refuse(path, kind, "`authenticator_selection_path` is required"));
                }
                let lookup: String = selector.iter().map(|s| format!("[{}]", json!(s))).collect();
                let mut options = Vec::new();
                for (value, a) in m.get("authenticators").and_then(Value::as_object).cloned().unwrap_or_default() {
                    let auth = self
                        .auth(&format!("{path}.authenticators.{value}"), &a)?
                        .unwrap_or_else(|| json!({ "type": "none" }));
                    if auth["type"] == "select" {
                        return Err(self.refuse(
                            &format!("{path}.authenticators.{value}"),
                            "SelectiveAuthenticator",
                            "a selective authenticator inside another is not supported",
                        ));
                    }
                    options
                        .push(json!({ "when": format!("{{{{ config{lookup} == {} }}}}", json!(value)), "auth": auth }));
                }
                if options.is_empty() {
                    return Err(self.refuse(path, kind, "`authenticators` lists none"));
                }
                json!({ "type": "select", "options": options })
            }
            other => return Err(self.refuse(path, other, refused_reason(other))),
        };
        Ok(Some(auth))
    }

    fn session_token(&self, path: &str, m: &Object) -> Result<Value> {
        let kind = "SessionTokenAuthenticator";
        let login_path = format!("{path}.login_requester");
        let (login, _) =
            self.component(&login_path, m.get("login_requester").unwrap_or(&Value::Null), &["HttpRequester"])?;
        if let Some(a) = login.get("authenticator").filter(|v| !v.is_null())
            && self.auth(&format!("{login_path}.authenticator"), a)?.is_some()
        {
            return Err(self.refuse(
                &format!("{login_path}.authenticator"),
                "HttpRequester",
                "an authenticated login request is not supported",
            ));
        }
        let (request, url_base) = self.request(&login_path, login)?;
        let route = request.get("path").and_then(Value::as_str).unwrap_or_default();
        let mut native_login =
            json!({ "url": url_base.map(|b| join_url(&b, route)).unwrap_or_else(|| route.to_string()) });
        for (from, to) in [
            ("method", "method"),
            ("params", "params"),
            ("headers", "headers"),
            ("body", "body"),
            ("body_form", "body_form"),
        ] {
            if let Some(v) = request.get(from) {
                native_login[to] = v.clone();
            }
        }
        let token_path: Vec<String> = m
            .get("session_token_path")
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).map(segment).collect())
            .unwrap_or_default();
        if token_path.is_empty() {
            return Err(self.refuse(&format!("{path}.session_token_path"), kind, "`session_token_path` is required"));
        }
        let auth_path = format!("{path}.request_authorization");
        let (a, akind) = self.component(
            &auth_path,
            m.get("request_authorization").unwrap_or(&Value::Null),
            &["SessionTokenRequestApiKeyAuthenticator", "SessionTokenRequestBearerAuthenticator"],
        )?;
        let inject = if akind == "SessionTokenRequestBearerAuthenticator" {
            json!({ "header": "Authorization", "prefix": "Bearer " })
        } else {
            let option = a
                .get("inject_into")
                .and_then(Value::as_object)
                .ok_or_else(|| self.refuse(&auth_path, akind, "`inject_into` is required"))?;
            let (field, place) = self.request_option(&format!("{auth_path}.inject_into"), option, &parameters_of(a))?;
            if !matches!(place, "header" | "param") {
                return Err(self.refuse(
                    &format!("{auth_path}.inject_into"),
                    akind,
                    "a session token goes into a header or a query parameter",
                ));
            }
            json!({ place: field })
        };
        let expires = m.get("expiration_duration").and_then(Value::as_str).map(|d| json!(d)).unwrap_or(Value::Null);
        Ok(json!({
            "type": "session_token",
            "login": native_login,
            "token_path": token_path.join("."),
            "expires_in": expires,
            "inject": inject,
        }))
    }

    fn error_handler(&self, path: &str, value: &Value, rules: &mut Vec<Value>, retry: &mut Retry) -> Result<()> {
        let (m, kind) = self.component(path, value, &["DefaultErrorHandler", "CompositeErrorHandler"])?;
        if kind == "CompositeErrorHandler" {
            for (i, h) in
                m.get("error_handlers").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate()
            {
                self.error_handler(&format!("{path}.error_handlers[{i}]"), h, rules, retry)?;
            }
            return Ok(());
        }
        let max_retries = match m.get("max_retries") {
            Some(v) if !v.is_null() => self.integer(&format!("{path}.max_retries"), kind, v, &parameters_of(m))?,
            _ => 5,
        };
        retry.max_attempts = retry.max_attempts.max(Some(max_retries + 1));
        for (i, f) in
            m.get("response_filters").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate()
        {
            let fpath = format!("{path}.response_filters[{i}]");
            let (filter, fkind) = self.component(&fpath, f, &["HttpResponseFilter"])?;
            let action = filter.get("action").and_then(Value::as_str).unwrap_or("FAIL").to_ascii_lowercase();
            if !matches!(action.as_str(), "ignore" | "retry" | "fail" | "rate_limited") {
                return Err(self.refuse(
                    &format!("{fpath}.action"),
                    fkind,
                    format!("action `{}` is not supported", action.to_ascii_uppercase()),
                ));
            }
            let mut rule = json!({ "action": action });
            if let Some(codes) = filter.get("http_codes").and_then(Value::as_array).filter(|c| !c.is_empty()) {
                rule["statuses"] = json!(codes);
            }
            if let Some(text) = filter.get("error_message_contains").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                rule["body_contains"] = json!(text);
            }
            if let Some(predicate) = filter.get("predicate").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
                rule["when"] = json!(predicate);
            }
            if let Some(message) = filter.get("error_message").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                rule["message"] = json!(message);
            }
            rules.push(rule);
        }
        for (i, b) in
            m.get("backoff_strategies").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate()
        {
            let bpath = format!("{path}.backoff_strategies[{i}]");
            let (s, bkind) = self.component(
                &bpath,
                b,
                &[
                    "ExponentialBackoffStrategy",
                    "ConstantBackoffStrategy",
                    "WaitTimeFromHeader",
                    "WaitUntilTimeFromHeader",
                ],
            )?;
            let params = parameters_of(s);
            let native = match bkind {
                "ExponentialBackoffStrategy" => {
                    let factor = match s.get("factor") {
                        Some(v) if !v.is_null() => self.number(&format!("{bpath}.factor"), bkind, v, &params)?,
                        _ => 5.0,
                    };
                    json!({ "type": "exponential", "factor": factor })
                }
                "ConstantBackoffStrategy" => {
                    let seconds = self.number(
                        &format!("{bpath}.backoff_time_in_seconds"),
                        bkind,
                        s.get("backoff_time_in_seconds").unwrap_or(&Value::Null),
                        &params,
                    )?;
                    json!({ "type": "constant", "seconds": seconds })
                }
                "WaitTimeFromHeader" => {
                    let mut n = json!({ "type": "header", "header": self.string(&bpath, bkind, s, "header")? });
                    if let Some(regex) = s.get("regex").and_then(Value::as_str) {
                        n["regex"] = json!(regex);
                    }
                    n
                }
                _ => {
                    let mut n = json!({ "type": "until_header", "header": self.string(&bpath, bkind, s, "header")? });
                    if let Some(regex) = s.get("regex").and_then(Value::as_str) {
                        n["regex"] = json!(regex);
                    }
                    if let Some(min) = s.get("min_wait").filter(|v| !v.is_null()) {
                        n["min_wait"] = json!(self.number(&format!("{bpath}.min_wait"), bkind, min, &params)?);
                    }
                    n
                }
            };
            retry.backoff.push(native);
        }
        Ok(())
    }

    /// An `HTTPAPIBudget` as one pace for the whole connector: the slowest of its rates
    /// (a policy for some endpoints only is applied to all, which is slower but safe).
    fn api_budget(&mut self, path: &str, value: &Value) -> Result<Option<f64>> {
        let (budget, _) = self.component(path, value, &["HTTPAPIBudget"])?;
        let mut slowest: Option<f64> = None;
        let mut pace = |per_second: f64| slowest = Some(slowest.map_or(per_second, |s| s.min(per_second)));
        for (i, policy) in
            budget.get("policies").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate()
        {
            let ppath = format!("{path}.policies[{i}]");
            let (p, kind) = self.component(
                &ppath,
                policy,
                &["MovingWindowCallRatePolicy", "FixedWindowCallRatePolicy", "UnlimitedCallRatePolicy"],
            )?;
            let windows: Vec<(Value, Value)> = match kind {
                "MovingWindowCallRatePolicy" => p
                    .get("rates")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| {
                        (
                            r.get("limit").cloned().unwrap_or(Value::Null),
                            r.get("interval").cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect(),
                "FixedWindowCallRatePolicy" => vec![(
                    p.get("call_limit").cloned().unwrap_or(Value::Null),
                    p.get("period").cloned().unwrap_or(Value::Null),
                )],
                _ => Vec::new(),
            };
            for (limit, interval) in windows {
                let limit = self.number(&format!("{ppath}.limit"), kind, &limit, &Object::new())?;
                let seconds = interval
                    .as_str()
                    .and_then(|t| crate::declarative::manifest::duration_text::parse(&duration(t)).ok())
                    .map(|d| d.as_secs_f64())
                    .filter(|s| *s > 0.0)
                    .ok_or_else(|| {
                        self.refuse(&format!("{ppath}.interval"), kind, format!("`{interval}` is not a duration"))
                    })?;
                pace(limit / seconds);
            }
        }
        Ok(slowest)
    }

    fn number(&self, path: &str, kind: &str, value: &Value, parameters: &Object) -> Result<f64> {
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => substitute_parameters(s, parameters).trim().to_string(),
            other => other.to_string(),
        };
        text.parse::<f64>().map_err(|_| {
            self.refuse(
                path,
                kind,
                format!("`{text}` must be a number here (txlake does not template it from the config)"),
            )
        })
    }
}

/// Whether a paginator template reads the records from `response` (so the paginator needs
/// the whole body: `full_response`).
fn mentions_records(template: &str, records_first_key: &str) -> bool {
    if !template.contains("response") {
        return false;
    }
    if records_first_key.is_empty() {
        // The body is the records: any use of `response` beyond headers reads them.
        return template.contains("response[")
            || template.contains("response|")
            || template.contains("response |")
            || template.contains("response)");
    }
    [
        format!("response.{records_first_key}"),
        format!("response['{records_first_key}']"),
        format!("response[\"{records_first_key}\"]"),
        format!("response.get('{records_first_key}'"),
        format!("response.get(\"{records_first_key}\""),
    ]
    .iter()
    .any(|needle| template.contains(needle.as_str()))
}

/// An ISO 8601 duration the native parser reads: months and years become 30 and 365 days
/// (a window's length only decides how the range is cut; every record is still read).
fn duration(text: &str) -> String {
    let Some(rest) = text.trim().strip_prefix('P') else { return text.to_string() };
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut days = 0u64;
    let mut number = String::new();
    let mut other = String::new();
    for c in date.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().unwrap_or(0);
        match c {
            'Y' => days += n * 365,
            'M' => days += n * 30,
            'W' => days += n * 7,
            'D' => days += n,
            _ => other.push(c),
        }
        number.clear();
    }
    if !other.is_empty() || !number.is_empty() {
        return text.to_string();
    }
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if let Some(t) = time {
        out.push('T');
        out.push_str(t);
    }
    if out == "P" { text.to_string() } else { out }
}

/// Every template of the translated manifest, checked against Airbyte's interpolation subset
/// so an unknown macro or filter is refused at load with its place.
fn check_templates(walk: &Walk<'_>, native: &Value) -> Result<()> {
    let mut found = Vec::new();
    collect_templates("", native, &mut found);
    for (path, text) in found {
        if let Err(problem) = crate::declarative::template_airbyte::check_template(&text) {
            return Err(walk.refuse(&path, "interpolation", format!("`{text}`: {problem}")));
        }
    }
    Ok(())
}

fn collect_templates(path: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if is_template(s) => out.push((path.to_string(), s.clone())),
        Value::Object(map) => {
            for (k, v) in map {
                // Schemas, specs and constants hold no templates the engine renders.
                if matches!(k.as_str(), "spec" | "schema" | "parameters") {
                    continue;
                }
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                collect_templates(&p, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_templates(&format!("{path}[{i}]"), v, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A manifest in the shape of the real ones (Workable, Typeform, Zendesk Chat): a shared
    /// requester by `$ref`, streams by `$ref` with `$parameters`, a substream, an incremental
    /// stream, two paginators, an error handler and a spec with secrets.
    const MANIFEST: &str = r##"
version: 6.44.0
type: DeclarativeSource
description: "Acme Forms\nmore text"
check:
  type: CheckStream
  stream_names: [forms]
definitions:
  requester:
    type: HttpRequester
    url_base: "https://api.acme.com/v1"
    http_method: GET
    authenticator:
      type: BearerAuthenticator
      api_token: "{{ config['access_token'] }}"
    error_handler:
      type: CompositeErrorHandler
      error_handlers:
        - type: DefaultErrorHandler
          max_retries: 3
          response_filters:
            - type: HttpResponseFilter
              action: IGNORE
              http_codes: [404]
              error_message: "gone"
          backoff_strategies:
            - type: WaitTimeFromHeader
              header: Retry-After
        - type: DefaultErrorHandler
          backoff_strategies:
            - type: ExponentialBackoffStrategy
              factor: 2
  paginator:
    type: DefaultPaginator
    page_token_option:
      type: RequestOption
      inject_into: request_parameter
      field_name: after
    page_size_option:
      inject_into: request_parameter
      field_name: page_size
    pagination_strategy:
      type: CursorPagination
      page_size: 200
      cursor_value: "{{ response.items[-1].id }}"
      stop_condition: "{{ not response.items }}"
  base_stream:
    type: DeclarativeStream
    primary_key: id
    retriever:
      type: SimpleRetriever
      requester:
        $ref: "#/definitions/requester"
      record_selector:
        type: RecordSelector
        extractor:
          field_path: ["{{ parameters.records }}"]
      paginator:
        $ref: "#/definitions/paginator"
    schema_loader:
      type: InlineSchemaLoader
      schema:
        type: object
        properties:
          id: { type: string }
          name: { type: [string, "null"] }
  forms:
    $ref: "#/definitions/base_stream"
    $parameters:
      name: forms
      path: /forms
      records: items
  responses:
    $ref: "#/definitions/base_stream"
    $parameters:
      name: responses
      path: "/forms/{{ stream_partition.form_id }}/responses"
      records: items
    retriever:
      $ref: "#/definitions/base_stream/retriever"
      paginator:
        type: DefaultPaginator
        page_token_option:
          type: RequestPath
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{ response._links.next }}"
      partition_router:
        type: SubstreamPartitionRouter
        parent_stream_configs:
          - type: ParentStreamConfig
            stream: "#/definitions/forms"
            parent_key: id
            partition_field: form_id
    incremental_sync:
      type: DatetimeBasedCursor
      cursor_field: submitted_at
      datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      cursor_datetime_formats: ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"]
      start_datetime:
        type: MinMaxDatetime
        datetime: "{{ config['start_date'] }}"
        datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      end_datetime: "{{ now_utc().strftime('%Y-%m-%dT%H:%M:%SZ') }}"
      step: P1M
      cursor_granularity: PT1S
      lookback_window: P1D
      start_time_option:
        type: RequestOption
        inject_into: request_parameter
        field_name: since
    transformations:
      - type: AddFields
        fields:
          - path: [form_id]
            value: "{{ stream_partition.form_id }}"
      - type: RemoveFields
        field_pointers: [[answers, "*", field, ref]]
streams:
  - $ref: "#/definitions/forms"
  - $ref: "#/definitions/responses"
spec:
  type: Spec
  documentation_url: https://docs.acme.com
  connection_specification:
    type: object
    required: [access_token]
    properties:
      access_token: { type: string, airbyte_secret: true }
      start_date: { type: string }
concurrency_level:
  type: ConcurrencyLevel
  default_concurrency: 3
  max_concurrency: 10
"##;

    fn translate_text(text: &str) -> Result<Translated> {
        super::super::translate("acme/manifest.yaml", "acme", text, None)
    }

    fn refusal(text: &str) -> String {
        translate_text(text).err().map(|e| e.to_string()).unwrap_or_else(|| panic!("not refused:\n{text}"))
    }

    #[test]
    fn a_manifest_translates_into_the_native_keys() {
        let t = translate_text(MANIFEST).unwrap();
        t.connector("acme/manifest.yaml").unwrap();
        let m = &t.manifest;
        assert_eq!(m["name"], "acme");
        assert_eq!(m["description"], "Acme Forms");
        assert_eq!(m["documentation"], "https://docs.acme.com");
        assert_eq!(m["templates"], "airbyte");
        assert_eq!(m["check"], json!({ "stream": "forms" }));
        assert_eq!(m["spec"]["properties"]["access_token"]["x-secret"], true);
        let r = &m["requester"];
        assert_eq!(r["base_url"], "https://api.acme.com/v1");
        assert_eq!(r["auth"], json!({ "type": "bearer", "token": "{{ config['access_token'] }}" }));
        assert_eq!(r["concurrency"], 3);
        assert_eq!(r["retry"]["max_attempts"], 6, "max_retries + 1, the largest of the handlers");
        assert_eq!(
            r["retry"]["backoff"],
            json!([{ "type": "header", "header": "Retry-After" }, { "type": "exponential", "factor": 2.0 }])
        );

        let forms = &m["streams"][0];
        assert_eq!(forms["name"], "forms");
        assert_eq!(forms["primary_key"], json!(["id"]));
        assert_eq!(forms["request"]["path"], "/forms");
        assert_eq!(forms["request"]["params"], json!({ "page_size": 200 }), "page_size_option on every page");
        assert_eq!(forms["records"]["path"], "items", "field_path from $parameters");
        assert_eq!(
            forms["paginator"],
            json!({ "type": "cursor", "token": "{{ response.items[-1].id }}", "inject": { "param": "after" }, "stop": "{{ not response.items }}", "full_response": true })
        );
        assert_eq!(forms["responses"], json!([{ "action": "ignore", "statuses": [404], "message": "gone" }]));
        assert_eq!(forms["parameters"]["records"], "items");
        assert_eq!(forms["schema"]["properties"]["id"]["type"], "string");

        let responses = &m["streams"][1];
        assert_eq!(responses["request"]["path"], "/forms/{{ stream_partition.form_id }}/responses");
        assert_eq!(responses["request"]["params"]["since"], "{{ stream_interval.start_time }}");
        assert_eq!(responses["paginator"], json!({ "type": "next_url", "url": "{{ response._links.next }}" }));
        assert_eq!(responses["partition"], json!({ "stream": "forms", "parent_key": "id", "field": "form_id" }));
        let inc = &responses["incremental"];
        assert_eq!(inc["cursor_field"], "submitted_at");
        assert_eq!(inc["format"], "%Y-%m-%dT%H:%M:%SZ");
        assert_eq!(inc["formats"], json!(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"]));
        assert!(inc.get("request_format").is_none(), "the same as the first parse format");
        assert_eq!(inc["start"], "{{ config['start_date'] }}");
        assert_eq!(inc["end"], "{{ now_utc().strftime('%Y-%m-%dT%H:%M:%SZ') }}");
        assert_eq!(inc["step"], "P30D", "a month window becomes 30 days");
        assert_eq!(inc["granularity"], "PT1S");
        assert_eq!(inc["lookback"], "P1D");
        assert_eq!(inc["client_filter"], false);
        assert_eq!(
            responses["add_fields"],
            json!([{ "path": ["form_id"], "value": "{{ stream_partition.form_id }}" }])
        );
        assert_eq!(responses["remove_fields"], json!([["answers", "*", "field", "ref"]]));
    }

    #[test]
    fn a_refusal_names_the_path_the_type_and_the_advice() {
        let text = MANIFEST.replace(
            "type: CursorPagination\n      page_size: 200",
            "type: CustomPaginationStrategy\n      class_name: source_acme.Pager\n      page_size: 200",
        );
        let err = refusal(&text);
        assert!(err.contains("streams[0].retriever.paginator.pagination_strategy"), "{err}");
        assert!(err.contains("CustomPaginationStrategy") && err.contains("source_acme.Pager"), "{err}");
        assert!(err.contains("connector = \"airbyte:"), "{err}");

        let text = MANIFEST.replace("type: SimpleRetriever", "type: AsyncRetriever");
        let err = refusal(&text);
        assert!(err.contains("`streams[0].retriever` (AsyncRetriever)"), "{err}");

        let budget = "api_budget:\n  type: HTTPAPIBudget\n  policies:\n    - type: MovingWindowCallRatePolicy\n      rates: [{ limit: 200, interval: PT1M }, { limit: 5, interval: PT1S }]\n";
        let t = translate_text(&format!("{MANIFEST}{budget}")).unwrap();
        assert_eq!(t.manifest["requester"]["rate_limit"]["requests_per_second"].as_f64().unwrap(), 200.0 / 60.0);

        let text = format!("{MANIFEST}dynamic_streams:\n  - type: DynamicDeclarativeStream\n");
        let err = refusal(&text);
        assert!(err.contains("`dynamic_streams` (DynamicDeclarativeStream)"), "{err}");

        let text = MANIFEST.replace("type: RemoveFields", "type: KeysToLower");
        let err = refusal(&text);
        assert!(err.contains("streams[1].transformations[1]") && err.contains("KeysToLower"), "{err}");

        let text = MANIFEST.replace(
            "inject_into: request_parameter\n      field_name: after",
            "inject_into: body_data\n      field_name: after",
        );
        let err = refusal(&text);
        assert!(err.contains("streams[0].retriever.paginator.page_token_option.inject_into"), "{err}");
    }

    #[test]
    fn a_stream_authenticating_differently_is_refused() {
        let text = MANIFEST.replace(
            "      partition_router:\n",
            "      requester:\n        $ref: \"#/definitions/requester\"\n        authenticator: { type: BasicHttpAuthenticator, username: \"{{ config.user }}\" }\n      partition_router:\n",
        );
        let err = refusal(&text);
        assert!(err.contains("streams[1].retriever.requester.authenticator") && err.contains("differently"), "{err}");
    }

    #[test]
    fn another_url_base_becomes_an_absolute_path() {
        let text = MANIFEST.replace(
            "      partition_router:\n",
            "      requester:\n        $ref: \"#/definitions/requester\"\n        url_base: \"https://{{ config.region }}.acme.com\"\n      partition_router:\n",
        );
        let t = translate_text(&text).unwrap();
        assert_eq!(
            t.manifest["streams"][1]["request"]["path"],
            "https://{{ config.region }}.acme.com/forms/{{ stream_partition.form_id }}/responses"
        );
    }

    #[test]
    fn a_parent_outside_the_streams_is_hidden() {
        let text = MANIFEST.replace("  - $ref: \"#/definitions/forms\"\n", "");
        let t = translate_text(&text).unwrap();
        let streams = t.manifest["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0]["name"], "responses");
        assert_eq!(streams[1]["name"], "forms");
        assert_eq!(streams[1]["hidden"], true);
        assert!(t.manifest.get("check").is_none(), "the check stream is not a stream of the source");
    }

    fn one_stream(retriever_extra: &str, requester_extra: &str) -> String {
        format!(
            r#"
version: 6.0.0
type: DeclarativeSource
streams:
  - type: DeclarativeStream
    name: users
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: https://api.example.com
        path: /users
{requester_extra}
      record_selector:
        type: RecordSelector
        extractor: {{ type: DpathExtractor, field_path: [data, "*", "user.info"] }}
{retriever_extra}
"#
        )
    }

    #[test]
    fn paginators_translate() {
        let page = "      paginator:\n        type: DefaultPaginator\n        page_token_option: { type: RequestOption, inject_into: request_parameter, field_name: page }\n        page_size_option: { type: RequestOption, inject_into: request_parameter, field_name: per_page }\n        pagination_strategy: { type: PageIncrement, page_size: 50, start_from_page: 1 }";
        let t = translate_text(&one_stream(page, "")).unwrap();
        t.connector("acme/manifest.yaml").unwrap();
        let s = &t.manifest["streams"][0];
        assert_eq!(
            s["paginator"],
            json!({ "type": "page_number", "param": "page", "start": 1, "size": 50, "size_param": "per_page" })
        );
        assert_eq!(s["records"]["path"], "data.*.\"user.info\"");

        let offset =
            page.replace("PageIncrement, page_size: 50, start_from_page: 1", "OffsetIncrement, page_size: \"100\"");
        let t = translate_text(&one_stream(&offset, "")).unwrap();
        assert_eq!(
            t.manifest["streams"][0]["paginator"],
            json!({ "type": "offset", "param": "page", "limit": 100, "limit_param": "per_page" })
        );

        // Without a page size: the offset grows by each page's records (no limit sent).
        let unsized_offset = page.replace("PageIncrement, page_size: 50, start_from_page: 1", "OffsetIncrement");
        let t = translate_text(&one_stream(&unsized_offset, "")).unwrap();
        t.connector("acme/manifest.yaml").unwrap();
        assert_eq!(t.manifest["streams"][0]["paginator"], json!({ "type": "offset", "param": "page" }));

        let templated = page.replace("page_size: 50", "page_size: \"{{ config['page_size'] }}\"");
        let err = refusal(&one_stream(&templated, ""));
        assert!(err.contains("streams[0].retriever.paginator.pagination_strategy.page_size"), "{err}");

        let none = "      paginator: { type: NoPagination }";
        assert!(translate_text(&one_stream(none, "")).unwrap().manifest["streams"][0].get("paginator").is_none());
    }

    #[test]
    fn authenticators_translate() {
        let auth = |block: &str| {
            translate_text(&one_stream("", &format!("        authenticator: {block}"))).map(|t| {
                // The engine accepts what the translation emits.
                t.connector("acme/manifest.yaml").unwrap();
                t.manifest["requester"]["auth"].clone()
            })
        };
        assert_eq!(
            auth("{ type: ApiKeyAuthenticator, api_token: \"Token {{ config.key }}\", inject_into: { type: RequestOption, inject_into: header, field_name: Authorization } }").unwrap(),
            json!({ "type": "api_key", "value": "Token {{ config.key }}", "header": "Authorization" })
        );
        assert_eq!(
            auth("{ type: ApiKeyAuthenticator, api_token: \"{{ config.key }}\", inject_into: { type: RequestOption, inject_into: request_parameter, field_name: key } }").unwrap(),
            json!({ "type": "api_key", "value": "{{ config.key }}", "param": "key" })
        );
        assert_eq!(
            auth("{ type: BasicHttpAuthenticator, username: \"{{ config.key }}\" }").unwrap(),
            json!({ "type": "basic", "username": "{{ config.key }}", "password": "" })
        );
        assert_eq!(auth("{ type: NoAuth }").unwrap(), Value::Null);
        assert_eq!(
            auth("{ type: OAuthAuthenticator, token_refresh_endpoint: \"https://x/token\", client_id: a, client_secret: b, refresh_token: c, scopes: [read] }").unwrap(),
            json!({ "type": "oauth2", "token_url": "https://x/token", "client_id": "a", "client_secret": "b", "refresh_token": "c", "scopes": ["read"] })
        );
        assert_eq!(
            auth("{ type: OAuthAuthenticator, grant_type: client_credentials, token_refresh_endpoint: \"https://x/token\", client_id: a, client_secret: b, access_token_name: token, refresh_request_body: { audience: api } }").unwrap(),
            json!({ "type": "oauth2", "grant_type": "client_credentials", "token_url": "https://x/token", "client_id": "a", "client_secret": "b", "token_path": "token", "body": { "audience": "api" } })
        );
        let selective = auth(
            "{ type: SelectiveAuthenticator, authenticator_selection_path: [credentials, auth_type], authenticators: { oauth2.0: { type: BearerAuthenticator, api_token: \"{{ config.credentials.access_token }}\" }, api_key: { type: ApiKeyAuthenticator, api_token: \"{{ config.credentials.key }}\", header: X-Key } } }",
        )
        .unwrap();
        assert_eq!(selective["type"], "select");
        let option = |value: &str| {
            selective["options"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["when"].as_str().unwrap().contains(value))
                .cloned()
                .unwrap()
        };
        assert_eq!(option("oauth2.0")["when"], "{{ config[\"credentials\"][\"auth_type\"] == \"oauth2.0\" }}");
        assert_eq!(
            option("api_key")["auth"],
            json!({ "type": "api_key", "value": "{{ config.credentials.key }}", "header": "X-Key" })
        );
        let session = auth(
            "{ type: SessionTokenAuthenticator, login_requester: { type: HttpRequester, url_base: \"https://api.example.com\", path: /login, http_method: POST, request_body_json: { username: \"{{ config.user }}\", password: \"{{ config.password }}\" } }, session_token_path: [data, token], expiration_duration: PT1H, request_authorization: { type: Bearer } }",
        );
        let err = session.unwrap_err().to_string();
        assert!(err.contains("request_authorization") && err.contains("Bearer"), "an unknown type is refused: {err}");
        let session = auth(
            "{ type: SessionTokenAuthenticator, login_requester: { type: HttpRequester, url_base: \"https://api.example.com\", path: /login, http_method: POST, request_body_json: { username: \"{{ config.user }}\" } }, session_token_path: [data, token], expiration_duration: PT1H, request_authorization: { type: SessionTokenRequestApiKeyAuthenticator, inject_into: { type: RequestOption, inject_into: header, field_name: X-Session } } }",
        )
        .unwrap();
        assert_eq!(
            session,
            json!({
                "type": "session_token",
                "login": { "url": "https://api.example.com/login", "method": "POST", "body": { "username": "{{ config.user }}" } },
                "token_path": "data.token",
                "expires_in": "PT1H",
                "inject": { "header": "X-Session" },
            })
        );
        let err = auth("{ type: JwtAuthenticator }").unwrap_err().to_string();
        assert!(
            err.contains("streams[0].retriever.requester.authenticator") && err.contains("JwtAuthenticator"),
            "{err}"
        );
    }

    #[test]
    fn list_partitions_filters_and_bodies_translate() {
        let extra = "      partition_router:\n        - { type: ListPartitionRouter, values: [a, b], cursor_field: kind, request_option: { type: RequestOption, inject_into: request_parameter, field_name: kind } }\n        - { type: ListPartitionRouter, values: \"{{ config.regions }}\", cursor_field: region }";
        let selector_filter = "        record_filter: { type: RecordFilter, condition: \"{{ record.active }}\" }";
        let text = one_stream(extra, "        http_method: POST\n        request_body_json: { query: \"{{ stream_partition.kind }}\" }\n        request_headers: { X-Version: 2 }")
            .replace("user.info\"] }\n", &format!("user.info\"] }}\n{selector_filter}\n"));
        let t = translate_text(&text).unwrap();
        t.connector("acme/manifest.yaml").unwrap();
        let s = &t.manifest["streams"][0];
        assert_eq!(
            s["partition"],
            json!([{ "values": ["a", "b"], "field": "kind", "inject": { "param": "kind" } }, { "values": "{{ config.regions }}", "field": "region" }])
        );
        assert_eq!(s["records"]["filter"], "{{ record.active }}");
        assert_eq!(s["request"]["method"], "POST");
        assert_eq!(s["request"]["body"], json!({ "query": "{{ stream_partition.kind }}" }));
        assert_eq!(s["request"]["headers"], json!({ "X-Version": "2" }));
    }

    #[test]
    fn a_broken_template_is_refused_with_its_place() {
        let err = refusal(&one_stream("", "        request_parameters: { q: \"{{ config.q \" }"));
        assert!(err.contains("streams[0].request.params.q"), "{err}");
    }

    #[test]
    fn parameters_are_substituted_where_literals_are_needed() {
        let mut p = Object::new();
        p.insert("name".into(), json!("users"));
        p.insert("size".into(), json!(50));
        assert_eq!(substitute_parameters("./schemas/{{ parameters.name }}.json", &p), "./schemas/users.json");
        assert_eq!(substitute_parameters("{{ parameters['size'] }}", &p), "50");
        assert_eq!(substitute_parameters("{{ config.x }}-{{ parameters[\"name\"] }}", &p), "{{ config.x }}-users");
        assert_eq!(substitute_parameters("{{ parameters.get('data_path') or parameters.get('name') }}", &p), "users");
        assert_eq!(substitute_parameters("{{ parameters.get('nope', 'x') }}", &p), "x");
        assert_eq!(substitute_parameters("{{ parameters.name or config.x }}", &p), "users");
        assert_eq!(substitute_parameters("{{ config.x or parameters.name }}", &p), "{{ config.x or parameters.name }}");
        assert_eq!(duration("P1Y2M3DT4H"), "P428DT4H");
        assert_eq!(duration("PT0.5S"), "PT0.5S");
    }
}
