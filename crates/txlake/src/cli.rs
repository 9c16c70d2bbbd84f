//! The command line: every subcommand, flag and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// txlake: Total Experience (CX + EX) data from CRM, HRM, LMS and ticketing systems, in a
/// Delta lake, queried with SQL.
#[derive(Debug, Parser)]
#[command(name = "txlake", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TXLAKE_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Print only errors and results (no progress, no log lines).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The configuration file flag shared by most commands.
#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, short, default_value = "txlake.toml", env = "TXLAKE_CONFIG")]
    pub config: PathBuf,
    /// A folder of declarative connectors (`<dir>/<name>/manifest.yaml`, `models/*.sql`) to
    /// load beside the built-in ones; overrides the config's `connectors_dir`.
    #[arg(long, env = "TXLAKE_CONNECTORS_DIR")]
    pub connectors_dir: Option<PathBuf>,
}

impl ConfigArg {
    /// A config file with no connectors folder given on the command line.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self { config: path.into(), connectors_dir: None }
    }

    /// Loads the config file, with `--connectors-dir` applied.
    pub fn load(&self) -> Result<txlake_sync::TxlakeConfig, txlake_sync::SyncError> {
        let mut config = txlake_sync::TxlakeConfig::load(&self.config)?;
        if let Some(dir) = &self.connectors_dir {
            config.connectors_dir = Some(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()));
        }
        Ok(config)
    }

    /// The registry for commands that may run without a config file.
    pub fn registry(&self) -> Result<txlake_connector::Registry, txlake_connector::ConnectorError> {
        let dir = match &self.connectors_dir {
            Some(dir) => Some(dir.clone()),
            None if self.config.exists() => self.load().ok().and_then(|c| c.connectors_dir()),
            None => None,
        };
        txlake_sync::connectors::registry_with(dir.as_deref())
    }
}

/// `txlake config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check that a configuration file is valid: it parses, its `${VAR}`s are set, the lake
    /// URL, every connection's connector and options, the listen address and API keys. Exits
    /// non-zero listing every problem.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter txlake.toml (a `demo` connection on the sample connector).
    Init {
        /// Folder to write it in.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing txlake.toml.
        #[arg(long)]
        force: bool,
    },
    /// Set up a demo, sync the sample data, print the TX scorecard and serve the API: the
    /// five-minute tour.
    Quickstart {
        /// Folder for the demo's config and lake.
        #[arg(long, default_value = "txlake-demo")]
        dir: PathBuf,
        /// Address for the API (loopback only: the demo has no API keys).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Stop after printing the scorecard, without serving the API.
        #[arg(long)]
        no_serve: bool,
    },
    /// Serve the REST API (metrics, tables, SQL, syncs), /docs and /openapi.json.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Address to listen on (overrides `[server] listen`).
        #[arg(long)]
        listen: Option<String>,
    },
    /// API keys for the service.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check a configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the OpenAPI document of the REST API.
    Openapi,
    /// Sync connections into the lake (all of them when none is named).
    Sync {
        #[command(flatten)]
        config: ConfigArg,
        /// Connections to sync.
        connections: Vec<String>,
        /// Read every stream from scratch and replace its table.
        #[arg(long)]
        full_refresh: bool,
        /// Before syncing, import the connection's state from Airbyte (a JSON file: the
        /// per-stream `[{"type": "STREAM", …}]` list, a GLOBAL state, the legacy
        /// `{stream: state}` document, or the Airbyte API's connection state), so the sync
        /// reads only what Airbyte had not. Names exactly one connection.
        #[arg(long, value_name = "FILE", conflicts_with = "full_refresh")]
        import_airbyte_state: Option<std::path::PathBuf>,
        /// With --import-airbyte-state: replace streams' state even when they already have one.
        #[arg(long, requires = "import_airbyte_state")]
        force: bool,
    },
    /// Run a SQL query over the lake; raw tables are `<connection>.<stream>`.
    Query {
        #[command(flatten)]
        config: ConfigArg,
        /// The SQL.
        sql: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The metric catalog: list it, or compute a metric.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// List, describe and test connectors.
    #[command(subcommand)]
    Connectors(ConnectorsCommand),
    /// Show recent sync runs from the run history.
    Runs {
        #[command(flatten)]
        config: ConfigArg,
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Measure txlake on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `txlake keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new API key: prints the key once and the lines to paste into txlake.toml (which
    /// stores only its SHA-256).
    Create {
        /// Who the key is for (shown in logs and errors).
        #[arg(long)]
        name: String,
        /// viewer (metrics, tables), analyst (+ SQL) or admin (+ syncs).
        #[arg(long, default_value = "viewer")]
        role: String,
    },
}

/// `txlake connectors …`.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// The connectors this binary has (and those of the connectors folder).
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Scaffold a declarative connector: a manifest, a models/ folder and a fixture test.
    New {
        /// The connector name (lower-case letters, digits, `_`).
        name: String,
        /// The connectors folder to create it in.
        #[arg(long, default_value = "connectors")]
        dir: PathBuf,
    },
    /// The JSON Schema of a connector's configuration.
    Spec {
        #[command(flatten)]
        config: ConfigArg,
        /// Connector name.
        connector: String,
    },
    /// Check that a connection's configuration reaches its source.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// A connection of the config file, or a connector name (checked with its defaults).
        target: String,
    },
    /// The streams a connection offers: schema, keys, cursor, sync modes.
    Discover {
        #[command(flatten)]
        config: ConfigArg,
        /// A connection of the config file, or a connector name (with its defaults).
        target: String,
        /// Print the catalog as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Translate an Airbyte low-code manifest into txlake's native manifest and print it
    /// (YAML, then what was approximated), or print why it is refused (connectors/AIRBYTE.md).
    Translate {
        /// The Airbyte `manifest.yaml` (a `airbyte-manifest:` prefix is allowed).
        path: PathBuf,
        /// The connector name; default: the manifest's folder without `source_` / `source-`.
        #[arg(long)]
        name: Option<String>,
    },
}

/// `txlake metrics …`.
#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Every metric: name, title, kind, dimensions, measures.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Compute a metric, grouped and filtered as asked.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The metric (`txlake metrics list`).
        name: String,
        /// Dimensions to group by, comma-separated.
        #[arg(long, value_delimiter = ',')]
        group_by: Vec<String>,
        /// Time grain: day, week, month, quarter or year (adds a `period` column).
        #[arg(long)]
        grain: Option<String>,
        /// From this date (YYYY-MM-DD, inclusive) or timestamp (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Up to this date (inclusive) or timestamp (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// A dimension filter `name=value` or `name=v1,v2`; repeat for several.
        #[arg(long = "filter", value_name = "NAME=VALUE")]
        filters: Vec<String>,
        /// Result columns to order by, comma-separated; `-col` or `col desc` for descending.
        #[arg(long, value_delimiter = ',')]
        order_by: Vec<String>,
        /// Rows at most.
        #[arg(long)]
        limit: Option<usize>,
        /// Rows to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

/// `txlake bench …`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Sample connector → file lake: records/s and peak memory of a full sync.
    Ingest {
        /// Customers in the sample world (records grow roughly linearly).
        #[arg(long, default_value_t = 400_000)]
        customers: u64,
        /// Employees in the sample world.
        #[arg(long, default_value_t = 2_000)]
        employees: u64,
        /// Days simulated.
        #[arg(long, default_value_t = 365)]
        days: u64,
        /// Lake folder (default: a temporary folder, removed afterwards).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Sync each stream in its default mode (merges on a key for the dedupe streams)
        /// instead of a full refresh.
        #[arg(long)]
        incremental: bool,
    },
    /// A declarative stream from a local fake API (1,000-record JSON pages of ~20 mixed-type
    /// fields with a nested object and nulls) into a file lake: records/s, peak memory, and
    /// where the time goes.
    Connector {
        /// Records the API serves.
        #[arg(long, default_value_t = 2_000_000)]
        records: u64,
        /// Records per page.
        #[arg(long, default_value_t = 1_000)]
        page_size: u64,
        /// Lake folder (default: a temporary folder, removed afterwards).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Also read N records of the same stream from the same fake API with the Airbyte
        /// Python CDK (`benches/airbyte_cdk`, installed on first use from PyPI), and report
        /// txlake's speed as a multiple of it. Run from the repository's root.
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "100000")]
        airbyte_cdk: Option<u64>,
        /// Instead: read the stream written as an Airbyte low-code manifest
        /// (`benches/airbyte_cdk/manifest.yaml`) with txlake's engine through the manifest
        /// translator, then its first N records from the same fake API with the Airbyte CDK's
        /// declarative source; report both speeds, peak RSS and whether both read the same
        /// records. Run from the repository's root.
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "100000", conflicts_with = "airbyte_cdk")]
        airbyte_manifest: Option<u64>,
    },
    /// Every metric on a large sample lake, at its default grouping (no dimensions: the
    /// overall figure) and at the heaviest (every dimension × month): the once-per-sync cost
    /// of the materialized views, time per metric, peak RSS, and EXPLAIN ANALYZE of the slowest.
    Metrics {
        /// Customers in the sample world (about 10 touchpoint events each).
        #[arg(long, default_value_t = 1_050_000)]
        customers: u64,
        /// Employees in the sample world (about one per 25 customers keeps agents realistic).
        #[arg(long, default_value_t = 42_000)]
        employees: u64,
        /// Lake folder; an existing synced lake there is reused (default: a temporary folder).
        #[arg(long)]
        lake: Option<PathBuf>,
    },
    /// The OData feed on 127.0.0.1 over a sample lake: `tx.touchpoints` (about 10 events per
    /// customer) paged to the end through `@odata.nextLink` with a five-column `$select`
    /// (rows/s, peak RSS), and a `$filter` on an aggregate metric set against the REST endpoint.
    Odata {
        /// Customers in the sample world (about 10 touchpoint events each; the default gives
        /// just over a million).
        #[arg(long, default_value_t = 103_000)]
        customers: u64,
        /// Employees in the sample world.
        #[arg(long, default_value_t = 4_000)]
        employees: u64,
        /// Lake folder; an existing synced lake there is reused.
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Rows per page (`[server] odata_page_size`).
        #[arg(long, default_value_t = 5_000)]
        page_size: usize,
    },
    /// The `files` connector on a generated CSV of survey answers (5 M rows, about 490 MB) and
    /// a generated XLSX (200,000 rows), each synced into a fresh file lake: rows/s, peak RSS,
    /// lake size, CPU; then DuckDB's `read_csv` on the same CSV (`benches/duckdb`, installed
    /// on first use from PyPI) for the reference speed. Run from the repository's root.
    Files {
        /// Rows of the CSV.
        #[arg(long, default_value_t = 5_000_000)]
        rows: u64,
        /// Rows of the XLSX (0: no XLSX phase).
        #[arg(long, default_value_t = 200_000)]
        xlsx_rows: u64,
        /// Folder for the generated files and the lakes (default: a temporary folder, removed
        /// afterwards).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Skip the DuckDB comparison (it needs Python 3 and, on first use, PyPI).
        #[arg(long)]
        no_duckdb: bool,
    },
    /// The web console on the quickstart lake: from a cold start of `txlake serve`, the time
    /// to the server answering, the scorecard's first paint and its numbers shown (target
    /// < 1 s), and the console's assets raw and compressed (target < 500 kB), in headless
    /// Chromium (`tests/browser/run.sh`, which installs it on first use). Run from the
    /// repository's root.
    Console {
        /// Folder with a `txlake.toml` whose lake is used (e.g. the quickstart's `txlake-demo`);
        /// without one there, the quickstart's config is written and its sample world synced
        /// (default: a temporary folder, removed afterwards).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Cold starts measured.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The REST API on 127.0.0.1 over a large sample lake: each metric's uncached latency,
    /// then cached dashboard requests under concurrency (p50, p99, requests/s).
    Api {
        /// Customers in the sample world (about 10 touchpoint events each).
        #[arg(long, default_value_t = 1_050_000)]
        customers: u64,
        /// Employees in the sample world.
        #[arg(long, default_value_t = 42_000)]
        employees: u64,
        /// Lake folder; an existing synced lake there is reused (e.g. the one of `bench metrics`).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Cached requests in all.
        #[arg(long, default_value_t = 50_000)]
        requests: usize,
    },
}

/// Query output formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}
