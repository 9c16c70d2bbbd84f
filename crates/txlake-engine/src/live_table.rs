//! A Delta table provider that follows new commits: each scan first brings the snapshot up
//! to the latest version, so a long-running session (the API server) sees what syncs commit
//! without a restart, while still pruning files by Delta statistics.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::Expr;
use deltalake::DeltaTable;
use tokio::sync::Mutex;

/// A Delta table registered under a stable schema that refreshes its snapshot on scan.
#[derive(Debug)]
pub struct LiveDeltaTable {
    name: String,
    schema: SchemaRef,
    session: Arc<SessionState>,
    state: Mutex<(DeltaTable, Arc<dyn TableProvider>)>,
}

impl LiveDeltaTable {
    /// Wraps a loaded table; its scans follow `session`'s Parquet settings (filter pushdown).
    pub async fn new(name: impl Into<String>, table: DeltaTable, session: Arc<SessionState>) -> Result<Self> {
        let provider = Self::provider(&table, &session).await?;
        Ok(Self { name: name.into(), schema: provider.schema(), session, state: Mutex::new((table, provider)) })
    }

    async fn provider(table: &DeltaTable, session: &Arc<SessionState>) -> Result<Arc<dyn TableProvider>> {
        table.table_provider().with_session(session.clone()).await
    }

    async fn current(&self) -> Result<Arc<dyn TableProvider>> {
        let mut state = self.state.lock().await;
        let before = state.0.version();
        state.0.update_state().await.map_err(|e| DataFusionError::External(Box::new(e)))?;
        if state.0.version() != before {
            let provider = Self::provider(&state.0, &self.session).await?;
            if provider.schema().fields() != self.schema.fields() {
                return Err(DataFusionError::Plan(format!(
                    "table {} changed its columns since it was loaded (a sync evolved its schema); reload to see them",
                    self.name
                )));
            }
            state.1 = provider;
        }
        Ok(state.1.clone())
    }

    /// The table's latest committed version, after bringing the snapshot up to it.
    pub async fn latest_version(&self) -> Result<Option<u64>> {
        self.current().await?;
        Ok(self.state.lock().await.0.version())
    }
}

#[async_trait]
impl TableProvider for LiveDeltaTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // Delta prunes files by statistics and Parquet row groups, but rows still need the filter.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.current().await?.scan(state, projection, filters, limit).await
    }
}
