//! A declarative connector loaded at run time (`--connectors-dir`) synced by the `txlake`
//! binary from a fake API: a crash mid-sync (SIGKILL while a page is in flight) resumes with
//! nothing lost or doubled, an incremental sync lands only what changed, and a truncated page
//! fails the run without moving the committed state.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{count_ids, file_lake, txlake_bin};

/// What the fake does with page requests.
#[derive(Default)]
struct Behaviour {
    /// Never answer the request for this page (its `after` offset); report it on `stalled`.
    stall_at: Option<usize>,
    /// Answer this page with its body cut in half.
    truncate_at: Option<usize>,
}

struct EventsApi {
    events: Mutex<Vec<(i64, String, f64, String)>>,
    behaviour: Mutex<Behaviour>,
    stalled: mpsc::UnboundedSender<usize>,
}

impl EventsApi {
    fn new(n: i64, stalled: mpsc::UnboundedSender<usize>) -> Arc<Self> {
        let events = (0..n).map(|i| (i, format!("kind{}", i % 5), i as f64 * 0.5, timestamp(i))).collect();
        Arc::new(Self { events: Mutex::new(events), behaviour: Mutex::default(), stalled })
    }
}

/// 2025-01-01T00:00:00Z plus `i` seconds.
fn timestamp(i: i64) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap();
    (start + chrono::Duration::seconds(i)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn events(
    State(api): State<Arc<EventsApi>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer t0ken-e2e") {
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"bad token\"}").into_response();
    }
    let after: usize = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let (stall, truncate) = {
        let b = api.behaviour.lock().unwrap();
        (b.stall_at == Some(after), b.truncate_at == Some(after))
    };
    if stall {
        let _ = api.stalled.send(after);
        std::future::pending::<()>().await;
    }
    let since = q.get("since").cloned().unwrap_or_default();
    let mut matching: Vec<(i64, String, f64, String)> =
        api.events.lock().unwrap().iter().filter(|e| since.is_empty() || e.3 >= since).cloned().collect();
    matching.sort_by_key(|a| (a.3.clone(), a.0));
    let page: Vec<Value> = matching
        .iter()
        .skip(after)
        .take(100)
        .map(|(id, kind, value, at)| json!({ "id": id, "kind": kind, "value": if id % 9 == 0 { Value::Null } else { json!(value) }, "updated_at": at }))
        .collect();
    let next = if after + page.len() < matching.len() { json!((after + page.len()).to_string()) } else { Value::Null };
    let body = json!({ "items": page, "next": next }).to_string();
    let body = if truncate { body[..body.len() / 2].to_string() } else { body };
    ([("content-type", "application/json")], body).into_response()
}

async fn start(api: Arc<EventsApi>) -> String {
    let router = axum::Router::new().route("/events", axum::routing::get(events)).with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn write_config(dir: &std::path::Path, base_url: &str) -> std::path::PathBuf {
    let path = dir.join("txlake.toml");
    let connectors = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/fixtures/connectors");
    std::fs::write(
        &path,
        format!(
            "connectors_dir = \"{}\"\n[lake]\nurl = \"file://./lake\"\n[sync]\ncommit_rows = 300\n[connections.feed]\nconnector = \"events_api\"\nconfig = {{ token = \"t0ken-e2e\", base_url = \"{base_url}\" }}\n",
            connectors.display()
        ),
    )
    .unwrap();
    path
}

async fn sync(config: &std::path::Path) -> std::process::Output {
    let config = config.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Command::new(txlake_bin()).args(["sync", "--config"]).arg(&config).env_remove("RUST_LOG").output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declarative_sync_killed_mid_read_resumes_with_nothing_lost_or_doubled() {
    let (stalled_tx, mut stalled) = mpsc::unbounded_channel();
    let api = EventsApi::new(2_500, stalled_tx);
    let base = start(api.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base);

    // Stall the page at offset 1,700: the sync has committed at its checkpoints up to there.
    api.behaviour.lock().unwrap().stall_at = Some(1_700);
    let mut child = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(stalled.recv().await, Some(1_700));
    child.kill().unwrap();
    child.wait().unwrap();
    let lake = file_lake(dir.path());
    let (rows, ids) = count_ids(&lake, "feed.events").await;
    assert_eq!(rows, ids, "no record twice after the crash");
    assert!(rows > 0 && rows < 2_500, "the crash left a partial table ({rows} rows)");

    api.behaviour.lock().unwrap().stall_at = None;
    let output = sync(&config).await;
    assert!(output.status.success(), "resumed sync: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(count_ids(&file_lake(dir.path()), "feed.events").await, (2_500, 2_500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_declarative_sync_lands_only_what_changed_and_a_truncated_page_moves_nothing() {
    let (stalled_tx, _stalled) = mpsc::unbounded_channel();
    let api = EventsApi::new(1_000, stalled_tx);
    let base = start(api.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base);
    let output = sync(&config).await;
    assert!(output.status.success(), "first sync: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(count_ids(&file_lake(dir.path()), "feed.events").await, (1_000, 1_000));

    // Seven events change and three are new: the next sync reads exactly those ten.
    {
        let mut events = api.events.lock().unwrap();
        for id in [3usize, 50, 51, 400, 777, 901, 999] {
            events[id].1 = "changed".into();
            events[id].3 = "2025-06-01T00:00:00Z".into();
        }
        for id in 1_000..1_003 {
            events.push((id, "new".into(), 1.0, "2025-06-02T00:00:00Z".into()));
        }
    }
    let output = sync(&config).await;
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "second sync: {log}");
    let lake = file_lake(dir.path());
    assert_eq!(count_ids(&lake, "feed.events").await, (1_003, 1_003), "merged on the key");
    let engine = crate::support::raw_engine(&lake).await;
    let changed = engine
        .sql("SELECT count(*) FROM feed.events WHERE kind IN ('changed', 'new')")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let changed = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(changed[0].column(0)).value(0);
    assert_eq!(changed, 10, "the changed and new events landed");
    let runs = String::from_utf8_lossy(
        &Command::new(txlake_bin()).args(["runs", "--config"]).arg(&config).output().unwrap().stdout,
    )
    .to_string();
    assert!(runs.lines().any(|l| l.contains("events") && l.contains(" 10 ")), "the second run read 10 records: {runs}");

    // A truncated page fails the run, names the URL, and leaves the table where it was.
    {
        let mut events = api.events.lock().unwrap();
        for event in events.iter_mut().take(300) {
            event.3 = "2025-07-01T00:00:00Z".into();
        }
    }
    api.behaviour.lock().unwrap().truncate_at = Some(200);
    let output = sync(&config).await;
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "a truncated page must fail the sync: {log}");
    assert!(log.contains("truncated") && log.contains("/events?") && !log.contains("t0ken-e2e"), "{log}");
    api.behaviour.lock().unwrap().truncate_at = None;
    let output = sync(&config).await;
    assert!(output.status.success(), "re-run: {}", String::from_utf8_lossy(&output.stderr));
    let lake = file_lake(dir.path());
    assert_eq!(count_ids(&lake, "feed.events").await, (1_003, 1_003));
}

/// OAuth 2 refresh (before expiry and once on a 401), `Link`-header and offset paging, an
/// inferred schema, a record filter and added fields, through the connector itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_refresh_link_header_and_offset_paging_with_an_inferred_schema() {
    use futures::StreamExt as _;
    use txlake_connector::{
        ConfiguredCatalog, ConfiguredStream, Connector, DeclarativeConnector, Message, ReadRequest,
    };

    #[derive(Default)]
    struct Provider {
        tokens_issued: Mutex<u32>,
        revoke_next: Mutex<bool>,
    }
    async fn token(State(p): State<Arc<Provider>>, body: String) -> Response {
        if !body.contains("grant_type=refresh_token") || !body.contains("refresh_token=r-123") {
            return (StatusCode::BAD_REQUEST, "{\"error\":\"invalid_grant\"}").into_response();
        }
        let mut issued = p.tokens_issued.lock().unwrap();
        *issued += 1;
        // The first token is already inside the refresh margin, so the engine renews it.
        let expires_in = if *issued == 1 { 30 } else { 3600 };
        axum::Json(json!({ "access_token": format!("access-{issued}"), "expires_in": expires_in })).into_response()
    }
    async fn people(
        State(p): State<Arc<Provider>>,
        headers: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        if !auth.starts_with("Bearer access-") {
            return (StatusCode::UNAUTHORIZED, "{}").into_response();
        }
        if std::mem::take(&mut *p.revoke_next.lock().unwrap()) {
            return (StatusCode::UNAUTHORIZED, "{\"error\":\"token revoked\"}").into_response();
        }
        let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
        let people: Vec<Value> = (0..3)
            .map(|i| json!({ "id": (page - 1) * 3 + i, "name": format!("p{page}{i}"), "active": i != 1 }))
            .collect();
        let mut response = axum::Json(json!(people)).into_response();
        if page < 3 {
            let link = format!("</people?page={}>; rel=\"next\", </people?page=1>; rel=\"first\"", page + 1);
            response.headers_mut().insert("link", link.parse().unwrap());
        }
        response
    }
    async fn teams(Query(q): Query<BTreeMap<String, String>>) -> Response {
        assert_eq!(q.get("key").map(String::as_str), Some("k-1"), "the API key goes in the query");
        let offset: usize = q["offset"].parse().unwrap();
        let limit: usize = q["count"].parse().unwrap();
        let rows: Vec<Value> = (offset..(offset + limit).min(5)).map(|i| json!({ "team": i, "size": i * 2 })).collect();
        axum::Json(json!({ "rows": rows })).into_response()
    }
    let provider = Arc::new(Provider::default());
    let router = axum::Router::new()
        .route("/oauth/token", axum::routing::post(token))
        .route("/people", axum::routing::get(people))
        .route("/teams", axum::routing::get(teams))
        .with_state(provider.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let manifest = format!(
        r#"
name: people_api
description: People behind OAuth.
spec: {{ type: object, properties: {{ refresh_token: {{ type: string, x-secret: true }} }} }}
requester:
  base_url: https://people.invalid
  auth: {{ type: oauth2, token_url: "{base}/oauth/token", client_id: c, client_secret: s, refresh_token: "{{{{ config.refresh_token }}}}" }}
streams:
  - name: people
    primary_key: [id]
    request: {{ path: /people }}
    paginator: {{ type: link_header }}
    records: {{ filter: "record.active" }}
    add_fields: {{ source: "people_api" }}
"#
    );
    let connector = DeclarativeConnector::from_manifest("people.yaml", &manifest).unwrap();
    let config = json!({ "refresh_token": "r-123", "base_url": base });
    let catalog = connector.discover(&config).await.unwrap();
    let stream = catalog.stream("people").unwrap().clone();
    let columns: Vec<&str> = stream.schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(columns, ["active", "id", "name", "source"], "inferred from the first page, plus the added field");

    *provider.revoke_next.lock().unwrap() = true;
    let request = ReadRequest {
        config: config.clone(),
        catalog: ConfiguredCatalog { streams: vec![ConfiguredStream { mode: stream.default_mode, stream }] },
        state: Default::default(),
    };
    let mut rows = 0;
    let mut messages = connector.read(request).await.unwrap();
    while let Some(message) = messages.next().await {
        if let Message::Batch { batch, .. } = message.unwrap() {
            rows += batch.num_rows();
            let source = arrow::array::AsArray::as_string::<i32>(batch.column_by_name("source").unwrap());
            assert!(source.iter().all(|s| s == Some("people_api")));
        }
    }
    assert_eq!(rows, 6, "three pages of three, the inactive one of each filtered out");
    assert!(*provider.tokens_issued.lock().unwrap() >= 3, "renewed near expiry and once after the 401");

    let bad = json!({ "refresh_token": "nope", "base_url": base });
    let err = connector.check(&bad).await.unwrap_err().to_string();
    assert!(err.contains("refused the refresh token") && err.contains("invalid_grant"), "{err}");

    let offsets = r#"
name: teams_api
description: Teams paged by offset.
spec: { type: object, properties: { key: { type: string, x-secret: true } } }
requester:
  base_url: https://teams.invalid
  auth: { type: api_key, param: key, value: "{{ config.key }}" }
streams:
  - name: teams
    request: { path: /teams }
    records: { path: rows }
    paginator: { type: offset, param: offset, limit: 2, limit_param: count }
"#;
    let teams = DeclarativeConnector::from_manifest("teams.yaml", offsets).unwrap();
    let config = json!({ "key": "k-1", "base_url": base });
    let stream = teams.discover(&config).await.unwrap().streams[0].clone();
    let request = ReadRequest {
        config,
        catalog: ConfiguredCatalog { streams: vec![ConfiguredStream { mode: stream.default_mode, stream }] },
        state: Default::default(),
    };
    let mut rows = 0;
    let mut messages = teams.read(request).await.unwrap();
    while let Some(message) = messages.next().await {
        if let Message::Batch { batch, .. } = message.unwrap() {
            rows += batch.num_rows();
        }
    }
    assert_eq!(rows, 5, "offsets 0, 2, 4: the short page is the last");
}
