//! The connectors the conformance suite checks: one line each in [`all`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use txlake_connector::DeclarativeConnector;

use super::{FakeSource, FaultLayer, Kind, Target};

/// The demo API's items: id and modification time.
type Items = Arc<Mutex<Vec<(i64, String)>>>;

/// Every connector under the suite, each with a running fake of its source.
pub async fn all() -> Vec<(&'static str, Target)> {
    vec![
        ("demo_api", demo_api().await),
        ("bamboohr", bamboohr().await),
        ("moodle", moodle().await),
        ("hubspot", hubspot().await),
        ("zendesk", zendesk().await),
        ("typeform", typeform().await),
        ("surveymonkey", surveymonkey().await),
        ("qualtrics", qualtrics().await),
        ("sample", sample()),
        ("airbyte", airbyte().await),
    ]
}

#[tokio::test]
async fn every_connector_conforms() {
    for (name, target) in all().await {
        eprintln!("conformance: {name}");
        super::check_target(&target).await;
    }
}

/// Serves a router on 127.0.0.1 and returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// The suite's own fake: 23 items, paged 7 at a time, filtered by `updated_since`.
struct DemoApi {
    base_url: String,
    items: Items,
    faults: FaultLayer,
}

impl FakeSource for DemoApi {
    fn config(&self) -> Value {
        json!({ "api_key": "demo-key-123", "base_url": self.base_url })
    }
    fn bad_credentials(&self) -> Value {
        json!({ "api_key": "wrong-key-456", "base_url": self.base_url })
    }
    fn touch(&self) -> Option<BTreeMap<String, usize>> {
        let mut items = self.items.lock().unwrap();
        for id in [3usize, 11, 17] {
            items[id].1 = "2030-01-01T00:00:00Z".into();
        }
        Some(BTreeMap::from([("items".to_string(), 3)]))
    }
    fn faults(&self) -> &FaultLayer {
        &self.faults
    }
}

async fn demo_api() -> Target {
    let items: Items = Arc::new(Mutex::new((0..23).map(|i| (i, format!("2025-03-{:02}T10:00:00Z", i + 1))).collect()));
    async fn list(
        State(items): State<Items>,
        headers: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Response {
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("demo-key-123") {
            return (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid api key\"}").into_response();
        }
        let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(10);
        let since = q.get("updated_since").cloned().unwrap_or_default();
        let items = items.lock().unwrap();
        let matching: Vec<Value> = items
            .iter()
            .filter(|(_, at)| since.is_empty() || **at >= *since)
            .map(|(id, at)| json!({ "id": id, "name": format!("item {id}"), "price": if id % 4 == 0 { Value::Null } else { json!(*id as f64 * 1.5) }, "updated_at": at }))
            .collect();
        let data: Vec<Value> = matching.into_iter().skip((page - 1) * per_page).take(per_page).collect();
        axum::Json(json!({ "data": data, "meta": { "page": page } })).into_response()
    }
    let faults = FaultLayer::default();
    let router =
        faults.wrap(axum::Router::new().route("/api/items", axum::routing::get(list)).with_state(items.clone()));
    let base_url = format!("{}/api", serve(router).await);
    let connector =
        DeclarativeConnector::from_manifest("tests/e2e/conformance/demo_api.yaml", include_str!("demo_api.yaml"))
            .unwrap();
    Target {
        connector: Arc::new(connector),
        source: Arc::new(DemoApi { base_url, items, faults }),
        kind: Kind::HttpApi,
    }
}

/// A vendor fake from its connector's test file, behind the suite's fault layer.
struct VendorFake<F> {
    config: Value,
    bad_credentials: Value,
    fake: Arc<F>,
    touch: fn(&F) -> BTreeMap<String, usize>,
    faults: FaultLayer,
}

impl<F: Send + Sync> FakeSource for VendorFake<F> {
    fn config(&self) -> Value {
        self.config.clone()
    }
    fn bad_credentials(&self) -> Value {
        self.bad_credentials.clone()
    }
    fn touch(&self) -> Option<BTreeMap<String, usize>> {
        Some((self.touch)(&self.fake))
    }
    fn faults(&self) -> &FaultLayer {
        &self.faults
    }
}

fn manifest(path: &str) -> Arc<DeclarativeConnector> {
    let text = std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Arc::new(DeclarativeConnector::from_manifest(path, &text).unwrap())
}

async fn bamboohr() -> Target {
    let (router, fake) = crate::bamboohr::fake_api();
    let faults = FaultLayer::default();
    let base = serve(faults.wrap(router)).await;
    let config = json!({ "subdomain": crate::bamboohr::SUBDOMAIN, "api_key": crate::bamboohr::API_KEY, "base_url": base, "start_date": "2024-01-01" });
    let mut bad_credentials = config.clone();
    bad_credentials["api_key"] = json!("0000000000000000000000000000000000000000");
    Target {
        connector: manifest("connectors/bamboohr/manifest.yaml"),
        source: Arc::new(VendorFake { config, bad_credentials, fake, touch: crate::bamboohr::Fake::touch, faults }),
        kind: Kind::HttpApi,
    }
}

async fn moodle() -> Target {
    let (router, fake) = crate::moodle::fake_api();
    let faults = FaultLayer::default();
    let base = serve(faults.wrap(router)).await;
    let config = json!({ "url": base, "token": crate::moodle::TOKEN });
    let bad_credentials = json!({ "url": base, "token": "0000000000000000000000000000dead" });
    Target {
        connector: manifest("connectors/moodle/manifest.yaml"),
        source: Arc::new(VendorFake { config, bad_credentials, fake, touch: crate::moodle::Fake::touch, faults }),
        kind: Kind::HttpApi,
    }
}

async fn hubspot() -> Target {
    let (router, fake) = crate::hubspot::fake_api();
    let faults = FaultLayer::default();
    let base = serve(faults.wrap(router)).await;
    let config = json!({ "access_token": crate::hubspot::TOKEN, "base_url": base, "start_date": "2024-01-01" });
    let mut bad_credentials = config.clone();
    bad_credentials["access_token"] = json!("pat-na1-00000000-0000-0000-0000-000000000000");
    Target {
        connector: manifest("connectors/hubspot/manifest.yaml"),
        source: Arc::new(VendorFake { config, bad_credentials, fake, touch: crate::hubspot::Fake::touch, faults }),
        kind: Kind::HttpApi,
    }
}

async fn zendesk() -> Target {
    let (router, fake) = crate::zendesk::fake_api();
    let faults = FaultLayer::default();
    let base = serve(faults.wrap(router)).await;
    let config = json!({
        "subdomain": "acme",
        "email": crate::zendesk::EMAIL,
        "api_token": crate::zendesk::API_TOKEN,
        "base_url": base,
        "start_date": "2024-01-01",
    });
    let mut bad_credentials = config.clone();
    bad_credentials["api_token"] = json!("zd-revoked-0000000000");
    Target {
        connector: manifest("connectors/zendesk/manifest.yaml"),
        source: Arc::new(VendorFake { config, bad_credentials, fake, touch: crate::zendesk::Fake::touch, faults }),
        kind: Kind::HttpApi,
    }
}

async fn qualtrics() -> Target {
    let (router, fake) = crate::qualtrics::fake_api();
    let faults = FaultLayer::default();
    let base = serve(faults.wrap(router)).await;
    let config = json!({
        "datacenter": "fra1",
        "base_url": base,
        "api_token": crate::qualtrics::TOKEN,
        "start_date": "2024-01-01",
        "poll_interval_ms": 2,
    });
    let mut bad_credentials = config.clone();
    bad_credentials["api_token"] = json!("qx-revoked-00000000000000");
    Target {
        connector: txlake_sync::connectors::builtin_registry().get("qualtrics").unwrap(),
        source: Arc::new(VendorFake { config, bad_credentials, fake, touch: crate::qualtrics::Fake::touch, faults }),
        kind: Kind::HttpApi,
    }
}

async fn typeform() -> Target {
    let (router, fake) = crate::typeform::fake_api();
    let faults = FaultLayer::default();
    let base = serve(faults.wrap(router)).await;
    let config = json!({ "access_token": crate::typeform::TOKEN, "base_url": base, "start_date": "2024-01-01" });
    let mut bad_credentials = config.clone();
    bad_credentials["access_token"] = json!("tfp_revoked000000000000000000000000");
    Target {
        connector: manifest("connectors/typeform/manifest.yaml"),
        source: Arc::new(VendorFake { config, bad_credentials, fake, touch: crate::typeform::Fake::touch, faults }),
        kind: Kind::HttpApi,
    }
}

async fn surveymonkey() -> Target {
    let (router, fake) = crate::surveymonkey::fake_api();
    let faults = FaultLayer::default();
    let base = serve(faults.wrap(router)).await;
    let config = json!({ "access_token": crate::surveymonkey::TOKEN, "base_url": base, "start_date": "2024-01-01" });
    let mut bad_credentials = config.clone();
    bad_credentials["access_token"] = json!("sm-revoked-000000000000");
    Target {
        connector: manifest("connectors/surveymonkey/manifest.yaml"),
        source: Arc::new(VendorFake { config, bad_credentials, fake, touch: crate::surveymonkey::Fake::touch, faults }),
        kind: Kind::HttpApi,
    }
}

/// The sample generator: a small world with a fixed end, so a resume has nothing new.
struct SampleWorld {
    faults: FaultLayer,
}

impl FakeSource for SampleWorld {
    fn config(&self) -> Value {
        json!({ "customers": 100, "employees": 10, "days": 30, "seed": 7, "start_date": "2025-01-01", "end_date": "2025-01-30", "batch_size": 128 })
    }
    fn bad_credentials(&self) -> Value {
        self.config()
    }
    fn touch(&self) -> Option<BTreeMap<String, usize>> {
        None
    }
    fn faults(&self) -> &FaultLayer {
        &self.faults
    }
}

fn sample() -> Target {
    Target {
        connector: Arc::new(txlake_connector_sample::SampleConnector),
        source: Arc::new(SampleWorld { faults: FaultLayer::default() }),
        kind: Kind::Generator,
    }
}

/// The Python Airbyte source of `tests/e2e/fixtures`: `touch` makes it serve more events.
struct AirbyteSource {
    events: Mutex<u64>,
    faults: FaultLayer,
}

impl FakeSource for AirbyteSource {
    fn config(&self) -> Value {
        json!({ "api_key": "secret", "events": *self.events.lock().unwrap(), "users": 3 })
    }
    fn bad_credentials(&self) -> Value {
        json!({ "api_key": "wrong", "events": 3, "users": 3 })
    }
    fn touch(&self) -> Option<BTreeMap<String, usize>> {
        *self.events.lock().unwrap() += 4;
        Some(BTreeMap::from([("events".to_string(), 4)]))
    }
    fn faults(&self) -> &FaultLayer {
        &self.faults
    }
}

async fn airbyte() -> Target {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/fixtures/airbyte_source.py");
    let connector = txlake_airbyte::AirbyteConnector::new(&format!("python3 '{}'", script.display())).await.unwrap();
    Target {
        connector: Arc::new(connector),
        source: Arc::new(AirbyteSource { events: Mutex::new(12), faults: FaultLayer::default() }),
        kind: Kind::Program,
    }
}
