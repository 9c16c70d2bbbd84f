//! The system query options of an entity set read (`$select`, `$filter`, `$orderby`, `$top`,
//! `$skip`, `$count`, `$skiptoken`), parsed from the query string. Options the feed does not
//! implement are refused with a 501 naming them, unknown ones with a 400: a client must never
//! get a result that silently ignored part of its question.

use super::error::ODataError;

/// Options OData defines that the feed does not implement.
const NOT_IMPLEMENTED: [&str; 7] =
    ["$expand", "$search", "$compute", "$levels", "$index", "$deltatoken", "$schemaversion"];

/// One `$orderby` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// The property.
    pub property: String,
    /// `desc`.
    pub descending: bool,
}

/// A read's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// `$select`: the properties, or `None` for all.
    pub select: Option<Vec<String>>,
    /// `$filter`, as given.
    pub filter: Option<String>,
    /// `$orderby`.
    pub orderby: Vec<OrderItem>,
    /// `$top`.
    pub top: Option<u64>,
    /// `$skip`.
    pub skip: u64,
    /// `$count=true`.
    pub count: bool,
    /// `$apply`, as given (metric sets only).
    pub apply: Option<String>,
    /// `$skiptoken`: where the previous page ended.
    pub skiptoken: Option<String>,
    /// Every parameter but `$skiptoken` and `api_key`, in order: what a next link repeats.
    pub kept: Vec<(String, String)>,
}

impl QueryOptions {
    /// Parses a query string.
    pub fn parse(query: Option<&str>) -> Result<Self, ODataError> {
        let mut options = QueryOptions::default();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let (name, value) = (name.into_owned(), value.into_owned());
            if name == "api_key" {
                continue;
            }
            if seen.contains(&name) {
                return Err(ODataError::bad_option(&name, format!("`{name}` is given twice; give it once")));
            }
            seen.push(name.clone());
            if name != "$skiptoken" {
                options.kept.push((name.clone(), value.clone()));
            }
            match name.as_str() {
                "$select" => options.select = Some(parse_select(&value)?),
                "$filter" => options.filter = Some(value),
                "$orderby" => options.orderby = parse_orderby(&value)?,
                "$top" => options.top = Some(whole_number("$top", &value)?),
                "$skip" => options.skip = whole_number("$skip", &value)?,
                "$count" => {
                    options.count = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ODataError::bad_option(
                                "$count",
                                format!("`$count={value}`: use true or false"),
                            ));
                        }
                    }
                }
                "$skiptoken" => options.skiptoken = Some(value),
                "$apply" => options.apply = Some(value),
                "$format" => {
                    let media = value.split(';').next().unwrap_or("").trim();
                    if media != "json" && media != "application/json" {
                        return Err(ODataError::not_implemented(
                            "$format",
                            format!(
                                "`$format={value}` is not implemented: the feed answers JSON only (`$format=json`)"
                            ),
                        ));
                    }
                }
                other if NOT_IMPLEMENTED.contains(&other) => {
                    return Err(ODataError::not_implemented(
                        other,
                        format!(
                            "the query option `{other}` is not implemented by this feed; supported: $select, $filter, $orderby, $top, $skip, $count, $apply (metric sets)"
                        ),
                    ));
                }
                other if other.starts_with('$') => {
                    return Err(ODataError::bad_option(
                        other,
                        format!(
                            "unknown system query option `{other}`; supported: $select, $filter, $orderby, $top, $skip, $count, $skiptoken, $format"
                        ),
                    ));
                }
                // Custom query options (no `$`) are the service's to define; none are, so they
                // are left alone, as OData asks.
                _ => {}
            }
        }
        Ok(options)
    }
}

fn whole_number(option: &str, value: &str) -> Result<u64, ODataError> {
    value
        .parse::<u64>()
        .map_err(|_| ODataError::bad_option(option, format!("`{option}={value}`: expected a whole number ≥ 0")))
}

fn parse_select(value: &str) -> Result<Vec<String>, ODataError> {
    let mut properties = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item == "*" {
            continue;
        }
        if !is_identifier(item) {
            return Err(ODataError::bad_option(
                "$select",
                format!("`$select={value}`: `{item}` is not a property name; list properties separated by commas"),
            ));
        }
        properties.push(item.to_string());
    }
    Ok(properties)
}

fn parse_orderby(value: &str) -> Result<Vec<OrderItem>, ODataError> {
    let mut items = Vec::new();
    for item in value.split(',') {
        let mut words = item.split_whitespace();
        let property = words.next().unwrap_or("");
        let descending = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ODataError::bad_option(
                    "$orderby",
                    format!("`$orderby={value}`: `{other}` after `{property}` must be asc or desc"),
                ));
            }
        };
        if !is_identifier(property) || words.next().is_some() {
            return Err(ODataError::bad_option(
                "$orderby",
                format!(
                    "`$orderby={value}`: expected `property [asc|desc]` items separated by commas; only properties can be ordered by"
                ),
            ));
        }
        items.push(OrderItem { property: property.to_string(), descending });
    }
    Ok(items)
}

/// Whether `text` is an OData simple identifier (a property or measure name).
pub(super) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_the_key_and_token_are_not_kept() {
        let options = QueryOptions::parse(Some(
            "$select=a,%20b&$filter=a%20eq%201&$orderby=a%20desc,b&$top=10&$skip=5&$count=true&$skiptoken=xyz&api_key=secret&x=1",
        ))
        .unwrap();
        assert_eq!(options.select, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(options.filter.as_deref(), Some("a eq 1"));
        assert_eq!(
            options.orderby,
            [
                OrderItem { property: "a".into(), descending: true },
                OrderItem { property: "b".into(), descending: false }
            ]
        );
        assert_eq!((options.top, options.skip, options.count), (Some(10), 5, true));
        assert_eq!(options.skiptoken.as_deref(), Some("xyz"));
        let kept: Vec<&str> = options.kept.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(kept, ["$select", "$filter", "$orderby", "$top", "$skip", "$count", "x"]);
    }

    #[test]
    fn unsupported_options_are_501_and_malformed_ones_400() {
        for (query, status, target) in [
            ("$expand=customer", 501, "$expand"),
            ("$format=xml", 501, "$format"),
            ("$top=-1", 400, "$top"),
            ("$top=ten", 400, "$top"),
            ("$count=yes", 400, "$count"),
            ("$orderby=a%20sideways", 400, "$orderby"),
            ("$orderby=year(a)", 400, "$orderby"),
            ("$select=a,1b", 400, "$select"),
            ("$bogus=1", 400, "$bogus"),
            ("$top=1&$top=2", 400, "$top"),
        ] {
            let err = QueryOptions::parse(Some(query)).unwrap_err();
            assert_eq!((err.status.as_u16(), err.target.as_deref()), (status, Some(target)), "{query}: {err}");
        }
    }
}
