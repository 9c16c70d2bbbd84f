//! `$apply` on metric entity sets (OData Data Aggregation Extension, the subset BI tools
//! send): `groupby((dimensions…))`, `groupby((dimensions…),aggregate(measures…))` and
//! `aggregate(measures…)`. The grouping is the semantic layer's, not a SUM over the set's
//! rows: base measures are summed from the metric's rows and every ratio is computed from
//! those sums, so `nps` by segment is the NPS of the segment, never a sum or mean of monthly
//! NPS values. `period` in the grouping groups by month. A measure is named as it is
//! (`aggregate(nps)`) or, for a summed base measure, `responses with sum as n`.

use super::error::ODataError;
use super::options::is_identifier;

/// A measure in `aggregate(…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// The metric's measure (base or derived).
    pub measure: String,
    /// The name of the result column.
    pub alias: String,
    /// `with sum` was written (valid only for summed base measures).
    pub with_sum: bool,
}

/// A parsed `$apply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Apply {
    /// The grouping properties (dimensions, `period`).
    pub group_by: Vec<String>,
    /// The measures; empty for `groupby` alone (the distinct groups).
    pub aggregates: Vec<Aggregate>,
}

/// Parses `$apply`; transformations other than `groupby` and `aggregate` are a 501.
pub fn parse_apply(text: &str) -> Result<Apply, ODataError> {
    let text = text.trim();
    let bad = |message: String| ODataError::bad_option("$apply", format!("`$apply={text}`: {message}"));
    if text.contains('/') {
        return Err(ODataError::not_implemented(
            "$apply",
            "chained $apply transformations (`…/…`) are not implemented; send one groupby or aggregate and filter the result with $filter",
        ));
    }
    let (name, inner) = call(text).ok_or_else(|| bad("expected groupby(…) or aggregate(…)".into()))?;
    match name {
        "aggregate" => Ok(Apply { group_by: Vec::new(), aggregates: aggregates(inner).map_err(bad)? }),
        "groupby" => {
            let parts = split_top(inner);
            let grouping = parts.first().map(|p| p.trim()).unwrap_or("");
            let list = grouping
                .strip_prefix('(')
                .and_then(|g| g.strip_suffix(')'))
                .ok_or_else(|| bad("groupby's first argument is a parenthesised list of properties".into()))?;
            let group_by: Vec<String> = list.split(',').map(|p| p.trim().to_string()).collect();
            if group_by.iter().any(|p| !is_identifier(p)) {
                return Err(bad(format!("`({list})` must list properties separated by commas")));
            }
            let aggregates = match parts.get(1).map(|p| p.trim()) {
                None => Vec::new(),
                Some(second) => match call(second) {
                    Some(("aggregate", inner)) => aggregates(inner).map_err(bad)?,
                    Some((other, _)) => {
                        return Err(ODataError::not_implemented(
                            "$apply",
                            format!("`{other}` inside groupby is not implemented; use aggregate(…)"),
                        ));
                    }
                    None => return Err(bad(format!("`{second}`: expected aggregate(…)"))),
                },
            };
            if parts.len() > 2 {
                return Err(bad("groupby takes a property list and at most one aggregate(…)".into()));
            }
            Ok(Apply { group_by, aggregates })
        }
        other => Err(ODataError::not_implemented(
            "$apply",
            format!("the $apply transformation `{other}` is not implemented; supported: groupby, aggregate"),
        )),
    }
}

/// `name(inner)` → (name, inner), if the text is one call.
fn call(text: &str) -> Option<(&str, &str)> {
    let open = text.find('(')?;
    let name = text[..open].trim();
    let inner = text[open + 1..].strip_suffix(')')?;
    is_identifier(name).then_some((name, inner))
}

/// Splits on commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0i32, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn aggregates(text: &str) -> Result<Vec<Aggregate>, String> {
    let mut out = Vec::new();
    for item in split_top(text) {
        let words: Vec<&str> = item.split_whitespace().collect();
        let aggregate = match words.as_slice() {
            [measure] => Aggregate { measure: measure.to_string(), alias: measure.to_string(), with_sum: false },
            [measure, "with", "sum", "as", alias] => {
                Aggregate { measure: measure.to_string(), alias: alias.to_string(), with_sum: true }
            }
            [_, "with", _, "as", _] => {
                return Err(format!(
                    "`{}`: only `with sum` is supported (ratios come from the metric's own definition: aggregate(nps))",
                    item.trim()
                ));
            }
            _ => return Err(format!("`{}`: expected `measure` or `measure with sum as alias`", item.trim())),
        };
        if !is_identifier(&aggregate.measure) || !is_identifier(&aggregate.alias) {
            return Err(format!("`{}` is not a measure name", item.trim()));
        }
        out.push(aggregate);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groupby_and_aggregate_parse() {
        assert_eq!(
            parse_apply("groupby((segment, period))").unwrap(),
            Apply { group_by: vec!["segment".into(), "period".into()], aggregates: vec![] }
        );
        let apply = parse_apply("groupby((segment),aggregate(nps,responses with sum as n))").unwrap();
        assert_eq!(apply.group_by, ["segment"]);
        assert_eq!(
            apply.aggregates,
            [
                Aggregate { measure: "nps".into(), alias: "nps".into(), with_sum: false },
                Aggregate { measure: "responses".into(), alias: "n".into(), with_sum: true },
            ]
        );
        assert_eq!(parse_apply("aggregate(nps)").unwrap().group_by, Vec::<String>::new());
    }

    #[test]
    fn other_transformations_are_501_and_malformed_ones_400() {
        for (text, status) in [
            ("filter(segment eq 'smb')/groupby((segment))", 501),
            ("topcount(5,nps)", 501),
            ("groupby((segment),topcount(3,nps))", 501),
            ("groupby(segment)", 400),
            ("groupby((segment),aggregate(nps with average as x))", 400),
            ("groupby((1a))", 400),
            ("nonsense", 400),
        ] {
            assert_eq!(parse_apply(text).unwrap_err().status.as_u16(), status, "{text}");
        }
    }
}
