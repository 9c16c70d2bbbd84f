//! Reading a response export file: the zip Qualtrics serves (or the bare JSON of an export
//! made with `compress: false`), decoded one response at a time so a large export never
//! needs its whole JSON document in memory, and each response's `values`/`labels` split into
//! metadata, answered questions and embedded data.
//!
//! The JSON export is `{"responses": [{"responseId", "values", "labels", "displayedFields",
//! "displayedValues"}, …]}`; `values` holds the response's metadata (`recordedDate`,
//! `status`, `distributionChannel`, …), its answers by export field (`QID1`, `QID3_2` for a
//! matrix row, `QID4_TEXT` for text) and its embedded data by name; `labels` the text of
//! coded answers (a choice's label).

use std::fmt;
use std::io::{BufReader, Cursor, Read};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Fields of `values` that are response metadata, not answers or embedded data.
pub const METADATA: &[&str] = &[
    "startDate",
    "endDate",
    "status",
    "ipAddress",
    "progress",
    "duration",
    "finished",
    "recordedDate",
    "_recordId",
    "locationLatitude",
    "locationLongitude",
    "distributionChannel",
    "userLanguage",
    "recipientEmail",
    "recipientFirstName",
    "recipientLastName",
    "externalDataReference",
];

/// One response as the export file has it.
#[derive(Debug, Deserialize)]
pub struct RawResponse {
    /// R_… id.
    #[serde(rename = "responseId")]
    pub response_id: String,
    /// Metadata, answers and embedded data by field.
    #[serde(default)]
    pub values: Map<String, Value>,
    /// Labels of coded values by field.
    #[serde(default)]
    pub labels: Map<String, Value>,
}

/// A response with its times parsed.
#[derive(Debug, Clone)]
pub struct Response {
    /// R_… id.
    pub id: String,
    /// When Qualtrics recorded it: the incremental cursor.
    pub recorded: DateTime<Utc>,
    /// When the respondent began.
    pub start: Option<DateTime<Utc>>,
    /// When the respondent finished.
    pub end: Option<DateTime<Utc>>,
    values: Map<String, Value>,
    labels: Map<String, Value>,
}

/// One value of a response, for `response_values`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRow<'a> {
    /// The export field (`QID1`, `QID3_2`, `QID4_TEXT`) or embedded data name.
    pub field: &'a str,
    /// The question the field belongs to (`QID3` for `QID3_2`); `None` for embedded data.
    pub question_id: Option<&'a str>,
    /// `question` or `embedded`.
    pub kind: &'static str,
    /// The value when it is a number.
    pub number: Option<f64>,
    /// The label of a coded value, else the value as text.
    pub text: Option<String>,
}

impl Response {
    /// Parses the times of a raw response; an error names the response and the field.
    pub fn from_raw(raw: RawResponse) -> Result<Self, String> {
        let time = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
            match raw.values.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|e| format!("response {}: {key} `{s}` is not an RFC 3339 time ({e})", raw.response_id)),
                Some(other) => Err(format!("response {}: {key} is {other}, not a time", raw.response_id)),
            }
        };
        let recorded = time("recordedDate")?
            .ok_or_else(|| format!("response {} has no recordedDate in its values", raw.response_id))?;
        let (start, end) = (time("startDate")?, time("endDate")?);
        Ok(Response { id: raw.response_id, recorded, start, end, values: raw.values, labels: raw.labels })
    }

    /// A metadata value as text.
    pub fn meta_text(&self, key: &str) -> Option<String> {
        self.values.get(key).and_then(as_text).filter(|t| !t.is_empty())
    }

    /// A metadata value as an integer (JSON numbers and numeric text).
    pub fn meta_i64(&self, key: &str) -> Option<i64> {
        match self.values.get(key)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64)),
            Value::String(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// A metadata value as a float (JSON numbers and numeric text).
    pub fn meta_f64(&self, key: &str) -> Option<f64> {
        match self.values.get(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The label of a field.
    pub fn label(&self, key: &str) -> Option<String> {
        self.labels.get(key).and_then(as_text).filter(|t| !t.is_empty())
    }

    /// The embedded data fields as a JSON object text; `None` when there are none.
    pub fn embedded_json(&self) -> Option<String> {
        let embedded: Map<String, Value> = self
            .values
            .iter()
            .filter(|(field, _)| classify(field) == Some(None))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!embedded.is_empty()).then(|| Value::Object(embedded).to_string())
    }

    /// Every answered question and embedded data value, in field order; unanswered ones
    /// (null, empty text, no choice) are left out.
    pub fn values(&self) -> impl Iterator<Item = ValueRow<'_>> {
        self.values.iter().filter_map(|(field, value)| {
            let question_id = classify(field)?;
            let label = self.labels.get(field);
            let (number, text) = match value {
                Value::Null => return None,
                Value::String(s) if s.is_empty() => return None,
                Value::Array(items) if items.is_empty() => return None,
                Value::Number(n) => (n.as_f64(), label.and_then(as_text).or_else(|| Some(n.to_string()))),
                Value::Array(items) => {
                    let text = label
                        .and_then(as_text)
                        .unwrap_or_else(|| items.iter().filter_map(as_text).collect::<Vec<_>>().join(", "));
                    (None, Some(text))
                }
                other => (None, label.and_then(as_text).or_else(|| as_text(other))),
            };
            let kind = if question_id.is_some() { "question" } else { "embedded" };
            Some(ValueRow { field, question_id, kind, number, text })
        })
    }
}

/// What a field of `values` is: `None` for metadata and display orders (not a value row),
/// `Some(Some(qid))` for an answer to question `qid`, `Some(None)` for embedded data.
fn classify(field: &str) -> Option<Option<&str>> {
    if METADATA.contains(&field) || field.ends_with("_DO") {
        return None;
    }
    Some(question_of(field))
}

/// The question id a field belongs to: `QID3` for `QID3`, `QID3_2`, `QID3_TEXT` or a loop's
/// `1_QID3`.
pub fn question_of(field: &str) -> Option<&str> {
    let rest = match field.split_once('_') {
        Some((lead, rest)) if !lead.is_empty() && lead.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => field,
    };
    let digits = rest.strip_prefix("QID")?;
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 {
        return None;
    }
    let end = 3 + len;
    match rest.as_bytes().get(end) {
        None | Some(b'_') | Some(b'#') => Some(&rest[..end]),
        _ => None,
    }
}

/// A JSON value as text: strings as they are, numbers and booleans printed, arrays joined.
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => Some(items.iter().filter_map(as_text).collect::<Vec<_>>().join(", ")),
        Value::Object(_) => Some(value.to_string()),
    }
}

/// Decodes an export file (a zip holding one `.json` entry, or bare JSON), handing each
/// response to `on_response` as soon as it is decoded. Returns the number of responses.
/// Errors are for the user: what is wrong with the file (or what `on_response` refused).
pub fn decode_file(
    bytes: &[u8],
    on_response: &mut dyn FnMut(RawResponse) -> Result<(), String>,
) -> Result<usize, String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return decode_json(bytes, on_response);
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("the export file is not a readable zip ({e}); was the download cut short?"))?;
    let names: Vec<String> = (0..archive.len())
        .map(|i| archive.name_for_index(i).and_then(Result::ok).map(|n| n.into_owned()).unwrap_or_default())
        .collect();
    let Some(index) = names.iter().position(|n| n.to_ascii_lowercase().ends_with(".json")) else {
        return Err(format!(
            "the export zip holds no .json file (it has: {}); the connector asks for format json",
            names.join(", ")
        ));
    };
    let name = names[index].clone();
    let entry = archive.by_index(index).map_err(|e| format!("cannot open {name} in the export zip: {e}"))?;
    decode_json(BufReader::new(entry), on_response).map_err(|e| format!("{name}: {e}"))
}

fn decode_json(
    reader: impl Read,
    on_response: &mut dyn FnMut(RawResponse) -> Result<(), String>,
) -> Result<usize, String> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let count = ExportSeed { on_response }
        .deserialize(&mut deserializer)
        .map_err(|e| format!("the export's JSON cannot be read: {e}"))?;
    deserializer.end().map_err(|e| format!("the export's JSON has trailing data: {e}"))?;
    Ok(count)
}

/// The top-level object: `responses` is walked element by element, other keys skipped.
struct ExportSeed<'f> {
    on_response: &'f mut dyn FnMut(RawResponse) -> Result<(), String>,
}

impl<'de> DeserializeSeed<'de> for ExportSeed<'_> {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ExportSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a `responses` array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut count = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "responses" && count.is_none() {
                count = Some(map.next_value_seed(ResponsesSeed { on_response: &mut *self.on_response })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        count.ok_or_else(|| de::Error::missing_field("responses"))
    }
}

struct ResponsesSeed<'f> {
    on_response: &'f mut dyn FnMut(RawResponse) -> Result<(), String>,
}

impl<'de> DeserializeSeed<'de> for ResponsesSeed<'_> {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResponsesSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of responses")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while let Some(response) = seq.next_element::<RawResponse>()? {
            (self.on_response)(response).map_err(de::Error::custom)?;
            count += 1;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use serde_json::json;

    use super::*;

    fn response() -> Response {
        let raw: RawResponse = serde_json::from_value(json!({
            "responseId": "R_1",
            "values": {
                "startDate": "2024-05-01T10:00:00Z", "endDate": "2024-05-01T10:03:00Z",
                "recordedDate": "2024-05-01T10:03:01.250Z", "status": 0, "finished": 1, "progress": 100,
                "locationLatitude": "52.52", "distributionChannel": "email", "recipientEmail": "a@b.example",
                "QID1": 9, "QID2_TEXT": "Fast", "QID3_1": 4, "QID4": [1, 3], "QID5_DO": [1, 2], "QID6": "",
                "plan": "pro", "1_QID7": 2
            },
            "labels": { "status": "IP Address", "QID1": "9", "QID3_1": "Agree", "QID4": ["Email", "Phone"] },
            "displayedFields": ["QID1"],
            "displayedValues": { "QID1": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }
        }))
        .unwrap();
        Response::from_raw(raw).unwrap()
    }

    #[test]
    fn values_split_into_answers_and_embedded_data() {
        let r = response();
        assert_eq!(r.recorded.to_rfc3339(), "2024-05-01T10:03:01.250+00:00");
        assert_eq!((r.meta_f64("locationLatitude"), r.meta_i64("finished")), (Some(52.52), Some(1)));
        assert_eq!(r.label("status").as_deref(), Some("IP Address"));
        let mut rows: Vec<ValueRow<'_>> = r.values().collect();
        rows.sort_by_key(|v| v.field);
        let row = |field, question_id, kind, number, text: &str| ValueRow {
            field,
            question_id,
            kind,
            number,
            text: Some(text.to_string()),
        };
        assert_eq!(
            rows,
            [
                row("1_QID7", Some("QID7"), "question", Some(2.0), "2"),
                row("QID1", Some("QID1"), "question", Some(9.0), "9"),
                row("QID2_TEXT", Some("QID2"), "question", None, "Fast"),
                row("QID3_1", Some("QID3"), "question", Some(4.0), "Agree"),
                row("QID4", Some("QID4"), "question", None, "Email, Phone"),
                row("plan", None, "embedded", None, "pro"),
            ]
        );
        assert_eq!(r.embedded_json().as_deref(), Some(r#"{"plan":"pro"}"#));
    }

    #[test]
    fn question_ids_come_from_export_fields() {
        assert_eq!(question_of("QID12"), Some("QID12"));
        assert_eq!(question_of("QID12_3_TEXT"), Some("QID12"));
        assert_eq!(question_of("2_QID5_1"), Some("QID5"));
        assert_eq!(question_of("QIDX"), None);
        assert_eq!(question_of("QID12abc"), None);
        assert_eq!(question_of("plan"), None);
    }

    #[test]
    fn a_response_without_recorded_date_is_named() {
        let raw: RawResponse = serde_json::from_value(json!({ "responseId": "R_9", "values": {} })).unwrap();
        assert!(Response::from_raw(raw).unwrap_err().contains("R_9"));
    }

    fn zipped(name: &str, text: &str) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn zipped_and_bare_exports_decode_response_by_response() {
        let text =
            r#"{"responses": [{"responseId": "R_1", "values": {}}, {"responseId": "R_2", "values": {}}], "other": 1}"#;
        for bytes in [zipped("Survey.json", text), text.as_bytes().to_vec()] {
            let mut ids = Vec::new();
            let n = decode_file(&bytes, &mut |r| {
                ids.push(r.response_id);
                Ok(())
            })
            .unwrap();
            assert_eq!((n, ids), (2, vec!["R_1".to_string(), "R_2".to_string()]));
        }
    }

    #[test]
    fn broken_files_fail_with_the_reason() {
        let bytes = zipped("Survey.json", r#"{"responses": [{"responseId": "R_1"}, {"respo"#);
        let err = decode_file(&bytes, &mut |_| Ok(())).unwrap_err();
        assert!(err.contains("Survey.json") && err.contains("JSON"), "{err}");
        let err = decode_file(&bytes[..bytes.len() / 2], &mut |_| Ok(())).unwrap_err();
        assert!(err.contains("not a readable zip"), "{err}");
        let err = decode_file(&zipped("Survey.csv", "a,b"), &mut |_| Ok(())).unwrap_err();
        assert!(err.contains("no .json file") && err.contains("Survey.csv"), "{err}");
        let err = decode_file(br#"{"responses": [1]}"#, &mut |_| Ok(())).unwrap_err();
        assert!(err.contains("JSON"), "{err}");
        let err =
            decode_file(br#"{"responses": [{"responseId": "R_1"}]}"#, &mut |_| Err("refused".into())).unwrap_err();
        assert!(err.contains("refused"), "{err}");
    }
}
