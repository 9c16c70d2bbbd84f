//! One stream's Delta table, written in commits that carry the connector state covering
//! their data: the heart of txlake's exactly-once syncs.
//!
//! Every commit of a [`StreamTable`] holds, in one atomic Delta log entry, the data files
//! written since the previous commit, the connector state (`txlake.state` in the commit
//! info) and a `txn` action (`appId = txlake:<connection>/<stream>`, version = commit
//! sequence) that other Delta tools understand. Files written but not committed when a
//! process dies are never referenced, so readers see nothing of them.

use arrow::array::{Array as _, AsArray as _, BooleanArray};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use deltalake::DeltaTable;
use deltalake::datafusion::common::Column;
use deltalake::datafusion::prelude::{Expr, SessionContext, cast, lit};
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow as _, TryIntoKernel as _};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, MetadataExt as _, StructType, Transaction};
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;
use serde_json::Value;
use url::Url;

use crate::dedupe::last_per_key;
use crate::error::{LakeError, Result};
use crate::location::{Lake, TableId};
use crate::schema::SchemaPlan;

/// Commit-info key holding the connector state a commit covers.
pub const STATE_KEY: &str = "txlake.state";
/// Commit-info key holding the id of the sync run that made the commit.
pub const RUN_KEY: &str = "txlake.runId";

/// Parquet files roll over at this size.
const TARGET_FILE_SIZE: u64 = 256 * 1024 * 1024;
/// Rows per Parquet row group: bounds the writer's memory per open file.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// How many recent commits to search for the last saved state.
const STATE_SEARCH_DEPTH: usize = 200;

/// What a commit does with the records it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// Add the records to the table.
    Append,
    /// Upsert on `key`; when `cursor` is set an older record never replaces a newer one.
    Merge {
        /// Primary key columns.
        key: Vec<String>,
        /// The cursor column deciding which version is newer.
        cursor: Option<String>,
    },
    /// Replace the whole table with the records written since the table was opened, in one
    /// commit at the end; until then readers see the old table.
    Overwrite,
}

/// What one commit wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// The new Delta version.
    pub version: i64,
    /// Records in the commit.
    pub rows: u64,
    /// Arrow bytes of those records.
    pub bytes: u64,
}

/// A stream's table opened for writing.
pub struct StreamTable {
    name: String,
    url: Url,
    lake: Lake,
    table: DeltaTable,
    mode: WriteMode,
    plan: SchemaPlan,
    stored_schema: Option<Schema>,
    app_id: String,
    sequence: i64,
    writer: Option<RecordBatchWriter>,
    unique_column: Option<String>,
    buffered: Vec<RecordBatch>,
    pending_rows: u64,
    pending_bytes: u64,
    /// `(column, value)` pairs whose stored rows the next commit removes.
    replacements: Vec<(String, String)>,
}

impl std::fmt::Debug for StreamTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamTable").field("name", &self.name).field("mode", &self.mode).finish()
    }
}

impl StreamTable {
    /// Opens (creating if needed) the table of `id` for records of `schema`.
    pub async fn open(lake: &Lake, id: &TableId, schema: SchemaRef, mode: WriteMode) -> Result<Self> {
        let name = id.to_string();
        if let WriteMode::Merge { key, .. } = &mode
            && key.is_empty()
        {
            return Err(LakeError::MissingPrimaryKey { stream: name });
        }
        let url = lake.table_url(id);
        let table = match lake.load_table(&url).await? {
            Some(table) => table,
            None => create_table(lake, &url, &id.stream, &schema).await?,
        };
        let stored_schema = table_arrow_schema(&table, &name)?;
        let plan = match mode {
            WriteMode::Overwrite => SchemaPlan::new(&name, None, &schema)?,
            _ => SchemaPlan::new(&name, stored_schema.as_ref(), &schema)?,
        };
        let app_id = format!("txlake:{}/{}", id.connection, id.stream);
        let sequence = table
            .snapshot()
            .map_err(LakeError::delta(&name))?
            .transaction_version(table.log_store().as_ref(), &app_id)
            .await
            .map_err(LakeError::delta(&name))?
            .unwrap_or(0);
        Ok(Self {
            name,
            url,
            lake: lake.clone(),
            table,
            mode,
            plan,
            stored_schema,
            app_id,
            sequence,
            writer: None,
            unique_column: None,
            buffered: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            replacements: Vec::new(),
        })
    }

    /// `connection.stream`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current Delta version.
    pub fn version(&self) -> i64 {
        self.table.version().map(|v| v as i64).unwrap_or(-1)
    }

    /// Columns this sync adds to the table.
    pub fn new_columns(&self) -> &[String] {
        &self.plan.new_columns
    }

    /// Records written since the last commit.
    pub fn pending_rows(&self) -> u64 {
        self.pending_rows
    }

    /// Arrow bytes written since the last commit.
    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes
    }

    /// The connector state saved by the newest commit that has one.
    pub async fn committed_state(&self) -> Result<Option<Value>> {
        let mut history = self.table.history(Some(STATE_SEARCH_DEPTH));
        while let Some(info) = history.try_next().await.map_err(LakeError::delta(&self.name))? {
            if let Some(state) = info.info.get(STATE_KEY) {
                return Ok(Some(match state {
                    // Kept as a JSON string so that any Delta writer preserves it verbatim.
                    Value::String(text) => serde_json::from_str(text).map_err(|e| LakeError::CorruptState {
                        table: self.name.clone(),
                        version: info.read_version.map(|v| v as i64 + 1).unwrap_or(-1),
                        reason: e.to_string(),
                    })?,
                    other => other.clone(),
                }));
            }
        }
        Ok(None)
    }

    /// Adds records to the pending commit.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = self.plan.apply(batch)?;
        self.pending_rows += batch.num_rows() as u64;
        self.pending_bytes += batch.get_array_memory_size() as u64;
        match self.mode {
            WriteMode::Merge { .. } => self.buffered.push(batch),
            WriteMode::Append | WriteMode::Overwrite => {
                self.writer()?.write(batch).await.map_err(LakeError::delta(&self.name))?
            }
        }
        Ok(())
    }

    /// Makes the next commit remove every stored record whose `column`, as text, equals
    /// `value`, in the same Delta commit as the records it adds (the rows of a re-uploaded
    /// file are replaced by its new rows, never shown twice nor missing). Only the next
    /// commit deletes; [`StreamTable::abort`] forgets the request. In
    /// [`WriteMode::Overwrite`] the commit replaces the whole table, so this does nothing.
    /// Returns `false`, doing nothing, when the table has no column `column`.
    #[must_use]
    pub fn replace_rows(&mut self, column: &str, value: &str) -> bool {
        if self.plan.target.field_with_name(column).is_err() {
            return false;
        }
        if self.mode != WriteMode::Overwrite && !self.replacements.iter().any(|(c, v)| c == column && v == value) {
            self.replacements.push((column.to_string(), value.to_string()));
        }
        true
    }

    /// Whether the next commit removes stored rows ([`StreamTable::replace_rows`]).
    pub fn has_replacements(&self) -> bool {
        !self.replacements.is_empty()
    }

    /// Commits everything written since the last commit together with `state` (the
    /// connector state covering it). In [`WriteMode::Overwrite`] this replaces the table and
    /// is meant to be called once, at the end.
    pub async fn commit(&mut self, state: Option<&Value>, run_id: &str) -> Result<CommitSummary> {
        let rows = self.pending_rows;
        let bytes = self.pending_bytes;
        self.sequence += 1;
        let mut metadata = vec![(RUN_KEY.to_string(), Value::String(run_id.to_string()))];
        if let Some(state) = state {
            metadata.push((STATE_KEY.to_string(), Value::String(state.to_string())));
        }
        let properties = CommitProperties::default()
            .with_metadata(metadata)
            .with_application_transaction(Transaction::new(&self.app_id, self.sequence));

        let result = match self.mode.clone() {
            WriteMode::Merge { key, cursor } if self.has_files()? => {
                self.merge(&key, cursor.as_deref(), properties).await
            }
            WriteMode::Merge { key, .. } => {
                // Nothing to merge into yet: a plain append of the newest row per key.
                let batches = std::mem::take(&mut self.buffered);
                if !batches.is_empty() {
                    let deduped = last_per_key(&self.plan.target, &batches, &key)?;
                    self.writer()?.write(deduped).await.map_err(LakeError::delta(&self.name))?;
                }
                self.commit_files(properties, SaveMode::Append).await
            }
            WriteMode::Append => self.commit_files(properties, SaveMode::Append).await,
            WriteMode::Overwrite => self.commit_files(properties, SaveMode::Overwrite).await,
        };
        if result.is_err() {
            self.sequence -= 1;
            self.abort();
        }
        let version = result?;
        self.pending_rows = 0;
        self.pending_bytes = 0;
        self.replacements.clear();
        self.stored_schema = Some(self.plan.target.as_ref().clone());
        Ok(CommitSummary { version, rows, bytes })
    }

    /// Declares a column whose values do not repeat (a one-column primary key): it skips
    /// Parquet's dictionary encoding, which such a column pays for and never gains from.
    pub fn with_unique_column(mut self, column: Option<&str>) -> Self {
        self.unique_column = column.map(str::to_string);
        self
    }

    /// Drops everything written since the last commit; the table is unchanged.
    pub fn abort(&mut self) {
        if let Some(writer) = self.writer.as_mut() {
            writer.reset();
        }
        self.buffered.clear();
        self.pending_rows = 0;
        self.pending_bytes = 0;
        self.replacements.clear();
    }

    fn writer(&mut self) -> Result<&mut RecordBatchWriter> {
        if self.writer.is_none() {
            self.writer = Some(self.new_writer()?);
        }
        Ok(self.writer.as_mut().expect("writer was just created"))
    }

    fn new_writer(&self) -> Result<RecordBatchWriter> {
        let mut properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
        if let Some(column) = &self.unique_column {
            properties = properties.set_column_dictionary_enabled(ColumnPath::from(column.as_str()), false);
        }
        let writer = RecordBatchWriter::try_new(
            self.url.as_str(),
            self.plan.target.clone(),
            None,
            Some(self.lake.options().clone()),
        )
        .map_err(LakeError::delta(&self.name))?
        .with_writer_properties(properties.build())
        .with_target_file_size(TARGET_FILE_SIZE);
        Ok(writer)
    }

    /// The Remove and Add actions that take the rows of [`StreamTable::replace_rows`] out of
    /// the stored files: each file that may hold such rows (its statistics cannot rule them
    /// out) is read, and if it does, it is removed and the rest of its rows written to a new
    /// file. Files without such rows are left alone.
    async fn replacement_actions(&self) -> Result<Vec<Action>> {
        let snapshot = self.table.snapshot().map_err(LakeError::delta(&self.name))?;
        let candidates: Vec<_> = snapshot
            .log_data()
            .iter()
            .filter(|file| {
                let stats = file.stats().and_then(|s| serde_json::from_str::<Value>(&s).ok());
                self.replacements.iter().any(|(column, value)| may_contain(stats.as_ref(), column, value))
            })
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.table.log_store().object_store(None);
        let mut actions = Vec::new();
        let mut writer: Option<RecordBatchWriter> = None;
        for file in candidates {
            let bytes = store.get(&file.object_store_path()).await?.bytes().await?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .and_then(|b| b.build())
                .map_err(|e| LakeError::delta(&self.name)(e.into()))?;
            let mut kept = Vec::new();
            let mut removed = 0;
            for batch in reader {
                let batch = batch?;
                let keep = keep_mask(&batch, &self.replacements)?;
                removed += keep.false_count();
                if keep.true_count() > 0 {
                    kept.push(conform(&arrow::compute::filter_record_batch(&batch, &keep)?, &self.plan.target)?);
                }
            }
            if removed == 0 {
                continue;
            }
            actions.push(Action::Remove(file.remove_action(true)));
            if !kept.is_empty() {
                let writer = match writer.as_mut() {
                    Some(writer) => writer,
                    None => writer.insert(self.new_writer()?),
                };
                for batch in kept {
                    writer.write(batch).await.map_err(LakeError::delta(&self.name))?;
                }
            }
        }
        if let Some(mut writer) = writer {
            let adds = writer.flush().await.map_err(LakeError::delta(&self.name))?;
            actions.extend(adds.into_iter().map(Action::Add));
        }
        Ok(actions)
    }

    fn has_files(&self) -> Result<bool> {
        let snapshot = self.table.snapshot().map_err(LakeError::delta(&self.name))?;
        Ok(snapshot.log_data().iter().next().is_some())
    }

    /// The schema change this commit must record, if any.
    fn metadata_action(&self) -> Result<Option<Action>> {
        if self.stored_schema.as_ref() == Some(self.plan.target.as_ref())
            || same_columns(self.stored_schema.as_ref(), &self.plan.target)
        {
            return Ok(None);
        }
        let schema: StructType = self
            .plan
            .target
            .as_ref()
            .try_into_kernel()
            .map_err(|e| LakeError::delta(&self.name)(deltalake::DeltaTableError::Generic(e.to_string())))?;
        let current = self.table.snapshot().map_err(LakeError::delta(&self.name))?.metadata().clone();
        let metadata = current
            .with_schema(&schema)
            .map_err(|e| LakeError::delta(&self.name)(deltalake::DeltaTableError::Generic(e.to_string())))?;
        Ok(Some(Action::Metadata(metadata)))
    }

    async fn commit_files(&mut self, properties: CommitProperties, mode: SaveMode) -> Result<i64> {
        let adds: Vec<Add> = match self.writer.as_mut() {
            Some(writer) => writer.flush().await.map_err(LakeError::delta(&self.name))?,
            None => Vec::new(),
        };
        let mut actions = Vec::with_capacity(adds.len() + 1);
        if let Some(metadata) = self.metadata_action()? {
            actions.push(metadata);
        }
        if mode == SaveMode::Overwrite {
            let snapshot = self.table.snapshot().map_err(LakeError::delta(&self.name))?;
            actions.extend(snapshot.log_data().iter().map(|file| Action::Remove(file.remove_action(true))));
        } else if !self.replacements.is_empty() {
            actions.extend(self.replacement_actions().await?);
        }
        let snapshot = self.table.snapshot().map_err(LakeError::delta(&self.name))?;
        actions.extend(adds.into_iter().map(Action::Add));
        let operation = DeltaOperation::Write { mode, partition_by: None, predicate: None };
        let finalized = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot), self.table.log_store(), operation)
            .await
            .map_err(LakeError::delta(&self.name))?;
        let version = finalized.version() as i64;
        self.table.update_state().await.map_err(LakeError::delta(&self.name))?;
        Ok(version)
    }

    async fn merge(&mut self, key: &[String], cursor: Option<&str>, properties: CommitProperties) -> Result<i64> {
        let batches = std::mem::take(&mut self.buffered);
        if batches.is_empty() {
            // No records, but the state still advances.
            return self.commit_files(properties, SaveMode::Append).await;
        }
        let source = last_per_key(&self.plan.target, &batches, key)?;
        drop(batches);
        let ctx = SessionContext::new();
        let frame = ctx.read_batch(source)?;
        let column = |side: &str, name: &str| Expr::Column(Column::new(Some(side.to_string()), name));
        let predicate = key
            .iter()
            .map(|k| column("target", k).eq(column("source", k)))
            .reduce(Expr::and)
            .expect("merge key is not empty");
        let columns: Vec<String> = self.plan.target.fields().iter().map(|f| f.name().clone()).collect();
        let update_columns = columns.clone();
        let newer = cursor.map(|c| column("source", c).gt_eq(column("target", c)).or(column("target", c).is_null()));
        let merge = self
            .table
            .clone()
            .merge(frame, predicate)
            .with_source_alias("source")
            .with_target_alias("target")
            .with_merge_schema(!self.plan.new_columns.is_empty())
            .with_commit_properties(properties)
            .when_matched_update(move |update| {
                let mut update = match newer {
                    Some(newer) => update.predicate(newer),
                    None => update,
                };
                for name in &update_columns {
                    update = update.update(name.as_str(), column("source", name));
                }
                update
            })
            .map_err(LakeError::delta(&self.name))?
            .when_not_matched_insert(move |insert| {
                let mut insert = insert;
                for name in &columns {
                    insert = insert.set(name.as_str(), column("source", name));
                }
                insert
            })
            .map_err(LakeError::delta(&self.name))?;
        // Rows of a replaced origin that the new records do not update are deleted by the same
        // merge commit; rows the new records match by key are updated above instead.
        let replaced = std::mem::take(&mut self.replacements)
            .into_iter()
            .map(|(name, value)| cast(column("target", &name), arrow::datatypes::DataType::Utf8).eq(lit(value)))
            .reduce(Expr::or);
        let merge = match replaced {
            Some(predicate) => merge
                .when_not_matched_by_source_delete(move |delete| delete.predicate(predicate))
                .map_err(LakeError::delta(&self.name))?,
            None => merge,
        };
        let (table, _metrics) = merge.await.map_err(LakeError::delta(&self.name))?;
        self.table = table;
        Ok(self.version())
    }
}

/// Whether a file with the Delta statistics `stats` may hold a row whose `column` is `value`.
/// Only string statistics rule a file out: `value` below the minimum, or above a maximum it
/// does not start with (a maximum truncated to a prefix is still a prefix of the real one).
fn may_contain(stats: Option<&Value>, column: &str, value: &str) -> bool {
    let Some(stats) = stats else { return true };
    let records = stats.get("numRecords").and_then(Value::as_i64);
    let nulls = stats.pointer(&format!("/nullCount/{column}")).and_then(Value::as_i64);
    if records.is_some() && records == nulls {
        return false;
    }
    let min = stats.pointer(&format!("/minValues/{column}")).and_then(Value::as_str);
    let max = stats.pointer(&format!("/maxValues/{column}")).and_then(Value::as_str);
    match (min, max) {
        (Some(min), _) if value < min => false,
        (_, Some(max)) if value > max && !value.starts_with(max) => false,
        _ => true,
    }
}

/// Which rows of `batch` survive the replacements: those whose column is null, differs from
/// the value, or is not in the batch at all.
fn keep_mask(batch: &RecordBatch, replacements: &[(String, String)]) -> Result<BooleanArray> {
    let mut keep = vec![true; batch.num_rows()];
    for (column, value) in replacements {
        let Some(array) = batch.column_by_name(column) else { continue };
        let text = arrow::compute::cast(array, &arrow::datatypes::DataType::Utf8)?;
        let text = text.as_string::<i32>();
        for (i, keep) in keep.iter_mut().enumerate() {
            if text.is_valid(i) && text.value(i) == value {
                *keep = false;
            }
        }
    }
    Ok(BooleanArray::from(keep))
}

/// `batch` (read back from a stored file, written under an older schema perhaps) in the
/// table's current schema: missing columns are null, others cast to their current type.
fn conform(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let columns = target
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) if column.data_type() == field.data_type() => Ok(column.clone()),
            Some(column) => arrow::compute::cast(column, field.data_type()),
            None => Ok(arrow::array::new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(target.clone(), columns)?)
}

fn same_columns(stored: Option<&Schema>, target: &SchemaRef) -> bool {
    stored.is_some_and(|s| {
        s.fields().len() == target.fields().len()
            && s.fields()
                .iter()
                .zip(target.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type())
    })
}

pub(crate) async fn create_table(lake: &Lake, url: &Url, stream: &str, schema: &SchemaRef) -> Result<DeltaTable> {
    let name = url.to_string();
    let nullable: Schema =
        Schema::new(schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>());
    let kernel: StructType = (&nullable)
        .try_into_kernel()
        .map_err(|e| LakeError::delta(&name)(deltalake::DeltaTableError::Generic(e.to_string())))?;
    let table = lake.table_builder(url)?.build().map_err(LakeError::delta(&name))?;
    let created = table.create().with_table_name(stream).with_columns(kernel.fields().cloned()).await;
    match created {
        Ok(table) => Ok(table),
        // Another process created it first: use theirs.
        Err(_) => match lake.load_table(url).await? {
            Some(table) => Ok(table),
            None => Err(LakeError::delta(&name)(deltalake::DeltaTableError::Generic(
                "the table could not be created".into(),
            ))),
        },
    }
}

fn table_arrow_schema(table: &DeltaTable, name: &str) -> Result<Option<Schema>> {
    let snapshot = table.snapshot().map_err(LakeError::delta(name))?;
    let schema = snapshot.schema();
    let arrow: Schema = schema
        .as_ref()
        .try_into_arrow()
        .map_err(|e| LakeError::delta(name)(deltalake::DeltaTableError::Generic(e.to_string())))?;
    Ok(Some(arrow))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field};
    use deltalake::datafusion::prelude::SessionContext;
    use serde_json::json;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("status", DataType::Utf8, true),
            Field::new("updated", DataType::Int64, true),
        ]))
    }

    fn batch(rows: &[(i64, &str, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap()
    }

    fn lake(name: &str) -> Lake {
        Lake::open(&format!("memory://{name}"), std::path::Path::new("/"), HashMap::new()).unwrap()
    }

    async fn rows(lake: &Lake, id: &TableId) -> Vec<(i64, String, i64)> {
        let table = lake.load_table(&lake.table_url(id)).await.unwrap().unwrap();
        let ctx = SessionContext::new();
        table.update_datafusion_session(&ctx.state()).unwrap();
        let provider = table.table_provider().await.unwrap();
        let batches = ctx
            .read_table(provider)
            .unwrap()
            .sort_by(vec![deltalake::datafusion::prelude::col("id")])
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut out = Vec::new();
        for b in batches {
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            let st = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
            let st = st.as_any().downcast_ref::<StringArray>().unwrap();
            let up = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
            for i in 0..b.num_rows() {
                out.push((ids.value(i), st.value(i).to_string(), up.value(i)));
            }
        }
        out
    }

    #[tokio::test]
    async fn append_commits_carry_state_and_survive_reopen() {
        let lake = lake("append-state");
        let id = TableId::new("demo", "events");
        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Append).await.unwrap();
        assert_eq!(table.committed_state().await.unwrap(), None, "a new table has no state");
        table.write(batch(&[(1, "a", 1), (2, "b", 1)])).await.unwrap();
        let first = table.commit(Some(&json!({"cursor": "day-1"})), "run-1").await.unwrap();
        assert_eq!(first.rows, 2);
        table.write(batch(&[(3, "c", 2)])).await.unwrap();
        table.commit(Some(&json!({"cursor": "day-2"})), "run-1").await.unwrap();
        // Written but never committed: a crash here must leave no trace.
        table.write(batch(&[(4, "lost", 3)])).await.unwrap();
        drop(table);

        let reopened = StreamTable::open(&lake, &id, schema(), WriteMode::Append).await.unwrap();
        assert_eq!(reopened.committed_state().await.unwrap(), Some(json!({"cursor": "day-2"})));
        assert_eq!(rows(&lake, &id).await.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn merge_keeps_the_newest_version_of_each_key() {
        let lake = lake("merge");
        let id = TableId::new("demo", "tickets");
        let mode = WriteMode::Merge { key: vec!["id".into()], cursor: Some("updated".into()) };
        let mut table = StreamTable::open(&lake, &id, schema(), mode.clone()).await.unwrap();
        // Within one commit, the later row of a key wins.
        table.write(batch(&[(1, "open", 1), (2, "open", 1), (1, "pending", 2)])).await.unwrap();
        table.commit(Some(&json!({"c": 1})), "r").await.unwrap();
        // Across commits: updates replace, a stale replay does not, new keys insert.
        table.write(batch(&[(1, "solved", 5), (2, "stale", 0), (3, "open", 5)])).await.unwrap();
        table.commit(Some(&json!({"c": 2})), "r").await.unwrap();
        assert_eq!(rows(&lake, &id).await, vec![(1, "solved".into(), 5), (2, "open".into(), 1), (3, "open".into(), 5)]);
        let reopened = StreamTable::open(&lake, &id, schema(), mode).await.unwrap();
        assert_eq!(reopened.committed_state().await.unwrap(), Some(json!({"c": 2})));
    }

    #[tokio::test]
    async fn a_unique_column_is_written_without_a_dictionary() {
        use deltalake::parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&format!("file://{}", dir.path().display()), dir.path(), HashMap::new()).unwrap();
        let id = TableId::new("demo", "people");
        let mut table =
            StreamTable::open(&lake, &id, schema(), WriteMode::Overwrite).await.unwrap().with_unique_column(Some("id"));
        table.write(batch(&[(1, "open", 1), (2, "open", 1), (3, "open", 2)])).await.unwrap();
        table.commit(None, "r").await.unwrap();
        let folder = dir.path().join("raw/demo/people");
        let file = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "parquet"))
            .expect("a data file");
        let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
        let row_group = reader.metadata().row_group(0);
        let dictionary = |name: &str| {
            let column = row_group.columns().iter().find(|c| c.column_path().string() == name).unwrap();
            column.dictionary_page_offset().is_some()
        };
        assert!(!dictionary("id"), "the unique column has no dictionary");
        assert!(dictionary("status"), "other columns keep theirs");
    }

    #[tokio::test]
    async fn overwrite_replaces_the_table_in_one_commit() {
        let lake = lake("overwrite");
        let id = TableId::new("demo", "courses");
        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Overwrite).await.unwrap();
        table.write(batch(&[(1, "a", 1), (2, "b", 1)])).await.unwrap();
        table.commit(None, "r1").await.unwrap();
        let before = table.version();

        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Overwrite).await.unwrap();
        table.write(batch(&[(7, "z", 2)])).await.unwrap();
        // Until the commit, readers still see the old table.
        assert_eq!(rows(&lake, &id).await.len(), 2);
        let summary = table.commit(None, "r2").await.unwrap();
        assert_eq!(summary.version, before + 1, "one commit replaces everything");
        assert_eq!(rows(&lake, &id).await, vec![(7, "z".into(), 2)]);
    }

    #[tokio::test]
    async fn new_columns_evolve_the_table_and_type_changes_are_refused() {
        let lake = lake("evolve");
        let id = TableId::new("demo", "people");
        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Append).await.unwrap();
        table.write(batch(&[(1, "a", 1)])).await.unwrap();
        table.commit(None, "r").await.unwrap();

        let mut wider: Vec<Field> = schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        wider.push(Field::new("email", DataType::Utf8, true));
        let wider = Arc::new(Schema::new(wider));
        let mut table = StreamTable::open(&lake, &id, wider.clone(), WriteMode::Append).await.unwrap();
        assert_eq!(table.new_columns(), ["email".to_string()]);
        let base = batch(&[(2, "b", 2)]);
        let mut columns = base.columns().to_vec();
        columns.push(Arc::new(StringArray::from(vec!["x@example.com"])));
        table.write(RecordBatch::try_new(wider, columns).unwrap()).await.unwrap();
        table.commit(None, "r").await.unwrap();
        let stored = lake.load_table(&lake.table_url(&id)).await.unwrap().unwrap();
        let names: Vec<String> = stored.snapshot().unwrap().schema().fields().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["id", "status", "updated", "email"]);

        let changed = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("status", DataType::Utf8, true),
            Field::new("updated", DataType::Int64, true),
        ]));
        let err = StreamTable::open(&lake, &id, changed, WriteMode::Append).await.unwrap_err().to_string();
        assert!(
            err.contains("demo.people") && err.contains("`id`") && err.contains("Int64") && err.contains("Utf8"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn merge_without_a_key_is_refused() {
        let err = StreamTable::open(
            &lake("nokey"),
            &TableId::new("a", "b"),
            schema(),
            WriteMode::Merge { key: vec![], cursor: None },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("primary key"), "{err}");
    }

    /// The data files the table's current version references.
    async fn files(lake: &Lake, id: &TableId) -> Vec<String> {
        let table = lake.load_table(&lake.table_url(id)).await.unwrap().unwrap();
        let mut files: Vec<String> =
            table.snapshot().unwrap().log_data().iter().map(|f| f.path().to_string()).collect();
        files.sort();
        files
    }

    #[tokio::test]
    async fn replace_rows_rewrites_only_the_files_holding_them_in_the_commit_of_the_new_rows() {
        let lake = lake("replace-append");
        let id = TableId::new("demo", "answers");
        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Append).await.unwrap();
        // `status` plays the origin column (`_file` of the files connector).
        table.write(batch(&[(1, "a.csv", 1), (2, "b.csv", 1)])).await.unwrap();
        table.commit(Some(&json!({"files": 2})), "r1").await.unwrap();
        let mixed = files(&lake, &id).await;
        table.write(batch(&[(3, "c.csv", 1)])).await.unwrap();
        table.commit(Some(&json!({"files": 3})), "r1").await.unwrap();
        let untouched: Vec<String> = files(&lake, &id).await.into_iter().filter(|f| !mixed.contains(f)).collect();
        let before = table.version();

        // a.csv re-uploaded: its old row goes, its new rows come, in one commit.
        assert!(table.replace_rows("status", "a.csv"));
        table.write(batch(&[(4, "a.csv", 2), (5, "a.csv", 2)])).await.unwrap();
        let summary = table.commit(Some(&json!({"files": 3, "a": 2})), "r2").await.unwrap();
        assert_eq!(summary.version, before + 1, "the delete and the new rows are one commit");
        assert_eq!(
            rows(&lake, &id).await,
            vec![(2, "b.csv".into(), 1), (3, "c.csv".into(), 1), (4, "a.csv".into(), 2), (5, "a.csv".into(), 2)]
        );
        let now = files(&lake, &id).await;
        assert!(!now.iter().any(|f| mixed.contains(f)), "the file holding a.csv's old row is rewritten");
        assert!(untouched.iter().all(|f| now.contains(f)), "a file without a.csv rows is left alone");
        assert_eq!(table.committed_state().await.unwrap(), Some(json!({"files": 3, "a": 2})));
        let app_id = "txlake:demo/answers";
        let stored = lake.load_table(&lake.table_url(&id)).await.unwrap().unwrap();
        let txn = stored.snapshot().unwrap().transaction_version(stored.log_store().as_ref(), app_id).await.unwrap();
        assert_eq!(txn, Some(3), "the txn version counts the replacing commit like any other");

        // The replacement was for that commit only: further rows of a.csv just add.
        table.write(batch(&[(6, "a.csv", 3)])).await.unwrap();
        table.commit(None, "r2").await.unwrap();
        assert_eq!(rows(&lake, &id).await.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6]);
    }

    #[tokio::test]
    async fn an_aborted_replacement_leaves_the_old_rows_and_state() {
        let lake = lake("replace-abort");
        let id = TableId::new("demo", "answers");
        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Append).await.unwrap();
        table.write(batch(&[(1, "a.csv", 1), (2, "b.csv", 1)])).await.unwrap();
        table.commit(Some(&json!({"a": 1})), "r1").await.unwrap();
        assert!(table.replace_rows("status", "a.csv"));
        table.write(batch(&[(3, "a.csv", 2)])).await.unwrap();
        // The run is aborted (or the process dies) before the commit.
        table.abort();
        assert!(!table.has_replacements());
        table.commit(Some(&json!({"a": 1, "b": 1})), "r1").await.unwrap();
        drop(table);
        let reopened = StreamTable::open(&lake, &id, schema(), WriteMode::Append).await.unwrap();
        assert_eq!(reopened.committed_state().await.unwrap(), Some(json!({"a": 1, "b": 1})));
        assert_eq!(rows(&lake, &id).await, vec![(1, "a.csv".into(), 1), (2, "b.csv".into(), 1)]);
    }

    #[tokio::test]
    async fn a_replacement_without_new_rows_empties_the_source() {
        let lake = lake("replace-empty");
        let id = TableId::new("demo", "answers");
        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Append).await.unwrap();
        table.write(batch(&[(1, "a.csv", 1), (2, "a.csv", 1)])).await.unwrap();
        table.commit(None, "r1").await.unwrap();
        assert!(table.replace_rows("status", "a.csv"));
        let summary = table.commit(Some(&json!({"a": "empty now"})), "r2").await.unwrap();
        assert_eq!(summary.rows, 0);
        assert!(rows(&lake, &id).await.is_empty());
        assert!(files(&lake, &id).await.is_empty(), "a file left with no rows is removed, not rewritten empty");
    }

    #[tokio::test]
    async fn merge_replacement_deletes_the_rows_the_new_records_do_not_update() {
        let lake = lake("replace-merge");
        let id = TableId::new("demo", "answers");
        let mode = WriteMode::Merge { key: vec!["id".into()], cursor: Some("updated".into()) };
        let mut table = StreamTable::open(&lake, &id, schema(), mode).await.unwrap();
        table.write(batch(&[(1, "a.csv", 1), (2, "a.csv", 1), (3, "b.csv", 1)])).await.unwrap();
        table.commit(None, "r1").await.unwrap();
        let before = table.version();
        assert!(table.replace_rows("status", "a.csv"));
        table.write(batch(&[(1, "a.csv", 2), (4, "a.csv", 2)])).await.unwrap();
        let summary = table.commit(Some(&json!({"a": 2})), "r2").await.unwrap();
        assert_eq!(summary.version, before + 1);
        assert_eq!(
            rows(&lake, &id).await,
            vec![(1, "a.csv".into(), 2), (3, "b.csv".into(), 1), (4, "a.csv".into(), 2)]
        );
        // Next commit: no deletion.
        table.write(batch(&[(5, "a.csv", 3)])).await.unwrap();
        table.commit(None, "r2").await.unwrap();
        assert_eq!(rows(&lake, &id).await.len(), 4);
    }

    #[tokio::test]
    async fn overwrite_ignores_replacements() {
        let lake = lake("replace-overwrite");
        let id = TableId::new("demo", "answers");
        let mut table = StreamTable::open(&lake, &id, schema(), WriteMode::Overwrite).await.unwrap();
        assert!(table.replace_rows("status", "a.csv"));
        assert!(!table.has_replacements(), "the overwrite replaces everything anyway");
        assert!(!table.replace_rows("_file", "a.csv"), "no such column");
    }

    #[test]
    fn statistics_rule_out_files_only_when_safe() {
        let stats = json!({
            "numRecords": 3,
            "minValues": {"_file": "b.csv", "n": 1},
            "maxValues": {"_file": "d.csv"},
            "nullCount": {"_file": 0, "empty": 3}
        });
        assert!(!may_contain(Some(&stats), "_file", "a.csv"), "below the minimum");
        assert!(!may_contain(Some(&stats), "_file", "e.csv"), "above the maximum");
        assert!(may_contain(Some(&stats), "_file", "c.csv"));
        assert!(may_contain(Some(&stats), "_file", "d.csv.bak"), "a maximum may be a truncated prefix");
        assert!(!may_contain(Some(&stats), "empty", "x"), "a column that is all nulls");
        assert!(may_contain(Some(&stats), "n", "0"), "non-string statistics are not compared");
        assert!(may_contain(None, "_file", "a.csv"), "no statistics, no pruning");
    }
}
