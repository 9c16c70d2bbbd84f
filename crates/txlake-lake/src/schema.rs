//! How a stream's incoming schema maps onto its existing table: new columns are added, a
//! narrower type is widened where that is lossless, and anything else stops the sync with an
//! error naming the column.

use std::sync::Arc;

use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{LakeError, Result};

/// The mapping from a stream's batches onto its table, decided once when the table opens.
#[derive(Debug, Clone)]
pub struct SchemaPlan {
    /// The schema batches are written in: the table's columns (with their stored types)
    /// followed by the stream's new columns.
    pub target: SchemaRef,
    /// Columns the stream adds to the table.
    pub new_columns: Vec<String>,
    /// Whether any incoming column must be cast to its stored type.
    needs_cast: bool,
}

impl SchemaPlan {
    /// Plans writing `incoming` into a table whose schema is `stored` (`None`: a new table).
    /// `table` names the table in errors.
    pub fn new(table: &str, stored: Option<&Schema>, incoming: &Schema) -> Result<Self> {
        let Some(stored) = stored else {
            return Ok(Self { target: Arc::new(nullable(incoming)), new_columns: Vec::new(), needs_cast: false });
        };
        let mut fields: Vec<Field> = stored.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
        let mut new_columns = Vec::new();
        let mut needs_cast = false;
        for field in incoming.fields() {
            match stored.field_with_name(field.name()) {
                Ok(existing) if existing.data_type() == field.data_type() => {}
                Ok(existing) if widens(field.data_type(), existing.data_type()) => needs_cast = true,
                Ok(existing) => {
                    return Err(LakeError::IncompatibleType {
                        stream: table.to_string(),
                        column: field.name().clone(),
                        old: existing.data_type().to_string(),
                        new: field.data_type().to_string(),
                    });
                }
                Err(_) => {
                    new_columns.push(field.name().clone());
                    fields.push(field.as_ref().clone().with_nullable(true));
                }
            }
        }
        Ok(Self { target: Arc::new(Schema::new(fields)), new_columns, needs_cast })
    }

    /// Brings a batch into the target schema: casts widened columns and fills columns the
    /// stream no longer sends with nulls.
    pub fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if !self.needs_cast && batch.schema().fields().len() == self.target.fields().len() {
            let same_order =
                batch.schema().fields().iter().zip(self.target.fields()).all(|(a, b)| a.name() == b.name());
            if same_order {
                return Ok(RecordBatch::try_new(self.target.clone(), batch.columns().to_vec())?);
            }
        }
        let columns = self
            .target
            .fields()
            .iter()
            .map(|field| match batch.column_by_name(field.name()) {
                Some(column) if column.data_type() == field.data_type() => Ok(column.clone()),
                Some(column) => Ok(cast(column, field.data_type())?),
                None => Ok(arrow::array::new_null_array(field.data_type(), batch.num_rows())),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.target.clone(), columns)?)
    }
}

/// The schema with every field nullable: the lake never rejects a record for a missing value.
fn nullable(schema: &Schema) -> Schema {
    Schema::new(schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>())
}

/// Whether values of `from` fit `to` without loss.
fn widens(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    matches!(
        (from, to),
        (Int8, Int16 | Int32 | Int64 | Float32 | Float64)
            | (Int16, Int32 | Int64 | Float32 | Float64)
            | (Int32, Int64 | Float64)
            | (UInt8, Int16 | Int32 | Int64)
            | (UInt16, Int32 | Int64)
            | (UInt32, Int64)
            | (Float32, Float64)
            | (Utf8View | LargeUtf8, Utf8)
            | (Date32, Timestamp(_, _))
    ) || matches!((from, to), (Timestamp(_, a), Timestamp(_, b)) if a.is_some() == b.is_some())
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, StringArray};

    use super::*;

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(fields.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>())
    }

    #[test]
    fn new_table_takes_the_incoming_schema() {
        let incoming = schema(&[("id", DataType::Int64)]);
        let plan = SchemaPlan::new("c.s", None, &incoming).unwrap();
        assert_eq!(plan.target.as_ref(), &incoming);
        assert!(plan.new_columns.is_empty());
    }

    #[test]
    fn new_columns_are_added_and_missing_ones_null_filled() {
        let stored = schema(&[("id", DataType::Int64), ("old", DataType::Utf8)]);
        let incoming = schema(&[("id", DataType::Int32), ("new", DataType::Utf8)]);
        let plan = SchemaPlan::new("c.s", Some(&stored), &incoming).unwrap();
        assert_eq!(plan.new_columns, vec!["new".to_string()]);
        let batch = RecordBatch::try_new(
            Arc::new(incoming),
            vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(StringArray::from(vec!["a", "b"]))],
        )
        .unwrap();
        let out = plan.apply(batch).unwrap();
        assert_eq!(out.schema().field(0).data_type(), &DataType::Int64, "widened to the stored type");
        assert_eq!(out.column(1).null_count(), 2, "`old` is no longer sent");
        assert_eq!(out.schema().field(2).name(), "new");
    }

    #[test]
    fn narrowing_or_changing_a_type_names_the_column() {
        let stored = schema(&[("score", DataType::Int32)]);
        let incoming = schema(&[("score", DataType::Utf8)]);
        let err = SchemaPlan::new("demo.surveys", Some(&stored), &incoming).unwrap_err().to_string();
        assert!(err.contains("demo.surveys") && err.contains("`score`"), "{err}");
        assert!(err.contains("Int32") && err.contains("Utf8"), "{err}");
        assert!(err.contains("--full-refresh"), "{err}");
    }
}
