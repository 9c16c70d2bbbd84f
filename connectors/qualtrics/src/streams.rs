//! The four streams: their Arrow schemas and descriptors ([`catalog_streams`]) and the
//! builders that turn surveys, questions and exported responses into record batches.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use serde_json::Value;
use txlake_connector::{Result, StreamDescriptor, StreamMode, SyncMode};

use crate::definitions::Question;
use crate::export::Response;

/// The surveys the token sees (`GET /surveys`).
pub const SURVEYS: &str = "surveys";
/// The questions of every survey's definition.
pub const QUESTIONS: &str = "questions";
/// One row per survey response, with its metadata.
pub const RESPONSES: &str = "responses";
/// One row per value of a response: answered questions and embedded data.
pub const RESPONSE_VALUES: &str = "response_values";

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// The schema of a stream.
pub fn schema(stream: &str) -> SchemaRef {
    let fields = match stream {
        SURVEYS => vec![
            text("id", false),
            text("name", true),
            text("ownerId", true),
            Field::new("isActive", DataType::Boolean, true),
            Field::new("creationDate", timestamp(), true),
            Field::new("lastModified", timestamp(), true),
        ],
        QUESTIONS => vec![
            text("surveyId", false),
            text("QuestionID", false),
            text("DataExportTag", true),
            text("QuestionText", true),
            text("QuestionType", true),
            text("Selector", true),
            text("SubSelector", true),
            text("Choices", true),
            text("Answers", true),
            Field::new("scale_min", DataType::Int64, true),
            Field::new("scale_max", DataType::Int64, true),
        ],
        RESPONSES => vec![
            text("responseId", false),
            text("surveyId", false),
            Field::new("recordedDate", timestamp(), false),
            Field::new("startDate", timestamp(), true),
            Field::new("endDate", timestamp(), true),
            Field::new("status", DataType::Int64, true),
            text("status_label", true),
            text("ipAddress", true),
            Field::new("progress", DataType::Int64, true),
            Field::new("duration", DataType::Int64, true),
            Field::new("finished", DataType::Boolean, true),
            text("distributionChannel", true),
            text("userLanguage", true),
            Field::new("locationLatitude", DataType::Float64, true),
            Field::new("locationLongitude", DataType::Float64, true),
            text("recipientEmail", true),
            text("recipientFirstName", true),
            text("recipientLastName", true),
            text("externalDataReference", true),
            text("embedded_data", true),
        ],
        _ => vec![
            text("responseId", false),
            text("surveyId", false),
            text("field", false),
            text("question_id", true),
            text("kind", false),
            Field::new("value_number", DataType::Float64, true),
            text("value_text", true),
            Field::new("recordedDate", timestamp(), false),
        ],
    };
    Arc::new(Schema::new(fields))
}

/// The streams the connector offers.
pub fn catalog_streams() -> Vec<StreamDescriptor> {
    let full = |name: &str, description: &str, key: &[&str]| StreamDescriptor {
        name: name.into(),
        description: description.into(),
        schema: schema(name),
        primary_key: key.iter().map(|k| k.to_string()).collect(),
        cursor_field: None,
        sync_modes: vec![SyncMode::FullRefresh],
        default_mode: StreamMode::FullRefresh,
    };
    let incremental = |name: &str, description: &str, key: &[&str]| StreamDescriptor {
        cursor_field: Some("recordedDate".into()),
        sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
        default_mode: StreamMode::IncrementalDedupe,
        ..full(name, description, key)
    };
    vec![
        full(SURVEYS, "A survey the API token's user can see.", &["id"]),
        full(
            QUESTIONS,
            "A question of a survey's definition, with its choices and answer scale.",
            &["surveyId", "QuestionID"],
        ),
        incremental(RESPONSES, "A recorded survey response with its metadata and embedded data.", &["responseId"]),
        incremental(
            RESPONSE_VALUES,
            "One value of a recorded response: an answered question (field QID…) or an embedded data field.",
            &["responseId", "field"],
        ),
    ]
}

/// Microseconds since the epoch.
fn micros(at: &DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn ts_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

fn finish(stream: &str, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(schema(stream), columns)?)
}

/// One survey of the `GET /surveys` list.
#[derive(Debug, Clone)]
pub struct SurveyRow {
    /// SV_… id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its owner (UR_…).
    pub owner_id: Option<String>,
    /// Whether it takes responses.
    pub is_active: Option<bool>,
    /// When it was created.
    pub creation_date: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub last_modified: Option<DateTime<Utc>>,
}

/// The `surveys` batch.
pub fn surveys_batch(rows: &[SurveyRow]) -> Result<RecordBatch> {
    let mut id = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut owner = StringBuilder::new();
    let mut active = BooleanBuilder::new();
    let mut created = ts_builder();
    let mut modified = ts_builder();
    for row in rows {
        id.append_value(&row.id);
        name.append_option(row.name.as_deref());
        owner.append_option(row.owner_id.as_deref());
        active.append_option(row.is_active);
        created.append_option(row.creation_date.as_ref().map(micros));
        modified.append_option(row.last_modified.as_ref().map(micros));
    }
    finish(
        SURVEYS,
        vec![
            Arc::new(id.finish()),
            Arc::new(name.finish()),
            Arc::new(owner.finish()),
            Arc::new(active.finish()),
            Arc::new(created.finish()),
            Arc::new(modified.finish()),
        ],
    )
}

/// The `questions` batch of one survey.
pub fn questions_batch(survey_id: &str, questions: &[Question]) -> Result<RecordBatch> {
    let mut survey = StringBuilder::new();
    let mut qid = StringBuilder::new();
    let mut tag = StringBuilder::new();
    let mut text = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut selector = StringBuilder::new();
    let mut sub = StringBuilder::new();
    let mut choices = StringBuilder::new();
    let mut answers = StringBuilder::new();
    let mut low = Int64Builder::new();
    let mut high = Int64Builder::new();
    for q in questions {
        survey.append_value(survey_id);
        qid.append_value(&q.id);
        tag.append_option(q.export_tag.as_deref());
        text.append_option(q.text.as_deref());
        kind.append_option(q.question_type.as_deref());
        selector.append_option(q.selector.as_deref());
        sub.append_option(q.sub_selector.as_deref());
        choices.append_option(q.choices.as_ref().map(Value::to_string));
        answers.append_option(q.answers.as_ref().map(Value::to_string));
        low.append_option(q.scale.map(|s| s.0));
        high.append_option(q.scale.map(|s| s.1));
    }
    finish(
        QUESTIONS,
        vec![
            Arc::new(survey.finish()),
            Arc::new(qid.finish()),
            Arc::new(tag.finish()),
            Arc::new(text.finish()),
            Arc::new(kind.finish()),
            Arc::new(selector.finish()),
            Arc::new(sub.finish()),
            Arc::new(choices.finish()),
            Arc::new(answers.finish()),
            Arc::new(low.finish()),
            Arc::new(high.finish()),
        ],
    )
}

/// Accumulates `responses` rows.
#[derive(Debug)]
pub struct ResponsesBuilder {
    rows: usize,
    response_id: StringBuilder,
    survey_id: StringBuilder,
    recorded: TimestampMicrosecondBuilder,
    start: TimestampMicrosecondBuilder,
    end: TimestampMicrosecondBuilder,
    status: Int64Builder,
    status_label: StringBuilder,
    ip: StringBuilder,
    progress: Int64Builder,
    duration: Int64Builder,
    finished: BooleanBuilder,
    channel: StringBuilder,
    language: StringBuilder,
    latitude: Float64Builder,
    longitude: Float64Builder,
    email: StringBuilder,
    first_name: StringBuilder,
    last_name: StringBuilder,
    external: StringBuilder,
    embedded: StringBuilder,
}

impl Default for ResponsesBuilder {
    fn default() -> Self {
        Self {
            rows: 0,
            response_id: StringBuilder::new(),
            survey_id: StringBuilder::new(),
            recorded: ts_builder(),
            start: ts_builder(),
            end: ts_builder(),
            status: Int64Builder::new(),
            status_label: StringBuilder::new(),
            ip: StringBuilder::new(),
            progress: Int64Builder::new(),
            duration: Int64Builder::new(),
            finished: BooleanBuilder::new(),
            channel: StringBuilder::new(),
            language: StringBuilder::new(),
            latitude: Float64Builder::new(),
            longitude: Float64Builder::new(),
            email: StringBuilder::new(),
            first_name: StringBuilder::new(),
            last_name: StringBuilder::new(),
            external: StringBuilder::new(),
            embedded: StringBuilder::new(),
        }
    }
}

impl ResponsesBuilder {
    /// Rows added since the last [`ResponsesBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one response.
    pub fn push(&mut self, survey_id: &str, r: &Response) {
        self.rows += 1;
        self.response_id.append_value(&r.id);
        self.survey_id.append_value(survey_id);
        self.recorded.append_value(micros(&r.recorded));
        self.start.append_option(r.start.as_ref().map(micros));
        self.end.append_option(r.end.as_ref().map(micros));
        self.status.append_option(r.meta_i64("status"));
        self.status_label.append_option(r.label("status").as_deref());
        self.ip.append_option(r.meta_text("ipAddress").as_deref());
        self.progress.append_option(r.meta_i64("progress"));
        self.duration.append_option(r.meta_i64("duration"));
        self.finished.append_option(r.meta_i64("finished").map(|f| f != 0));
        self.channel.append_option(r.meta_text("distributionChannel").as_deref());
        self.language.append_option(r.meta_text("userLanguage").as_deref());
        self.latitude.append_option(r.meta_f64("locationLatitude"));
        self.longitude.append_option(r.meta_f64("locationLongitude"));
        self.email.append_option(r.meta_text("recipientEmail").as_deref());
        self.first_name.append_option(r.meta_text("recipientFirstName").as_deref());
        self.last_name.append_option(r.meta_text("recipientLastName").as_deref());
        self.external.append_option(r.meta_text("externalDataReference").as_deref());
        self.embedded.append_option(r.embedded_json());
    }

    /// The pending rows as a batch; the builder starts over.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        self.rows = 0;
        finish(
            RESPONSES,
            vec![
                Arc::new(self.response_id.finish()),
                Arc::new(self.survey_id.finish()),
                Arc::new(self.recorded.finish()),
                Arc::new(self.start.finish()),
                Arc::new(self.end.finish()),
                Arc::new(self.status.finish()),
                Arc::new(self.status_label.finish()),
                Arc::new(self.ip.finish()),
                Arc::new(self.progress.finish()),
                Arc::new(self.duration.finish()),
                Arc::new(self.finished.finish()),
                Arc::new(self.channel.finish()),
                Arc::new(self.language.finish()),
                Arc::new(self.latitude.finish()),
                Arc::new(self.longitude.finish()),
                Arc::new(self.email.finish()),
                Arc::new(self.first_name.finish()),
                Arc::new(self.last_name.finish()),
                Arc::new(self.external.finish()),
                Arc::new(self.embedded.finish()),
            ],
        )
    }
}

/// Accumulates `response_values` rows.
#[derive(Debug)]
pub struct ValuesBuilder {
    rows: usize,
    response_id: StringBuilder,
    survey_id: StringBuilder,
    field: StringBuilder,
    question_id: StringBuilder,
    kind: StringBuilder,
    number: Float64Builder,
    text: StringBuilder,
    recorded: TimestampMicrosecondBuilder,
}

impl Default for ValuesBuilder {
    fn default() -> Self {
        Self {
            rows: 0,
            response_id: StringBuilder::new(),
            survey_id: StringBuilder::new(),
            field: StringBuilder::new(),
            question_id: StringBuilder::new(),
            kind: StringBuilder::new(),
            number: Float64Builder::new(),
            text: StringBuilder::new(),
            recorded: ts_builder(),
        }
    }
}

impl ValuesBuilder {
    /// Rows added since the last [`ValuesBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds every value of one response.
    pub fn push(&mut self, survey_id: &str, r: &Response) {
        for value in r.values() {
            self.rows += 1;
            self.response_id.append_value(&r.id);
            self.survey_id.append_value(survey_id);
            self.field.append_value(value.field);
            self.question_id.append_option(value.question_id);
            self.kind.append_value(value.kind);
            self.number.append_option(value.number);
            self.text.append_option(value.text.as_deref());
            self.recorded.append_value(micros(&r.recorded));
        }
    }

    /// The pending rows as a batch; the builder starts over.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        self.rows = 0;
        finish(
            RESPONSE_VALUES,
            vec![
                Arc::new(self.response_id.finish()),
                Arc::new(self.survey_id.finish()),
                Arc::new(self.field.finish()),
                Arc::new(self.question_id.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.number.finish()),
                Arc::new(self.text.finish()),
                Arc::new(self.recorded.finish()),
            ],
        )
    }
}
