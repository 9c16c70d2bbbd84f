//! Turns a metric request into one query over the metric's view (or its rollup).

use std::sync::Arc;

use arrow::datatypes::DataType;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::functions::datetime::expr_fn::date_trunc;
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, lit};

use super::definition::{Grain, MetricDef, MetricKind};
use super::rollup;
use crate::error::{EngineError, Result};

/// One result column to order by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrderBy {
    /// The column.
    pub column: String,
    /// Largest first.
    pub descending: bool,
}

impl OrderBy {
    /// Parses `nps`, `nps desc`, `nps asc` or `-nps`.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if let Some(column) = text.strip_prefix('-') {
            return Self { column: column.trim().to_string(), descending: true };
        }
        match text.rsplit_once(' ') {
            Some((column, direction)) if direction.eq_ignore_ascii_case("desc") => {
                Self { column: column.trim().to_string(), descending: true }
            }
            Some((column, direction)) if direction.eq_ignore_ascii_case("asc") => {
                Self { column: column.trim().to_string(), descending: false }
            }
            _ => Self { column: text.to_string(), descending: false },
        }
    }
}

/// What a client asks of a metric.
#[derive(Debug, Clone, Default)]
pub struct MetricRequest {
    /// Dimensions to group by.
    pub group_by: Vec<String>,
    /// Time grain to group by (adds a `period` column).
    pub grain: Option<Grain>,
    /// Earliest time, inclusive: `YYYY-MM-DD` or RFC 3339.
    pub from: Option<String>,
    /// Latest time: a date is inclusive (the whole day), a timestamp exclusive.
    pub to: Option<String>,
    /// Dimension filters: the column equals one of the values.
    pub filters: Vec<(String, Vec<String>)>,
    /// Ordering; default: period, then the grouped dimensions.
    pub order_by: Vec<OrderBy>,
    /// Rows at most.
    pub limit: Option<usize>,
    /// Rows to skip.
    pub offset: usize,
}

pub(super) fn column(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

fn timestamp(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into())))
}

/// Parses a `from`/`to` value into UTC microseconds; `end` makes a date cover its whole day.
fn parse_time(parameter: &str, value: &str, end: bool) -> Result<i64> {
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let date = if end { date + Duration::days(1) } else { date };
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_micros());
    }
    DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc).timestamp_micros()).map_err(|_| {
        EngineError::InvalidParameter {
            parameter: parameter.into(),
            value: value.into(),
            expected: "a date YYYY-MM-DD or an RFC 3339 timestamp such as 2025-03-01T00:00:00Z".into(),
        }
    })
}

fn check_dimension(def: &MetricDef, name: &str) -> Result<()> {
    if def.dimensions.iter().any(|d| d == name) {
        Ok(())
    } else {
        Err(EngineError::UnknownDimension {
            metric: def.name.clone(),
            name: name.to_string(),
            is_measure: def.is_measure(name),
            available: def.dimensions.clone(),
        })
    }
}

/// Builds the query answering `request` over `metrics.<name>`, or over the metric's `rollup`
/// (see [`super::rollup`]) when it answers the request exactly.
pub(crate) async fn compose(
    ctx: &SessionContext,
    def: &MetricDef,
    request: &MetricRequest,
    rollup: Option<Arc<dyn TableProvider>>,
) -> Result<DataFrame> {
    let from = request.from.as_deref().map(|value| parse_time("from", value, false)).transpose()?;
    let to = request.to.as_deref().map(|value| parse_time("to", value, true)).transpose()?;
    let rollup = rollup.filter(|_| {
        def.kind == MetricKind::Aggregate
            && from.is_none_or(rollup::on_day_boundary)
            && to.is_none_or(rollup::on_day_boundary)
    });
    let mut frame = match &rollup {
        Some(rows) => ctx.read_table(rows.clone())?,
        None => ctx.table(TableReference::partial("metrics", def.name.as_str())).await?,
    };

    for (dimension, values) in &request.filters {
        check_dimension(def, dimension)?;
        let value = cast(column(dimension), DataType::Utf8);
        let condition = match values.as_slice() {
            [one] => value.eq(lit(one.clone())),
            many => value.in_list(many.iter().map(|v| lit(v.clone())).collect(), false),
        };
        frame = frame.filter(condition)?;
    }

    let needs_time = request.from.is_some() || request.to.is_some() || request.grain.is_some();
    let time = match (&def.time, needs_time) {
        (Some(time), _) => Some(time.as_str()),
        (None, true) => {
            return Err(EngineError::InvalidParameter {
                parameter: if request.grain.is_some() { "grain" } else { "from/to" }.into(),
                value: request
                    .grain
                    .map(|g| g.to_string())
                    .or(request.from.clone())
                    .or(request.to.clone())
                    .unwrap_or_default(),
                expected: format!("nothing: metric `{}` has no time column", def.name),
            });
        }
        (None, false) => None,
    };
    if let (Some(time), Some(from)) = (time, from) {
        frame = frame.filter(column(time).gt_eq(timestamp(from)))?;
    }
    if let (Some(time), Some(to)) = (time, to) {
        frame = frame.filter(column(time).lt(timestamp(to)))?;
    }

    let mut default_order = Vec::new();
    match def.kind {
        MetricKind::Table => {
            if !request.group_by.is_empty() || request.grain.is_some() {
                return Err(EngineError::InvalidParameter {
                    parameter: if request.grain.is_some() { "grain" } else { "group_by" }.into(),
                    value: request.group_by.join(","),
                    expected: format!(
                        "nothing: `{}` is a table metric, returned as it is (filter it instead)",
                        def.name
                    ),
                });
            }
        }
        MetricKind::Aggregate => {
            let mut groups = Vec::new();
            if let (Some(time), Some(grain)) = (time, request.grain) {
                groups.push(date_trunc(lit(grain.as_str()), column(time)).alias("period"));
                default_order.push("period".to_string());
            }
            for dimension in &request.group_by {
                check_dimension(def, dimension)?;
                groups.push(column(dimension));
                default_order.push(dimension.clone());
            }
            let aggregates: Vec<Expr> = def
                .measures
                .iter()
                .map(|m| {
                    // Over the rollup, a measure is aggregated again (its rollup has none that
                    // cannot be); over the view, as its header says.
                    let aggregation = if rollup.is_some() { m.aggregation.again() } else { None };
                    aggregation.unwrap_or(m.aggregation).of(column(&m.name)).alias(&m.name)
                })
                .collect();
            frame = frame.aggregate(groups, aggregates)?;
            for derived in &def.derived {
                let expression = frame.parse_sql_expr(&derived.expression).map_err(|e| {
                    EngineError::file(&def.file, derived.line, format!("derived `{}`: {e}", derived.name))
                })?;
                frame = frame.with_column(&derived.name, expression)?;
            }
            if let Some(min_group) = def.min_group {
                frame = frame.filter(column(&def.min_group_measure).gt_eq(lit(min_group as i64)))?;
            }
        }
    }

    let order = if !request.order_by.is_empty() {
        request.order_by.clone()
    } else if !def.order_by.is_empty()
        && def.order_by.iter().all(|o| frame.schema().field_with_unqualified_name(&o.column).is_ok())
    {
        def.order_by.clone()
    } else {
        default_order.into_iter().map(|column| OrderBy { column, descending: false }).collect()
    };
    if !order.is_empty() {
        let columns: Vec<String> = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut sorts = Vec::new();
        for o in &order {
            if !columns.contains(&o.column) {
                return Err(EngineError::InvalidParameter {
                    parameter: "order_by".into(),
                    value: o.column.clone(),
                    expected: format!("one of the result columns: {}", columns.join(", ")),
                });
            }
            sorts.push(column(&o.column).sort(!o.descending, false));
        }
        frame = frame.sort(sorts)?;
    }
    if request.limit.is_some() || request.offset > 0 {
        frame = frame.limit(request.offset, request.limit)?;
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by_forms() {
        assert_eq!(OrderBy::parse("-nps"), OrderBy { column: "nps".into(), descending: true });
        assert_eq!(OrderBy::parse("nps DESC"), OrderBy { column: "nps".into(), descending: true });
        assert_eq!(OrderBy::parse("segment"), OrderBy { column: "segment".into(), descending: false });
    }

    #[test]
    fn dates_are_whole_days_and_bad_ones_say_the_format() {
        let from = parse_time("from", "2025-03-01", false).unwrap();
        let to = parse_time("to", "2025-03-01", true).unwrap();
        assert_eq!(to - from, 86_400_000_000);
        assert_eq!(parse_time("from", "2025-03-01T00:00:00Z", false).unwrap(), from);
        let err = parse_time("from", "01/03/2025", false).unwrap_err().to_string();
        assert!(err.contains("`from`") && err.contains("YYYY-MM-DD"), "{err}");
    }
}
