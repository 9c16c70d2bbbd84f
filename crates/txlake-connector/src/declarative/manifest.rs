//! The manifest of a declarative connector (`connectors/<name>/manifest.yaml`): typed, with
//! serde defaults, parsed so that every mistake names the file, the key path and what was
//! expected. The reference for authors is `docs/connectors/manifest.md`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ConnectorError;

/// A whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version; only `1` exists.
    #[serde(default = "one")]
    pub version: u32,
    /// The connector name connections use (`connector = "hubspot"`).
    pub name: String,
    /// One line on what it reads.
    pub description: String,
    /// Where users read more (the vendor's API docs or the connector README).
    #[serde(default)]
    pub documentation: Option<String>,
    /// JSON Schema of the configuration; secrets carry `x-secret: true`. A `base_url`
    /// property is added when absent, so every connector can be pointed at a sandbox, a
    /// proxy or a test server.
    pub spec: Value,
    /// Request settings shared by every stream.
    pub requester: Requester,
    /// How `txlake connectors check` proves the configuration works.
    #[serde(default)]
    pub check: Option<Check>,
    /// The streams.
    pub streams: Vec<StreamDefinition>,
    /// For survey tools: how discover lists every survey's questions (`Catalog.questions`).
    #[serde(default)]
    pub questions: Vec<Questions>,
    /// Which variables, macros and filters the manifest's templates use: txlake's own
    /// (default) or Airbyte's (`templates: airbyte`, set by the Airbyte manifest translator).
    #[serde(default)]
    pub templates: TemplateDialect,
}

/// The template language of a manifest (top-level `templates:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateDialect {
    /// txlake's variables (`state`, `slice`, `partition`, …) and filters.
    #[default]
    Native,
    /// Airbyte's interpolation: `stream_slice`, `stream_interval`, `stream_state`,
    /// `next_page_token['next_page_token']`, `parameters`, its macros and filters, Python
    /// string/dict/list methods, and a template rendering a Python literal keeps its type.
    Airbyte,
}

/// One way of finding survey questions at discover: a stream read in full, and templates
/// that turn each of its records (or each item of a list inside a record) into a question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Questions {
    /// The stream whose records describe the questions (read with its partitions).
    pub stream: String,
    /// A dotted path to the questions inside a record (`pages.questions`): every list met
    /// on the way is walked, and each element at its end is `item`, the element one list up
    /// (or the record) `parent`. Empty: each record is one `item`.
    #[serde(default)]
    pub each: String,
    /// Keep only items for which this condition over `record`, `parent`, `item` holds.
    #[serde(default)]
    pub filter: Option<String>,
    /// The survey's id (a template).
    pub survey_id: String,
    /// The survey's title (a template).
    #[serde(default)]
    pub survey_title: String,
    /// The question's id as answers name it: `tx.survey_answers.field` (a template).
    pub field: String,
    /// The question's text (a template).
    pub question: String,
    /// The tool's type of the question (a template).
    pub kind: String,
    /// The lowest answer of a numeric scale (a template rendering an integer; empty: none).
    #[serde(default)]
    pub scale_min: Option<String>,
    /// The highest answer of a numeric scale (a template rendering an integer; empty: none).
    #[serde(default)]
    pub scale_max: Option<String>,
}

fn one() -> u32 {
    1
}

/// HTTP settings shared by every stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// Base URL (a template); `config.base_url` overrides it when set.
    pub base_url: String,
    /// Headers sent with every request (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameters sent with every request (templates).
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// How requests authenticate.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Seconds before a request is abandoned (and retried).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// At most this many requests per second for the whole connector.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Retries of 429, 5xx and transport failures.
    #[serde(default)]
    pub retry: Retry,
    /// Rules that turn a response into an error (APIs that answer errors with 200).
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
    /// Rules over every response (status, body, headers) deciding what happens to it:
    /// ignore, retry, fail, rate limited (Airbyte's `HttpResponseFilter`). A stream's own
    /// `responses` are tried first; an unmatched response is handled as without rules.
    #[serde(default)]
    pub responses: Vec<ResponseRule>,
    /// How many window slices or partitions are fetched at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Request quotas the API reports in response headers (a daily budget): logged at the
    /// end of a read, and a 429 with a spent quota fails the read at once.
    #[serde(default)]
    pub quota: Vec<Quota>,
}

/// A request budget an API reports in headers of every response (SurveyMonkey:
/// `X-Ratelimit-App-Global-Day-Remaining`). The remaining budget is logged at the end of a
/// read (a warning when low); a 429 while it is 0 is not retried but fails the read naming
/// the quota and when it resets, since waiting hours for it would only hold the sync.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// What the quota is called in messages (`day`).
    pub name: String,
    /// The header carrying the quota's size.
    #[serde(default)]
    pub limit_header: Option<String>,
    /// The header carrying the requests left.
    pub remaining_header: String,
    /// The header saying when the quota resets: seconds from now, a unix time, or an HTTP
    /// or RFC 3339 date.
    #[serde(default)]
    pub reset_header: Option<String>,
    /// Warn at the end of a read when fewer requests than this are left; default a tenth
    /// of the limit.
    #[serde(default)]
    pub warn_below: Option<u64>,
}

fn default_timeout_secs() -> u64 {
    30
}

fn default_concurrency() -> usize {
    4
}

/// Authentication of every request.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// A key in a header or a query parameter.
    ApiKey {
        /// The key (a template, e.g. `{{ config.api_key }}`).
        value: String,
        /// The header that carries it.
        #[serde(default)]
        header: Option<String>,
        /// The query parameter that carries it (when not a header).
        #[serde(default)]
        param: Option<String>,
        /// Text put before the key in the header (`Token `).
        #[serde(default)]
        prefix: Option<String>,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token (a template).
        token: String,
    },
    /// HTTP Basic.
    Basic {
        /// The user name (a template).
        username: String,
        /// The password (a template; may be empty).
        #[serde(default)]
        password: String,
    },
    /// The first option whose `when` holds for the connection's config (or that has no
    /// `when`): a personal token or OAuth 2, whichever the connection configures.
    Select {
        /// The options, in order.
        options: Vec<AuthOption>,
    },
    /// OAuth 2: an access token is fetched from `token_url` (with a refresh token, or with
    /// the client's own credentials), reused until shortly before it expires, and fetched
    /// again once when a request gets a 401.
    Oauth2 {
        /// `refresh_token` (default) or `client_credentials`.
        #[serde(default)]
        grant_type: GrantType,
        /// The token endpoint (a template).
        token_url: String,
        /// The client id (a template).
        client_id: String,
        /// The client secret (a template).
        client_secret: String,
        /// The refresh token (a template); needed by the `refresh_token` grant.
        #[serde(default)]
        refresh_token: String,
        /// Scopes asked for, if the provider wants them.
        #[serde(default)]
        scopes: Vec<String>,
        /// Lifetime assumed when the token response has no `expires_in`.
        #[serde(default = "default_token_lifetime_secs")]
        default_expires_in_secs: u64,
        /// Where the access token is in the token response: a dotted path; a single name not
        /// at the top is searched for in nested objects (as Airbyte does). Default
        /// `access_token`.
        #[serde(default)]
        token_path: Option<String>,
        /// Where the token's lifetime in seconds is in the token response (same rules);
        /// default `expires_in`.
        #[serde(default)]
        expires_in_path: Option<String>,
        /// Extra fields of the token request's form (templates); the standard fields win.
        #[serde(default)]
        body: BTreeMap<String, Value>,
    },
    /// A login request whose answer carries a session token, sent with every request
    /// (Airbyte's `SessionTokenAuthenticator`): logged in again when it expires and once
    /// when a request gets a 401.
    SessionToken {
        /// The login request.
        login: LoginRequest,
        /// Dotted path to the token in the login's JSON answer (`data.token`).
        token_path: String,
        /// How long a token lives (`PT1H`, `30m`); none: it never expires (logged in again
        /// only on a 401).
        #[serde(default, with = "duration_text::option")]
        expires_in: Option<Duration>,
        /// Where the token goes in every request.
        inject: TokenInject,
    },
    /// No authentication (Airbyte's `NoAuth`); the same as leaving `auth` out.
    None,
}

/// The OAuth 2 grant of [`Auth::Oauth2`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// A refresh token is exchanged for an access token.
    #[default]
    RefreshToken,
    /// The client id and secret alone get an access token.
    ClientCredentials,
}

/// The login request of [`Auth::SessionToken`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The login URL (a template); a path is joined onto the base URL.
    pub url: String,
    /// HTTP method; default POST.
    #[serde(default = "post")]
    pub method: Method,
    /// Query parameters (templates over `config`).
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Headers (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (strings in it are templates).
    #[serde(default)]
    pub body: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`; values are templates).
    #[serde(default)]
    pub body_form: Option<BTreeMap<String, Value>>,
}

fn post() -> Method {
    Method::Post
}

/// Where a session token goes: `{ header: Authorization, prefix: "Bearer " }` or
/// `{ param: token }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInject {
    /// The header that carries the token.
    #[serde(default)]
    pub header: Option<String>,
    /// Text put before the token in the header.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The query parameter that carries the token (when not a header).
    #[serde(default)]
    pub param: Option<String>,
}

/// A rule over a response (Airbyte's `HttpResponseFilter`). It matches when ANY of its
/// conditions holds: the status is listed, the error message in the body contains the text,
/// or `when` holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseRule {
    /// Statuses that match.
    #[serde(default)]
    pub statuses: Vec<u16>,
    /// Text the body's error message contains (the message as Airbyte finds it: a JSON
    /// body's `message`, `error`, `errors`, `detail`, … fields; a non-JSON body's text).
    #[serde(default)]
    pub body_contains: Option<String>,
    /// A condition over `response` (the parsed body, `{}` when not JSON), `headers`
    /// (lower-case names), `status` and `config`.
    #[serde(default)]
    pub when: Option<String>,
    /// What happens to a matching response.
    pub action: ResponseAction,
    /// The error or log text (a template over the same variables).
    #[serde(default)]
    pub message: Option<String>,
}

/// What a [`ResponseRule`] does with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseAction {
    /// The response gives no records and its page loop ends; the stream goes on.
    Ignore,
    /// Retried with the backoff, under `retry.max_attempts` and the read's budget.
    Retry,
    /// The stream fails with the message.
    Fail,
    /// A rate limit: retried like `retry`.
    RateLimited,
}

/// A way to compute the wait before a retry (Airbyte's backoff strategies).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Backoff {
    /// `factor · 2^attempt` seconds, `attempt` the number of the try that failed (1 first).
    Exponential {
        /// Seconds; default 5.
        #[serde(default = "five")]
        factor: f64,
    },
    /// Always the same wait.
    Constant {
        /// Seconds.
        seconds: f64,
    },
    /// The wait in seconds a response header says (`Retry-After`).
    Header {
        /// The header.
        header: String,
        /// A regex matched at the start of the header's value; the whole match is the number.
        #[serde(default)]
        regex: Option<String>,
        /// Fail instead of waiting this many seconds or more.
        #[serde(default)]
        max_wait: Option<f64>,
    },
    /// Wait until the unix time a response header says (`X-RateLimit-Reset`).
    UntilHeader {
        /// The header.
        header: String,
        /// A regex matched at the start of the header's value; the whole match is the number.
        #[serde(default)]
        regex: Option<String>,
        /// Wait at least this many seconds (also when the header is missing).
        #[serde(default)]
        min_wait: Option<f64>,
        /// Fail instead of waiting this many seconds or more.
        #[serde(default)]
        max_wait: Option<f64>,
    },
}

fn five() -> f64 {
    5.0
}

/// One backoff or a list of them (`retry.backoff`).
fn one_or_many_backoffs<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Backoff>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Backoff>),
        One(Backoff),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(list) => list,
        OneOrMany::One(one) => vec![one],
    })
}

/// One option of [`Auth::Select`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthOption {
    /// A condition over `config` (`config.refresh_token`); none: always applies.
    #[serde(default)]
    pub when: Option<String>,
    /// The authentication used when it applies.
    pub auth: Box<Auth>,
}

fn default_token_lifetime_secs() -> u64 {
    3600
}

/// A request-rate ceiling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per second, for the whole connector.
    pub requests_per_second: f64,
}

/// How failed requests are retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Tries of one request, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First backoff when the response has no `Retry-After`; doubles each time, with jitter.
    #[serde(default = "default_base_delay_ms")]
    pub base_delay_ms: u64,
    /// Longest wait between two tries (also caps `Retry-After`).
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// Retries allowed in one read across all requests; past it the read fails.
    #[serde(default = "default_budget")]
    pub budget: u32,
    /// Statuses that are retried (transport errors and timeouts always are).
    #[serde(default = "default_retry_statuses")]
    pub statuses: Vec<u16>,
    /// How long to wait before a retry: one strategy or a list tried in order, the first
    /// that gives a wait wins; none gives one (or none listed): `Retry-After`, else
    /// `base_delay_ms` doubling with jitter. `max_delay_ms` caps every wait.
    #[serde(default, deserialize_with = "one_or_many_backoffs")]
    pub backoff: Vec<Backoff>,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            base_delay_ms: default_base_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
            budget: default_budget(),
            statuses: default_retry_statuses(),
            backoff: Vec::new(),
        }
    }
}

fn default_max_attempts() -> u32 {
    6
}
fn default_base_delay_ms() -> u64 {
    500
}
fn default_max_delay_ms() -> u64 {
    60_000
}
fn default_budget() -> u32 {
    200
}
fn default_retry_statuses() -> Vec<u16> {
    vec![408, 429, 500, 502, 503, 504]
}

/// A rule that turns a response into an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// A condition over `response` (the parsed body) and `status`, e.g.
    /// `response.exception is defined`.
    pub when: String,
    /// The error text (a template).
    pub message: String,
    /// What kind of failure it is.
    #[serde(default)]
    pub kind: ErrorKind,
}

/// The kind of failure an [`ErrorRule`] signals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Credentials are wrong or lack rights.
    Auth,
    /// Anything else the source reports.
    #[default]
    Source,
    /// A transient failure: retried like a 503.
    Retry,
}

/// What `check` does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The stream whose first page is fetched.
    pub stream: String,
}

/// One stream of a declarative connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamDefinition {
    /// Stream name (`contacts`): the raw table name.
    pub name: String,
    /// What one record is.
    #[serde(default)]
    pub description: String,
    /// Columns that identify a record.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// The request of every page.
    pub request: Request,
    /// Where the records are in a response.
    #[serde(default)]
    pub records: RecordSelector,
    /// How the next page is asked for; none: one page.
    #[serde(default)]
    pub paginator: Option<Paginator>,
    /// How reads resume from a cursor; none: full refresh only.
    #[serde(default)]
    pub incremental: Option<Incremental>,
    /// Read the stream once per partition: per record of a parent stream, per value of a
    /// list; a list of partition forms reads their cartesian product.
    #[serde(default)]
    pub partition: Partitions,
    /// Fields added to every record (templates): a map `{column: template}` (constant for a
    /// page, e.g. the parent's id) or a list `[{path: [a, b], value: template}]` whose paths
    /// may be nested and whose values may use `record`.
    #[serde(default)]
    pub add_fields: AddFields,
    /// Field pointers removed from every record (`[[a, b], [c]]`; a `*` segment matches
    /// every key or element).
    #[serde(default)]
    pub remove_fields: Vec<Vec<String>>,
    /// Read only as another stream's partition parent: never a table, not in the catalog.
    #[serde(default)]
    pub hidden: bool,
    /// JSON Schema of a record; none: inferred from the first pages at discover.
    #[serde(default)]
    pub schema: Option<Value>,
    /// Response rules of this stream, tried before the requester's `responses`.
    #[serde(default)]
    pub responses: Vec<ResponseRule>,
    /// Constants the stream's templates read as `parameters.x` (`templates: airbyte`; the
    /// translator fills it from the component's resolved `$parameters`).
    #[serde(default)]
    pub parameters: serde_json::Map<String, Value>,
}

/// A request, relative to the requester.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Path appended to the base URL (a template); a full URL is used as it is.
    #[serde(default)]
    pub path: String,
    /// HTTP method.
    #[serde(default)]
    pub method: Method,
    /// Query parameters (templates); a value that renders empty is left out.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Extra headers (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (strings in it are templates).
    #[serde(default)]
    pub body: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`; values are templates), instead
    /// of `body` (Airbyte's `request_body_data`).
    #[serde(default)]
    pub body_form: Option<BTreeMap<String, Value>>,
}

/// HTTP methods a stream may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    #[default]
    Get,
    /// POST (search APIs).
    Post,
}

/// Where a response's records are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSelector {
    /// Dotted path to the array of records (`results`, `data.items`); empty: the body is
    /// the array (or the one record).
    #[serde(default)]
    pub path: String,
    /// Keep only records for which this condition over `record` holds.
    #[serde(default)]
    pub filter: Option<String>,
}

/// How a stream asks for the next page.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Paginator {
    /// A token from the body goes into the next request.
    Cursor {
        /// The token (a template over `response`, `headers`, `last_record`); empty: last page.
        token: String,
        /// Where the token goes.
        inject: Inject,
        /// Stop condition over `response` (besides an empty token).
        #[serde(default)]
        stop: Option<String>,
        /// `response` in the templates is the whole body, records included (slower: the
        /// page is parsed twice); otherwise the body without the records.
        #[serde(default)]
        full_response: bool,
    },
    /// The body carries the next page's full URL.
    NextUrl {
        /// The URL (a template over `response`); empty: last page.
        url: String,
        /// Stop condition over `response` (besides an empty URL).
        #[serde(default)]
        stop: Option<String>,
        /// `response` in the templates is the whole body, records included (slower: the
        /// page is parsed twice); otherwise the body without the records.
        #[serde(default)]
        full_response: bool,
    },
    /// The `Link: <…>; rel="next"` header carries the next page's URL.
    LinkHeader,
    /// Pages are numbered.
    PageNumber {
        /// The parameter carrying the page number.
        param: String,
        /// The first page's number.
        #[serde(default = "one_u64")]
        start: u64,
        /// Records per page; a shorter page is the last.
        size: u64,
        /// The parameter carrying the page size, if the API takes one.
        #[serde(default)]
        size_param: Option<String>,
        /// Stop condition over `response` (besides a short page).
        #[serde(default)]
        stop: Option<String>,
        /// `response` in the templates is the whole body, records included (slower: the
        /// page is parsed twice); otherwise the body without the records.
        #[serde(default)]
        full_response: bool,
    },
    /// Pages are offsets into the result.
    Offset {
        /// The parameter carrying the offset.
        param: String,
        /// Records per page; a shorter page is the last. Without it the offset grows by the
        /// records each page had, and an empty page is the last (Airbyte's `OffsetIncrement`
        /// without `page_size`).
        #[serde(default)]
        limit: Option<u64>,
        /// The parameter carrying the limit, if the API takes one (sent only with a `limit`).
        #[serde(default)]
        limit_param: Option<String>,
        /// Stop condition over `response` (besides a short page).
        #[serde(default)]
        stop: Option<String>,
        /// `response` in the templates is the whole body, records included (slower: the
        /// page is parsed twice); otherwise the body without the records.
        #[serde(default)]
        full_response: bool,
    },
}

fn one_u64() -> u64 {
    1
}

/// Where a value goes in a request: `{ param: NAME }`, `{ body: NAME }` or `{ header: NAME }`.
#[derive(Debug, Clone)]
pub enum Inject {
    /// A query parameter.
    Param(String),
    /// A top-level field of the JSON body.
    Body(String),
    /// A header.
    Header(String),
}

impl<'de> Deserialize<'de> for Inject {
    // Read as a struct, not an enum: serde_yaml takes enums as YAML tags when the map
    // arrives through another visitor (a list of partitions).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Written {
            #[serde(default)]
            param: Option<String>,
            #[serde(default)]
            body: Option<String>,
            #[serde(default)]
            header: Option<String>,
        }
        let written = Written::deserialize(deserializer)?;
        match (written.param, written.body, written.header) {
            (Some(p), None, None) => Ok(Inject::Param(p)),
            (None, Some(b), None) => Ok(Inject::Body(b)),
            (None, None, Some(h)) => Ok(Inject::Header(h)),
            _ => Err(serde::de::Error::custom("expected exactly one of `param`, `body` or `header`")),
        }
    }
}

/// How a stream reads only what changed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// The top-level record field the cursor advances on.
    pub cursor_field: String,
    /// How the field's values are written.
    #[serde(default)]
    pub format: CursorFormat,
    /// How cursor values are written into requests (`slice.start`, `state.cursor`);
    /// default: as `format`.
    #[serde(default)]
    pub request_format: Option<CursorFormat>,
    /// Where a first read starts (a template rendering RFC 3339, a date, or unix seconds);
    /// empty: the beginning of time.
    #[serde(default)]
    pub start: Option<String>,
    /// Read the time since the cursor in windows of this length (`30d`, `12h`, `P7D`).
    #[serde(default, with = "duration_text::option")]
    pub step: Option<Duration>,
    /// Where the last window ends (a template rendering a date-time); default: now. A
    /// later end than now is cut to now.
    #[serde(default)]
    pub end: Option<String>,
    /// The cursor's smallest increment (`PT1S`, `PT0.000001S`, `P1D`): a window ends this
    /// much before the next one starts (Airbyte's `cursor_granularity`), so windows whose
    /// bounds are inclusive do not overlap.
    #[serde(default, with = "duration_text::option")]
    pub granularity: Option<Duration>,
    /// Formats tried in order to parse record cursors (then `format`); Airbyte's
    /// `cursor_datetime_formats`.
    #[serde(default)]
    pub formats: Vec<CursorFormat>,
    /// Records come newest first: paging stops after a page whose last record is at or
    /// before the saved cursor (Airbyte's `is_data_feed`).
    #[serde(default)]
    pub data_feed: bool,
    /// Start each read this long before the saved cursor (for sources whose change index
    /// lags); records inside it may be read again.
    #[serde(default, with = "duration_text::option")]
    pub lookback: Option<Duration>,
    /// Drop records at or before the saved cursor (for APIs that cannot filter, or filter
    /// by day).
    #[serde(default = "yes")]
    pub client_filter: bool,
    /// Records arrive in ascending cursor order, so a checkpoint can follow every page.
    #[serde(default)]
    pub sorted: bool,
    /// The API stops paging after this many results of one query (HubSpot search: 10,000);
    /// the read then starts a new query from the last record's cursor. Needs `sorted`.
    #[serde(default)]
    pub requery_after: Option<u64>,
    /// The request incremental reads use instead of the stream's (a search endpoint).
    #[serde(default)]
    pub request: Option<Request>,
    /// The paginator incremental reads use instead of the stream's.
    #[serde(default)]
    pub paginator: Option<Paginator>,
}

fn yes() -> bool {
    true
}

/// How cursor values are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CursorFormat {
    /// `2024-05-01T12:00:00Z` (any offset, any fraction).
    #[default]
    Rfc3339,
    /// Seconds since 1970.
    UnixSeconds,
    /// Milliseconds since 1970.
    UnixMillis,
    /// `2024-05-01`.
    Date,
    /// A `strftime` pattern with Python's meanings where they differ from chrono (`%f` is
    /// microseconds), plus Airbyte's `%s` (unix seconds), `%ms` (unix milliseconds) and
    /// `%s_as_float` (unix seconds with a fraction), in UTC.
    Custom(String),
}

impl<'de> Deserialize<'de> for CursorFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "rfc3339" => CursorFormat::Rfc3339,
            "unix_seconds" => CursorFormat::UnixSeconds,
            "unix_ms" => CursorFormat::UnixMillis,
            "date" => CursorFormat::Date,
            custom if custom.contains('%') => CursorFormat::Custom(custom.to_string()),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown cursor format `{other}`; expected rfc3339, unix_seconds, unix_ms, date, or a strftime pattern such as `%Y-%m-%d %H:%M:%S`"
                )));
            }
        })
    }
}

/// One partition form: the records of a parent stream, or a list of values.
///
/// - `{ stream: X }`: each record of `X` is `partition` (its fields at the top).
/// - `{ stream: X, parent_key: "id", field: "form_id", inject: {param: form_id} }`: each
///   record of `X` gives `partition.form_id` (its `parent_key`, a dotted path) and
///   `partition.parent` (the whole record).
/// - `{ values: [a, b] | "<template rendering a list>", field: "x", inject: {...} }`: each
///   value gives `partition.x`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The parent stream, read in full first.
    #[serde(default)]
    pub stream: Option<String>,
    /// A dotted path to the value in each parent record that identifies the partition.
    #[serde(default)]
    pub parent_key: Option<String>,
    /// The partition field the value is exposed as (`partition.<field>`).
    #[serde(default)]
    pub field: Option<String>,
    /// Where the value also goes in every request of the partition.
    #[serde(default)]
    pub inject: Option<Inject>,
    /// The values (a list, or a template over `config` rendering a list).
    #[serde(default)]
    pub values: Option<Value>,
}

/// A stream's partition forms: none, one, or several read as their cartesian product.
/// Written as one map or a list of them.
#[derive(Debug, Clone, Default)]
pub struct Partitions(pub Vec<Partition>);

impl Partitions {
    /// Whether the stream is partitioned.
    pub fn is_some(&self) -> bool {
        !self.0.is_empty()
    }

    /// The parent streams, in order.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| p.stream.as_deref())
    }
}

impl<'de> Deserialize<'de> for Partitions {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> serde::de::Visitor<'de> for OneOrMany {
            type Value = Partitions;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a partition (`{stream: ...}` or `{values: ..., field: ...}`) or a list of them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Partitions, A::Error> {
                Ok(Partitions(vec![Partition::deserialize(serde::de::value::MapAccessDeserializer::new(map))?]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Partitions, A::Error> {
                Ok(Partitions(Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Partitions, E> {
                Ok(Partitions::default())
            }
        }
        deserializer.deserialize_any(OneOrMany)
    }
}

/// One field of the list form of `add_fields`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddField {
    /// Where the value goes (`[a, b]`: inside the record's object `a`).
    pub path: Vec<String>,
    /// The value; strings are templates over `record`, `partition`, `slice`, `config`.
    pub value: Value,
}

/// A stream's `add_fields`, written as a map `{column: template}` or a list of [`AddField`].
#[derive(Debug, Clone, Default)]
pub struct AddFields(pub Vec<AddField>);

impl AddFields {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The top-level columns the fields add (the first segment of each path).
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for field in &self.0 {
            if let Some(first) = field.path.first()
                && !out.contains(first)
            {
                out.push(first.clone());
            }
        }
        out
    }
}

impl<'de> Deserialize<'de> for AddFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapOrList;
        impl<'de> serde::de::Visitor<'de> for MapOrList {
            type Value = AddFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map `{column: template}` or a list `[{path: [a, b], value: template}]`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<AddFields, A::Error> {
                let map = BTreeMap::<String, String>::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(AddFields(
                    map.into_iter().map(|(k, v)| AddField { path: vec![k], value: Value::String(v) }).collect(),
                ))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<AddFields, A::Error> {
                Ok(AddFields(Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<AddFields, E> {
                Ok(AddFields::default())
            }
        }
        deserializer.deserialize_any(MapOrList)
    }
}

/// Durations written as `90s`, `15m`, `12h`, `30d` or ISO 8601 (`P30D`, `PT1H`).
pub mod duration_text {
    use std::time::Duration;

    /// Parses a duration, or says what was expected.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let expected =
            || format!("`{text}` is not a duration; expected e.g. `90s`, `15m`, `12h`, `30d`, `P30D` or `PT1H`");
        let t = text.trim();
        if let Some(iso) = t.strip_prefix('P') {
            let (days, time) = iso.split_once('T').unwrap_or((iso, ""));
            // Months and years are taken as 30 and 365 days: durations cut windows and
            // lookbacks, where a calendar month's few days either way only move a boundary.
            let mut micros = 0f64;
            let mut take = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
                let mut number = String::new();
                for c in part.chars() {
                    if c.is_ascii_digit() || c == '.' {
                        number.push(c);
                    } else {
                        let unit = units.iter().find(|(u, _)| *u == c).ok_or_else(expected)?;
                        micros += number.parse::<f64>().map_err(|_| expected())? * unit.1 * 1e6;
                        number.clear();
                    }
                }
                if number.is_empty() { Ok(()) } else { Err(expected()) }
            };
            take(days, &[('Y', 31_536_000.0), ('M', 2_592_000.0), ('W', 604_800.0), ('D', 86_400.0)])?;
            take(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
            let micros = micros.round();
            return if micros >= 1.0 && micros.is_finite() {
                Ok(Duration::from_micros(micros as u64))
            } else {
                Err(expected())
            };
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(expected)?;
        let (number, unit) = t.split_at(split);
        let n: u64 = number.parse().map_err(|_| expected())?;
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(expected()),
        };
        if n == 0 {
            return Err(expected());
        }
        Ok(Duration::from_secs(n * unit_secs))
    }

    /// Serde support for `Option<Duration>` fields.
    pub mod option {
        use std::time::Duration;

        use serde::Deserialize;

        /// Deserializes an optional duration text.
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|text| super::parse(&text).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

impl Manifest {
    /// Parses a manifest; `origin` (the file path) is named in every error.
    pub fn parse(origin: &str, text: &str) -> Result<Manifest, ConnectorError> {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let manifest: Manifest = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let location =
                inner.location().map(|l| format!(" (line {}, column {})", l.line(), l.column())).unwrap_or_default();
            let key = if path == "." || path.is_empty() { String::from("the top level") } else { format!("`{path}`") };
            ConnectorError::Manifest {
                origin: origin.to_string(),
                message: format!(
                    "at {key}{location}: {}",
                    strip_location(&inner.to_string()).trim_start_matches(&format!("{path}: "))
                ),
            }
        })?;
        manifest.validate(origin)?;
        Ok(manifest)
    }

    /// Checks what serde cannot: references between streams, versions, names.
    fn validate(&self, origin: &str) -> Result<(), ConnectorError> {
        let fail = |path: String, message: String| {
            Err(ConnectorError::Manifest { origin: origin.to_string(), message: format!("at `{path}`: {message}") })
        };
        if self.version != 1 {
            return fail(
                "version".into(),
                format!("version {} is not supported; this txlake reads version 1", self.version),
            );
        }
        if self.name.is_empty()
            || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return fail(
                "name".into(),
                format!("`{}` is not a connector name; use lower-case letters, digits, `_` and `-`", self.name),
            );
        }
        if !self.spec.is_object() {
            return fail("spec".into(), "expected a JSON Schema object (`type: object` with `properties`)".into());
        }
        if self.streams.is_empty() {
            return fail("streams".into(), "a connector needs at least one stream".into());
        }
        let names: Vec<&str> = self.streams.iter().map(|s| s.name.as_str()).collect();
        for (i, stream) in self.streams.iter().enumerate() {
            if names.iter().filter(|n| **n == stream.name).count() > 1 {
                return fail(format!("streams[{i}].name"), format!("stream `{}` is defined twice", stream.name));
            }
            let many = stream.partition.0.len() > 1;
            let mut fields = Vec::new();
            for (j, partition) in stream.partition.0.iter().enumerate() {
                let at = |key: &str| {
                    if many {
                        format!("streams[{i}].partition[{j}].{key}")
                    } else {
                        format!("streams[{i}].partition.{key}")
                    }
                };
                match (&partition.stream, &partition.values) {
                    (Some(_), Some(_)) | (None, None) => {
                        return fail(
                            at("stream"),
                            "give either `stream` (a parent stream) or `values` (a list)".into(),
                        );
                    }
                    (None, Some(_)) if partition.parent_key.is_some() => {
                        return fail(at("parent_key"), "`parent_key` goes with `stream`, not with `values`".into());
                    }
                    _ => {}
                }
                if (partition.values.is_some() || partition.parent_key.is_some()) && partition.field.is_none() {
                    return fail(
                        at("field"),
                        "name the partition field the value is exposed as (`partition.<field>`)".into(),
                    );
                }
                if partition.inject.is_some() && partition.field.is_none() {
                    return fail(
                        at("inject"),
                        "`inject` needs `parent_key` and `field` (or `values` and `field`)".into(),
                    );
                }
                if let Some(field) = &partition.field {
                    if fields.contains(field) || field == "parent" {
                        return fail(at("field"), format!("the partition field `{field}` is taken"));
                    }
                    fields.push(field.clone());
                }
                if let Some(Value::String(_) | Value::Array(_)) | None = &partition.values {
                } else {
                    return fail(at("values"), "expected a list, or a template rendering a list".into());
                }
                if let Some(parent_name) = &partition.stream
                    && let Some(cycle) = self.partition_cycle(&stream.name, parent_name)
                {
                    return fail(at("stream"), cycle);
                }
            }
            if let Some(incremental) = &stream.incremental
                && incremental.requery_after.is_some()
                && !incremental.sorted
            {
                return fail(
                    format!("streams[{i}].incremental.requery_after"),
                    "needs `sorted: true` (a new query starts from the last record's cursor)".into(),
                );
            }
            if let Some(schema) = &stream.schema
                && schema.get("properties").and_then(Value::as_object).is_none()
            {
                return fail(format!("streams[{i}].schema"), "expected a JSON Schema object with `properties`".into());
            }
        }
        for (i, questions) in self.questions.iter().enumerate() {
            if !names.contains(&questions.stream.as_str()) {
                return fail(
                    format!("questions[{i}].stream"),
                    format!("no stream `{}`; streams are: {}", questions.stream, names.join(", ")),
                );
            }
        }
        validate_responses("requester.responses", &self.requester.responses).map_or(Ok(()), |(p, m)| fail(p, m))?;
        for (j, backoff) in self.requester.retry.backoff.iter().enumerate() {
            if let Backoff::Header { regex: Some(r), .. } | Backoff::UntilHeader { regex: Some(r), .. } = backoff
                && let Err(e) = regex::Regex::new(r)
            {
                return fail(format!("requester.retry.backoff[{j}].regex"), format!("not a regular expression: {e}"));
            }
        }
        for (i, stream) in self.streams.iter().enumerate() {
            validate_responses(&format!("streams[{i}].responses"), &stream.responses)
                .map_or(Ok(()), |(p, m)| fail(p, m))?;
            let requests = std::iter::once(("request", &stream.request)).chain(
                stream.incremental.iter().filter_map(|inc| Some(("incremental.request", inc.request.as_ref()?))),
            );
            for (key, request) in requests {
                if request.body.is_some() && request.body_form.is_some() {
                    return fail(format!("streams[{i}].{key}"), "give `body` (JSON) or `body_form`, not both".into());
                }
            }
        }
        let auths: Vec<(String, &Auth)> = match &self.requester.auth {
            Some(Auth::Select { options }) => options
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("requester.auth.options[{i}].auth"), o.auth.as_ref()))
                .collect(),
            Some(auth) => vec![("requester.auth".to_string(), auth)],
            None => Vec::new(),
        };
        for (path, auth) in auths {
            match auth {
                Auth::Oauth2 { grant_type: GrantType::RefreshToken, refresh_token, .. } if refresh_token.is_empty() => {
                    return fail(
                        format!("{path}.refresh_token"),
                        "the `refresh_token` grant needs a refresh token (or set `grant_type: client_credentials`)"
                            .into(),
                    );
                }
                Auth::SessionToken { inject, login, .. } => {
                    if inject.header.is_some() == inject.param.is_some() {
                        return fail(
                            format!("{path}.inject"),
                            "say where the token goes: `{ header: Authorization, prefix: \"Bearer \" }` or `{ param: token }`"
                                .into(),
                        );
                    }
                    if login.body.is_some() && login.body_form.is_some() {
                        return fail(format!("{path}.login"), "give `body` (JSON) or `body_form`, not both".into());
                    }
                }
                _ => {}
            }
        }
        if let Some(Auth::Select { options }) = &self.requester.auth {
            if options.is_empty() {
                return fail("requester.auth.options".into(), "list at least one authentication".into());
            }
            if options.iter().any(|o| matches!(*o.auth, Auth::Select { .. })) {
                return fail("requester.auth.options".into(), "an option cannot itself be `select`".into());
            }
        }
        if let Some(check) = &self.check
            && !names.contains(&check.stream.as_str())
        {
            return fail(
                "check.stream".into(),
                format!("no stream `{}`; streams are: {}", check.stream, names.join(", ")),
            );
        }
        Ok(())
    }

    /// Why reading `child` once per record of `parent` cannot work (no such stream, or a
    /// parent that is, through its own parents, partitioned by `child`), if it cannot.
    fn partition_cycle(&self, child: &str, parent: &str) -> Option<String> {
        let names: Vec<&str> = self.streams.iter().map(|s| s.name.as_str()).collect();
        let mut seen: Vec<String> = Vec::new();
        let mut next = vec![parent.to_string()];
        while let Some(name) = next.pop() {
            let Some(stream) = self.stream(&name) else {
                return Some(format!("no stream `{name}`; streams are: {}", names.join(", ")));
            };
            if name == child {
                return Some(format!("`{parent}` is itself read once per record of `{child}` (a cycle)"));
            }
            if seen.contains(&name) {
                continue;
            }
            next.extend(stream.partition.parents().map(str::to_string));
            seen.push(name);
        }
        None
    }

    /// The stream of that name.
    pub fn stream(&self, name: &str) -> Option<&StreamDefinition> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// The first rule without a condition, as (key path, message).
fn validate_responses(path: &str, rules: &[ResponseRule]) -> Option<(String, String)> {
    rules.iter().enumerate().find_map(|(i, rule)| {
        (rule.statuses.is_empty() && rule.body_contains.is_none() && rule.when.is_none()).then(|| {
            (format!("{path}[{i}]"), "a rule needs `statuses`, `body_contains` or `when` to match responses".into())
        })
    })
}

/// serde_yaml appends " at line L column C" to messages; the location is reported apart.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

impl StreamDefinition {
    /// The request of a read in this mode.
    pub fn request_for(&self, incremental: bool) -> &Request {
        match (&self.incremental, incremental) {
            (Some(Incremental { request: Some(request), .. }), true) => request,
            _ => &self.request,
        }
    }

    /// The paginator of a read in this mode.
    pub fn paginator_for(&self, incremental: bool) -> Option<&Paginator> {
        match (&self.incremental, incremental) {
            (Some(Incremental { paginator: Some(paginator), .. }), true) => Some(paginator),
            _ => self.paginator.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name: demo
description: A demo API.
spec: { type: object, properties: { token: { type: string, x-secret: true } } }
requester:
  base_url: https://api.example.com
  auth: { type: bearer, token: "{{ config.token }}" }
streams:
  - name: items
    primary_key: [id]
    request: { path: /items, params: { limit: 100 } }
    records: { path: data.items }
    paginator: { type: cursor, token: "{{ response.next }}", inject: { param: after } }
    incremental: { cursor_field: updated_at, step: 30d, lookback: PT1H }
"#;

    #[test]
    fn a_minimal_manifest_parses_with_defaults() {
        let m = Manifest::parse("demo/manifest.yaml", MINIMAL).unwrap();
        assert_eq!(m.requester.retry.max_attempts, 6);
        assert_eq!(m.requester.concurrency, 4);
        let s = &m.streams[0];
        assert_eq!(s.records.path, "data.items");
        let inc = s.incremental.as_ref().unwrap();
        assert_eq!(inc.step, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(inc.lookback, Some(Duration::from_secs(3_600)));
        assert!(inc.client_filter);
        assert!(matches!(s.paginator, Some(Paginator::Cursor { inject: Inject::Param(ref p), .. }) if p == "after"));
    }

    #[test]
    fn an_error_names_file_key_path_and_expectation() {
        let text = MINIMAL.replace("type: cursor", "type: cursr");
        let err = Manifest::parse("connectors/demo/manifest.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("connectors/demo/manifest.yaml"), "{err}");
        assert!(err.contains("streams[0].paginator"), "{err}");
        assert!(err.contains("cursor") && err.contains("page_number"), "{err}");

        let text =
            MINIMAL.replace("    records: { path: data.items }", "    records: { path: data.items }\n    colour: red");
        let err = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("streams[0]") && err.contains("colour"), "{err}");

        let text = MINIMAL.replace("step: 30d", "step: thirty");
        let err = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("streams[0].incremental.step") && err.contains("`thirty` is not a duration"), "{err}");
    }

    #[test]
    fn references_are_checked() {
        let text = format!("{MINIMAL}    partition: {{ stream: courses }}\n");
        let err = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("streams[0].partition.stream") && err.contains("no stream `courses`"), "{err}");
        let text = format!("{MINIMAL}check: {{ stream: nope }}\n");
        let err = Manifest::parse("m.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("check.stream"), "{err}");
    }

    #[test]
    fn questions_auth_options_and_quotas_parse() {
        let text = MINIMAL.replace(
            "  auth: { type: bearer, token: \"{{ config.token }}\" }",
            r#"  auth:
    type: select
    options:
      - when: config.refresh_token
        auth: { type: oauth2, token_url: "https://x/token", client_id: a, client_secret: b, refresh_token: c }
      - auth: { type: bearer, token: "{{ config.token }}" }
  quota:
    - { name: day, remaining_header: X-Day-Remaining, limit_header: X-Day-Limit, reset_header: X-Day-Reset }"#,
        ) + "questions:\n  - { stream: items, each: pages.questions, survey_id: \"{{ record.id }}\", field: \"{{ item.id }}\", question: \"{{ item.text }}\", kind: \"{{ item.type }}\" }\n";
        let m = Manifest::parse("m.yaml", &text).unwrap();
        assert!(matches!(&m.requester.auth, Some(Auth::Select { options }) if options.len() == 2));
        assert_eq!(m.requester.quota[0].remaining_header, "X-Day-Remaining");
        assert_eq!(m.questions[0].each, "pages.questions");
        let err = Manifest::parse("m.yaml", &text.replace("stream: items, each", "stream: nope, each")).unwrap_err();
        assert!(err.to_string().contains("questions[0].stream"), "{err}");
    }

    #[test]
    fn template_dialect_and_stream_parameters_parse() {
        let m = Manifest::parse("m.yaml", MINIMAL).unwrap();
        assert_eq!(m.templates, TemplateDialect::Native);
        assert!(m.streams[0].parameters.is_empty());
        let text = format!("templates: airbyte\n{MINIMAL}    parameters: {{ path: items, page_size: 50 }}\n");
        let m = Manifest::parse("m.yaml", &text).unwrap();
        assert_eq!(m.templates, TemplateDialect::Airbyte);
        assert_eq!(m.streams[0].parameters["path"], "items");
        let err = Manifest::parse("m.yaml", &format!("templates: python\n{MINIMAL}")).unwrap_err().to_string();
        assert!(err.contains("templates") && err.contains("airbyte"), "{err}");
    }

    #[test]
    fn http_keys_parse_auth_responses_backoff_and_form_bodies() {
        let text = MINIMAL
            .replace(
                "  auth: { type: bearer, token: \"{{ config.token }}\" }",
                r#"  auth: { type: oauth2, grant_type: client_credentials, token_url: "https://x/token", client_id: a, client_secret: b, token_path: data.token, expires_in_path: data.ttl, body: { audience: api } }
  responses:
    - { statuses: [404], action: ignore }
    - { body_contains: "rate limit", action: rate_limited, message: "slow down: {{ response.message }}" }
  retry:
    max_attempts: 4
    backoff:
      - { type: until_header, header: X-RateLimit-Reset, min_wait: 1 }
      - { type: header, header: Retry-After, regex: "[0-9.]+" }
      - { type: exponential, factor: 2 }
      - { type: constant, seconds: 10 }"#,
            )
            .replace(
                "    request: { path: /items, params: { limit: 100 } }",
                "    request: { path: /items, method: POST, body_form: { q: \"{{ config.q }}\" } }\n    responses: [{ when: \"response.error\", action: fail, message: \"{{ response.error }}\" }]",
            );
        let m = Manifest::parse("m.yaml", &text).unwrap();
        let Some(Auth::Oauth2 { grant_type, token_path, expires_in_path, body, refresh_token, .. }) = &m.requester.auth
        else {
            panic!("{:?}", m.requester.auth)
        };
        assert_eq!(*grant_type, GrantType::ClientCredentials);
        assert!(refresh_token.is_empty());
        assert_eq!((token_path.as_deref(), expires_in_path.as_deref()), (Some("data.token"), Some("data.ttl")));
        assert_eq!(body["audience"], "api");
        assert_eq!(m.requester.responses.len(), 2);
        assert_eq!(m.requester.responses[0].statuses, vec![404]);
        assert_eq!(m.requester.responses[1].action, ResponseAction::RateLimited);
        assert_eq!(m.requester.retry.backoff.len(), 4);
        assert!(matches!(m.requester.retry.backoff[2], Backoff::Exponential { factor } if factor == 2.0));
        assert!(matches!(&m.requester.retry.backoff[0], Backoff::UntilHeader { min_wait: Some(w), .. } if *w == 1.0));
        let s = &m.streams[0];
        assert_eq!(s.request.body_form.as_ref().unwrap()["q"], "{{ config.q }}");
        assert_eq!(s.responses[0].action, ResponseAction::Fail);

        // One backoff without a list; session token; `none`.
        let text = MINIMAL.replace(
            "  auth: { type: bearer, token: \"{{ config.token }}\" }",
            r#"  auth:
    type: session_token
    login: { url: /login, body_form: { user: "{{ config.user }}" } }
    token_path: session.id
    expires_in: PT1H
    inject: { header: Authorization, prefix: "Token " }
  retry: { backoff: { type: exponential } }"#,
        );
        let m = Manifest::parse("m.yaml", &text).unwrap();
        assert!(matches!(m.requester.retry.backoff[..], [Backoff::Exponential { factor }] if factor == 5.0));
        let Some(Auth::SessionToken { login, token_path, expires_in, inject }) = &m.requester.auth else {
            panic!("{:?}", m.requester.auth)
        };
        assert_eq!(
            (login.method, token_path.as_str(), *expires_in),
            (Method::Post, "session.id", Some(Duration::from_secs(3600)))
        );
        assert_eq!(inject.prefix.as_deref(), Some("Token "));
        let none = MINIMAL.replace("  auth: { type: bearer, token: \"{{ config.token }}\" }", "  auth: { type: none }");
        assert!(matches!(Manifest::parse("m.yaml", &none).unwrap().requester.auth, Some(Auth::None)));

        // Mistakes are named.
        let err = |from: &str, to: &str| Manifest::parse("m.yaml", &text.replace(from, to)).unwrap_err().to_string();
        let e = err("inject: { header: Authorization, prefix: \"Token \" }", "inject: {}");
        assert!(e.contains("requester.auth.inject"), "{e}");
        let e = err("  retry: { backoff: { type: exponential } }", "  responses: [{ action: ignore }]");
        assert!(e.contains("requester.responses[0]") && e.contains("statuses"), "{e}");
        let e = err(
            "  retry: { backoff: { type: exponential } }",
            "  retry: { backoff: [{ type: header, header: X, regex: \"(\" }] }",
        );
        assert!(e.contains("requester.retry.backoff[0].regex"), "{e}");
        let oauth = MINIMAL.replace(
            "  auth: { type: bearer, token: \"{{ config.token }}\" }",
            "  auth: { type: oauth2, token_url: t, client_id: a, client_secret: b }",
        );
        let e = Manifest::parse("m.yaml", &oauth).unwrap_err().to_string();
        assert!(e.contains("requester.auth.refresh_token") && e.contains("client_credentials"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text::parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration_text::parse("P1DT2H").unwrap(), Duration::from_secs(93_600));
        assert_eq!(duration_text::parse("P2W").unwrap(), Duration::from_secs(1_209_600));
        assert!(duration_text::parse("0d").is_err());
        assert!(duration_text::parse("5 days").is_err());
        assert_eq!(duration_text::parse("PT0.000001S").unwrap(), Duration::from_micros(1));
        assert_eq!(duration_text::parse("PT0.5S").unwrap(), Duration::from_millis(500));
        assert_eq!(duration_text::parse("P1M").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(duration_text::parse("P1Y").unwrap(), Duration::from_secs(365 * 86_400));
    }

    #[test]
    fn airbyte_read_keys_parse() {
        let text = MINIMAL.replace(
            "    incremental: { cursor_field: updated_at, step: 30d, lookback: PT1H }\n",
            r#"    incremental:
      cursor_field: updated_at
      step: P1D
      granularity: PT1S
      end: "{{ config.end_date }}"
      formats: ["%Y-%m-%dT%H:%M:%S%z", "%s"]
      data_feed: true
    remove_fields: [[secret], [nested, "*", token]]
    add_fields: [{ path: [meta, form], value: "{{ partition.form_id }}" }]
    partition:
      - { stream: forms, parent_key: meta.id, field: form_id, inject: { param: form_id } }
      - { values: [open, closed], field: status, inject: { header: X-Status } }
  - name: forms
    hidden: true
    request: { path: /forms }
    paginator: { type: cursor, token: "{{ response.data[-1].id }}", inject: { param: after }, full_response: true }
    add_fields: { source: api }
"#,
        );
        let m = Manifest::parse("m.yaml", &text).unwrap();
        let s = &m.streams[0];
        let inc = s.incremental.as_ref().unwrap();
        assert_eq!(inc.granularity, Some(Duration::from_secs(1)));
        assert_eq!(inc.end.as_deref(), Some("{{ config.end_date }}"));
        assert_eq!(
            inc.formats,
            [CursorFormat::Custom("%Y-%m-%dT%H:%M:%S%z".into()), CursorFormat::Custom("%s".into())]
        );
        assert!(inc.data_feed);
        assert_eq!(s.remove_fields, [vec!["secret".to_string()], vec!["nested".into(), "*".into(), "token".into()]]);
        assert_eq!(s.add_fields.0[0].path, ["meta", "form"]);
        assert_eq!(s.add_fields.columns(), ["meta"]);
        assert_eq!(s.partition.0.len(), 2);
        assert_eq!(s.partition.0[0].parent_key.as_deref(), Some("meta.id"));
        assert!(matches!(s.partition.0[1].inject, Some(Inject::Header(ref h)) if h == "X-Status"));
        assert_eq!(s.partition.parents().collect::<Vec<_>>(), ["forms"]);
        let forms = &m.streams[1];
        assert!(forms.hidden && !forms.partition.is_some());
        assert!(matches!(forms.paginator, Some(Paginator::Cursor { full_response: true, .. })));
        assert_eq!(forms.add_fields.0[0].value, Value::String("api".into()));

        let err = Manifest::parse("m.yaml", &text.replace("field: status, ", "")).unwrap_err().to_string();
        assert!(err.contains("streams[0].partition[1].field"), "{err}");
        let err = Manifest::parse("m.yaml", &text.replace("stream: forms, parent_key", "stream: items, parent_key"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("streams[0].partition[0].stream") && err.contains("cycle"), "{err}");
        let cyclic = text.replace("    hidden: true\n", "    hidden: true\n    partition: { stream: items }\n");
        let err = Manifest::parse("m.yaml", &cyclic).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
    }
}
