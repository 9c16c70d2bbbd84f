//! Views computed once per lake version.
//!
//! Some views are expensive to compute and cheap to keep: one row per customer out of ten
//! million touchpoints (`tx.customer_stage_times`), or a metric's base rows that every
//! grouping of it aggregates (`metrics.customer_churn`). A SQL file marks such a view with a
//! `-- materialized: true` header line. The engine then registers a [`MaterializedView`]: on
//! scan it compares the versions of the lake's raw tables with those its rows were computed
//! from, recomputes the view when they differ, and otherwise answers from memory. Results
//! never go stale: a sync that commits to any raw table makes the next scan recompute.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::{ExecutionPlan, collect_partitioned};
use datafusion::prelude::Expr;
use tokio::sync::Mutex;

use crate::live_table::LiveDeltaTable;

/// The header line that marks a view as materialized.
const MARKER: &str = "materialized";

/// Whether a SQL file's leading comment block holds `-- materialized: true`.
pub(crate) fn is_marked(text: &str) -> std::result::Result<bool, (usize, String)> {
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some(comment) = trimmed.strip_prefix("--") else { break };
        let Some((key, value)) = comment.split_once(':') else { continue };
        if key.trim() == MARKER {
            return match value.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err((index + 1, format!("`materialized: {other}` must be `true` or `false`"))),
            };
        }
    }
    Ok(false)
}

/// The lake's raw tables, whose versions say whether a materialized view is current.
#[derive(Debug, Clone, Default)]
pub(crate) struct LakeVersion {
    tables: Arc<Vec<Arc<LiveDeltaTable>>>,
}

impl LakeVersion {
    pub(crate) fn new(tables: Vec<Arc<LiveDeltaTable>>) -> Self {
        Self { tables: Arc::new(tables) }
    }

    /// The current version of every raw table, in a fixed order.
    pub(crate) async fn current(&self) -> Result<Vec<Option<u64>>> {
        let mut versions = Vec::with_capacity(self.tables.len());
        for table in self.tables.iter() {
            versions.push(table.latest_version().await?);
        }
        Ok(versions)
    }
}

/// The rows of a materialized view and the raw table versions they were computed from.
#[derive(Debug)]
struct Computed {
    versions: Vec<Option<u64>>,
    rows: Arc<MemTable>,
    footprint: Footprint,
}

/// What a materialized view holds in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Rows.
    pub rows: usize,
    /// Bytes of Arrow buffers.
    pub bytes: usize,
}

impl Footprint {
    /// What `batches` hold. Batches cut from one aggregation's output share its buffers, so
    /// each buffer is counted once, by the allocation it lives in.
    fn of<'a>(batches: impl Iterator<Item = &'a RecordBatch>) -> Self {
        fn add(data: &arrow::array::ArrayData, seen: &mut HashSet<usize>, bytes: &mut usize) {
            for buffer in data.buffers().iter().chain(data.nulls().map(|n| n.buffer())) {
                if seen.insert(buffer.data_ptr().as_ptr() as usize) {
                    *bytes += buffer.capacity();
                }
            }
            for child in data.child_data() {
                add(child, seen, bytes);
            }
        }
        let (mut seen, mut footprint) = (HashSet::new(), Footprint::default());
        for batch in batches {
            footprint.rows += batch.num_rows();
            for column in batch.columns() {
                add(&column.to_data(), &mut seen, &mut footprint.bytes);
            }
        }
        footprint
    }
}

/// A view answered from memory while the lake has not changed.
#[derive(Debug)]
pub struct MaterializedView {
    name: String,
    plan: LogicalPlan,
    schema: SchemaRef,
    lake: LakeVersion,
    computed: Mutex<Option<Computed>>,
    computations: AtomicU64,
}

impl MaterializedView {
    pub(crate) fn new(name: String, plan: LogicalPlan, lake: LakeVersion) -> Self {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        Self { name, plan, schema, lake, computed: Mutex::new(None), computations: AtomicU64::new(0) }
    }

    /// The view's name, as in SQL (`tx.customer_stage_times`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many times the view has been computed since the engine opened: once per lake
    /// version that a query needed it at.
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }

    /// The rows for the lake as it is now, computed if the lake changed since last time.
    /// Holding the lock while computing makes concurrent queries wait for one computation
    /// instead of each running their own.
    async fn rows(&self, state: &dyn Session) -> Result<Arc<MemTable>> {
        let versions = self.lake.current().await?;
        let mut computed = self.computed.lock().await;
        if let Some(done) = computed.as_ref().filter(|c| c.versions == versions) {
            return Ok(done.rows.clone());
        }
        let started = std::time::Instant::now();
        let plan = state.create_physical_plan(&self.plan).await?;
        let partitions: Vec<Vec<RecordBatch>> = collect_partitioned(plan, state.task_ctx()).await?;
        let footprint = Footprint::of(partitions.iter().flatten());
        let rows = Arc::new(MemTable::try_new(self.schema.clone(), partitions)?);
        tracing::debug!(
            view = %self.name,
            seconds = started.elapsed().as_secs_f64(),
            rows = footprint.rows,
            bytes = footprint.bytes,
            "materialized"
        );
        *computed = Some(Computed { versions, rows: rows.clone(), footprint });
        self.computations.fetch_add(1, Ordering::Relaxed);
        Ok(rows)
    }

    /// Computes the view now if the lake changed, so that the next query does not wait, and
    /// says what it holds.
    pub async fn refresh(&self, state: &dyn Session) -> Result<Footprint> {
        self.rows(state).await?;
        Ok(self.computed.lock().await.as_ref().map(|c| c.footprint).unwrap_or_default())
    }
}

#[async_trait]
impl TableProvider for MaterializedView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.rows(state).await?.scan(state, projection, filters, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::record_batch::RecordBatch;

    use super::{Footprint, is_marked};

    #[test]
    fn a_footprint_counts_shared_buffers_once() {
        let ids = Arc::new(Int64Array::from_iter_values(0..1000));
        let names = Arc::new(StringArray::from_iter_values((0..1000).map(|i| format!("name {i}"))));
        let whole = RecordBatch::try_from_iter([("id", ids as _), ("name", names as _)]).unwrap();
        let alone = Footprint::of(std::iter::once(&whole));
        assert_eq!(alone.rows, 1000);
        // 1000 × 8 B of ids, 1001 × 4 B of offsets, 7890 B of text ("name 0" … "name 999").
        assert!(alone.bytes >= 8000 + 4004 + 7890 && alone.bytes < 2 * 19894, "{alone:?}");
        // Ten slices of the same batch hold no more memory than the batch.
        let slices: Vec<RecordBatch> = (0..10).map(|i| whole.slice(i * 100, 100)).collect();
        assert_eq!(Footprint::of(slices.iter()), alone);
    }

    #[test]
    fn the_marker_is_read_from_the_header_only() {
        assert_eq!(is_marked("-- name: x\n-- materialized: true\nCREATE VIEW v AS SELECT 1"), Ok(true));
        assert_eq!(is_marked("-- materialized: false\nSELECT 1"), Ok(false));
        assert_eq!(is_marked("-- name: x\nSELECT 1\n-- materialized: true"), Ok(false));
        assert_eq!(is_marked("SELECT 1"), Ok(false));
        let (line, message) = is_marked("-- a view\n-- materialized: yes\nSELECT 1").unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("`true` or `false`"), "{message}");
    }
}
