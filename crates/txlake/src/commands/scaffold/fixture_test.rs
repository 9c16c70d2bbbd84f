//! The __NAME__ connector against a fake API that serves its recorded fixture. Add
//! `#[path = "../../connectors/__NAME__/tests/__NAME__.rs"] mod __NAME__;` to
//! tests/e2e/main.rs, and a line in tests/e2e/conformance/targets.rs for the full suite.

use futures::StreamExt as _;
use serde_json::json;
use txlake_connector::{Connector, ConfiguredCatalog, ConfiguredStream, DeclarativeConnector, Message, ReadRequest};

const MANIFEST: &str = include_str!("../manifest.yaml");
const ITEMS: &str = include_str!("fixtures/items.json");

async fn fake_api() -> String {
    let router = axum::Router::new().route(
        "/items",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                Some("Bearer test-token") => (axum::http::StatusCode::OK, ITEMS),
                _ => (axum::http::StatusCode::UNAUTHORIZED, r#"{"error":"bad token"}"#),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn __NAME___reads_its_fixture() {
    let base_url = fake_api().await;
    let connector = DeclarativeConnector::from_manifest("connectors/__NAME__/manifest.yaml", MANIFEST).unwrap();
    let config = json!({ "api_token": "test-token", "base_url": base_url });
    connector.check(&config).await.unwrap();
    let bad = json!({ "api_token": "wrong", "base_url": base_url });
    assert!(connector.check(&bad).await.unwrap_err().to_string().contains("401"));

    let catalog = connector.discover(&config).await.unwrap();
    let stream = catalog.stream("items").unwrap().clone();
    let request = ReadRequest {
        config,
        catalog: ConfiguredCatalog { streams: vec![ConfiguredStream { mode: stream.default_mode, stream }] },
        state: Default::default(),
    };
    let mut messages = connector.read(request).await.unwrap();
    let mut rows = 0;
    while let Some(message) = messages.next().await {
        if let Message::Batch { batch, .. } = message.unwrap() {
            rows += batch.num_rows();
        }
    }
    let expected = serde_json::from_str::<serde_json::Value>(ITEMS).unwrap()["data"].as_array().unwrap().len();
    assert_eq!(rows, expected);
}
