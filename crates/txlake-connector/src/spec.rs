//! A connector's configuration spec: a JSON Schema, validated before anything runs.

use serde_json::Value;

use crate::error::{ConfigIssue, ConnectorError};

/// The JSON Schema of a connector's configuration. Secret fields carry `"x-secret": true`.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The schema of the `config` table of a connection.
    pub config_schema: Value,
    /// Where the user reads more.
    pub documentation: Option<String>,
}

impl Spec {
    /// Checks a configuration against the schema, reporting every problem with its field path.
    pub fn validate(&self, connector: &str, config: &Value) -> Result<(), ConnectorError> {
        let validator = jsonschema::validator_for(&self.config_schema)
            .map_err(|e| ConnectorError::Internal(format!("connector `{connector}` has an invalid spec: {e}")))?;
        let issues: Vec<ConfigIssue> = validator
            .iter_errors(config)
            .map(|error| {
                let pointer = error.instance_path().to_string();
                let path = pointer
                    .trim_start_matches('/')
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .fold(String::from("config"), |acc, p| format!("{acc}.{p}"));
                ConfigIssue { path, message: error.to_string() }
            })
            .collect();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConnectorError::InvalidConfig { connector: connector.to_string(), issues })
        }
    }

    /// Names of the fields marked `"x-secret": true`, so they can be masked in output.
    pub fn secret_fields(&self) -> Vec<String> {
        self.config_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .filter(|(_, p)| p.get("x-secret").and_then(Value::as_bool) == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Spec {
        Spec {
            config_schema: json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["token"],
                "properties": {
                    "token": { "type": "string", "x-secret": true },
                    "customers": { "type": "integer", "minimum": 1 }
                }
            }),
            documentation: None,
        }
    }

    #[test]
    fn valid_config_passes() {
        spec().validate("t", &json!({"token": "x", "customers": 3})).unwrap();
    }

    #[test]
    fn every_issue_names_its_field() {
        let err = spec().validate("t", &json!({"customers": 0, "colour": "red"})).unwrap_err();
        let ConnectorError::InvalidConfig { issues, .. } = &err else { panic!("{err}") };
        let text = err.to_string();
        assert!(issues.iter().any(|i| i.path == "config.customers" && i.message.contains("minimum")), "{text}");
        assert!(text.contains("token"), "{text}");
        assert!(text.contains("colour"), "{text}");
    }

    #[test]
    fn secret_fields_are_listed() {
        assert_eq!(spec().secret_fields(), vec!["token".to_string()]);
    }
}
