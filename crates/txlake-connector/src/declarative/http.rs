//! The HTTP side of a declarative connector: authentication (API key, bearer, basic, OAuth 2
//! refresh token or client credentials, a session token from a login request), a
//! request-rate ceiling, retries of 429/5xx/transport failures with `Retry-After`, the
//! manifest's backoff strategies or exponential backoff with jitter under a per-read budget,
//! response rules (ignore / retry / fail / rate limited, Airbyte's `HttpResponseFilter`), the
//! manifest's rules for errors that arrive as 200, and the request quotas an API reports in
//! headers (a daily budget: reported at the end of a read, and a 429 once it is spent fails
//! at once instead of waiting hours).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use tokio::sync::Mutex;

use super::manifest::{
    Auth, Backoff, ErrorKind, ErrorRule, GrantType, LoginRequest, Method, Quota, ResponseAction, ResponseRule, Retry,
};
use super::template::{Templates, context};
use crate::error::ConnectorError;

/// One request, fully rendered.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// GET or POST.
    pub method: Method,
    /// The URL with its query.
    pub url: url::Url,
    /// Headers besides authentication.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`), sent instead of `body`.
    pub form: Option<Vec<(String, String)>>,
    /// The stream's own response rules, tried before the requester's.
    pub responses: Vec<ResponseRule>,
}

/// A successful response.
#[derive(Debug)]
pub struct Page {
    /// The URL that answered (secrets masked), for error messages.
    pub url: String,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// A response rule said `ignore`: the page gives no records and is the last of its
    /// page loop (the body is empty).
    pub ignored: bool,
}

/// Authentication with its templates rendered against the connection's config.
#[derive(Debug)]
enum Credentials {
    None,
    Header(HeaderName, HeaderValue),
    Param(String, String),
    /// A token fetched from the API (OAuth 2, a login), cached until it expires.
    Token(Box<TokenSource>),
}

/// Where a fetched token comes from and how it is sent.
#[derive(Debug)]
struct TokenSource {
    kind: TokenKind,
    /// The token and when it is due for renewal (`None`: never).
    cached: Mutex<Option<(String, Option<Instant>)>>,
}

#[derive(Debug)]
enum TokenKind {
    Oauth2 {
        token_url: String,
        form: Vec<(String, String)>,
        default_lifetime: Duration,
        token_path: String,
        expires_in_path: String,
    },
    Session {
        login: Login,
        token_path: String,
        lifetime: Option<Duration>,
        inject: SessionInject,
    },
}

/// A session login request, rendered (its URL is joined onto the base URL when sent).
#[derive(Debug)]
struct Login {
    method: Method,
    url: String,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    form: Option<Vec<(String, String)>>,
}

/// Where a session token goes.
#[derive(Debug)]
enum SessionInject {
    Header(HeaderName, String),
    Param(String),
}

/// A backoff strategy with its pattern compiled.
#[derive(Debug)]
enum Strategy {
    Exponential(f64),
    Constant(f64),
    Header { header: String, regex: Option<regex::Regex>, max_wait: Option<f64> },
    UntilHeader { header: String, regex: Option<regex::Regex>, min_wait: Option<f64>, max_wait: Option<f64> },
}

/// How a response rule decided.
#[derive(Debug, PartialEq)]
enum Verdict {
    Ignore(String),
    Retry(String),
    Fail(String),
}

/// Sends requests for one connector and one configuration.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    credentials: Credentials,
    retry: Retry,
    strategies: Vec<Strategy>,
    responses: Vec<ResponseRule>,
    /// The manifest's base URL and the one in use (`config.base_url`): a login URL under
    /// the first is moved under the second, a relative one joined onto it.
    base_urls: Option<(String, String)>,
    /// Tests: waits are recorded here instead of slept.
    recorded_waits: Option<std::sync::Mutex<Vec<Duration>>>,
    retries_used: AtomicU32,
    interval: Option<Duration>,
    next_slot: Mutex<Instant>,
    rules: Vec<ErrorRule>,
    templates: Arc<Templates>,
    config: Value,
    quotas: Vec<Quota>,
    /// The last reading of each quota, in the order of `quotas`.
    readings: std::sync::Mutex<Vec<Option<QuotaReading>>>,
}

/// What the headers of the last response said about one quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaReading {
    /// The quota's size, when the API says.
    pub limit: Option<u64>,
    /// Requests left.
    pub remaining: u64,
    /// When it resets, when the API says.
    pub resets_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Http {
    /// Renders the credentials and builds the client.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        auth: Option<&Auth>,
        retry: Retry,
        requests_per_second: Option<f64>,
        timeout: Duration,
        rules: Vec<ErrorRule>,
        quotas: Vec<Quota>,
        templates: Arc<Templates>,
        config: &Value,
    ) -> Result<Self, ConnectorError> {
        let ctx = context(&serde_json::json!({ "config": config }));
        let render = |t: &str, key: &str| templates.render(t, &ctx, &format!("requester.auth.{key}"));
        let auth = match auth {
            Some(Auth::Select { options }) => {
                let mut chosen = None;
                for (i, option) in options.iter().enumerate() {
                    let applies = match &option.when {
                        Some(when) => templates.condition(when, &ctx, &format!("requester.auth.options[{i}].when"))?,
                        None => true,
                    };
                    if applies {
                        chosen = Some(option.auth.as_ref());
                        break;
                    }
                }
                let conditions: Vec<&str> = options.iter().filter_map(|o| o.when.as_deref()).collect();
                Some(chosen.ok_or_else(|| ConnectorError::InvalidConfig {
                    connector: String::new(),
                    issues: vec![crate::ConfigIssue {
                        path: "config".into(),
                        message: format!(
                            "no way to authenticate is configured: set the settings one of these needs: {}",
                            conditions.join("; ")
                        ),
                    }],
                })?)
            }
            other => other,
        };
        let credentials = match auth {
            None | Some(Auth::None) => Credentials::None,
            Some(Auth::Select { .. }) => {
                return Err(ConnectorError::Internal("requester.auth: a `select` option is itself `select`".into()));
            }
            Some(Auth::ApiKey { value, header, param, prefix }) => {
                let key = render(value, "value")?;
                match (header, param) {
                    (Some(h), _) => Credentials::Header(
                        header_name(h)?,
                        secret_header(&format!("{}{key}", prefix.as_deref().unwrap_or("")))?,
                    ),
                    (None, Some(p)) => Credentials::Param(p.clone(), key),
                    (None, None) => {
                        return Err(ConnectorError::Internal(
                            "requester.auth (api_key) needs `header` or `param`".into(),
                        ));
                    }
                }
            }
            Some(Auth::Bearer { token }) => Credentials::Header(
                reqwest::header::AUTHORIZATION,
                secret_header(&format!("Bearer {}", render(token, "token")?))?,
            ),
            Some(Auth::Basic { username, password }) => {
                use base64::Engine as _;
                let pair = format!("{}:{}", render(username, "username")?, render(password, "password")?);
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                Credentials::Header(reqwest::header::AUTHORIZATION, secret_header(&format!("Basic {encoded}"))?)
            }
            Some(Auth::Oauth2 {
                grant_type,
                token_url,
                client_id,
                client_secret,
                refresh_token,
                scopes,
                default_expires_in_secs,
                token_path,
                expires_in_path,
                body,
            }) => {
                let mut form = vec![
                    (
                        "grant_type".to_string(),
                        match grant_type {
                            GrantType::RefreshToken => "refresh_token",
                            GrantType::ClientCredentials => "client_credentials",
                        }
                        .to_string(),
                    ),
                    ("client_id".to_string(), render(client_id, "client_id")?),
                    ("client_secret".to_string(), render(client_secret, "client_secret")?),
                ];
                if *grant_type == GrantType::RefreshToken {
                    form.push(("refresh_token".to_string(), render(refresh_token, "refresh_token")?));
                }
                if !scopes.is_empty() {
                    form.push(("scope".to_string(), scopes.join(" ")));
                }
                // Extra fields never replace the standard ones (as in Airbyte's refresh body).
                for (key, pair) in form_pairs(body, &templates, &ctx, "requester.auth.body")? {
                    if !form.iter().any(|(k, _)| *k == key) {
                        form.push((key, pair));
                    }
                }
                token_source(TokenKind::Oauth2 {
                    token_url: render(token_url, "token_url")?,
                    form,
                    default_lifetime: Duration::from_secs(*default_expires_in_secs),
                    token_path: token_path.clone().unwrap_or_else(|| "access_token".into()),
                    expires_in_path: expires_in_path.clone().unwrap_or_else(|| "expires_in".into()),
                })
            }
            Some(Auth::SessionToken { login, token_path, expires_in, inject }) => {
                let inject = match (&inject.header, &inject.param) {
                    (Some(h), _) => SessionInject::Header(header_name(h)?, inject.prefix.clone().unwrap_or_default()),
                    (None, Some(p)) => SessionInject::Param(p.clone()),
                    (None, None) => {
                        return Err(ConnectorError::Internal(
                            "requester.auth.inject (session_token) needs `header` or `param`".into(),
                        ));
                    }
                };
                token_source(TokenKind::Session {
                    login: render_login(login, &templates, &ctx)?,
                    token_path: token_path.clone(),
                    lifetime: *expires_in,
                    inject,
                })
            }
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("txlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Internal(format!("cannot build the HTTP client: {e}")))?;
        let strategies = retry
            .backoff
            .iter()
            .enumerate()
            .map(|(i, b)| {
                compile_backoff(b).map_err(|e| ConnectorError::Internal(format!("requester.retry.backoff[{i}]: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            client,
            credentials,
            retry,
            strategies,
            responses: Vec::new(),
            base_urls: None,
            recorded_waits: None,
            retries_used: AtomicU32::new(0),
            interval: requests_per_second.filter(|r| *r > 0.0).and_then(|r| Duration::try_from_secs_f64(1.0 / r).ok()),
            next_slot: Mutex::new(Instant::now()),
            rules,
            templates,
            config: config.clone(),
            readings: std::sync::Mutex::new(vec![None; quotas.len()]),
            quotas,
        })
    }

    /// The requester's response rules (tried after a stream's own).
    pub fn with_responses(mut self, rules: Vec<ResponseRule>) -> Self {
        self.responses = rules;
        self
    }

    /// The manifest's base URL and the one in use: a session login's URL is relative to
    /// the second, or under the first and then moved under the second (a test server, a
    /// proxy named by `config.base_url` receives the login too).
    pub fn with_base_urls(mut self, manifest: String, in_use: String) -> Self {
        self.base_urls = Some((manifest, in_use));
        self
    }

    /// Tests: waits before retries are recorded (see `waits`) instead of slept.
    #[cfg(test)]
    fn recording_waits(mut self) -> Self {
        self.recorded_waits = Some(std::sync::Mutex::new(Vec::new()));
        self
    }

    /// Tests: the waits recorded so far.
    #[cfg(test)]
    fn waits(&self) -> Vec<Duration> {
        self.recorded_waits.as_ref().map(|w| w.lock().unwrap().clone()).unwrap_or_default()
    }

    /// The last reading of every quota the API reported, with its definition.
    pub fn quota_readings(&self) -> Vec<(Quota, QuotaReading)> {
        let readings = self.readings.lock().unwrap_or_else(|p| p.into_inner());
        self.quotas.iter().cloned().zip(readings.iter().copied()).filter_map(|(q, r)| Some((q, r?))).collect()
    }

    /// Remembers what a response's headers say about the quotas.
    fn observe_quotas(&self, headers: &HeaderMap) {
        if self.quotas.is_empty() {
            return;
        }
        let mut readings = self.readings.lock().unwrap_or_else(|p| p.into_inner());
        for (quota, reading) in self.quotas.iter().zip(readings.iter_mut()) {
            if let Some(now) = quota_reading(quota, headers, chrono::Utc::now()) {
                *reading = Some(now);
            }
        }
    }

    /// When a 429 comes with a spent quota (by its own headers, or the last ones seen): the
    /// error that ends the read, instead of a retry that would wait for hours.
    fn spent_quota(&self, headers: &HeaderMap, url: &str) -> Option<ConnectorError> {
        let readings = self.readings.lock().unwrap_or_else(|p| p.into_inner());
        let now = chrono::Utc::now();
        self.quotas.iter().zip(readings.iter()).find_map(|(quota, last)| {
            let reading = quota_reading(quota, headers, now).or(*last)?;
            (reading.remaining == 0).then(|| ConnectorError::Source(spent_message(quota, &reading, url, now)))
        })
    }
    /// Retries spent so far in this read.
    pub fn retries_used(&self) -> u32 {
        self.retries_used.load(Ordering::Relaxed)
    }

    /// Sends a request, retrying what is transient, and returns the successful response
    /// (or an ignored one, `Page::ignored`).
    pub async fn send(&self, request: &PreparedRequest) -> Result<Page, ConnectorError> {
        let shown_url = self.masked(&request.url);
        let mut attempt = 1u32;
        let mut renewed = false;
        loop {
            self.wait_for_slot().await;
            let token = match &self.credentials {
                Credentials::Token(source) => Some(self.token(source, None).await?),
                _ => None,
            };
            let outcome = self.attempt(request, token.as_deref()).await;
            let failure = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    if status.as_u16() == 429
                        && let Some(spent) = self.spent_quota(&headers, &shown_url)
                    {
                        return Err(spent);
                    }
                    self.observe_quotas(&headers);
                    let body = match response.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            self.backoff(&shown_url, attempt, None, None, &format!("the body broke off: {e}")).await?;
                            attempt += 1;
                            continue;
                        }
                    };
                    let verdict = if request.responses.is_empty() && self.responses.is_empty() {
                        None
                    } else {
                        self.judge(&request.responses, status.as_u16(), &headers, &body, &request.url)?
                    };
                    match verdict {
                        Some(Verdict::Ignore(message)) => {
                            tracing::info!(url = shown_url, status = status.as_u16(), "response ignored: {message}");
                            return Ok(Page { url: shown_url, headers, body: Bytes::new(), ignored: true });
                        }
                        Some(Verdict::Fail(message)) => {
                            return Err(ConnectorError::Source(format!(
                                "{status} from {} {shown_url}: {message}",
                                method_name(request.method)
                            )));
                        }
                        Some(Verdict::Retry(message)) => {
                            let retry_after = retry_after(&headers);
                            self.backoff(
                                &shown_url,
                                attempt,
                                retry_after,
                                Some(&headers),
                                &format!("{status}: {message}"),
                            )
                            .await?;
                            attempt += 1;
                            continue;
                        }
                        None => {}
                    }
                    if status.is_success() {
                        match self.apply_rules(status.as_u16(), &body, &shown_url)? {
                            None => return Ok(Page { url: shown_url, headers, body, ignored: false }),
                            Some(message) => (None, Some(headers), message),
                        }
                    } else if status.as_u16() == 401 && matches!(self.credentials, Credentials::Token(_)) && !renewed {
                        // Once per request: the token may have expired early or been revoked.
                        renewed = true;
                        if let Credentials::Token(source) = &self.credentials {
                            self.token(source, token.as_deref()).await?;
                        }
                        continue;
                    } else if self.retry.statuses.contains(&status.as_u16()) {
                        (retry_after(&headers), Some(headers), format!("{status}: {}", snippet(&body)))
                    } else if status.as_u16() == 401 || status.as_u16() == 403 {
                        return Err(ConnectorError::Auth(format!(
                            "{status} from {} {shown_url}: {}; check the credentials in the connection's config",
                            method_name(request.method),
                            snippet(&body)
                        )));
                    } else {
                        return Err(ConnectorError::Source(format!(
                            "{status} from {} {shown_url}: {}",
                            method_name(request.method),
                            snippet(&body)
                        )));
                    }
                }
                Err(e) => (None, None, transport_error(&e)),
            };
            let (retry_after, headers, message) = failure;
            self.backoff(&shown_url, attempt, retry_after, headers.as_ref(), &message).await?;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        request: &PreparedRequest,
        token: Option<&str>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut url = request.url.clone();
        if let Credentials::Param(name, value) = &self.credentials {
            url.query_pairs_mut().append_pair(name, value);
        }
        let session = match &self.credentials {
            Credentials::Token(source) => match &source.kind {
                TokenKind::Session { inject, .. } => Some(inject),
                TokenKind::Oauth2 { .. } => None,
            },
            _ => None,
        };
        if let (Some(SessionInject::Param(name)), Some(token)) = (session, token) {
            url.query_pairs_mut().append_pair(name, token);
        }
        let mut builder = match request.method {
            Method::Get => self.client.get(url),
            Method::Post => self.client.post(url),
        };
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Credentials::Header(name, value) = &self.credentials {
            builder = builder.header(name, value);
        }
        if let Some(token) = token {
            match session {
                Some(SessionInject::Header(name, prefix)) => {
                    if let Ok(mut value) = HeaderValue::from_str(&format!("{prefix}{token}")) {
                        value.set_sensitive(true);
                        builder = builder.header(name, value);
                    }
                }
                Some(SessionInject::Param(_)) => {}
                None => builder = builder.bearer_auth(token),
            }
        }
        if let Some(form) = &request.form {
            builder = builder.form(form);
        } else if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        builder.send().await
    }

    /// Sleeps before the next try, or fails when tries or the read's budget are spent.
    async fn backoff(
        &self,
        url: &str,
        attempt: u32,
        retry_after: Option<Duration>,
        headers: Option<&HeaderMap>,
        message: &str,
    ) -> Result<(), ConnectorError> {
        if attempt >= self.retry.max_attempts {
            return Err(ConnectorError::Source(format!("{url}: gave up after {attempt} tries; last error: {message}")));
        }
        let used = self.retries_used.fetch_add(1, Ordering::Relaxed) + 1;
        if used > self.retry.budget {
            return Err(ConnectorError::Source(format!(
                "{url}: the read's retry budget ({}) is spent; last error: {message}",
                self.retry.budget
            )));
        }
        let chosen = strategy_wait(&self.strategies, attempt, headers, unix_now())
            .map_err(|e| ConnectorError::Source(format!("{url}: {e}; last error: {message}")))?;
        let delay = match chosen {
            Some(wait) => wait.min(Duration::from_millis(self.retry.max_delay_ms)),
            None => retry_delay(&self.retry, attempt, retry_after, rand::random::<f64>()),
        };
        tracing::warn!(url, attempt, delay_ms = delay.as_millis() as u64, "retrying: {message}");
        match &self.recorded_waits {
            Some(waits) => waits.lock().unwrap_or_else(|p| p.into_inner()).push(delay),
            None => tokio::time::sleep(delay).await,
        }
        Ok(())
    }

    /// The first response rule (the stream's, then the requester's) that matches, as what
    /// to do; `None`: the response is handled as without rules.
    fn judge(
        &self,
        stream_rules: &[ResponseRule],
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        url: &url::Url,
    ) -> Result<Option<Verdict>, ConnectorError> {
        // The body is parsed once, and only when a rule looks into it.
        let mut parsed: Option<Value> = None;
        let mut ctx: Option<minijinja::Value> = None;
        let mut context = |parsed: &mut Option<Value>| -> minijinja::Value {
            ctx.get_or_insert_with(|| {
                let response = parsed.get_or_insert_with(|| parse_body(body)).clone();
                let mut request_url = url.clone();
                request_url.set_query(None);
                request_url.set_fragment(None);
                context(&serde_json::json!({
                    "response": response,
                    "headers": headers_object(headers),
                    "status": status,
                    "status_code": status,
                    "request_url": request_url.as_str(),
                    "config": self.config,
                }))
            })
            .clone()
        };
        let rules = stream_rules
            .iter()
            .map(|r| ("streams.responses", r))
            .chain(self.responses.iter().map(|r| ("requester.responses", r)));
        for (i, (origin, rule)) in rules.enumerate() {
            let what = format!("{origin}[{i}]");
            let mut matched = rule.statuses.contains(&status);
            if !matched && let Some(text) = &rule.body_contains {
                matched = error_message(parsed.get_or_insert_with(|| parse_body(body)), body)
                    .is_some_and(|m| m.contains(text.as_str()));
            }
            if !matched && let Some(when) = &rule.when {
                matched = self.templates.condition(when, &context(&mut parsed), &format!("{what}.when"))?;
            }
            if !matched {
                continue;
            }
            let message = match &rule.message {
                Some(template) => self.templates.render(template, &context(&mut parsed), &format!("{what}.message"))?,
                None => String::new(),
            };
            let message = if message.trim().is_empty() {
                let found = error_message(parsed.get_or_insert_with(|| parse_body(body)), body);
                found.unwrap_or_else(|| snippet(body))
            } else {
                message
            };
            return Ok(Some(match rule.action {
                ResponseAction::Ignore => Verdict::Ignore(message),
                ResponseAction::Fail => Verdict::Fail(message),
                ResponseAction::Retry | ResponseAction::RateLimited => Verdict::Retry(message),
            }));
        }
        Ok(None)
    }

    async fn wait_for_slot(&self) {
        let Some(interval) = self.interval else { return };
        let wait = take_slot(&mut *self.next_slot.lock().await, Instant::now(), interval);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Evaluates the manifest's error rules on a 2xx body: `Ok(Some)` is a retryable failure.
    fn apply_rules(&self, status: u16, body: &[u8], url: &str) -> Result<Option<String>, ConnectorError> {
        if self.rules.is_empty() {
            return Ok(None);
        }
        // Only a body that is a JSON object can carry an error document; pages that are
        // arrays of records are never parsed here.
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Ok(None);
        }
        let Ok(response) = serde_json::from_slice::<Value>(body) else { return Ok(None) };
        let ctx = context(&serde_json::json!({ "response": response, "status": status, "config": self.config }));
        for (i, rule) in self.rules.iter().enumerate() {
            let what = format!("requester.errors[{i}]");
            if self.templates.condition(&rule.when, &ctx, &format!("{what}.when"))? {
                let message = self.templates.render(&rule.message, &ctx, &format!("{what}.message"))?;
                return match rule.kind {
                    ErrorKind::Auth => Err(ConnectorError::Auth(format!("{url}: {message}"))),
                    ErrorKind::Source => Err(ConnectorError::Source(format!("{url}: {message}"))),
                    ErrorKind::Retry => Ok(Some(message)),
                };
            }
        }
        Ok(None)
    }

    /// The current token of a source; a new one when there is none, it is due, or it is
    /// `rejected` (a 401 came back with it). Requests wait for a renewal under way, and a
    /// token renewed meanwhile by another request is taken as it is.
    async fn token(&self, source: &TokenSource, rejected: Option<&str>) -> Result<String, ConnectorError> {
        let mut cached = source.cached.lock().await;
        if let Some((value, due)) = cached.as_ref()
            && due.is_none_or(|due| due > Instant::now())
            && rejected != Some(value.as_str())
        {
            return Ok(value.clone());
        }
        let (value, lifetime) = match &source.kind {
            TokenKind::Oauth2 { token_url, form, default_lifetime, token_path, expires_in_path } => {
                let answer = self.fetch_oauth(&self.rebase(token_url), form).await?;
                let access =
                    find_value(&answer, token_path).map(value_text).filter(|t| !t.is_empty()).ok_or_else(|| {
                        ConnectorError::Auth(format!(
                            "the OAuth token endpoint {token_url} answered without `{token_path}`: {}",
                            snippet(answer.to_string().as_bytes())
                        ))
                    })?;
                let lifetime = find_value(&answer, expires_in_path)
                    .and_then(|v| value_text(v).parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .unwrap_or(*default_lifetime);
                // Renewed a minute before it expires, so no request carries a dying token
                // (a short-lived one: at nine tenths of its life).
                let margin = Duration::from_secs(60).min(lifetime / 10);
                (access, Some(lifetime - margin))
            }
            TokenKind::Session { login, token_path, lifetime, .. } => {
                (self.log_in(login, token_path).await?, *lifetime)
            }
        };
        *cached = Some((value.clone(), lifetime.map(|l| Instant::now() + l)));
        Ok(value)
    }

    async fn fetch_oauth(&self, token_url: &str, form: &[(String, String)]) -> Result<Value, ConnectorError> {
        let response = self.client.post(token_url).form(form).send().await.map_err(|e| {
            ConnectorError::Auth(format!("cannot reach the OAuth token endpoint {token_url}: {}", transport_error(&e)))
        })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let grant = form.iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v.as_str());
            let advice = if grant == Some("client_credentials") {
                "check the client id and secret"
            } else {
                "issue a new refresh token"
            };
            return Err(ConnectorError::Auth(format!(
                "the OAuth token endpoint {token_url} refused the {} ({status}: {}); {advice}",
                if grant == Some("client_credentials") { "client credentials" } else { "refresh token" },
                snippet(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|e| {
            ConnectorError::Auth(format!(
                "the OAuth token endpoint {token_url} answered non-JSON ({e}): {}",
                snippet(&body)
            ))
        })
    }

    /// Sends the session login and returns the token in its answer.
    async fn log_in(&self, login: &Login, token_path: &str) -> Result<String, ConnectorError> {
        let mut url = self.login_url(&login.url)?;
        if !login.params.is_empty() {
            url.query_pairs_mut().extend_pairs(login.params.iter());
        }
        let shown = {
            let mut u = url.clone();
            u.set_query(None);
            u.to_string()
        };
        let mut builder = match login.method {
            Method::Get => self.client.get(url),
            Method::Post => self.client.post(url),
        };
        for (name, value) in &login.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(form) = &login.form {
            builder = builder.form(form);
        } else if let Some(body) = &login.body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(|e| {
            ConnectorError::Source(format!("cannot reach the login endpoint {shown}: {}", transport_error(&e)))
        })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let text = format!("the login {} {shown} answered {status}: {}", method_name(login.method), snippet(&body));
            return Err(if status.is_client_error() {
                ConnectorError::Auth(format!("{text}; check the credentials in the connection's config"))
            } else {
                ConnectorError::Source(text)
            });
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|e| {
            ConnectorError::Auth(format!("the login {shown} answered non-JSON ({e}): {}", snippet(&body)))
        })?;
        dotted(&answer, token_path).map(value_text).filter(|t| !t.is_empty()).ok_or_else(|| {
            ConnectorError::Auth(format!(
                "the login {shown} answered without a token at `{token_path}`: {}",
                snippet(&body)
            ))
        })
    }

    /// The login URL, [rebased](Self::rebase).
    fn login_url(&self, text: &str) -> Result<url::Url, ConnectorError> {
        let joined = self.rebase(text);
        url::Url::parse(&joined).map_err(|e| ConnectorError::Manifest {
            origin: String::new(),
            message: format!("at `requester.auth.login.url`: `{joined}` is not a URL: {e}"),
        })
    }

    /// A login or token URL where the base URL in use (`config.base_url`: a sandbox, a
    /// proxy, a test server) says: a path is joined onto it; a URL under the manifest's base
    /// URL is moved under it; a URL on the manifest's base URL's host goes to its host.
    /// Other URLs (another host) stay as they are.
    fn rebase(&self, text: &str) -> String {
        let Some((manifest, in_use)) = &self.base_urls else { return text.to_string() };
        if !text.starts_with("http://") && !text.starts_with("https://") {
            return format!("{}/{}", in_use.trim_end_matches('/'), text.trim_start_matches('/'));
        }
        let manifest_base = manifest.trim_end_matches('/');
        if manifest_base.is_empty() || manifest == in_use {
            return text.to_string();
        }
        if let Some(rest) = text.strip_prefix(manifest_base)
            && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        {
            return format!("{}{rest}", in_use.trim_end_matches('/'));
        }
        let (Ok(mut url), Ok(from), Ok(to)) =
            (url::Url::parse(text), url::Url::parse(manifest), url::Url::parse(in_use))
        else {
            return text.to_string();
        };
        if url.origin() != from.origin() || from.origin() == to.origin() {
            return text.to_string();
        }
        let moved = url.set_scheme(to.scheme()).is_ok()
            && url.set_host(to.host_str()).is_ok()
            && url.set_port(to.port()).is_ok();
        if moved { url.to_string() } else { text.to_string() }
    }

    /// The URL with the API-key parameter's value hidden.
    fn masked(&self, url: &url::Url) -> String {
        let mut shown = url.clone();
        shown.set_password(None).ok();
        match &self.credentials {
            Credentials::Param(name, _) => {
                shown.query_pairs_mut().append_pair(name, "***");
            }
            Credentials::Token(source) => {
                if let TokenKind::Session { inject: SessionInject::Param(name), .. } = &source.kind {
                    shown.query_pairs_mut().append_pair(name, "***");
                }
            }
            _ => {}
        }
        shown.to_string()
    }
}

fn token_source(kind: TokenKind) -> Credentials {
    Credentials::Token(Box::new(TokenSource { kind, cached: Mutex::new(None) }))
}

/// A map of templates rendered into form fields (a list value gives the field once per
/// item; an empty or null one leaves it out).
pub fn form_pairs(
    fields: &std::collections::BTreeMap<String, Value>,
    templates: &Templates,
    ctx: &minijinja::Value,
    what: &str,
) -> Result<Vec<(String, String)>, ConnectorError> {
    let mut pairs = Vec::new();
    for (key, template) in fields {
        match templates.render_value(template, ctx, &format!("{what}.{key}"))? {
            Value::Null => {}
            Value::Array(items) => pairs.extend(items.iter().map(|v| (key.clone(), value_text(v)))),
            other => {
                let text = value_text(&other);
                if !text.is_empty() {
                    pairs.push((key.clone(), text));
                }
            }
        }
    }
    Ok(pairs)
}

/// Renders a session login request against the connection's config.
fn render_login(login: &LoginRequest, templates: &Templates, ctx: &minijinja::Value) -> Result<Login, ConnectorError> {
    let what = "requester.auth.login";
    let headers = login
        .headers
        .iter()
        .map(|(k, t)| Ok((k.clone(), templates.render(t, ctx, &format!("{what}.headers.{k}"))?)))
        .collect::<Result<_, ConnectorError>>()?;
    Ok(Login {
        method: login.method,
        url: templates.render(&login.url, ctx, &format!("{what}.url"))?,
        params: form_pairs(&login.params, templates, ctx, &format!("{what}.params"))?,
        headers,
        body: login.body.as_ref().map(|b| templates.render_value(b, ctx, &format!("{what}.body"))).transpose()?,
        form: login
            .body_form
            .as_ref()
            .map(|f| form_pairs(f, templates, ctx, &format!("{what}.body_form")))
            .transpose()?,
    })
}

fn compile_backoff(backoff: &Backoff) -> Result<Strategy, String> {
    // Python's `re.match`: the pattern must match at the start of the value.
    let anchored = |r: &Option<String>| -> Result<Option<regex::Regex>, String> {
        r.as_deref()
            .map(|r| regex::Regex::new(&format!("^(?:{r})")).map_err(|e| format!("not a regular expression: {e}")))
            .transpose()
    };
    Ok(match backoff {
        Backoff::Exponential { factor } => Strategy::Exponential(*factor),
        Backoff::Constant { seconds } => Strategy::Constant(*seconds),
        Backoff::Header { header, regex, max_wait } => {
            Strategy::Header { header: header.clone(), regex: anchored(regex)?, max_wait: *max_wait }
        }
        Backoff::UntilHeader { header, regex, min_wait, max_wait } => Strategy::UntilHeader {
            header: header.clone(),
            regex: anchored(regex)?,
            min_wait: *min_wait,
            max_wait: *max_wait,
        },
    })
}

/// Seconds since 1970, with a fraction.
fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The wait the first strategy that gives one says (Airbyte's `DefaultErrorHandler`: a
/// strategy giving no wait or 0 passes to the next), `attempt` the number of the try that
/// failed, `now` the unix time. `Err` when a header asks for a wait at or past `max_wait`.
fn strategy_wait(
    strategies: &[Strategy],
    attempt: u32,
    headers: Option<&HeaderMap>,
    now: f64,
) -> Result<Option<Duration>, String> {
    let number = |header: &str, regex: &Option<regex::Regex>| -> Option<f64> {
        let text = headers?.get(header)?.to_str().ok()?.trim();
        let text = regex.as_ref().and_then(|r| r.find(text)).map_or(text, |m| m.as_str());
        text.parse::<f64>().ok().filter(|n| n.is_finite())
    };
    let too_long = |wait: f64, max: Option<f64>| match max {
        Some(max) if wait >= max => {
            Err(format!("the API asks to wait {wait:.0}s, at or past the {max:.0}s this stream may wait (`max_wait`)"))
        }
        _ => Ok(()),
    };
    for strategy in strategies {
        let seconds = match strategy {
            Strategy::Exponential(factor) => Some(factor * 2f64.powi(attempt.min(30) as i32)),
            Strategy::Constant(seconds) => Some(*seconds),
            Strategy::Header { header, regex, max_wait } => {
                let wait = number(header, regex);
                if let Some(w) = wait.filter(|w| *w > 0.0) {
                    too_long(w, *max_wait)?;
                }
                wait
            }
            Strategy::UntilHeader { header, regex, min_wait, max_wait } => {
                let min_wait = min_wait.filter(|m| *m > 0.0);
                let wait = match (number(header, regex).filter(|u| *u > 0.0), min_wait) {
                    (None, min) => min,
                    (Some(until), Some(min)) => Some((until - now).max(min)),
                    (Some(until), None) => Some(until - now).filter(|w| *w >= 0.0),
                };
                if let Some(w) = wait {
                    too_long(w, *max_wait)?;
                }
                wait
            }
        };
        if let Some(seconds) = seconds.filter(|s| *s > 0.0 && s.is_finite()) {
            // A wait too long for a Duration is the longest one (`max_delay_ms` caps it).
            return Ok(Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)));
        }
    }
    Ok(None)
}

/// A body as JSON for response rules; `{}` when it is not JSON (as Airbyte).
fn parse_body(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::Object(Default::default()))
}

/// Response headers as a JSON object with lower-case names.
fn headers_object(headers: &HeaderMap) -> Value {
    Value::Object(
        headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), Value::String(v.to_str().ok()?.to_string()))))
            .collect(),
    )
}

/// The error message of a response as Airbyte's `JsonErrorMessageParser` finds it: a JSON
/// body's `message`, `messages`, `error`, `errors`, … (lists joined with `, `), or the text
/// of a body that is not JSON.
fn error_message(parsed: &Value, body: &[u8]) -> Option<String> {
    fn find(value: &Value) -> Option<String> {
        const KEYS: [&str; 12] = [
            "message",
            "messages",
            "error",
            "errors",
            "failures",
            "failure",
            "detail",
            "err",
            "error_message",
            "msg",
            "reason",
            "status_message",
        ];
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => Some(items.iter().filter_map(find).collect::<Vec<_>>().join(", ")),
            Value::Object(map) => {
                let next = KEYS.iter().filter_map(|k| map.get(*k)).find(|v| is_truthy(v))?;
                find(next)
            }
            _ => None,
        }
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        find(parsed)
    } else {
        std::str::from_utf8(body).ok().map(str::to_string)
    }
}

/// Python's truth of a JSON value (the `or` chain of Airbyte's error parser).
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The value at a dotted path.
fn dotted<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').filter(|p| !p.is_empty()).try_fold(value, |v, key| match v {
        Value::Object(map) => map.get(key),
        Value::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

/// A token response's field: at its dotted path, or (a single name) found in nested
/// objects up to five levels down, as Airbyte searches for `access_token`.
fn find_value<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    fn search<'a>(value: &'a Value, key: &str, depth: u32) -> Option<&'a Value> {
        if depth > 5 {
            return None;
        }
        match value {
            Value::Object(map) => map.get(key).or_else(|| map.values().find_map(|v| search(v, key, depth + 1))),
            Value::Array(items) => items.iter().find_map(|v| search(v, key, depth + 1)),
            _ => None,
        }
    }
    dotted(value, path).or_else(|| if path.contains('.') { None } else { search(value, path, 0) })
}

/// A JSON value as the text a token or form field carries.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A quota's reading from response headers, or `None` when they do not carry it.
pub fn quota_reading(quota: &Quota, headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<QuotaReading> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let remaining = header(&quota.remaining_header)?.parse::<f64>().ok()?.max(0.0) as u64;
    let limit = quota.limit_header.as_deref().and_then(header).and_then(|v| v.parse::<f64>().ok()).map(|v| v as u64);
    let resets_at = quota.reset_header.as_deref().and_then(header).and_then(|text| reset_time(text, now));
    Some(QuotaReading { limit, remaining, resets_at })
}

/// A reset header: seconds from now, a unix time (past 2001), or an HTTP or RFC 3339 date.
fn reset_time(text: &str, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(number) = text.parse::<f64>() {
        let seconds = number.max(0.0) as i64;
        return if seconds > 1_000_000_000 {
            chrono::DateTime::from_timestamp(seconds, 0)
        } else {
            Some(now + chrono::Duration::seconds(seconds))
        };
    }
    chrono::DateTime::parse_from_rfc2822(text)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `4h 10m`, `35m`, `20s`: a wait as people read it.
pub fn human_wait(wait: chrono::Duration) -> String {
    let seconds = wait.num_seconds().max(0);
    if seconds < 60 {
        return format!("{seconds}s");
    }
    // To the nearest minute: a reset read a moment ago still says its round figure.
    let minutes = (seconds + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// When a quota resets, for messages: ` in 4h 10m (at 2026-12-08T00:00:00Z)`, or nothing.
pub fn reset_phrase(reading: &QuotaReading, now: chrono::DateTime<chrono::Utc>) -> String {
    match reading.resets_at {
        Some(at) => format!(
            " in {} (at {})",
            human_wait(at.signed_duration_since(now)),
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => String::new(),
    }
}

fn spent_message(quota: &Quota, reading: &QuotaReading, url: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let size = reading.limit.map(|l| format!(" of {l} requests")).unwrap_or_default();
    format!(
        "429 from {url}: the API's `{}` request quota{size} is spent; it resets{}. Not retrying until then: \
         what this read committed is kept, and the next sync after the reset resumes from the saved state",
        quota.name,
        match reset_phrase(reading, now) {
            phrase if phrase.is_empty() => " when the API's quota period ends".to_string(),
            phrase => phrase,
        }
    )
}

/// Books the next request slot of a rate limit: how long a request arriving at `now` waits,
/// with `next` (the first free slot) moved one interval on.
fn take_slot(next: &mut Instant, now: Instant, interval: Duration) -> Duration {
    let slot = (*next).max(now);
    *next = slot + interval;
    slot - now
}

/// How long to wait before try `attempt + 1`: the server's `Retry-After` when it sent one,
/// else `base · 2^(attempt-1)` scaled by a jitter in [0.5, 1.0); both capped.
pub fn retry_delay(policy: &Retry, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let cap = Duration::from_millis(policy.max_delay_ms);
    if let Some(wait) = retry_after {
        return wait.min(cap);
    }
    let exponential = policy.base_delay_ms.saturating_mul(1u64 << (attempt - 1).min(20));
    Duration::from_millis((exponential as f64 * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as u64).min(cap)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        // `1e400` parses as infinity: the longest wait (capped by `max_delay_ms`), not a panic.
        return Some(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX));
    }
    let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now()).to_std().unwrap_or_default();
    Some(wait)
}

/// The first 300 characters of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".into()
    } else if body.len() > 300 {
        format!("{text}…")
    } else {
        text.to_string()
    }
}

fn transport_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    if e.is_timeout() { format!("timed out ({text})") } else { text }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
    }
}

fn header_name(name: &str) -> Result<HeaderName, ConnectorError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ConnectorError::Internal(format!("`{name}` is not a valid header name")))
}

fn secret_header(value: &str) -> Result<HeaderValue, ConnectorError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| ConnectorError::InvalidConfig {
        connector: String::new(),
        issues: vec![crate::ConfigIssue {
            path: "config".into(),
            message: "a credential contains characters that cannot go into an HTTP header (a line break?)".into(),
        }],
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_and_backoff_doubles_with_jitter_under_the_cap() {
        let policy = Retry { base_delay_ms: 100, max_delay_ms: 1_000, ..Retry::default() };
        assert_eq!(retry_delay(&policy, 1, Some(Duration::from_secs(0)), 0.3), Duration::ZERO);
        assert_eq!(retry_delay(&policy, 1, Some(Duration::from_secs(30)), 0.3), Duration::from_secs(1));
        assert_eq!(retry_delay(&policy, 1, None, 0.0), Duration::from_millis(50));
        assert_eq!(retry_delay(&policy, 3, None, 1.0), Duration::from_millis(400));
        assert_eq!(retry_delay(&policy, 12, None, 1.0), Duration::from_secs(1));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
    }

    #[test]
    fn the_rate_limit_spaces_requests_one_interval_apart() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let mut next = start;
        // Five requests at once wait 0, 100, 200, 300, 400 ms.
        let waits: Vec<Duration> = (0..5).map(|_| take_slot(&mut next, start, interval)).collect();
        assert_eq!(waits, (0..5).map(|i| interval * i).collect::<Vec<_>>());
        // A request after a quiet spell goes at once.
        assert_eq!(take_slot(&mut next, start + Duration::from_secs(5), interval), Duration::ZERO);
    }

    #[test]
    fn quota_headers_are_read_and_a_spent_quota_is_explained() {
        let quota = Quota {
            name: "day".into(),
            limit_header: Some("X-Ratelimit-App-Global-Day-Limit".into()),
            remaining_header: "X-Ratelimit-App-Global-Day-Remaining".into(),
            reset_header: Some("X-Ratelimit-App-Global-Day-Reset".into()),
            warn_below: None,
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T19:50:00Z").unwrap().with_timezone(&chrono::Utc);
        let mut headers = HeaderMap::new();
        assert_eq!(quota_reading(&quota, &headers, now), None, "no headers, no reading");
        headers.insert("x-ratelimit-app-global-day-limit", HeaderValue::from_static("500"));
        headers.insert("x-ratelimit-app-global-day-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-app-global-day-reset", HeaderValue::from_static("15000"));
        let reading = quota_reading(&quota, &headers, now).unwrap();
        assert_eq!((reading.limit, reading.remaining), (Some(500), 0));
        assert_eq!(reading.resets_at.unwrap().to_rfc3339(), "2026-12-08T00:00:00+00:00", "seconds from now");
        let text = spent_message(&quota, &reading, "https://api/v3/surveys", now);
        assert!(text.contains("`day` request quota of 500 requests is spent"), "{text}");
        assert!(text.contains("in 4h 10m (at 2026-12-08T00:00:00Z)") && text.contains("saved state"), "{text}");
        headers.insert("x-ratelimit-app-global-day-reset", HeaderValue::from_static("1796688000"));
        let at = quota_reading(&quota, &headers, now).unwrap().resets_at.unwrap();
        assert_eq!(at.timestamp(), 1_796_688_000, "a unix time");
        headers.insert("x-ratelimit-app-global-day-reset", HeaderValue::from_static("Tue, 08 Dec 2026 00:00:00 GMT"));
        assert_eq!(quota_reading(&quota, &headers, now).unwrap().resets_at, reading.resets_at, "an HTTP date");
    }

    #[test]
    fn select_takes_the_first_option_the_config_has() {
        use super::super::manifest::AuthOption;
        let options = vec![
            AuthOption {
                when: Some("config.refresh_token".into()),
                auth: Box::new(Auth::Basic { username: "{{ config.refresh_token }}".into(), password: String::new() }),
            },
            AuthOption {
                when: Some("config.access_token".into()),
                auth: Box::new(Auth::Bearer { token: "{{ config.access_token }}".into() }),
            },
        ];
        let select = Auth::Select { options };
        let http = |config: Value| {
            Http::new(
                Some(&select),
                Retry::default(),
                None,
                Duration::from_secs(1),
                Vec::new(),
                Vec::new(),
                Arc::new(Templates::new()),
                &config,
            )
        };
        let bearer = http(serde_json::json!({ "access_token": "t0k" })).unwrap();
        assert!(
            matches!(&bearer.credentials, Credentials::Header(_, v) if v.to_str().unwrap() == "Bearer t0k"),
            "{:?}",
            bearer.credentials
        );
        let basic = http(serde_json::json!({ "access_token": "t0k", "refresh_token": "r" })).unwrap();
        assert!(matches!(&basic.credentials, Credentials::Header(_, v) if v.to_str().unwrap().starts_with("Basic ")));
        let Err(ConnectorError::InvalidConfig { issues, .. }) = http(serde_json::json!({})) else {
            panic!("no credentials configured")
        };
        assert!(issues[0].message.contains("config.refresh_token; config.access_token"), "{issues:?}");
    }

    #[test]
    fn snippets_are_short() {
        assert_eq!(snippet(b"  "), "(empty body)");
        assert!(snippet(&[b'x'; 1000]).ends_with('…'));
    }
}

/// Authentication, response rules and backoff against in-process fakes on 127.0.0.1; waits
/// are recorded instead of slept.
#[cfg(test)]
mod fake_tests {
    use std::collections::HashMap;
    use std::sync::Mutex as StdMutex;

    use axum::extract::{Form, Path, Query, State};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use serde_json::json;

    use super::super::manifest::{Manifest, ResponseAction, ResponseRule, TokenInject};
    use super::*;

    /// What the fake saw and what it answers.
    #[derive(Default)]
    struct Fake {
        /// Token or login requests received, with their fields.
        logins: Vec<HashMap<String, String>>,
        /// The credential the API accepts now.
        valid: String,
        /// Requests to `/items`, with the credential they carried.
        seen: Vec<String>,
        /// Every credential is refused (revoked credentials, a locked account).
        reject_all: bool,
        /// Answers `/flaky` gives before a good page.
        flaky: Vec<Answer>,
    }

    /// A status, headers and a body.
    type Answer = (u16, Vec<(String, String)>, String);

    type Shared = Arc<StdMutex<Fake>>;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{address}")
    }

    async fn token(State(fake): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
        let mut fake = fake.lock().unwrap();
        fake.logins.push(form);
        let token = format!("t{}", fake.logins.len());
        fake.valid = token.clone();
        Json(json!({ "data": { "token": token, "ttl": "3600" } })).into_response()
    }

    async fn login_form(State(fake): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
        let mut fake = fake.lock().unwrap();
        if form.get("password").map(String::as_str) != Some("pw") {
            return (StatusCode::UNAUTHORIZED, "bad password").into_response();
        }
        fake.logins.push(form);
        let session = format!("s{}", fake.logins.len());
        fake.valid = session.clone();
        Json(json!({ "session": { "id": session } })).into_response()
    }

    async fn login_json(State(fake): State<Shared>, Json(body): Json<Value>) -> Response {
        let mut fake = fake.lock().unwrap();
        let fields = body.as_object().unwrap().iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
        fake.logins.push(fields);
        let session = format!("s{}", fake.logins.len());
        fake.valid = session.clone();
        Json(json!({ "token": session })).into_response()
    }

    /// Accepts the current credential from `Authorization`, `X-Session` or `?token=`.
    async fn items(
        State(fake): State<Shared>,
        headers: AxumHeaders,
        Query(query): Query<HashMap<String, String>>,
    ) -> Response {
        let mut fake = fake.lock().unwrap();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let credential = header("authorization")
            .or_else(|| header("x-session"))
            .or_else(|| query.get("token").cloned())
            .unwrap_or_default();
        fake.seen.push(credential.clone());
        let token = credential.rsplit(' ').next().unwrap_or_default().to_string();
        if token != fake.valid || fake.reject_all {
            return (StatusCode::UNAUTHORIZED, "expired").into_response();
        }
        Json(json!({ "data": [{ "id": 1 }] })).into_response()
    }

    async fn flaky(State(fake): State<Shared>) -> Response {
        let mut fake = fake.lock().unwrap();
        if fake.flaky.is_empty() {
            return Json(json!({ "data": [{ "id": 1 }] })).into_response();
        }
        let (status, headers, body) = fake.flaky.remove(0);
        let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
        for (k, v) in headers {
            response.headers_mut().insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        response
    }

    async fn status(Path(code): Path<u16>) -> Response {
        let body = json!({ "error": { "message": format!("status {code} on purpose") } });
        (StatusCode::from_u16(code).unwrap(), Json(body)).into_response()
    }

    async fn echo_form(headers: AxumHeaders, Form(form): Form<HashMap<String, String>>) -> Response {
        let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        Json(json!({ "content_type": kind, "form": form })).into_response()
    }

    async fn fake() -> (String, Shared) {
        let shared: Shared = Arc::default();
        let router = Router::new()
            .route("/token", post(token))
            .route("/login", post(login_form))
            .route("/login.json", post(login_json))
            .route("/items", get(items))
            .route("/flaky", get(flaky))
            .route("/status/{code}", get(status))
            .route("/echo", post(echo_form))
            .with_state(shared.clone());
        (serve(router).await, shared)
    }

    fn http(auth: Option<&Auth>, retry: Retry, config: Value) -> Http {
        Http::new(
            auth,
            retry,
            None,
            Duration::from_secs(5),
            Vec::new(),
            Vec::new(),
            Arc::new(Templates::new()),
            &config,
        )
        .unwrap()
        .recording_waits()
    }

    fn get_request(url: &str) -> PreparedRequest {
        PreparedRequest {
            method: Method::Get,
            url: url::Url::parse(url).unwrap(),
            headers: Vec::new(),
            body: None,
            form: None,
            responses: Vec::new(),
        }
    }

    fn rule(statuses: &[u16], action: ResponseAction) -> ResponseRule {
        ResponseRule { statuses: statuses.to_vec(), body_contains: None, when: None, action, message: None }
    }

    #[tokio::test]
    async fn oauth2_client_credentials_fetch_a_token_reuse_it_and_fetch_again_on_a_401() {
        let (base, fake) = fake().await;
        let auth = Auth::Oauth2 {
            grant_type: GrantType::ClientCredentials,
            token_url: format!("{base}/token"),
            client_id: "{{ config.id }}".into(),
            client_secret: "{{ config.secret }}".into(),
            refresh_token: String::new(),
            scopes: vec!["read".into()],
            default_expires_in_secs: 3600,
            token_path: Some("data.token".into()),
            expires_in_path: Some("ttl".into()),
            body: [("audience".to_string(), json!("{{ config.id }}-api")), ("client_id".to_string(), json!("x"))]
                .into_iter()
                .collect(),
        };
        let http = http(Some(&auth), Retry::default(), json!({ "id": "app", "secret": "s3cret" }));
        let items = get_request(&format!("{base}/items"));
        http.send(&items).await.unwrap();
        http.send(&items).await.unwrap();
        {
            let fake = fake.lock().unwrap();
            assert_eq!(fake.logins.len(), 1, "the token is reused");
            let form = &fake.logins[0];
            assert_eq!(form["grant_type"], "client_credentials");
            assert_eq!((form["client_id"].as_str(), form["client_secret"].as_str()), ("app", "s3cret"));
            assert_eq!(form["scope"], "read");
            assert_eq!(form["audience"], "app-api", "extra body fields, rendered");
            assert!(!form.contains_key("refresh_token"));
            assert_eq!(fake.seen, ["Bearer t1", "Bearer t1"]);
        }
        // `ttl` is found under `data` although the path names no parent (as Airbyte searches).
        let Credentials::Token(source) = &http.credentials else { panic!() };
        let due = source.cached.lock().await.as_ref().unwrap().1.unwrap();
        assert!(due > Instant::now() + Duration::from_secs(3000), "lifetime from `data.ttl`");
        // The API revokes the token: one 401, a new token, the request succeeds.
        fake.lock().unwrap().valid = "revoked".into();
        http.send(&items).await.unwrap();
        assert_eq!(fake.lock().unwrap().logins.len(), 2, "fetched again on the 401");
        assert_eq!(fake.lock().unwrap().seen[2..], ["Bearer t1", "Bearer t2"]);
        // Refused whatever the token: one renewal, then an authentication error.
        fake.lock().unwrap().reject_all = true;
        let error = http.send(&items).await.unwrap_err();
        assert!(matches!(error, ConnectorError::Auth(_)), "{error}");
        assert_eq!(fake.lock().unwrap().logins.len(), 3, "renewed once per request, not in a loop");
        assert!(http.waits().is_empty());
    }

    #[tokio::test]
    async fn a_session_token_logs_in_with_a_form_and_logs_in_again_when_it_expires_or_gets_a_401() {
        let (base, fake) = fake().await;
        let manifest = Manifest::parse(
            "m.yaml",
            r#"
name: demo
description: d
spec: { type: object }
requester:
  base_url: https://api.example.com/v1
  auth:
    type: session_token
    login: { url: "https://api.example.com/v1/login", body_form: { user: "{{ config.user }}", password: "{{ config.password }}" } }
    token_path: session.id
    expires_in: PT1H
    inject: { header: X-Session, prefix: "Token " }
streams: [{ name: items, request: { path: /items } }]
"#,
        )
        .unwrap();
        let http = http(manifest.requester.auth.as_ref(), Retry::default(), json!({ "user": "ann", "password": "pw" }))
            .with_base_urls("https://api.example.com/v1".into(), base.clone());
        let items = get_request(&format!("{base}/items"));
        http.send(&items).await.unwrap();
        http.send(&items).await.unwrap();
        assert_eq!(
            fake.lock().unwrap().logins.len(),
            1,
            "the login under the manifest's base URL went to the one in use"
        );
        assert_eq!(fake.lock().unwrap().logins[0]["user"], "ann");
        assert_eq!(fake.lock().unwrap().seen, ["Token s1", "Token s1"]);
        // Expired: the next request logs in first.
        let Credentials::Token(source) = &http.credentials else { panic!() };
        source.cached.lock().await.as_mut().unwrap().1 = Some(Instant::now() - Duration::from_secs(1));
        http.send(&items).await.unwrap();
        assert_eq!(fake.lock().unwrap().seen.last().unwrap(), "Token s2");
        // Ended by the server: a 401, a login, the request again.
        fake.lock().unwrap().valid = "gone".into();
        http.send(&items).await.unwrap();
        assert_eq!(fake.lock().unwrap().seen[3..], ["Token s2", "Token s3"], "a 401, a login, the request again");
        http.send(&items).await.unwrap();
        assert_eq!(fake.lock().unwrap().logins.len(), 3, "not again while the new one is good");
        fake.lock().unwrap().reject_all = true;
        assert!(matches!(http.send(&items).await, Err(ConnectorError::Auth(_))));
        assert_eq!(fake.lock().unwrap().logins.len(), 4, "one login per refused request");

        // A wrong password is an authentication error naming the login.
        let http =
            self::http(manifest.requester.auth.as_ref(), Retry::default(), json!({ "user": "ann", "password": "no" }))
                .with_base_urls("https://api.example.com/v1".into(), base.clone());
        let error = http.send(&items).await.unwrap_err().to_string();
        assert!(error.contains("login POST") && error.contains("/login answered 401"), "{error}");
    }

    #[tokio::test]
    async fn a_session_token_from_a_json_login_goes_into_a_query_parameter_that_urls_mask() {
        let (base, fake) = fake().await;
        let auth = Auth::SessionToken {
            login: super::super::manifest::LoginRequest {
                url: "/login.json".into(),
                method: Method::Post,
                params: Default::default(),
                headers: Default::default(),
                body: Some(json!({ "username": "{{ config.user }}", "n": 2 })),
                body_form: None,
            },
            token_path: "token".into(),
            expires_in: None,
            inject: TokenInject { header: None, prefix: None, param: Some("token".into()) },
        };
        let http =
            http(Some(&auth), Retry::default(), json!({ "user": "bo" })).with_base_urls(base.clone(), base.clone());
        let page = http.send(&get_request(&format!("{base}/items"))).await.unwrap();
        assert!(page.url.contains("token=***") && !page.url.contains("s1"), "{}", page.url);
        let fake = fake.lock().unwrap();
        assert_eq!(fake.seen, ["s1"]);
        assert_eq!((fake.logins[0]["username"].as_str(), fake.logins[0]["n"].as_str()), ("bo", "2"));
    }

    #[tokio::test]
    async fn auth_none_and_form_bodies() {
        let (base, _) = fake().await;
        let http = http(Some(&Auth::None), Retry::default(), json!({}));
        assert!(matches!(http.credentials, Credentials::None));
        let mut request = get_request(&format!("{base}/echo"));
        request.method = Method::Post;
        request.form = Some(vec![("q".into(), "a b&c".into()), ("page".into(), "2".into())]);
        request.body = Some(json!({ "ignored": true }));
        let page = http.send(&request).await.unwrap();
        let echoed: Value = serde_json::from_slice(&page.body).unwrap();
        assert_eq!(echoed["content_type"], "application/x-www-form-urlencoded");
        assert_eq!(echoed["form"], json!({ "q": "a b&c", "page": "2" }));
        let fields = [
            ("q".to_string(), json!("{{ config.q }}")),
            ("none".to_string(), json!("")),
            ("ids".to_string(), json!([1, 2])),
        ];
        let pairs = form_pairs(
            &fields.into_iter().collect(),
            &Templates::new(),
            &context(&json!({ "config": { "q": "x" } })),
            "f",
        )
        .unwrap();
        assert_eq!(pairs, [("ids".to_string(), "1".to_string()), ("ids".into(), "2".into()), ("q".into(), "x".into())]);
    }

    #[tokio::test]
    async fn response_rules_ignore_fail_and_retry_stream_rules_first() {
        let (base, fake) = fake().await;
        let http = http(None, Retry::default(), json!({ "tenant": "acme" })).with_responses(vec![
            rule(&[404], ResponseAction::Fail),
            ResponseRule {
                message: Some("{{ config.tenant }}: {{ response.error.message }} ({{ status }})".into()),
                ..rule(&[410], ResponseAction::Fail)
            },
            ResponseRule { body_contains: Some("try again".into()), ..rule(&[], ResponseAction::Retry) },
            ResponseRule {
                when: Some("headers['x-limited'] == 'yes'".into()),
                ..rule(&[], ResponseAction::RateLimited)
            },
        ]);
        // The stream's rule wins over the requester's: ignored, no records, no error.
        let mut request = get_request(&format!("{base}/status/404"));
        request.responses = vec![rule(&[404], ResponseAction::Ignore)];
        let page = http.send(&request).await.unwrap();
        assert!(page.ignored && page.body.is_empty());
        // Without it the requester's `fail` applies, with the body's error message.
        let error = http.send(&get_request(&format!("{base}/status/404"))).await.unwrap_err().to_string();
        assert!(error.contains("404") && error.contains("status 404 on purpose"), "{error}");
        let error = http.send(&get_request(&format!("{base}/status/410"))).await.unwrap_err().to_string();
        assert!(error.contains("acme: status 410 on purpose (410)"), "a message template: {error}");
        // Unmatched statuses keep today's handling: 403 is an auth error, 418 a source error.
        assert!(matches!(http.send(&get_request(&format!("{base}/status/403"))).await, Err(ConnectorError::Auth(_))));
        assert!(matches!(http.send(&get_request(&format!("{base}/status/418"))).await, Err(ConnectorError::Source(_))));
        // An error in a 200 (by its message) and a rate limit (by a header) are retried.
        fake.lock().unwrap().flaky = vec![
            (200, vec![], r#"{"errors": [{"msg": "busy, try again"}]}"#.into()),
            (200, vec![("x-limited".into(), "yes".into()), ("retry-after".into(), "3".into())], "{}".into()),
        ];
        let page = http.send(&get_request(&format!("{base}/flaky"))).await.unwrap();
        assert!(!page.ignored && page.body.starts_with(b"{\"data\""));
        let waits = http.waits();
        assert_eq!(waits.len(), 2, "{waits:?}");
        assert_eq!(waits[1], Duration::from_secs(3), "Retry-After still sets the wait");
        // A record that merely contains the text is no error: only the error message counts.
        fake.lock().unwrap().flaky = vec![(200, vec![], r#"{"data": [{"note": "try again later"}]}"#.into())];
        let page = http.send(&get_request(&format!("{base}/flaky"))).await.unwrap();
        assert!(page.body.starts_with(b"{\"data\": [{\"note\""));
        assert_eq!(http.waits().len(), 2);
    }

    #[tokio::test]
    async fn retry_rules_give_up_after_max_attempts() {
        let (base, fake) = fake().await;
        let retry = Retry { max_attempts: 3, ..Retry::default() };
        let http = http(None, retry, json!({})).with_responses(vec![rule(&[200], ResponseAction::Retry)]);
        fake.lock().unwrap().flaky = vec![(200, vec![], "{}".into()); 5];
        let error = http.send(&get_request(&format!("{base}/flaky"))).await.unwrap_err().to_string();
        assert!(error.contains("gave up after 3 tries"), "{error}");
        assert_eq!(http.waits().len(), 2);
    }

    #[tokio::test]
    async fn backoff_strategies_set_the_wait_of_retried_responses() {
        let (base, fake) = fake().await;
        let reset = (unix_now() + 30.0).floor();
        let retry = Retry {
            backoff: vec![
                Backoff::Header { header: "X-Wait".into(), regex: Some("[0-9.]+".into()), max_wait: None },
                Backoff::UntilHeader {
                    header: "X-RateLimit-Reset".into(),
                    regex: None,
                    min_wait: None,
                    max_wait: None,
                },
                Backoff::Exponential { factor: 0.5 },
            ],
            ..Retry::default()
        };
        let http = http(None, retry, json!({}));
        fake.lock().unwrap().flaky = vec![
            (429, vec![("x-wait".into(), "7.5 seconds".into())], String::new()),
            (503, vec![("x-ratelimit-reset".into(), format!("{reset}"))], String::new()),
            (500, vec![], String::new()),
            (500, vec![("retry-after".into(), "1".into())], String::new()),
        ];
        http.send(&get_request(&format!("{base}/flaky"))).await.unwrap();
        let waits = http.waits();
        assert_eq!(waits[0], Duration::from_millis(7_500), "the header's number, through the regex");
        assert!(
            waits[1] > Duration::from_secs(27) && waits[1] <= Duration::from_secs(30),
            "until the reset: {waits:?}"
        );
        assert_eq!(waits[2], Duration::from_secs(4), "0.5 · 2^3 (the third try failed)");
        assert_eq!(waits[3], Duration::from_secs(8), "a strategy that gives a wait wins over Retry-After");
    }

    #[test]
    fn strategies_in_order_with_airbyte_semantics() {
        let compile = |b: Backoff| compile_backoff(&b).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-wait", HeaderValue::from_static("wait 5"));
        headers.insert("x-reset", HeaderValue::from_static("1000100"));
        let now = 1_000_000.0;
        let wait = |strategies: &[Strategy], attempt: u32, headers: Option<&HeaderMap>| {
            strategy_wait(strategies, attempt, headers, now).map(|w| w.map(|d| d.as_secs_f64()))
        };
        // A regex must match at the start of the value (Python's re.match): `wait 5` gives no number.
        let header = compile(Backoff::Header { header: "X-Wait".into(), regex: Some("[0-9]+".into()), max_wait: None });
        assert_eq!(wait(std::slice::from_ref(&header), 1, Some(&headers)), Ok(None));
        let header =
            compile(Backoff::Header { header: "X-Wait".into(), regex: Some("wait [0-9]+".into()), max_wait: None });
        assert_eq!(wait(std::slice::from_ref(&header), 1, Some(&headers)), Ok(None), "`wait 5` is not a number");
        let header = compile(Backoff::Header { header: "X-Missing".into(), regex: None, max_wait: None });
        let constant = compile(Backoff::Constant { seconds: 10.0 });
        assert_eq!(
            wait(&[header, constant], 1, Some(&headers)),
            Ok(Some(10.0)),
            "the next strategy when one gives none"
        );
        // Exponential: factor · 2^attempt; also for transport failures (no headers).
        let exponential = compile(Backoff::Exponential { factor: 5.0 });
        assert_eq!(wait(std::slice::from_ref(&exponential), 1, None), Ok(Some(10.0)));
        assert_eq!(wait(std::slice::from_ref(&exponential), 3, None), Ok(Some(40.0)));
        // Until a unix time; min_wait as a floor and as the wait when the header is missing.
        let until = |min_wait, max_wait| {
            compile(Backoff::UntilHeader { header: "X-Reset".into(), regex: None, min_wait, max_wait })
        };
        assert_eq!(wait(&[until(None, None)], 1, Some(&headers)), Ok(Some(100.0)));
        assert_eq!(wait(&[until(Some(300.0), None)], 1, Some(&headers)), Ok(Some(300.0)));
        assert_eq!(wait(&[until(Some(3.0), None)], 1, None), Ok(Some(3.0)));
        assert_eq!(wait(&[until(None, None)], 1, None), Ok(None));
        let mut past = HeaderMap::new();
        past.insert("x-reset", HeaderValue::from_static("999999"));
        assert_eq!(wait(&[until(None, None)], 1, Some(&past)), Ok(None), "a reset in the past: no wait");
        // max_wait: at or past it the request fails instead of waiting.
        let error = wait(&[until(None, Some(100.0))], 1, Some(&headers)).unwrap_err();
        assert!(error.contains("100s") && error.contains("max_wait"), "{error}");
        assert_eq!(wait(&[], 1, Some(&headers)), Ok(None), "no strategies: today's backoff");
        let mut huge = HeaderMap::new();
        huge.insert("x-wait", HeaderValue::from_static("1e400"));
        huge.insert(RETRY_AFTER, HeaderValue::from_static("1e400"));
        let header = compile(Backoff::Header { header: "X-Wait".into(), regex: None, max_wait: None });
        assert_eq!(strategy_wait(&[header], 1, Some(&huge), now), Ok(None), "infinity is no number of seconds");
        huge.insert("x-wait", HeaderValue::from_static("1e300"));
        let header = compile(Backoff::Header { header: "X-Wait".into(), regex: None, max_wait: None });
        assert_eq!(strategy_wait(&[header], 1, Some(&huge), now), Ok(Some(Duration::MAX)), "no panic");
        assert_eq!(retry_after(&huge), Some(Duration::MAX), "no panic");
    }

    #[test]
    fn login_and_token_urls_follow_the_base_url_in_use() {
        let http = |manifest: &str, in_use: &str| {
            Http::new(
                None,
                Retry::default(),
                None,
                Duration::from_secs(1),
                Vec::new(),
                Vec::new(),
                Arc::new(Templates::new()),
                &json!({}),
            )
            .unwrap()
            .with_base_urls(manifest.into(), in_use.into())
        };
        let fake = http("https://api.example.com/v1", "http://127.0.0.1:9/v1");
        assert_eq!(fake.rebase("/login"), "http://127.0.0.1:9/v1/login", "a path joins the base URL in use");
        assert_eq!(fake.rebase("https://api.example.com/v1/auth?x=1"), "http://127.0.0.1:9/v1/auth?x=1");
        assert_eq!(fake.rebase("https://api.example.com/oauth/token"), "http://127.0.0.1:9/oauth/token", "same host");
        assert_eq!(fake.rebase("https://id.other.com/token"), "https://id.other.com/token", "another host stays");
        assert_eq!(
            fake.rebase("https://api.example.com/v10/x"),
            "http://127.0.0.1:9/v10/x",
            "not under /v1, same host"
        );
        let same = http("https://api.example.com", "https://api.example.com");
        assert_eq!(same.rebase("https://api.example.com/token"), "https://api.example.com/token");
    }

    #[test]
    fn error_messages_are_found_as_airbyte_finds_them() {
        let find = |body: &str| error_message(&parse_body(body.as_bytes()), body.as_bytes());
        assert_eq!(find(r#"{"message": "bad"}"#).as_deref(), Some("bad"));
        assert_eq!(find(r#"{"error": {"detail": "deep"}}"#).as_deref(), Some("deep"));
        assert_eq!(find(r#"{"errors": [{"msg": "a"}, {"msg": "b"}]}"#).as_deref(), Some("a, b"));
        assert_eq!(find(r#"{"message": "", "error": "second"}"#).as_deref(), Some("second"));
        assert_eq!(find(r#"{"data": [{"message": "a record"}]}"#), None);
        assert_eq!(find("Service Unavailable").as_deref(), Some("Service Unavailable"));
        let answer = json!({ "data": { "access_token": "x", "n": 3 } });
        assert_eq!(find_value(&answer, "access_token"), Some(&json!("x")));
        assert_eq!(find_value(&answer, "data.n"), Some(&json!(3)));
        assert_eq!(find_value(&answer, "data.missing"), None);
    }

    /// A whole read through the declarative connector: a session login by form, a
    /// partitioned POST stream with a form body the page token joins, a partition whose 404
    /// the stream's rule ignores (the stream goes on), and an error-in-a-200 the requester's
    /// rule retries.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_declarative_read_logs_in_ignores_a_partition_and_retries_a_rate_limit() {
        use futures::StreamExt as _;

        use crate::{ConfiguredCatalog, ConfiguredStream, Connector, DeclarativeConnector, Message, ReadRequest};

        #[derive(Default)]
        struct Api {
            logins: u32,
            slowed: bool,
            card_forms: Vec<HashMap<String, String>>,
        }
        type Api2 = Arc<StdMutex<Api>>;
        fn signed_in(headers: &AxumHeaders) -> bool {
            headers.get("x-session").and_then(|v| v.to_str().ok()) == Some("Token sess-1")
        }
        async fn login(State(api): State<Api2>, Form(form): Form<HashMap<String, String>>) -> Response {
            if form.get("password").map(String::as_str) != Some("pw") {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            api.lock().unwrap().logins += 1;
            Json(json!({ "data": { "session": "sess-1" } })).into_response()
        }
        async fn boards(headers: AxumHeaders) -> Response {
            if !signed_in(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            Json(json!([{ "id": 1 }, { "id": 2 }, { "id": 3 }])).into_response()
        }
        async fn cards(
            State(api): State<Api2>,
            Path(board): Path<u32>,
            headers: AxumHeaders,
            Form(form): Form<HashMap<String, String>>,
        ) -> Response {
            if !signed_in(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let mut api = api.lock().unwrap();
            api.card_forms.push(form.clone());
            let body = match (board, form.get("after").map(String::as_str)) {
                (1, None) => json!({ "cards": [{ "id": "a" }, { "id": "b" }], "next": "p2" }),
                (1, Some("p2")) => json!({ "cards": [{ "id": "c" }], "next": null }),
                (2, _) => return (StatusCode::NOT_FOUND, "board 2 was deleted").into_response(),
                (3, _) if !api.slowed => {
                    api.slowed = true;
                    json!({ "message": "please slow down" })
                }
                (3, _) => json!({ "cards": [{ "id": "d" }], "next": null }),
                _ => return StatusCode::BAD_REQUEST.into_response(),
            };
            Json(body).into_response()
        }
        let api: Api2 = Arc::default();
        let base = serve(
            Router::new()
                .route("/login", post(login))
                .route("/boards", get(boards))
                .route("/boards/{board}/cards", post(cards))
                .with_state(api.clone()),
        )
        .await;
        let manifest = r#"
name: boards
description: Boards and their cards.
spec: { type: object, properties: { user: { type: string }, password: { type: string, x-secret: true } } }
requester:
  base_url: https://boards.example.com
  concurrency: 1
  auth:
    type: session_token
    login: { url: /login, body_form: { user: "{{ config.user }}", password: "{{ config.password }}" } }
    token_path: data.session
    inject: { header: X-Session, prefix: "Token " }
  responses:
    - { body_contains: "slow down", action: rate_limited }
  retry: { backoff: { type: constant, seconds: 0.001 } }
streams:
  - name: boards
    primary_key: [id]
    request: { path: /boards }
    schema: { type: object, properties: { id: { type: integer } } }
  - name: cards
    primary_key: [id]
    partition: { stream: boards }
    request: { path: "/boards/{{ partition.id }}/cards", method: POST, body_form: { limit: "2" } }
    records: { path: cards }
    paginator: { type: cursor, token: "{{ response.next }}", inject: { body: after } }
    responses:
      - { statuses: [404], action: ignore, message: "a deleted board ({{ status }})" }
    schema: { type: object, properties: { id: { type: string } } }
"#;
        let connector = DeclarativeConnector::from_manifest("boards/manifest.yaml", manifest).unwrap();
        let config = json!({ "user": "ann", "password": "pw", "base_url": base });
        let catalog = connector.discover(&config).await.unwrap();
        let descriptor = catalog.stream("cards").unwrap().clone();
        let request = ReadRequest {
            config: config.clone(),
            catalog: ConfiguredCatalog {
                streams: vec![ConfiguredStream { mode: descriptor.default_mode, stream: descriptor }],
            },
            state: Default::default(),
        };
        let mut messages = connector.read(request).await.unwrap();
        let mut ids = Vec::new();
        while let Some(message) = messages.next().await {
            match message.unwrap() {
                Message::Batch { batch, .. } => {
                    let column = batch.column_by_name("id").unwrap();
                    let column = arrow::array::AsArray::as_string::<i32>(column.as_ref());
                    ids.extend(column.iter().map(|v| v.unwrap().to_string()));
                }
                Message::StreamFailed { error, .. } => panic!("stream failed: {error}"),
                _ => {}
            }
        }
        assert_eq!(ids, ["a", "b", "c", "d"], "board 2 ignored, board 3 retried");
        let api = api.lock().unwrap();
        assert_eq!(api.logins, 1, "one login serves every request of the read");
        assert!(api.card_forms.iter().all(|f| f["limit"] == "2"));
        assert_eq!(api.card_forms[1].get("after").map(String::as_str), Some("p2"), "the page token joins the form");
    }
}
