//! Result formats: which one a client asked for, and how a result is written in it.
//!
//! Every data endpoint answers in one of four formats, chosen by [`Format::negotiate`]:
//!
//! - **JSON** (the default), shaped for dashboards — rows are arrays in column order:
//!
//!   ```json
//!   {"columns": [{"name": "segment", "type": "Utf8"}, {"name": "nps", "type": "Float64"}],
//!    "rows": [["smb", 12.5], ["enterprise", null]],
//!    "row_count": 2}
//!   ```
//!
//!   `type` is the Arrow data type's display name. Values: integers, floats and decimals are JSON
//!   numbers (a NaN or infinite float is `null`); strings, booleans and nulls are themselves;
//!   timestamps are RFC 3339 strings in UTC with a `Z` (`2025-01-31T00:00:00Z`), with as many
//!   fraction digits as needed (none, 3, 6 or 9); a timestamp without a time zone is taken to be
//!   UTC; dates are `YYYY-MM-DD`; lists are arrays and structs objects, as Arrow's JSON writer
//!   writes them.
//! - **CSV**: a header line, then RFC 4180 (CRLF line ends, fields quoted only when needed, `"`
//!   doubled); a null is an empty field; timestamps and dates as in JSON; a list or struct is
//!   its JSON text.
//! - **Arrow**: the Arrow IPC stream format.
//! - **Parquet**: a Parquet file (zstd-compressed).
//!
//! [`encode`] writes a whole result at once; [`stream_body`] writes it as its batches arrive.
//! Both run the same encoder, so they produce the same bytes.

use std::io::Write;
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder, make_array};
use arrow::csv::WriterBuilder;
use arrow::csv::writer::Terminator;
use arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use arrow::ipc::writer::StreamWriter;
use arrow::json::writer::{EncoderOptions, make_encoder};
use axum::body::Body;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::Response;
use bytes::Bytes;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::error::ApiError;

/// A format a result can be answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`, the shape in the module docs. The default.
    Json,
    /// `text/csv` with a header line.
    Csv,
    /// `application/vnd.apache.arrow.stream`: the Arrow IPC stream format.
    Arrow,
    /// `application/vnd.apache.parquet`: a Parquet file.
    Parquet,
}

/// The formats by their `?format=` names, in the order error messages list them.
const NAMES: [(&str, Format); 4] =
    [("json", Format::Json), ("csv", Format::Csv), ("arrow", Format::Arrow), ("parquet", Format::Parquet)];

/// The media types an `Accept` header may name. `*/*` and `application/*` mean "anything", so JSON.
const MEDIA_TYPES: [(&str, Format); 7] = [
    ("application/json", Format::Json),
    ("text/csv", Format::Csv),
    ("application/vnd.apache.arrow.stream", Format::Arrow),
    ("application/vnd.apache.parquet", Format::Parquet),
    ("application/x-parquet", Format::Parquet),
    ("*/*", Format::Json),
    ("application/*", Format::Json),
];

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// The name `?format=` takes: `json`, `csv`, `arrow` or `parquet`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Arrow => "arrow",
            Format::Parquet => "parquet",
        }
    }

    /// The `Content-Disposition` of a response in this format; JSON has none, as it is meant to be
    /// read by programs rather than saved.
    fn disposition(self) -> Option<&'static str> {
        match self {
            Format::Json => None,
            Format::Csv => Some("inline; filename=\"result.csv\""),
            Format::Arrow => Some("inline; filename=\"result.arrows\""),
            Format::Parquet => Some("inline; filename=\"result.parquet\""),
        }
    }

    /// The format a request asked for.
    ///
    /// `?format=` (`json`, `csv`, `arrow` or `parquet`, any case) wins; any other value is a 400
    /// `unknown_format`. Otherwise the `Accept` header decides: of the media types it lists that
    /// are supported, the one with the highest q-value (the first listed on a tie; `q=0` excludes).
    /// A missing or empty header, `*/*`, and a header naming only unsupported types all give JSON:
    /// browsers and HTTP libraries send all kinds of `Accept`s, and JSON is a useful answer to
    /// them all, where a 406 would not be.
    pub fn negotiate(query_format: Option<&str>, accept: Option<&str>) -> Result<Format, ApiError> {
        if let Some(asked) = query_format {
            return NAMES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(asked))
                .map(|(_, format)| *format)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "unknown_format",
                        format!("unknown format `{asked}`; use one of json, csv, arrow, parquet"),
                    )
                });
        }
        let mut best: Option<(f32, Format)> = None;
        for range in accept.unwrap_or_default().split(',') {
            let mut parts = range.split(';');
            let media_type = parts.next().unwrap_or_default().trim();
            let Some(&(_, format)) = MEDIA_TYPES.iter().find(|(name, _)| name.eq_ignore_ascii_case(media_type)) else {
                continue;
            };
            // An unparsable q-value is taken as the default 1 rather than failing the request.
            let q = parts
                .filter_map(|param| param.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, value)| value.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, format));
            }
        }
        Ok(best.map_or(Format::Json, |(_, format)| format))
    }
}

/// Encodes a whole result, e.g. a cached metric result. A failure here is the server's (a value
/// Arrow cannot write), so it is a 500.
pub fn encode(format: Format, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    encode_into(format, schema, batches, &mut out)
        .map_err(|e| ApiError::internal(format!("encoding the result as {}: {e}", format.name())))?;
    Ok(Bytes::from(out))
}

fn encode_into(format: Format, schema: &SchemaRef, batches: &[RecordBatch], out: &mut Vec<u8>) -> Result<()> {
    let mut encoder = Encoder::start(format, schema, out)?;
    for batch in batches {
        encoder.write(batch, out)?;
    }
    encoder.finish(out)
}

/// A response body that encodes `stream` as its batches arrive, so a large result is never held
/// whole in memory: each batch is sent as soon as it is encoded. Parquet is the exception in part:
/// its row groups are buffered until complete (up to 64 MiB) and its footer comes last.
///
/// The status has been sent by the time a batch fails, so a failure ends the body with an error,
/// which aborts the response: the client sees a broken transfer, never a silently short result.
pub fn stream_body(format: Format, stream: SendableRecordBatchStream) -> Body {
    let chunks = futures::stream::try_unfold(Progress::Start(stream), move |progress| next_chunk(format, progress))
        .try_filter(|chunk| std::future::ready(!chunk.is_empty()))
        .inspect_err(move |e| {
            tracing::warn!(format = format.name(), error = %e, "result failed mid-response; aborting the body");
        });
    Body::from_stream(chunks)
}

/// Where [`stream_body`] is in the result.
enum Progress {
    Start(SendableRecordBatchStream),
    Batches(Box<Encoder>, SendableRecordBatchStream),
    Done,
}

async fn next_chunk(format: Format, progress: Progress) -> Result<Option<(Bytes, Progress)>> {
    let mut out = Vec::new();
    let next = match progress {
        Progress::Start(stream) => {
            Progress::Batches(Box::new(Encoder::start(format, &stream.schema(), &mut out)?), stream)
        }
        Progress::Batches(mut encoder, mut stream) => match stream.next().await.transpose()? {
            Some(batch) => {
                encoder.write(&batch, &mut out)?;
                Progress::Batches(encoder, stream)
            }
            None => {
                encoder.finish(&mut out)?;
                Progress::Done
            }
        },
        Progress::Done => return Ok(None),
    };
    Ok(Some((Bytes::from(out), next)))
}

/// A response in `format` with `body`, with its `Content-Type` and, for the file formats, a
/// `Content-Disposition` naming the file should the client save it.
pub fn response(format: Format, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Some(disposition) = format.disposition() {
        headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static(disposition));
    }
    response
}

/// One result being encoded: a header, then batch after batch, then a trailer. Each step appends
/// its bytes to the `out` it is given.
struct Encoder {
    sink: Sink,
    rows: usize,
}

enum Sink {
    Json,
    Csv,
    Arrow(StreamWriter<Vec<u8>>),
    Parquet(ArrowWriter<Vec<u8>>),
}

impl Encoder {
    fn start(format: Format, schema: &SchemaRef, out: &mut Vec<u8>) -> Result<Self> {
        let sink = match format {
            Format::Json => {
                json_header(schema, out)?;
                Sink::Json
            }
            Format::Csv => {
                csv_rows(&RecordBatch::new_empty(Arc::clone(schema)), true, out)?;
                Sink::Csv
            }
            Format::Arrow => Sink::Arrow(StreamWriter::try_new(Vec::new(), schema)?),
            Format::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    // Bounds what one in-flight response buffers before its first row group goes out.
                    .set_max_row_group_bytes(Some(64 << 20))
                    .build();
                Sink::Parquet(ArrowWriter::try_new(Vec::new(), Arc::clone(schema), Some(properties))?)
            }
        };
        let mut encoder = Self { sink, rows: 0 };
        encoder.drain(out)?;
        Ok(encoder)
    }

    fn write(&mut self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
        match &mut self.sink {
            Sink::Json => json_rows(batch, self.rows == 0, out)?,
            Sink::Csv => csv_rows(batch, false, out)?,
            Sink::Arrow(writer) => writer.write(batch)?,
            Sink::Parquet(writer) => writer.write(batch)?,
        }
        self.rows += batch.num_rows();
        self.drain(out)
    }

    fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        match &mut self.sink {
            Sink::Json => write!(out, "],\"row_count\":{}}}", self.rows)?,
            Sink::Csv => {}
            Sink::Arrow(writer) => writer.finish()?,
            Sink::Parquet(writer) => {
                writer.finish()?;
            }
        }
        self.drain(out)
    }

    /// Moves what the binary writers have written so far into `out`. Taking bytes out of a
    /// Parquet writer's sink is safe: it tracks offsets itself, not by the sink's length.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<()> {
        match &mut self.sink {
            Sink::Json | Sink::Csv => {}
            Sink::Arrow(writer) => out.append(writer.get_mut()),
            Sink::Parquet(writer) => {
                writer.sync()?;
                out.append(writer.inner_mut());
            }
        }
        Ok(())
    }
}

const TIMESTAMP_UTC: &str = "%Y-%m-%dT%H:%M:%S%.fZ";
/// Only reached by timestamps nested in lists or structs; top-level ones are made UTC first.
const TIMESTAMP_ZONED: &str = "%Y-%m-%dT%H:%M:%S%.f%:z";
/// For `Date32` and, as Arrow's "datetime" format, `Date64`: both are dates.
const DATE: &str = "%Y-%m-%d";

static JSON_OPTIONS: LazyLock<EncoderOptions> = LazyLock::new(|| {
    EncoderOptions::default()
        .with_explicit_nulls(true)
        .with_date_format(DATE.into())
        .with_datetime_format(DATE.into())
        .with_timestamp_format(TIMESTAMP_UTC.into())
        .with_timestamp_tz_format(TIMESTAMP_ZONED.into())
});

/// A column of the JSON header.
#[derive(Serialize)]
struct Column<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    data_type: String,
}

fn json_header(schema: &Schema, out: &mut Vec<u8>) -> Result<()> {
    let columns: Vec<Column> =
        schema.fields().iter().map(|f| Column { name: f.name(), data_type: f.data_type().to_string() }).collect();
    out.extend_from_slice(b"{\"columns\":");
    serde_json::to_writer(&mut *out, &columns).map_err(|e| DataFusionError::External(Box::new(e)))?;
    out.extend_from_slice(b",\"rows\":[");
    Ok(())
}

/// Appends `batch`'s rows as JSON arrays; `first` says no row precedes them.
fn json_rows(batch: &RecordBatch, first: bool, out: &mut Vec<u8>) -> Result<()> {
    let batch = utc_text_ready(batch, false)?;
    let schema = batch.schema();
    let mut encoders = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| make_encoder(field, column.as_ref(), &JSON_OPTIONS))
        .collect::<Result<Vec<_>, _>>()?;
    for row in 0..batch.num_rows() {
        if row > 0 || !first {
            out.push(b',');
        }
        out.push(b'[');
        for (i, encoder) in encoders.iter_mut().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if encoder.is_null(row) {
                out.extend_from_slice(b"null");
            } else {
                encoder.encode(row, out);
            }
        }
        out.push(b']');
    }
    Ok(())
}

/// Appends `batch` as CSV; with `header` the column names first (an empty batch then writes just them).
fn csv_rows(batch: &RecordBatch, header: bool, out: &mut Vec<u8>) -> Result<()> {
    let batch = utc_text_ready(batch, true)?;
    WriterBuilder::new()
        .with_header(header)
        .with_line_terminator(Terminator::CRLF)
        .with_date_format(DATE.into())
        .with_datetime_format(DATE.into())
        .with_timestamp_format(TIMESTAMP_UTC.into())
        .with_timestamp_tz_format(TIMESTAMP_ZONED.into())
        .build(&mut *out)
        .write(&batch)?;
    Ok(())
}

/// Readies a batch for the text formats. Arrow writes a zoned timestamp in its own zone, so zoned
/// timestamp columns are relabelled zone-less (the values are UTC instants either way) to come
/// out in UTC with a `Z`. With `nested_as_json` (CSV, which has no nested values) lists, structs
/// and maps become their JSON text.
fn utc_text_ready(batch: &RecordBatch, nested_as_json: bool) -> Result<RecordBatch> {
    let needs_change = |data_type: &DataType| {
        matches!(data_type, DataType::Timestamp(_, Some(_))) || (nested_as_json && data_type.is_nested())
    };
    let schema = batch.schema();
    if !schema.fields().iter().any(|field| needs_change(field.data_type())) {
        return Ok(batch.clone());
    }
    let (fields, columns): (Vec<FieldRef>, Vec<ArrayRef>) = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let column = match column.data_type() {
                DataType::Timestamp(unit, Some(_)) => {
                    make_array(column.to_data().into_builder().data_type(DataType::Timestamp(*unit, None)).build()?)
                }
                data_type if nested_as_json && data_type.is_nested() => json_text(field, column)?,
                _ => Arc::clone(column),
            };
            Ok((Arc::new(field.as_ref().clone().with_data_type(column.data_type().clone())), column))
        })
        .collect::<Result<_>>()?;
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// A nested column as a column of each value's JSON text.
fn json_text(field: &FieldRef, column: &ArrayRef) -> Result<ArrayRef> {
    let mut encoder = make_encoder(field, column.as_ref(), &JSON_OPTIONS)?;
    let mut text = StringBuilder::with_capacity(column.len(), column.len() * 16);
    let mut value = Vec::new();
    for row in 0..column.len() {
        if encoder.is_null(row) {
            text.append_null();
        } else {
            value.clear();
            encoder.encode(row, &mut value);
            // The encoder writes JSON, which is UTF-8, so nothing is ever replaced here.
            text.append_value(String::from_utf8_lossy(&value));
        }
    }
    Ok(Arc::new(text.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Date32Array, Date64Array, Decimal128Array, Float64Array, Int32Array, Int64Array, ListArray,
        StringArray, TimestampMicrosecondArray, TimestampNanosecondArray, TimestampSecondArray,
    };
    use arrow::datatypes::Int32Type;
    use arrow::ipc::reader::StreamReader;
    use axum::http::StatusCode;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use serde_json::json;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).expect("test batch")
    }

    fn sample() -> RecordBatch {
        batch(vec![
            ("segment", Arc::new(StringArray::from(vec![Some("smb"), None, Some("a,\"b\"")])) as ArrayRef),
            ("nps", Arc::new(Float64Array::from(vec![Some(12.5), Some(f64::NAN), None]))),
            ("n", Arc::new(Int64Array::from(vec![1, -2, 3]))),
        ])
    }

    fn json_of(batch: &RecordBatch) -> serde_json::Value {
        let bytes = encode(Format::Json, &batch.schema(), std::slice::from_ref(batch)).expect("encode");
        serde_json::from_slice(&bytes).expect("valid JSON")
    }

    fn csv_of(batches: &[RecordBatch]) -> String {
        let bytes = encode(Format::Csv, &batches[0].schema(), batches).expect("encode");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[test]
    fn query_format_wins_over_accept() {
        assert_eq!(Format::negotiate(Some("CSV"), Some("application/json")), Ok(Format::Csv));
        assert_eq!(Format::negotiate(Some("parquet"), None), Ok(Format::Parquet));
        assert_eq!(Format::negotiate(Some("Arrow"), None), Ok(Format::Arrow));
        assert_eq!(Format::negotiate(Some("json"), Some("text/csv")), Ok(Format::Json));
    }

    #[test]
    fn unknown_query_format_is_a_400_naming_the_value_and_the_choices() {
        let err = Format::negotiate(Some("xml"), None).expect_err("xml is no format");
        assert_eq!((err.status, err.code), (StatusCode::BAD_REQUEST, "unknown_format"));
        assert!(err.message.contains("`xml`"), "{}", err.message);
        assert!(err.message.contains("json, csv, arrow, parquet"), "{}", err.message);
        assert!(Format::negotiate(Some(""), None).is_err());
    }

    #[test]
    fn accept_picks_the_highest_q_supported_type() {
        let negotiate = |accept| Format::negotiate(None, Some(accept)).expect("Accept never fails");
        assert_eq!(negotiate("text/csv"), Format::Csv);
        assert_eq!(negotiate("Application/VND.Apache.Arrow.Stream"), Format::Arrow);
        assert_eq!(negotiate("application/x-parquet"), Format::Parquet);
        assert_eq!(negotiate("application/json;q=0.5, text/csv;q=0.9"), Format::Csv);
        assert_eq!(negotiate("text/csv;q=0.2, application/vnd.apache.parquet"), Format::Parquet);
        assert_eq!(negotiate("text/csv ; charset=utf-8 ; q=0.3, */*;q=0.1"), Format::Csv);
        assert_eq!(negotiate("text/csv, application/vnd.apache.arrow.stream"), Format::Csv, "first wins a tie");
        assert_eq!(negotiate("text/csv;q=0, */*;q=0.1"), Format::Json, "q=0 excludes");
        assert_eq!(negotiate("text/csv;q=abc"), Format::Csv, "a broken q is 1");
    }

    #[test]
    fn accept_falls_back_to_json() {
        let negotiate = |accept| Format::negotiate(None, accept).expect("Accept never fails");
        assert_eq!(negotiate(None), Format::Json);
        assert_eq!(negotiate(Some("")), Format::Json);
        assert_eq!(negotiate(Some("*/*")), Format::Json);
        assert_eq!(negotiate(Some("image/png, text/html")), Format::Json);
        assert_eq!(negotiate(Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")), Format::Json);
        assert_eq!(negotiate(Some(",;;=,q")), Format::Json);
    }

    #[test]
    fn json_has_columns_rows_and_row_count() {
        assert_eq!(
            json_of(&sample()),
            json!({
                "columns": [
                    {"name": "segment", "type": "Utf8"},
                    {"name": "nps", "type": "Float64"},
                    {"name": "n", "type": "Int64"},
                ],
                "rows": [["smb", 12.5, 1], [null, null, -2], ["a,\"b\"", null, 3]],
                "row_count": 3,
            })
        );
    }

    #[test]
    fn json_writes_every_common_type() {
        let micros = 1_738_281_600_000_000; // 2025-01-31T00:00:00Z
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1), None]), None]);
        let batch = batch(vec![
            ("b", Arc::new(BooleanArray::from(vec![Some(true), None])) as ArrayRef),
            ("i", Arc::new(Int32Array::from(vec![Some(i32::MIN), None]))),
            ("f", Arc::new(Float64Array::from(vec![f64::INFINITY, -0.25]))),
            ("naive", Arc::new(TimestampMicrosecondArray::from(vec![Some(micros), None]))),
            ("micros", Arc::new(TimestampMicrosecondArray::from(vec![micros + 1_500_000, micros + 123_456]))),
            ("nanos", Arc::new(TimestampNanosecondArray::from(vec![micros * 1000 + 1, 0]))),
            ("zoned", Arc::new(TimestampSecondArray::from(vec![1_738_281_600, 0]).with_timezone("+02:00"))),
            ("named", Arc::new(TimestampSecondArray::from(vec![1_738_281_600, 0]).with_timezone("America/New_York"))),
            ("d32", Arc::new(Date32Array::from(vec![Some(20_119), None]))),
            ("d64", Arc::new(Date64Array::from(vec![1_738_281_600_000, 0]))),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from(vec![Some(1250), Some(-5)]).with_precision_and_scale(10, 2).expect("dec"),
                ),
            ),
            ("list", Arc::new(list)),
        ]);
        let json = json_of(&batch);
        assert_eq!(
            json["rows"],
            json!([
                [
                    true,
                    i32::MIN,
                    null,
                    "2025-01-31T00:00:00Z",
                    "2025-01-31T00:00:01.500Z",
                    "2025-01-31T00:00:00.000000001Z",
                    "2025-01-31T00:00:00Z",
                    "2025-01-31T00:00:00Z",
                    "2025-01-31",
                    "2025-01-31",
                    12.5,
                    [1, null],
                ],
                [
                    null,
                    null,
                    -0.25,
                    null,
                    "2025-01-31T00:00:00.123456Z",
                    "1970-01-01T00:00:00Z",
                    "1970-01-01T00:00:00Z",
                    "1970-01-01T00:00:00Z",
                    null,
                    "1970-01-01",
                    -0.05,
                    null,
                ],
            ])
        );
        assert_eq!(json["columns"][6]["name"], "zoned");
        assert_eq!(json["row_count"], 2);
    }

    #[test]
    fn json_of_an_empty_result_is_still_the_full_shape() {
        let schema = sample().schema();
        let bytes = encode(Format::Json, &schema, &[]).expect("encode");
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(json["rows"], json!([]));
        assert_eq!(json["row_count"], 0);
        assert_eq!(json["columns"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        let strings = StringArray::from(vec![Some("plain"), Some("a,b"), Some("say \"hi\""), Some("two\nlines"), None]);
        let batch = batch(vec![
            ("text", Arc::new(strings) as ArrayRef),
            ("n", Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5]))),
        ]);
        assert_eq!(
            csv_of(&[batch]),
            "text,n\r\nplain,1\r\n\"a,b\",2\r\n\"say \"\"hi\"\"\",3\r\n\"two\nlines\",4\r\n,5\r\n"
        );
    }

    #[test]
    fn csv_writes_times_like_json_and_nested_values_as_json_text() {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1), Some(2)])]);
        let batch = batch(vec![
            ("at", Arc::new(TimestampMicrosecondArray::from(vec![1_738_281_600_000_000])) as ArrayRef),
            ("zoned", Arc::new(TimestampSecondArray::from(vec![1_738_281_600]).with_timezone("+02:00"))),
            ("day", Arc::new(Date32Array::from(vec![20_119]))),
            ("list", Arc::new(list)),
        ]);
        assert_eq!(
            csv_of(&[batch]),
            "at,zoned,day,list\r\n2025-01-31T00:00:00Z,2025-01-31T00:00:00Z,2025-01-31,\"[1,2]\"\r\n"
        );
    }

    #[test]
    fn csv_of_an_empty_result_is_the_header() {
        assert_eq!(encode(Format::Csv, &sample().schema(), &[]).expect("encode"), "segment,nps,n\r\n");
    }

    #[test]
    fn arrow_round_trips() {
        let batches = [sample(), sample().slice(1, 2)];
        let bytes = encode(Format::Arrow, &sample().schema(), &batches).expect("encode");
        let read: Vec<_> = StreamReader::try_new(bytes.as_ref(), None)
            .expect("an Arrow stream")
            .collect::<Result<_, _>>()
            .expect("batches");
        assert_eq!(read, batches);
    }

    #[test]
    fn parquet_round_trips() {
        let zoned = batch(vec![
            ("at", Arc::new(TimestampMicrosecondArray::from(vec![1, 2]).with_timezone("UTC")) as ArrayRef),
            ("n", Arc::new(Int32Array::from(vec![Some(7), None]))),
        ]);
        for batches in [vec![sample(), sample()], vec![zoned]] {
            let bytes = encode(Format::Parquet, &batches[0].schema(), &batches).expect("encode");
            let read: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .expect("a Parquet file")
                .build()
                .expect("reader")
                .collect::<Result<_, _>>()
                .expect("batches");
            let expected = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
            let read = arrow::compute::concat_batches(&batches[0].schema(), &read).expect("concat");
            assert_eq!(read, expected);
        }
    }

    fn stream_of(batches: Vec<Result<RecordBatch>>) -> SendableRecordBatchStream {
        Box::pin(RecordBatchStreamAdapter::new(sample().schema(), futures::stream::iter(batches)))
    }

    async fn chunks_of(body: Body) -> Vec<Result<Bytes, axum::Error>> {
        body.into_data_stream().collect().await
    }

    #[tokio::test]
    async fn streaming_gives_the_same_bytes_as_encode() {
        let batches = vec![sample(), sample().slice(0, 0), sample().slice(1, 2)];
        for format in [Format::Json, Format::Csv, Format::Arrow] {
            let body = stream_body(format, stream_of(batches.iter().cloned().map(Ok).collect()));
            let chunks = chunks_of(body).await;
            assert!(chunks.len() > 2, "{format:?} streams in chunks, got {}", chunks.len());
            let streamed: Vec<u8> =
                chunks.into_iter().map(|chunk| chunk.expect("no error")).flat_map(|chunk| chunk.to_vec()).collect();
            let whole = encode(format, &sample().schema(), &batches).expect("encode");
            assert_eq!(streamed, whole, "{format:?}");
        }
    }

    #[tokio::test]
    async fn streamed_parquet_is_a_whole_file() {
        let body = stream_body(Format::Parquet, stream_of(vec![Ok(sample()), Ok(sample())]));
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("no error");
        let rows: usize = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .expect("a Parquet file")
            .build()
            .expect("reader")
            .map(|batch| batch.map(|b| b.num_rows()))
            .sum::<Result<_, _>>()
            .expect("batches");
        assert_eq!(rows, 6);
    }

    #[tokio::test]
    async fn a_failing_stream_ends_the_body_in_an_error() {
        for format in [Format::Json, Format::Csv, Format::Arrow, Format::Parquet] {
            let failing = stream_of(vec![Ok(sample()), Err(DataFusionError::Execution("the lake went away".into()))]);
            let chunks = chunks_of(stream_body(format, failing)).await;
            let (last, before) = chunks.split_last().expect("some chunks");
            assert!(last.as_ref().is_err_and(|e| e.to_string().contains("the lake went away")), "{format:?}");
            assert!(before.iter().all(Result::is_ok), "{format:?}");
        }
    }

    #[test]
    fn responses_carry_the_content_type_and_disposition() {
        let json = response(Format::Json, Body::empty());
        assert_eq!(json.headers()[CONTENT_TYPE], "application/json");
        assert!(json.headers().get(CONTENT_DISPOSITION).is_none());
        let csv = response(Format::Csv, Body::empty());
        assert_eq!(csv.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(csv.headers()[CONTENT_DISPOSITION], "inline; filename=\"result.csv\"");
        let parquet = response(Format::Parquet, Body::empty());
        assert_eq!(parquet.headers()[CONTENT_TYPE], "application/vnd.apache.parquet");
        assert_eq!(parquet.headers()[CONTENT_DISPOSITION], "inline; filename=\"result.parquet\"");
    }
}
