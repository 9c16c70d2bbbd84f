//! The txlake SQL engine: a DataFusion session over the Delta lake with three SQL schemas,
//!
//! - `<connection>.<stream>`: the raw tables, read in place and following new commits;
//! - `tx.<view>`: the canonical TX model (customers, employees, revenue, tickets, surveys,
//!   touchpoints, learning, touchpoint_targets), the union of every connection's mapping;
//! - `metrics.<name>`: the metric views of the catalog ([`MetricDef`]),
//!
//! and [`Engine::metric`] to answer a metric request through the semantic layer.

mod embedded;
mod error;
mod live_table;
mod materialized;
pub mod metric;
mod model;
mod sources;
mod survey_mapping;
mod view_doc;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::{CatalogProvider, MemorySchemaProvider, SchemaProvider};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use txlake_lake::{Lake, TableId};

pub use error::{EngineError, Result};
pub use live_table::LiveDeltaTable;
pub use materialized::{Footprint, MaterializedView};
pub use metric::{Grain, MetricDef, MetricKind, MetricRequest, OrderBy};
pub use model::{CONNECTION_PLACEHOLDER, Connection};
pub use sources::{SqlFile, SqlSources};
pub use survey_mapping::{MappedQuestion, WideSurveySource};
pub use view_doc::{Relation, ViewDoc};

/// SQL schemas txlake reserves; connections cannot use these names.
pub const RESERVED_SCHEMAS: [&str; 4] = ["tx", "metrics", "public", "information_schema"];

/// Settings of the metric catalog that come from `txlake.toml` (`[metrics]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineSettings {
    /// Weight of each touchpoint in the Customer Satisfaction Index; touchpoints not listed
    /// weigh 1.0, so the default is an equal-weight index. Exposed to SQL as
    /// `metrics.csi_weights (touchpoint, weight)`.
    pub csi_weights: BTreeMap<String, f64>,
    /// Every connection's mapped survey questions (`survey_mapping` in txlake.toml), as
    /// `tx.survey_mapping`; `sql/mappings/surveys.sql` turns their answers into `tx.surveys`.
    pub survey_questions: Vec<MappedQuestion>,
    /// Connections whose survey responses are rows with a column per question (a file of
    /// answers), unpivoted into `tx.survey_answers`.
    pub wide_survey_sources: Vec<WideSurveySource>,
}

/// A DataFusion session over a lake, with the canonical model and the metric catalog loaded.
pub struct Engine {
    ctx: SessionContext,
    metrics: BTreeMap<String, MetricDef>,
    /// The rollups of the materialized aggregate metrics, by metric name.
    rollups: BTreeMap<String, Arc<MaterializedView>>,
    raw_tables: Vec<TableId>,
    views: Vec<String>,
    /// The canonical views' contract headers, by view.
    view_docs: BTreeMap<String, ViewDoc>,
    materialized: Vec<Arc<MaterializedView>>,
    lake_version: materialized::LakeVersion,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("metrics", &self.metrics.keys()).field("raw_tables", &self.raw_tables).finish()
    }
}

impl Engine {
    /// Loads the raw tables of `lake`, the canonical views for `connections` and the metrics
    /// of `sources`. A broken SQL file fails here, naming the file and line.
    pub async fn open(
        lake: &Lake,
        connections: &[Connection],
        sources: &SqlSources,
        settings: &EngineSettings,
    ) -> Result<Self> {
        // Dynamic filters stay off: pushed from a min/max aggregate (or a join) through a UNION
        // of Delta scans into delta-rs's runtime file pruner, they made whole files vanish from
        // other branches at random (`min(t)` over the union behind tx_scorecard's calendar lost
        // its customer rows about one run in twenty). Results must not depend on timing.
        let config = SessionConfig::new()
            .with_information_schema(true)
            .set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false);
        let ctx = SessionContext::new_with_config(config);
        let catalog = ctx.catalog("datafusion").expect("the default catalog exists");

        // Parquet filter pushdown stays off (DataFusion's default, which Delta scans would
        // otherwise switch on): filters on model columns such as `customer_key IS NOT NULL`,
        // where the key is built by `concat`, cost more evaluated inside the Parquet reader
        // than once above it. Files and row groups are still pruned by their statistics.
        let session = Arc::new(ctx.state());
        let raw_tables = lake.list_raw_tables().await?;
        let mut live_tables = Vec::new();
        for id in &raw_tables {
            let Some(table) = lake.load_table(&lake.table_url(id)).await? else { continue };
            table.update_datafusion_session(&ctx.state()).map_err(|e| EngineError::Lake(e.into_lake(id)))?;
            let provider = Arc::new(LiveDeltaTable::new(id.to_string(), table, session.clone()).await?);
            schema(&*catalog, &id.connection)?.register_table(id.stream.clone(), provider.clone())?;
            live_tables.push(provider);
        }
        let lake_version = materialized::LakeVersion::new(live_tables);
        let mut materialized = Vec::new();

        let mut warnings = Vec::new();
        let tx = schema(&*catalog, "tx")?;
        let surveys = model::SurveyMappings {
            questions: &settings.survey_questions,
            wide_sources: &settings.wide_survey_sources,
        };
        let views = model::register_canonical_views(&ctx, &tx, sources, connections, &surveys, &mut warnings).await?;
        let mut view_docs = BTreeMap::new();
        for file in sources.canonical_views() {
            let doc = ViewDoc::parse(file)?;
            let table = ctx.table(format!("tx.{}", doc.name)).await?;
            let columns: Vec<String> = table.schema().fields().iter().map(|f| f.name().clone()).collect();
            doc.check(file, &columns, &views)?;
            view_docs.insert(doc.name.clone(), doc);
        }

        let mut views = views;
        for file in sources.views() {
            ctx.sql(&file.text)
                .await
                .map_err(|e| EngineError::file(&file.path, 0, format!("the view does not plan: {e}")))?;
            let marked = materialized::is_marked(&file.text)
                .map_err(|(line, message)| EngineError::file(&file.path, line, message))?;
            if marked {
                materialized.push(materialize(&ctx, "tx", file.stem(), &lake_version).await?);
            }
            views.push(file.stem().to_string());
        }

        let metrics_schema = schema(&*catalog, "metrics")?;
        metrics_schema.register_table("csi_weights".into(), csi_weights(settings)?)?;
        let mut metrics = BTreeMap::new();
        let mut rollups = BTreeMap::new();
        for file in sources.metrics() {
            let def = MetricDef::parse(file)?;
            ctx.sql(&def.body)
                .await
                .map_err(|e| EngineError::file(&file.path, 0, format!("the metric view does not plan: {e}")))?;
            check_columns(&ctx, &def).await?;
            if def.materialized {
                match metric::rollup::plan(&ctx, &def).await? {
                    Some(plan) => {
                        let name = format!("metrics.{} (rollup by dimensions × day)", def.name);
                        let rollup = Arc::new(MaterializedView::new(name, plan, lake_version.clone()));
                        rollups.insert(def.name.clone(), rollup.clone());
                        materialized.push(rollup);
                    }
                    None => materialized.push(materialize(&ctx, "metrics", &def.name, &lake_version).await?),
                }
            }
            metrics.insert(def.name.clone(), def);
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        Ok(Self { ctx, metrics, rollups, raw_tables, views, view_docs, materialized, lake_version, warnings })
    }

    /// The session, for SQL over `<connection>.<stream>`, `tx.*` and `metrics.*`.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans a SQL statement.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        Ok(self.ctx.sql(sql).await?)
    }

    /// The metric catalog, by name.
    pub fn metrics(&self) -> impl Iterator<Item = &MetricDef> {
        self.metrics.values()
    }

    /// One metric's definition.
    pub fn metric_def(&self, name: &str) -> Result<&MetricDef> {
        self.metrics.get(name).ok_or_else(|| EngineError::UnknownMetric {
            name: name.to_string(),
            available: self.metrics.keys().cloned().collect(),
        })
    }

    /// Plans the answer to a metric request: over the metric's rollup where it has one that
    /// answers the request exactly, else over its view.
    pub async fn metric(&self, name: &str, request: &MetricRequest) -> Result<DataFrame> {
        let rollup = self.rollups.get(name).map(|r| r.clone() as Arc<dyn datafusion::catalog::TableProvider>);
        metric::compose(&self.ctx, self.metric_def(name)?, request, rollup).await
    }

    /// [`Engine::metric`] planned in another session over this engine's catalog (one with
    /// other settings, such as a single partition).
    pub async fn metric_in(&self, ctx: &SessionContext, name: &str, request: &MetricRequest) -> Result<DataFrame> {
        let rollup = self.rollups.get(name).map(|r| r.clone() as Arc<dyn datafusion::catalog::TableProvider>);
        metric::compose(ctx, self.metric_def(name)?, request, rollup).await
    }

    /// Whether the metric keeps a rollup by dimensions × day (an aggregate metric marked
    /// `-- materialized: true`).
    pub fn has_rollup(&self, name: &str) -> bool {
        self.rollups.contains_key(name)
    }

    /// Plans the answer to a metric request over the metric's view alone, never its rollup:
    /// what [`Engine::metric`] answers, computed the long way (for checks and benchmarks).
    pub async fn metric_from_view(&self, name: &str, request: &MetricRequest) -> Result<DataFrame> {
        metric::compose(&self.ctx, self.metric_def(name)?, request, None).await
    }

    /// The raw tables found in the lake.
    pub fn raw_tables(&self) -> &[TableId] {
        &self.raw_tables
    }

    /// The `tx` views, by name: the canonical model (`customers`, …) then the shared helper
    /// views (`journey_stages`, …).
    pub fn views(&self) -> &[String] {
        &self.views
    }

    /// The canonical views (`customers`, …) with their keys, relations and docs.
    pub fn canonical_views(&self) -> impl Iterator<Item = &ViewDoc> {
        self.view_docs.values()
    }

    /// One canonical view's contract header.
    pub fn view_doc(&self, name: &str) -> Option<&ViewDoc> {
        self.view_docs.get(name)
    }

    /// The latest version of every raw table, in a fixed order: changes whenever a sync
    /// commits, so results may be cached under it.
    pub async fn lake_version(&self) -> Result<Vec<Option<u64>>> {
        Ok(self.lake_version.current().await?)
    }

    /// The views computed once per lake version (`-- materialized: true`): helper views and
    /// table metrics by their rows, aggregate metrics by their rollup.
    pub fn materialized_views(&self) -> &[Arc<MaterializedView>] {
        &self.materialized
    }

    /// Computes every materialized view the lake has changed under, so that the queries after
    /// it answer from memory. A long-running server calls this after syncs; without it, the
    /// first query that needs a view computes it.
    pub async fn refresh_materialized(&self) -> Result<()> {
        self.refresh_materialized_metrics_first(&[]).await
    }

    /// [`Engine::refresh_materialized`], computing the views of the metrics `first` before the
    /// rest: what a client is known to ask for first (the console's scorecard) is ready soonest
    /// after a start or a sync, instead of sharing the cores with every other view.
    pub async fn refresh_materialized_metrics_first(&self, first: &[&str]) -> Result<()> {
        let state = self.ctx.state();
        let wanted: Vec<&Arc<MaterializedView>> = first
            .iter()
            .filter_map(|name| {
                self.rollups.get(*name).or_else(|| {
                    let table_view = format!("metrics.{name}");
                    self.materialized.iter().find(|v| v.name() == table_view)
                })
            })
            .collect();
        for view in
            wanted.iter().copied().chain(self.materialized.iter().filter(|v| !wanted.iter().any(|w| Arc::ptr_eq(w, v))))
        {
            view.refresh(&state).await?;
        }
        Ok(())
    }

    /// Models skipped at load (a stream not synced yet), for the user to see.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

fn csi_weights(settings: &EngineSettings) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("touchpoint", DataType::Utf8, false),
        Field::new("weight", DataType::Float64, false),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(settings.csi_weights.keys())),
            Arc::new(Float64Array::from_iter_values(settings.csi_weights.values().copied())),
        ],
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    Ok(Arc::new(datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])?))
}

/// Replaces the view `schema.name` with a [`MaterializedView`] of the same plan.
async fn materialize(
    ctx: &SessionContext,
    schema: &str,
    name: &str,
    lake: &materialized::LakeVersion,
) -> Result<Arc<MaterializedView>> {
    let reference = datafusion::common::TableReference::partial(schema, name);
    let view = ctx.table_provider(reference.clone()).await?;
    let plan = view
        .get_logical_plan()
        .ok_or_else(|| datafusion::error::DataFusionError::Plan(format!("{reference} is not a SQL view")))?
        .into_owned();
    let materialized = Arc::new(MaterializedView::new(reference.to_string(), plan, lake.clone()));
    ctx.deregister_table(reference.clone())?;
    ctx.register_table(reference, materialized.clone())?;
    Ok(materialized)
}

/// The schema of that name in `catalog`, created if missing.
fn schema(catalog: &dyn CatalogProvider, name: &str) -> Result<Arc<dyn SchemaProvider>> {
    if let Some(schema) = catalog.schema(name) {
        return Ok(schema);
    }
    let schema: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
    catalog.register_schema(name, schema.clone())?;
    Ok(schema)
}

/// The header's time, dimensions and measures must be columns of the metric view.
async fn check_columns(ctx: &SessionContext, def: &MetricDef) -> Result<()> {
    let frame =
        ctx.table(datafusion::common::TableReference::partial("metrics", def.name.as_str())).await.map_err(|e| {
            EngineError::file(&def.file, 0, format!("the file must create the view metrics.{}: {e}", def.name))
        })?;
    let columns: Vec<String> = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
    let named = def.time.iter().chain(&def.dimensions).chain(def.measures.iter().map(|m| &m.name));
    for name in named {
        if !columns.contains(name) {
            return Err(EngineError::file(
                &def.file,
                0,
                format!("the header names `{name}`, which the view does not have; its columns: {}", columns.join(", ")),
            ));
        }
    }
    Ok(())
}

trait IntoLakeError {
    fn into_lake(self, id: &TableId) -> txlake_lake::LakeError;
}

impl IntoLakeError for deltalake::DeltaTableError {
    fn into_lake(self, id: &TableId) -> txlake_lake::LakeError {
        txlake_lake::LakeError::Delta { table: id.to_string(), source: Box::new(self) }
    }
}

#[cfg(test)]
mod tests;
