//! The connector's configuration: [`SampleConfig`] as users write it, its JSON Schema
//! ([`SampleConfig::spec`]), and the checked `Settings` the simulation runs on.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use txlake_connector::{ConfigIssue, ConnectorError, Result, Spec};

use crate::CONNECTOR_NAME;

/// Most customers a configuration may ask for (the generator keeps 64 bytes per customer).
pub const MAX_CUSTOMERS: u32 = 100_000_000;
/// Most employees a configuration may ask for.
pub const MAX_EMPLOYEES: u32 = 1_000_000;
/// Longest world horizon and longest emitted span, in days (100 years).
pub const MAX_DAYS: u32 = 36_500;
/// Largest `batch_size`.
pub const MAX_BATCH_SIZE: u32 = 1 << 20;

/// How the `sample` connector is configured (the `config` table of a connection).
///
/// The *world* — who arrives when, who buys, who churns — is a function of `seed`,
/// `customers`, `employees`, `days` and `start_date` only. `end_date` merely says how far
/// the simulation is run and emitted, so a later `end_date` yields the earlier run's records
/// plus newer ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleConfig {
    /// Leads arriving over the `days` horizon (lead `i` arrives on day `i * days / customers`).
    pub customers: u32,
    /// Employees on staff at `start_date`; leavers are replaced, so head count stays stable.
    pub employees: u32,
    /// Length of the arrival horizon in days; also the default emitted span.
    pub days: u32,
    /// Seed of every random draw; the same seed gives the same records, byte for byte.
    pub seed: i64,
    /// First simulated day, `YYYY-MM-DD` (UTC).
    pub start_date: String,
    /// Day the emitted data stops (exclusive, UTC midnight), `YYYY-MM-DD`; default
    /// `start_date + days`. May be later than that: lifecycles simply go on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Rows per emitted Arrow record batch.
    pub batch_size: u32,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig {
            customers: 5000,
            employees: 200,
            days: 365,
            seed: 42,
            start_date: "2025-01-01".to_string(),
            end_date: None,
            batch_size: 8192,
        }
    }
}

/// A configuration after every check, in the units the simulation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Number of customers in the world.
    pub customers: u32,
    /// Initial head count.
    pub employees: u32,
    /// Arrival horizon in days.
    pub days: u32,
    /// The seed as raw bits.
    pub seed: u64,
    /// First day.
    pub start_date: NaiveDate,
    /// `start_date` at 00:00 UTC, in microseconds since the epoch.
    pub start_us: i64,
    /// Number of days simulated and emitted (`end_date - start_date`).
    pub sim_days: u32,
    /// Rows per record batch.
    pub batch_size: usize,
}

impl Settings {
    /// Microseconds since the epoch of midnight UTC at the start of simulated day `day`.
    pub(crate) fn midnight_us(&self, day: u32) -> i64 {
        self.start_us + i64::from(day) * 86_400_000_000
    }

    /// The end of the emitted span (exclusive), in microseconds since the epoch.
    pub(crate) fn end_us(&self) -> i64 {
        self.midnight_us(self.sim_days)
    }
}

fn invalid(issues: Vec<ConfigIssue>) -> ConnectorError {
    ConnectorError::InvalidConfig { connector: CONNECTOR_NAME.to_string(), issues }
}

fn issue(path: &str, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue { path: path.to_string(), message: message.into() }
}

/// Parses a strict `YYYY-MM-DD` date.
fn parse_date(path: &str, text: &str) -> std::result::Result<NaiveDate, ConfigIssue> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    let date = if shaped { NaiveDate::parse_from_str(text, "%Y-%m-%d").ok() } else { None };
    match date {
        Some(d) if (1900..=2200).contains(&chrono::Datelike::year(&d)) => Ok(d),
        Some(_) => {
            Err(issue(path, format!("{text:?} is out of range; expected a date between 1900-01-01 and 2200-12-31")))
        }
        None => Err(issue(
            path,
            format!("{text:?} is not a valid date; expected the format YYYY-MM-DD, e.g. \"2025-01-01\""),
        )),
    }
}

impl SampleConfig {
    /// The JSON Schema of the configuration, with a description and default for every field.
    pub fn spec() -> Spec {
        let defaults = SampleConfig::default();
        Spec {
            config_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "sample",
                "description": "Deterministic generator of a Total Experience world: customers and their journeys, deals, tickets, surveys (NPS, CSAT, CES, eNPS), employees and their training.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "customers": {
                        "type": "integer", "minimum": 1, "maximum": MAX_CUSTOMERS,
                        "default": defaults.customers,
                        "description": "Leads arriving over the `days` horizon, evenly spread. Roughly 30% become paying customers."
                    },
                    "employees": {
                        "type": "integer", "minimum": 10, "maximum": MAX_EMPLOYEES,
                        "default": defaults.employees,
                        "description": "Head count at start_date (about half in Support, in teams of ~8). Leavers are replaced."
                    },
                    "days": {
                        "type": "integer", "minimum": 1, "maximum": MAX_DAYS,
                        "default": defaults.days,
                        "description": "Length of the world's arrival horizon in days; also the default emitted span."
                    },
                    "seed": {
                        "type": "integer", "minimum": i64::MIN, "maximum": i64::MAX,
                        "default": defaults.seed,
                        "description": "Seed of all random draws. The same configuration always yields the same records."
                    },
                    "start_date": {
                        "type": "string", "format": "date",
                        "default": defaults.start_date,
                        "description": "First simulated day, YYYY-MM-DD (UTC)."
                    },
                    "end_date": {
                        "type": "string", "format": "date",
                        "description": "Emit records before this day (YYYY-MM-DD, exclusive, UTC). Default: start_date + days. A later end_date yields the same records plus newer ones."
                    },
                    "batch_size": {
                        "type": "integer", "minimum": 1, "maximum": MAX_BATCH_SIZE,
                        "default": defaults.batch_size,
                        "description": "Rows per emitted Arrow record batch."
                    }
                }
            }),
            documentation: Some("https://github.com/txlake/txlake/tree/main/connectors/sample".to_string()),
        }
    }

    /// Reads a configuration document (`null` means all defaults), reporting every problem
    /// with the path of its field (`config.start_date`).
    pub fn from_json(config: &Value) -> Result<SampleConfig> {
        let empty = Value::Object(serde_json::Map::new());
        let config = if config.is_null() { &empty } else { config };
        Self::spec().validate(CONNECTOR_NAME, config)?;
        let parsed: SampleConfig =
            serde_json::from_value(config.clone()).map_err(|e| invalid(vec![issue("config", e.to_string())]))?;
        parsed.settings()?;
        Ok(parsed)
    }

    /// Checks ranges and dates and resolves the defaults.
    pub(crate) fn settings(&self) -> Result<Settings> {
        let mut issues = Vec::new();
        let ranges: [(&str, u32, u32, u32); 4] = [
            ("config.customers", self.customers, 1, MAX_CUSTOMERS),
            ("config.employees", self.employees, 10, MAX_EMPLOYEES),
            ("config.days", self.days, 1, MAX_DAYS),
            ("config.batch_size", self.batch_size, 1, MAX_BATCH_SIZE),
        ];
        for (path, value, lo, hi) in ranges {
            if !(lo..=hi).contains(&value) {
                issues.push(issue(path, format!("{value} is out of range; expected an integer from {lo} to {hi}")));
            }
        }
        let start = parse_date("config.start_date", &self.start_date).map_err(|i| issues.push(i)).ok();
        let end = match &self.end_date {
            Some(text) => parse_date("config.end_date", text).map_err(|i| issues.push(i)).ok(),
            None => start.and_then(|s| s.checked_add_days(Days::new(u64::from(self.days)))),
        };
        let mut sim_days = 0u32;
        if let (Some(start), Some(end)) = (start, end) {
            let span = (end - start).num_days();
            if span < 0 {
                issues.push(issue(
                    "config.end_date",
                    format!("{end} is before start_date {start}; expected a date on or after start_date"),
                ));
            } else if span > i64::from(MAX_DAYS) {
                issues.push(issue(
                    "config.end_date",
                    format!("{end} is {span} days after start_date {start}; at most {MAX_DAYS} days can be simulated"),
                ));
            } else {
                sim_days = span as u32;
            }
        }
        match (start, issues.is_empty()) {
            (Some(start_date), true) => {
                let start_us = start_date
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc().timestamp_micros())
                    .ok_or_else(|| invalid(vec![issue("config.start_date", "cannot be represented as a timestamp")]))?;
                Ok(Settings {
                    customers: self.customers,
                    employees: self.employees,
                    days: self.days,
                    seed: self.seed as u64,
                    start_date,
                    start_us,
                    sim_days,
                    batch_size: self.batch_size as usize,
                })
            }
            _ => Err(invalid(issues)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(config: Value) -> Vec<ConfigIssue> {
        match SampleConfig::from_json(&config) {
            Err(ConnectorError::InvalidConfig { issues, .. }) => issues,
            other => panic!("expected InvalidConfig for {config}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_match_the_schema_defaults() {
        let config = SampleConfig::from_json(&json!({})).unwrap();
        assert_eq!(config, SampleConfig::default());
        assert_eq!(SampleConfig::from_json(&Value::Null).unwrap(), SampleConfig::default());
        let settings = config.settings().unwrap();
        assert_eq!(settings.sim_days, 365);
        assert_eq!(settings.start_us, 1_735_689_600_000_000); // 2025-01-01T00:00:00Z
        assert_eq!(settings.end_us(), 1_767_225_600_000_000); // 2026-01-01T00:00:00Z

        // Every default in the schema is the serde default, and every field is described.
        let schema = SampleConfig::spec().config_schema;
        let defaults = serde_json::to_value(SampleConfig::default()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        assert_eq!(props.len(), 7);
        for (name, prop) in props {
            assert!(prop["description"].as_str().is_some_and(|d| d.len() > 10), "{name} has no description");
            if let Some(default) = prop.get("default") {
                assert_eq!(default, &defaults[name], "default of {name}");
            }
        }
        // The defaults themselves pass the schema.
        SampleConfig::spec().validate("sample", &defaults).unwrap();
    }

    #[test]
    fn bad_dates_name_the_field_and_the_format() {
        let found = issues(json!({"start_date": "01/02/2025"}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "config.start_date");
        assert!(found[0].message.contains("YYYY-MM-DD"), "{}", found[0].message);

        let found = issues(json!({"start_date": "2025-02-30"}));
        assert_eq!(found[0].path, "config.start_date");

        let found = issues(json!({"end_date": "2025-13-01"}));
        assert_eq!(found[0].path, "config.end_date");
        assert!(found[0].message.contains("YYYY-MM-DD"));

        let found = issues(json!({"start_date": "2025-03-01", "end_date": "2025-02-01"}));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "config.end_date");
        assert!(found[0].message.contains("before start_date"), "{}", found[0].message);

        // An empty span is allowed: the read emits the fixed streams and a state only.
        let config = SampleConfig::from_json(&json!({"start_date": "2025-03-01", "end_date": "2025-03-01"})).unwrap();
        assert_eq!(config.settings().unwrap().sim_days, 0);
    }

    #[test]
    fn bad_types_unknown_fields_and_ranges_are_rejected_by_name() {
        let found = issues(json!({"customers": "many"}));
        assert!(found.iter().any(|i| i.path == "config.customers"), "{found:?}");

        let found = issues(json!({"employees": 3}));
        assert!(found.iter().any(|i| i.path == "config.employees" && i.message.contains("minimum")), "{found:?}");

        let found = issues(json!({"seed": 1.5}));
        assert!(found.iter().any(|i| i.path == "config.seed"), "{found:?}");

        let found = issues(json!({"custmers": 10}));
        assert!(found.iter().any(|i| i.message.contains("custmers")), "{found:?}");

        let err = SampleConfig::from_json(&json!("not an object")).unwrap_err();
        assert!(matches!(err, ConnectorError::InvalidConfig { .. }), "{err}");
    }

    #[test]
    fn a_config_round_trips_through_json() {
        let config = SampleConfig {
            customers: 7,
            employees: 12,
            days: 3,
            seed: -5,
            start_date: "2024-02-28".into(),
            end_date: Some("2024-03-02".into()),
            batch_size: 2,
        };
        let back = SampleConfig::from_json(&serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
        let settings = back.settings().unwrap();
        assert_eq!(settings.sim_days, 3); // 2024 is a leap year
        assert_eq!(settings.seed, (-5i64) as u64);
    }
}
