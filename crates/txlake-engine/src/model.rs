//! The canonical TX model: `tx.<view>` is the UNION ALL of every connection's mapping of its
//! raw streams (`connectors/<connector>/models/<view>.sql`, with `{{ connection }}` replaced
//! by the connection name), each cast by name onto the view's contract (`sql/model/<view>.sql`).

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::SchemaProvider;
use datafusion::common::Column;
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast};

use crate::error::{EngineError, Result};
use crate::sources::{SqlFile, SqlSources};
use crate::survey_mapping::{self, MappedQuestion, WideSurveySource};

/// The connections' survey mappings, as the canonical model needs them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SurveyMappings<'a> {
    /// Every mapped question (`tx.survey_mapping`).
    pub questions: &'a [MappedQuestion],
    /// Connections whose responses are rows with a column per question.
    pub wide_sources: &'a [WideSurveySource],
}

/// The placeholder a connector model uses for its connection's SQL schema.
pub const CONNECTION_PLACEHOLDER: &str = "{{ connection }}";

/// A configured connection, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The connection name: the SQL schema of its raw tables.
    pub name: String,
    /// The connectors folder whose models map it onto the canonical views
    /// (`connectors/<connector>/models/*.sql`): its connector's name, or the connection's
    /// `models` setting (an `airbyte-manifest:` connector names its models folder that way).
    pub connector: String,
}

/// Registers every canonical view in schema `tx`. Models of a connection whose raw tables
/// are missing (a stream not synced yet) are skipped, with a warning pushed to `warnings`.
///
/// Views are registered in file-name order, so a model may read the views before its own
/// (`tx.surveys` reads `tx.customers`, `tx.employees` and `tx.survey_answers`). A view with a
/// mapping (`sql/mappings/<view>.sql`, applied once over every connection's mapping rows)
/// gets it as one more part when any connection has a survey mapping.
pub(crate) async fn register_canonical_views(
    ctx: &SessionContext,
    tx: &Arc<dyn SchemaProvider>,
    sources: &SqlSources,
    connections: &[Connection],
    surveys: &SurveyMappings<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>> {
    tx.register_table("survey_mapping".into(), survey_mapping::mapping_table(surveys.questions)?)?;
    let mut views = Vec::new();
    for contract_file in sources.canonical_views() {
        let view = contract_file.stem().to_string();
        let contract = ctx.sql(&contract_file.text).await.map_err(|e| {
            EngineError::file(&contract_file.path, 0, format!("the view's contract SELECT does not plan: {e}"))
        })?;
        let columns: Vec<(String, DataType)> =
            contract.schema().fields().iter().map(|f| (f.name().clone(), lake_type(f.data_type()))).collect();
        let mut parts = Vec::new();
        for connection in connections {
            for model in sources.connector_models(&connection.connector).filter(|m| m.stem() == view) {
                let sql = model.text.replace(CONNECTION_PLACEHOLDER, &connection.name);
                match ctx.sql(&sql).await {
                    Ok(frame) => parts.push(conform(frame, &columns, model, &view)?),
                    Err(e) if e.to_string().contains("not found") => warnings.push(format!(
                        "tx.{view}: connection `{}` is skipped until its streams are synced ({}: {e})",
                        connection.name, model.path
                    )),
                    Err(e) => return Err(EngineError::file(&model.path, 0, e.to_string())),
                }
            }
        }
        if view == "survey_answers" {
            for source in surveys.wide_sources {
                match survey_mapping::wide_answers(ctx, source).await {
                    Ok(frame) => parts.push(conform(frame, &columns, contract_file, &view)?),
                    Err(EngineError::Sql(e)) if e.to_string().contains("not found") => warnings.push(format!(
                        "tx.{view}: connection `{}` is skipped until its stream `{}` is synced ({e})",
                        source.connection, source.stream
                    )),
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(mapping) = sources.mapping(&view)
            && !surveys.questions.is_empty()
        {
            let frame = ctx
                .sql(&mapping.text)
                .await
                .map_err(|e| EngineError::file(&mapping.path, 0, format!("the mapping does not plan: {e}")))?;
            parts.push(conform(frame, &columns, mapping, &view)?);
        }
        let frame = match parts.into_iter().reduce(|all, part| all.union(part).expect("parts share one schema")) {
            Some(frame) => frame,
            None => conform(contract, &columns, contract_file, &view)?,
        };
        tx.register_table(view.clone(), frame.into_view())?;
        views.push(view);
    }
    Ok(views)
}

/// Selects the contract's columns from a model, by name, cast to the contract's types.
fn conform(frame: DataFrame, columns: &[(String, DataType)], file: &SqlFile, view: &str) -> Result<DataFrame> {
    let missing: Vec<&str> = columns
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| frame.schema().field_with_unqualified_name(n).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(EngineError::file(
            &file.path,
            0,
            format!(
                "the model of tx.{view} lacks column(s) {}; it must produce: {}",
                missing.join(", "),
                columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let projection: Vec<Expr> = columns
        .iter()
        .map(|(name, data_type)| cast(Expr::Column(Column::from_name(name)), data_type.clone()).alias(name))
        .collect();
    Ok(frame.select(projection)?)
}

/// Timestamps in the model are UTC microseconds, as in the lake.
fn lake_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Timestamp(_, _) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        other => other.clone(),
    }
}
