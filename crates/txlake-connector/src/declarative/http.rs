//! The HTTP side of a declarative connector: authentication (API key, bearer, basic, OAuth 2
//! refresh token), a request-rate ceiling, retries of 429/5xx/transport failures with
//! `Retry-After` or exponential backoff with jitter under a per-read budget, the
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

use super::manifest::{Auth, ErrorKind, ErrorRule, Method, Quota, Retry};
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
}

/// Authentication with its templates rendered against the connection's config.
#[derive(Debug)]
enum Credentials {
    None,
    Header(HeaderName, HeaderValue),
    Param(String, String),
    Oauth2 {
        token_url: String,
        form: Vec<(String, String)>,
        default_lifetime: Duration,
        token: Mutex<Option<(String, Instant)>>,
    },
}

/// Sends requests for one connector and one configuration.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    credentials: Credentials,
    retry: Retry,
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
            None => Credentials::None,
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
                token_url,
                client_id,
                client_secret,
                refresh_token,
                scopes,
                default_expires_in_secs,
            }) => {
                let mut form = vec![
                    ("grant_type".to_string(), "refresh_token".to_string()),
                    ("client_id".to_string(), render(client_id, "client_id")?),
                    ("client_secret".to_string(), render(client_secret, "client_secret")?),
                    ("refresh_token".to_string(), render(refresh_token, "refresh_token")?),
                ];
                if !scopes.is_empty() {
                    form.push(("scope".to_string(), scopes.join(" ")));
                }
                Credentials::Oauth2 {
                    token_url: render(token_url, "token_url")?,
                    form,
                    default_lifetime: Duration::from_secs(*default_expires_in_secs),
                    token: Mutex::new(None),
                }
            }
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("txlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            credentials,
            retry,
            retries_used: AtomicU32::new(0),
            interval: requests_per_second.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r)),
            next_slot: Mutex::new(Instant::now()),
            rules,
            templates,
            config: config.clone(),
            readings: std::sync::Mutex::new(vec![None; quotas.len()]),
            quotas,
        })
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

    /// Sends a request, retrying what is transient, and returns the successful response.
    pub async fn send(&self, request: &PreparedRequest) -> Result<Page, ConnectorError> {
        let shown_url = self.masked(&request.url);
        let mut attempt = 1u32;
        let mut refreshed = false;
        loop {
            self.wait_for_slot().await;
            let bearer = match &self.credentials {
                Credentials::Oauth2 { .. } => Some(self.access_token().await?),
                _ => None,
            };
            let outcome = self.attempt(request, bearer.as_deref()).await;
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
                            self.backoff(&shown_url, attempt, None, &format!("the body broke off: {e}")).await?;
                            attempt += 1;
                            continue;
                        }
                    };
                    if status.is_success() {
                        match self.apply_rules(status.as_u16(), &body, &shown_url)? {
                            None => return Ok(Page { url: shown_url, headers, body }),
                            Some(message) => (None, message),
                        }
                    } else if status.as_u16() == 401
                        && matches!(self.credentials, Credentials::Oauth2 { .. })
                        && !refreshed
                    {
                        refreshed = true;
                        self.refresh_token().await?;
                        continue;
                    } else if self.retry.statuses.contains(&status.as_u16()) {
                        (retry_after(&headers), format!("{status}: {}", snippet(&body)))
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
                Err(e) => (None, transport_error(&e)),
            };
            let (retry_after, message) = failure;
            self.backoff(&shown_url, attempt, retry_after, &message).await?;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        request: &PreparedRequest,
        bearer: Option<&str>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut url = request.url.clone();
        if let Credentials::Param(name, value) = &self.credentials {
            url.query_pairs_mut().append_pair(name, value);
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
        if let Some(token) = bearer {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = &request.body {
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
        let delay = retry_delay(&self.retry, attempt, retry_after, rand::random::<f64>());
        tracing::warn!(url, attempt, delay_ms = delay.as_millis() as u64, "retrying: {message}");
        tokio::time::sleep(delay).await;
        Ok(())
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

    async fn access_token(&self) -> Result<String, ConnectorError> {
        let Credentials::Oauth2 { token, .. } = &self.credentials else { return Ok(String::new()) };
        {
            let cached = token.lock().await;
            // Refreshed a minute before it expires, so no request carries a dying token.
            if let Some((value, expires)) = cached.as_ref()
                && *expires > Instant::now() + Duration::from_secs(60)
            {
                return Ok(value.clone());
            }
        }
        self.refresh_token().await
    }

    async fn refresh_token(&self) -> Result<String, ConnectorError> {
        let Credentials::Oauth2 { token_url, form, default_lifetime, token } = &self.credentials else {
            return Ok(String::new());
        };
        let mut cached = token.lock().await;
        let response = self.client.post(token_url).form(form).send().await.map_err(|e| {
            ConnectorError::Auth(format!("cannot reach the OAuth token endpoint {token_url}: {}", transport_error(&e)))
        })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(ConnectorError::Auth(format!(
                "the OAuth token endpoint {token_url} refused the refresh token ({status}: {}); issue a new refresh token",
                snippet(&body)
            )));
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|e| {
            ConnectorError::Auth(format!(
                "the OAuth token endpoint {token_url} answered non-JSON ({e}): {}",
                snippet(&body)
            ))
        })?;
        let access = answer.get("access_token").and_then(Value::as_str).ok_or_else(|| {
            ConnectorError::Auth(format!(
                "the OAuth token endpoint {token_url} answered without `access_token`: {}",
                snippet(&body)
            ))
        })?;
        let lifetime =
            answer.get("expires_in").and_then(Value::as_u64).map(Duration::from_secs).unwrap_or(*default_lifetime);
        *cached = Some((access.to_string(), Instant::now() + lifetime));
        Ok(access.to_string())
    }

    /// The URL with the API-key parameter's value hidden.
    fn masked(&self, url: &url::Url) -> String {
        let mut shown = url.clone();
        shown.set_password(None).ok();
        if let Credentials::Param(name, _) = &self.credentials {
            shown.query_pairs_mut().append_pair(name, "***");
        }
        shown.to_string()
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
        return Some(Duration::from_secs_f64(seconds.max(0.0)));
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
