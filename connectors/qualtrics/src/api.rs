//! The Qualtrics v3 API as the connector uses it, over the declarative engine's HTTP client
//! ([`Http`]: `X-API-TOKEN`, retries of 429 with `Retry-After` and of 5xx with backoff):
//! the `{ "result", "meta" }` envelope, the survey list (paged by `result.nextPage`), survey
//! definitions, and the response export job (start, poll with backoff under a deadline,
//! download).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use txlake_connector::ConnectorError;
use txlake_connector::declarative::http::{Http, PreparedRequest};
use txlake_connector::declarative::manifest::{Auth, Method, Retry};
use txlake_connector::declarative::template::Templates;

use crate::config::{MAX_POLL_INTERVAL, Settings};
use crate::streams::SurveyRow;

/// How long one request may take (an export file can be large).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The API of one connection.
#[derive(Debug)]
pub struct Api {
    http: Http,
    base: String,
}

/// A finished export's file.
#[derive(Debug)]
pub struct ExportFile {
    /// The URL it was downloaded from, for error messages.
    pub url: String,
    /// The zip.
    pub body: Bytes,
}

impl Api {
    /// A client for these settings.
    pub fn new(settings: &Settings) -> Result<Self, ConnectorError> {
        let auth = Auth::ApiKey {
            value: "{{ config.api_token }}".into(),
            header: Some("X-API-TOKEN".into()),
            param: None,
            prefix: None,
        };
        let config = json!({ "api_token": settings.token });
        let http = Http::new(
            Some(&auth),
            Retry::default(),
            None,
            REQUEST_TIMEOUT,
            Vec::new(),
            Vec::new(),
            Arc::new(Templates::new()),
            &config,
        )?;
        Ok(Api { http, base: settings.api.clone() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; a JSON body is announced as such, and JSON asked for unless `raw` (the
    /// export file, a zip).
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
        raw: bool,
    ) -> Result<(String, Bytes), ConnectorError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ConnectorError::Source(format!("`{url}` is not a valid URL ({e}); check `base_url`")))?;
        let headers = if raw { Vec::new() } else { vec![("Accept".to_string(), "application/json".to_string())] };
        let request = PreparedRequest { method, url: parsed, headers, body, form: None, responses: Vec::new() };
        match self.http.send(&request).await {
            Ok(page) => Ok((page.url, page.body)),
            Err(ConnectorError::Auth(message)) => Err(ConnectorError::Auth(format!(
                "Qualtrics refused the API token: {message}. Check `api_token` (Account Settings → Qualtrics IDs → API) \
                 and that `datacenter` is your account's data center (Account Settings → Qualtrics IDs → Datacenter ID)"
            ))),
            Err(e) => Err(e),
        }
    }

    /// A request answered with the `{ "result", "meta" }` envelope; returns the envelope,
    /// whose `result` is an object.
    async fn call(&self, method: Method, url: &str, body: Option<Value>) -> Result<(String, Value), ConnectorError> {
        let (shown, bytes) = self.send(method, url, body, false).await?;
        let envelope: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::Source(format!(
                "{shown}: the answer is not valid JSON ({e}; {} bytes, cut short?)",
                bytes.len()
            ))
        })?;
        match envelope.get("result") {
            Some(result) if result.is_object() => Ok((shown, envelope)),
            _ => Err(ConnectorError::Source(format!(
                "{shown}: the answer has no `result` object{}",
                error_of(&envelope).map(|e| format!(": {e}")).unwrap_or_default()
            ))),
        }
    }

    /// `GET /whoami`: the token's user (check).
    pub async fn whoami(&self) -> Result<Value, ConnectorError> {
        let (_, mut envelope) = self.call(Method::Get, &self.url("/whoami"), None).await?;
        Ok(envelope["result"].take())
    }

    /// `GET /surveys`, every page.
    pub async fn surveys(&self) -> Result<Vec<SurveyRow>, ConnectorError> {
        let mut url = self.url("/surveys");
        let mut rows = Vec::new();
        loop {
            let (shown, envelope) = self.call(Method::Get, &url, None).await?;
            let result = &envelope["result"];
            let elements = result.get("elements").and_then(Value::as_array).ok_or_else(|| {
                ConnectorError::Source(format!("{shown}: `result.elements` is missing or not a list"))
            })?;
            for element in elements {
                let text = |key: &str| element.get(key).and_then(Value::as_str).map(str::to_string);
                let time = |key: &str| {
                    element
                        .get(key)
                        .and_then(Value::as_str)
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&Utc))
                };
                let Some(id) = text("id") else {
                    return Err(ConnectorError::Source(format!("{shown}: a survey without `id`: {element}")));
                };
                rows.push(SurveyRow {
                    id,
                    name: text("name"),
                    owner_id: text("ownerId"),
                    is_active: element.get("isActive").and_then(Value::as_bool),
                    creation_date: time("creationDate"),
                    last_modified: time("lastModified"),
                });
            }
            match result.get("nextPage").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                Some(next) if next != url => url = next.to_string(),
                _ => return Ok(rows),
            }
        }
    }

    /// `GET /survey-definitions/{surveyId}`: the definition's `result`.
    pub async fn definition(&self, survey: &str) -> Result<Value, ConnectorError> {
        let (_, mut envelope) =
            self.call(Method::Get, &self.url(&format!("/survey-definitions/{survey}")), None).await?;
        Ok(envelope["result"].take())
    }

    /// Runs one response export: starts it (responses recorded from `start` on), polls its
    /// progress with backoff until it completes, fails or `deadline` passes, and downloads
    /// the file.
    pub async fn export(
        &self,
        survey: &str,
        start: Option<DateTime<Utc>>,
        deadline: Duration,
        first_wait: Duration,
    ) -> Result<ExportFile, ConnectorError> {
        let mut body = json!({ "format": "json", "compress": true });
        if let Some(start) = start {
            // Whole seconds, the documented format; the inclusive bound is trimmed by the reader.
            body["startDate"] = json!(start.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        let exports = self.url(&format!("/surveys/{survey}/export-responses"));
        let (shown, started) = self.call(Method::Post, &exports, Some(body)).await?;
        let progress_id = started["result"]
            .get("progressId")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ConnectorError::Source(format!("{shown}: the export was not started (no progressId)")))?
            .to_string();
        let began = Instant::now();
        let mut wait = first_wait;
        let mut last = String::from("inProgress");
        let file_id = loop {
            let left = deadline.saturating_sub(began.elapsed());
            if left.is_zero() {
                return Err(ConnectorError::Source(format!(
                    "survey {survey}: the response export {progress_id} did not complete within {} s (last status: {last}); \
                     raise `poll_deadline_secs` or read fewer surveys at once",
                    deadline.as_secs_f64()
                )));
            }
            tokio::time::sleep(wait.min(left)).await;
            wait = wait.mul_f64(1.5).min(MAX_POLL_INTERVAL);
            let (shown, envelope) = self.call(Method::Get, &format!("{exports}/{progress_id}"), None).await?;
            let progress = &envelope["result"];
            let status = progress.get("status").and_then(Value::as_str).unwrap_or_default();
            let percent = progress.get("percentComplete").and_then(Value::as_f64);
            last = match percent {
                Some(p) => format!("{status}, {p}% complete"),
                None => status.to_string(),
            };
            match status {
                "complete" => match progress.get("fileId").and_then(Value::as_str).filter(|f| !f.is_empty()) {
                    Some(file) => break file.to_string(),
                    None => {
                        return Err(ConnectorError::Source(format!(
                            "{shown}: the export is complete but has no fileId"
                        )));
                    }
                },
                "failed" => {
                    let reason = error_of(progress)
                        .or_else(|| error_of(&envelope))
                        .unwrap_or_else(|| "Qualtrics gave no reason".into());
                    return Err(ConnectorError::Source(format!(
                        "survey {survey}: Qualtrics failed the response export {progress_id}: {reason}"
                    )));
                }
                "inProgress" | "" => {}
                other => {
                    return Err(ConnectorError::Source(format!(
                        "{shown}: unknown export status `{other}` (expected inProgress, complete or failed)"
                    )));
                }
            }
        };
        let (url, body) = self.send(Method::Get, &format!("{exports}/{file_id}/file"), None, true).await?;
        Ok(ExportFile { url, body })
    }
}

/// Qualtrics' own account of an error: `error.errorMessage` (in `result` or `meta`) with its
/// code, and the request id its support asks for.
fn error_of(document: &Value) -> Option<String> {
    let error = document.get("error").or_else(|| document.pointer("/meta/error")).filter(|e| e.is_object())?;
    let message = error.get("errorMessage").and_then(Value::as_str).unwrap_or("(no message)");
    let mut text = message.to_string();
    if let Some(code) = error.get("errorCode").and_then(Value::as_str) {
        text.push_str(&format!(" [{code}]"));
    }
    if let Some(request) = document.pointer("/meta/requestId").and_then(Value::as_str) {
        text.push_str(&format!(" (requestId {request})"));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_message_code_and_request_id() {
        let failed = json!({
            "result": { "status": "failed" },
            "meta": { "requestId": "r-1", "httpStatus": "200 - OK", "error": { "errorCode": "RE_1", "errorMessage": "Too big" } }
        });
        assert_eq!(error_of(&failed).as_deref(), Some("Too big [RE_1] (requestId r-1)"));
        let nested = json!({ "status": "failed", "error": { "errorMessage": "Bad filter" } });
        assert_eq!(error_of(&nested).as_deref(), Some("Bad filter"));
        assert_eq!(error_of(&json!({ "status": "failed" })), None);
    }
}
