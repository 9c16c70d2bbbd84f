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
        let end = (after + limit.min(self.page_size)).min(self.records);
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
        if end < self.records {
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

async fn serve_page(State(api): State<Arc<EventsApi>>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let authorized =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        return (StatusCode::UNAUTHORIZED, "{\"message\":\"bad token\"}").into_response();
    }
    let body = api.page(q.after.unwrap_or(0), q.limit.unwrap_or(api.page_size));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn start_api(api: Arc<EventsApi>) -> anyhow::Result<SocketAddr> {
    let app = axum::Router::new().route("/v1/events", axum::routing::get(serve_page)).with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Runs the connector benchmark.
pub async fn run(
    records: u64,
    page_size: u64,
    lake: Option<std::path::PathBuf>,
    airbyte_cdk: Option<u64>,
) -> anyhow::Result<ExitCode> {
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

/// Reads `records` records of the same stream from a fresh fake API with the Airbyte Python
/// CDK and prints its speed beside txlake's. The CDK runs alone: the sync above is over.
async fn compare_with_airbyte_cdk(records: u64, page_size: u64, txlake_records_per_second: f64) -> anyhow::Result<()> {
    let script = [
        std::path::PathBuf::from(AIRBYTE_CDK_SCRIPT),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(AIRBYTE_CDK_SCRIPT),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| {
        anyhow::anyhow!(
            "--airbyte-cdk needs {AIRBYTE_CDK_SCRIPT} from the txlake repository: run the benchmark from the repository's root"
        )
    })?;
    let addr = start_api(Arc::new(EventsApi::new(records, page_size))).await?;
    println!(
        "Airbyte Python CDK (benches/airbyte_cdk): the same stream, {records} records from a fresh fake API on {addr}"
    );
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .arg(format!("http://{addr}"))
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
    let figure = |name: &str| -> anyhow::Result<f64> {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{} printed no `{name}` line: {stdout}", script.display()))
    };
    let (read, cdk_records_per_second, cpu) = (figure("records ")?, figure("records/s ")?, figure("cpu seconds ")?);
    if read as u64 != records {
        anyhow::bail!("the Airbyte CDK read {read} records, the API served {records}");
    }
    println!("  records/s     {cdk_records_per_second:.0}");
    println!("  CPU seconds   {cpu:.2} ({:.1} µs per record)", cpu / read * 1e6);
    println!("txlake ÷ CDK    {:.1}×", txlake_records_per_second / cdk_records_per_second);
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
        let mut text = Vec::new();
        for n in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            text.clear();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string().as_bytes());
        }
    }
}
