//! `txlake metrics list|show`: the metric catalog from the command line.

use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;
use txlake_engine::{Grain, MetricRequest, OrderBy};
use txlake_sync::TxlakeConfig;

use crate::cli::{MetricsCommand, OutputFormat};
use crate::commands::query::{open_engine, render};
use crate::commands::text_table;

/// Runs a metrics subcommand.
pub async fn run(command: MetricsCommand) -> anyhow::Result<ExitCode> {
    match command {
        MetricsCommand::List { config, format } => {
            let engine = open_engine(&TxlakeConfig::load(&config.config)?).await?;
            let rows: Vec<Vec<String>> = engine
                .metrics()
                .map(|m| {
                    vec![
                        m.name.clone(),
                        m.title.clone(),
                        format!("{:?}", m.kind).to_lowercase(),
                        m.dimensions.join(", "),
                        m.measures
                            .iter()
                            .map(|x| x.name.clone())
                            .chain(m.derived.iter().map(|d| d.name.clone()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ]
                })
                .collect();
            if format == OutputFormat::Table {
                print!("{}", text_table(&["metric", "title", "kind", "dimensions", "measures"], &rows));
            } else {
                let headers = ["name", "title", "kind", "dimensions", "measures"];
                let schema = Arc::new(Schema::new(
                    headers.iter().map(|h| Field::new(*h, DataType::Utf8, false)).collect::<Vec<_>>(),
                ));
                let columns: Vec<ArrayRef> = (0..headers.len())
                    .map(|i| Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[i].clone()))) as ArrayRef)
                    .collect();
                print!("{}", render(&[RecordBatch::try_new(schema, columns)?], format)?);
            }
        }
        MetricsCommand::Show { config, name, group_by, grain, from, to, filters, order_by, limit, offset, format } => {
            let grain = match grain {
                Some(g) => Some(
                    Grain::parse(&g)
                        .ok_or_else(|| anyhow!("invalid --grain `{g}`; use one of {}", Grain::NAMES.join(", ")))?,
                ),
                None => None,
            };
            let filters = filters
                .iter()
                .map(|f| match f.split_once('=') {
                    Some((k, v)) if !k.trim().is_empty() => {
                        Ok((k.trim().to_string(), v.split(',').map(|x| x.trim().to_string()).collect()))
                    }
                    _ => bail!("invalid --filter `{f}`; write NAME=VALUE or NAME=V1,V2"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let request = MetricRequest {
                group_by,
                grain,
                from,
                to,
                filters,
                order_by: order_by.iter().map(|o| OrderBy::parse(o)).collect(),
                limit,
                offset,
            };
            let engine = open_engine(&TxlakeConfig::load(&config.config)?).await?;
            let batches = engine.metric(&name, &request).await?.collect().await.context("computing the metric")?;
            print!("{}", render(&batches, format)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
