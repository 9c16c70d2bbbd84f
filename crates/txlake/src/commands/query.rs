//! `txlake query`: SQL over the lake's raw tables.

use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use arrow::record_batch::RecordBatch;
use txlake_engine::Engine;
use txlake_sync::TxlakeConfig;

use crate::cli::ConfigArg;
use crate::cli::OutputFormat;

/// Runs `sql` and prints the result.
pub async fn run(config: &ConfigArg, sql: &str, format: OutputFormat) -> anyhow::Result<ExitCode> {
    let config = config.load()?;
    let batches = execute(&config, sql).await?;
    print!("{}", render(&batches, format)?);
    Ok(ExitCode::SUCCESS)
}

/// Opens the engine over the configured lake: raw tables, `tx.*` views and `metrics.*`.
pub async fn open_engine(config: &TxlakeConfig) -> anyhow::Result<Engine> {
    let lake = config.open_lake()?;
    Ok(txlake_server::state::open_engine(config, &lake).await?)
}

/// Executes `sql` over the lake's raw tables, canonical views and metric views.
pub async fn execute(config: &TxlakeConfig, sql: &str) -> anyhow::Result<Vec<RecordBatch>> {
    let engine = open_engine(config).await?;
    let hint = || {
        if engine.raw_tables().is_empty() {
            "the lake has no tables yet: run `txlake sync` first".to_string()
        } else {
            format!(
                "tables: {}; views: {}; metrics: metrics.<name> (`txlake metrics list`)",
                engine.raw_tables().iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                engine.views().iter().map(|v| format!("tx.{v}")).collect::<Vec<_>>().join(", ")
            )
        }
    };
    let frame = engine.sql(sql).await.map_err(|e| anyhow!("{e}")).with_context(|| format!("SQL error ({})", hint()))?;
    frame.collect().await.map_err(|e| anyhow!("query failed: {e}"))
}

/// Formats batches as text, CSV or JSON.
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Table => {
            let readable = batches.iter().map(round_floats).collect::<Result<Vec<_>, _>>()?;
            format!("{}\n", arrow::util::pretty::pretty_format_batches(&readable)?)
        }
        OutputFormat::Csv => {
            let mut out = Vec::new();
            {
                let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
                for batch in batches {
                    writer.write(batch)?;
                }
            }
            String::from_utf8(out)?
        }
        OutputFormat::Json => {
            let mut out = Vec::new();
            {
                let mut writer = arrow::json::ArrayWriter::new(&mut out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
            if out.is_empty() {
                out.extend_from_slice(b"[]");
            }
            out.push(b'\n');
            String::from_utf8(out)?
        }
    })
}

/// Floats rounded to two decimals, for reading in a terminal (CSV and JSON keep every digit).
fn round_floats(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    use arrow::array::{Array, AsArray as _, Float64Array};
    use arrow::datatypes::{DataType, Float64Type};
    let columns = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Float64 => {
                let values = column.as_primitive::<Float64Type>();
                let rounded: Float64Array = values.iter().map(|v| v.map(|v| (v * 100.0).round() / 100.0)).collect();
                std::sync::Arc::new(rounded) as std::sync::Arc<dyn Array>
            }
            _ => column.clone(),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns)
}
