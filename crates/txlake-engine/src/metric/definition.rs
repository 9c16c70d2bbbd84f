//! A metric's definition: the header block of its SQL file, parsed and checked.
//!
//! ```sql
//! -- name: nps
//! -- title: Net Promoter Score
//! -- description: % promoters (9–10) minus % detractors (0–6) among customer NPS answers.
//! -- kind: aggregate
//! -- time: answered_at
//! -- dimensions: segment, touchpoint, channel
//! -- measures: responses:sum, promoters:sum, passives:sum, detractors:sum
//! -- derived: nps = 100.0 * (promoters - detractors) / responses
//! -- min_group: 1
//! -- min_group_measure: responses
//! CREATE VIEW metrics.nps AS SELECT …
//! ```

use std::fmt;

use datafusion::prelude::Expr;
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::sources::SqlFile;

/// Whether a metric re-aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Base measures summed over any grouping; derived measures computed from the sums.
    Aggregate,
    /// Rows returned as they are, filtered but not re-aggregated.
    Table,
}

/// How a base measure aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Sum (additive).
    Sum,
    /// Count of non-null values.
    Count,
    /// Count of distinct values. Not additive: it is counted afresh for each group, which is
    /// what anonymity thresholds need (distinct respondents, not answers).
    CountDistinct,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
}

impl Aggregation {
    /// The name used in metric headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
            Aggregation::CountDistinct => "count_distinct",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
        }
    }

    /// This aggregation of `value`, as a DataFusion aggregate expression.
    pub(crate) fn of(self, value: Expr) -> Expr {
        use datafusion::functions_aggregate::expr_fn::{count, count_distinct, max, min, sum};
        match self {
            Aggregation::Sum => sum(value),
            Aggregation::Count => count(value),
            Aggregation::CountDistinct => count_distinct(value),
            Aggregation::Min => min(value),
            Aggregation::Max => max(value),
        }
    }

    /// How values already aggregated this way are aggregated again (a sum of sums, a sum of
    /// counts, a minimum of minima); `None` for `count_distinct`, which does not re-aggregate.
    pub(crate) fn again(self) -> Option<Aggregation> {
        match self {
            Aggregation::Sum | Aggregation::Count => Some(Aggregation::Sum),
            Aggregation::Min => Some(Aggregation::Min),
            Aggregation::Max => Some(Aggregation::Max),
            Aggregation::CountDistinct => None,
        }
    }
}

/// A base measure of the metric view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measure {
    /// Column of the view.
    pub name: String,
    /// How it aggregates.
    pub aggregation: Aggregation,
}

/// A measure computed from the aggregated base measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Derived {
    /// Its name in results.
    pub name: String,
    /// A SQL expression over base measures and earlier derived measures.
    pub expression: String,
    /// Line in the file, for errors.
    #[serde(skip)]
    pub line: usize,
}

/// Time grains a metric can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    /// Calendar day.
    Day,
    /// ISO week (starting Monday).
    Week,
    /// Calendar month.
    Month,
    /// Calendar quarter.
    Quarter,
    /// Calendar year.
    Year,
}

impl Grain {
    /// All grains by name.
    pub const NAMES: [&'static str; 5] = ["day", "week", "month", "quarter", "year"];

    /// Parses a grain name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "day" => Grain::Day,
            "week" => Grain::Week,
            "month" => Grain::Month,
            "quarter" => Grain::Quarter,
            "year" => Grain::Year,
            _ => return None,
        })
    }

    /// The name `date_trunc` takes.
    pub fn as_str(self) -> &'static str {
        Grain::NAMES[self as usize]
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric of the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct MetricDef {
    /// Name (= file name): `metrics.<name>` in SQL.
    pub name: String,
    /// Human title.
    pub title: String,
    /// What it measures and how (the formula in words).
    pub description: String,
    /// Aggregate or table.
    pub kind: MetricKind,
    /// The time column `from`/`to` and grains apply to.
    pub time: Option<String>,
    /// Columns a request may group and filter by.
    pub dimensions: Vec<String>,
    /// Base measures.
    pub measures: Vec<Measure>,
    /// Derived measures, in evaluation order.
    pub derived: Vec<Derived>,
    /// Groups whose `min_group_measure` is below this are suppressed.
    pub min_group: Option<u64>,
    /// The measure counted against `min_group` (default `responses`).
    pub min_group_measure: String,
    /// Result ordering when a request gives none (`-- order_by: customers desc, path`).
    pub order_by: Vec<super::OrderBy>,
    /// Whether the metric is computed once per lake version (`-- materialized: true`): an
    /// aggregate metric as its rollup by dimensions × day, which requests re-aggregate from
    /// memory; a table metric (or one with a `count_distinct` measure) as its rows.
    pub materialized: bool,
    /// Source file.
    pub file: String,
    /// The SQL after the header (a `CREATE VIEW metrics.<name> AS …`).
    #[serde(skip)]
    pub body: String,
}

impl MetricDef {
    /// Parses the header of a metric file; errors name the file and line.
    pub fn parse(file: &SqlFile) -> Result<Self> {
        let mut def = MetricDef {
            name: String::new(),
            title: String::new(),
            description: String::new(),
            kind: MetricKind::Aggregate,
            time: None,
            dimensions: Vec::new(),
            measures: Vec::new(),
            derived: Vec::new(),
            min_group: None,
            min_group_measure: "responses".into(),
            order_by: Vec::new(),
            materialized: false,
            file: file.path.clone(),
            body: String::new(),
        };
        let error = |line: usize, message: String| EngineError::file(&file.path, line, message);
        let mut last_key = String::new();
        let mut body_start = None;
        for (index, raw) in file.text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let Some(comment) = trimmed.strip_prefix("--") else {
                body_start = Some(index);
                break;
            };
            let comment = comment.trim();
            let Some((key, value)) = comment.split_once(':').filter(|(k, _)| is_key(k)) else {
                // A continuation of a free-text value, or a plain comment inside the header.
                if matches!(last_key.as_str(), "description" | "formula") && !comment.is_empty() {
                    def.description.push(' ');
                    def.description.push_str(comment);
                }
                continue;
            };
            let key = key.trim();
            let value = value.trim();
            last_key = key.to_string();
            match key {
                "name" => def.name = value.to_string(),
                "title" => def.title = value.to_string(),
                "description" | "formula" => {
                    if !def.description.is_empty() {
                        def.description.push(' ');
                    }
                    def.description.push_str(value);
                }
                "kind" => {
                    def.kind = match value {
                        "aggregate" => MetricKind::Aggregate,
                        "table" => MetricKind::Table,
                        other => return Err(error(line, format!("kind `{other}` is not `aggregate` or `table`"))),
                    }
                }
                "time" => def.time = Some(value.to_string()),
                "dimensions" => def.dimensions = list(value),
                "measures" => {
                    for item in list(value) {
                        let (name, aggregation) = item.split_once(':').unwrap_or((&item, "sum"));
                        let aggregation = match aggregation.trim() {
                            "sum" => Aggregation::Sum,
                            "count" => Aggregation::Count,
                            "count_distinct" => Aggregation::CountDistinct,
                            "min" => Aggregation::Min,
                            "max" => Aggregation::Max,
                            other => {
                                return Err(error(
                                    line,
                                    format!(
                                        "measure `{name}` has aggregation `{other}`; use sum, count, count_distinct, min or max"
                                    ),
                                ));
                            }
                        };
                        def.measures.push(Measure { name: name.trim().to_string(), aggregation });
                    }
                }
                "derived" => {
                    let Some((name, expression)) = value.split_once('=') else {
                        return Err(error(line, format!("derived `{value}` must read `name = expression`")));
                    };
                    def.derived.push(Derived {
                        name: name.trim().to_string(),
                        expression: expression.trim().to_string(),
                        line,
                    });
                }
                "min_group" => {
                    def.min_group = Some(value.parse().map_err(|_| {
                        error(line, format!("min_group `{value}` must be a whole number of respondents"))
                    })?)
                }
                "min_group_measure" => def.min_group_measure = value.to_string(),
                "order_by" => def.order_by = list(value).iter().map(|o| super::OrderBy::parse(o)).collect(),
                "materialized" => {
                    def.materialized = match value {
                        "true" => true,
                        "false" => false,
                        other => return Err(error(line, format!("materialized `{other}` must be `true` or `false`"))),
                    }
                }
                other => {
                    return Err(error(
                        line,
                        format!(
                            "unknown header key `{other}`; keys are name, title, description, formula, kind, time, dimensions, measures, derived, min_group, min_group_measure, order_by, materialized"
                        ),
                    ));
                }
            }
        }
        let Some(body_start) = body_start else {
            return Err(error(0, "the file has a header but no SQL after it".into()));
        };
        def.body = file.text.lines().skip(body_start).collect::<Vec<_>>().join("\n");
        if def.name.is_empty() {
            return Err(error(1, "the header has no `-- name:` line".into()));
        }
        if def.name != file.stem() {
            return Err(error(
                1,
                format!("the metric is named `{}` but its file is `{}.sql`; they must match", def.name, file.stem()),
            ));
        }
        if def.title.is_empty() {
            def.title = def.name.clone();
        }
        if def.kind == MetricKind::Aggregate && def.measures.is_empty() {
            return Err(error(1, "an aggregate metric needs `-- measures:` (e.g. responses:sum)".into()));
        }
        if def.min_group.is_some() && !def.measures.iter().any(|m| m.name == def.min_group_measure) {
            return Err(error(
                1,
                format!(
                    "min_group counts `{}`, which is not a measure; set `-- min_group_measure:`",
                    def.min_group_measure
                ),
            ));
        }
        Ok(def)
    }

    /// Every output column name a request may order by.
    pub fn output_columns(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.time.is_some() {
            names.push("period".to_string());
        }
        names.extend(self.dimensions.iter().cloned());
        names.extend(self.measures.iter().map(|m| m.name.clone()));
        names.extend(self.derived.iter().map(|d| d.name.clone()));
        names
    }

    /// Whether `name` is a measure (base or derived).
    pub fn is_measure(&self, name: &str) -> bool {
        self.measures.iter().any(|m| m.name == name) || self.derived.iter().any(|d| d.name == name)
    }
}

fn is_key(key: &str) -> bool {
    let key = key.trim();
    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SqlFile {
        SqlFile { path: path.into(), text: text.into() }
    }

    const NPS: &str = "-- name: nps\n-- title: Net Promoter Score\n-- description: % promoters minus\n--   % detractors.\n-- kind: aggregate\n-- time: answered_at\n-- dimensions: segment, touchpoint\n-- measures: responses:sum, promoters:sum, detractors\n-- derived: nps = 100.0 * (promoters - detractors) / responses\n-- min_group: 1\nCREATE VIEW metrics.nps AS\nSELECT 1";

    #[test]
    fn a_full_header_parses() {
        let def = MetricDef::parse(&file("sql/metrics/nps.sql", NPS)).unwrap();
        assert_eq!(def.name, "nps");
        assert_eq!(def.description, "% promoters minus % detractors.");
        assert_eq!(def.dimensions, ["segment", "touchpoint"]);
        assert_eq!(def.measures[2], Measure { name: "detractors".into(), aggregation: Aggregation::Sum });
        assert_eq!(def.derived[0].expression, "100.0 * (promoters - detractors) / responses");
        assert_eq!(def.derived[0].line, 9);
        assert_eq!(def.min_group, Some(1));
        assert!(def.body.starts_with("CREATE VIEW metrics.nps"));
        assert_eq!(def.output_columns()[0], "period");
    }

    #[test]
    fn broken_headers_name_file_and_line() {
        let err = MetricDef::parse(&file("sql/metrics/nps.sql", &NPS.replace("kind: aggregate", "kind: average")))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("sql/metrics/nps.sql:5:") && err.contains("average"), "{err}");
        let err = MetricDef::parse(&file("sql/metrics/nps.sql", &NPS.replace("responses:sum", "responses:median")))
            .unwrap_err()
            .to_string();
        assert!(err.contains(":8:") && err.contains("median"), "{err}");
        let err = MetricDef::parse(&file("sql/metrics/csat.sql", NPS)).unwrap_err().to_string();
        assert!(err.contains("csat.sql") && err.contains("must match"), "{err}");
        let err = MetricDef::parse(&file("sql/metrics/nps.sql", &NPS.replace("-- time:", "-- tiem:")))
            .unwrap_err()
            .to_string();
        assert!(err.contains(":6:") && err.contains("tiem"), "{err}");
        let err = MetricDef::parse(&file("sql/metrics/nps.sql", "-- name: nps\n")).unwrap_err().to_string();
        assert!(err.contains("no SQL"), "{err}");
    }
}
