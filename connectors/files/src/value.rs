//! Column types, the parsing of text values into them (fast paths for ISO dates and plain
//! numbers, strftime patterns otherwise) and type inference from sampled values.
//!
//! Inference is deliberately conservative: a value with a leading zero (`007`, a zip code, a
//! phone number) or a leading `+` is not taken for a number, so identifiers keep their text;
//! declared columns (`columns = { id = "int" }`) parse leniently.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// A column's type in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Int64.
    Int,
    /// Float64.
    Float,
    /// Boolean.
    Bool,
    /// Date32.
    Date,
    /// Timestamp (µs, UTC).
    Timestamp,
    /// Utf8.
    String,
}

/// The Arrow type of timestamps: microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
}

impl ColumnType {
    /// Reads a type name of the `columns` key.
    pub fn from_name(name: &str) -> Option<ColumnType> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "int" | "integer" | "bigint" | "int64" => ColumnType::Int,
            "float" | "double" | "number" | "float64" => ColumnType::Float,
            "bool" | "boolean" => ColumnType::Bool,
            "date" => ColumnType::Date,
            "timestamp" | "datetime" => ColumnType::Timestamp,
            "string" | "text" | "utf8" => ColumnType::String,
            _ => return None,
        })
    }

    /// The short name used in messages and in discover's question kinds.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::String => "string",
        }
    }

    /// The Arrow type.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => timestamp_type(),
            ColumnType::String => DataType::Utf8,
        }
    }

    /// The type of an Arrow column, for columns this connector reads as text.
    pub fn from_arrow(data_type: &DataType) -> Option<ColumnType> {
        Some(match data_type {
            DataType::Int64 => ColumnType::Int,
            DataType::Float64 => ColumnType::Float,
            DataType::Boolean => ColumnType::Bool,
            DataType::Date32 => ColumnType::Date,
            DataType::Timestamp(TimeUnit::Microsecond, _) => ColumnType::Timestamp,
            DataType::Utf8 => ColumnType::String,
            _ => return None,
        })
    }
}

/// How text values are read: the user's patterns and decimal separator.
#[derive(Debug, Clone, Default)]
pub struct TextFormats {
    /// strftime pattern of dates.
    pub date_format: Option<String>,
    /// strftime pattern of timestamps.
    pub timestamp_format: Option<String>,
    /// Numbers use a decimal comma.
    pub decimal_comma: bool,
}

/// A parsed value, ready to append to its column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// Empty.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// Text: `start..end` of the row's text buffer.
    Str(u32, u32),
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Parses an integer. `strict` (inference) refuses leading zeros and `+`.
pub fn parse_int(bytes: &[u8], strict: bool) -> Option<i64> {
    let b = trim(bytes);
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' if !strict => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 || (strict && digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if negative { Some(value) } else { value.checked_neg() }
}

/// Parses a float (`1.5`, `-2e3`; `1,5` with a decimal comma). `strict` refuses leading
/// zeros, `+`, and the words `inf`/`NaN`.
pub fn parse_float(bytes: &[u8], decimal_comma: bool, strict: bool) -> Option<f64> {
    let b = trim(bytes);
    if b.is_empty() || b.len() > 64 {
        return None;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    for &c in b {
        let c = match c {
            b',' if decimal_comma => b'.',
            b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E' => c,
            // Words (inf, NaN) only when declared, never inferred.
            _ if !strict && c.is_ascii_alphabetic() => c,
            _ => return None,
        };
        buf[n] = c;
        n += 1;
    }
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    if strict {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let bytes = unsigned.as_bytes();
        if bytes.first() == Some(&b'+') || (bytes.len() > 1 && bytes[0] == b'0' && bytes[1].is_ascii_digit()) {
            return None;
        }
    }
    text.parse::<f64>().ok()
}

/// Parses a boolean; `strict` (inference) takes only `true`/`false`, declared columns also
/// yes/no, y/n, t/f, 1/0.
pub fn parse_bool(bytes: &[u8], strict: bool) -> Option<bool> {
    let b = trim(bytes);
    if b.eq_ignore_ascii_case(b"true") {
        return Some(true);
    }
    if b.eq_ignore_ascii_case(b"false") {
        return Some(false);
    }
    if strict {
        return None;
    }
    for word in [&b"yes"[..], b"y", b"t", b"1"] {
        if b.eq_ignore_ascii_case(word) {
            return Some(true);
        }
    }
    for word in [&b"no"[..], b"n", b"f", b"0"] {
        if b.eq_ignore_ascii_case(word) {
            return Some(false);
        }
    }
    None
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian), if the date exists.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(d - b'0');
    }
    Some(v)
}

/// `YYYY-MM-DD` → days since the epoch.
fn iso_date(b: &[u8]) -> Option<i64> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    days_from_civil(i64::from(digits(&b[0..4])?), digits(&b[5..7])?, digits(&b[8..10])?)
}

/// ISO 8601 / RFC 3339 timestamp → µs since the epoch, UTC. Accepts `T` or a space between
/// date and time, optional seconds and fraction, and `Z`, `±HH:MM`, `±HHMM`, `±HH` or no
/// offset (UTC); a bare date is its midnight.
pub fn iso_timestamp(b: &[u8]) -> Option<i64> {
    let days = iso_date(b)?;
    let mut micros = days * 86_400_000_000;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(micros);
    }
    if !(rest[0] == b'T' || rest[0] == b't' || rest[0] == b' ') || rest.len() < 6 || rest[3] != b':' {
        return None;
    }
    let hour = digits(&rest[1..3])?;
    let minute = digits(&rest[4..6])?;
    let mut i = 6;
    let mut second = 0;
    if rest.len() >= 9 && rest[6] == b':' {
        second = digits(&rest[7..9])?;
        i = 9;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    micros += (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second.min(59))) * 1_000_000;
    if i < rest.len() && (rest[i] == b'.' || rest[i] == b',') {
        i += 1;
        let start = i;
        let mut frac: i64 = 0;
        let mut scale: i64 = 100_000;
        while i < rest.len() && rest[i].is_ascii_digit() {
            frac += i64::from(rest[i] - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
        micros += frac;
    }
    let zone = &rest[i..];
    let offset_minutes: i64 = match zone {
        [] | [b'Z'] | [b'z'] => 0,
        [b' ', b'U', b'T', b'C'] | [b' ', b'G', b'M', b'T'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let total = i64::from(h * 60 + m);
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    Some(micros - offset_minutes * 60_000_000)
}

fn utf8(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(trim(bytes)).ok()
}

impl TextFormats {
    /// Parses a date: ISO, else `date_format`.
    pub fn date(&self, bytes: &[u8]) -> Option<i32> {
        let b = trim(bytes);
        if b.len() == 10
            && let Some(days) = iso_date(b)
        {
            return i32::try_from(days).ok();
        }
        let pattern = self.date_format.as_deref()?;
        let date = NaiveDate::parse_from_str(utf8(b)?, pattern).ok()?;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
        i32::try_from((date - epoch).num_days()).ok()
    }

    /// Parses a timestamp: ISO/RFC 3339, else `timestamp_format` (UTC unless it has an
    /// offset), else — for a timestamp column holding dates — `date_format` at midnight.
    pub fn timestamp(&self, bytes: &[u8]) -> Option<i64> {
        let b = trim(bytes);
        if let Some(micros) = iso_timestamp(b) {
            return Some(micros);
        }
        let text = utf8(b)?;
        if let Some(pattern) = self.timestamp_format.as_deref() {
            if let Ok(at) = DateTime::parse_from_str(text, pattern) {
                return Some(at.timestamp_micros());
            }
            if let Ok(at) = NaiveDateTime::parse_from_str(text, pattern) {
                return Some(at.and_utc().timestamp_micros());
            }
            if let Ok(date) = NaiveDate::parse_from_str(text, pattern) {
                return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_micros());
            }
        }
        self.date(b).map(|days| i64::from(days) * 86_400_000_000)
    }

    /// Parses text as a value of `kind` (declared columns parse leniently). `Err` says why not.
    pub fn parse(&self, kind: ColumnType, bytes: &[u8]) -> Result<Cell, &'static str> {
        if trim(bytes).is_empty() {
            return Ok(Cell::Null);
        }
        match kind {
            ColumnType::Int => match parse_int(bytes, false) {
                Some(v) => Ok(Cell::Int(v)),
                // `5.0` in an integer column is still the integer 5.
                None => match parse_float(bytes, self.decimal_comma, false) {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Cell::Int(f as i64)),
                    _ => Err("is not an integer"),
                },
            },
            ColumnType::Float => {
                parse_float(bytes, self.decimal_comma, false).map(Cell::Float).ok_or("is not a number")
            }
            ColumnType::Bool => parse_bool(bytes, false).map(Cell::Bool).ok_or("is not a boolean (true/false)"),
            ColumnType::Date => self.date(bytes).map(Cell::Date).ok_or(match self.date_format {
                Some(_) => "does not match date_format (nor YYYY-MM-DD)",
                None => "is not a date (YYYY-MM-DD; set date_format for other layouts)",
            }),
            ColumnType::Timestamp => self.timestamp(bytes).map(Cell::Timestamp).ok_or(match self.timestamp_format {
                Some(_) => "does not match timestamp_format (nor ISO 8601)",
                None => "is not a timestamp (ISO 8601; set timestamp_format for other layouts)",
            }),
            ColumnType::String => Err("is text, handled by the caller"),
        }
    }
}

/// What the sampled values of one column allow.
#[derive(Debug, Clone)]
pub struct Inference {
    int: bool,
    float: bool,
    bool: bool,
    date: bool,
    timestamp: bool,
    /// Values seen that were not empty.
    pub seen: usize,
    /// Smallest and largest integer seen, while the column may be an integer column.
    pub int_range: Option<(i64, i64)>,
}

impl Default for Inference {
    fn default() -> Self {
        Inference { int: true, float: true, bool: true, date: true, timestamp: true, seen: 0, int_range: None }
    }
}

impl Inference {
    fn note_int(&mut self, v: i64) {
        self.int_range = Some(match self.int_range {
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
            None => (v, v),
        });
    }

    /// Observes a value written as text.
    pub fn text(&mut self, bytes: &[u8], formats: &TextFormats) {
        if trim(bytes).is_empty() {
            return;
        }
        self.seen += 1;
        if self.int {
            match parse_int(bytes, true) {
                Some(v) => {
                    self.note_int(v);
                    return;
                }
                None => self.int = false,
            }
        }
        if self.float && parse_float(bytes, formats.decimal_comma, true).is_some() {
            self.bool = false;
            self.date = false;
            self.timestamp = false;
            return;
        }
        self.float = false;
        if self.bool && parse_bool(bytes, true).is_some() {
            self.date = false;
            self.timestamp = false;
            return;
        }
        self.bool = false;
        if self.date && formats.date(bytes).is_some() {
            return;
        }
        self.date = false;
        if self.timestamp && formats.timestamp(bytes).is_some() {
            return;
        }
        self.timestamp = false;
    }

    /// Observes a typed integer (JSON, XLSX).
    pub fn int(&mut self, v: i64) {
        self.seen += 1;
        self.note_int(v);
        self.bool = false;
        self.date = false;
        self.timestamp = false;
    }

    /// Observes a typed float; an integral one still allows an integer column.
    pub fn float(&mut self, v: f64) {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            self.int(v as i64);
            return;
        }
        self.seen += 1;
        self.int = false;
        self.bool = false;
        self.date = false;
        self.timestamp = false;
    }

    /// Observes a typed boolean.
    pub fn boolean(&mut self) {
        self.seen += 1;
        self.int = false;
        self.float = false;
        self.date = false;
        self.timestamp = false;
    }

    /// Observes a typed date-time (XLSX); `midnight` when it has no time of day.
    pub fn datetime(&mut self, midnight: bool) {
        self.seen += 1;
        self.int = false;
        self.float = false;
        self.bool = false;
        if !midnight {
            self.date = false;
        }
    }

    /// Observes something only text can hold (a JSON object, an error cell).
    pub fn other(&mut self) {
        self.seen += 1;
        *self = Inference { seen: self.seen, ..Inference::none() };
    }

    fn none() -> Inference {
        Inference { int: false, float: false, bool: false, date: false, timestamp: false, seen: 0, int_range: None }
    }

    /// The inferred type: the narrowest every value fits; text when nothing was seen.
    pub fn kind(&self) -> ColumnType {
        if self.seen == 0 {
            ColumnType::String
        } else if self.int {
            ColumnType::Int
        } else if self.float {
            ColumnType::Float
        } else if self.bool {
            ColumnType::Bool
        } else if self.date {
            ColumnType::Date
        } else if self.timestamp {
            ColumnType::Timestamp
        } else {
            ColumnType::String
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str], formats: &TextFormats) -> ColumnType {
        let mut inference = Inference::default();
        for v in values {
            inference.text(v.as_bytes(), formats);
        }
        inference.kind()
    }

    #[test]
    fn inference_picks_the_narrowest_type() {
        let f = TextFormats::default();
        assert_eq!(infer(&["1", "-20", "", "300"], &f), ColumnType::Int);
        assert_eq!(infer(&["1", "2.5", "1e3"], &f), ColumnType::Float);
        assert_eq!(infer(&["true", "FALSE", ""], &f), ColumnType::Bool);
        assert_eq!(infer(&["2025-01-31", "2024-02-29"], &f), ColumnType::Date);
        assert_eq!(infer(&["2025-01-31", "2025-01-31T10:00:00Z"], &f), ColumnType::Timestamp);
        assert_eq!(infer(&["2025-01-31 10:00:00", "2025-01-31T10:00:00.5+03:00"], &f), ColumnType::Timestamp);
        assert_eq!(infer(&["1", "two"], &f), ColumnType::String);
        assert_eq!(infer(&["", " "], &f), ColumnType::String);
        // Identifiers with leading zeros or a plus sign stay text.
        assert_eq!(infer(&["007", "12"], &f), ColumnType::String);
        assert_eq!(infer(&["+79161234567"], &f), ColumnType::String);
        assert_eq!(infer(&["0", "0.5"], &f), ColumnType::Float);
        assert_eq!(infer(&["2025-02-30"], &f), ColumnType::String);
        assert_eq!(infer(&["inf", "NaN"], &f), ColumnType::String);
        assert_eq!(infer(&["99999999999999999999"], &f), ColumnType::Float);
    }

    #[test]
    fn patterns_and_decimal_comma() {
        let f = TextFormats {
            date_format: Some("%d.%m.%Y".into()),
            timestamp_format: Some("%d.%m.%Y %H:%M".into()),
            decimal_comma: true,
        };
        assert_eq!(infer(&["31.01.2025", "01.02.2025"], &f), ColumnType::Date);
        assert_eq!(infer(&["31.01.2025 14:30"], &f), ColumnType::Timestamp);
        assert_eq!(infer(&["4,5", "3"], &f), ColumnType::Float);
        assert_eq!(f.date(b"31.01.2025"), Some(20119));
        assert_eq!(f.timestamp(b"01.01.1970 00:01"), Some(60_000_000));
        assert_eq!(f.parse(ColumnType::Float, b"4,5"), Ok(Cell::Float(4.5)));
        assert_eq!(f.timestamp(b"31.01.2025"), Some(20119 * 86_400_000_000));
    }

    #[test]
    fn iso_timestamps() {
        assert_eq!(iso_timestamp(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(iso_timestamp(b"1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(iso_timestamp(b"1970-01-01 00:00:01.25"), Some(1_250_000));
        assert_eq!(iso_timestamp(b"1969-12-31T23:59:59-0100"), Some(3_599_000_000));
        assert_eq!(iso_timestamp(b"2000-02-29"), Some(951_782_400_000_000));
        assert_eq!(iso_timestamp(b"2001-02-29"), None);
        assert_eq!(iso_timestamp(b"2001-01-01T25:00"), None);
        assert_eq!(iso_timestamp(b"2001-01-01T10:00junk"), None);
        let chrono_micros =
            chrono::DateTime::parse_from_rfc3339("2026-12-07T19:30:11.123456+02:00").unwrap().timestamp_micros();
        assert_eq!(iso_timestamp(b"2026-12-07T19:30:11.123456+02:00"), Some(chrono_micros));
    }

    #[test]
    fn declared_columns_parse_leniently() {
        let f = TextFormats::default();
        assert_eq!(f.parse(ColumnType::Int, b" +007 "), Ok(Cell::Int(7)));
        assert_eq!(f.parse(ColumnType::Int, b"5.0"), Ok(Cell::Int(5)));
        assert!(f.parse(ColumnType::Int, b"5.5").is_err());
        assert_eq!(f.parse(ColumnType::Bool, b"Yes"), Ok(Cell::Bool(true)));
        assert_eq!(f.parse(ColumnType::Bool, b"0"), Ok(Cell::Bool(false)));
        assert_eq!(f.parse(ColumnType::Int, b""), Ok(Cell::Null));
        assert!(f.parse(ColumnType::Date, b"31.01.2025").is_err());
        assert_eq!(parse_int(b"-9223372036854775808", true), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775808", true), None);
    }
}
