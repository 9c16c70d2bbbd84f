//! One module per subcommand; [`run`] dispatches.

mod bench;
mod bench_connector;
mod bench_console;
mod bench_files;
mod bench_odata;
mod config;
mod connectors;
mod init;
mod keys;
mod metrics;
mod query;
mod quickstart;
mod runs;
mod serve;
mod sync;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init { dir, force } => init::run(&dir, force),
        Command::Quickstart { dir, listen, no_serve } => {
            quickstart::run(&dir, (!no_serve).then_some(listen.as_str()), cli.quiet).await
        }
        Command::Serve { config, listen } => serve::run(&config, listen.as_deref()).await,
        Command::Keys(command) => keys::run(command),
        Command::Config(ConfigCommand::Check { config }) => config::check(&config).await,
        Command::Openapi => {
            print!("{}", txlake_server::openapi::json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { config, connections, full_refresh, import_airbyte_state, force } => {
            if let Some(file) = import_airbyte_state {
                sync::import_airbyte_state(&config, &connections, &file, force).await?;
            }
            sync::run(&config, &connections, full_refresh, cli.quiet).await
        }
        Command::Query { config, sql, format } => query::run(&config, &sql, format).await,
        Command::Metrics(command) => metrics::run(command).await,
        Command::Connectors(command) => connectors::run(command).await,
        Command::Runs { config, limit } => runs::run(&config, limit).await,
        Command::Bench(command) => bench::run(command).await,
    }
}

/// Formats rows as an aligned text table with a header; numbers align right.
pub fn text_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let numeric: Vec<bool> =
        (0..headers.len()).map(|i| !rows.is_empty() && rows.iter().all(|r| r[i].parse::<f64>().is_ok())).collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                out.push_str("  ");
            }
            if numeric[i] {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_table_aligns_numbers_right() {
        let out = super::text_table(
            &["stream", "records"],
            &[vec!["tickets".into(), "5".into()], vec!["a".into(), "1200".into()]],
        );
        assert_eq!(out, "stream   records\n-------  -------\ntickets        5\na           1200\n");
    }
}
