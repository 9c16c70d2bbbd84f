//! Parquet files through the parquet crate's Arrow reader: the schema as stored (columns
//! named like the connector's own get a suffix), `columns` overrides cast strictly, and
//! record batches passed on with the connector's columns added.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;

use crate::names::{FILE_COLUMN, MODIFIED_COLUMN, ROW_COLUMN, SHEET_COLUMN, unique_names};
use crate::read::{FileJob, ReadError};
use crate::sample::{FileSample, Sampled};
use crate::source::Whole;
use crate::value::Inference;

fn builder<T: ChunkReader + 'static>(input: T) -> Result<ParquetRecordBatchReaderBuilder<T>, String> {
    ParquetRecordBatchReaderBuilder::try_new(input).map_err(|e| format!("not a readable Parquet file: {e}"))
}

/// The file's column names, made unique against the connector's own.
fn names(schema: &SchemaRef) -> Vec<String> {
    unique_names(schema.fields().iter().map(|f| f.name().clone()).collect())
}

fn sample_in<T: ChunkReader + 'static>(input: T, rows: usize) -> Result<FileSample, String> {
    let builder = builder(input)?;
    let schema = builder.schema().clone();
    let names = names(&schema);
    let mut inferences = vec![Inference::default(); names.len()];
    let mut reader = builder.with_batch_size(rows.max(1)).build().map_err(|e| e.to_string())?;
    if let Some(batch) = reader.next() {
        let batch = batch.map_err(|e| format!("cannot decode: {e}"))?;
        for (inference, column) in inferences.iter_mut().zip(batch.columns()) {
            if column.data_type().is_integer()
                && let Ok(ints) = arrow::compute::cast(column, &DataType::Int64)
                && let Some(ints) = ints.as_any().downcast_ref::<Int64Array>()
            {
                ints.iter().flatten().for_each(|v| inference.int(v));
            }
        }
    }
    let columns = names
        .into_iter()
        .zip(inferences)
        .zip(schema.fields())
        .map(|((name, inference), field)| Sampled { name, inference, stored: Some(field.data_type().clone()) })
        .collect();
    Ok(FileSample { columns })
}

/// Samples a Parquet file: its stored schema, and integer ranges of the first `rows` rows.
pub fn sample(whole: Whole, rows: usize) -> Result<FileSample, String> {
    match whole {
        Whole::File(f) => sample_in(f, rows),
        Whole::Bytes(b) => sample_in(b, rows),
    }
}

/// One batch of the file in the stream's schema.
fn conform(
    job: &FileJob<'_>,
    stream: &SchemaRef,
    names: &[String],
    batch: &RecordBatch,
    first_row: i64,
) -> Result<RecordBatch, ReadError> {
    let n = batch.num_rows();
    let strict = CastOptions { safe: false, ..Default::default() };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(stream.fields().len());
    for field in stream.fields() {
        let array: ArrayRef = match field.name().as_str() {
            FILE_COLUMN => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(job.file.name.as_str(), n))),
            ROW_COLUMN => Arc::new(Int64Array::from_iter_values(first_row..first_row + n as i64)),
            MODIFIED_COLUMN => Arc::new(
                TimestampMicrosecondArray::from_iter_values(std::iter::repeat_n(job.file.modified, n))
                    .with_data_type(field.data_type().clone()),
            ),
            SHEET_COLUMN => new_null_array(&DataType::Utf8, n),
            name => match names.iter().position(|x| x == name) {
                None => new_null_array(field.data_type(), n),
                Some(i) => {
                    let column = batch.column(i);
                    if column.data_type() == field.data_type() {
                        column.clone()
                    } else {
                        cast_with_options(column, field.data_type(), &strict).map_err(|e| {
                            ReadError::Failed(format!(
                                "{}: column \"{name}\" is {} in this file, and its values do not all convert to the stream's {} ({e}); declare its type in `columns` or fix the file",
                                job.file.name,
                                column.data_type(),
                                field.data_type()
                            ))
                        })?
                    }
                }
            },
        };
        columns.push(array);
    }
    RecordBatch::try_new(stream.clone(), columns)
        .map_err(|e| ReadError::Failed(format!("{}: building a batch failed (a bug): {e}", job.file.name)))
}

fn read_in<T: ChunkReader + 'static>(job: &mut FileJob<'_>, input: T) -> Result<(), ReadError> {
    let fail = |e: String| ReadError::Failed(format!("{}: {e}", job.file.name));
    let builder = builder(input).map_err(fail)?;
    let names = names(builder.schema());
    let stream = job.layout().schema.clone();
    let reader = builder.with_batch_size(job.settings.batch_size).build().map_err(|e| fail(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| fail(format!("cannot decode: {e}")))?;
        let first = job.rows() + 1;
        let n = batch.num_rows() as u64;
        let skip = job.skip_count(n);
        job.advance(n);
        if skip == n {
            continue;
        }
        let batch = batch.slice(skip as usize, (n - skip) as usize);
        let out = conform(job, &stream, &names, &batch, (first + skip) as i64)?;
        job.emit(out)?;
        job.checkpoint_rows(false)?;
    }
    job.checkpoint_rows(true)
}

/// Reads a Parquet file into the job's stream.
pub fn read(job: &mut FileJob<'_>, whole: Whole) -> Result<(), ReadError> {
    match whole {
        Whole::File(f) => read_in(job, f),
        Whole::Bytes(b) => read_in(job, b),
    }
}
