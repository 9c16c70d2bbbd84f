//! `txlake bench odata`: the OData feed on 127.0.0.1 over a sample lake, read as Power BI
//! reads it: `tx.touchpoints` with a five-column `$select`, every `@odata.nextLink` followed
//! to the end (each page parsed as JSON, as a client must); then a `$filter` on an aggregate
//! metric set against the same question to the REST metric endpoint, both uncached.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::Value;

use super::bench::{bench_dir, peak_rss_bytes, reset_peak_rss, rss_bytes, sample_lake};

/// The columns the paging read selects.
const SELECT: &str = "event_key,customer_key,stage,touchpoint,occurred_at";

/// Runs the OData benchmark.
pub async fn run(
    customers: u64,
    employees: u64,
    lake: Option<std::path::PathBuf>,
    page_size: usize,
) -> anyhow::Result<ExitCode> {
    let (dir, temporary) = bench_dir(lake, "odata")?;
    let key = txlake_server::auth::generate_key();
    let keys = txlake_server::auth::config_snippet("bench", txlake_server::auth::Role::Viewer, &key.sha256);
    let extra = format!("[server]\nodata_page_size = {page_size}\n{keys}");
    let config = sample_lake(&dir, customers, employees, &extra).await?;
    let state = txlake_server::AppState::open(config).await?;
    state.engine().refresh_materialized().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(txlake_server::serve(state, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let get = |url: String| client.get(url).basic_auth("powerbi", Some(&key.key)).send();

    let count: u64 = get(format!("{base}/odata/touchpoints/$count")).await?.text().await?.trim().parse()?;
    println!("bench odata: {count} rows of tx.touchpoints, $select={SELECT}, {page_size} rows a page");
    // The sync and the materialized views are set-up; what paging adds is what matters.
    let before = rss_bytes();
    let reset = reset_peak_rss();
    let started = Instant::now();
    let mut url = format!("{base}/odata/touchpoints?$select={SELECT}");
    let (mut rows, mut pages, mut bytes) = (0u64, 0u64, 0u64);
    loop {
        let response = get(url.clone()).await?;
        anyhow::ensure!(response.status().is_success(), "{url}: {}", response.status());
        let body = response.bytes().await?;
        bytes += body.len() as u64;
        let page: Value = serde_json::from_slice(&body)?;
        rows += page["value"].as_array().map_or(0, Vec::len) as u64;
        pages += 1;
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(rows == count, "paging returned {rows} rows, $count says {count}");
    println!("rows            {rows}");
    println!("pages           {pages}");
    println!("seconds         {seconds:.2}");
    println!("rows/s          {:.0}", rows as f64 / seconds);
    println!("MB/s            {:.1}", bytes as f64 / seconds / 1e6);
    match (before, peak_rss_bytes()) {
        (Some(before), Some(peak)) if reset => println!(
            "peak RSS        {:.0} MB while paging, server and client: {:.0} MB over the {:.0} MB held when it began",
            peak as f64 / 1e6,
            peak.saturating_sub(before) as f64 / 1e6,
            before as f64 / 1e6
        ),
        (_, Some(peak)) => println!("peak RSS        {:.0} MB (set-up included)", peak as f64 / 1e6),
        _ => println!("peak RSS        unknown (no /proc/self/status)"),
    }

    // The same question both ways, uncached: NPS of the smb segment by every dimension × month.
    let dimensions = "country,acquisition_channel,support_team,touchpoint,channel";
    let rounds = 5;
    let mut odata = Vec::new();
    let mut rest = Vec::new();
    for round in 0..rounds {
        let started = Instant::now();
        let response =
            get(format!("{base}/odata/metric_nps?$filter=segment%20eq%20%27smb%27%20and%20responses%20ge%20{round}"))
                .await?;
        anyhow::ensure!(response.status().is_success(), "odata metric_nps: {}", response.status());
        response.bytes().await?;
        odata.push(started.elapsed().as_secs_f64() * 1e3);
        // A different `limit` each round keeps the REST answer out of its cache.
        let started = Instant::now();
        let response = get(format!(
            "{base}/api/v1/metrics/nps?group_by=segment,{dimensions}&grain=month&segment=smb&limit={}",
            100_000 + round
        ))
        .await?;
        anyhow::ensure!(response.status().is_success(), "rest nps: {}", response.status());
        response.bytes().await?;
        rest.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (odata, rest) = (median(&mut odata), median(&mut rest));
    println!("metric_nps $filter (OData), median of {rounds}   {odata:.1} ms");
    println!("/api/v1/metrics/nps (REST), median of {rounds}    {rest:.1} ms");
    println!("ratio           {:.2}×", odata / rest);
    let _ = stop.send(());
    server.await??;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ExitCode::SUCCESS)
}
