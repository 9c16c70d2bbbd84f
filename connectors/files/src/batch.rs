//! Builds a stream's record batches row by row: parsed [`Cell`]s go into typed Arrow builders,
//! and the connector's own columns (`_file`, `_row`, `_modified`, `_sheet`) are filled in.
//!
//! A batch holds rows of one file (and one sheet), so those columns are constants of the
//! batch, built once when it is finished.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringArray, StringBuilder,
    TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::names::{FILE_COLUMN, MODIFIED_COLUMN, ROW_COLUMN, SHEET_COLUMN};
use crate::value::{Cell, ColumnType};

enum Column {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Text(StringBuilder),
    File,
    Row,
    Modified,
    Sheet,
}

/// A stream's schema seen as data columns (with their types) and the connector's columns.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The stream's schema.
    pub schema: SchemaRef,
    /// The type of each field; `None` for the connector's own columns.
    pub kinds: Vec<Option<ColumnType>>,
    /// Field index by name.
    pub index: HashMap<String, usize>,
}

impl Layout {
    /// The layout of a stream schema; fields of types the connector does not build from text
    /// (Parquet's own types) are text here and never built by [`BatchBuilder`].
    pub fn new(schema: SchemaRef) -> Layout {
        let kinds = schema
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                FILE_COLUMN | ROW_COLUMN | MODIFIED_COLUMN | SHEET_COLUMN => None,
                _ => Some(ColumnType::from_arrow(f.data_type()).unwrap_or(ColumnType::String)),
            })
            .collect();
        let index = schema.fields().iter().enumerate().map(|(i, f)| (f.name().clone(), i)).collect();
        Layout { schema, kinds, index }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }
}

/// Rows of one file (and sheet) on their way to a [`RecordBatch`].
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: Int64Builder,
    len: usize,
}

impl BatchBuilder {
    /// A builder for `layout`, sized for `capacity` rows.
    pub fn new(layout: &Layout, capacity: usize) -> BatchBuilder {
        let columns = layout
            .schema
            .fields()
            .iter()
            .zip(&layout.kinds)
            .map(|(field, kind)| match kind {
                Some(ColumnType::Int) => Column::Int(Int64Builder::with_capacity(capacity)),
                Some(ColumnType::Float) => Column::Float(Float64Builder::with_capacity(capacity)),
                Some(ColumnType::Bool) => Column::Bool(BooleanBuilder::with_capacity(capacity)),
                Some(ColumnType::Date) => Column::Date(Date32Builder::with_capacity(capacity)),
                Some(ColumnType::Timestamp) => Column::Timestamp(
                    TimestampMicrosecondBuilder::with_capacity(capacity).with_data_type(field.data_type().clone()),
                ),
                Some(ColumnType::String) => Column::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
                None => match field.name().as_str() {
                    FILE_COLUMN => Column::File,
                    ROW_COLUMN => Column::Row,
                    MODIFIED_COLUMN => Column::Modified,
                    _ => Column::Sheet,
                },
            })
            .collect();
        BatchBuilder { schema: layout.schema.clone(), columns, rows: Int64Builder::with_capacity(capacity), len: 0 }
    }

    /// Rows added since the last [`BatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds one row: `cells[i]` is field `i`'s value (text cells index into `text`; the
    /// caller has parsed every value to its column's type), `row` its `_row`.
    pub fn append(&mut self, cells: &[Cell], text: &str, row: i64) {
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            match (column, *cell) {
                (Column::Int(b), Cell::Int(v)) => b.append_value(v),
                (Column::Float(b), Cell::Float(v)) => b.append_value(v),
                (Column::Float(b), Cell::Int(v)) => b.append_value(v as f64),
                (Column::Bool(b), Cell::Bool(v)) => b.append_value(v),
                (Column::Date(b), Cell::Date(v)) => b.append_value(v),
                (Column::Timestamp(b), Cell::Timestamp(v)) => b.append_value(v),
                (Column::Timestamp(b), Cell::Date(v)) => b.append_value(i64::from(v) * 86_400_000_000),
                (Column::Text(b), Cell::Str(start, end)) => {
                    b.append_value(text.get(start as usize..end as usize).unwrap_or_default())
                }
                (Column::Int(b), _) => b.append_null(),
                (Column::Float(b), _) => b.append_null(),
                (Column::Bool(b), _) => b.append_null(),
                (Column::Date(b), _) => b.append_null(),
                (Column::Timestamp(b), _) => b.append_null(),
                (Column::Text(b), _) => b.append_null(),
                (Column::File | Column::Row | Column::Modified | Column::Sheet, _) => {}
            }
        }
        self.rows.append_value(row);
        self.len += 1;
    }

    /// The pending rows as a batch of the stream's schema, with the file's columns filled
    /// in; the builder is empty again afterwards.
    pub fn finish(&mut self, file: &str, modified: i64, sheet: Option<&str>) -> Result<RecordBatch, ArrowError> {
        let n = self.len;
        let rows: ArrayRef = Arc::new(self.rows.finish());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (column, field) in self.columns.iter_mut().zip(self.schema.fields()) {
            let array: ArrayRef = match column {
                Column::Int(b) => Arc::new(b.finish()),
                Column::Float(b) => Arc::new(b.finish()),
                Column::Bool(b) => Arc::new(b.finish()),
                Column::Date(b) => Arc::new(b.finish()),
                Column::Timestamp(b) => Arc::new(b.finish()),
                Column::Text(b) => Arc::new(b.finish()),
                Column::File => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(file, n))),
                Column::Sheet => Arc::new(match sheet {
                    Some(s) => StringArray::from_iter_values(std::iter::repeat_n(s, n)),
                    None => StringArray::new_null(n),
                }),
                Column::Modified => Arc::new(
                    TimestampMicrosecondArray::from_iter_values(std::iter::repeat_n(modified, n))
                        .with_data_type(field.data_type().clone()),
                ),
                Column::Row => rows.clone(),
            };
            arrays.push(array);
        }
        self.len = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}
