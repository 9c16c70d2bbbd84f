//! Records → Arrow: the raw JSON of each stream's `RECORD` data is gathered and decoded by
//! arrow-json into record batches of the stream's schema.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::ArrayData;
use arrow::array::make_array;
use arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use arrow::json::ReaderBuilder;
use arrow::json::reader::Decoder;
use arrow::record_batch::RecordBatch;
use txlake_connector::ConnectorError;

use crate::protocol::snippet;

/// Rows per record batch unless a `STATE` of the stream flushes it sooner.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// The pending records of every stream being read.
pub struct Batches {
    streams: BTreeMap<String, Pending>,
    batch_rows: usize,
}

/// One stream's records since its last batch: the raw JSON, one record per line.
struct Pending {
    /// The stream's schema, which its batches have.
    schema: SchemaRef,
    /// The schema decoded, with named time zones replaced (see [`decoding_type`]).
    decoding: SchemaRef,
    decoder: Decoder,
    raw: Vec<u8>,
    rows: usize,
}

fn decoder(decoding: &SchemaRef, batch_rows: usize) -> Result<Decoder, ConnectorError> {
    // Untyped fields are `Utf8`: numbers and booleans in them are kept as text.
    Ok(ReaderBuilder::new(decoding.clone()).with_batch_size(batch_rows).with_coerce_primitive(true).build_decoder()?)
}

/// arrow-json understands named time zones (`UTC`) only with arrow's `chrono-tz` feature,
/// so timestamps are decoded at `+00:00` (a time without offset reads as UTC either way)
/// and relabelled to the declared zone afterwards: the instants are the same.
fn decoding_type(data_type: &DataType) -> DataType {
    let field = |f: &FieldRef| Arc::new(f.as_ref().clone().with_data_type(decoding_type(f.data_type())));
    match data_type {
        DataType::Timestamp(unit, Some(zone)) if !zone.starts_with(['+', '-']) => {
            DataType::Timestamp(*unit, Some("+00:00".into()))
        }
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        DataType::List(item) => DataType::List(field(item)),
        DataType::LargeList(item) => DataType::LargeList(field(item)),
        DataType::FixedSizeList(item, size) => DataType::FixedSizeList(field(item), *size),
        DataType::Map(entries, sorted) => DataType::Map(field(entries), *sorted),
        other => other.clone(),
    }
}

fn decoding_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<FieldRef> = schema
        .fields()
        .iter()
        .map(|f| Arc::new(f.as_ref().clone().with_data_type(decoding_type(f.data_type()))))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The decoded batch with the stream's own types (the zones [`decoding_type`] replaced).
fn relabel(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ConnectorError> {
    if batch.schema() == *schema {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                Ok(make_array(relabel_data(column.to_data(), field.data_type())?))
            }
        })
        .collect::<Result<Vec<_>, ConnectorError>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn relabel_data(data: ArrayData, target: &DataType) -> Result<ArrayData, ConnectorError> {
    let children = match target {
        DataType::Struct(fields) => data
            .child_data()
            .iter()
            .zip(fields)
            .map(|(child, field)| relabel_data(child.clone(), field.data_type()))
            .collect::<Result<Vec<_>, _>>()?,
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::FixedSizeList(item, _)
        | DataType::Map(item, _) => data
            .child_data()
            .iter()
            .map(|child| relabel_data(child.clone(), item.data_type()))
            .collect::<Result<_, _>>()?,
        _ => data.child_data().to_vec(),
    };
    Ok(data.into_builder().data_type(target.clone()).child_data(children).build()?)
}

impl Batches {
    /// Batching for these streams, `batch_rows` rows at most per batch.
    pub fn new<'a>(
        streams: impl IntoIterator<Item = (&'a str, SchemaRef)>,
        batch_rows: usize,
    ) -> Result<Self, ConnectorError> {
        let batch_rows = batch_rows.max(1);
        let streams = streams
            .into_iter()
            .map(|(name, schema)| {
                let decoding = decoding_schema(&schema);
                let decoder = decoder(&decoding, batch_rows)?;
                Ok((name.to_string(), Pending { schema, decoding, decoder, raw: Vec::new(), rows: 0 }))
            })
            .collect::<Result<_, ConnectorError>>()?;
        Ok(Self { streams, batch_rows })
    }

    /// Whether `stream` is being read.
    pub fn has(&self, stream: &str) -> bool {
        self.streams.contains_key(stream)
    }

    /// The streams being read, by name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.streams.keys().map(String::as_str)
    }

    /// Adds one record's raw JSON; returns a full batch when the stream reaches the batch
    /// size. `false` when the stream is not being read.
    pub fn push(&mut self, stream: &str, data: &[u8]) -> Result<Option<RecordBatch>, ConnectorError> {
        let Some(pending) = self.streams.get_mut(stream) else {
            return Err(ConnectorError::Internal(format!("no batch for stream `{stream}`")));
        };
        pending.raw.extend_from_slice(data);
        pending.raw.push(b'\n');
        pending.rows += 1;
        if pending.rows >= self.batch_rows { pending.flush(stream, self.batch_rows) } else { Ok(None) }
    }

    /// The pending records of `stream` as a batch, if there are any.
    pub fn flush(&mut self, stream: &str) -> Result<Option<RecordBatch>, ConnectorError> {
        match self.streams.get_mut(stream) {
            Some(pending) => pending.flush(stream, self.batch_rows),
            None => Ok(None),
        }
    }

    /// The pending records of every stream, as `(stream, batch)`.
    pub fn flush_all(&mut self) -> Result<Vec<(String, RecordBatch)>, ConnectorError> {
        let mut out = Vec::new();
        for (stream, pending) in &mut self.streams {
            if let Some(batch) = pending.flush(stream, self.batch_rows)? {
                out.push((stream.clone(), batch));
            }
        }
        Ok(out)
    }
}

impl Pending {
    fn flush(&mut self, stream: &str, batch_rows: usize) -> Result<Option<RecordBatch>, ConnectorError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let batch = match decode(&mut self.decoder, &self.raw) {
            Ok(batch) => batch,
            Err(e) => return Err(self.explain(stream, e, batch_rows)),
        };
        self.raw.clear();
        self.rows = 0;
        batch.map(|batch| relabel(batch, &self.schema)).transpose()
    }

    /// The decoder says what is wrong but not with which record: find the first record
    /// that fails on its own and show it.
    fn explain(&self, stream: &str, batch_error: arrow::error::ArrowError, batch_rows: usize) -> ConnectorError {
        for record in self.raw.split(|b| *b == b'\n').filter(|r| !r.is_empty()) {
            let Ok(mut single) = decoder(&self.decoding, batch_rows) else { break };
            if let Err(e) = decode(&mut single, record) {
                return mismatch(stream, &e, record);
            }
        }
        ConnectorError::Source(format!("stream `{stream}`: records do not match its schema: {batch_error}"))
    }
}

fn decode(decoder: &mut Decoder, mut raw: &[u8]) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
    while !raw.is_empty() {
        let read = decoder.decode(raw)?;
        if read == 0 {
            break;
        }
        raw = &raw[read..];
    }
    decoder.flush()
}

fn mismatch(stream: &str, error: &arrow::error::ArrowError, record: &[u8]) -> ConnectorError {
    ConnectorError::Source(format!(
        "stream `{stream}`: a record does not match the stream's schema ({error}): {}",
        snippet(&String::from_utf8_lossy(record), 300)
    ))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
    use serde_json::json;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(
            txlake_connector::arrow_schema(&json!({"properties": {
                "id": {"type": "integer"},
                "amount": {"type": ["null", "number"]},
                "at": {"type": "string", "format": "date-time"},
                "day": {"type": "string", "format": "date"},
                "local": {"type": "string", "airbyte_type": "timestamp_without_timezone"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "meta": {"type": "object", "properties": {"source": {"type": "string"}, "seen": {"type": "array", "items": {"type": "string", "format": "date-time"}}}},
                "anything": {},
                "extra": {"type": "object"}
            }}))
            .unwrap(),
        )
    }

    #[test]
    fn records_decode_into_the_stream_schema() {
        let mut batches = Batches::new([("events", schema())], 100).unwrap();
        let records = [
            r#"{"id":1,"amount":2.5,"at":"2025-01-02T03:04:05Z","day":"2025-01-02","local":"2025-01-02T03:04:05","tags":["a","b"],"meta":{"source":"web","other":1,"seen":["2025-01-02T03:04:05Z"]},"anything":7,"extra":{"free":"form"},"unknown":true}"#,
            r#"{"id":2,"at":"2025-01-02T03:04:05.123+01:00","day":"2025-01-03","local":"2025-01-02 03:04:05","tags":[],"anything":"x"}"#,
        ];
        for record in records {
            assert!(batches.push("events", record.as_bytes()).unwrap().is_none());
        }
        let batch = batches.flush("events").unwrap().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), schema());
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        assert_eq!(column("id").as_primitive::<Int64Type>().values(), &[1, 2]);
        assert!(column("amount").is_null(1));
        assert_eq!(column("amount").as_primitive::<Float64Type>().value(0), 2.5);
        let at = column("at");
        let at = at.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(at.value(0), 1_735_787_045_000_000);
        assert_eq!(at.value(1), 1_735_787_045_123_000 - 3_600_000_000);
        assert_eq!(column("local").as_primitive::<TimestampMicrosecondType>().value(0), 1_735_787_045_000_000);
        assert_eq!(column("day").as_primitive::<Date32Type>().value(0), 20_090);
        assert_eq!(column("tags").as_list::<i32>().value(0).len(), 2);
        let meta = column("meta");
        assert_eq!(meta.as_struct().column_by_name("source").unwrap().as_string::<i32>().value(0), "web");
        let seen = meta.as_struct().column_by_name("seen").unwrap().as_list::<i32>().value(0);
        assert_eq!(seen.as_primitive::<TimestampMicrosecondType>().value(0), 1_735_787_045_000_000);
        assert_eq!(column("anything").as_string::<i32>().value(0), "7", "untyped numbers are kept as text");
        assert!(batches.flush("events").unwrap().is_none(), "nothing left");
    }

    #[test]
    fn a_full_batch_comes_out_at_the_batch_size() {
        let mut batches = Batches::new([("events", schema())], 2).unwrap();
        assert!(
            batches
                .push(
                    "events",
                    br#"{"id":1,"at":"2025-01-01T00:00:00Z","day":"2025-01-01","local":"2025-01-01T00:00:00"}"#
                )
                .unwrap()
                .is_none()
        );
        let full = batches
            .push("events", br#"{"id":2,"at":"2025-01-01T00:00:00Z","day":"2025-01-01","local":"2025-01-01T00:00:00"}"#)
            .unwrap();
        assert_eq!(full.unwrap().num_rows(), 2);
        assert!(batches.flush_all().unwrap().is_empty());
    }

    #[test]
    fn a_record_that_does_not_fit_names_the_stream_and_shows_the_record() {
        let mut batches = Batches::new([("events", schema())], 100).unwrap();
        let good = r#"{"id":1,"at":"2025-01-01T00:00:00Z","day":"2025-01-01","local":"2025-01-01T00:00:00"}"#;
        batches.push("events", good.as_bytes()).unwrap();
        batches.push("events", br#"{"id":"seven","at":"2025-01-01T00:00:00Z"}"#).unwrap();
        let err = batches.flush("events").unwrap_err().to_string();
        assert!(err.contains("stream `events`") && err.contains(r#""id":"seven""#), "{err}");
        assert!(!err.contains(r#""id":1"#), "shows the failing record, not the batch: {err}");
    }

    #[test]
    fn an_object_in_an_untyped_field_fails_with_the_field() {
        let mut batches = Batches::new([("events", schema())], 100).unwrap();
        batches.push("events", br#"{"id":1,"anything":{"nested":true}}"#).unwrap();
        let err = batches.flush("events").unwrap_err().to_string();
        assert!(err.contains("anything"), "{err}");
    }
}
