//! What the proofs of real Airbyte manifests (`connectors/airbyte-<vendor>/tests/*.rs`) share:
//! an in-process fake vendor API on 127.0.0.1 (auth checked per vendor, faults injected on a
//! path, a request held until released so `txlake sync` can be SIGKILLed mid-read, every
//! request recorded), a `txlake.toml` naming `connector = "airbyte-manifest:<path>"` (through
//! `airbyte_manifests`), a sync
//! killed at a point found from its own log lines, and tables read back as sorted JSON rows
//! for exact comparison with the fake's truth or with an uninterrupted run.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::hubspot::root;
use crate::support::{file_lake, raw_engine, txlake_bin};

/// One request as a vendor's fake sees it.
#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    /// Query parameters in order (a parameter may repeat).
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    /// `http://<host the request reached>`, for next-page URLs.
    pub base: String,
}

impl Req {
    /// The first value of query parameter `name`.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The `Authorization` header, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.headers.get("authorization").and_then(|v| v.to_str().ok())
    }
}

/// A fault the fake answers with instead of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 500.
    ServerError,
}

/// A vendor's API behind the fake: its records and how it answers.
pub trait Vendor: Send + 'static {
    /// Whether the request carries the credentials the fake was configured with.
    fn authorized(&self, req: &Req) -> bool;
    /// The vendor's answer to missing or wrong credentials.
    fn unauthorized(&self) -> Response {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthorized" }))).into_response()
    }
    /// The vendor's answer to an authorized request.
    fn answer(&mut self, req: &Req) -> Response;
    /// The vendor's body for a fault (its error format).
    fn fault(&self, fault: Fault) -> Response {
        match fault {
            Fault::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                [("Retry-After", "1")],
                axum::Json(json!({ "message": "You have exceeded the limit of requests per minute" })),
            )
                .into_response(),
            Fault::ServerError => {
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({ "message": "Internal server error" })))
                    .into_response()
            }
        }
    }
}

/// One request the fake saw, with the status it answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub status: u16,
}

impl Seen {
    /// The first value of query parameter `name`.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Shared<V> {
    vendor: Mutex<V>,
    faults: Mutex<VecDeque<(String, Fault)>>,
    seen: Mutex<Vec<Seen>>,
    /// Requests whose path starts with this wait until released.
    hold: Mutex<Option<String>>,
    released: tokio::sync::watch::Sender<bool>,
    arrived: tokio::sync::Notify,
}

/// A vendor fake serving on 127.0.0.1.
pub struct Fake<V> {
    pub url: String,
    shared: Arc<Shared<V>>,
}

impl<V: Vendor> Fake<V> {
    /// Serves `vendor` on a free port.
    pub async fn start(vendor: V) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            vendor: Mutex::new(vendor),
            faults: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
            hold: Mutex::new(None),
            released: tokio::sync::watch::channel(false).0,
            arrived: tokio::sync::Notify::new(),
        });
        let app = axum::Router::new().fallback(handle::<V>).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, shared }
    }

    /// Changes the vendor's data (the way its users would).
    pub fn with<T>(&self, change: impl FnOnce(&mut V) -> T) -> T {
        change(&mut self.shared.vendor.lock().unwrap())
    }

    /// The next request whose path starts with `path` gets `fault` instead of its page.
    pub fn fail_next(&self, path: &str, fault: Fault) {
        self.shared.faults.lock().unwrap().push_back((path.to_string(), fault));
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests whose path starts with `path` wait (unanswered) until [`Fake::release`].
    pub fn hold(&self, path: &str) {
        self.shared.released.send_replace(false);
        *self.shared.hold.lock().unwrap() = Some(path.to_string());
    }

    /// Waits until a held request has arrived.
    pub async fn held(&self) {
        self.shared.arrived.notified().await;
    }

    /// Answers held requests and holds no more.
    pub fn release(&self) {
        *self.shared.hold.lock().unwrap() = None;
        self.shared.released.send_replace(true);
    }
}

async fn handle<V: Vendor>(State(shared): State<Arc<Shared<V>>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let held = shared.hold.lock().unwrap().as_ref().is_some_and(|prefix| path.starts_with(prefix.as_str()));
    if held {
        let mut released = shared.released.subscribe();
        shared.arrived.notify_one();
        // A closed channel (the fake dropped) also ends the wait.
        let _ = released.wait_for(|r| *r).await;
    }
    let query: Vec<(String, String)> = uri.query().map(url_pairs).unwrap_or_default();
    let base = format!("http://{}", headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"));
    let req = Req { path: path.clone(), query: query.clone(), headers, base };
    let response = {
        let mut vendor = shared.vendor.lock().unwrap();
        if !vendor.authorized(&req) {
            vendor.unauthorized()
        } else {
            let fault = {
                let mut faults = shared.faults.lock().unwrap();
                let at = faults.iter().position(|(prefix, _)| path.starts_with(prefix.as_str()));
                at.and_then(|i| faults.remove(i)).map(|(_, f)| f)
            };
            match fault {
                Some(fault) => vendor.fault(fault),
                None => vendor.answer(&req),
            }
        }
    };
    shared.seen.lock().unwrap().push(Seen { path, query, status: response.status().as_u16() });
    response
}

/// `a=1&b=x%20y` → pairs, percent-decoded (`+` is a space).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON response.
pub fn json_response(body: Value) -> Response {
    ([("content-type", "application/json; charset=utf-8")], serde_json::to_vec(&body).unwrap()).into_response()
}

/// `base64(user:password)` for a Basic `Authorization` header.
pub fn basic(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// A fixture file of `connectors/<connector>/tests/fixtures/`.
pub fn fixture(connector: &str, name: &str) -> Value {
    let path = root().join("connectors").join(connector).join("tests/fixtures").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes `dir/txlake.toml` (see [`crate::airbyte_manifests::write_config`]): one connection
/// `name` running `package`'s manifest unchanged with `config`, and `extra` lines for the
/// connection (`models = "…"`, `streams = [...]`).
pub fn write_config(dir: &Path, name: &str, package: &str, config: &Value, extra: &str) -> PathBuf {
    crate::airbyte_manifests::write_config(dir, name, package, config, extra)
}

/// `txlake sync` started and SIGKILLed once it has logged a line containing `line` AND the
/// fake's held request has arrived (so the kill lands mid-read, at a point of the sync's own
/// progress). Returns the log lines read.
pub async fn sync_killed_at<F: std::future::Future<Output = ()>>(config: &Path, line: &str, held: F) -> Vec<String> {
    let mut child = Command::new(txlake_bin())
        .args(["sync", "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sync starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let want = line.to_string();
    let reader = tokio::task::spawn_blocking(move || {
        let mut tx = Some(tx);
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let hit = line.contains(&want);
            lines.push(line);
            if let Some(tx) = tx.take_if(|_| hit) {
                let _ = tx.send(());
            }
        }
        lines
    });
    // A guard against a hang (the line never logged while a request is held), not a timing:
    // the kill point is the log line and the held request.
    let reached = tokio::time::timeout(std::time::Duration::from_secs(300), async {
        let logged = rx.await.is_ok();
        if logged {
            held.await;
        }
        logged
    })
    .await;
    let logged = reached.unwrap_or(false);
    let _ = child.kill();
    let status = child.wait().expect("the killed sync is reaped");
    let lines = reader.await.unwrap();
    assert!(logged, "the sync ended ({status}) before logging `{line}`:\n{}", lines.join("\n"));
    lines
}

/// Every row of raw table `connection.stream` in `dir/lake`, as JSON objects sorted by their
/// text (no column needed to order by).
pub async fn table(dir: &Path, table: &str) -> Vec<Value> {
    let engine = raw_engine(&file_lake(dir)).await;
    let batches = engine.sql(&format!("SELECT * FROM {table}")).await.unwrap().collect().await.unwrap();
    let mut rows: Vec<Value> = Vec::new();
    for batch in &batches {
        let mut writer = arrow::json::ArrayWriter::new(Vec::new());
        writer.write_batches(&[batch]).unwrap();
        writer.finish().unwrap();
        let bytes = writer.into_inner();
        if !bytes.is_empty() {
            rows.extend(serde_json::from_slice::<Vec<Value>>(&bytes).unwrap());
        }
    }
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// The raw tables of `dir/lake` by name.
pub async fn tables(dir: &Path) -> BTreeMap<String, Vec<Value>> {
    let engine = raw_engine(&file_lake(dir)).await;
    let mut out = BTreeMap::new();
    for id in engine.raw_tables().to_vec() {
        let name = format!("{}.{}", id.connection, id.stream);
        out.insert(name.clone(), table(dir, &name).await);
    }
    out
}

/// `fields` of each record as text (numbers and strings alike), sorted: what a table and the
/// fake's truth are compared on.
pub fn project(records: &[Value], fields: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|r| {
            fields
                .iter()
                .map(|f| match r.pointer(&format!("/{}", f.replace('.', "/"))) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => "∅".to_string(),
                    Some(other) => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

/// Asserts table `name` holds exactly the fake's `truth` (compared on `fields`): nothing lost,
/// nothing twice.
pub async fn assert_table_is(dir: &Path, name: &str, truth: &[Value], fields: &[&str]) {
    let rows = table(dir, name).await;
    let got = project(&rows, fields);
    let want = project(truth, fields);
    assert_eq!(got.len(), want.len(), "{name}: {} rows, the fake holds {}", got.len(), want.len());
    assert_eq!(got, want, "{name}: the rows are the fake's records");
}

/// Asserts two lakes hold the same tables with the same rows.
pub async fn assert_same_lakes(expected: &Path, actual: &Path) {
    let expected = tables(expected).await;
    let actual = tables(actual).await;
    assert_eq!(expected.keys().collect::<Vec<_>>(), actual.keys().collect::<Vec<_>>(), "the same tables");
    assert!(!expected.is_empty());
    for (name, rows) in &expected {
        assert!(rows == &actual[name], "table {name} differs from the uninterrupted run's");
    }
}
