//! From a page's bytes to Arrow: the record selector finds the records (as raw JSON slices,
//! never a `serde_json::Value` per record), the rest of the body becomes the `response`
//! the paginator and error rules read, and arrow-json decodes the slices straight into a
//! RecordBatch of the stream's schema.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::json::ReaderBuilder;
use serde_json::Value;

/// A page split into what the paginator reads and the records.
#[derive(Debug)]
pub struct Selected<'a> {
    /// The body without the records (`Null` when the body is the array of records).
    pub response: Value,
    /// Each record's JSON text, borrowed from the body. Its UTF-8 is checked by arrow-json
    /// as it decodes, so the selector never validates the records twice.
    pub records: Vec<&'a [u8]>,
    /// Whether the body has the record path at all: a page without it has no records, and
    /// that may be the API leaving out an empty list or a side-load that was not returned.
    pub found: bool,
}

/// Splits a body along a dotted record path (empty: the body is the records).
///
/// One pass over the bytes: the records' extents are found by a scanner that only tracks
/// strings and nesting (arrow-json validates them as it decodes), and only the rest of the
/// body (paging, metadata) is parsed into a `Value`.
pub fn select<'a>(body: &'a [u8], path: &[&str]) -> Result<Selected<'a>, String> {
    let mut scanner = Scanner { text: body, at: 0 };
    scanner.whitespace();
    let mut records = Vec::new();
    let mut found = false;
    let response = split(&mut scanner, path, &mut records, &mut found)?;
    scanner.whitespace();
    if scanner.at < body.len() {
        return Err(format!("malformed JSON: unexpected `{}` after the document", short(&body[scanner.at..])));
    }
    Ok(Selected { response, records, found })
}

/// One segment of a record path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A key of an object.
    Key(String),
    /// `*`: every element of a list, every value of an object.
    Any,
}

/// A parsed `records.path`: dot-separated segments, `*` for any element or value, a
/// segment holding a dot written in double quotes (`data."x.y".items`; `"*"` is the key
/// `*` itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPath(pub Vec<Segment>);

impl RecordPath {
    /// Parses a path, or says what is wrong with it (an unclosed quote).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        let mut current = String::new();
        let mut quoted = false;
        let push = |current: &mut String, quoted: &mut bool, segments: &mut Vec<Segment>| {
            if *quoted {
                segments.push(Segment::Key(std::mem::take(current)));
            } else if current == "*" {
                segments.push(Segment::Any);
                current.clear();
            } else if !current.is_empty() {
                segments.push(Segment::Key(std::mem::take(current)));
            }
            *quoted = false;
        };
        while let Some(c) = chars.next() {
            match c {
                '"' if current.is_empty() && !quoted => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(escaped) => current.push(escaped),
                                None => return Err(format!("`{text}`: the path ends inside a quoted segment")),
                            },
                            Some(other) => current.push(other),
                            None => return Err(format!("`{text}`: a quoted segment is not closed")),
                        }
                    }
                    if chars.peek().is_some_and(|c| *c != '.') {
                        return Err(format!("`{text}`: a quoted segment must be followed by `.` or end the path"));
                    }
                }
                '.' => push(&mut current, &mut quoted, &mut segments),
                other => current.push(other),
            }
        }
        push(&mut current, &mut quoted, &mut segments);
        Ok(RecordPath(segments))
    }

    /// The keys of a path without wildcards (the scanner's fast path), or `None`.
    pub fn plain(&self) -> Option<Vec<&str>> {
        self.0
            .iter()
            .map(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                Segment::Any => None,
            })
            .collect()
    }
}

/// Selects the records of a body along a path: the bit-mask scanner's fast path for plain
/// paths, a walk for paths with `*` (whose `response` is then the whole body, as Airbyte's
/// extractor leaves it).
pub fn select_path<'a>(body: &'a [u8], path: &RecordPath) -> Result<Selected<'a>, String> {
    if let Some(plain) = path.plain() {
        return select(body, &plain);
    }
    let mut scanner = Scanner { text: body, at: 0 };
    scanner.whitespace();
    let mut records = Vec::new();
    let mut found = false;
    wild(&mut scanner, &path.0, &mut records, &mut found)?;
    scanner.whitespace();
    if scanner.at < body.len() {
        return Err(format!("malformed JSON: unexpected `{}` after the document", short(&body[scanner.at..])));
    }
    let response = serde_json::from_slice(body).map_err(describe_json_error)?;
    Ok(Selected { response, records, found })
}

/// Walks the value the scanner is at along a path with wildcards (and moves past it): every
/// match is a record (a list matched gives its elements).
fn wild<'a>(
    scanner: &mut Scanner<'a>,
    path: &[Segment],
    records: &mut Vec<&'a [u8]>,
    found: &mut bool,
) -> Result<(), String> {
    let text = scanner.text;
    let start = scanner.at;
    let Some((head, rest)) = path.split_first() else {
        *found = true;
        return match scanner.bytes().get(start) {
            Some(b'[') => {
                scanner.at += 1;
                scanner.elements(|element| {
                    if element != b"null" {
                        records.push(element)
                    }
                })
            }
            Some(b'n') => scanner.value_end().map(|_| ()),
            Some(b'{') => {
                let end = scanner.value_end()?;
                records.push(&text[start..end]);
                Ok(())
            }
            Some(_) => {
                let end = scanner.value_end().unwrap_or(text.len());
                Err(format!("expected an array of records or one record, found `{}`", short(&text[start..end])))
            }
            None => Err(scanner.truncated()),
        };
    };
    match (scanner.bytes().get(start), head) {
        (Some(b'{'), _) => {
            scanner.at += 1;
            let mut first = true;
            while let Some(raw_key) = scanner.next_member(&mut first)? {
                let matches = match head {
                    Segment::Any => true,
                    Segment::Key(wanted) => {
                        let key: std::borrow::Cow<str> = if raw_key.contains(&b'\\') {
                            serde_json::from_slice::<String>(raw_key).map_err(describe_json_error)?.into()
                        } else {
                            String::from_utf8_lossy(&raw_key[1..raw_key.len() - 1])
                        };
                        key == wanted.as_str()
                    }
                };
                if matches {
                    wild(scanner, rest, records, found)?;
                } else {
                    scanner.value_end()?;
                }
            }
            Ok(())
        }
        (Some(b'['), Segment::Any) => {
            scanner.at += 1;
            scanner.whitespace();
            if scanner.bytes().get(scanner.at) == Some(&b']') {
                scanner.at += 1;
                return Ok(());
            }
            loop {
                scanner.whitespace();
                wild(scanner, rest, records, found)?;
                scanner.whitespace();
                match scanner.bytes().get(scanner.at) {
                    Some(b',') => scanner.at += 1,
                    Some(b']') => {
                        scanner.at += 1;
                        return Ok(());
                    }
                    Some(b) => {
                        return Err(format!(
                            "malformed JSON at byte {}: expected `,` or `]`, found `{}`",
                            scanner.at, *b as char
                        ));
                    }
                    None => return Err(scanner.truncated()),
                }
            }
        }
        (None, _) => Err(scanner.truncated()),
        // A value the path cannot go into (a scalar, a list under a key): no match.
        _ => scanner.value_end().map(|_| ()),
    }
}

/// Removes the field a pointer names from a record (`*` matches every key or element);
/// a pointer that names nothing changes nothing.
pub fn remove_field(value: &mut Value, pointer: &[String]) {
    let Some((head, rest)) = pointer.split_first() else { return };
    match value {
        Value::Object(map) => {
            if head == "*" {
                if rest.is_empty() {
                    map.clear();
                } else {
                    map.values_mut().for_each(|v| remove_field(v, rest));
                }
            } else if rest.is_empty() {
                map.remove(head);
            } else if let Some(inner) = map.get_mut(head) {
                remove_field(inner, rest);
            }
        }
        Value::Array(items) => {
            if head == "*" {
                if rest.is_empty() {
                    items.clear();
                } else {
                    items.iter_mut().for_each(|v| remove_field(v, rest));
                }
            } else if let Ok(i) = head.parse::<usize>()
                && i < items.len()
            {
                // As Airbyte's dpath: a removed element of a list leaves a null, keeping
                // the other elements' positions.
                if rest.is_empty() {
                    items[i] = Value::Null;
                } else {
                    remove_field(&mut items[i], rest);
                }
            }
        }
        _ => {}
    }
}

/// Sets a (nested) field of a record, creating the objects on the way (as Airbyte's
/// AddFields); a non-object on the way is replaced by one.
pub fn set_field(record: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut at = record;
    for key in parents {
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = at else { return };
        at = map.entry(key.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = at {
        map.insert(last.clone(), value);
    }
}

/// Splits the value the scanner is at (and moves past it): the records at `path` go to
/// `records` (and `found` is set), the rest is returned.
fn split<'a>(
    scanner: &mut Scanner<'a>,
    path: &[&str],
    records: &mut Vec<&'a [u8]>,
    found: &mut bool,
) -> Result<Value, String> {
    let text = scanner.text;
    let Some((head, rest)) = path.split_first() else {
        *found = true;
        let start = scanner.at;
        return match scanner.bytes().get(start) {
            Some(b'[') => {
                scanner.at += 1;
                scanner.elements(|element| records.push(element))?;
                Ok(Value::Null)
            }
            Some(b'{') => {
                let end = scanner.value_end()?;
                records.push(&text[start..end]);
                serde_json::from_slice(&text[start..end]).map_err(describe_json_error)
            }
            Some(b'n') => {
                scanner.value_end()?;
                Ok(Value::Null)
            }
            Some(_) => {
                let end = scanner.value_end().unwrap_or(text.len());
                Err(format!("expected an array of records or one record, found `{}`", short(&text[start..end])))
            }
            None => Err(scanner.truncated()),
        };
    };
    if scanner.bytes().get(scanner.at) != Some(&b'{') {
        let start = scanner.at;
        let end = scanner.value_end().unwrap_or(text.len()).max(start);
        return Err(format!("expected an object with `{head}`, found `{}`", short(&text[start..end])));
    }
    scanner.at += 1;
    let mut response = serde_json::Map::new();
    let mut first = true;
    while let Some(raw_key) = scanner.next_member(&mut first)? {
        let key: String = if raw_key.contains(&b'\\') {
            serde_json::from_slice(raw_key).map_err(describe_json_error)?
        } else {
            let unquoted = &raw_key[1..raw_key.len() - 1];
            std::str::from_utf8(unquoted).map_err(|e| format!("a key is not UTF-8 ({e})"))?.to_string()
        };
        if key == *head {
            let inner = split(scanner, rest, records, found)?;
            if !inner.is_null() && !rest.is_empty() {
                response.insert(key, inner);
            }
        } else {
            let start = scanner.at;
            let end = scanner.value_end()?;
            response.insert(key, serde_json::from_slice(&text[start..end]).map_err(describe_json_error)?);
        }
    }
    Ok(Value::Object(response))
}

/// Finds the extents of JSON values without building them.
struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text
    }

    fn whitespace(&mut self) {
        while self.at < self.text.len() && matches!(self.bytes()[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn truncated(&self) -> String {
        format!("the JSON ends early (truncated page?) at byte {} of {}", self.at, self.text.len())
    }

    fn expect(&mut self, wanted: u8) -> Result<(), String> {
        self.whitespace();
        match self.bytes().get(self.at) {
            Some(b) if *b == wanted => {
                self.at += 1;
                Ok(())
            }
            Some(b) => Err(format!(
                "malformed JSON at byte {}: expected `{}`, found `{}`",
                self.at, wanted as char, *b as char
            )),
            None => Err(self.truncated()),
        }
    }

    /// Moves past the string starting at `self.at` (an opening quote).
    fn string_end(&mut self) -> Result<usize, String> {
        let bytes = self.bytes();
        let mut i = self.at + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
                None => {
                    self.at = bytes.len();
                    return Err(self.truncated());
                }
                Some(offset) if bytes[i + offset] == b'\\' => i += offset + 2,
                Some(offset) => {
                    self.at = i + offset + 1;
                    return Ok(self.at);
                }
            }
        }
    }

    /// Moves past the value starting at `self.at` and returns where it ends.
    fn value_end(&mut self) -> Result<usize, String> {
        let bytes = self.bytes();
        match bytes.get(self.at) {
            None => Err(self.truncated()),
            Some(b'"') => self.string_end(),
            Some(b'{' | b'[') => match super::scan::container_end(bytes, self.at) {
                Some(end) => {
                    self.at = end;
                    Ok(end)
                }
                None => {
                    self.at = bytes.len();
                    Err(self.truncated())
                }
            },
            Some(_) => {
                let start = self.at;
                while self.at < bytes.len()
                    && !matches!(bytes[self.at], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(format!("malformed JSON at byte {start}: unexpected `{}`", bytes[start] as char));
                }
                Ok(self.at)
            }
        }
    }

    /// Calls `each` with every element of the array whose `[` was just passed.
    fn elements(&mut self, mut each: impl FnMut(&'a [u8])) -> Result<(), String> {
        self.whitespace();
        if self.bytes().get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.whitespace();
            let start = self.at;
            let end = self.value_end()?;
            each(&self.text[start..end]);
            self.whitespace();
            match self.bytes().get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b) => {
                    return Err(format!(
                        "malformed JSON at byte {}: expected `,` or `]`, found `{}`",
                        self.at, *b as char
                    ));
                }
                None => return Err(self.truncated()),
            }
        }
    }

    /// The next member's key, quoted as in the text, of the object whose `{` was passed,
    /// leaving the scanner at its value; `None` after the closing `}`. `first` is true
    /// before the first member.
    fn next_member(&mut self, first: &mut bool) -> Result<Option<&'a [u8]>, String> {
        self.whitespace();
        match self.bytes().get(self.at) {
            Some(b'}') => {
                self.at += 1;
                return Ok(None);
            }
            Some(b',') if !*first => {
                self.at += 1;
                self.whitespace();
            }
            Some(b'"') if *first => {}
            Some(b) => {
                return Err(format!(
                    "malformed JSON at byte {}: expected {}, found `{}`",
                    self.at,
                    if *first { "a key" } else { "`,` or `}`" },
                    *b as char
                ));
            }
            None => return Err(self.truncated()),
        }
        *first = false;
        if self.bytes().get(self.at) != Some(&b'"') {
            return match self.bytes().get(self.at) {
                None => Err(self.truncated()),
                Some(b) => Err(format!("malformed JSON at byte {}: expected a key, found `{}`", self.at, *b as char)),
            };
        }
        let key_start = self.at;
        let key_end = self.string_end()?;
        self.expect(b':')?;
        self.whitespace();
        Ok(Some(&self.text[key_start..key_end]))
    }
}

fn describe_json_error(e: serde_json::Error) -> String {
    if e.is_eof() {
        format!("the JSON ends early (truncated page?) at line {} column {}", e.line(), e.column())
    } else {
        format!("malformed JSON at line {} column {}: {e}", e.line(), e.column())
    }
}

/// The first 80 characters of a text, for error messages.
fn short(text: &[u8]) -> String {
    first_chars(&String::from_utf8_lossy(&text[..text.len().min(400)]), 80)
}

/// The first `n` characters of a text, with `…` when it was longer.
fn first_chars(text: &str, n: usize) -> String {
    let end = text.char_indices().nth(n).map(|(i, _)| i).unwrap_or(text.len());
    if end < text.len() { format!("{}…", &text[..end]) } else { text.to_string() }
}

/// Rows per arrow-json batch: a usual page fits in one.
const DECODER_BATCH_ROWS: usize = 16 * 1024;

/// Decodes record slices into batches of one stream's schema. Columns filled from
/// `add_fields` (constant for a page) are not decoded but appended.
#[derive(Clone)]
pub struct RecordDecoder {
    schema: SchemaRef,
    decoded: SchemaRef,
    added: Vec<usize>,
    /// arrow-json decoders kept between pages: they keep their buffers' capacity, so a
    /// page costs no reallocation. Clones share them.
    idle: Arc<Mutex<Vec<arrow::json::reader::Decoder>>>,
}

impl std::fmt::Debug for RecordDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordDecoder").field("schema", &self.schema).field("added", &self.added).finish()
    }
}

impl RecordDecoder {
    /// A decoder for `schema`, of which `added` columns come from `add_fields`.
    pub fn new(schema: SchemaRef, added: &[String]) -> Self {
        // arrow-json parses named zones only with chrono-tz; timestamps are decoded at
        // `+00:00` and relabelled to the declared zone (the instants are the same).
        let decoded_fields: Vec<Field> = schema
            .fields()
            .iter()
            .filter(|f| !added.contains(f.name()))
            .map(|f| match f.data_type() {
                DataType::Timestamp(unit, Some(_)) => {
                    f.as_ref().clone().with_data_type(DataType::Timestamp(*unit, Some("+00:00".into())))
                }
                _ => f.as_ref().clone(),
            })
            .collect();
        let added_idx =
            schema.fields().iter().enumerate().filter(|(_, f)| added.contains(f.name())).map(|(i, _)| i).collect();
        Self { decoded: Arc::new(Schema::new(decoded_fields)), schema, added: added_idx, idle: Default::default() }
    }

    /// The output schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes one page of records; `added` holds the rendered `add_fields` values by name.
    /// On a record that does not fit, the error names it.
    pub fn decode<R: AsRef<[u8]>>(
        &self,
        records: &[R],
        added: &BTreeMap<String, String>,
    ) -> Result<RecordBatch, String> {
        let decoded = match self.decode_all(records) {
            Ok(batch) => batch,
            // The slow path, only for a page that does not decode as it is: values that the
            // schema's types can hold after all (an object where text is declared) are
            // relaxed and the page decoded again; what still does not fit is named.
            Err(e) => match self.relaxed(records) {
                Some(relaxed) => match self.decode_all(&relaxed) {
                    Ok(batch) => batch,
                    Err(e) => return Err(self.find_culprit(&relaxed).unwrap_or(e)),
                },
                None => return Err(self.find_culprit(records).unwrap_or(e)),
            },
        };
        let rows = decoded.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        let mut from_decoded = decoded.columns().iter();
        for (i, field) in self.schema.fields().iter().enumerate() {
            if self.added.contains(&i) {
                let column = match added.get(field.name()).filter(|v| !v.is_empty()) {
                    Some(value) => {
                        let text: ArrayRef = Arc::new(StringArray::from(vec![value.as_str(); rows]));
                        cast(&text, field.data_type()).map_err(|e| {
                            format!("add_fields.{}: `{value}` is not a {}: {e}", field.name(), field.data_type())
                        })?
                    }
                    None => new_null_array(field.data_type(), rows),
                };
                columns.push(column);
            } else {
                let column = from_decoded.next().ok_or("decoder lost a column")?;
                columns.push(if column.data_type() == field.data_type() {
                    column.clone()
                } else {
                    cast(column, field.data_type()).map_err(|e| e.to_string())?
                });
            }
        }
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| e.to_string())
    }

    /// Decodes records given as byte extents of `body` (so the work can move to another
    /// thread with the body).
    pub fn decode_extents(
        &self,
        body: &[u8],
        extents: &[std::ops::Range<usize>],
        added: &BTreeMap<String, String>,
    ) -> Result<RecordBatch, String> {
        // The body was checked to be UTF-8 when the page was selected.
        let records: Vec<&[u8]> = extents.iter().map(|r| &body[r.clone()]).collect();
        self.decode(&records, added)
    }

    fn decode_all<R: AsRef<[u8]>>(&self, records: &[R]) -> Result<RecordBatch, String> {
        let mut decoder = match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(decoder) => decoder,
            None => ReaderBuilder::new(self.decoded.clone())
                .with_batch_size(DECODER_BATCH_ROWS)
                // A number where text is declared (`"id": 4` for `"id": "4"`) reads as its text.
                .with_coerce_primitive(true)
                .build_decoder()
                .map_err(|e| e.to_string())?,
        };
        // arrow-json reads concatenated documents, so the records go in as they lie in the
        // body, without a copy; a page larger than one batch flushes on the way.
        let mut batches = Vec::new();
        for record in records {
            let mut rest = record.as_ref();
            while !rest.is_empty() {
                let read = decoder.decode(rest).map_err(|e| e.to_string())?;
                rest = &rest[read..];
                if !rest.is_empty() {
                    batches.extend(decoder.flush().map_err(|e| e.to_string())?);
                }
            }
            if decoder.has_partial_record() {
                return Err("a record is incomplete".into());
            }
        }
        batches.extend(decoder.flush().map_err(|e| e.to_string())?);
        // Only a decoder that ended cleanly goes back: a failed one holds a half-read record.
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(decoder);
        }
        match batches.len() {
            0 => Ok(RecordBatch::new_empty(self.decoded.clone())),
            1 => Ok(batches.pop().expect("one batch")),
            _ => arrow::compute::concat_batches(&self.decoded, &batches).map_err(|e| e.to_string()),
        }
    }

    /// The records with the values the schema can hold in another form rewritten (see
    /// [`relax`]), or `None` when no record changes (or one is not JSON): then relaxing cannot
    /// help.
    fn relaxed<R: AsRef<[u8]>>(&self, records: &[R]) -> Option<Vec<Vec<u8>>> {
        let mut changed = false;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let mut value: Value = serde_json::from_slice(record.as_ref()).ok()?;
            if relax_fields(&mut value, self.decoded.fields()) {
                changed = true;
                out.push(serde_json::to_vec(&value).ok()?);
            } else {
                out.push(record.as_ref().to_vec());
            }
        }
        changed.then_some(out)
    }

    /// Decodes record by record to name the one that does not fit (the slow path of a failure).
    /// A record lacking a field the schema requires is said so in words (arrow-json only
    /// says "unmasked nulls in non-nullable StructArray child").
    fn find_culprit<R: AsRef<[u8]>>(&self, records: &[R]) -> Option<String> {
        records.iter().enumerate().find_map(|(i, record)| {
            self.decode_all(std::slice::from_ref(record)).err().map(|e| {
                let text = first_chars(&String::from_utf8_lossy(record.as_ref()), CULPRIT_CHARS);
                let value = serde_json::from_slice::<Value>(record.as_ref()).ok();
                match value.as_ref().and_then(|v| missing_required(self.decoded.fields(), v, "")) {
                    Some((field, null)) => format!(
                        "record {} of the page {} the field `{field}`, which the stream's schema requires (it is not \
                         nullable; if the source may leave it out, add \"null\" to its type in the schema); the record: {text}",
                        i + 1,
                        if null { "has null for" } else { "lacks" },
                    ),
                    None => format!("record {} of the page does not fit the stream's schema: {e}; the record: {text}", i + 1),
                }
            })
        })
    }
}

/// Rewrites the values of `record` that its schema holds in another form, as Airbyte
/// destinations keep them rather than failing the stream: an object or a list where text is
/// declared (an untyped field, an `array` without `items`, a field the source fills with more
/// than its schema says) becomes its JSON text; a boolean where a number is declared becomes 1
/// or 0. True if anything changed.
fn relax_fields(record: &mut Value, fields: &arrow::datatypes::Fields) -> bool {
    let Some(object) = record.as_object_mut() else { return false };
    let mut changed = false;
    for field in fields {
        if let Some(value) = object.get_mut(field.name()) {
            changed |= relax(value, field.data_type());
        }
    }
    changed
}

fn relax(value: &mut Value, data_type: &DataType) -> bool {
    match (data_type, &*value) {
        (DataType::Utf8 | DataType::LargeUtf8, Value::Object(_) | Value::Array(_)) => {
            *value = Value::String(value.to_string());
            true
        }
        (
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64,
            Value::Bool(flag),
        ) => {
            *value = Value::from(u8::from(*flag));
            true
        }
        (DataType::Struct(children), Value::Object(_)) => relax_fields(value, children),
        (DataType::List(item) | DataType::LargeList(item), Value::Array(_)) => {
            let Value::Array(items) = value else { return false };
            items.iter_mut().fold(false, |changed, element| relax(element, item.data_type()) | changed)
        }
        _ => false,
    }
}

/// How much of an offending record an error shows.
const CULPRIT_CHARS: usize = 500;

/// The first non-nullable field of `fields` that `record` lacks (false) or holds null for
/// (true), as a dotted path under `prefix`, looking into nested objects.
fn missing_required(fields: &arrow::datatypes::Fields, record: &Value, prefix: &str) -> Option<(String, bool)> {
    let object = record.as_object()?;
    fields.iter().find_map(|field| {
        let path = if prefix.is_empty() { field.name().clone() } else { format!("{prefix}.{}", field.name()) };
        match object.get(field.name()) {
            None if !field.is_nullable() => Some((path, false)),
            Some(Value::Null) if !field.is_nullable() => Some((path, true)),
            Some(inner @ Value::Object(_)) => match field.data_type() {
                DataType::Struct(children) => missing_required(children, inner, &path),
                _ => None,
            },
            _ => None,
        }
    })
}

/// Infers a schema from sample records (every column nullable; columns in `added` as text).
pub fn infer_schema(records: &[Value], added: &[String]) -> Result<Schema, String> {
    let inferred = arrow::json::reader::infer_json_schema_from_iterator(records.iter().map(|r| Ok(r.clone())))
        .map_err(|e| e.to_string())?;
    let mut fields: Vec<Field> = inferred.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    for name in added {
        if !fields.iter().any(|f| f.name() == name) {
            fields.push(Field::new(name, DataType::Utf8, true));
        }
    }
    Ok(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{Fields, Int64Type, TimeUnit};

    use super::*;

    #[test]
    fn selects_records_and_keeps_the_rest() {
        let body = br#"{"results":[{"id":1},{"id":2}],"paging":{"next":{"after":"2"}},"total":2}"#;
        let s = select(body, &["results"]).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.response["paging"]["next"]["after"], "2");
        assert!(s.response.get("results").is_none());

        let body = br#"{"data":{"items":[{"id":1}],"cursor":"c"},"ok":true}"#;
        let s = select(body, &["data", "items"]).unwrap();
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.response["data"]["cursor"], "c");

        let s = select(br#"[{"id":1},{"id":2},{"id":3}]"#, &[]).unwrap();
        assert_eq!(s.records.len(), 3);
        assert!(s.found);
        let s = select(br#"{"users":[]}"#, &["results"]).unwrap();
        assert!(s.records.is_empty());
        assert!(!s.found, "the body has no `results`");
        let s = select(br#"{"data":{"cursor":"c"}}"#, &["data", "items"]).unwrap();
        assert!(!s.found, "a missing inner key");
        let s = select(br#"{"results":null}"#, &["results"]).unwrap();
        assert!(s.found && s.records.is_empty(), "null is an empty list the API did send");
    }

    #[test]
    fn paths_parse_with_wildcards_and_quotes() {
        let p = RecordPath::parse(r#"data.*."x.y".items"#).unwrap();
        assert_eq!(
            p.0,
            [Segment::Key("data".into()), Segment::Any, Segment::Key("x.y".into()), Segment::Key("items".into())]
        );
        assert!(p.plain().is_none());
        assert_eq!(RecordPath::parse("results").unwrap().plain().unwrap(), ["results"]);
        assert_eq!(RecordPath::parse("").unwrap().0, []);
        assert_eq!(RecordPath::parse(r#""*""#).unwrap().0, [Segment::Key("*".into())]);
        assert!(RecordPath::parse(r#"a."b"#).is_err());
        assert!(RecordPath::parse(r#"a."b"c"#).is_err());
    }

    #[test]
    fn wildcards_select_every_element_and_value() {
        let body = br#"{"data":[{"rows":[{"id":1},{"id":2}]},{"rows":[{"id":3}]},{"other":1}],"next":"n"}"#;
        let s = select_path(body, &RecordPath::parse("data.*.rows").unwrap()).unwrap();
        assert_eq!(s.records, [&br#"{"id":1}"#[..], br#"{"id":2}"#, br#"{"id":3}"#]);
        assert_eq!(s.response["next"], "n");
        assert_eq!(s.response["data"][0]["rows"][0]["id"], 1, "the response is the whole body");

        let body = br#"{"forms":{"a":{"id":"a"},"b":{"id":"b"},"c":null}}"#;
        let s = select_path(body, &RecordPath::parse("forms.*").unwrap()).unwrap();
        assert_eq!(s.records, [&br#"{"id":"a"}"#[..], br#"{"id":"b"}"#]);
        assert!(s.found);

        let body = br#"{"x.y":[{"k":{"v":1}},{"k":{"v":2}}]}"#;
        let s = select_path(body, &RecordPath::parse(r#""x.y".*.k"#).unwrap()).unwrap();
        assert_eq!(s.records, [&br#"{"v":1}"#[..], br#"{"v":2}"#]);
        let s = select_path(br#"{"x.y":[]}"#, &RecordPath::parse(r#""x.y""#).unwrap()).unwrap();
        assert!(s.found && s.records.is_empty());
        let s = select_path(br#"{"data":[]}"#, &RecordPath::parse("data.*.rows").unwrap()).unwrap();
        assert!(!s.found && s.records.is_empty());
        let err = select_path(br#"{"data":[{"rows":[1,"#, &RecordPath::parse("data.*.rows").unwrap()).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn fields_are_removed_and_set_along_pointers() {
        let mut r = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [{"t": 1, "u": 2}, {"t": 3}]});
        remove_field(&mut r, &["a".into()]);
        remove_field(&mut r, &["b".into(), "c".into()]);
        remove_field(&mut r, &["l".into(), "*".into(), "t".into()]);
        remove_field(&mut r, &["missing".into(), "x".into()]);
        assert_eq!(r, serde_json::json!({"b": {"d": 3}, "l": [{"u": 2}, {}]}));
        remove_field(&mut r, &["l".into(), "0".into()]);
        assert_eq!(r["l"], serde_json::json!([null, {}]));
        set_field(&mut r, &["meta".into(), "form".into()], serde_json::json!("f1"));
        set_field(&mut r, &["b".into(), "d".into()], serde_json::json!(4));
        assert_eq!(r["meta"], serde_json::json!({"form": "f1"}));
        assert_eq!(r["b"]["d"], 4);
    }

    #[test]
    fn a_truncated_page_says_so() {
        let err = select(br#"{"results":[{"id":1},{"id""#, &["results"]).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let err = select(b"<html>oops</html>", &["results"]).unwrap_err();
        assert!(err.contains("expected an object with `results`, found `<html>oops</html>`"), "{err}");
        let err = select(br#"{"results":[{"id":1}] "paging":{}}"#, &["results"]).unwrap_err();
        assert!(err.contains("malformed JSON at byte 22"), "{err}");
        let ok = select(br#"{"results":[{"id":"a\"}"}],"next":"x"}"#, &["results"]).unwrap();
        assert_eq!(ok.records, [br#"{"id":"a\"}"}"#]);
    }

    #[test]
    fn values_the_schema_holds_in_another_form_are_relaxed_not_failed() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("notes", DataType::Utf8, true),
            Field::new("roles", DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))), true),
            Field::new("billing_same_as_shipping", DataType::Int64, true),
            Field::new(
                "owner",
                DataType::Struct(Fields::from(vec![Field::new("meta", DataType::Utf8, true)])),
                true,
            ),
        ]));
        let decoder = RecordDecoder::new(schema, &[]);
        let records = [
            r#"{"id": 1, "notes": "plain", "roles": ["a"], "billing_same_as_shipping": 0}"#,
            r#"{"id": 2, "notes": {"text": "hi", "by": 7}, "roles": [{"id": 3}, "b"], "billing_same_as_shipping": true, "owner": {"meta": [1, 2]}}"#,
        ];
        let batch = decoder.decode(&records, &BTreeMap::new()).unwrap();
        let notes = batch.column(1).as_string::<i32>();
        assert_eq!(notes.value(0), "plain", "text stays as it is");
        assert_eq!(notes.value(1), r#"{"by":7,"text":"hi"}"#, "an object where text is declared is its JSON text");
        let roles = batch.column(2).as_list::<i32>();
        let second_roles = roles.value(1);
        let second: Vec<&str> = second_roles.as_string::<i32>().iter().map(|v| v.unwrap()).collect();
        assert_eq!(second, [r#"{"id":3}"#, "b"]);
        assert_eq!(batch.column(3).as_primitive::<Int64Type>().values(), &[0, 1]);
        let owner = batch.column(4).as_struct();
        assert_eq!(owner.column(0).as_string::<i32>().value(1), "[1,2]");

        // What no relaxing makes fit is still named.
        let err = decoder.decode(&[r#"{"id": "x", "notes": {"a": 1}}"#], &BTreeMap::new()).unwrap_err();
        assert!(err.contains("record 1"), "{err}");
    }

    #[test]
    fn decodes_into_the_schema_with_added_fields() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("course_id", DataType::Int64, true),
        ]));
        let decoder = RecordDecoder::new(schema, &["course_id".to_string()]);
        let s = select(br#"[{"id":1,"at":"2024-01-01T00:00:00Z","extra":5},{"id":2,"at":null}]"#, &[]).unwrap();
        let batch = decoder.decode(&s.records, &BTreeMap::from([("course_id".to_string(), "42".to_string())])).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(2).as_primitive::<Int64Type>(), &Int64Array::from(vec![42, 42]));
        assert_eq!(batch.column(1).null_count(), 1);

        let s = select(br#"[{"id":1},{"id":"two"}]"#, &[]).unwrap();
        let err = decoder.decode(&s.records, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("record 2") && err.contains("\"two\""), "{err}");
    }

    #[test]
    fn numbers_read_as_text_where_text_is_declared() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
        let s = select(br#"[{"id":"4"},{"id":5},{"id":null}]"#, &[]).unwrap();
        let batch = RecordDecoder::new(schema, &[]).decode(&s.records, &BTreeMap::new()).unwrap();
        assert_eq!(batch.column(0).as_string::<i32>().iter().collect::<Vec<_>>(), [Some("4"), Some("5"), None]);
    }

    #[test]
    fn a_record_that_is_not_utf8_is_named_and_the_decoder_recovers() {
        let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true)]));
        let decoder = RecordDecoder::new(schema, &[]);
        let body = b"{\"results\":[{\"name\":\"ok\"},{\"name\":\"bad \xff\"}]}";
        let s = select(body, &["results"]).unwrap();
        let err = decoder.decode(&s.records, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("record 2 of the page") && err.contains("UTF-8"), "{err}");
        // The decoder that failed was dropped: the next page decodes cleanly.
        let s = select(br#"{"results":[{"name":"next"}]}"#, &["results"]).unwrap();
        assert_eq!(decoder.decode(&s.records, &BTreeMap::new()).unwrap().num_rows(), 1);
    }

    #[test]
    fn a_record_lacking_a_required_field_is_named_with_the_field() {
        let site =
            Fields::from(vec![Field::new("url", DataType::Utf8, false), Field::new("lang", DataType::Utf8, true)]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("siteurl", DataType::Utf8, false),
            Field::new("site", DataType::Struct(site), true),
            Field::new("sitename", DataType::Utf8, true),
        ]));
        let decoder = RecordDecoder::new(schema, &[]);
        let long = "x".repeat(2000);
        let body = format!(r#"[{{"siteurl":"a"}},{{"sitename":"{long}"}}]"#);
        let s = select(body.as_bytes(), &[]).unwrap();
        let err = decoder.decode(&s.records, &BTreeMap::new()).unwrap_err();
        assert!(
            err.starts_with("record 2 of the page lacks the field `siteurl`, which the stream's schema requires"),
            "{err}"
        );
        assert!(err.contains("not nullable") && err.contains(r#"{"sitename":"xxx"#), "{err}");
        assert!(err.len() < 1000, "the record is shown truncated: {} chars", err.len());

        let s = select(br#"[{"siteurl":null}]"#, &[]).unwrap();
        let err = decoder.decode(&s.records, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("has null for the field `siteurl`"), "{err}");
        let s = select(br#"[{"siteurl":"a","site":{"lang":"en"}}]"#, &[]).unwrap();
        let err = decoder.decode(&s.records, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("lacks the field `site.url`"), "{err}");
    }

    #[test]
    fn infers_nullable_columns() {
        let schema = infer_schema(&[serde_json::json!({"id": 1, "name": "a"})], &["course".to_string()]).unwrap();
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
        assert_eq!(schema.field_with_name("course").unwrap().data_type(), &DataType::Utf8);
    }
}
