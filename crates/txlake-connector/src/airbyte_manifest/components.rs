//! Which Airbyte components run on our engine and how each maps onto the native manifest;
//! `connectors/AIRBYTE.md` mirrors [`SUPPORTED`]. A component whose type is not in the table
//! (any `Custom*` component or `class_name` included) is refused at load with its path.

/// How one Airbyte component is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Translated into the native manifest.
    Supported,
    /// Refused at load: the source runs as an `airbyte:` process instead.
    Refused,
}

/// One row of the component table.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    /// Airbyte's component type (`CursorPagination`).
    pub name: &'static str,
    /// Whether it runs.
    pub support: Support,
    /// What it becomes in the native manifest, or why it is refused.
    pub maps_to: &'static str,
}

const fn ok(name: &'static str, maps_to: &'static str) -> Component {
    Component { name, support: Support::Supported, maps_to }
}

const fn no(name: &'static str, maps_to: &'static str) -> Component {
    Component { name, support: Support::Refused, maps_to }
}

/// The component table, in the order `connectors/AIRBYTE.md` shows it.
pub const SUPPORTED: &[Component] = &[
    ok("DeclarativeSource", "the connector: `streams`, `spec`, `check`, `concurrency_level`; `templates: airbyte`"),
    ok("DeclarativeStream", "a stream: `name`, `primary_key`, `parameters` (its resolved `$parameters`)"),
    ok("SimpleRetriever", "the stream's `request`, `records`, `paginator`, `partition`"),
    ok(
        "HttpRequester",
        "`requester.base_url` (the first stream's `url_base`; a stream with another one gets an absolute `request.path`), `request.path`, `method`, `params`, `headers`, `body` (`request_body_json`), `body_form` (`request_body_data`)",
    ),
    ok("RecordSelector", "`records`"),
    ok("DpathExtractor", "`records.path` (`field_path: [a, \"*\", b]` → `a.*.b`)"),
    ok("RecordFilter", "`records.filter` (the condition)"),
    ok(
        "DefaultPaginator",
        "`paginator`; `page_size_option` becomes a request parameter / header / body field of every page",
    ),
    ok(
        "CursorPagination",
        "`paginator: cursor` (token into a `RequestOption`) or `next_url` (`RequestPath`); `stop_condition` → `stop`",
    ),
    ok("PageIncrement", "`paginator: page_number`"),
    ok("OffsetIncrement", "`paginator: offset`"),
    ok("NoPagination", "no paginator"),
    ok("RequestOption", "`inject: { param | header | body: field_name }`"),
    ok("RequestPath", "the next page's URL is the token (`paginator: next_url`)"),
    ok(
        "DatetimeBasedCursor",
        "`incremental`: `cursor_field`, `format` / `formats` (`cursor_datetime_formats`), `request_format` (`datetime_format`), `start`, `end`, `step`, `granularity`, `lookback`, `data_feed`, `client_filter` (`is_client_side_incremental`); start/end time options → request parameters over `stream_interval`",
    ),
    ok("MinMaxDatetime", "`incremental.start` / `end` (`min_datetime` / `max_datetime` clamp it)"),
    ok(
        "SubstreamPartitionRouter",
        "`partition: { stream, parent_key, field, inject }` (one parent config; a parent that is not a stream of the source becomes a `hidden` stream)",
    ),
    ok("ParentStreamConfig", "one `partition` entry; `incremental_dependency` reads the parent in full"),
    ok("ListPartitionRouter", "`partition: { values, field, inject }`"),
    ok("ApiKeyAuthenticator", "`auth: api_key`"),
    ok("BearerAuthenticator", "`auth: bearer`"),
    ok("BasicHttpAuthenticator", "`auth: basic`"),
    ok("OAuthAuthenticator", "`auth: oauth2` (refresh token or `grant_type: client_credentials`)"),
    ok("SessionTokenAuthenticator", "`auth: session_token` (login request, token path, expiry, injection)"),
    ok("SessionTokenRequestApiKeyAuthenticator", "`session_token.inject` (header or parameter)"),
    ok(
        "SessionTokenRequestBearerAuthenticator",
        "`session_token.inject: { header: Authorization, prefix: \"Bearer \" }`",
    ),
    ok("SelectiveAuthenticator", "`auth: select`, one option per value at `authenticator_selection_path`"),
    ok("NoAuth", "no auth"),
    ok(
        "DefaultErrorHandler",
        "`responses` rules of the stream, `requester.retry` (`max_retries` + 1 attempts, backoff)",
    ),
    ok("CompositeErrorHandler", "the rules of its handlers, in order"),
    ok("HttpResponseFilter", "one `responses` rule: `statuses`, `body_contains`, `when`, `action`, `message`"),
    ok("ExponentialBackoffStrategy", "`retry.backoff: { type: exponential, factor }`"),
    ok("ConstantBackoffStrategy", "`retry.backoff: { type: constant, seconds }`"),
    ok("WaitTimeFromHeader", "`retry.backoff: { type: header, header, regex }`"),
    ok("WaitUntilTimeFromHeader", "`retry.backoff: { type: until_header, header, regex, min_wait }`"),
    ok("AddFields", "`add_fields` (list form: `[{ path, value }]`)"),
    ok("AddedFieldDefinition", "one `add_fields` entry"),
    ok("RemoveFields", "`remove_fields`"),
    ok("InlineSchemaLoader", "the stream's `schema`"),
    ok(
        "JsonFileSchemaLoader",
        "the stream's `schema`, read from the file beside the manifest (or `schemas/<name>.json`); not found: inferred",
    ),
    ok("JsonDecoder", "the engine's JSON decoding"),
    ok("CheckStream", "`check: { stream: stream_names[0] }`"),
    ok("Spec", "`spec` (`connection_specification`, `airbyte_secret` → `x-secret`)"),
    ok("ConcurrencyLevel", "`requester.concurrency` (`default_concurrency`, else `max_concurrency`)"),
    ok("HTTPAPIBudget", "`requester.rate_limit`: the slowest rate of its policies, for every request"),
    ok("MovingWindowCallRatePolicy", "its `rates` (`limit` per `interval`)"),
    ok("FixedWindowCallRatePolicy", "`call_limit` per `period`"),
    ok("UnlimitedCallRatePolicy", "no pace"),
    ok(
        "LegacyToPerPartitionStateMigration",
        "nothing: the state is txlake's own (import with `--import-airbyte-state`)",
    ),
    no("AsyncRetriever", "asynchronous export jobs are not run by the declarative engine"),
    no("DynamicDeclarativeStream", "streams generated at run time from an API or the config"),
    no("StateDelegatingStream", "a stream whose definition depends on its state"),
    no("HttpComponentsResolver", "streams generated at run time from an API"),
    no("ConfigComponentsResolver", "streams generated at run time from the config"),
    no("DynamicSchemaLoader", "schemas fetched from the API at discover"),
    no("GroupingPartitionRouter", "partitions batched into groups"),
    no("CartesianProductStreamSlicer", "write the routers as a list (that is translated)"),
    no("DpathFlattenFields", "a transformation the engine lacks"),
    no("KeyTransformation", "a transformation the engine lacks"),
    no("KeysToLower", "a transformation the engine lacks"),
    no("KeysToSnakeCase", "a transformation the engine lacks"),
    no("KeysReplace", "a transformation the engine lacks"),
    no("FlattenFields", "a transformation the engine lacks"),
    no("IncrementingCountCursor", "a cursor the engine lacks"),
    no("PropertiesFromEndpoint", "query properties fetched from the API"),
    no("QueryProperties", "query properties fetched from the API"),
    no("JwtAuthenticator", "an authenticator the engine lacks"),
    no("LegacySessionTokenAuthenticator", "an authenticator the engine lacks"),
    no("XmlDecoder", "the engine decodes JSON only"),
    no("CsvDecoder", "the engine decodes JSON only"),
    no("GzipDecoder", "the engine decodes JSON only"),
    no("JsonlDecoder", "the engine decodes JSON only"),
    no("IterableDecoder", "the engine decodes JSON only"),
    no("ZipfileDecoder", "the engine decodes JSON only"),
    no("Custom* / class_name", "Python code shipped with the source"),
];

/// The table row of a component type, if it has one.
pub fn lookup(name: &str) -> Option<&'static Component> {
    SUPPORTED.iter().find(|c| c.name == name)
}

/// Whether a component type runs on our engine.
pub fn is_supported(name: &str) -> bool {
    lookup(name).is_some_and(|c| c.support == Support::Supported)
}

/// The component table as Markdown rows (`| component | supported | maps to |`), the body
/// of the table in `connectors/AIRBYTE.md`.
pub fn markdown_table() -> String {
    let mut out = String::from("| Airbyte component | | native manifest / why refused |\n|---|---|---|\n");
    for c in SUPPORTED {
        let support = match c.support {
            Support::Supported => "supported",
            Support::Refused => "**refused**",
        };
        out.push_str(&format!("| `{}` | {support} | {} |\n", c.name, c.maps_to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_is_listed_once() {
        for (i, c) in SUPPORTED.iter().enumerate() {
            assert!(SUPPORTED[..i].iter().all(|d| d.name != c.name), "{} twice", c.name);
        }
        assert!(is_supported("CursorPagination"));
        assert!(!is_supported("AsyncRetriever"));
        assert!(!is_supported("CustomRecordExtractor"));
        assert!(markdown_table().contains("| `OffsetIncrement` | supported | `paginator: offset` |"));
    }

    #[test]
    fn airbyte_md_mirrors_the_table() {
        let doc = include_str!("../../../../connectors/AIRBYTE.md");
        for c in SUPPORTED {
            assert!(doc.contains(&format!("`{}`", c.name)), "connectors/AIRBYTE.md does not name `{}`", c.name);
        }
    }
}
