//! Airbyte's `spec.connection_specification` as the native `spec`: the same JSON Schema,
//! with `airbyte_secret: true` also marked `x-secret: true` so txlake masks the value and
//! counts it as a secret.

use serde_json::{Map, Value, json};

/// The native spec of an Airbyte `Spec` component (none: an object accepting anything).
pub fn native_spec(spec: Option<&Value>) -> Value {
    let mut schema = spec
        .and_then(|s| s.get("connection_specification"))
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
    mark_secrets(&mut schema);
    if let Some(object) = schema.as_object_mut() {
        object.entry("type").or_insert_with(|| Value::String("object".into()));
        object.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    }
    schema
}

/// The documentation URL of an Airbyte `Spec`.
pub fn documentation(spec: Option<&Value>) -> Option<String> {
    spec.and_then(|s| s.get("documentation_url")).and_then(Value::as_str).map(str::to_string)
}

fn mark_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("airbyte_secret").and_then(Value::as_bool) == Some(true) {
                map.insert("x-secret".into(), Value::Bool(true));
            }
            map.values_mut().for_each(mark_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(mark_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_marked_everywhere() {
        let spec = json!({
            "type": "Spec",
            "documentation_url": "https://docs.airbyte.com/integrations/sources/x",
            "connection_specification": {
                "type": "object",
                "required": ["credentials"],
                "properties": {
                    "start_date": { "type": "string" },
                    "credentials": { "oneOf": [
                        { "properties": { "access_token": { "type": "string", "airbyte_secret": true } } },
                        { "properties": { "client_secret": { "type": "string", "airbyte_secret": true } } },
                    ] },
                },
            },
        });
        let native = native_spec(Some(&spec));
        assert_eq!(native["properties"]["credentials"]["oneOf"][0]["properties"]["access_token"]["x-secret"], true);
        assert_eq!(native["properties"]["credentials"]["oneOf"][1]["properties"]["client_secret"]["x-secret"], true);
        assert!(native["properties"]["start_date"].get("x-secret").is_none());
        assert_eq!(documentation(Some(&spec)).as_deref(), Some("https://docs.airbyte.com/integrations/sources/x"));
        assert_eq!(native_spec(None), json!({ "type": "object", "properties": {} }));
    }
}
