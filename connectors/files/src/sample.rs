//! Discover: which streams the configuration makes (one per stream, or one per file), and
//! each stream's schema from samples of its files — the first file names and types the
//! columns, later files add the columns it lacks — plus the score-like columns discover
//! lists as survey questions.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use tokio::runtime::Handle;
use txlake_connector::{StreamDescriptor, StreamMode, SurveyQuestion, SyncMode};

use crate::config::{Format, Settings, StreamSettings};
use crate::names::{FILE_COLUMN, MODIFIED_COLUMN, ROW_COLUMN, SHEET_COLUMN, per_file_stream};
use crate::source::{FileMeta, Location};
use crate::value::{ColumnType, Inference, TextFormats, timestamp_type};
use crate::{csv, json, parquet, xlsx};

/// The widest integer range a column may span to be listed as a score question.
pub const SCORE_RANGE: (i64, i64) = (0, 10);

/// One sampled column of a file.
#[derive(Debug, Clone)]
pub struct Sampled {
    /// The column's name.
    pub name: String,
    /// What its sampled values allow.
    pub inference: Inference,
    /// The type a self-describing file (Parquet) stores it as.
    pub stored: Option<DataType>,
}

/// The columns of one file, with what sampling found.
#[derive(Debug, Clone, Default)]
pub struct FileSample {
    /// The columns in file order.
    pub columns: Vec<Sampled>,
}

impl FileSample {
    /// A sample of columns typed by inference.
    pub fn inferred(columns: Vec<(String, Inference)>) -> FileSample {
        FileSample {
            columns: columns.into_iter().map(|(name, inference)| Sampled { name, inference, stored: None }).collect(),
        }
    }
}

/// A stream the configuration makes, with its files.
#[derive(Debug, Clone)]
pub struct Target {
    /// The stream's name.
    pub name: String,
    /// Its configuration.
    pub settings: StreamSettings,
    /// Its files, in name order.
    pub files: Vec<FileMeta>,
}

/// The text parsing options of a stream.
pub fn formats(settings: &StreamSettings) -> TextFormats {
    TextFormats {
        date_format: settings.date_format.clone(),
        timestamp_format: settings.timestamp_format.clone(),
        decimal_comma: settings.decimal_comma,
    }
}

/// The streams of one configured stream: itself with every matching file, or one per file.
pub fn targets(settings: &StreamSettings, files: Vec<FileMeta>) -> Vec<Target> {
    if settings.stream_per_file {
        files
            .into_iter()
            .map(|file| Target {
                name: per_file_stream(&settings.name, &file.name),
                settings: settings.clone(),
                files: vec![file],
            })
            .collect()
    } else {
        vec![Target { name: settings.name.clone(), settings: settings.clone(), files }]
    }
}

/// Every stream of the configuration, listing the files of each configured stream; `Err`
/// names the configured stream whose files cannot be listed.
pub fn all_targets(config: &Settings, location: &Location, handle: &Handle) -> Result<Vec<Target>, (String, String)> {
    let mut out = Vec::new();
    for settings in &config.streams {
        let files = location.list(handle, &settings.glob).map_err(|e| (settings.name.clone(), e))?;
        out.extend(targets(settings, files));
    }
    Ok(out)
}

/// Samples one file's columns.
pub fn sample_file(
    location: &Location,
    handle: &Handle,
    file: &FileMeta,
    settings: &StreamSettings,
) -> Result<FileSample, String> {
    let format = settings.format_of(&file.name)?;
    let formats = formats(settings);
    let rows = settings.infer_rows;
    let result = match format {
        Format::Csv => csv::sample(location.open(handle, file, 0)?, settings, &formats, rows),
        Format::Jsonl => json::sample_lines(location.open(handle, file, 0)?, settings, &formats, rows),
        Format::Json => json::sample_array(location.open(handle, file, 0)?, &formats, rows),
        Format::Xlsx => xlsx::sample(location.fetch(handle, file)?, file, settings, &formats, rows),
        Format::Parquet => parquet::sample(location.fetch(handle, file)?, rows),
    };
    result.map_err(|e| format!("{}: {e}", file.name))
}

/// A stream's descriptor and score questions, from samples of its files.
pub fn describe(
    target: &Target,
    location: &Location,
    handle: &Handle,
) -> Result<(StreamDescriptor, Vec<SurveyQuestion>), String> {
    let settings = &target.settings;
    let mut columns: Vec<Sampled> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut workbook = false;
    for file in &target.files {
        workbook |= settings.format_of(&file.name)? == Format::Xlsx && settings.sheet.is_none();
        let sample = sample_file(location, handle, file, settings)?;
        for column in sample.columns {
            if !seen.contains_key(&column.name) {
                seen.insert(column.name.clone(), columns.len());
                columns.push(column);
            }
        }
    }
    for name in settings.columns.keys() {
        if !seen.contains_key(name) {
            seen.insert(name.clone(), columns.len());
            columns.push(Sampled { name: name.clone(), inference: Inference::default(), stored: None });
        }
    }
    let mut fields: Vec<Field> = Vec::with_capacity(columns.len() + 4);
    let mut questions = Vec::new();
    for column in &columns {
        let data_type = match settings.columns.get(&column.name) {
            Some(kind) => kind.arrow(),
            None => column.stored.clone().unwrap_or_else(|| column.inference.kind().arrow()),
        };
        if data_type.is_integer()
            && let Some((lo, hi)) = column.inference.int_range
            && lo >= SCORE_RANGE.0
            && hi <= SCORE_RANGE.1
        {
            questions.push(SurveyQuestion {
                survey_id: target.name.clone(),
                survey_title: target.name.clone(),
                field: column.name.clone(),
                question: column.name.clone(),
                kind: ColumnType::Int.name().to_string(),
                scale: Some((lo, hi)),
                scale_observed: true,
            });
        }
        fields.push(Field::new(&column.name, data_type, true));
    }
    let mut primary_key = vec![FILE_COLUMN.to_string()];
    if workbook {
        fields.push(Field::new(SHEET_COLUMN, DataType::Utf8, true));
        primary_key.push(SHEET_COLUMN.to_string());
    }
    primary_key.push(ROW_COLUMN.to_string());
    fields.push(Field::new(FILE_COLUMN, DataType::Utf8, false));
    fields.push(Field::new(ROW_COLUMN, DataType::Int64, false));
    fields.push(Field::new(MODIFIED_COLUMN, timestamp_type(), false));
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let origin = match target.files.first() {
        Some(first) if target.files.len() == 1 => format!("the file {}", first.name),
        Some(first) => {
            format!("{} files; columns from {} first, then the others' new columns", target.files.len(), first.name)
        }
        None => format!("no file matches `{}` yet: only the connector's own and declared columns", settings.glob_text),
    };
    let descriptor = StreamDescriptor {
        name: target.name.clone(),
        description: format!(
            "Rows of the files matching `{}` under {} ({origin}).",
            settings.glob_text,
            location.describe()
        ),
        schema,
        primary_key,
        cursor_field: Some(MODIFIED_COLUMN.to_string()),
        sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
        default_mode: StreamMode::IncrementalAppend,
    };
    Ok((descriptor, questions))
}
