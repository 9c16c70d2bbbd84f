//! The connector's configuration: [`FilesConfig`] as users write it, its JSON Schema
//! ([`FilesConfig::spec`]), and the checked [`StreamSettings`] every reader works from.

use std::collections::BTreeMap;

use chrono::format::{Item, StrftimeItems};
use encoding_rs::Encoding;
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use serde_json::{Value, json};
use txlake_connector::{ConfigIssue, ConnectorError, Result, Spec};

use crate::CONNECTOR_NAME;
use crate::value::ColumnType;

/// Default rows sampled to infer column types.
pub const DEFAULT_INFER_ROWS: usize = 1000;
/// Default rows per emitted record batch.
pub const DEFAULT_BATCH_SIZE: usize = 65_536;

/// How the `files` connector is configured (the `config` table of a connection).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// A local folder, `file:///dir`, `s3://bucket/prefix` or `https://host/file.csv`.
    pub url: String,
    /// object_store options for `s3://`; `headers` for `https://`.
    #[serde(default)]
    pub options: BTreeMap<String, Value>,
    /// The streams, each a set of files.
    pub streams: Vec<StreamConfig>,
}

/// One configured stream as written by the user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The raw table's name.
    pub name: String,
    /// Which files under `url` belong to the stream.
    #[serde(default)]
    pub glob: Option<String>,
    /// One stream per matching file instead of one for all.
    #[serde(default)]
    pub stream_per_file: bool,
    /// `csv`, `xlsx`, `jsonl`, `json` or `parquet`; default from the extension.
    #[serde(default)]
    pub format: Option<String>,
    /// CSV field delimiter.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// CSV quote character.
    #[serde(default)]
    pub quote: Option<String>,
    /// Text encoding label.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Header lines (rows).
    #[serde(default)]
    pub header_rows: Option<usize>,
    /// Lines (rows) before the header.
    #[serde(default)]
    pub skip_rows: Option<usize>,
    /// XLSX: the one sheet to read.
    #[serde(default)]
    pub sheet: Option<String>,
    /// Rows sampled for type inference.
    #[serde(default)]
    pub infer_rows: Option<usize>,
    /// Column type overrides.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// strftime pattern of dates in text.
    #[serde(default)]
    pub date_format: Option<String>,
    /// strftime pattern of timestamps in text.
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// Decimal separator of numbers in text: `.` or `,`.
    #[serde(default)]
    pub decimal: Option<String>,
    /// `fail` or `skip`.
    #[serde(default)]
    pub on_error: Option<String>,
    /// Rows per emitted record batch.
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// A file format the connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text.
    Csv,
    /// An Excel workbook.
    Xlsx,
    /// One JSON object per line.
    Jsonl,
    /// A JSON array of objects.
    Json,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }

    fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "csv" => Format::Csv,
            "xlsx" => Format::Xlsx,
            "jsonl" => Format::Jsonl,
            "json" => Format::Json,
            "parquet" => Format::Parquet,
            _ => return None,
        })
    }

    /// The format a file's extension implies.
    pub fn from_path(path: &str) -> Option<Format> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        Some(match ext.as_str() {
            "csv" | "tsv" | "txt" => Format::Csv,
            "xlsx" | "xlsm" => Format::Xlsx,
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => Format::Json,
            "parquet" => Format::Parquet,
            _ => return None,
        })
    }

    /// Whether the format can be read on from a byte offset (it grows by appending lines).
    pub fn appendable(self) -> bool {
        matches!(self, Format::Csv | Format::Jsonl)
    }
}

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// The stream fails naming the file, line and column.
    Fail,
    /// The row is skipped and counted.
    Skip,
}

/// A stream's configuration after every check, with defaults resolved.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The stream (or the prefix of per-file streams).
    pub name: String,
    /// The glob as written.
    pub glob_text: String,
    /// The compiled glob, matched against paths relative to `url`.
    pub glob: GlobMatcher,
    /// One stream per file.
    pub stream_per_file: bool,
    /// The format, if not taken from each file's extension.
    pub format: Option<Format>,
    /// CSV delimiter byte.
    pub delimiter: u8,
    /// CSV quote byte.
    pub quote: u8,
    /// The configured text encoding (a BOM overrides it).
    pub encoding: &'static Encoding,
    /// Header lines.
    pub header_rows: usize,
    /// Lines before the header.
    pub skip_rows: usize,
    /// XLSX: one sheet.
    pub sheet: Option<String>,
    /// Rows sampled to infer types.
    pub infer_rows: usize,
    /// Type overrides by column name.
    pub columns: BTreeMap<String, ColumnType>,
    /// strftime pattern of dates.
    pub date_format: Option<String>,
    /// strftime pattern of timestamps.
    pub timestamp_format: Option<String>,
    /// `,` when numbers use a decimal comma.
    pub decimal_comma: bool,
    /// Malformed rows: fail or skip.
    pub on_error: OnError,
    /// Rows per batch.
    pub batch_size: usize,
}

impl StreamSettings {
    /// The format of one file: the configured one, else from its extension.
    pub fn format_of(&self, path: &str) -> std::result::Result<Format, String> {
        self.format.or_else(|| Format::from_path(path)).ok_or_else(|| {
            format!(
                "cannot tell the format of `{path}` from its extension; set `format` on stream `{}` (csv, xlsx, jsonl, json or parquet)",
                self.name
            )
        })
    }
}

/// The whole configuration after every check.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The source location as written.
    pub url: String,
    /// Options for the source (object_store keys; `headers` for HTTP).
    pub options: BTreeMap<String, Value>,
    /// The streams.
    pub streams: Vec<StreamSettings>,
}

fn invalid(issues: Vec<ConfigIssue>) -> ConnectorError {
    ConnectorError::InvalidConfig { connector: CONNECTOR_NAME.to_string(), issues }
}

fn issue(path: impl Into<String>, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue { path: path.into(), message: message.into() }
}

/// Checks a strftime pattern, returning why it is not one.
fn check_strftime(pattern: &str) -> std::result::Result<(), String> {
    if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "{pattern:?} is not a valid strftime pattern (e.g. \"%d.%m.%Y\" or \"%Y-%m-%d %H:%M:%S\")"
        ));
    }
    Ok(())
}

/// One ASCII character from a `delimiter`/`quote` value (`\t` may be written escaped).
fn one_byte(text: &str) -> std::result::Result<u8, String> {
    let unescaped = match text {
        "\\t" | "tab" => "\t",
        other => other,
    };
    match unescaped.as_bytes() {
        [b] if b.is_ascii() && *b != b'\n' && *b != b'\r' => Ok(*b),
        _ => Err(format!(
            "{text:?} is not one ASCII character; use e.g. \",\", \";\", \"|\" or \"\\t\" (non-ASCII separators are not supported)"
        )),
    }
}

impl FilesConfig {
    /// The JSON Schema of the configuration, every key described.
    pub fn spec() -> Spec {
        Spec {
            config_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "files",
                "description": "CSV, XLSX, JSON lines, JSON arrays and Parquet files from a local folder, S3 or one HTTPS URL, one raw table per stream.",
                "type": "object",
                "additionalProperties": false,
                "required": ["url", "streams"],
                "properties": {
                    "url": {
                        "type": "string", "minLength": 1,
                        "description": "Where the files are: a local folder (absolute, or relative to the working directory), file:///abs/dir, s3://bucket/prefix, or https://host/path/file.csv (one file)."
                    },
                    "options": {
                        "type": "object",
                        "description": "For s3://: object_store options, the same names as the lake's [lake] options (aws_endpoint, aws_region, aws_access_key_id, aws_secret_access_key, aws_allow_http, …). For https://: `headers`, request headers such as Authorization.",
                        "properties": {
                            "headers": {
                                "type": "object",
                                "description": "HTTP(S) request headers, e.g. { Authorization = \"Bearer ${TOKEN}\" }.",
                                "additionalProperties": { "type": "string" },
                                "x-secret": true
                            },
                            "aws_secret_access_key": { "type": "string", "x-secret": true, "description": "S3 secret access key." },
                            "aws_session_token": { "type": "string", "x-secret": true, "description": "S3 session token." },
                            "aws_access_key_id": { "type": "string", "description": "S3 access key id." },
                            "aws_region": { "type": "string", "description": "S3 region." },
                            "aws_endpoint": { "type": "string", "description": "S3 endpoint URL (MinIO, Ceph, Yandex Object Storage, …)." },
                            "aws_allow_http": { "type": "string", "description": "\"true\" to allow an http:// endpoint." }
                        },
                        "additionalProperties": { "type": "string" }
                    },
                    "streams": {
                        "type": "array", "minItems": 1,
                        "description": "The raw tables to fill, each from the files its glob matches.",
                        "items": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["name"],
                            "properties": {
                                "name": {
                                    "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                                    "description": "The raw table's name (a SQL identifier)."
                                },
                                "glob": {
                                    "type": "string", "minLength": 1, "default": "*",
                                    "description": "Which files under url belong to the stream, matched against the path relative to url (`*.csv`, `exports/**/*.xlsx`). All matching files go into the one stream, in name order. Ignored for an https:// url."
                                },
                                "stream_per_file": {
                                    "type": "boolean", "default": false,
                                    "description": "One stream per matching file instead, named <name>_<file stem, lower-cased, non-alphanumerics as _>."
                                },
                                "format": {
                                    "enum": ["csv", "xlsx", "jsonl", "json", "parquet"],
                                    "description": "The files' format; default from the extension (.csv .tsv .txt → csv, .xlsx, .jsonl .ndjson, .json (an array of objects), .parquet)."
                                },
                                "delimiter": {
                                    "type": "string", "default": ",",
                                    "description": "CSV field delimiter, one ASCII character (\"\\t\" for tab). Default \",\" (\"\\t\" for .tsv files)."
                                },
                                "quote": {
                                    "type": "string", "default": "\"",
                                    "description": "CSV quote character; a quote inside a quoted field is doubled."
                                },
                                "encoding": {
                                    "type": "string", "default": "utf-8",
                                    "description": "Text encoding of CSV/JSON files, any WHATWG label: utf-8, utf-16le, utf-16be, windows-1251, koi8-r, iso-8859-1, shift_jis, … A byte order mark wins over this."
                                },
                                "header_rows": {
                                    "type": "integer", "minimum": 0, "maximum": 100, "default": 1,
                                    "description": "Header lines (CSV) or rows (XLSX). 0: no header, columns are column_1, column_2, …; 2 or more: the lines are joined per column with a space (an empty upper cell continues the one to its left; merged XLSX cells fill their range)."
                                },
                                "skip_rows": {
                                    "type": "integer", "minimum": 0, "default": 0,
                                    "description": "Lines (CSV) or non-empty rows (XLSX) before the header, such as a report title."
                                },
                                "sheet": {
                                    "type": "string", "minLength": 1,
                                    "description": "XLSX: the one sheet to read. Default: every sheet, with a _sheet column naming it."
                                },
                                "infer_rows": {
                                    "type": "integer", "minimum": 1, "default": DEFAULT_INFER_ROWS,
                                    "description": "Rows sampled from each file to infer column types (int, float, bool, date, timestamp, string)."
                                },
                                "columns": {
                                    "type": "object",
                                    "description": "Column type overrides by column name: int, float, bool, date, timestamp or string, e.g. { score = \"int\", id = \"string\" }. A column named here exists even when a file lacks it.",
                                    "additionalProperties": {
                                        "enum": ["int", "integer", "bigint", "float", "double", "number", "bool", "boolean", "date", "timestamp", "datetime", "string", "text"]
                                    }
                                },
                                "date_format": {
                                    "type": "string", "minLength": 1,
                                    "description": "strftime pattern of dates written as text, e.g. \"%d.%m.%Y\". ISO dates (2025-01-31) are always understood."
                                },
                                "timestamp_format": {
                                    "type": "string", "minLength": 1,
                                    "description": "strftime pattern of timestamps written as text, e.g. \"%d.%m.%Y %H:%M\". Without an offset (%z) they are UTC. ISO 8601 / RFC 3339 timestamps are always understood."
                                },
                                "decimal": {
                                    "enum": [".", ","], "default": ".",
                                    "description": "Decimal separator of numbers written as text; \",\" for exports such as 4,5 (then use a delimiter other than \",\")."
                                },
                                "on_error": {
                                    "enum": ["fail", "skip"], "default": "fail",
                                    "description": "A malformed row (wrong field count, a value that does not parse as its column's type, broken quoting, invalid encoding): fail the stream naming file, line and column, or skip it; skipped rows are counted and the first reasons logged for each file."
                                },
                                "batch_size": {
                                    "type": "integer", "minimum": 1, "maximum": 1048576, "default": DEFAULT_BATCH_SIZE,
                                    "description": "Rows per Arrow record batch handed to the sync (a checkpoint follows each batch)."
                                }
                            }
                        }
                    }
                }
            }),
            documentation: Some("https://github.com/txlake/txlake/tree/main/connectors/files".to_string()),
        }
    }

    /// Reads and checks a configuration, reporting every problem with its key path.
    pub fn settings(config: &Value) -> Result<Settings> {
        Self::spec().validate(CONNECTOR_NAME, config)?;
        let parsed: FilesConfig =
            serde_json::from_value(config.clone()).map_err(|e| invalid(vec![issue("config", e.to_string())]))?;
        parsed.check()
    }

    fn check(self) -> Result<Settings> {
        let mut issues = Vec::new();
        if let Err(message) = crate::source::Location::parse(&self.url, &self.options) {
            issues.push(issue("config.url", message));
        }
        let mut streams = Vec::new();
        for (i, stream) in self.streams.iter().enumerate() {
            let at = |key: &str| format!("config.streams.{i}.{key}");
            if self.streams[..i].iter().any(|s| s.name == stream.name) {
                issues.push(issue(
                    at("name"),
                    format!("`{}` names two streams; stream names must be unique", stream.name),
                ));
            }
            let glob_text = stream.glob.clone().unwrap_or_else(|| "*".to_string());
            let glob = match GlobBuilder::new(&glob_text).literal_separator(true).build() {
                Ok(g) => Some(g.compile_matcher()),
                Err(e) => {
                    issues.push(issue(at("glob"), format!("{glob_text:?} is not a valid glob: {e}")));
                    None
                }
            };
            let format = stream.format.as_deref().map(|f| Format::from_name(f).ok_or(f));
            let format = match format {
                None => None,
                Some(Ok(f)) => Some(f),
                Some(Err(f)) => {
                    issues.push(issue(at("format"), format!("{f:?} is not one of csv, xlsx, jsonl, json, parquet")));
                    None
                }
            };
            let tsv = format.is_none() && glob_text.to_ascii_lowercase().ends_with(".tsv");
            let delimiter = match stream.delimiter.as_deref() {
                Some(d) => one_byte(d).map_err(|m| issues.push(issue(at("delimiter"), m))).unwrap_or(b','),
                None if tsv => b'\t',
                None => b',',
            };
            let quote = match stream.quote.as_deref() {
                Some(q) => one_byte(q).map_err(|m| issues.push(issue(at("quote"), m))).unwrap_or(b'"'),
                None => b'"',
            };
            if quote == delimiter {
                issues.push(issue(at("quote"), "the quote character must differ from the delimiter"));
            }
            let encoding = match stream.encoding.as_deref() {
                None => encoding_rs::UTF_8,
                Some(label) => match Encoding::for_label(label.trim().as_bytes()) {
                    Some(e) => e,
                    None => {
                        issues.push(issue(
                            at("encoding"),
                            format!("{label:?} is not a known encoding label; use e.g. utf-8, utf-16le, windows-1251, koi8-r"),
                        ));
                        encoding_rs::UTF_8
                    }
                },
            };
            let mut columns = BTreeMap::new();
            for (column, kind) in &stream.columns {
                match ColumnType::from_name(kind) {
                    Some(t) => {
                        columns.insert(column.clone(), t);
                    }
                    None => issues.push(issue(
                        format!("config.streams.{i}.columns.{column}"),
                        format!("{kind:?} is not a column type; use int, float, bool, date, timestamp or string"),
                    )),
                }
            }
            for (key, pattern) in [("date_format", &stream.date_format), ("timestamp_format", &stream.timestamp_format)]
            {
                if let Some(p) = pattern
                    && let Err(m) = check_strftime(p)
                {
                    issues.push(issue(at(key), m));
                }
            }
            let decimal_comma = stream.decimal.as_deref() == Some(",");
            if decimal_comma && delimiter == b',' {
                issues.push(issue(at("decimal"), "a decimal comma needs a delimiter other than \",\" (e.g. \";\")"));
            }
            let on_error = match stream.on_error.as_deref() {
                None | Some("fail") => OnError::Fail,
                Some("skip") => OnError::Skip,
                Some(other) => {
                    issues.push(issue(at("on_error"), format!("{other:?} is not `fail` or `skip`")));
                    OnError::Fail
                }
            };
            if stream.sheet.is_some() && matches!(format, Some(f) if f != Format::Xlsx) {
                issues.push(issue(at("sheet"), "`sheet` applies to xlsx files only"));
            }
            let Some(glob) = glob else { continue };
            streams.push(StreamSettings {
                name: stream.name.clone(),
                glob_text,
                glob,
                stream_per_file: stream.stream_per_file,
                format,
                delimiter,
                quote,
                encoding,
                header_rows: stream.header_rows.unwrap_or(1),
                skip_rows: stream.skip_rows.unwrap_or(0),
                sheet: stream.sheet.clone(),
                infer_rows: stream.infer_rows.unwrap_or(DEFAULT_INFER_ROWS).max(1),
                columns,
                date_format: stream.date_format.clone(),
                timestamp_format: stream.timestamp_format.clone(),
                decimal_comma,
                on_error,
                batch_size: stream.batch_size.unwrap_or(DEFAULT_BATCH_SIZE).max(1),
            });
        }
        if issues.is_empty() {
            Ok(Settings { url: self.url, options: self.options, streams })
        } else {
            Err(invalid(issues))
        }
    }
}
