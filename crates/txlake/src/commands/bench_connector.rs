//! `txlake bench connector`: a declarative stream read from a local fake API that serves
//! 1,000-record JSON pages (about 20 mixed-type fields, a nested object, nulls) into a file
//! lake, end to end through the sync runner; then the hot path's parts on their own (HTTP,
//! record selection, Arrow decoding) so the report says where the time goes.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use txlake_connector::declarative::records::{RecordDecoder, select};
use txlake_connector::{Connector as _, DeclarativeConnector, Registry};
use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

use super::bench::{CpuTimes, bench_dir, file_lake_config, folder_size, peak_rss_bytes};

/// The manifest of the benchmark's stream.
const MANIFEST: &str = include_str!("bench_connector.yaml");
const TOKEN: &str = "bench-token";

/// The fake API: pages are assembled from pre-rendered record tails, so serving costs a
/// copy and the client's work dominates.
struct EventsApi {
    records: u64,
    page_size: u64,
    tails: Vec<String>,
}

impl EventsApi {
    fn new(records: u64, page_size: u64) -> Self {
        let tails = (0..page_size).map(record_tail).collect();
        Self { records, page_size, tails }
    }

    fn page(&self, after: u64, limit: u64) -> Vec<u8> {
        self.page_of(after, limit, self.records)
    }

    /// A page of the stream's first `records` records.
    fn page_of(&self, after: u64, limit: u64, records: u64) -> Vec<u8> {
        let after = after.min(records);
        let end = (after + limit.min(self.page_size)).min(records);
        let mut body = Vec::with_capacity((end - after) as usize * 640 + 128);
        body.extend_from_slice(b"{\"results\":[");
        for id in after..end {
            if id > after {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"id\":");
            push_decimal(&mut body, id);
            body.push(b',');
            body.extend_from_slice(self.tails[(id % self.page_size) as usize].as_bytes());
        }
        body.extend_from_slice(b"],\"paging\":");
        if end < records {
            body.extend_from_slice(format!("{{\"next\":{{\"after\":\"{end}\"}}}}}}").as_bytes());
        } else {
            body.extend_from_slice(b"null}");
        }
        body
    }
}

/// Appends `n` in decimal. `write!` went through `core::fmt` for each record, which cost the
/// fake server more than copying the rest of the record.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Every field of a record but `id`, varied by slot: strings, integers, floats, booleans,
/// timestamps, a nested object, and nulls.
fn record_tail(slot: u64) -> String {
    let countries = ["DE", "FR", "US", "GB", "RU", "BR", "IN", "JP"];
    let statuses = ["open", "pending", "solved", "closed"];
    let record = json!({
        "uuid": format!("7f0c{slot:04x}-1d2e-4b5a-9c8d-{:012x}", slot * 7919),
        "email": format!("person.{slot}@example.com"),
        "first_name": format!("First{slot}"),
        "last_name": format!("Last{}", slot * 31 % 997),
        "company": if slot.is_multiple_of(5) { serde_json::Value::Null } else { json!(format!("Company {} GmbH", slot % 97)) },
        "country": countries[(slot % 8) as usize],
        "status": statuses[(slot % 4) as usize],
        "amount": (slot as f64) * 12.37 + 0.5,
        "quantity": slot % 17,
        "score": if slot.is_multiple_of(7) { serde_json::Value::Null } else { json!(slot % 11) },
        "rating": if slot.is_multiple_of(3) { serde_json::Value::Null } else { json!((slot % 50) as f64 / 10.0) },
        "is_active": slot.is_multiple_of(2),
        "is_vip": if slot.is_multiple_of(9) { serde_json::Value::Null } else { json!(slot.is_multiple_of(4)) },
        "phone": if slot.is_multiple_of(4) { serde_json::Value::Null } else { json!(format!("+49 30 {:07}", slot * 13)) },
        "source": (["web", "email", "chat", "phone"][(slot % 4) as usize]),
        "notes": if slot.is_multiple_of(2) { serde_json::Value::Null } else { json!("Called back about the invoice; wants a follow-up next week.") },
        "created_at": format!("2024-{:02}-{:02}T{:02}:{:02}:00Z", slot % 12 + 1, slot % 28 + 1, slot % 24, slot % 60),
        "updated_at": format!("2025-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", slot % 12 + 1, slot % 28 + 1, slot % 24, slot % 60, slot % 60, slot % 1000),
        "address": {
            "street": format!("{} Hauptstraße", slot % 200 + 1),
            "city": (["Berlin", "Paris", "Austin", "Leeds"][(slot % 4) as usize]),
            "zip": if slot.is_multiple_of(6) { serde_json::Value::Null } else { json!(format!("{:05}", slot * 17 % 99999)) },
            "geo": { "lat": 52.52 + (slot % 100) as f64 / 1000.0, "lon": 13.40 - (slot % 100) as f64 / 1000.0 }
        }
    });
    let text = record.to_string();
    text[1..].to_string()
}

#[derive(Deserialize)]
struct PageQuery {
    after: Option<u64>,
    limit: Option<u64>,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn serve_page(State(api): State<Arc<EventsApi>>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "{\"message\":\"bad token\"}").into_response();
    }
    let body = api.page(q.after.unwrap_or(0), q.limit.unwrap_or(api.page_size));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/first/{n}/v1/events`: the same stream cut after its first `n` records, so a slower
/// reader (the Airbyte CDK) reads a prefix of what the same server gives txlake.
async fn serve_first(
    State(api): State<Arc<EventsApi>>,
    axum::extract::Path(first): axum::extract::Path<u64>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "{\"message\":\"bad token\"}").into_response();
    }
    let body = api.page_of(q.after.unwrap_or(0), q.limit.unwrap_or(api.page_size), first.min(api.records));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn start_api(api: Arc<EventsApi>) -> anyhow::Result<SocketAddr> {
    let app = axum::Router::new()
        .route("/v1/events", axum::routing::get(serve_page))
        .route("/first/{first}/v1/events", axum::routing::get(serve_first))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Runs the connector benchmark; with `airbyte_manifest` (records for the CDK), the Airbyte
/// manifest comparison instead ([`airbyte_manifest_bench`]).
pub async fn run(
    records: u64,
    page_size: u64,
    lake: Option<std::path::PathBuf>,
    airbyte_cdk: Option<u64>,
    airbyte_manifest: Option<u64>,
) -> anyhow::Result<ExitCode> {
    if let Some(cdk_records) = airbyte_manifest {
        return airbyte_manifest_bench(records, page_size, lake, cdk_records).await;
    }
    let api = Arc::new(EventsApi::new(records, page_size));
    let addr = start_api(api.clone()).await?;
    let base_url = format!("http://{addr}");
    let (dir, temporary) = bench_dir(lake, "connector")?;
    let config = file_lake_config(&dir)?;
    let lake = config.open_lake()?;
    let connector = DeclarativeConnector::from_manifest("bench_connector.yaml", MANIFEST)?;
    let mut registry = Registry::new();
    registry.register(Arc::new(connector.clone()));
    let connection = ConnectionConfig {
        connector: "bench_api".into(),
        config: json!({ "token": TOKEN, "base_url": base_url, "page_size": page_size }),
        streams: None,
        modes: Default::default(),
        survey_mapping: None,
    };
    println!(
        "bench connector: declarative stream `events` from a fake API on {addr} ({records} records, {page_size} per page, {:.0} KB a page) → {}",
        api.page(0, page_size).len() as f64 / 1e3,
        dir.display()
    );
    let options = SyncOptions { full_refresh: true, policy: config.sync.clone(), ..Default::default() };
    let cpu_before = CpuTimes::now();
    let started = Instant::now();
    let report = sync_connection(&lake, &registry, "bench", &connection, &options, &QuietObserver).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = CpuTimes::now().zip(cpu_before).map(|(after, before)| after.since(&before));
    if let Some(error) = &report.error {
        anyhow::bail!("the benchmark sync failed: {error}");
    }
    let synced: u64 = report.streams.iter().map(|s| s.records).sum();
    let records_per_second = synced as f64 / seconds;
    let rss = peak_rss_bytes();
    println!("records         {synced}");
    println!("seconds         {seconds:.2}");
    println!("records/s       {records_per_second:.0}");
    if let Some(cpu) = cpu {
        println!("CPU             {}", cpu.describe(seconds));
    }
    match rss {
        Some(rss) => println!("peak RSS        {:.0} MB", rss as f64 / 1e6),
        None => println!("peak RSS        unknown (no /proc/self/status)"),
    }
    println!("lake size       {:.1} MB", folder_size(&dir.join("lake")) as f64 / 1e6);
    if synced != records {
        anyhow::bail!("the sync landed {synced} records, the API served {records}");
    }

    // Where the time goes: each part of the hot path alone, over the same pages.
    let pages = records.div_ceil(page_size).min(400);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut bodies = Vec::new();
    for page in 0..pages {
        let body = client
            .get(format!("{base_url}/v1/events?after={}&limit={page_size}", page * page_size))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .bytes()
            .await?;
        if page < 20 {
            bodies.push(body);
        }
    }
    let http = started.elapsed().as_secs_f64() / (pages * page_size) as f64;
    let catalog = connector.discover(&connection.config).await?;
    let decoder = RecordDecoder::new(catalog.streams[0].schema.clone(), &[]);
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        for body in &bodies {
            std::hint::black_box(select(body, &["results"]).map_err(anyhow::Error::msg)?);
        }
    }
    let selecting = started.elapsed().as_secs_f64() / (rounds * bodies.len() as u64 * page_size) as f64;
    let started = Instant::now();
    for _ in 0..rounds {
        for body in &bodies {
            let selected = select(body, &["results"]).map_err(anyhow::Error::msg)?;
            std::hint::black_box(decoder.decode(&selected.records, &Default::default()).map_err(anyhow::Error::msg)?);
        }
    }
    let decoding = started.elapsed().as_secs_f64() / (rounds * bodies.len() as u64 * page_size) as f64 - selecting;
    let total = seconds / synced as f64;
    println!("where the time goes (µs per record; the sync overlaps fetching with decoding and writing):");
    println!("  HTTP fetch (server + client)   {:.2}", http * 1e6);
    println!("  record selection (raw slices)  {:.2}", selecting * 1e6);
    println!("  arrow-json decode              {:.2}", decoding * 1e6);
    println!("  whole sync, wall clock         {:.2}", total * 1e6);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Some(cdk_records) = airbyte_cdk {
        compare_with_airbyte_cdk(cdk_records, page_size, records_per_second).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The script that reads the stream with the Airbyte Python CDK.
const AIRBYTE_CDK_SCRIPT: &str = "benches/airbyte_cdk/run.sh";
/// The benchmark's stream as an Airbyte low-code manifest, read by both engines.
const AIRBYTE_MANIFEST: &str = "benches/airbyte_cdk/manifest.yaml";

/// `file` of the repository: from the current directory, else from the source tree this
/// binary was built from.
fn repository_file(file: &str, flag: &str) -> anyhow::Result<std::path::PathBuf> {
    [std::path::PathBuf::from(file), std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(file)]
        .into_iter()
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{flag} needs {file} from the txlake repository: run the benchmark from the repository's root"
            )
        })
}

/// What a read of the benchmark's stream by the Airbyte CDK gave (`benches/airbyte_cdk/run.py`).
struct CdkFigures {
    records: u64,
    records_per_second: f64,
    cpu_seconds: f64,
    peak_rss: Option<u64>,
    checksum: Option<String>,
}

/// Runs `benches/airbyte_cdk/run.sh` against `base_url`.
async fn run_airbyte_cdk(script: &std::path::Path, base_url: &str, page_size: u64) -> anyhow::Result<CdkFigures> {
    let output = tokio::process::Command::new("bash")
        .arg(script)
        .arg(base_url)
        .arg(TOKEN)
        .arg(page_size.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("could not run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        anyhow::bail!("the Airbyte CDK read failed ({}): {stdout}", output.status);
    }
    let line = |name: &str| stdout.lines().find_map(|line| line.strip_prefix(name).map(str::trim));
    let figure = |name: &str| -> anyhow::Result<f64> {
        line(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{} printed no `{name}` line: {stdout}", script.display()))
    };
    Ok(CdkFigures {
        records: figure("records ")? as u64,
        records_per_second: figure("records/s ")?,
        cpu_seconds: figure("cpu seconds ")?,
        peak_rss: line("peak rss bytes ").and_then(|v| v.parse().ok()),
        checksum: line("checksum ").map(str::to_string),
    })
}

/// FNV-1a (64 bit) over one line per record of its key fields, in id order: the same as
/// `checksum` in benches/airbyte_cdk/run.py, computed over the synced table.
async fn table_checksum(lake: &txlake_lake::Lake, table: &str, below: u64) -> anyhow::Result<(u64, String)> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type};
    let engine = txlake_engine::Engine::open(
        lake,
        &[],
        &txlake_engine::SqlSources::default(),
        &txlake_engine::EngineSettings::default(),
    )
    .await?;
    let sql = format!(
        "SELECT CAST(id AS BIGINT) AS i, uuid, email, CAST(quantity AS BIGINT) AS q, CAST(score AS BIGINT) AS s, \
         address['city'] AS city, is_active, CAST(amount AS DOUBLE) AS a FROM {table} WHERE id < {below} ORDER BY i"
    );
    let batches = engine.sql(&sql).await?.collect().await?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut rows = 0;
    let mut line = String::new();
    for batch in &batches {
        let ids = batch.column(0).as_primitive::<Int64Type>();
        let uuid = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Utf8)?;
        let email = arrow::compute::cast(batch.column(2), &arrow::datatypes::DataType::Utf8)?;
        let city = arrow::compute::cast(batch.column(5), &arrow::datatypes::DataType::Utf8)?;
        let (uuid, email, city) = (uuid.as_string::<i32>(), email.as_string::<i32>(), city.as_string::<i32>());
        let quantity = batch.column(3).as_primitive::<Int64Type>();
        let score = batch.column(4).as_primitive::<Int64Type>();
        let active = batch.column(6).as_boolean();
        let amount = batch.column(7).as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            line.clear();
            let score = if score.is_null(i) { String::new() } else { score.value(i).to_string() };
            use std::fmt::Write as _;
            let _ = writeln!(
                line,
                "{}|{}|{}|{}|{score}|{}|{}|{:.4}",
                ids.value(i),
                uuid.value(i),
                email.value(i),
                quantity.value(i),
                city.value(i),
                active.value(i),
                amount.value(i)
            );
            for byte in line.bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
            rows += 1;
        }
    }
    Ok((rows, format!("{hash:016x}")))
}

/// `txlake bench connector --airbyte-manifest`: the benchmark's stream written as an Airbyte
/// low-code manifest (benches/airbyte_cdk/manifest.yaml), read by txlake's declarative
/// engine through the manifest translator (`connector = "airbyte-manifest:…"`) into a file
/// lake, then by the Airbyte Python CDK's declarative source from the same fake API server
/// (its first `cdk_records` records: the CDK is much slower). Prints both speeds, their
/// ratio, both peak RSS and whether both read the same records (count and checksum over the
/// CDK's records), against the targets ≥ 20× and ≤ 200 MB.
async fn airbyte_manifest_bench(
    records: u64,
    page_size: u64,
    lake: Option<std::path::PathBuf>,
    cdk_records: u64,
) -> anyhow::Result<ExitCode> {
    let manifest = repository_file(AIRBYTE_MANIFEST, "--airbyte-manifest")?;
    let script = repository_file(AIRBYTE_CDK_SCRIPT, "--airbyte-manifest")?;
    let cdk_records = cdk_records.min(records);
    let api = Arc::new(EventsApi::new(records, page_size));
    let addr = start_api(api).await?;
    let (dir, temporary) = bench_dir(lake, "connector-airbyte-manifest")?;
    let config = file_lake_config(&dir)?;
    let lake = config.open_lake()?;
    let connection = ConnectionConfig {
        connector: format!("airbyte-manifest:{}", manifest.display()),
        config: json!({ "token": TOKEN, "base_url": format!("http://{addr}"), "page_size": page_size }),
        streams: None,
        modes: Default::default(),
        survey_mapping: None,
    };
    println!(
        "bench connector --airbyte-manifest: {} from a fake API on {addr} ({records} records, {page_size} per page) → {}",
        manifest.display(),
        dir.display()
    );
    println!("txlake (the Airbyte manifest on txlake's declarative engine, into a file lake):");
    let registry = txlake_sync::connectors::builtin_registry();
    let options = SyncOptions { full_refresh: true, policy: config.sync.clone(), ..Default::default() };
    let cpu_before = CpuTimes::now();
    let started = Instant::now();
    let report = sync_connection(&lake, &registry, "bench", &connection, &options, &QuietObserver).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = CpuTimes::now().zip(cpu_before).map(|(after, before)| after.since(&before));
    let rss = peak_rss_bytes();
    if let Some(error) = &report.error {
        anyhow::bail!("the benchmark sync failed: {error}");
    }
    let synced: u64 = report.streams.iter().map(|s| s.records).sum();
    let records_per_second = synced as f64 / seconds;
    println!("  records       {synced}");
    println!("  seconds       {seconds:.2}");
    println!("  records/s     {records_per_second:.0}");
    if let Some(cpu) = cpu {
        println!("  CPU           {}", cpu.describe(seconds));
    }
    let mb = |bytes: Option<u64>| bytes.map_or("unknown".to_string(), |b| format!("{:.0} MB", b as f64 / 1e6));
    println!("  peak RSS      {}", mb(rss));
    let (ours_below, ours_checksum) = table_checksum(&lake, "bench.events", cdk_records).await?;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }

    let cdk_url = format!("http://{addr}/first/{cdk_records}");
    println!(
        "Airbyte Python CDK (source-declarative-manifest, benches/airbyte_cdk): the first {cdk_records} records from the same server"
    );
    let cdk = run_airbyte_cdk(&script, &cdk_url, page_size).await?;
    println!("  records       {}", cdk.records);
    println!("  records/s     {:.0}", cdk.records_per_second);
    println!(
        "  CPU seconds   {:.2} ({:.1} µs per record)",
        cdk.cpu_seconds,
        cdk.cpu_seconds / cdk.records.max(1) as f64 * 1e6
    );
    println!("  peak RSS      {}", mb(cdk.peak_rss));

    let ratio = records_per_second / cdk.records_per_second;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("txlake ÷ CDK    {ratio:.1}× (target ≥ 20×: {})", verdict(ratio >= 20.0));
    println!("txlake peak RSS {} (target ≤ 200 MB: {})", mb(rss), verdict(rss.is_some_and(|r| r <= 200_000_000)));
    let same =
        synced == records && ours_below == cdk.records && cdk.checksum.as_deref() == Some(ours_checksum.as_str());
    println!(
        "same records    {} (the first {cdk_records}: txlake {ours_below} records, checksum {ours_checksum}; CDK {} records, checksum {})",
        if same { "yes" } else { "NO" },
        cdk.records,
        cdk.checksum.as_deref().unwrap_or("none")
    );
    Ok(if same { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Reads `records` records of the same stream from a fresh fake API with the Airbyte Python
/// CDK and prints its speed beside txlake's. The CDK runs alone: the sync above is over.
async fn compare_with_airbyte_cdk(records: u64, page_size: u64, txlake_records_per_second: f64) -> anyhow::Result<()> {
    let script = repository_file(AIRBYTE_CDK_SCRIPT, "--airbyte-cdk")?;
    let addr = start_api(Arc::new(EventsApi::new(records, page_size))).await?;
    println!(
        "Airbyte Python CDK (benches/airbyte_cdk): the same stream, {records} records from a fresh fake API on {addr}"
    );
    let cdk = run_airbyte_cdk(&script, &format!("http://{addr}"), page_size).await?;
    if cdk.records != records {
        anyhow::bail!("the Airbyte CDK read {} records, the API served {records}", cdk.records);
    }
    println!("  records/s     {:.0}", cdk.records_per_second);
    println!(
        "  CPU seconds   {:.2} ({:.1} µs per record)",
        cdk.cpu_seconds,
        cdk.cpu_seconds / cdk.records as f64 * 1e6
    );
    println!("txlake ÷ CDK    {:.1}×", txlake_records_per_second / cdk.records_per_second);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_json_with_the_ids_in_order_and_the_next_cursor() {
        let api = EventsApi::new(2_345, 1_000);
        let page: serde_json::Value = serde_json::from_slice(&api.page(1_000, 1_000)).unwrap();
        let ids: Vec<u64> = page["results"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, (1_000..2_000).collect::<Vec<_>>());
        assert_eq!(page["paging"]["next"]["after"], "2000");
        assert_eq!(page["results"][0]["address"]["geo"]["lat"], 52.52);
        let last: serde_json::Value = serde_json::from_slice(&api.page(2_000, 1_000)).unwrap();
        assert_eq!(last["results"].as_array().unwrap().len(), 345);
        assert!(last["paging"].is_null());
        let cut: serde_json::Value = serde_json::from_slice(&api.page_of(1_000, 1_000, 1_500)).unwrap();
        assert_eq!(cut["results"].as_array().unwrap().len(), 500, "the first 1,500 records");
        assert!(cut["paging"].is_null(), "the cut stream ends there");
        let past: serde_json::Value = serde_json::from_slice(&api.page_of(2_000, 1_000, 1_500)).unwrap();
        assert!(past["results"].as_array().unwrap().is_empty() && past["paging"].is_null());
        let mut text = Vec::new();
        for n in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            text.clear();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string().as_bytes());
        }
    }
}
