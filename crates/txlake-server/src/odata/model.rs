//! The feed's entity data model: one entity set per canonical view (`tx.customers` →
//! `customers`, keyed and related as its contract header says) and one per metric at its
//! default grouping (`nps` → `metric_nps`: every dimension, by month where it has a time;
//! key = the dimensions and `period`).
//!
//! The model is built from the engine when the feed is first asked for it, and again after the
//! engine reloads; every request reads the same [`EntitySet`] that `$metadata` describes, so
//! what a client is told and what it gets cannot drift.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::{Column, ScalarValue};
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, coalesce, lit};
use txlake_engine::metric::Aggregation;
use txlake_engine::{Engine, Grain, MetricKind, MetricRequest};

use super::apply::Apply;
use super::error::ODataError;
use crate::api::engine_error;
use crate::error::ApiError;

/// The schema namespace of every entity type.
pub const NAMESPACE: &str = "txlake";
/// The entity container.
pub const CONTAINER: &str = "Container";
/// Entity sets of metrics are named with this prefix, so the navigator sorts them together.
pub const METRIC_PREFIX: &str = "metric_";

/// Where an entity set's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A canonical view, `tx.<name>`.
    View(String),
    /// A metric at its default grouping.
    Metric(String),
}

/// A structural property (a column).
#[derive(Debug, Clone)]
pub struct Property {
    /// The column name.
    pub name: String,
    /// Its Arrow type as the feed serves it (timestamps in UTC).
    pub data_type: DataType,
    /// Whether it may be null.
    pub nullable: bool,
    /// Its documentation, if any.
    pub description: Option<String>,
}

/// A navigation property: this set's `column` holds a key of `target`.
#[derive(Debug, Clone)]
pub struct Navigation {
    /// The property's name (`customer`).
    pub name: String,
    /// The referring column.
    pub column: String,
    /// The entity set it points to.
    pub target: String,
    /// The target's key column.
    pub target_key: String,
}

/// An entity set and its entity type (they share the name).
#[derive(Debug, Clone)]
pub struct EntitySet {
    /// The name in URLs (`customers`, `metric_nps`).
    pub name: String,
    /// What it reads.
    pub source: Source,
    /// Its documentation.
    pub description: String,
    /// Its columns, in order.
    pub properties: Vec<Property>,
    /// The key columns.
    pub key: Vec<String>,
    /// References to other sets.
    pub navigation: Vec<Navigation>,
}

impl EntitySet {
    /// The column named `name`.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// The rows of this set, typed as declared: every declared property, in order. Planned in
    /// one partition, so the same lake version always yields the rows in the same order (the
    /// skip tokens of server-driven paging rely on it).
    pub async fn frame(&self, engine: &Engine) -> Result<DataFrame, ApiError> {
        let ctx = ordered_session(engine);
        let frame = match &self.source {
            Source::View(view) => ctx.table(format!("tx.{view}")).await.map_err(|e| engine_error(e.into()))?,
            Source::Metric(metric) => {
                let def = engine.metric_def(metric).map_err(engine_error)?;
                engine
                    .metric_in(&ctx, metric, &default_request(def.kind, def.time.is_some(), &def.dimensions))
                    .await
                    .map_err(engine_error)?
            }
        };
        let projection: Vec<Expr> = self.properties.iter().map(|p| served(p, self.key.contains(&p.name))).collect();
        frame.select(projection).map_err(|e| engine_error(e.into()))
    }

    /// The rows of `$apply` on a metric set: the metric regrouped by the semantic layer,
    /// with the aggregated measures (or the distinct groups), typed as the set's properties.
    pub async fn applied_frame(&self, engine: &Engine, apply: &Apply) -> Result<DataFrame, ODataError> {
        let Source::Metric(metric) = &self.source else {
            return Err(ODataError::not_implemented(
                "$apply",
                format!("$apply is implemented on the metric entity sets ({METRIC_PREFIX}…), not on `{}`", self.name),
            ));
        };
        let def = engine.metric_def(metric).map_err(engine_error)?;
        if def.kind == MetricKind::Table {
            return Err(ODataError::not_implemented(
                "$apply",
                format!("`{}` is a table metric, returned as it is; $apply groups aggregate metrics only", self.name),
            ));
        }
        let mut dimensions = Vec::new();
        let mut by_period = false;
        for property in &apply.group_by {
            if property == "period" && def.time.is_some() {
                by_period = true;
            } else if def.dimensions.contains(property) {
                dimensions.push(property.clone());
            } else {
                return Err(ODataError::bad_option(
                    "$apply",
                    format!(
                        "`{property}` cannot be grouped by in `{}`; group by its dimensions{}: {}",
                        self.name,
                        if def.time.is_some() { " or period" } else { "" },
                        def.dimensions.join(", ")
                    ),
                ));
            }
        }
        for aggregate in &apply.aggregates {
            let summed = def.measures.iter().any(|m| m.name == aggregate.measure && m.aggregation == Aggregation::Sum);
            if !def.is_measure(&aggregate.measure) || (aggregate.with_sum && !summed) {
                let measures: Vec<&str> = def
                    .measures
                    .iter()
                    .map(|m| m.name.as_str())
                    .chain(def.derived.iter().map(|d| d.name.as_str()))
                    .collect();
                return Err(ODataError::bad_option(
                    "$apply",
                    format!(
                        "`{}`{} is not a measure of `{}`; measures: {} (`with sum` applies to summed base measures)",
                        aggregate.measure,
                        if aggregate.with_sum { " with sum" } else { "" },
                        self.name,
                        measures.join(", ")
                    ),
                ));
            }
        }
        let request = MetricRequest {
            group_by: dimensions.clone(),
            grain: by_period.then_some(Grain::Month),
            ..Default::default()
        };
        let ctx = ordered_session(engine);
        let frame = engine.metric_in(&ctx, metric, &request).await.map_err(engine_error)?;
        let mut columns: Vec<Expr> = Vec::new();
        for group in &apply.group_by {
            let property = self
                .property(group)
                .ok_or_else(|| ODataError::bad_option("$apply", format!("no property `{group}`")))?;
            columns.push(served(property, true));
        }
        for aggregate in &apply.aggregates {
            let property = self
                .property(&aggregate.measure)
                .ok_or_else(|| ODataError::bad_option("$apply", format!("no property `{}`", aggregate.measure)))?;
            columns.push(served(property, false).alias(&aggregate.alias));
        }
        frame.select(columns).map_err(|e| ODataError::from(engine_error(e.into())))
    }
}

/// The whole model.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Views first, then metrics, each by name.
    pub sets: Vec<EntitySet>,
}

impl Model {
    /// Builds the model from the engine's canonical views and metric catalog.
    pub async fn build(engine: &Engine) -> Result<Arc<Self>, ApiError> {
        let ctx = engine.context();
        let mut sets = Vec::new();
        for doc in engine.canonical_views() {
            let frame = ctx.table(format!("tx.{}", doc.name)).await.map_err(|e| engine_error(e.into()))?;
            let properties = properties(frame.schema().inner(), &doc.key, |c| doc.column(c).map(str::to_string));
            let navigation = doc
                .relations
                .iter()
                .filter_map(|r| {
                    let target = engine.view_doc(&r.target)?;
                    let [target_key] = target.key.as_slice() else { return None };
                    Some(Navigation {
                        name: r.name.clone(),
                        column: r.column.clone(),
                        target: r.target.clone(),
                        target_key: target_key.clone(),
                    })
                })
                .collect();
            sets.push(EntitySet {
                name: doc.name.clone(),
                source: Source::View(doc.name.clone()),
                description: doc.description.clone(),
                properties,
                key: doc.key.clone(),
                navigation,
            });
        }
        for def in engine.metrics() {
            let request = default_request(def.kind, def.time.is_some(), &def.dimensions);
            let frame = engine.metric(&def.name, &request).await.map_err(engine_error)?;
            let mut key = def.dimensions.clone();
            if request.grain.is_some() {
                key.push("period".into());
            }
            let description = def.description.clone();
            let properties = properties(frame.schema().inner(), &key, |c| {
                def.dimensions.contains(&c.to_string()).then(|| format!("dimension of {}", def.title))
            });
            key.retain(|k| properties.iter().any(|p| &p.name == k));
            sets.push(EntitySet {
                name: format!("{METRIC_PREFIX}{}", def.name),
                source: Source::Metric(def.name.clone()),
                description: format!("{}: {description}", def.title),
                properties,
                key,
                navigation: Vec::new(),
            });
        }
        Ok(Arc::new(Self { sets }))
    }

    /// The entity set named `name`, or a 404 listing them.
    pub fn set(&self, name: &str) -> Result<&EntitySet, ApiError> {
        self.sets.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.sets.iter().map(|s| s.name.as_str()).collect();
            ApiError::not_found(
                "unknown_entity_set",
                format!("no entity set `{name}`; entity sets: {} (see /odata/$metadata)", names.join(", ")),
            )
        })
    }
}

/// A metric's default grouping: every dimension, by month where the metric has a time.
fn default_request(kind: MetricKind, has_time: bool, dimensions: &[String]) -> MetricRequest {
    match kind {
        MetricKind::Table => MetricRequest::default(),
        MetricKind::Aggregate => MetricRequest {
            group_by: dimensions.to_vec(),
            grain: has_time.then_some(Grain::Month),
            ..Default::default()
        },
    }
}

/// The declared properties of a result schema: columns of a type the feed can serve, their
/// timestamps as UTC.
fn properties(schema: &SchemaRef, key: &[String], describe: impl Fn(&str) -> Option<String>) -> Vec<Property> {
    schema
        .fields()
        .iter()
        .filter_map(|field| {
            let data_type = served_type(field.data_type())?;
            Some(Property {
                name: field.name().clone(),
                data_type,
                nullable: !key.contains(field.name()),
                description: describe(field.name()),
            })
        })
        .collect()
}

/// The type a column is served as, or `None` if OData has no fitting primitive type.
pub fn served_type(data_type: &DataType) -> Option<DataType> {
    use DataType::*;
    Some(match data_type {
        Utf8 | LargeUtf8 | Utf8View => Utf8,
        Dictionary(_, value) => return served_type(value),
        Boolean | Int8 | Int16 | Int32 | Int64 | Float32 | Float64 | Date32 => data_type.clone(),
        UInt8 => Int16,
        UInt16 => Int32,
        UInt32 | UInt64 => Int64,
        Float16 => Float32,
        Decimal128(..) | Decimal256(..) => data_type.clone(),
        Date64 => Date32,
        Timestamp(_, _) => Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        _ => return None,
    })
}

/// A column as served: cast to its served type; a key column's nulls (a metric row whose
/// dimension has no value) read as the empty string, as OData keys cannot be null.
fn served(property: &Property, is_key: bool) -> Expr {
    let column = Expr::Column(Column::new_unqualified(&property.name));
    let typed = cast(column, property.data_type.clone());
    let served = if is_key && property.data_type == DataType::Utf8 {
        coalesce(vec![typed, lit(ScalarValue::Utf8(Some(String::new())))])
    } else {
        typed
    };
    served.alias(&property.name)
}

/// A session over the engine's catalog that plans in a single partition: rows come out in
/// the order the tables hold them, the same for every request at one lake version.
fn ordered_session(engine: &Engine) -> SessionContext {
    let mut state = engine.context().state();
    state.config_mut().options_mut().execution.target_partitions = 1;
    SessionContext::new_with_state(state)
}
