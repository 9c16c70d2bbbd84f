//! Cursor values of incremental streams: parsed from any of the manifest's formats into UTC
//! microseconds, written back in the format an API expects, and cut into window slices.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::manifest::CursorFormat;

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// Parses a cursor value written in `format`. Values that are plainly in another common
/// shape (an RFC 3339 text where unix seconds were declared) are accepted too, since a
/// saved state or a `start` setting may be written either way.
pub fn parse(value: &Value, format: &CursorFormat) -> Option<Micros> {
    match value {
        Value::Number(n) => {
            let n = n.as_f64()?;
            Some(match format {
                CursorFormat::UnixMillis => (n * 1_000.0) as Micros,
                _ => (n * 1_000_000.0) as Micros,
            })
        }
        Value::String(text) => parse_text(text, format),
        _ => None,
    }
}

/// Parses a cursor text written in `format` (or any of the common shapes).
pub fn parse_text(text: &str, format: &CursorFormat) -> Option<Micros> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let CursorFormat::Custom(pattern) = format {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, pattern) {
            return Some(t.and_utc().timestamp_micros());
        }
        if let Ok(t) = DateTime::parse_from_str(text, pattern) {
            return Some(t.timestamp_micros());
        }
        if let Ok(d) = NaiveDate::parse_from_str(text, pattern) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
        }
    }
    if let Ok(n) = text.parse::<f64>() {
        return parse(&Value::from(n), format);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for pattern in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, pattern) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(t.timestamp_micros());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

/// Writes a cursor value in `format`: a JSON number for unix formats, text otherwise.
pub fn format(micros: Micros, format: &CursorFormat) -> Value {
    match format {
        CursorFormat::UnixSeconds => Value::from(micros.div_euclid(1_000_000)),
        CursorFormat::UnixMillis => Value::from(micros.div_euclid(1_000)),
        other => Value::String(format_text(micros, other)),
    }
}

/// Writes a cursor value as text in `format`.
pub fn format_text(micros: Micros, format: &CursorFormat) -> String {
    let t = to_datetime(micros);
    match format {
        CursorFormat::Rfc3339 => rfc3339(micros),
        CursorFormat::UnixSeconds => micros.div_euclid(1_000_000).to_string(),
        CursorFormat::UnixMillis => micros.div_euclid(1_000).to_string(),
        CursorFormat::Date => t.format("%Y-%m-%d").to_string(),
        CursorFormat::Custom(pattern) => t.format(pattern).to_string(),
    }
}

/// RFC 3339 in UTC with a `Z`, with fractions only when there are some.
pub fn rfc3339(micros: Micros) -> String {
    let t = to_datetime(micros);
    if micros % 1_000_000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else if micros % 1_000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

fn to_datetime(micros: Micros) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

/// Now, in microseconds.
pub fn now() -> Micros {
    Utc::now().timestamp_micros()
}

/// A window of an incremental read: records with `start < cursor <= end` (the first window
/// of a first read includes `start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Where the window starts.
    pub start: Micros,
    /// Where it ends.
    pub end: Micros,
}

/// Cuts `[start, end]` into windows of `step` (one window without a step).
pub fn slices(start: Micros, end: Micros, step: Option<Duration>) -> Vec<Slice> {
    let Some(step) = step else { return vec![Slice { start, end }] };
    let step = (step.as_micros() as i64).max(1);
    let mut out = Vec::new();
    let mut from = start;
    loop {
        let to = from.saturating_add(step).min(end);
        out.push(Slice { start: from, end: to });
        if to >= end {
            break;
        }
        from = to;
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn formats_round_trip() {
        let t = parse(&json!("2024-05-01T12:30:00Z"), &CursorFormat::Rfc3339).unwrap();
        assert_eq!(format(t, &CursorFormat::UnixSeconds), json!(1_714_566_600));
        assert_eq!(format(t, &CursorFormat::UnixMillis), json!(1_714_566_600_000i64));
        assert_eq!(format(t, &CursorFormat::Date), json!("2024-05-01"));
        assert_eq!(format(t, &CursorFormat::Custom("%Y-%m-%d %H:%M".into())), json!("2024-05-01 12:30"));
        assert_eq!(parse(&json!(1_714_566_600), &CursorFormat::UnixSeconds), Some(t));
        assert_eq!(parse(&json!("1714566600000"), &CursorFormat::UnixMillis), Some(t));
        assert_eq!(parse(&json!("2024-05-01T14:30:00+02:00"), &CursorFormat::Rfc3339), Some(t));
        assert_eq!(parse(&json!("2024-05-01 12:30:00"), &CursorFormat::Custom("%Y-%m-%d %H:%M:%S".into())), Some(t));
        assert_eq!(
            parse_text("2024-05-01", &CursorFormat::Date),
            parse_text("2024-05-01T00:00:00Z", &CursorFormat::Rfc3339)
        );
        assert_eq!(rfc3339(t + 5_000), "2024-05-01T12:30:00.005Z");
        assert_eq!(parse(&json!(null), &CursorFormat::Rfc3339), None);
        assert_eq!(parse(&json!("soon"), &CursorFormat::Rfc3339), None);
    }

    #[test]
    fn slices_cover_the_range_without_gaps() {
        let day = 86_400_000_000;
        let s = slices(0, 10 * day + 5, Some(Duration::from_secs(3 * 86_400)));
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], Slice { start: 0, end: 3 * day });
        assert!(s.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(s.last().unwrap().end, 10 * day + 5);
        assert_eq!(slices(5, 9, None), vec![Slice { start: 5, end: 9 }]);
    }
}
