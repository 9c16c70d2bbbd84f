//! Makes the lake's raw tables queryable in a DataFusion session as `<connection>.<stream>`,
//! reading the Delta tables in place (file pruning by statistics, no copies into memory).

use std::sync::Arc;

use deltalake::datafusion::catalog::MemorySchemaProvider;
use deltalake::datafusion::prelude::SessionContext;

use crate::error::{LakeError, Result};
use crate::location::{Lake, TableId};

/// Registers every raw table of `lake` in `ctx`'s default catalog, one SQL schema per
/// connection. Returns the tables registered.
pub async fn register_raw_tables(ctx: &SessionContext, lake: &Lake) -> Result<Vec<TableId>> {
    let tables = lake.list_raw_tables().await?;
    let catalog =
        ctx.catalog(&ctx.copied_config().options().catalog.default_catalog).expect("the default catalog always exists");
    for id in &tables {
        let url = lake.table_url(id);
        let Some(table) = lake.load_table(&url).await? else { continue };
        table.update_datafusion_session(&ctx.state()).map_err(LakeError::delta(id.to_string()))?;
        let provider = table.table_provider().await?;
        let schema = match catalog.schema(&id.connection) {
            Some(schema) => schema,
            None => {
                let schema = Arc::new(MemorySchemaProvider::new());
                catalog.register_schema(&id.connection, schema.clone())?;
                schema
            }
        };
        schema.register_table(id.stream.clone(), provider)?;
    }
    Ok(tables)
}
