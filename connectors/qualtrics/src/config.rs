//! The connector's configuration: its JSON Schema ([`spec`]) and the checked [`Settings`]
//! a read runs on (the API's base URL, the token, which surveys, where a first read starts,
//! how export jobs are polled).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use txlake_connector::{ConfigIssue, ConnectorError, Result, Spec};

use crate::CONNECTOR_NAME;

/// Default of `poll_deadline_secs`: how long one survey's export job may run.
pub const DEFAULT_POLL_DEADLINE_SECS: f64 = 600.0;
/// Default of `poll_interval_ms`: the first wait between two progress polls.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 1_000;
/// The longest wait between two progress polls.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// The JSON Schema of a `qualtrics` connection's `config`.
pub fn spec() -> Spec {
    Spec {
        config_schema: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Qualtrics",
            "type": "object",
            "additionalProperties": false,
            "required": ["api_token"],
            "properties": {
                "datacenter": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9-]+$",
                    "description": "Required unless `base_url` is set. Your account's data center id (fra1, iad1, ca1, …; Account Settings → Qualtrics IDs → User: Datacenter ID). The API is https://<datacenter>.qualtrics.com/API/v3.",
                    "examples": ["fra1", "iad1", "ca1"]
                },
                "base_url": {
                    "type": "string",
                    "pattern": "^https?://",
                    "description": "Replaces https://<datacenter>.qualtrics.com (a proxy, a sandbox, a test server). With or without the trailing /API/v3."
                },
                "api_token": {
                    "type": "string",
                    "minLength": 1,
                    "x-secret": true,
                    "description": "An API token (Account Settings → Qualtrics IDs → API → Generate Token), sent as the X-API-TOKEN header. Its user must be able to see the surveys and export their responses."
                },
                "surveys": {
                    "type": "array",
                    "items": { "type": "string", "pattern": "^SV_[A-Za-z0-9]+$" },
                    "uniqueItems": true,
                    "description": "The survey ids (SV_…) to read; default: every survey the token's user can see."
                },
                "start_date": {
                    "type": "string",
                    "description": "The first read takes the responses recorded from this date (YYYY-MM-DD, UTC) or instant (RFC 3339) on; default: every response."
                },
                "poll_deadline_secs": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "How long one survey's response export may take before the read fails, in seconds (default 600)."
                },
                "poll_interval_ms": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The first wait between two polls of an export's progress, in milliseconds (default 1000); each next wait is 1.5 times longer, up to 10 s."
                },
                "format": {
                    "type": "string",
                    "enum": ["json"],
                    "description": "The export file format read: json (the only one supported)."
                }
            }
        }),
        documentation: Some("connectors/qualtrics/README.md".into()),
    }
}

/// A configuration after every check.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `https://<datacenter>.qualtrics.com/API/v3` or the `base_url`, without a trailing `/`.
    pub api: String,
    /// The API token.
    pub token: String,
    /// The surveys to read; `None`: every survey the token sees.
    pub surveys: Option<Vec<String>>,
    /// Where a survey without a saved cursor starts.
    pub start: Option<DateTime<Utc>>,
    /// How long one export job may take.
    pub poll_deadline: Duration,
    /// The first wait between two polls.
    pub poll_interval: Duration,
}

impl Settings {
    /// Checks a configuration against the spec and turns it into settings.
    pub fn parse(config: &Value) -> Result<Self> {
        spec().validate(CONNECTOR_NAME, config)?;
        let text = |key: &str| config.get(key).and_then(Value::as_str).map(str::to_string);
        let api = match (text("base_url"), text("datacenter")) {
            (Some(url), _) => {
                let url = url.trim_end_matches('/');
                let url = url.strip_suffix("/API/v3").unwrap_or(url);
                format!("{url}/API/v3")
            }
            (None, Some(datacenter)) => format!("https://{}.qualtrics.com/API/v3", datacenter.to_ascii_lowercase()),
            (None, None) => {
                return Err(issue(
                    "config.datacenter",
                    "missing: set `datacenter` to your account's data center id (fra1, iad1, …) or `base_url`",
                ));
            }
        };
        let token = text("api_token").unwrap_or_default();
        let surveys = config
            .get("surveys")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_string).collect());
        let start = match text("start_date") {
            None => None,
            Some(s) => Some(parse_instant(&s).ok_or_else(|| {
                issue(
                    "config.start_date",
                    &format!("`{s}` is neither a date (2024-01-31) nor an RFC 3339 instant (2024-01-31T08:00:00Z)"),
                )
            })?),
        };
        let deadline = config.get("poll_deadline_secs").and_then(Value::as_f64).unwrap_or(DEFAULT_POLL_DEADLINE_SECS);
        let interval = config.get("poll_interval_ms").and_then(Value::as_u64).unwrap_or(DEFAULT_POLL_INTERVAL_MS);
        Ok(Settings {
            api,
            token,
            surveys,
            start,
            poll_deadline: Duration::from_secs_f64(deadline),
            poll_interval: Duration::from_millis(interval),
        })
    }
}

/// A date (midnight UTC) or an RFC 3339 instant.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

fn issue(path: &str, message: &str) -> ConnectorError {
    ConnectorError::InvalidConfig {
        connector: CONNECTOR_NAME.into(),
        issues: vec![ConfigIssue { path: path.into(), message: message.into() }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_datacenter_names_the_host_and_base_url_replaces_it() {
        let s = Settings::parse(&json!({ "datacenter": "fra1", "api_token": "t" })).unwrap();
        assert_eq!(s.api, "https://fra1.qualtrics.com/API/v3");
        assert_eq!(s.poll_deadline, Duration::from_secs(600));
        let s = Settings::parse(
            &json!({ "datacenter": "fra1", "base_url": "http://127.0.0.1:9/API/v3/", "api_token": "t" }),
        )
        .unwrap();
        assert_eq!(s.api, "http://127.0.0.1:9/API/v3");
    }

    #[test]
    fn bad_settings_name_the_field() {
        let err = Settings::parse(&json!({ "api_token": "t" })).unwrap_err();
        assert!(matches!(err, ConnectorError::InvalidConfig { .. }), "{err}");
        assert!(err.to_string().contains("config.datacenter") && err.to_string().contains("base_url"), "{err}");
        let err = Settings::parse(&json!({ "datacenter": "fra1", "api_token": "t", "start_date": "May 1st" }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.start_date") && err.contains("May 1st"), "{err}");
        let err = Settings::parse(&json!({ "datacenter": "fra1", "api_token": "t", "format": "csv" })).unwrap_err();
        assert!(err.to_string().contains("format"), "{err}");
    }

    #[test]
    fn start_dates_are_days_or_instants() {
        assert_eq!(parse_instant("2024-05-01").unwrap().to_rfc3339(), "2024-05-01T00:00:00+00:00");
        assert_eq!(parse_instant("2024-05-01T10:00:00+02:00").unwrap().to_rfc3339(), "2024-05-01T08:00:00+00:00");
        assert!(parse_instant("yesterday").is_none());
    }
}
