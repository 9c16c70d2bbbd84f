//! The metric catalog, a small semantic layer: each `sql/metrics/<name>.sql` defines a view
//! at its finest grain with additive base measures, and a header the engine parses
//! ([`MetricDef`]). A request ([`MetricRequest`]) becomes one query over that view that
//! groups by the asked dimensions and time grain, sums the base measures and computes the
//! derived measures from those sums. A metric marked `-- materialized: true` keeps a
//! [`rollup`] by dimensions × day in memory that answers most requests.

mod definition;
mod request;
pub(crate) mod rollup;

pub use definition::{Aggregation, Derived, Grain, Measure, MetricDef, MetricKind};
pub(crate) use request::compose;
pub use request::{MetricRequest, OrderBy};
