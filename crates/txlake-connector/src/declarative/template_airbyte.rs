//! Airbyte's interpolation (`templates: airbyte` in a manifest) on the native minijinja
//! engine, with the semantics of the Airbyte CDK's `JinjaInterpolation`
//! (`airbyte_cdk/sources/declarative/interpolation/`):
//!
//! - **variables** under Airbyte's names, mapped lazily from what the reader puts in a
//!   template context (see [`airbyte_vars`]): `config`, `parameters`, `stream_slice` =
//!   `stream_partition` = `stream_interval` (partition fields plus the window's
//!   `start_time`/`end_time`; `.partition`, `.cursor_slice`, `.extra_fields`),
//!   `stream_state`, `next_page_token` (`{"next_page_token": token}`), `response`,
//!   `headers` (with `link` parsed as `requests` does), `last_record`, `last_page_size`,
//!   `record`;
//! - **macros** `now_utc`, `today_utc`, `today_with_timezone`, `timestamp`,
//!   `str_to_datetime`, `max`, `min`, `day_delta`, `duration`, `format_datetime`,
//!   `sanitize_url`, `camel_case_to_snake_case`, `generate_uuid`; datetimes and durations
//!   are objects with Python's methods (`strftime`, `isoformat`, `timestamp`, …), and
//!   `x ± duration(…)` is rewritten into a call before compiling since minijinja has no
//!   operator overloading;
//! - **filters** `hash`, `base64encode`, `base64decode`, `base64binascii_decode`, `string`,
//!   `regex_search`, `regex_replace`, `hmac`, and Jinja2's `int` / `float` (0 on failure);
//! - **Python methods** of strings, dicts and lists (`.get`, `.items()`, `.split()`, …)
//!   through minijinja-contrib's `pycompat`;
//! - **Python rendering and typing**: values print as Python's `str()` does (`True`,
//!   `None`, `['a', 1]`), and the rendered text is then read back as a Python literal when
//!   it is one (`ast.literal_eval`): `"{{ 10 }}"` is the number 10, `"{{ ['a'] }}"` a list.
//!
//! [`check_template`] parses a template and refuses unknown variables, macros, filters,
//! tests and methods by name; the Airbyte manifest translator calls it on every template.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset as _, Timelike, Utc};
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value as JinjaValue};
use serde_json::Value;

/// Names the Airbyte CDK puts in a template's context, plus txlake's native ones (which
/// stay visible so that keys the translator writes in native terms keep working).
const VARIABLES: &[&str] = &[
    "config",
    "parameters",
    "stream_slice",
    "stream_partition",
    "stream_interval",
    "stream_state",
    "next_page_token",
    "response",
    "headers",
    "last_record",
    "last_page_size",
    "record",
    // txlake's native names
    "state",
    "slice",
    "partition",
    "status",
    "parent",
    "item",
    "incremental",
    "cursor_field",
    // literals minijinja resolves as variables
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

/// Airbyte's macros (`macros.py`) and the helper the `± duration()` rewrite calls.
const MACROS: &[&str] = &[
    "now_utc",
    "today_utc",
    "today_with_timezone",
    "timestamp",
    "str_to_datetime",
    "max",
    "min",
    "day_delta",
    "duration",
    "format_datetime",
    "sanitize_url",
    "camel_case_to_snake_case",
    "generate_uuid",
    DT_ARITH,
];

/// Jinja2 globals minijinja has too (`range` is removed by the CDK, so refused here).
const JINJA_GLOBALS: &[&str] = &["dict", "namespace"];

/// Methods templates may call: Python's on str/dict/list (pycompat), datetimes', durations'.
const METHODS: &[&str] = &[
    // str
    "upper",
    "lower",
    "islower",
    "isupper",
    "isspace",
    "isdigit",
    "isnumeric",
    "isalnum",
    "isalpha",
    "isascii",
    "strip",
    "lstrip",
    "rstrip",
    "replace",
    "title",
    "split",
    "splitlines",
    "capitalize",
    "count",
    "find",
    "rfind",
    "startswith",
    "endswith",
    "join",
    "format",
    // dict
    "keys",
    "values",
    "items",
    "get",
    // datetime / date / timedelta
    "strftime",
    "isoformat",
    "timestamp",
    "date",
    "total_seconds",
    "astimezone",
];

const DT_ARITH: &str = "__airbyte_datetime_add";

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Adds Airbyte's macros, filters, Python methods and Python-style printing to `env`.
pub(crate) fn install(env: &mut Environment<'static>) {
    env.add_function("now_utc", || PyDateTime::datetime(now_micros()).into_value());
    env.add_function("today_utc", || PyDateTime::date_of(now_micros(), 0).into_value());
    env.add_function("today_with_timezone", today_with_timezone);
    env.add_function("timestamp", timestamp);
    env.add_function("str_to_datetime", |s: &JinjaValue| -> Result<JinjaValue, Error> {
        Ok(PyDateTime::datetime(str_to_datetime(s)?).into_value())
    });
    env.add_function("max", |args: Rest<JinjaValue>| extreme(&args, std::cmp::Ordering::Greater, "max"));
    env.add_function("min", |args: Rest<JinjaValue>| extreme(&args, std::cmp::Ordering::Less, "min"));
    env.add_function("day_delta", day_delta);
    env.add_function("duration", |text: &str| -> Result<JinjaValue, Error> {
        Ok(JinjaValue::from_object(
            PyDuration::parse(text).ok_or_else(|| invalid(format!("`{text}` is not an ISO 8601 duration")))?,
        ))
    });
    env.add_function("format_datetime", format_datetime);
    env.add_function("sanitize_url", |s: &str| quote_plus(s));
    env.add_function("camel_case_to_snake_case", |s: &str| camel_to_snake(s));
    env.add_function("generate_uuid", || uuid::Uuid::new_v4().to_string());
    env.add_function(DT_ARITH, datetime_add);

    env.add_filter("hash", hash_filter);
    env.add_filter("base64encode", |s: &str| base64_encode(s.as_bytes()));
    env.add_filter("base64binascii_decode", |s: &str| base64_encode(s.as_bytes()));
    env.add_filter("base64decode", |s: &str| -> Result<String, Error> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| invalid(format!("base64decode: {e}")))?;
        String::from_utf8(bytes).map_err(|_| invalid("base64decode: the decoded bytes are not UTF-8".into()))
    });
    env.add_filter("string", string_filter);
    env.add_filter("regex_search", |value: &str, pattern: &str| -> Result<String, Error> {
        let re = regex(pattern)?;
        Ok(re.captures(value).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()).unwrap_or_default())
    });
    env.add_filter("regex_replace", |value: &str, pattern: &str, replacement: &str| -> Result<String, Error> {
        Ok(regex(pattern)?.replace_all(value, python_replacement(replacement).as_str()).into_owned())
    });
    env.add_filter("hmac", hmac_filter);
    env.add_filter("int", int_filter);
    env.add_filter("float", float_filter);

    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_formatter(|out, _state, value| {
        let text = py_str(value);
        out.write_str(&text).map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write the output"))
    });
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

// ---------------------------------------------------------------------------------------
// Variables

/// The template context Airbyte's templates see, over `native`: the context txlake's
/// reader builds (`config`, `parameters`, `cursor_field`, `partition` with its `parent`
/// record, `slice` {`start`, `end`}, `state` {`cursor`}, `next_page_token` (text),
/// `response`, `headers`, `last_record`, `last_page_size`, `record`, …). Airbyte's names
/// are computed when a template reads them; every native name stays readable too.
///
/// [`super::template::Templates`] applies it itself to every context of a manifest with
/// `templates: airbyte`, so the reader has nothing to call; it only has to put the
/// stream's `parameters` and incremental `cursor_field` into the unit's context
/// ([`stream_vars`]) and `last_page_size` next to `response` for paginator templates.
pub fn airbyte_vars(native: JinjaValue) -> JinjaValue {
    JinjaValue::from_object(AirbyteVars { native, slice: OnceLock::new() })
}

/// The per-stream variables the reader adds to a unit's context: `parameters` (the
/// stream's `parameters:` map) and `cursor_field` (its incremental cursor field, which
/// `stream_state` is keyed by).
pub fn stream_vars(definition: &super::manifest::StreamDefinition, context: &mut serde_json::Map<String, Value>) {
    context.insert("parameters".into(), Value::Object(definition.parameters.clone()));
    if let Some(incremental) = &definition.incremental {
        context.insert("cursor_field".into(), Value::String(incremental.cursor_field.clone()));
    }
}

#[derive(Debug)]
struct AirbyteVars {
    native: JinjaValue,
    slice: OnceLock<JinjaValue>,
}

impl AirbyteVars {
    fn native(&self, key: &str) -> Option<JinjaValue> {
        self.native.get_attr(key).ok().filter(|v| !v.is_undefined())
    }

    fn slice(&self) -> JinjaValue {
        self.slice
            .get_or_init(|| {
                let mut fields = BTreeMap::new();
                let mut extra = JinjaValue::from(BTreeMap::<String, JinjaValue>::new());
                let mut partition = BTreeMap::new();
                if let Some(p) = self.native("partition")
                    && let Ok(keys) = p.try_iter()
                {
                    for key in keys {
                        let value = p.get_item(&key).unwrap_or_default();
                        if key.as_str() == Some("parent") {
                            extra = value;
                        } else {
                            partition.insert(key.to_string(), value.clone());
                            fields.insert(key.to_string(), value);
                        }
                    }
                }
                let mut cursor_slice = BTreeMap::new();
                if let Some(s) = self.native("slice")
                    && let Ok(start) = s.get_attr("start")
                    && !start.is_undefined()
                {
                    let end = s.get_attr("end").unwrap_or_default();
                    cursor_slice.insert("start_time".to_string(), start.clone());
                    cursor_slice.insert("end_time".to_string(), end.clone());
                    fields.insert("start_time".to_string(), start);
                    fields.insert("end_time".to_string(), end);
                }
                JinjaValue::from_object(StreamSlice {
                    fields,
                    partition: JinjaValue::from(partition),
                    cursor_slice: JinjaValue::from(cursor_slice),
                    extra_fields: extra,
                })
            })
            .clone()
    }
}

impl Object for AirbyteVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let key = key.as_str()?;
        match key {
            "stream_slice" | "stream_partition" | "stream_interval" => Some(self.slice()),
            "parameters" => Some(self.native("parameters").unwrap_or_else(empty_map)),
            "stream_state" => {
                let mut state = BTreeMap::new();
                if let (Some(field), Some(cursor)) = (
                    self.native("cursor_field"),
                    self.native("state").and_then(|s| s.get_attr("cursor").ok()).filter(|c| !c.is_undefined()),
                ) {
                    state.insert(field.to_string(), cursor);
                }
                Some(JinjaValue::from(state))
            }
            "next_page_token" => Some(match self.native("next_page_token") {
                Some(token) if !token.is_none() => {
                    let token = match token.as_str() {
                        Some(text) => literal_eval(text).map(|v| JinjaValue::from_serialize(&v)).unwrap_or(token),
                        None => token,
                    };
                    JinjaValue::from(BTreeMap::from([("next_page_token".to_string(), token)]))
                }
                _ => JinjaValue::from(()),
            }),
            "headers" => self.native("headers").map(|h| with_parsed_links(&h)),
            _ => self.native(key),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "config",
            "parameters",
            "stream_slice",
            "stream_partition",
            "stream_interval",
            "stream_state",
        ])
    }
}

fn empty_map() -> JinjaValue {
    JinjaValue::from(BTreeMap::<String, JinjaValue>::new())
}

/// `requests`' `response.links` as Airbyte puts it in `headers['link']`:
/// `{"next": {"url": "…", "rel": "next"}, …}`.
/// Names are matched without regard to case, as `requests`' headers are.
fn with_parsed_links(headers: &JinjaValue) -> JinjaValue {
    let Ok(keys) = headers.try_iter() else { return headers.clone() };
    let mut out: BTreeMap<String, JinjaValue> = BTreeMap::new();
    for key in keys {
        out.insert(key.to_string().to_ascii_lowercase(), headers.get_item(&key).unwrap_or_default());
    }
    if let Some(link) = out.get("link").and_then(|l| l.as_str().map(str::to_string)) {
        out.insert("link".into(), JinjaValue::from_serialize(parse_link_header(&link)));
    }
    JinjaValue::from_object(Headers(out))
}

/// Response headers, looked up case-insensitively (`headers['X-Next-Page']`).
#[derive(Debug)]
struct Headers(BTreeMap<String, JinjaValue>);

impl Object for Headers {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        self.0.get(&key.as_str()?.to_ascii_lowercase()).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().map(|k| JinjaValue::from(k.as_str())).collect())
    }
}

fn parse_link_header(text: &str) -> Value {
    let mut links = serde_json::Map::new();
    // Each link starts with `<`, which a URL cannot hold unescaped.
    for part in text.split('<').skip(1) {
        let Some((url, params)) = part.split_once('>') else { continue };
        let params = params.trim().trim_end_matches(',');
        let mut link = serde_json::Map::new();
        link.insert("url".into(), Value::String(url.trim().to_string()));
        for param in params.split(';') {
            if let Some((k, v)) = param.split_once('=') {
                link.insert(
                    k.trim().to_string(),
                    Value::String(v.trim().trim_matches(|c| c == '"' || c == '\'').to_string()),
                );
            }
        }
        let key = link.get("rel").and_then(Value::as_str).unwrap_or(url).to_string();
        links.insert(key, Value::Object(link));
    }
    Value::Object(links)
}

/// Airbyte's `StreamSlice`: a mapping of the partition's fields and the window's
/// `start_time`/`end_time`, with the attributes `partition`, `cursor_slice` and
/// `extra_fields` (the parent record).
#[derive(Debug)]
struct StreamSlice {
    fields: BTreeMap<String, JinjaValue>,
    partition: JinjaValue,
    cursor_slice: JinjaValue,
    extra_fields: JinjaValue,
}

impl Object for StreamSlice {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let key = key.as_str()?;
        if let Some(v) = self.fields.get(key) {
            return Some(v.clone());
        }
        match key {
            "partition" => Some(self.partition.clone()),
            "cursor_slice" => Some(self.cursor_slice.clone()),
            "extra_fields" => Some(self.extra_fields.clone()),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.fields.keys().map(|k| JinjaValue::from(k.as_str())).collect())
    }
}

// ---------------------------------------------------------------------------------------
// Datetimes and durations

fn now_micros() -> i64 {
    let now = Utc::now();
    now.timestamp() * MICROS_PER_SECOND + i64::from(now.timestamp_subsec_micros())
}

/// A Python `datetime.datetime` (aware) or `datetime.date`.
#[derive(Debug, Clone, Copy)]
struct PyDateTime {
    /// The instant, microseconds since the epoch (for a date: its midnight, UTC).
    micros: i64,
    /// The UTC offset it is shown in, seconds.
    offset: i32,
    date_only: bool,
}

impl PyDateTime {
    fn datetime(micros: i64) -> Self {
        Self { micros, offset: 0, date_only: false }
    }

    /// The date of `micros` seen at `offset` seconds from UTC.
    fn date_of(micros: i64, offset: i32) -> Self {
        let local = micros + i64::from(offset) * MICROS_PER_SECOND;
        Self { micros: local - local.rem_euclid(MICROS_PER_DAY), offset: 0, date_only: true }
    }

    fn into_value(self) -> JinjaValue {
        JinjaValue::from_object(self)
    }

    fn chrono(&self) -> DateTime<FixedOffset> {
        let offset =
            FixedOffset::east_opt(self.offset).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
        let utc = DateTime::<Utc>::from_timestamp_micros(self.micros).unwrap_or_default();
        utc.with_timezone(&offset)
    }

    fn isoformat(&self) -> String {
        let dt = self.chrono();
        if self.date_only {
            return dt.format("%Y-%m-%d").to_string();
        }
        let mut out = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
        if dt.nanosecond() / 1000 != 0 {
            let _ = write!(out, ".{:06}", dt.nanosecond() / 1000);
        }
        out.push_str(&offset_text(self.offset, true));
        out
    }
}

impl fmt::Display for PyDateTime {
    /// Python's `str()`: `2024-01-02 03:04:05.678000+00:00`, a date `2024-01-02`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.isoformat().replacen('T', " ", 1))
    }
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let dt = self.chrono();
        Some(JinjaValue::from(match key.as_str()? {
            "year" => i64::from(dt.year()),
            "month" => i64::from(dt.month()),
            "day" => i64::from(dt.day()),
            "hour" if !self.date_only => i64::from(dt.hour()),
            "minute" if !self.date_only => i64::from(dt.minute()),
            "second" if !self.date_only => i64::from(dt.second()),
            "microsecond" if !self.date_only => i64::from(dt.nanosecond() / 1000),
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[JinjaValue]) -> Result<JinjaValue, Error> {
        match method {
            "strftime" => {
                let (format,): (&str,) = minijinja::value::from_args(args)?;
                Ok(JinjaValue::from(strftime(self, format)))
            }
            "isoformat" => Ok(JinjaValue::from(self.isoformat())),
            "timestamp" if !self.date_only => Ok(JinjaValue::from(self.micros as f64 / MICROS_PER_SECOND as f64)),
            "date" => Ok(PyDateTime::date_of(self.micros, self.offset).into_value()),
            "astimezone" => Ok(PyDateTime { offset: 0, ..**self }.into_value()),
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("a datetime has no method `{method}`"))),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &minijinja::value::DynObject) -> Option<std::cmp::Ordering> {
        other.downcast_ref::<PyDateTime>().map(|o| self.micros.cmp(&o.micros))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A Python `timedelta`, or an `isodate.Duration` when it has years or months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PyDuration {
    months: i32,
    micros: i64,
}

impl PyDuration {
    /// ISO 8601 (`P1D`, `PT1H30M`, `P1Y2M`, `P2W`, `-P1D`, `PT0.5S`), as `isodate` reads it.
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (sign, rest) = match text.strip_prefix('-') {
            Some(r) => (-1, r),
            None => (1, text.strip_prefix('+').unwrap_or(text)),
        };
        let rest = rest.strip_prefix('P')?;
        if rest.is_empty() {
            return None;
        }
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return None,
            None => (rest, None),
        };
        let mut months = 0i64;
        let mut micros = 0f64;
        let mut parse_part = |part: &str, units: &[(char, f64, bool)]| -> Option<()> {
            let mut number = String::new();
            let mut index = 0;
            for c in part.chars() {
                if c.is_ascii_digit() || c == '.' || c == ',' {
                    number.push(if c == ',' { '.' } else { c });
                    continue;
                }
                let pos = units[index..].iter().position(|(u, _, _)| *u == c)? + index;
                let value: f64 = number.parse().ok()?;
                let (_, factor, is_months) = units[pos];
                if is_months {
                    if value.fract() != 0.0 {
                        return None;
                    }
                    months += (value * factor) as i64;
                } else {
                    micros += value * factor;
                }
                number.clear();
                index = pos + 1;
            }
            number.is_empty().then_some(())
        };
        const S: f64 = MICROS_PER_SECOND as f64;
        parse_part(
            date,
            &[('Y', 12.0, true), ('M', 1.0, true), ('W', 7.0 * 86_400.0 * S, false), ('D', 86_400.0 * S, false)],
        )?;
        if let Some(time) = time {
            parse_part(time, &[('H', 3_600.0 * S, false), ('M', 60.0 * S, false), ('S', S, false)])?;
        }
        Some(Self { months: i32::try_from(months).ok()? * sign, micros: micros.round() as i64 * i64::from(sign) })
    }

    fn timedelta_text(micros: i64) -> String {
        let days = micros.div_euclid(MICROS_PER_DAY);
        let rest = micros.rem_euclid(MICROS_PER_DAY);
        let (secs, frac) = (rest / MICROS_PER_SECOND, rest % MICROS_PER_SECOND);
        let mut out = String::new();
        if days != 0 {
            let _ = write!(out, "{days} day{}, ", if days.abs() == 1 { "" } else { "s" });
        }
        let _ = write!(out, "{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        if frac != 0 {
            let _ = write!(out, ".{frac:06}");
        }
        out
    }
}

impl fmt::Display for PyDuration {
    /// Python's `str()`: `1 day, 0:00:00`, `30 days, 23:00:00`, `1 years, 2 months, 0:00:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (years, months) = (self.months / 12, self.months % 12);
        if years != 0 {
            write!(f, "{years} years, ")?;
        }
        if months != 0 {
            write!(f, "{months} months, ")?;
        }
        f.write_str(&Self::timedelta_text(self.micros))
    }
}

impl Object for PyDuration {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        Some(JinjaValue::from(match key.as_str()? {
            "days" => self.micros.div_euclid(MICROS_PER_DAY),
            "seconds" => self.micros.rem_euclid(MICROS_PER_DAY) / MICROS_PER_SECOND,
            "microseconds" => self.micros.rem_euclid(MICROS_PER_SECOND),
            "years" => i64::from(self.months / 12),
            "months" => i64::from(self.months % 12),
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, _args: &[JinjaValue]) -> Result<JinjaValue, Error> {
        match method {
            "total_seconds" if self.months == 0 => Ok(JinjaValue::from(self.micros as f64 / MICROS_PER_SECOND as f64)),
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("a duration has no method `{method}`"))),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &minijinja::value::DynObject) -> Option<std::cmp::Ordering> {
        other.downcast_ref::<PyDuration>().filter(|o| o.months == self.months).map(|o| self.micros.cmp(&o.micros))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// `a + b` (sign 1) or `a - b` (sign -1) where `b` is a `duration(…)`: what
/// `rewrite_duration_arithmetic` turns `now_utc() - duration('P1D')` into.
fn datetime_add(a: &JinjaValue, b: &JinjaValue, sign: i64) -> Result<JinjaValue, Error> {
    let duration = b
        .downcast_object_ref::<PyDuration>()
        .ok_or_else(|| invalid(format!("cannot add `{b}` to a datetime: it is not a duration(…)")))?;
    if let Some(other) = a.downcast_object_ref::<PyDuration>() {
        let months = other.months + duration.months * sign as i32;
        return Ok(JinjaValue::from_object(PyDuration { months, micros: other.micros + duration.micros * sign }));
    }
    let dt = a.downcast_object_ref::<PyDateTime>().ok_or_else(|| {
        invalid(format!("cannot add a duration to `{a}`: it is not a datetime (use str_to_datetime)"))
    })?;
    let mut shifted = dt.chrono();
    if duration.months != 0 {
        let months = chrono::Months::new(duration.months.unsigned_abs());
        let forward = (duration.months > 0) == (sign > 0);
        shifted = if forward { shifted.checked_add_months(months) } else { shifted.checked_sub_months(months) }
            .ok_or_else(|| invalid("the date is out of range".into()))?;
    }
    let micros = shifted.timestamp_micros() + duration.micros * sign;
    let out = PyDateTime { micros, ..*dt };
    Ok(if dt.date_only { PyDateTime::date_of(out.micros, 0) } else { out }.into_value())
}

fn today_with_timezone(zone: &str) -> Result<JinjaValue, Error> {
    let tz: chrono_tz::Tz = zone.parse().map_err(|_| invalid(format!("`{zone}` is not an IANA time zone")))?;
    let now = Utc::now().with_timezone(&tz);
    let offset = now.offset().fix().local_minus_utc();
    Ok(PyDateTime::date_of(now_micros(), offset).into_value())
}

fn timestamp(value: &JinjaValue) -> Result<JinjaValue, Error> {
    if value.is_number() {
        return Ok(match value.as_i64() {
            Some(i) => JinjaValue::from(i),
            None => JinjaValue::from(f64::try_from(value.clone()).unwrap_or_default().trunc() as i64),
        });
    }
    let micros = str_to_datetime(value)?;
    Ok(JinjaValue::from(micros as f64 / MICROS_PER_SECOND as f64))
}

/// `dateutil.parser.isoparse`, UTC when the text has no offset; a datetime object as is.
fn str_to_datetime(value: &JinjaValue) -> Result<i64, Error> {
    if let Some(dt) = value.downcast_object_ref::<PyDateTime>() {
        return Ok(dt.micros);
    }
    let text = value.as_str().ok_or_else(|| invalid(format!("`{value}` is not a date text")))?;
    isoparse(text).ok_or_else(|| invalid(format!("`{text}` is not an ISO 8601 date or datetime")))
}

/// ISO 8601 as `dateutil`'s `isoparse` reads it: `YYYY[-MM[-DD]]` or `YYYYMMDD`, then
/// optionally one separator and `HH[:MM[:SS[.ffffff]]]` (or `HHMMSS`), then `Z` or
/// `±HH[:MM]`. Microseconds since the epoch, UTC.
fn isoparse(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // The date part.
    let (date, rest) = if bytes.len() >= 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        (
            NaiveDate::from_ymd_opt(text[..4].parse().ok()?, text[5..7].parse().ok()?, text[8..10].parse().ok()?)?,
            &text[10..],
        )
    } else if bytes.len() >= 8 && digits(text.get(..8)?) {
        (
            NaiveDate::from_ymd_opt(text[..4].parse().ok()?, text[4..6].parse().ok()?, text[6..8].parse().ok()?)?,
            &text[8..],
        )
    } else if bytes.len() == 7 && bytes[4] == b'-' && digits(&text[..4]) && digits(&text[5..]) {
        (NaiveDate::from_ymd_opt(text[..4].parse().ok()?, text[5..].parse().ok()?, 1)?, "")
    } else if bytes.len() == 4 && digits(text) {
        (NaiveDate::from_ymd_opt(text.parse().ok()?, 1, 1)?, "")
    } else {
        return None;
    };
    let mut time = NaiveTime::MIN;
    let mut offset = 0i64;
    if !rest.is_empty() {
        let mut chars = rest.chars();
        chars.next()?; // the separator
        let rest = chars.as_str();
        let tz_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(tz_at);
        let (clock, frac) = match clock.split_once(['.', ',']) {
            Some((c, f)) if digits(f) => (c, f),
            Some(_) => return None,
            None => (clock, ""),
        };
        let parts: Vec<&str> = if clock.contains(':') {
            clock.split(':').collect()
        } else {
            clock.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap_or("x")).collect()
        };
        if parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| p.len() == 2 && digits(p)) {
            return None;
        }
        let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u32>().ok());
        let micro: u32 =
            if frac.is_empty() { 0 } else { format!("{:0<6}", &frac[..frac.len().min(6)]).parse().ok()? };
        let (h, m, s) = (n(0)?, n(1)?, n(2)?);
        let day_after = h == 24 && m == 0 && s == 0 && micro == 0;
        time = if day_after { NaiveTime::MIN } else { NaiveTime::from_hms_micro_opt(h, m, s, micro)? };
        if !zone.is_empty() && !zone.eq_ignore_ascii_case("z") {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let z = zone[1..].replace(':', "");
            if !(z.len() == 2 || z.len() == 4) || !digits(&z) {
                return None;
            }
            let hours: i64 = z[..2].parse().ok()?;
            let minutes: i64 = if z.len() == 4 { z[2..].parse().ok()? } else { 0 };
            offset = sign * (hours * 3600 + minutes * 60);
        }
        if day_after {
            let next = date.succ_opt()?;
            return Some(NaiveDateTime::new(next, time).and_utc().timestamp_micros() - offset * MICROS_PER_SECOND);
        }
    }
    Some(NaiveDateTime::new(date, time).and_utc().timestamp_micros() - offset * MICROS_PER_SECOND)
}

fn day_delta(days: f64, format: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let format: Option<String> = match format {
        Some(f) => Some(f),
        None => kwargs.get("format")?,
    };
    kwargs.assert_all_used()?;
    let micros = now_micros() + (days * MICROS_PER_DAY as f64).round() as i64;
    Ok(strftime(&PyDateTime::datetime(micros), format.as_deref().unwrap_or("%Y-%m-%dT%H:%M:%S.%f%z")))
}

/// `format_datetime(dt, format, input_format=None)`: a datetime object is formatted with
/// `strftime`; a number is parsed with `input_format` (default `%s`), a text with
/// `input_format` (`strptime`) or as ISO 8601; then formatted with Airbyte's
/// `DatetimeParser` (`%s`, `%ms`, `%s_as_float`, `%epoch_microseconds`, `%_ms`).
fn format_datetime(
    value: &JinjaValue,
    format: &str,
    input_format: Option<&str>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let input_format: Option<String> = match input_format {
        Some(f) => Some(f.to_string()),
        None => kwargs.get("input_format")?,
    };
    kwargs.assert_all_used()?;
    if let Some(dt) = value.downcast_object_ref::<PyDateTime>() {
        return Ok(strftime(dt, format));
    }
    let dt = if value.is_integer() {
        let text = value.to_string();
        parse_with_format(&text, input_format.as_deref().unwrap_or("%s")).ok_or_else(|| {
            invalid(format!("format_datetime: `{text}` does not match `{}`", input_format.as_deref().unwrap_or("%s")))
        })?
    } else if let Some(input_format) = &input_format {
        let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        strptime(&text, input_format)
            .ok_or_else(|| invalid(format!("format_datetime: `{text}` does not match `{input_format}`")))?
    } else {
        PyDateTime::datetime(str_to_datetime(value)?)
    };
    // Python's datetime ends at year 9999; the CDK fails there too.
    if !(-62_135_596_800 * MICROS_PER_SECOND..253_402_300_800 * MICROS_PER_SECOND).contains(&dt.micros) {
        return Err(invalid(format!("format_datetime: `{value}` is out of the years 1 to 9999")));
    }
    Ok(format_with_parser(&dt, format))
}

/// Airbyte's `DatetimeParser.parse`.
fn parse_with_format(text: &str, format: &str) -> Option<PyDateTime> {
    let micros = match format {
        "%s" => text.trim().parse::<i64>().ok().map(|s| s * MICROS_PER_SECOND),
        "%s_as_float" => text.trim().parse::<f64>().ok().map(|s| (s * MICROS_PER_SECOND as f64).round() as i64),
        "%epoch_microseconds" => text.trim().parse::<i64>().ok(),
        "%ms" => text.trim().parse::<i64>().ok().map(|ms| ms * 1000),
        _ => return strptime(text, &format.replace("%_ms", "%f")),
    };
    micros.map(PyDateTime::datetime)
}

/// Airbyte's `DatetimeParser.format`.
fn format_with_parser(dt: &PyDateTime, format: &str) -> String {
    let micros = dt.micros;
    match format {
        "%s" => micros.div_euclid(MICROS_PER_SECOND).to_string(),
        "%s_as_float" => py_float(micros as f64 / MICROS_PER_SECOND as f64),
        "%epoch_microseconds" => micros.to_string(),
        "%ms" => micros.div_euclid(1000).to_string(),
        _ if format.contains("%_ms") => {
            let millis = format!("{:03}", micros.rem_euclid(MICROS_PER_SECOND) / 1000);
            let fraction = format!("{:06}", micros.rem_euclid(MICROS_PER_SECOND));
            // As the CDK does: format with %f, then replace the microseconds text.
            strftime(dt, &format.replace("%_ms", "%f")).replace(&fraction, &millis)
        }
        _ => strftime(dt, format),
    }
}

/// Python's `strptime` for the usual directives (chrono underneath; `%f` is 1–6 digits
/// of a fraction, `%z` accepts `Z`). Naive results are UTC; an offset read is kept.
fn strptime(text: &str, format: &str) -> Option<PyDateTime> {
    let mut chrono_format = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            chrono_format.push(c);
            continue;
        }
        match chars.next()? {
            'f' => {
                // chrono reads `%.f` as a dot and a fraction; Python's `.%f` is the same thing.
                if chrono_format.ends_with('.') {
                    chrono_format.pop();
                    chrono_format.push_str("%.f");
                } else {
                    chrono_format.push_str("%6f");
                }
            }
            'z' => chrono_format.push_str("%#z"),
            other => {
                chrono_format.push('%');
                chrono_format.push(other);
            }
        }
    }
    let text = if format.contains("%z") && (text.ends_with('Z') || text.ends_with('z')) {
        format!("{}+0000", &text[..text.len() - 1])
    } else {
        text.to_string()
    };
    if format.contains("%z") {
        return DateTime::parse_from_str(&text, &chrono_format).ok().map(|d| PyDateTime {
            micros: d.timestamp_micros(),
            offset: d.offset().local_minus_utc(),
            date_only: false,
        });
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(&text, &chrono_format) {
        return Some(PyDateTime::datetime(dt.and_utc().timestamp_micros()));
    }
    NaiveDate::parse_from_str(&text, &chrono_format)
        .ok()
        .map(|d| PyDateTime::datetime(d.and_time(NaiveTime::MIN).and_utc().timestamp_micros()))
}

/// Python's `strftime` (glibc): `%f` is microseconds, `%z` `+0000`, `%Z` `UTC`, `%s` the
/// epoch seconds; an unknown directive is written as it is.
fn strftime(dt: &PyDateTime, format: &str) -> String {
    let when = dt.chrono();
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(mut d) = chars.next() else {
            out.push('%');
            break;
        };
        // glibc's flags (`%-d`, `%_H`, `%0e`) pass through to chrono.
        let mut flag = String::new();
        if matches!(d, '-' | '_' | '0' | '^' | '#') && chars.peek().is_some_and(|n| n.is_ascii_alphabetic()) {
            flag.push(d);
            d = chars.next().unwrap_or('%');
        }
        match d {
            '%' => out.push('%'),
            'f' => {
                let _ = write!(out, "{:06}", when.nanosecond() / 1000 % 1_000_000);
            }
            'z' => {
                if !dt.date_only {
                    out.push_str(&offset_text(dt.offset, false));
                }
            }
            'Z' => {
                if !dt.date_only {
                    out.push_str(if dt.offset == 0 { "UTC" } else { "" });
                }
            }
            's' => {
                let _ = write!(out, "{}", dt.micros.div_euclid(MICROS_PER_SECOND));
            }
            other => {
                let spec = format!("%{flag}{other}");
                let items: Vec<chrono::format::Item> = chrono::format::StrftimeItems::new(&spec).collect();
                if items.iter().any(|i| matches!(i, chrono::format::Item::Error)) {
                    out.push_str(&spec);
                } else {
                    let _ = write!(out, "{}", when.format_with_items(items.into_iter()));
                }
            }
        }
    }
    out
}

fn offset_text(offset: i32, colon: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let (h, m) = (offset.unsigned_abs() / 3600, offset.unsigned_abs() / 60 % 60);
    if colon { format!("{sign}{h:02}:{m:02}") } else { format!("{sign}{h:02}{m:02}") }
}

/// Python's `max(*args)` / `min(*args)`: of the arguments, or of the one iterable given.
fn extreme(args: &[JinjaValue], want: std::cmp::Ordering, name: &str) -> Result<JinjaValue, Error> {
    let items: Vec<JinjaValue> = match args {
        [one] if !one.is_number() && one.as_str().is_none() && one.try_iter().is_ok() => one.try_iter()?.collect(),
        _ => args.to_vec(),
    };
    let mut best: Option<JinjaValue> = None;
    for item in items {
        best = Some(match best {
            None => item,
            Some(b) => match item.partial_cmp(&b) {
                Some(o) if o == want => item,
                Some(_) => b,
                None => return Err(invalid(format!("{name}() cannot compare `{item}` with `{b}`"))),
            },
        });
    }
    best.ok_or_else(|| invalid(format!("{name}() of nothing")))
}

// ---------------------------------------------------------------------------------------
// Filters

fn hash_filter(value: &JinjaValue, hash_type: Option<&str>, salt: Option<&JinjaValue>) -> Result<String, Error> {
    use sha2_digest011::Digest as _;
    let mut data = py_str(value).into_bytes();
    if let Some(salt) = salt.filter(|s| s.is_true()) {
        data.extend_from_slice(py_str(salt).as_bytes());
    }
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok(match hash_type.unwrap_or("md5") {
        "md5" => hex(&md5::Md5::digest(&data)),
        "sha1" => hex(&sha1::Sha1::digest(&data)),
        "sha224" => hex(&sha2_digest011::Sha224::digest(&data)),
        "sha256" => hex(&sha2_digest011::Sha256::digest(&data)),
        "sha384" => hex(&sha2_digest011::Sha384::digest(&data)),
        "sha512" => hex(&sha2_digest011::Sha512::digest(&data)),
        other => return Err(invalid(format!("No hashing function named {other}"))),
    })
}

fn hmac_filter(value: &JinjaValue, key: &JinjaValue, hash_type: Option<&str>) -> Result<String, Error> {
    use hmac::{KeyInit as _, Mac as _};
    if hash_type.is_some_and(|h| h != "sha256") {
        return Err(invalid(format!(
            "Hash type '{}' is not allowed. Allowed types: sha256",
            hash_type.unwrap_or_default()
        )));
    }
    let mut mac = hmac::Hmac::<sha2_digest011::Sha256>::new_from_slice(py_str(key).as_bytes())
        .map_err(|e| invalid(format!("hmac: {e}")))?;
    mac.update(py_str(value).as_bytes());
    Ok(mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Airbyte's `string`: a text as it is, anything else as its JSON in triple quotes, so that
/// reading the rendered text back as a Python literal gives a text again.
fn string_filter(value: &JinjaValue) -> String {
    match value.as_str() {
        Some(s) if value.kind() == ValueKind::String => s.to_string(),
        _ => format!("\"\"\"{}\"\"\"", py_json(value)),
    }
}

/// Jinja2's `int(default=0, base=10)`: numbers truncated, texts parsed (`'12.7'` → 12).
fn int_filter(value: &JinjaValue, default: Option<i64>, base: Option<u32>) -> JinjaValue {
    let default = default.unwrap_or(0);
    if let Some(i) = value.as_i64() {
        return JinjaValue::from(i);
    }
    if value.is_number() {
        return JinjaValue::from(f64::try_from(value.clone()).map(|f| f.trunc() as i64).unwrap_or(default));
    }
    if value.kind() == ValueKind::Bool {
        return JinjaValue::from(i64::from(value.is_true()));
    }
    let Some(text) = value.as_str() else { return JinjaValue::from(default) };
    let text = text.trim().replace('_', "");
    let base = base.unwrap_or(10);
    if let Ok(i) = i64::from_str_radix(&text, base) {
        return JinjaValue::from(i);
    }
    JinjaValue::from(text.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f.trunc() as i64).unwrap_or(default))
}

/// Jinja2's `float(default=0.0)`.
fn float_filter(value: &JinjaValue, default: Option<f64>) -> JinjaValue {
    let default = default.unwrap_or(0.0);
    if value.is_number() {
        return JinjaValue::from(f64::try_from(value.clone()).unwrap_or(default));
    }
    let parsed = value.as_str().and_then(|t| t.trim().replace('_', "").parse::<f64>().ok());
    JinjaValue::from(parsed.unwrap_or(default))
}

fn regex(pattern: &str) -> Result<regex::Regex, Error> {
    regex::Regex::new(pattern)
        .map_err(|e| invalid(format!("`{pattern}` is not a regular expression txlake reads: {e}")))
}

/// Python's `re.sub` replacement (`\1`, `\g<1>`, `\g<name>`) in the regex crate's syntax.
fn python_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    let _ = write!(out, "${{{n}}}");
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        let _ = write!(out, "${{{name}}}");
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

fn quote_plus(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
    out
}

fn camel_to_snake(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

// ---------------------------------------------------------------------------------------
// Python printing and literals

/// Python's `str()` of a value: texts as they are, `True`/`False`/`None`, lists and dicts
/// with their items' `repr()`; undefined is empty (Jinja2's `Undefined`).
pub(crate) fn py_str(value: &JinjaValue) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        ValueKind::Undefined => String::new(),
        _ => py_repr(value, 0),
    }
}

fn py_repr(value: &JinjaValue, depth: usize) -> String {
    if depth > 64 {
        return "...".into();
    }
    match value.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::None => "None".into(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number => match value.as_i64() {
            Some(i) if value.is_integer() => i.to_string(),
            _ if value.is_integer() => value.to_string(),
            _ => py_float(f64::try_from(value.clone()).unwrap_or(f64::NAN)),
        },
        ValueKind::String => py_repr_str(value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<String> =
                value.try_iter().map(|i| i.map(|v| py_repr(&v, depth + 1)).collect()).unwrap_or_default();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Map => {
            let items: Vec<String> = value
                .try_iter()
                .map(|keys| {
                    keys.map(|k| {
                        let v = value.get_item(&k).unwrap_or_default();
                        format!("{}: {}", py_repr(&k, depth + 1), py_repr(&v, depth + 1))
                    })
                    .collect()
                })
                .unwrap_or_default();
            format!("{{{}}}", items.join(", "))
        }
        _ => value.to_string(),
    }
}

/// Python's `repr()` of a float: `1.0`, `0.1`, `1e+20`, `1e-05`.
pub(crate) fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let (int_part, frac) = if digits.len() > int_len {
                (digits[..int_len].to_string(), digits[int_len..].to_string())
            } else {
                (format!("{digits:0<int_len$}"), "0".to_string())
            };
            format!("{sign}{int_part}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let rest = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        format!("{sign}{}{rest}e{}{:02}", &digits[..1], if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `json.dumps` (`", "` and `": "` separators, non-ASCII escaped).
fn py_json(value: &JinjaValue) -> String {
    let json = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut out = String::new();
    write_py_json(&json, &mut out);
    out
}

fn write_py_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_json(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_str(k, out);
                out.push_str(": ");
                write_py_json(v, out);
            }
            out.push('}');
        }
        Value::String(s) => write_json_str(s, out),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&py_float(f)),
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `ast.literal_eval` of a rendered text, as JSON: numbers (`10`, `1_000`,
/// `0x10`, `1e5`), texts in any quotes, `True`/`False`/`None`, lists, tuples, sets and
/// dicts of them. `None` when the text is no literal (it then stays a text), as for
/// complex numbers and bytes, which have no JSON form.
pub fn literal_eval(text: &str) -> Option<Value> {
    let mut parser = Literal { s: text.as_bytes(), at: 0, depth: 0 };
    parser.ws();
    let value = parser.value()?;
    parser.ws();
    (parser.at == parser.s.len()).then_some(value)
}

struct Literal<'a> {
    s: &'a [u8],
    at: usize,
    depth: usize,
}

impl Literal<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let out = match self.peek()? {
            b'[' => {
                self.at += 1;
                Value::Array(self.items(b']')?.0)
            }
            b'(' => {
                self.at += 1;
                let (items, trailing_comma) = self.items(b')')?;
                if items.len() == 1 && !trailing_comma { items.into_iter().next()? } else { Value::Array(items) }
            }
            b'{' => {
                self.at += 1;
                self.dict_or_set()?
            }
            b'\'' | b'"' => self.strings()?,
            b'r' | b'R' | b'u' | b'U' if matches!(self.s.get(self.at + 1), Some(b'\'' | b'"')) => self.strings()?,
            b'-' | b'+' => {
                let negative = self.peek() == Some(b'-');
                self.at += 1;
                self.ws();
                let n = self.number()?;
                if negative { negate(n)? } else { n }
            }
            b'0'..=b'9' | b'.' => self.number()?,
            _ => {
                let start = self.at;
                while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    self.at += 1;
                }
                match &self.s[start..self.at] {
                    b"True" => Value::Bool(true),
                    b"False" => Value::Bool(false),
                    b"None" => Value::Null,
                    _ => return None,
                }
            }
        };
        self.depth -= 1;
        Some(out)
    }

    /// Items up to `close`, and whether a comma ended them.
    fn items(&mut self, close: u8) -> Option<(Vec<Value>, bool)> {
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            if self.eat(close) {
                return Some((items, comma));
            }
            items.push(self.value()?);
            comma = self.eat(b',');
            if !comma {
                return self.eat(close).then_some((items, false));
            }
        }
    }

    fn dict_or_set(&mut self) -> Option<Value> {
        if self.eat(b'}') {
            return Some(Value::Object(serde_json::Map::new()));
        }
        let first = self.value()?;
        if self.eat(b':') {
            let mut map = serde_json::Map::new();
            let mut key = first;
            loop {
                let value = self.value()?;
                map.insert(key_text(&key)?, value);
                if !self.eat(b',') {
                    return self.eat(b'}').then_some(Value::Object(map));
                }
                if self.eat(b'}') {
                    return Some(Value::Object(map));
                }
                key = self.value()?;
                if !self.eat(b':') {
                    return None;
                }
            }
        }
        let mut items = vec![first];
        if !self.eat(b',') {
            return self.eat(b'}').then_some(Value::Array(items));
        }
        items.extend(self.items(b'}')?.0);
        Some(Value::Array(items))
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Option<Value> {
        let mut out = String::new();
        loop {
            self.ws();
            let raw = match self.peek() {
                Some(b'r' | b'R') => {
                    self.at += 1;
                    true
                }
                Some(b'u' | b'U') => {
                    self.at += 1;
                    false
                }
                Some(b'\'' | b'"') => false,
                _ => break,
            };
            out.push_str(&self.string(raw)?);
        }
        Some(Value::String(out))
    }

    fn string(&mut self, raw: bool) -> Option<String> {
        let quote = self.peek()?;
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        let triple = self.s.get(self.at..self.at + 3) == Some(&[quote, quote, quote][..]);
        self.at += if triple { 3 } else { 1 };
        let mut bytes = Vec::new();
        loop {
            let b = self.peek()?;
            if b == quote && (!triple || self.s.get(self.at..self.at + 3) == Some(&[quote, quote, quote][..])) {
                self.at += if triple { 3 } else { 1 };
                break;
            }
            if !triple && b == b'\n' {
                return None;
            }
            self.at += 1;
            if b != b'\\' {
                bytes.push(b);
                continue;
            }
            let e = self.peek()?;
            self.at += 1;
            if raw {
                bytes.push(b'\\');
                bytes.push(e);
                continue;
            }
            let mut push = |c: char| bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            match e {
                b'\n' => {}
                b'\\' => push('\\'),
                b'\'' => push('\''),
                b'"' => push('"'),
                b'n' => push('\n'),
                b't' => push('\t'),
                b'r' => push('\r'),
                b'a' => push('\x07'),
                b'b' => push('\x08'),
                b'f' => push('\x0c'),
                b'v' => push('\x0b'),
                b'0'..=b'7' => {
                    let mut n = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                n = n * 8 + u32::from(d - b'0');
                                self.at += 1;
                            }
                            _ => break,
                        }
                    }
                    push(char::from_u32(n)?);
                }
                b'x' | b'u' | b'U' => {
                    let len = match e {
                        b'x' => 2,
                        b'u' => 4,
                        _ => 8,
                    };
                    let hex = std::str::from_utf8(self.s.get(self.at..self.at + len)?).ok()?;
                    self.at += len;
                    push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                }
                b'N' => return None,
                other => {
                    bytes.push(b'\\');
                    bytes.push(other);
                }
            }
        }
        String::from_utf8(bytes).ok()
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            // An exponent's sign belongs to the number.
            if matches!(self.peek(), Some(b'e' | b'E'))
                && matches!(self.s.get(self.at + 1), Some(b'+' | b'-'))
                && !self.s[start..self.at].starts_with(b"0x")
                && !self.s[start..self.at].starts_with(b"0X")
            {
                self.at += 1;
            }
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).ok()?;
        parse_py_number(text)
    }
}

fn negate(n: Value) -> Option<Value> {
    Some(match n {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i.checked_neg()?)
            } else if let Some(u) = n.as_u64() {
                Value::from(-(i128::from(u)) as f64)
            } else {
                Value::from(-n.as_f64()?)
            }
        }
        _ => return None,
    })
}

fn key_text(key: &Value) -> Option<String> {
    Some(match key {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    })
}

/// A Python number literal: ints (with `_`, `0x`/`0o`/`0b`; no leading zeros) and floats.
fn parse_py_number(text: &str) -> Option<Value> {
    if text.is_empty() || text.ends_with('_') || text.contains("__") || text.ends_with(['j', 'J']) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            let digits = digits.strip_prefix('_').unwrap_or(digits).replace('_', "");
            return int_value(i128::from_str_radix(&digits, radix).ok()?);
        }
    }
    let clean = text.replace('_', "");
    if clean.bytes().all(|b| b.is_ascii_digit()) {
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return None;
        }
        return int_value(clean.parse::<i128>().ok()?);
    }
    let valid = clean.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && clean.bytes().any(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    let f: f64 = clean.parse().ok()?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

fn int_value(i: i128) -> Option<Value> {
    if let Ok(i) = i64::try_from(i) {
        Some(Value::from(i))
    } else if let Ok(u) = u64::try_from(i) {
        Some(Value::from(u))
    } else {
        serde_json::Number::from_f64(i as f64).map(Value::Number)
    }
}

/// Python's `str()` of a literal read back: what a rendered text becomes where Airbyte
/// writes the value into a URL or header.
pub(crate) fn py_str_json(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_str(&JinjaValue::from_serialize(other)),
    }
}

/// Airbyte's `InterpolatedBoolean` falsy values (after reading the literal back).
pub(crate) fn is_false(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "false",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

// ---------------------------------------------------------------------------------------
// Rewrite and check

/// Rewrites `X - duration(…)` and `X + duration(…)` into `__airbyte_datetime_add(X,
/// duration(…), ∓1)`, `X` being the postfix expression before the operator (a call, a
/// name, an attribute or item chain, or a parenthesised expression), since minijinja has
/// no arithmetic on objects.
pub(crate) fn rewrite_duration_arithmetic(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("duration") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut current = text.to_string();
    // Each pass rewrites the first occurrence; chains need several.
    for _ in 0..32 {
        match rewrite_once(&current) {
            Some(next) => current = next,
            None => break,
        }
    }
    std::borrow::Cow::Owned(current)
}

fn rewrite_once(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let pairs = bracket_pairs(bytes);
    let mut search = 0;
    while let Some(found) = text[search..].find("duration") {
        let name_at = search + found;
        search = name_at + 8;
        // `duration` must be a whole name called right away.
        if name_at > 0
            && (bytes[name_at - 1].is_ascii_alphanumeric() || bytes[name_at - 1] == b'_' || bytes[name_at - 1] == b'.')
        {
            continue;
        }
        let mut open = name_at + 8;
        while bytes.get(open).is_some_and(u8::is_ascii_whitespace) {
            open += 1;
        }
        if bytes.get(open) != Some(&b'(') {
            continue;
        }
        let Some(close) = pairs.get(&open).copied() else { continue };
        // The operator before it.
        let mut op_at = name_at;
        while op_at > 0 && bytes[op_at - 1].is_ascii_whitespace() {
            op_at -= 1;
        }
        if op_at == 0 || !matches!(bytes[op_at - 1], b'-' | b'+') {
            continue;
        }
        op_at -= 1;
        let sign = if bytes[op_at] == b'-' { "-1" } else { "1" };
        // The operand before the operator.
        let mut end = op_at;
        while end > 0 && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        let mut start = end;
        loop {
            if start > 0 && matches!(bytes[start - 1], b')' | b']') {
                let Some((&o, _)) = pairs.iter().find(|(_, c)| **c == start - 1) else { break };
                start = o;
                continue;
            }
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || matches!(bytes[start - 1], b'_' | b'.')) {
                start -= 1;
                continue;
            }
            break;
        }
        if start == end {
            continue;
        }
        let operand = &text[start..end];
        let call = &text[name_at..=close];
        return Some(format!("{}{DT_ARITH}({operand}, {call}, {sign}){}", &text[..start], &text[close + 1..]));
    }
    None
}

/// Matching `(`/`[`/`{` → closing positions, outside string literals.
fn bracket_pairs(bytes: &[u8]) -> BTreeMap<usize, usize> {
    let mut pairs = BTreeMap::new();
    let mut stack = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 1;
            } else if b == q {
                quote = None;
            }
        } else {
            match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => stack.push(i),
                b')' | b']' | b'}' => {
                    if let Some(open) = stack.pop() {
                        pairs.insert(open, i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    pairs
}

/// Parses an Airbyte template and refuses what txlake cannot run: a syntax error, or an
/// unknown variable, macro, filter, test or method, named. The Airbyte manifest
/// translator calls it on every template of a manifest at load.
pub fn check_template(text: &str) -> Result<(), String> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(());
    }
    let env = environment();
    let rewritten = rewrite_duration_arithmetic(text);
    let template = env.template_from_str(&rewritten).map_err(|e| {
        let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
        format!("the template does not parse ({}{detail})", e.kind())
    })?;
    let mut unknown_variables: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| {
            !VARIABLES.contains(&v.as_str()) && !MACROS.contains(&v.as_str()) && !JINJA_GLOBALS.contains(&v.as_str())
        })
        .collect();
    unknown_variables.sort();
    let tokens = lex_expressions(&rewritten);
    let mut unknown: Vec<String> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Name(name) = token else { continue };
        let previous = i.checked_sub(1).and_then(|p| tokens.get(p));
        let next = tokens.get(i + 1);
        if previous == Some(&Token::Punct('|')) && !has_filter(env, name) {
            unknown.push(format!("filter `{name}`"));
        } else if matches!(previous, Some(Token::Name(n)) if n == "is" || (n == "not" && matches!(tokens.get(i.wrapping_sub(2)), Some(Token::Name(is)) if is == "is")))
            && !has_test(env, name)
        {
            unknown.push(format!("test `{name}`"));
        } else if previous == Some(&Token::Punct('.'))
            && next == Some(&Token::Punct('('))
            && !METHODS.contains(&name.as_str())
        {
            unknown.push(format!("method `.{name}()`"));
        } else if previous != Some(&Token::Punct('.'))
            && next == Some(&Token::Punct('('))
            && unknown_variables.contains(name)
        {
            unknown_variables.retain(|v| v != name);
            unknown.push(format!("macro `{name}()`"));
        }
    }
    unknown.extend(unknown_variables.into_iter().map(|v| format!("variable `{v}`")));
    unknown.dedup();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!("unknown {} (txlake runs Airbyte's documented macros and filters only)", unknown.join(", ")))
    }
}

fn environment() -> &'static Environment<'static> {
    super::template::airbyte_environment()
}

/// The compiled form of `expression`, compiled once per text. The texts are a manifest's
/// templates, so the cache stays small; it is emptied past 4,096 (many manifests loaded
/// by a long-running server).
pub(crate) fn cached_expression(
    env: &'static Environment<'static>,
    expression: &str,
) -> Result<Arc<minijinja::Expression<'static, 'static>>, Error> {
    type Cache = std::sync::Mutex<std::collections::HashMap<String, Arc<minijinja::Expression<'static, 'static>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(expression).cloned()) {
        return Ok(found);
    }
    let compiled = Arc::new(env.compile_expression_owned(expression.to_string())?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(expression.to_string(), compiled.clone());
    }
    Ok(compiled)
}

fn has_filter(env: &Environment<'static>, name: &str) -> bool {
    !matches!(env.render_str(&format!("{{{{ none | {name} }}}}"), ()), Err(e) if e.kind() == ErrorKind::UnknownFilter)
}

fn has_test(env: &Environment<'static>, name: &str) -> bool {
    !matches!(env.render_str(&format!("{{{{ none is {name} }}}}"), ()), Err(e) if e.kind() == ErrorKind::UnknownTest)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Punct(char),
    Other,
}

/// The tokens inside `{{ … }}` and `{% … %}` (strings and numbers as `Other`).
fn lex_expressions(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else {
            rest = &rest[open + 1..];
            continue;
        };
        let body_start = open + 2;
        let bytes = rest.as_bytes();
        let mut i = body_start;
        let mut quote = None;
        while i < bytes.len() {
            let b = bytes[i];
            if let Some(q) = quote {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                    tokens.push(Token::Other);
                }
                i += 1;
                continue;
            }
            if rest[i..].starts_with(close) {
                break;
            }
            match b {
                b'\'' | b'"' => quote = Some(b),
                b if b.is_ascii_alphabetic() || b == b'_' => {
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                        i += 1;
                    }
                    tokens.push(Token::Name(rest[start..i].to_string()));
                    continue;
                }
                b if b.is_ascii_digit() => {
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                    {
                        i += 1;
                    }
                    tokens.push(Token::Other);
                    continue;
                }
                b if b.is_ascii_whitespace() => {}
                b'-' if i == body_start => {}
                other => tokens.push(Token::Punct(other as char)),
            }
            i += 1;
        }
        tokens.push(Token::Other);
        rest = &rest[(i + close.len()).min(rest.len())..];
    }
    tokens
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::declarative::template::{Templates, context};

    /// Templates and what the Airbyte CDK 7.39.1's `JinjaInterpolation.eval` returns for
    /// them (computed once with the CDK's macros.py/filters.py and Jinja2 3.1; as JSON).
    const CDK_VALUES: &[(&str, &str)] = &[
        (
            r#"{{ format_datetime("2024-01-02T03:04:05.678Z", "%Y-%m-%dT%H:%M:%S.%f%z") }}"#,
            r#""2024-01-02T03:04:05.678000+0000""#,
        ),
        (r#"{{ format_datetime("2024-01-02T03:04:05.678+02:00", "%s") }}"#, r#"1704157445"#),
        (r#"{{ format_datetime("2024-01-02T03:04:05.678Z", "%ms") }}"#, r#"1704164645678"#),
        (r#"{{ format_datetime(1704164645, "%Y-%m-%d") }}"#, r#""2024-01-02""#),
        (r#"{{ format_datetime(1704164645000, "%Y-%m-%d %H:%M", "%ms") }}"#, r#""2024-01-02 03:04""#),
        (r#"{{ format_datetime("02/01/2024", "%Y-%m-%d", "%d/%m/%Y") }}"#, r#""2024-01-02""#),
        (
            r#"{{ format_datetime("2024-01-02T03:04:05.678Z", "%Y-%m-%dT%H:%M:%S.%_msZ") }}"#,
            r#""2024-01-02T03:04:05.678Z""#,
        ),
        (r#"{{ format_datetime("2024-01-02T03:04:05Z", "%s_as_float") }}"#, r#"1704164645.0"#),
        (r#"{{ format_datetime("2024-01-02", "%epoch_microseconds") }}"#, r#"1704153600000000"#),
        (r#"{{ format_datetime(str_to_datetime("2024-01-02T03:04:05Z"), "%ms") }}"#, r#""01s""#),
        (
            r#"{{ format_datetime("2024-01-02T03:04:05.123456Z", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%fZ") }}"#,
            r#""2024-01-02T03:04:05.123456""#,
        ),
        (
            r#"{{ format_datetime("2024-01-02 03:04:05+0100", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z") }}"#,
            r#""2024-01-02T03:04:05+0100""#,
        ),
        (
            r#"{{ format_datetime("2024-01-02T03:04:05.5Z", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f%z") }}"#,
            r#""2024-01-02T03:04:05.500000""#,
        ),
        (r#"{{ str_to_datetime("2024-01-02T03:04:05+02:00").isoformat() }}"#, r#""2024-01-02T01:04:05+00:00""#),
        (r#"{{ str_to_datetime("2024-01-02T03:04:05.5").timestamp() }}"#, r#"1704164645.5"#),
        (
            r#"{{ str_to_datetime("2024-01-02").strftime("%Y/%m/%d %H %Z %z %j %a %b") }}"#,
            r#""2024/01/02 00 UTC +0000 002 Tue Jan""#,
        ),
        (r#"{{ str_to_datetime("2024-01-02T03:04:05Z") }}"#, r#""2024-01-02 03:04:05+00:00""#),
        (r#"{{ str_to_datetime("20240102T030405") }}"#, r#""2024-01-02 03:04:05+00:00""#),
        (r#"{{ str_to_datetime("2024-03-31T00:00:00Z") - duration("P1M") }}"#, r#""2024-02-29 00:00:00+00:00""#),
        (
            r#"{{ (str_to_datetime("2024-01-02T03:04:05Z") + duration("PT1H30M")).isoformat() }}"#,
            r#""2024-01-02T04:34:05+00:00""#,
        ),
        (
            r#"{{ str_to_datetime("2024-01-02T00:00:00Z") - duration("P1D") - duration("PT1H") }}"#,
            r#""2023-12-31 23:00:00+00:00""#,
        ),
        (r#"{{ duration("P1D") }}"#, r#""1 day, 0:00:00""#),
        (r#"{{ duration("P30DT23H") }}"#, r#""30 days, 23:00:00""#),
        (r#"{{ duration("P1Y2M") }}"#, r#""1 years, 2 months, 0:00:00""#),
        (r#"{{ duration("PT0.5S") }}"#, r#""0:00:00.500000""#),
        (r#"{{ duration("-P1D") }}"#, r#""-1 day, 0:00:00""#),
        (r#"{{ duration("P2W").days }}"#, r#"14"#),
        (r#"{{ duration("PT90M").total_seconds() }}"#, r#"5400.0"#),
        (r#"{{ timestamp("2022-01-14T10:00:00.5Z") }}"#, r#"1642154400.5"#),
        (r#"{{ timestamp(1658505815.223235) }}"#, r#"1658505815"#),
        (r#"{{ timestamp("2022-01-14") }}"#, r#"1642118400.0"#),
        (r#"{{ max(2, 3) }}"#, r#"3"#),
        (r#"{{ min(2, 3) }}"#, r#"2"#),
        (r#"{{ max([1, 5, 3]) }}"#, r#"5"#),
        (r#"{{ max("2024-01-01", "2023-12-31") }}"#, r#""2024-01-01""#),
        (
            r#"{{ min(str_to_datetime("2024-01-01"), str_to_datetime("2023-12-31")) }}"#,
            r#""2023-12-31 00:00:00+00:00""#,
        ),
        (r#"{{ "x" | hash }}"#, r#""9dd4e461268c8034f5c8564e155c67a6""#),
        (
            r#"{{ "x" | hash("sha256", "salt") }}"#,
            r#""59098e2e749becb74e501e20763edb94b09433e20c2aff0ebc9a061bb92448e6""#,
        ),
        (r#"{{ "x" | hash("sha1") }}"#, r#""11f6ad8ec52a2984abaafd7c3b516503785c2072""#),
        (
            r#"{{ 12 | hash("sha512") }}"#,
            r#""5aadb45520dcd8726b2822a7a78bb53d794f557199d5d4abdedd2c55a4bd6ca73607605c558de3db80c8e86c3196484566163ed1327e82e8b6757d1932113cb8""#,
        ),
        (r#"{{ "user:pass" | base64encode }}"#, r#""dXNlcjpwYXNz""#),
        (r#"{{ "dXNlcjpwYXNz" | base64decode }}"#, r#""user:pass""#),
        (r#"{{ "abc" | base64binascii_decode }}"#, r#""YWJj""#),
        (r#"{{ 123 | string }}"#, r#""123""#),
        (r#"{{ {"a": [1, "é", None, True]} | string }}"#, r#""{\"a\": [1, \"é\", null, true]}""#),
        (r#"{{ "x" | string }}"#, r#""x""#),
        (r#"{{ "page=42&x=1" | regex_search("page=(\d+)") }}"#, r#"42"#),
        (r#"{{ "nothing" | regex_search("page=(\d+)") }}"#, r#""""#),
        (r#"{{ "a-b-c" | regex_replace("-(\w)", "_\\1") }}"#, r#""a_b_c""#),
        (
            r#"{{ "message" | hmac("secret") }}"#,
            r#""8b5f48702995c1598c573db1e21866a9b825d4a794d169d7060a03605796360b""#,
        ),
        (r#"{{ "12.7" | int }}"#, r#"12"#),
        (r#"{{ "abc" | int }}"#, r#"0"#),
        (r#"{{ 12.7 | int }}"#, r#"12"#),
        (r#"{{ "1e3" | float }}"#, r#"1000.0"#),
        (r#"{{ "x" | float }}"#, r#"0.0"#),
        (r#"{{ "42" | int + 1 }}"#, r#"43"#),
        (
            r#"{{ sanitize_url("https://example.com/a b?q=1&r=é") }}"#,
            r#""https%3A%2F%2Fexample.com%2Fa+b%3Fq%3D1%26r%3D%C3%A9""#,
        ),
        (r#"{{ camel_case_to_snake_case("CamelCaseID") }}"#, r#""camel_case_i_d""#),
        (r#"{{ 10 }}"#, r#"10"#),
        (r#"{{ ["a", "b"] }}"#, r#"["a", "b"]"#),
        (r#"{{ {"a": 1} }}"#, r#"{"a": 1}"#),
        (r#"{{ None }}"#, r#"null"#),
        (r#"{{ true }}"#, r#"true"#),
        (r#"{{ 1.0 }}"#, r#"1.0"#),
        (r#"{{ 1e20 }}"#, r#"1e+20"#),
        (r#"{{ 0.1 + 0.2 }}"#, r#"0.30000000000000004"#),
        (r#"{{ 7 / 2 }}"#, r#"3.5"#),
        (r#"{{ 1_000 }}"#, r#"1000"#),
        (r#"{{ "0x10" }}"#, r#"16"#),
        (r#"{{ "007" }}"#, r#""007""#),
        (r#"{{ "1e5" }}"#, r#"100000.0"#),
        (r#"'{{ "abc" }}'"#, r#""abc""#),
        (r#"{{ "a" }}-{{ 1 }}"#, r#""a-1""#),
        (r#"{{ [1, "it's", None] }}"#, r#"[1, "it's", null]"#),
        (r#"{{ "[1, 2]" }}"#, r#"[1, 2]"#),
        (r#"{{ "1+2j" }}"#, r#""1+2j""#),
        (r#"{{ "b'x'" }}"#, r#""b'x'""#),
        (r#"{{ "  Hello World ".strip().lower() }}"#, r#""hello world""#),
        (r#"{{ "a,b,c".split(",") }}"#, r#"["a", "b", "c"]"#),
        (r#"{{ "abc".startswith("ab") }}"#, r#"true"#),
        (r#"{{ "a-b".replace("-", "_").upper() }}"#, r#""A_B""#),
        (r#"{{ {"a": 1}.get("b", 2) }}"#, r#"2"#),
        (r#"{{ {"a": 1}.get("b") }}"#, r#"null"#),
        (r#"{{ {"a": 1}.items() | list }}"#, r#"[["a", 1]]"#),
        (r#"{{ {"a": 1}.keys() | list }}"#, r#"["a"]"#),
        (r#"{{ "a" in {"a": 1} }}"#, r#"true"#),
        (r#"{{ {"a": {"b": 3}}["a"]["b"] }}"#, r#"3"#),
    ];

    #[test]
    fn macros_filters_and_python_isms_give_what_the_cdk_gives() {
        let t = Templates::airbyte();
        let ctx = context(&json!({}));
        let mut wrong = Vec::new();
        for (template, expected) in CDK_VALUES {
            let expected: Value = serde_json::from_str(expected).unwrap();
            match t.render_value(&Value::String((*template).into()), &ctx, "k") {
                Ok(got) if got == expected => {}
                Ok(got) => wrong.push(format!("{template}: got {got}, the CDK gives {expected}")),
                Err(e) => wrong.push(format!("{template}: {e}")),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn airbyte_variables_come_from_the_readers_context() {
        let t = Templates::airbyte();
        let ctx = context(&json!({
            "config": {"start_date": "2024-01-01T00:00:00Z", "survey_ids": ["1", "2"]},
            "parameters": {"name": "responses", "cursor_field": "updated_at"},
            "cursor_field": "updated_at",
            "partition": {"form_id": "f1", "parent": {"id": "f1", "generated_timestamp": 1700000000}},
            "slice": {"start": "2024-01-01T00:00:00Z", "end": "2024-02-01T00:00:00Z"},
            "state": {"cursor": "2024-01-15T00:00:00Z"},
            "next_page_token": "{'after': 'x', 'page': 2}",
            "response": {"paging": {"next": {"after": "a1"}}},
            "headers": {"x-total": "7", "link": "<https://api.example.com/p2>; rel=\"next\", <https://api.example.com/p0>; rel=\"prev\""},
            "last_record": {"id": 10},
            "last_page_size": 0,
            "record": {"id": "1", "updated_at": "2024-01-20T00:00:00Z"},
        }));
        let render = |template: &str| t.render_value(&json!(template), &ctx, "k").unwrap();
        assert_eq!(render("forms/{{ stream_partition.form_id }}/responses"), json!("forms/f1/responses"));
        assert_eq!(render("{{ stream_slice['form_id'] }}"), json!("f1"));
        assert_eq!(render("{{ stream_slice.partition }}"), json!({"form_id": "f1"}));
        assert_eq!(render("{{ stream_slice.extra_fields['generated_timestamp'] }}"), json!(1700000000));
        assert_eq!(render("{{ stream_interval.start_time }}"), json!("2024-01-01T00:00:00Z"));
        assert_eq!(render("{{ stream_interval['end_time'] }}"), json!("2024-02-01T00:00:00Z"));
        assert_eq!(render("{{ stream_slice.cursor_slice.end_time }}"), json!("2024-02-01T00:00:00Z"));
        assert_eq!(render("{{ stream_state.get('updated_at', config['start_date']) }}"), json!("2024-01-15T00:00:00Z"));
        assert_eq!(render("{{ next_page_token['next_page_token']['after'] }}"), json!("x"));
        assert_eq!(render("{{ next_page_token.get('next_page_token').get('page') }}"), json!(2));
        assert_eq!(render("{{ headers['link']['next']['url'] }}"), json!("https://api.example.com/p2"));
        assert_eq!(render("{{ headers['X-Total'] }}|{{ headers.get('x-total') }}"), json!("7|7"));
        assert_eq!(render("{{ 'link' in headers }}"), json!(true));
        assert_eq!(render("{{ parameters['name'] }}"), json!("responses"));
        assert_eq!(
            render("{{ record[parameters['cursor_field']] >= stream_interval.get('start_time') }}"),
            json!(true)
        );
        assert_eq!(render("{{ last_record['id'] + 1 }}"), json!(11));
        assert_eq!(render("{{ record['id'] in config['survey_ids'] }}"), json!(true));
        // The native names stay readable.
        assert_eq!(render("{{ partition.form_id }}-{{ slice.start }}"), json!("f1-2024-01-01T00:00:00Z"));

        assert!(t.condition("{{ last_page_size == 0 }}", &ctx, "k").unwrap());
        assert!(!t.condition("{{ 'next' not in headers['link'] }}", &ctx, "k").unwrap());
        assert!(!t.condition("{{ response.get('nothing') }}", &ctx, "k").unwrap());
        assert!(!t.condition("{{ [] }}", &ctx, "k").unwrap());
        assert!(!t.condition("{{ 'false' }}", &ctx, "k").unwrap());
        assert!(t.condition("response.paging.next.after", &ctx, "k").unwrap());

        // Without a window, a partition or a page token.
        let bare = context(&json!({"config": {}}));
        let render = |template: &str| t.render_value(&json!(template), &bare, "k").unwrap();
        assert_eq!(render("{{ stream_interval }}"), json!({}));
        assert_eq!(render("{{ 'first' if next_page_token is none else 'next' }}"), json!("first"));
        assert_eq!(render("{{ stream_state }}"), json!({}));
        assert_eq!(render("{{ parameters.get('name', 'x') }}"), json!("x"));
    }

    #[test]
    fn text_rendering_reads_literals_back_as_airbyte_does() {
        let t = Templates::airbyte();
        let ctx = context(&json!({"config": {"id": "12345", "quoted": "'abc'", "list": ["a", "b"]}}));
        assert_eq!(t.render("/accounts/{{ config.id }}", &ctx, "k").unwrap(), "/accounts/12345");
        assert_eq!(t.render("{{ config.quoted }}", &ctx, "k").unwrap(), "abc");
        assert_eq!(t.render("{{ config.list }}", &ctx, "k").unwrap(), "['a', 'b']");
        assert_eq!(t.render("{{ config.get('missing') }}", &ctx, "k").unwrap(), "");
        assert_eq!(t.render_value(&json!("{{ config.get('missing') }}"), &ctx, "k").unwrap(), json!(null));
        assert_eq!(t.render_value(&json!("{{ config.id }}"), &ctx, "k").unwrap(), json!(12345));
        assert_eq!(t.render_value(&json!("plain text"), &ctx, "k").unwrap(), json!("plain text"));
        assert_eq!(t.render_value(&json!(7), &ctx, "k").unwrap(), json!(7));
        // Native manifests are untouched: no literal reading, no Airbyte names.
        let native = Templates::new();
        assert_eq!(native.render("{{ config.quoted }}", &ctx, "k").unwrap(), "'abc'");
        assert_eq!(native.render("{{ stream_slice }}", &ctx, "k").unwrap(), "");
    }

    #[test]
    fn python_literals() {
        assert_eq!(literal_eval(" 10 "), Some(json!(10)));
        assert_eq!(literal_eval("-1_000"), Some(json!(-1000)));
        assert_eq!(literal_eval("0x1F"), Some(json!(31)));
        assert_eq!(literal_eval("1.5e3"), Some(json!(1500.0)));
        assert_eq!(literal_eval("'a' \"b\""), Some(json!("ab")));
        assert_eq!(literal_eval(r#"'it\'s\n\x41\u00e9'"#), Some(json!("it's\nAé")));
        assert_eq!(literal_eval(r#"r'\d+'"#), Some(json!("\\d+")));
        assert_eq!(literal_eval(r#""""a "quoted" text""""#), Some(json!("a \"quoted\" text")));
        assert_eq!(
            literal_eval("[1, (2, 3), {'k': None, 1: True}, {4}]"),
            Some(json!([1, [2, 3], {"k": null, "1": true}, [4]]))
        );
        assert_eq!(literal_eval("(1)"), Some(json!(1)));
        for text in ["", "007", "abc", "1+2j", "b'x'", "f'x'", "[1,", "1 2", "True()", "0b2", "1__0", "x.y"] {
            assert_eq!(literal_eval(text), None, "{text}");
        }
        assert_eq!(literal_eval(&format!("{}1{}", "[".repeat(100), "]".repeat(100))), None);
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(123456789.0), "123456789.0");
        assert_eq!(py_float(0.00001), "1e-05");
        assert_eq!(py_float(-2.5), "-2.5");
    }

    #[test]
    fn duration_arithmetic_is_rewritten_into_a_call() {
        assert_eq!(
            rewrite_duration_arithmetic("{{ (now_utc() - duration('P30DT23H')).strftime('%Y') }}"),
            "{{ (__airbyte_datetime_add(now_utc(), duration('P30DT23H'), -1)).strftime('%Y') }}"
        );
        assert_eq!(
            rewrite_duration_arithmetic(
                "{{ a if b else str_to_datetime(config['x']) + duration('P1D') - duration('PT1H') }}"
            ),
            "{{ a if b else __airbyte_datetime_add(__airbyte_datetime_add(str_to_datetime(config['x']), duration('P1D'), 1), duration('PT1H'), -1) }}"
        );
        assert_eq!(rewrite_duration_arithmetic("{{ duration('P1D') }}"), "{{ duration('P1D') }}");
        let t = Templates::airbyte();
        let ctx = context(&json!({"config": {"x": "2024-01-01"}}));
        let err = t
            .render("{{ config.x - duration('P1D') }}", &ctx, "streams.s.request.params.since")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a datetime") && err.contains("streams.s.request.params.since"), "{err}");
        let ago = t.render("{{ (now_utc() - duration('P1D')).strftime('%Y-%m-%d') }}", &ctx, "k").unwrap();
        assert_eq!(ago, t.render("{{ day_delta(-1, format='%Y-%m-%d') }}", &ctx, "k").unwrap());
        assert_eq!(
            t.render("{{ today_with_timezone('UTC') }}", &ctx, "k").unwrap(),
            t.render("{{ today_utc() }}", &ctx, "k").unwrap()
        );
        assert!(t.render("{{ today_with_timezone('Mars/Olympus') }}", &ctx, "k").is_err());
        assert_eq!(t.render("{{ generate_uuid() }}", &ctx, "k").unwrap().len(), 36);
        assert_eq!(t.render("{{ now_utc() }}", &ctx, "k").unwrap().len(), "2024-01-02 03:04:05.123456+00:00".len());
    }

    #[test]
    fn check_template_refuses_unknown_names() {
        for ok in [
            "plain",
            "{{ config['x'] | base64encode }}",
            "{{ now_utc() - duration('P1D') }}",
            "{{ format_datetime(stream_interval.start_time, '%s') | int }}",
            "{% for k, v in config.items() %}{{ k }}={{ v }}{% endfor %}",
            "{% set n = 3 %}{{ n }}",
            "{{ record.get('x') is not none and record.x is not string }}",
            "{{ day_delta(-1, format='%Y') }}",
            "{{ config.x.strip().lower().split(',') }}",
        ] {
            assert_eq!(check_template(ok), Ok(()), "{ok}");
        }
        for (bad, name) in [
            ("{{ components_values.name }}", "variable `components_values`"),
            ("{{ my_macro(1) }}", "macro `my_macro()`"),
            ("{{ range(10) }}", "macro `range()`"),
            ("{{ config.x | sha256hex }}", "filter `sha256hex`"),
            ("{{ config.x is prime }}", "test `prime`"),
            ("{{ config.x.zfill(3) }}", "method `.zfill()`"),
            ("{{ config.x ", "does not parse"),
        ] {
            let err = check_template(bad).unwrap_err();
            assert!(err.contains(name), "{bad}: {err}");
        }
    }
}
