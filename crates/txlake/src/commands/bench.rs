//! `txlake bench …`: ingest (the sample connector into a file lake, end to end), metrics
//! (every metric on ≥ 10 M events), api (the REST service under load, on 127.0.0.1) and odata
//! (paging the OData feed).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, TxlakeConfig, sync_connection};

use crate::cli::BenchCommand;

/// Runs a benchmark and prints its figures.
pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Ingest { customers, employees, days, lake, incremental } => {
            ingest(customers, employees, days, lake, incremental).await
        }
        BenchCommand::Metrics { customers, employees, lake } => metrics(customers, employees, lake).await,
        BenchCommand::Connector { records, page_size, lake, airbyte_cdk, airbyte_manifest } => {
            super::bench_connector::run(records, page_size, lake, airbyte_cdk, airbyte_manifest).await
        }
        BenchCommand::Files { rows, xlsx_rows, lake, no_duckdb } => {
            super::bench_files::run(rows, xlsx_rows, lake, !no_duckdb).await
        }
        BenchCommand::Api { customers, employees, lake, clients, requests } => {
            api(customers, employees, lake, clients, requests).await
        }
        BenchCommand::Console { lake, runs } => super::bench_console::run(lake, runs).await,
        BenchCommand::Odata { customers, employees, lake, page_size } => {
            super::bench_odata::run(customers, employees, lake, page_size).await
        }
    }
}

async fn ingest(
    customers: u64,
    employees: u64,
    days: u64,
    lake: Option<std::path::PathBuf>,
    incremental: bool,
) -> anyhow::Result<ExitCode> {
    let (dir, temporary) = bench_dir(lake, "ingest")?;
    let config = file_lake_config(&dir)?;
    let lake = config.open_lake()?;
    let connection = ConnectionConfig {
        connector: "sample".into(),
        config: json!({ "customers": customers, "employees": employees, "days": days, "seed": 42 }),
        streams: None,
        modes: Default::default(),
        survey_mapping: None,
    };
    let options = SyncOptions { full_refresh: !incremental, policy: config.sync.clone(), ..Default::default() };
    let mode = if incremental { "default modes" } else { "full refresh" };
    println!(
        "bench ingest: sample connector (customers={customers}, employees={employees}, days={days}, {mode}) → {}",
        dir.display()
    );
    let started = Instant::now();
    let report = sync_connection(&lake, &builtin_registry(), "bench", &connection, &options, &QuietObserver).await?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(error) = &report.error {
        anyhow::bail!("the benchmark sync failed: {error}");
    }
    let records: u64 = report.streams.iter().map(|s| s.records).sum();
    let lake_bytes = folder_size(&dir.join("lake"));
    println!("records         {records}");
    println!("seconds         {seconds:.2}");
    println!("records/s       {:.0}", records as f64 / seconds);
    match peak_rss_bytes() {
        Some(rss) => println!("peak RSS        {:.0} MB", rss as f64 / 1e6),
        None => println!("peak RSS        unknown (no /proc/self/status)"),
    }
    println!("lake size       {:.1} MB", lake_bytes as f64 / 1e6);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// A config with only a file lake at `dir/lake`, the default commit policy, no connections.
pub(super) fn file_lake_config(dir: &std::path::Path) -> anyhow::Result<TxlakeConfig> {
    Ok(TxlakeConfig::parse(
        &format!("[lake]\nurl = \"file://{}\"\n", dir.join("lake").display()),
        std::path::Path::new("bench"),
        dir.to_path_buf(),
        &|_| None,
    )?)
}

/// The folder a benchmark writes to: the one given, or a temporary one (`true`: remove it after).
pub(super) fn bench_dir(lake: Option<std::path::PathBuf>, name: &str) -> anyhow::Result<(std::path::PathBuf, bool)> {
    let (dir, temporary) = match lake {
        Some(dir) => (dir, false),
        None => (std::env::temp_dir().join(format!("txlake-bench-{name}-{}", std::process::id())), true),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok((dir, temporary))
}

/// Starts a new peak for [`peak_rss_bytes`] (Linux: `5` in `/proc/self/clear_refs` resets
/// VmHWM to the current RSS), so a phase's peak can be told from the set-up's. False if the
/// kernel does not allow it.
pub(super) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak resident set (VmHWM) on Linux.
pub(super) fn peak_rss_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// The process's resident set now (VmRSS) on Linux.
pub(super) fn rss_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time read from `/proc` (Linux): this process's, and the whole machine's split into
/// busy, idle and stolen (by the hypervisor, for other guests), so a benchmark can say how
/// much of the machine it used and how much the host took away.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CpuTimes {
    /// This process: user + system seconds.
    pub process: f64,
    /// The machine: seconds busy, idle (idle + iowait) and stolen, summed over the cores.
    pub busy: f64,
    pub idle: f64,
    pub steal: f64,
}

impl CpuTimes {
    /// Now, or `None` off Linux.
    pub fn now() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/self/stat").ok()?, &std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// From the text of `/proc/self/stat` and `/proc/stat`.
    fn parse(stat: &str, machine: &str) -> Option<Self> {
        // /proc reports clock ticks of USER_HZ, which Linux fixes at 100 for user space.
        const TICK: f64 = 0.01;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let process = (fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?) as f64 * TICK;
        let ticks: Vec<u64> =
            machine.lines().next()?.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
        let at = |i: usize| ticks.get(i).copied().unwrap_or(0) as f64 * TICK;
        // user nice system idle iowait irq softirq steal
        Some(Self { process, busy: at(0) + at(1) + at(2) + at(5) + at(6), idle: at(3) + at(4), steal: at(7) })
    }

    /// The time spent between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            process: self.process - earlier.process,
            busy: self.busy - earlier.busy,
            idle: self.idle - earlier.idle,
            steal: self.steal - earlier.steal,
        }
    }

    /// One line for a report over `seconds` of wall clock.
    pub fn describe(&self, seconds: f64) -> String {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let total = (self.busy + self.idle + self.steal).max(f64::EPSILON);
        format!(
            "{:.2} s ({:.2} of {cores} cores); the machine meanwhile {:.0} % idle, {:.0} % stolen by the host",
            self.process,
            self.process / seconds,
            self.idle / total * 100.0,
            self.steal / total * 100.0
        )
    }
}

pub(super) fn folder_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => folder_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The sample world of `customers` customers in `dir/lake`, synced unless it is there
/// already; the config has `extra` appended (keys, server settings).
pub(super) async fn sample_lake(
    dir: &std::path::Path,
    customers: u64,
    employees: u64,
    extra: &str,
) -> anyhow::Result<TxlakeConfig> {
    let config_text = format!(
        "[lake]\nurl = \"file://{}\"\n[connections.demo]\nconnector = \"sample\"\nconfig = {{ customers = {customers}, employees = {employees}, days = 365, seed = 42 }}\n{extra}",
        dir.join("lake").display()
    );
    let config = TxlakeConfig::parse(&config_text, std::path::Path::new("bench"), dir.to_path_buf(), &|_| None)?;
    let lake = config.open_lake()?;
    if lake.list_raw_tables().await?.is_empty() {
        println!("syncing the sample world (customers={customers}, employees={employees}) into {} …", dir.display());
        let started = Instant::now();
        let report = sync_connection(
            &lake,
            &builtin_registry(),
            "demo",
            config.connection("demo")?,
            &SyncOptions::default(),
            &QuietObserver,
        )
        .await?;
        if let Some(error) = report.error {
            anyhow::bail!("the benchmark sync failed: {error}");
        }
        let records: u64 = report.streams.iter().map(|s| s.records).sum();
        println!("synced {records} records in {:.1} s", started.elapsed().as_secs_f64());
    } else {
        println!("reusing the lake in {}", dir.display());
    }
    Ok(config)
}

/// Times every metric at its default grouping on a sample lake of the given size.
async fn metrics(customers: u64, employees: u64, lake: Option<std::path::PathBuf>) -> anyhow::Result<ExitCode> {
    let (dir, temporary) = bench_dir(lake, "metrics")?;
    let config = sample_lake(&dir, customers, employees, "").await?;
    let engine = crate::commands::query::open_engine(&config).await?;
    let events = engine.sql("SELECT count(*) FROM tx.touchpoints").await?.collect().await?;
    let events = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(events[0].column(0)).value(0);
    println!("tx.touchpoints: {events} events");

    // Views marked `materialized` are computed once per lake version (after each sync), then
    // every request reads them from memory: time that once-per-sync cost on its own.
    let state = engine.context().state();
    let started = Instant::now();
    for view in engine.materialized_views() {
        let view_started = Instant::now();
        let footprint = view.refresh(&state).await?;
        println!(
            "materialized {:<32} {:.3} s  {:>9} rows  {:>5.0} MB",
            view.name(),
            view_started.elapsed().as_secs_f64(),
            footprint.rows,
            footprint.bytes as f64 / 1e6
        );
    }
    println!(
        "materialized views: {:.3} s once per lake version (peak RSS so far {})",
        started.elapsed().as_secs_f64(),
        peak_rss_bytes().map_or("unknown".to_string(), |rss| format!("{:.0} MB", rss as f64 / 1e6))
    );

    let mut rows = Vec::new();
    let mut slowest: Option<(f64, String, txlake_engine::MetricRequest)> = None;
    for def in engine.metrics() {
        // Overall (one row, or the table as it is) and the heaviest grouping a client can ask
        // for: every dimension by month.
        let overall = txlake_engine::MetricRequest::default();
        let full = match def.kind {
            txlake_engine::MetricKind::Aggregate => Some(txlake_engine::MetricRequest {
                group_by: def.dimensions.clone(),
                grain: def.time.as_ref().map(|_| txlake_engine::Grain::Month),
                ..Default::default()
            }),
            txlake_engine::MetricKind::Table => None,
        };
        let answered_from = if engine.has_rollup(&def.name) {
            "rollup"
        } else if engine.materialized_views().iter().any(|v| v.name() == format!("metrics.{}", def.name)) {
            "rows in memory"
        } else {
            "view"
        };
        let mut cells = vec![def.name.clone(), format!("{:?}", def.kind).to_lowercase(), answered_from.to_string()];
        for request in std::iter::once(Some(overall)).chain(std::iter::once(full)) {
            let Some(request) = request else {
                cells.extend(["-".to_string(), "-".to_string()]);
                continue;
            };
            let started = Instant::now();
            let batches = engine.metric(&def.name, &request).await?.collect().await?;
            let seconds = started.elapsed().as_secs_f64();
            cells.push(batches.iter().map(|b| b.num_rows()).sum::<usize>().to_string());
            cells.push(format!("{seconds:.3}"));
            if slowest.as_ref().is_none_or(|s| seconds > s.0) {
                slowest = Some((seconds, def.name.clone(), request));
            }
        }
        rows.push(cells);
    }
    print!(
        "{}",
        crate::commands::text_table(
            &[
                "metric",
                "kind",
                "answered from",
                "overall rows",
                "overall s",
                "all dims × month rows",
                "all dims × month s"
            ],
            &rows
        )
    );
    match peak_rss_bytes() {
        Some(rss) => println!("peak RSS        {:.0} MB", rss as f64 / 1e6),
        None => println!("peak RSS        unknown (no /proc/self/status)"),
    }
    if let Some((seconds, name, request)) = slowest {
        println!();
        println!("EXPLAIN ANALYZE of the slowest, {name} ({seconds:.3} s):");
        let plan = engine.metric(&name, &request).await?.explain(false, true)?.collect().await?;
        println!("{}", arrow::util::pretty::pretty_format_batches(&plan)?);
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// Requests a dashboard repeats: each is asked once uncached, then over and over.
const DASHBOARD_REQUESTS: [&str; 8] = [
    "/api/v1/metrics/nps?group_by=segment",
    "/api/v1/metrics/csat?group_by=touchpoint",
    "/api/v1/metrics/tx_scorecard?grain=quarter",
    "/api/v1/metrics/customer_churn?grain=month",
    "/api/v1/metrics/journey_funnel?group_by=stage,stage_order",
    "/api/v1/metrics/enps?group_by=department",
    "/api/v1/metrics/customer_ltv?group_by=segment",
    "/api/v1/metrics/nps?group_by=segment&grain=month&format=csv",
];

/// The API service on 127.0.0.1 over a sample lake: each metric's uncached latency, then
/// `requests` cached requests from `clients` concurrent keep-alive clients (p50, p99, req/s).
/// Client and server share the machine's cores, so the figures are a floor.
async fn api(
    customers: u64,
    employees: u64,
    lake: Option<std::path::PathBuf>,
    clients: usize,
    requests: usize,
) -> anyhow::Result<ExitCode> {
    let (dir, temporary) = bench_dir(lake, "metrics")?;
    let key = txlake_server::auth::generate_key();
    let keys = txlake_server::auth::config_snippet("bench", txlake_server::auth::Role::Viewer, &key.sha256);
    let config = sample_lake(&dir, customers, employees, &keys).await?;
    let state = txlake_server::AppState::open(config).await?;
    let started = Instant::now();
    state.engine().refresh_materialized().await?;
    println!("materialized views computed in {:.2} s (once per lake version)", started.elapsed().as_secs_f64());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(txlake_server::serve(state, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(&key.key).send();

    println!();
    println!("uncached (first request of each metric, overall):");
    let names: Vec<String> = {
        let catalog: serde_json::Value = get("/api/v1/metrics").await?.json().await?;
        catalog["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["name"].as_str().map(String::from))
            .collect()
    };
    let mut rows = Vec::new();
    for name in &names {
        let started = Instant::now();
        let response = get(&format!("/api/v1/metrics/{name}")).await?;
        let status = response.status();
        let bytes = response.bytes().await?.len();
        rows.push(vec![
            name.clone(),
            status.as_u16().to_string(),
            format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
            bytes.to_string(),
        ]);
    }
    for path in DASHBOARD_REQUESTS {
        let started = Instant::now();
        let response = get(path).await?;
        anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
        response.bytes().await?;
        rows.push(vec![
            path.to_string(),
            "200".into(),
            format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
            "-".into(),
        ]);
    }
    print!("{}", crate::commands::text_table(&["metric / request", "status", "ms", "bytes"], &rows));

    println!();
    println!(
        "cached: {requests} requests from {clients} concurrent clients over {} dashboard requests …",
        DASHBOARD_REQUESTS.len()
    );
    let per_client = requests.div_ceil(clients);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let base = base.clone();
        let key = key.key.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let path = DASHBOARD_REQUESTS[(c + i) % DASHBOARD_REQUESTS.len()];
                let sent = Instant::now();
                let response = client.get(format!("{base}{path}")).bearer_auth(&key).send().await?;
                anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
                response.bytes().await?;
                latencies.push(sent.elapsed().as_secs_f64());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)] * 1e3;
    println!("requests        {}", latencies.len());
    println!("requests/s      {:.0}", latencies.len() as f64 / seconds);
    println!("p50             {:.2} ms", percentile(0.50));
    println!("p99             {:.2} ms", percentile(0.99));
    println!("max             {:.2} ms", percentile(1.0));
    match peak_rss_bytes() {
        Some(rss) => println!("peak RSS        {:.0} MB (server and clients)", rss as f64 / 1e6),
        None => println!("peak RSS        unknown (no /proc/self/status)"),
    }
    let _ = stop.send(());
    server.await??;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_read_the_process_and_the_machine_from_proc() {
        let stat = "4242 (tx lake) (x)) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9";
        let machine = "cpu  1000 10 200 5000 100 5 5 300 0 0\ncpu0 500 5 100 2500 50 2 3 150 0 0\n";
        let t = CpuTimes::parse(stat, machine).expect("parses");
        assert!((t.process - 3.0).abs() < 1e-9, "{t:?}");
        assert!((t.busy - 12.2).abs() < 1e-9 && (t.idle - 51.0).abs() < 1e-9 && (t.steal - 3.0).abs() < 1e-9, "{t:?}");
        let later = CpuTimes { process: 5.0, busy: 22.2, idle: 56.0, steal: 8.0 };
        let d = later.since(&t);
        assert!((d.process - 2.0).abs() < 1e-9);
        let line = d.describe(1.0);
        assert!(line.contains("25 % idle") && line.contains("25 % stolen"), "{line}");
        assert!(CpuTimes::parse("no parenthesis", machine).is_none());
        if cfg!(target_os = "linux") {
            assert!(CpuTimes::now().is_some());
        }
    }
}
