//! Survey mappings as the engine sees them: the table `tx.survey_mapping` (one row per mapped
//! question of a connection, with how to read its respondent, touchpoint, channel and ticket)
//! that `sql/mappings/surveys.sql` joins to `tx.survey_answers` to make `tx.surveys` rows, and
//! the answers of sources whose responses are rows with a column per question (a file of
//! answers), unpivoted into `tx.survey_answers`' long shape.
//!
//! The configuration (`survey_mapping` in txlake.toml) is parsed and checked by the sync
//! crate; whoever opens the engine turns it into these plain rows.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::Column;
use datafusion::functions::expr_fn::concat;
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, lit, try_cast};

use crate::error::{EngineError, Result};

/// One mapped question of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedQuestion {
    /// The connection whose answers these are (`tx.survey_answers.source`).
    pub source: String,
    /// The question's field (`tx.survey_answers.field`).
    pub field: String,
    /// The survey the mapping is limited to (`tx.survey_answers.survey_id`); None: every
    /// survey of the connection with that field.
    pub survey_id: Option<String>,
    /// `nps`, `enps`, `csat`, `ces` or `csi`.
    pub survey: String,
    /// `customer` or `employee`.
    pub respondent_kind: String,
    /// The question's own scale.
    pub scale: [i64; 2],
    /// The scale its scores are written on in `tx.surveys` (equal to `scale` unless rescaled).
    pub target_scale: [i64; 2],
    /// The touchpoint of every answer to this question, if the mapping fixes one.
    pub question_touchpoint: Option<String>,
    /// The field holding the respondent's e-mail, or their id in `respondent_connection`.
    pub respondent_field: String,
    /// The connection whose customer (employee) ids `respondent_field` holds; None: an e-mail.
    pub respondent_connection: Option<String>,
    /// The field holding the touchpoint, and the value used when it is absent.
    pub touchpoint_field: Option<String>,
    /// The touchpoint when no field gives one.
    pub touchpoint_value: Option<String>,
    /// The field holding the channel.
    pub channel_field: Option<String>,
    /// The channel when no field gives one.
    pub channel_value: Option<String>,
    /// The field holding the ticket's id.
    pub ticket_field: Option<String>,
    /// The help desk connection of those ticket ids.
    pub ticket_connection: Option<String>,
}

/// A connection whose responses are rows of one stream with a column per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WideSurveySource {
    /// The connection.
    pub connection: String,
    /// The stream whose rows are responses.
    pub stream: String,
    /// The column identifying a response; None: `_file` and `_row` (a `files` stream).
    pub response_id: Option<String>,
    /// The column holding when the response was given.
    pub answered_at: String,
    /// The columns to read as fields (questions and context).
    pub fields: Vec<String>,
}

/// The columns of `tx.survey_mapping`.
fn mapping_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let int = |name: &str| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        text("source", false),
        text("field", false),
        text("survey_id", true),
        text("survey", false),
        text("respondent_kind", false),
        int("scale_min"),
        int("scale_max"),
        int("target_min"),
        int("target_max"),
        text("question_touchpoint", true),
        text("respondent_field", false),
        text("respondent_connection", true),
        text("touchpoint_field", true),
        text("touchpoint_value", true),
        text("channel_field", true),
        text("channel_value", true),
        text("ticket_field", true),
        text("ticket_connection", true),
    ]))
}

/// `tx.survey_mapping`: one row per mapped question (empty when no connection has a mapping).
pub(crate) fn mapping_table(questions: &[MappedQuestion]) -> Result<Arc<MemTable>> {
    let text = |get: fn(&MappedQuestion) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(questions.iter().map(get)))
    };
    let optional = |get: fn(&MappedQuestion) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(questions.iter().map(get)))
    };
    let int = |get: fn(&MappedQuestion) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(questions.iter().map(get)))
    };
    let columns = vec![
        text(|q| &q.source),
        text(|q| &q.field),
        optional(|q| q.survey_id.as_deref()),
        text(|q| &q.survey),
        text(|q| &q.respondent_kind),
        int(|q| q.scale[0]),
        int(|q| q.scale[1]),
        int(|q| q.target_scale[0]),
        int(|q| q.target_scale[1]),
        optional(|q| q.question_touchpoint.as_deref()),
        text(|q| &q.respondent_field),
        optional(|q| q.respondent_connection.as_deref()),
        optional(|q| q.touchpoint_field.as_deref()),
        optional(|q| q.touchpoint_value.as_deref()),
        optional(|q| q.channel_field.as_deref()),
        optional(|q| q.channel_value.as_deref()),
        optional(|q| q.ticket_field.as_deref()),
        optional(|q| q.ticket_connection.as_deref()),
    ];
    let schema = mapping_schema();
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(datafusion::error::DataFusionError::from)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

/// The answers of a wide source in `tx.survey_answers`' columns: one row per response and
/// field (NULL values left out). Errors when the stream lacks a column the mapping names.
pub(crate) async fn wide_answers(ctx: &SessionContext, source: &WideSurveySource) -> Result<DataFrame> {
    let at = format!("connections.{}.survey_mapping", source.connection);
    let frame = ctx.table(format!("{}.{}", source.connection, source.stream)).await?;
    let has = |name: &str| frame.schema().field_with_unqualified_name(name).is_ok();
    let missing_column = |key: &str, column: &str| {
        let columns: Vec<&str> = frame.schema().fields().iter().map(|f| f.name().as_str()).collect();
        EngineError::InvalidParameter {
            parameter: format!("{at}.{key}"),
            value: column.to_string(),
            expected: format!(
                "a column of {}.{}, whose columns are: {}",
                source.connection,
                source.stream,
                columns.join(", ")
            ),
        }
    };
    let column = |name: &str| Expr::Column(Column::from_name(name));
    let text = |expr: Expr| cast(expr, DataType::Utf8);
    let response_id = match &source.response_id {
        Some(name) if has(name) => text(column(name)),
        Some(name) => return Err(missing_column("response_id", name)),
        None if has("_file") && has("_row") => concat(vec![text(column("_file")), lit(":"), text(column("_row"))]),
        None => return Err(missing_column("response_id", "(absent: _file and _row)")),
    };
    if !has(&source.answered_at) {
        return Err(missing_column("answered_at", &source.answered_at));
    }
    let answered_at = cast(
        column(&source.answered_at),
        DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
    );
    let mut parts: Option<DataFrame> = None;
    for field in &source.fields {
        if !has(field) {
            return Err(missing_column("questions", field));
        }
        let part = frame.clone().filter(column(field).is_not_null())?.select(vec![
            concat(vec![lit(source.connection.as_str()), lit(":"), response_id.clone(), lit(":"), lit(field.as_str())])
                .alias("answer_key"),
            lit(source.connection.as_str()).alias("source"),
            lit(source.stream.as_str()).alias("survey_id"),
            response_id.clone().alias("response_id"),
            lit(field.as_str()).alias("field"),
            lit(field.as_str()).alias("question"),
            cast(lit(datafusion::scalar::ScalarValue::Utf8(None)), DataType::Utf8).alias("question_type"),
            try_cast(column(field), DataType::Float64).alias("value"),
            text(column(field)).alias("value_text"),
            answered_at.clone().alias("answered_at"),
        ])?;
        parts = Some(match parts {
            Some(all) => all.union(part)?,
            None => part,
        });
    }
    parts.ok_or_else(|| EngineError::InvalidParameter {
        parameter: format!("{at}.questions"),
        value: String::new(),
        expected: "at least one mapped question".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_mapping_table_has_a_row_per_question() {
        let question = MappedQuestion {
            source: "forms".into(),
            field: "nps_q".into(),
            survey: "nps".into(),
            respondent_kind: "customer".into(),
            scale: [1, 10],
            target_scale: [0, 10],
            respondent_field: "hidden.email".into(),
            channel_value: Some("web".into()),
            ..Default::default()
        };
        let ctx = SessionContext::new();
        ctx.register_table("m", mapping_table(&[question.clone(), question]).unwrap()).unwrap();
        let rows = ctx
            .sql("SELECT count(*) AS n, min(scale_min) AS lo, max(target_max) AS hi, min(channel_value) AS ch FROM m")
            .await
            .unwrap();
        let batch = &rows.collect().await.unwrap()[0];
        let text = arrow::util::pretty::pretty_format_batches(std::slice::from_ref(batch)).unwrap().to_string();
        assert!(text.contains("| 2 | 1  | 10 | web |"), "{text}");
        assert!(mapping_table(&[]).is_ok(), "an empty mapping is a table too");
    }
}
