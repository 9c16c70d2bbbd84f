//! JSON Schema (as Airbyte sources and declarative manifests write it) → Arrow schema.
//!
//! | JSON Schema | Arrow |
//! |---|---|
//! | `string` | `Utf8` |
//! | `string` + `format: date-time`, or `airbyte_type: timestamp_with_timezone` / `timestamp_without_timezone` | `Timestamp(Microsecond, "UTC")` (a time without offset is read as UTC) |
//! | `string` + `format: date` | `Date32` |
//! | `integer` (or `number` + `airbyte_type: integer`) | `Int64` |
//! | `number` | `Float64` |
//! | `boolean` | `Boolean` |
//! | `object` with `properties` | `Struct` of those properties |
//! | `object` without `properties` whose `additionalProperties` is a primitive schema (`{type: string}`) | `Map<Utf8, that type>`, entries named as Delta names them (`key_value`: `key`, `value`), for objects whose keys vary by record (Typeform's hidden fields, SurveyMonkey's custom variables) |
//! | `array` with `items` | `List` of the item type, the item field named `element` as in Parquet and Delta (`List<Utf8>` without `items`) |
//! | no `type`, or only `null` | `Utf8` |
//! | several primitive types (`["string", "integer"]`) | `Utf8`; only `integer` and `number`: `Float64` |
//! | Airbyte protocol v1 `$ref: WellKnownTypes.json#/definitions/…` | the type it names |
//!
//! A field is nullable when its `type` allows `null` or, inside an object, when it is not
//! listed in the object's `required`: a record that leaves it out then reads as null.
//!
//! **Omitted fields.** arrow-json cannot put a JSON object into a `Utf8` column (it rejects
//! the record: "expected string got {…}"), so a property that can hold arbitrary JSON has no
//! faithful Arrow type. An `object` without `properties` (or whose properties are all
//! omitted) and without a primitive `additionalProperties` (a map, above), an `array` of
//! such objects, and a union of an object or array with other types are therefore left out
//! of the schema; records keep flowing, and the decoder ignores the value. Untyped fields (no `type`) become `Utf8`: strings, numbers and booleans read fine
//! when the decoder coerces primitives (`ReaderBuilder::with_coerce_primitive(true)`), and an
//! object or list in one (or in any text field, or as an element of an `array` without
//! `items`) is kept as its JSON text by the declarative decoder's relaxed pass, as Airbyte's
//! destinations keep such values.
//!
//! Properties come out in the order `serde_json` keeps them (sorted by name).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use serde_json::Value;

use crate::error::ConnectorError;

/// The Arrow schema of records described by `json_schema` (an object schema with
/// `properties`); see the module documentation for the mapping and the omitted fields.
pub fn arrow_schema(json_schema: &Value) -> Result<Schema, ConnectorError> {
    if !json_schema.is_object() {
        return Err(invalid("", &format!("the schema must be a JSON object, not {json_schema}")));
    }
    Ok(Schema::new(object_fields("", json_schema)?))
}

/// The Arrow field for one property named `name` with schema `json_schema`, or `None` when
/// it has no faithful Arrow type (an object without properties, see the module
/// documentation). Nullable when its `type` allows `null` or is absent.
pub fn arrow_field(name: &str, json_schema: &Value) -> Result<Option<Field>, ConnectorError> {
    field_at(name, name, json_schema)
}

/// The fields of an object schema's `properties`, relaxed to nullable unless `required`.
fn object_fields(path: &str, schema: &Value) -> Result<Vec<Field>, ConnectorError> {
    let Some(properties) = schema.get("properties") else { return Ok(Vec::new()) };
    let Some(properties) = properties.as_object() else {
        return Err(invalid(path, "`properties` must be an object"));
    };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let mut fields = Vec::with_capacity(properties.len());
    for (name, property) in properties {
        let at = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        if let Some(field) = field_at(&at, name, property)? {
            let nullable = field.is_nullable() || !required.contains(&name.as_str());
            fields.push(field.with_nullable(nullable));
        }
    }
    Ok(fields)
}

fn field_at(path: &str, name: &str, schema: &Value) -> Result<Option<Field>, ConnectorError> {
    Ok(data_type(path, schema)?.map(|(data_type, nullable)| Field::new(name, data_type, nullable)))
}

/// The Arrow type of a schema and whether it allows null; `None` when it cannot be
/// represented.
fn data_type(path: &str, schema: &Value) -> Result<Option<(DataType, bool)>, ConnectorError> {
    match schema {
        // `true` / `{}`: anything goes.
        Value::Bool(true) => return Ok(Some((DataType::Utf8, true))),
        Value::Object(_) => {}
        other => return Err(invalid(path, &format!("a property's schema must be an object, not {other}"))),
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return well_known(path, reference).map(Some);
    }
    if let Some(alternatives) = schema.get("anyOf").or_else(|| schema.get("oneOf")) {
        return union(path, alternatives);
    }
    let (types, nullable) = type_names(path, schema)?;
    match types.as_slice() {
        [] if schema.get("properties").is_some()
            || schema.get("additionalProperties").is_some_and(Value::is_object) =>
        {
            Ok(object(path, schema)?.map(|t| (t, true)))
        }
        [] if schema.get("items").is_some() => Ok(array(path, schema)?.map(|t| (t, true))),
        [] => Ok(Some((DataType::Utf8, true))),
        [single] => Ok(single_type(path, single, schema)?.map(|t| (t, nullable))),
        several => Ok(mixed(several).map(|t| (t, nullable))),
    }
}

/// The non-null type names of `type` and whether it allows null (absent: any type, nullable).
fn type_names<'a>(path: &str, schema: &'a Value) -> Result<(Vec<&'a str>, bool), ConnectorError> {
    let names: Vec<&str> = match schema.get("type") {
        None => return Ok((Vec::new(), true)),
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names
            .iter()
            .map(|n| n.as_str().ok_or_else(|| invalid(path, &format!("`type` lists {n}, which is not a type name"))))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(invalid(path, &format!("`type` must be a name or a list of names, not {other}"))),
    };
    let nullable = names.contains(&"null");
    Ok((names.into_iter().filter(|n| *n != "null").collect(), nullable))
}

fn single_type(path: &str, name: &str, schema: &Value) -> Result<Option<DataType>, ConnectorError> {
    let format = schema.get("format").and_then(Value::as_str);
    let airbyte_type = schema.get("airbyte_type").and_then(Value::as_str);
    Ok(Some(match name {
        "string" => match (format, airbyte_type) {
            (_, Some("timestamp_with_timezone" | "timestamp_without_timezone")) | (Some("date-time"), _) => timestamp(),
            (Some("date"), _) | (_, Some("date")) => DataType::Date32,
            _ => DataType::Utf8,
        },
        "integer" => DataType::Int64,
        "number" if airbyte_type == Some("integer") => DataType::Int64,
        "number" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "object" => return object(path, schema),
        "array" => return array(path, schema),
        other => {
            return Err(invalid(
                path,
                &format!("unknown type `{other}`; use one of string, integer, number, boolean, object, array, null"),
            ));
        }
    }))
}

/// A `Struct` of the properties, a `Map` when there are none but `additionalProperties`
/// gives the values' primitive type, or `None` when nothing can be represented.
fn object(path: &str, schema: &Value) -> Result<Option<DataType>, ConnectorError> {
    if schema.get("properties").is_none()
        && let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object())
    {
        return map(path, values);
    }
    let fields = object_fields(path, schema)?;
    Ok((!fields.is_empty()).then(|| DataType::Struct(Fields::from(fields))))
}

/// The names Delta (and so the lake) gives a map's entries, its keys and its values: a map
/// written under other names would read back as another type.
const MAP_ENTRIES: &str = "key_value";

/// `Map<Utf8, V>` for an object whose keys vary and whose values have the primitive schema
/// `values`; `None` when the values are objects or arrays (no faithful Arrow type for them
/// in a map decoded from JSON).
fn map(path: &str, values: &Value) -> Result<Option<DataType>, ConnectorError> {
    let Some((value_type, _)) = data_type(&format!("{path}.*"), values)? else { return Ok(None) };
    if value_type.is_nested() {
        return Ok(None);
    }
    let entries = Fields::from(vec![Field::new("key", DataType::Utf8, false), Field::new("value", value_type, true)]);
    Ok(Some(DataType::Map(Arc::new(Field::new(MAP_ENTRIES, DataType::Struct(entries), false)), false)))
}

/// The name of a list's item field: Parquet's and Delta's (`element`), so a table read
/// back has the very type it was written with.
const LIST_ITEM: &str = "element";

/// A `List` of the item type, or `None` when the items cannot be represented.
fn array(path: &str, schema: &Value) -> Result<Option<DataType>, ConnectorError> {
    let item = match schema.get("items") {
        None => Some((DataType::Utf8, true)),
        // Tuple validation (`items: [a, b]`): the positions may differ in type.
        Some(Value::Array(_)) => None,
        Some(items) => data_type(&format!("{path}[]"), items)?,
    };
    Ok(item.map(|(data_type, nullable)| DataType::List(Arc::new(Field::new(LIST_ITEM, data_type, nullable)))))
}

/// `anyOf` / `oneOf`: one alternative besides `null` is that type; several primitive ones
/// are a union as in [`mixed`].
fn union(path: &str, alternatives: &Value) -> Result<Option<(DataType, bool)>, ConnectorError> {
    let Some(alternatives) = alternatives.as_array() else {
        return Err(invalid(path, "`anyOf` / `oneOf` must be a list of schemas"));
    };
    let is_null = |a: &Value| a.get("type").and_then(Value::as_str) == Some("null");
    let nullable = alternatives.iter().any(is_null);
    let others: Vec<&Value> = alternatives.iter().filter(|a| !is_null(a)).collect();
    match others.as_slice() {
        [] => Ok(Some((DataType::Utf8, true))),
        [one] => Ok(data_type(path, one)?.map(|(t, n)| (t, n || nullable))),
        several => {
            let mut names = Vec::new();
            for alternative in several {
                let (types, _) = type_names(path, alternative)?;
                if types.is_empty() {
                    return Ok(None);
                }
                names.extend(types);
            }
            Ok(mixed(&names).map(|t| (t, nullable)))
        }
    }
}

/// Several non-null types: numbers widen to `Float64`, other primitives are text, anything
/// with an object or array cannot be represented.
fn mixed(names: &[&str]) -> Option<DataType> {
    if names.iter().all(|n| matches!(*n, "integer" | "number")) {
        Some(DataType::Float64)
    } else if names.iter().all(|n| matches!(*n, "string" | "integer" | "number" | "boolean")) {
        Some(DataType::Utf8)
    } else {
        None
    }
}

/// Airbyte protocol v1 well-known types (`WellKnownTypes.json#/definitions/Integer`).
fn well_known(path: &str, reference: &str) -> Result<(DataType, bool), ConnectorError> {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    let data_type = match name {
        "String" | "BinaryData" | "TimeWithTimezone" | "TimeWithoutTimezone" => DataType::Utf8,
        "Boolean" => DataType::Boolean,
        "Date" => DataType::Date32,
        "TimestampWithTimezone" | "TimestampWithoutTimezone" => timestamp(),
        "Number" => DataType::Float64,
        "Integer" => DataType::Int64,
        _ => return Err(invalid(path, &format!("`$ref` to `{reference}` is not supported; inline the schema"))),
    };
    Ok((data_type, true))
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn invalid(path: &str, message: &str) -> ConnectorError {
    let at = if path.is_empty() { "the stream schema".to_string() } else { format!("property `{path}`") };
    ConnectorError::Source(format!("JSON Schema of {at}: {message}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(schema: Value) -> Option<Field> {
        arrow_field("f", &schema).unwrap()
    }

    fn data_type_of(schema: Value) -> DataType {
        field(schema).expect("representable").data_type().clone()
    }

    #[test]
    fn primitives() {
        assert_eq!(data_type_of(json!({"type": "string"})), DataType::Utf8);
        assert_eq!(data_type_of(json!({"type": "integer"})), DataType::Int64);
        assert_eq!(data_type_of(json!({"type": "number"})), DataType::Float64);
        assert_eq!(data_type_of(json!({"type": "number", "airbyte_type": "integer"})), DataType::Int64);
        assert_eq!(data_type_of(json!({"type": "boolean"})), DataType::Boolean);
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(data_type_of(json!({"type": "string", "format": "date-time"})), timestamp());
        let without = json!({"type": "string", "airbyte_type": "timestamp_without_timezone"});
        assert_eq!(data_type_of(without), timestamp());
        let with = json!({"type": ["null", "string"], "airbyte_type": "timestamp_with_timezone"});
        assert_eq!(data_type_of(with), timestamp());
        assert_eq!(data_type_of(json!({"type": "string", "format": "date"})), DataType::Date32);
        assert_eq!(data_type_of(json!({"type": "string", "format": "email"})), DataType::Utf8);
    }

    #[test]
    fn null_in_the_type_makes_a_field_nullable() {
        assert!(!field(json!({"type": "string"})).unwrap().is_nullable());
        assert!(field(json!({"type": ["null", "string"]})).unwrap().is_nullable());
        assert!(field(json!({"type": ["integer", "null"]})).unwrap().is_nullable());
        assert_eq!(data_type_of(json!({"type": ["integer", "null"]})), DataType::Int64);
    }

    #[test]
    fn missing_type_is_nullable_text() {
        let f = field(json!({"description": "anything"})).unwrap();
        assert_eq!(f.data_type(), &DataType::Utf8);
        assert!(f.is_nullable());
        assert_eq!(data_type_of(json!({"type": "null"})), DataType::Utf8);
        assert_eq!(data_type_of(json!(true)), DataType::Utf8);
    }

    #[test]
    fn several_types() {
        assert_eq!(data_type_of(json!({"type": ["integer", "number"]})), DataType::Float64);
        assert_eq!(data_type_of(json!({"type": ["null", "string", "integer"]})), DataType::Utf8);
        assert!(field(json!({"type": ["string", "object"]})).is_none());
        let any_of = json!({"anyOf": [{"type": "null"}, {"type": "string", "format": "date-time"}]});
        let f = field(any_of).unwrap();
        assert_eq!(f.data_type(), &timestamp());
        assert!(f.is_nullable());
        assert_eq!(data_type_of(json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})), DataType::Utf8);
    }

    #[test]
    fn objects_become_structs_of_their_properties() {
        let schema = json!({
            "type": ["null", "object"],
            "required": ["id"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "extra": {"type": "object"}
            }
        });
        let DataType::Struct(fields) = data_type_of(schema) else { panic!("a struct") };
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "name"], "the object without properties is omitted");
        assert!(!fields[0].is_nullable(), "required and not nullable");
        assert!(fields[1].is_nullable(), "not required: may be absent");
    }

    #[test]
    fn objects_without_properties_are_omitted() {
        assert!(field(json!({"type": "object"})).is_none());
        assert!(field(json!({"type": "object", "properties": {"x": {"type": "object"}}})).is_none());
        assert!(field(json!({"type": "array", "items": {"type": "object"}})).is_none());
    }

    #[test]
    fn objects_with_only_additional_properties_become_maps() {
        let hidden = json!({"type": ["object", "null"], "additionalProperties": {"type": "string"}});
        let f = field(hidden).unwrap();
        assert!(f.is_nullable());
        let DataType::Map(entries, sorted) = f.data_type() else { panic!("a map: {f:?}") };
        assert!(!sorted);
        assert_eq!(entries.name(), "key_value");
        let DataType::Struct(kv) = entries.data_type() else { panic!("entries are a struct") };
        assert_eq!((kv[0].name().as_str(), kv[0].data_type()), ("key", &DataType::Utf8));
        assert_eq!((kv[1].name().as_str(), kv[1].data_type()), ("value", &DataType::Utf8));
        let DataType::Map(entries, _) = data_type_of(json!({"additionalProperties": {"type": "integer"}})) else {
            panic!("a map without `type`")
        };
        assert!(matches!(entries.data_type(), DataType::Struct(kv) if kv[1].data_type() == &DataType::Int64));
        // Values that are objects have no faithful type; `additionalProperties: true` says nothing.
        assert!(field(json!({"type": "object", "additionalProperties": {"type": "object"}})).is_none());
        assert!(field(json!({"type": "object", "additionalProperties": true})).is_none());
    }

    #[test]
    fn maps_decode_from_json_objects_with_any_keys() {
        use arrow::array::Array as _;

        let schema = Arc::new(
            arrow_schema(&json!({"properties": {
                "id": {"type": "string"},
                "hidden": {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
            }}))
            .unwrap(),
        );
        let rows = br#"{"id": "a", "hidden": {"utm_source": "newsletter", "ticket": "35436"}}
{"id": "b", "hidden": {}}
{"id": "c"}
{"id": "d", "hidden": {"plan": null}}"#;
        let mut reader = arrow::json::ReaderBuilder::new(schema).build(&rows[..]).unwrap();
        let batch = reader.next().unwrap().unwrap();
        let hidden = batch.column_by_name("hidden").unwrap();
        let map = hidden.as_any().downcast_ref::<arrow::array::MapArray>().unwrap();
        assert_eq!(map.value_length(0), 2);
        assert_eq!(map.value_length(1), 0);
        assert!(map.is_null(2));
        let keys = map.keys().as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        let values = map.values().as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        assert_eq!((keys.value(0), values.value(0)), ("utm_source", "newsletter"));
        assert_eq!((keys.value(1), values.value(1)), ("ticket", "35436"));
        assert_eq!(keys.value(2), "plan");
        assert!(values.is_null(2));
    }

    #[test]
    fn arrays_become_lists_of_their_items() {
        let list = data_type_of(json!({"type": "array", "items": {"type": ["null", "integer"]}}));
        assert_eq!(list, DataType::List(Arc::new(Field::new("element", DataType::Int64, true))));
        let untyped = data_type_of(json!({"type": "array"}));
        assert_eq!(untyped, DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))));
        let DataType::List(item) = data_type_of(json!({
            "type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}
        })) else {
            panic!("a list")
        };
        assert!(matches!(item.data_type(), DataType::Struct(f) if f.len() == 1));
    }

    #[test]
    fn airbyte_v1_well_known_types() {
        let ts = json!({"$ref": "WellKnownTypes.json#/definitions/TimestampWithTimezone"});
        assert_eq!(data_type_of(ts), timestamp());
        assert_eq!(data_type_of(json!({"$ref": "WellKnownTypes.json#/definitions/Integer"})), DataType::Int64);
        assert_eq!(data_type_of(json!({"$ref": "WellKnownTypes.json#/definitions/Date"})), DataType::Date32);
    }

    #[test]
    fn stream_schema_keeps_representable_properties_nullable_unless_required() {
        let schema = arrow_schema(&json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer"},
                "email": {"type": "string"},
                "raw": {"type": "object"},
                "updated_at": {"type": ["null", "string"], "format": "date-time"}
            }
        }))
        .unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["email", "id", "updated_at"]);
        assert!(!schema.field_with_name("id").unwrap().is_nullable());
        assert!(schema.field_with_name("email").unwrap().is_nullable());
        assert!(arrow_schema(&json!({})).unwrap().fields().is_empty());
    }

    #[test]
    fn mistakes_name_the_property() {
        let err = arrow_schema(&json!({"properties": {"a": {"properties": {"b": {"type": "strin"}}}}})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`a.b`") && text.contains("strin"), "{text}");
        let err = arrow_schema(&json!("string")).unwrap_err().to_string();
        assert!(err.contains("must be a JSON object"), "{err}");
        let err = arrow_field("x", &json!({"type": 3})).unwrap_err().to_string();
        assert!(err.contains("`x`"), "{err}");
    }
}
