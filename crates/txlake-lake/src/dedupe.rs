//! Keeps the last row of each primary key within a group of batches, so a MERGE never sees
//! two source rows for one target row.

use std::collections::HashMap;

use arrow::array::UInt32Array;
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};

use crate::error::Result;

/// The rows of `batches` with only the last occurrence of each key, in first-seen order.
/// Connectors emit records in cursor order, so the last occurrence is the newest.
pub(crate) fn last_per_key(schema: &SchemaRef, batches: &[RecordBatch], key: &[String]) -> Result<RecordBatch> {
    let all = concat_batches(schema, batches)?;
    let key_columns = key
        .iter()
        .map(|k| {
            all.column_by_name(k).cloned().ok_or_else(|| {
                arrow::error::ArrowError::SchemaError(format!("primary key column `{k}` is not in the data"))
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let converter = RowConverter::new(key_columns.iter().map(|c| SortField::new(c.data_type().clone())).collect())?;
    let rows = converter.convert_columns(&key_columns)?;
    let mut last: HashMap<arrow::row::Row<'_>, u32> = HashMap::with_capacity(all.num_rows());
    let mut order = Vec::with_capacity(all.num_rows());
    for (i, row) in rows.iter().enumerate() {
        let i = i as u32;
        if last.insert(row, i).is_none() {
            order.push(row);
        }
    }
    if order.len() == all.num_rows() {
        return Ok(all);
    }
    let indices = UInt32Array::from_iter_values(order.iter().map(|row| last[row]));
    Ok(take_record_batch(&all, &indices)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn last_row_of_each_key_wins() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("status", DataType::Utf8, false),
        ]));
        let batch = |ids: Vec<i64>, st: Vec<&str>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(st))])
                .unwrap()
        };
        let out = last_per_key(
            &schema,
            &[batch(vec![1, 2], vec!["open", "open"]), batch(vec![1, 3], vec!["solved", "open"])],
            &["id".to_string()],
        )
        .unwrap();
        let ids: Vec<i64> = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
        let st = out.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(st.value(0), "solved");
    }
}
