//! A metric's rollup: its base rows pre-aggregated by every dimension and by day.
//!
//! Every request of an aggregate metric groups by some of its dimensions and a grain of a day
//! or coarser, and filters on dimensions and on whole days. All of those are answered exactly
//! from the base measures already summed per (dimensions, day): a sum of sums is the sum, a
//! count is the sum of counts, a minimum the minimum of minima. So an aggregate metric marked
//! `-- materialized: true` keeps that rollup in memory ([`crate::MaterializedView`]), a few
//! hundred thousand rows where the base view reads millions, and requests re-aggregate it.
//! Requests it cannot answer exactly (a `from`/`to` inside a day) read the base view, as do
//! metrics with a `count_distinct` measure, which does not re-aggregate.

use datafusion::common::{Column, TableReference};
use datafusion::functions::datetime::expr_fn::date_trunc;
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{Expr, SessionContext, lit};

use super::definition::{Aggregation, MetricDef, MetricKind};
use crate::error::Result;

/// Microseconds in a day: the rollup's time resolution.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

fn column(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

/// How a measure is rolled up, then re-aggregated by a request over the rollup; `None` for
/// `count_distinct`, which does not re-aggregate.
fn stages(aggregation: Aggregation) -> Option<(fn(Expr) -> Expr, fn(Expr) -> Expr)> {
    match aggregation {
        Aggregation::Sum => Some((sum, sum)),
        Aggregation::Count => Some((count, sum)),
        Aggregation::Min => Some((min, min)),
        Aggregation::Max => Some((max, max)),
        Aggregation::CountDistinct => None,
    }
}

/// The plan of `def`'s rollup over `metrics.<name>`: the time column truncated to the day and
/// every dimension as groups, each base measure aggregated under its own name. `None` for a
/// table metric or one with a measure that does not re-aggregate.
pub(crate) async fn plan(ctx: &SessionContext, def: &MetricDef) -> Result<Option<LogicalPlan>> {
    if def.kind != MetricKind::Aggregate {
        return Ok(None);
    }
    let mut aggregates = Vec::new();
    for measure in &def.measures {
        let Some((roll_up, _)) = stages(measure.aggregation) else { return Ok(None) };
        aggregates.push(roll_up(column(&measure.name)).alias(&measure.name));
    }
    let mut groups = Vec::new();
    if let Some(time) = &def.time {
        groups.push(date_trunc(lit("day"), column(time)).alias(time));
    }
    groups.extend(def.dimensions.iter().map(|d| column(d)));
    let frame = ctx.table(TableReference::partial("metrics", def.name.as_str())).await?;
    Ok(Some(frame.aggregate(groups, aggregates)?.logical_plan().clone()))
}

/// The aggregate of a request over the rollup for a measure of this aggregation, or `None`
/// where the rollup cannot answer it.
pub(crate) fn reaggregate(aggregation: Aggregation, value: Expr) -> Option<Expr> {
    stages(aggregation).map(|(_, again)| again(value))
}

/// Whether a `from`/`to` bound (UTC microseconds) falls on a day boundary, where the rollup
/// answers exactly.
pub(crate) fn on_day_boundary(micros: i64) -> bool {
    micros.rem_euclid(DAY_MICROS) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_midnights_are_day_boundaries() {
        assert!(on_day_boundary(0));
        assert!(on_day_boundary(20_000 * DAY_MICROS));
        assert!(on_day_boundary(-3 * DAY_MICROS));
        assert!(!on_day_boundary(20_000 * DAY_MICROS + 1));
        assert!(!on_day_boundary(-1));
    }
}
