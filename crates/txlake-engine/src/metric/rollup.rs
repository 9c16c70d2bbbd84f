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

use datafusion::common::TableReference;
use datafusion::functions::datetime::expr_fn::date_trunc;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionContext, lit};

use super::definition::{MetricDef, MetricKind};
use super::request::column;
use crate::error::Result;

/// Microseconds in a day: the rollup's time resolution.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// The plan of `def`'s rollup over `metrics.<name>`: the time column truncated to the day and
/// every dimension as groups, each base measure aggregated under its own name. `None` for a
/// table metric or one with a measure that does not re-aggregate.
pub(crate) async fn plan(ctx: &SessionContext, def: &MetricDef) -> Result<Option<LogicalPlan>> {
    if def.kind != MetricKind::Aggregate {
        return Ok(None);
    }
    let mut aggregates = Vec::new();
    for measure in &def.measures {
        if measure.aggregation.again().is_none() {
            return Ok(None);
        }
        aggregates.push(measure.aggregation.of(column(&measure.name)).alias(&measure.name));
    }
    let mut groups = Vec::new();
    if let Some(time) = &def.time {
        groups.push(date_trunc(lit("day"), column(time)).alias(time));
    }
    groups.extend(def.dimensions.iter().map(|d| column(d)));
    let frame = ctx.table(TableReference::partial("metrics", def.name.as_str())).await?;
    Ok(Some(frame.aggregate(groups, aggregates)?.logical_plan().clone()))
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
