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
    if let CursorFormat::Custom(pattern) = format
        && let Some(at) = parse_pattern(text, pattern)
    {
        return Some(at);
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

/// Parses a cursor text with one of `formats` (in order), then with `format` (or any of the
/// common shapes): Airbyte's `cursor_datetime_formats` before its `datetime_format`.
pub fn parse_text_any(text: &str, formats: &[CursorFormat], format: &CursorFormat) -> Option<Micros> {
    formats
        .iter()
        .find_map(|f| match f {
            CursorFormat::Custom(pattern) => parse_pattern(text.trim(), pattern),
            other => parse_text(text, other),
        })
        .or_else(|| parse_text(text, format))
}

/// Parses `text` with a strftime pattern of Python's meanings: Airbyte's whole-value
/// patterns (`%s`, `%s_as_float`, `%ms`, `%epoch_microseconds`), `%f` as up to six digits of
/// microseconds, `%z` accepting `Z`; a value without a zone is UTC.
fn parse_pattern(text: &str, pattern: &str) -> Option<Micros> {
    match pattern {
        "%s" => return text.parse::<i64>().ok()?.checked_mul(1_000_000),
        "%s_as_float" => return text.parse::<f64>().ok().map(|s| (s * 1e6).round() as Micros),
        "%ms" => return text.parse::<i64>().ok()?.checked_mul(1_000),
        "%epoch_microseconds" => return text.parse::<i64>().ok(),
        _ => {}
    }
    let chrono_pattern = chrono_pattern(pattern, true);
    // Python's `%z` takes `Z`; chrono's does not.
    let zoned;
    let text = if pattern.contains("%z") && text.ends_with('Z') {
        zoned = format!("{}+0000", &text[..text.len() - 1]);
        zoned.as_str()
    } else {
        text
    };
    // With a zone first: chrono's naive parse reads an offset and ignores it.
    if let Ok(t) = DateTime::parse_from_str(text, &chrono_pattern) {
        return Some(t.timestamp_micros());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, &chrono_pattern) {
        return Some(t.and_utc().timestamp_micros());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, &chrono_pattern) {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    None
}

/// A Python strftime pattern as chrono reads it: `%f` is microseconds (six digits when
/// writing; after a dot, any digits read as a fraction when parsing), Airbyte's `%_ms`
/// milliseconds.
fn chrono_pattern(pattern: &str, parsing: bool) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('f') => {
                chars.next();
                // Python reads one to six digits; chrono's `%.f` reads a dot and any digits.
                if parsing && out.ends_with('.') {
                    out.pop();
                    out.push_str("%.f");
                } else {
                    out.push_str("%6f");
                }
            }
            Some('_') => {
                // `%_ms`: three digits of milliseconds.
                let rest: String = chars.clone().take(3).collect();
                if rest == "_ms" {
                    chars.nth(2);
                    if parsing && out.ends_with('.') {
                        out.pop();
                        out.push_str("%.f");
                    } else {
                        out.push_str("%3f");
                    }
                } else {
                    out.push('%');
                }
            }
            Some(other) => {
                chars.next();
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
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
        CursorFormat::Custom(pattern) => match pattern.as_str() {
            "%s" => micros.div_euclid(1_000_000).to_string(),
            "%ms" => micros.div_euclid(1_000).to_string(),
            "%epoch_microseconds" => micros.to_string(),
            "%s_as_float" => format!("{:?}", micros as f64 / 1e6),
            _ => {
                use std::fmt::Write as _;
                let mut out = String::new();
                // A pattern chrono cannot write gives the RFC 3339 text rather than a panic.
                match write!(out, "{}", t.format(&chrono_pattern(pattern, false))) {
                    Ok(()) => out,
                    Err(_) => rfc3339(micros),
                }
            }
        },
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

/// Cuts `[start, end]` into windows as Airbyte's DatetimeBasedCursor does with a
/// `cursor_granularity`: a window runs from its start to the next window's start minus
/// `granularity` (capped at `end`), both bounds inclusive, and windows are cut while the
/// start is at or before `end`.
pub fn slices_with_granularity(
    start: Micros,
    end: Micros,
    step: Option<Duration>,
    granularity: Duration,
) -> Vec<Slice> {
    let granularity = granularity.as_micros() as i64;
    let Some(step) = step else {
        return if start <= end { vec![Slice { start, end }] } else { Vec::new() };
    };
    let step = (step.as_micros() as i64).max(1);
    let mut out = Vec::new();
    let mut from = start;
    while from <= end {
        let next = from.saturating_add(step);
        out.push(Slice { start: from, end: next.saturating_sub(granularity).min(end) });
        from = next;
    }
    out
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

    #[test]
    fn granular_windows_end_before_the_next_starts() {
        let day = 86_400_000_000;
        let s = slices_with_granularity(0, 3 * day - 1, Some(Duration::from_secs(86_400)), Duration::from_secs(1));
        assert_eq!(
            s,
            [
                Slice { start: 0, end: day - 1_000_000 },
                Slice { start: day, end: 2 * day - 1_000_000 },
                Slice { start: 2 * day, end: 3 * day - 1_000_000 },
            ]
        );
        // A start exactly at the end still reads one (inclusive) window, as Airbyte does.
        assert_eq!(slices_with_granularity(day, day, Some(Duration::from_secs(60)), Duration::from_secs(1)).len(), 1);
        assert!(slices_with_granularity(day, 0, Some(Duration::from_secs(60)), Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn python_strftime_patterns() {
        let t = parse_text("2024-05-01T12:30:00.123456Z", &CursorFormat::Rfc3339).unwrap();
        let f = |p: &str| format_text(t, &CursorFormat::Custom(p.into()));
        assert_eq!(f("%Y-%m-%dT%H:%M:%S.%fZ"), "2024-05-01T12:30:00.123456Z");
        assert_eq!(f("%Y-%m-%dT%H:%M:%S.%_msZ"), "2024-05-01T12:30:00.123Z");
        assert_eq!(f("%s"), "1714566600");
        assert_eq!(f("%ms"), "1714566600123");
        assert_eq!(f("%s_as_float"), "1714566600.123456");
        assert_eq!(f("%Y-%m-%dT%H:%M:%S%z"), "2024-05-01T12:30:00+0000");
        let p = |text: &str, pattern: &str| parse_text(text, &CursorFormat::Custom(pattern.into()));
        assert_eq!(p("2024-05-01T12:30:00.123456Z", "%Y-%m-%dT%H:%M:%S.%fZ"), Some(t));
        assert_eq!(p("2024-05-01T14:30:00.123456+02:00", "%Y-%m-%dT%H:%M:%S.%f%z"), Some(t));
        assert_eq!(p("2024-05-01T12:30:00.123456Z", "%Y-%m-%dT%H:%M:%S.%f%z"), Some(t));
        assert_eq!(p("1714566600", "%s"), Some(t - 123_456));
        assert_eq!(p("1714566600123", "%ms"), Some(t - 456));
        assert_eq!(p("1714566600.123456", "%s_as_float"), Some(t));
        let formats = [CursorFormat::Custom("%d/%m/%Y %H:%M".into()), CursorFormat::Custom("%s".into())];
        assert_eq!(parse_text_any("01/05/2024 12:30", &formats, &CursorFormat::Rfc3339), Some(t - 123_456));
        assert_eq!(parse_text_any("1714566600", &formats, &CursorFormat::Rfc3339), Some(t - 123_456));
        assert_eq!(parse_text_any("2024-05-01T12:30:00Z", &formats, &CursorFormat::Rfc3339), Some(t - 123_456));
    }
}
