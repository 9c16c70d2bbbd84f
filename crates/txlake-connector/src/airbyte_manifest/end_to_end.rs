//! An Airbyte manifest in the shape of the real ones (a shared requester by `$ref`, streams
//! with `$parameters`, a cursor paginator reading the records from `response`, page numbers,
//! a datetime cursor in windows, a substream with `AddFields` / `RemoveFields`, an IGNORE
//! response filter) translated and read by the engine from an in-process fake API: full
//! read, then an incremental read from the state it left.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::{ConfiguredCatalog, ConfiguredStream, Connector, Message, ReadRequest, StateMap};

const MANIFEST: &str = r##"
version: 6.44.0
type: DeclarativeSource
check: { type: CheckStream, stream_names: [users] }
definitions:
  requester:
    type: HttpRequester
    url_base: "https://api.acme.test/v1"
    authenticator: { type: BearerAuthenticator, api_token: "{{ config['api_key'] }}" }
    error_handler:
      type: DefaultErrorHandler
      response_filters:
        - { type: HttpResponseFilter, action: IGNORE, http_codes: [404] }
  selector:
    type: RecordSelector
    extractor: { type: DpathExtractor, field_path: ["{{ parameters.records }}"] }
  base:
    type: DeclarativeStream
    primary_key: id
    retriever:
      type: SimpleRetriever
      requester: { $ref: "#/definitions/requester" }
      record_selector: { $ref: "#/definitions/selector" }
  users:
    $ref: "#/definitions/base"
    $parameters: { name: users, path: /users, records: data }
    retriever:
      $ref: "#/definitions/base/retriever"
      paginator:
        type: DefaultPaginator
        page_token_option: { type: RequestOption, inject_into: request_parameter, field_name: after }
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{ response.data[-1].id }}"
          stop_condition: "{{ not response.has_more }}"
  tickets:
    $ref: "#/definitions/base"
    $parameters: { name: tickets, path: /tickets, records: tickets }
    retriever:
      $ref: "#/definitions/base/retriever"
      paginator:
        type: DefaultPaginator
        page_token_option: { type: RequestOption, inject_into: request_parameter, field_name: page }
        page_size_option: { type: RequestOption, inject_into: request_parameter, field_name: per_page }
        pagination_strategy: { type: PageIncrement, page_size: 2, start_from_page: 1 }
    incremental_sync:
      type: DatetimeBasedCursor
      cursor_field: updated_at
      datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      start_datetime: { type: MinMaxDatetime, datetime: "{{ config['start_date'] }}" }
      end_datetime: "{{ config['end_date'] }}"
      step: P10D
      cursor_granularity: PT1S
      start_time_option: { type: RequestOption, inject_into: request_parameter, field_name: updated_since }
      end_time_option: { type: RequestOption, inject_into: request_parameter, field_name: updated_until }
  comments:
    $ref: "#/definitions/base"
    $parameters: { name: comments, path: "/tickets/{{ stream_partition.ticket_id }}/comments", records: comments }
    schema_loader:
      type: InlineSchemaLoader
      schema:
        type: object
        properties:
          id: { type: string }
          body: { type: [string, "null"] }
          internal: { type: [string, "null"] }
          ticket_id: { type: [string, "null"] }
    retriever:
      $ref: "#/definitions/base/retriever"
      partition_router:
        type: SubstreamPartitionRouter
        parent_stream_configs:
          - { type: ParentStreamConfig, stream: "#/definitions/tickets", parent_key: id, partition_field: ticket_id }
    transformations:
      - type: AddFields
        fields: [{ path: [ticket_id], value: "{{ stream_partition.ticket_id }}" }]
      - type: RemoveFields
        field_pointers: [[internal]]
streams:
  - $ref: "#/definitions/users"
  - $ref: "#/definitions/tickets"
  - $ref: "#/definitions/comments"
spec:
  type: Spec
  connection_specification:
    type: object
    required: [api_key, start_date]
    properties:
      api_key: { type: string, airbyte_secret: true }
      start_date: { type: string }
      end_date: { type: string }
"##;

#[derive(Default)]
struct Api {
    /// (id, updated_at as unix seconds).
    tickets: Mutex<Vec<(u32, i64)>>,
    /// The `updated_since` of every tickets request.
    windows: Mutex<Vec<String>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer k3y")
}

async fn users(headers: HeaderMap, Query(q): Query<BTreeMap<String, String>>) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let body = match q.get("after").map(String::as_str) {
        None => json!({ "data": [{ "id": "u1" }, { "id": "u2" }], "has_more": true }),
        Some("u2") => json!({ "data": [{ "id": "u3" }], "has_more": false }),
        Some(other) => return (StatusCode::BAD_REQUEST, format!("no page after {other}")).into_response(),
    };
    axum::Json(body).into_response()
}

fn seconds(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp()).unwrap_or(0)
}

async fn tickets(State(api): State<Arc<Api>>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let since = q.get("updated_since").cloned().unwrap_or_default();
    let until = q.get("updated_until").cloned().unwrap_or_default();
    api.windows.lock().unwrap().push(since.clone());
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(100);
    let matching: Vec<Value> = api
        .tickets
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at >= seconds(&since) && (until.is_empty() || *at <= seconds(&until)))
        .map(|(id, at)| {
            let when = chrono::DateTime::from_timestamp(*at, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            json!({ "id": id, "updated_at": when })
        })
        .collect();
    let rows: Vec<Value> = matching.into_iter().skip((page - 1) * size).take(size).collect();
    axum::Json(json!({ "tickets": rows })).into_response()
}

async fn comments(Path(id): Path<u32>) -> Response {
    if id == 3 {
        // A ticket deleted between the two requests: ignored by the manifest's filter.
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(json!({ "comments": [{ "id": format!("c{id}"), "body": "hi", "internal": "x" }] })).into_response()
}

async fn serve(api: Arc<Api>) -> String {
    let router = axum::Router::new()
        .route("/v1/users", axum::routing::get(users))
        .route("/v1/tickets", axum::routing::get(tickets))
        .route("/v1/tickets/{id}/comments", axum::routing::get(comments))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/v1")
}

/// Reads `streams` in their default modes and returns every record per stream (as JSON)
/// and the last state.
async fn read(
    connector: &dyn Connector,
    config: &Value,
    streams: &[&str],
    state: StateMap,
) -> (BTreeMap<String, Vec<Value>>, StateMap) {
    let catalog = connector.discover(config).await.unwrap();
    let streams = streams
        .iter()
        .map(|name| {
            let stream = catalog.stream(name).unwrap().clone();
            ConfiguredStream { mode: stream.default_mode, stream }
        })
        .collect();
    let request = ReadRequest { config: config.clone(), catalog: ConfiguredCatalog { streams }, state: state.clone() };
    let mut messages = connector.read(request).await.unwrap();
    let mut records: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut state = state;
    while let Some(message) = messages.next().await {
        match message.unwrap() {
            Message::Batch { stream, batch } => {
                let mut writer = arrow::json::ArrayWriter::new(Vec::new());
                writer.write(&batch).unwrap();
                writer.finish().unwrap();
                let rows: Vec<Value> = serde_json::from_slice(&writer.into_inner()).unwrap();
                records.entry(stream).or_default().extend(rows);
            }
            Message::State { stream, state: s } => {
                state.insert(stream, s);
            }
            Message::StreamFailed { stream, error } => panic!("stream {stream} failed: {error}"),
            _ => {}
        }
    }
    (records, state)
}

fn ids(records: &BTreeMap<String, Vec<Value>>, stream: &str) -> Vec<String> {
    let mut ids: Vec<String> = records
        .get(stream)
        .map(|rows| rows.iter().map(|r| r["id"].to_string().trim_matches('"').to_string()).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn an_airbyte_manifest_reads_in_full_then_incrementally() {
    let api = Arc::new(Api::default());
    let jan = |day: i64, hour: i64| 1_735_689_600 + (day - 1) * 86_400 + hour * 3_600;
    *api.tickets.lock().unwrap() = vec![(1, jan(2, 0)), (2, jan(5, 1)), (3, jan(5, 2)), (4, jan(15, 0))];
    let base = serve(api.clone()).await;
    let connector = super::connector("acme/manifest.yaml", "acme", MANIFEST, None).unwrap();
    assert_eq!(connector.name(), "acme");
    let config = json!({
        "api_key": "k3y", "start_date": "2025-01-01T00:00:00Z", "end_date": "2025-01-31T00:00:00Z", "base_url": base
    });
    connector.spec().validate("acme", &config).unwrap();
    let err = connector.spec().validate("acme", &json!({ "api_key": "k3y" })).unwrap_err().to_string();
    assert!(err.contains("start_date"), "the Airbyte spec validates configs: {err}");
    connector.check(&config).await.unwrap();

    let (records, state) = read(&connector, &config, &["users", "tickets", "comments"], StateMap::default()).await;
    assert_eq!(ids(&records, "users"), ["u1", "u2", "u3"], "the cursor read the records from `response`");
    assert_eq!(ids(&records, "tickets"), ["1", "2", "3", "4"], "windows and pages of two");
    assert_eq!(ids(&records, "comments"), ["c1", "c2", "c4"], "the deleted ticket's 404 is ignored");
    for comment in &records["comments"] {
        assert_eq!(comment["id"].as_str().unwrap(), format!("c{}", comment["ticket_id"].as_str().unwrap()));
        assert!(comment.get("internal").is_none(), "RemoveFields: {comment}");
    }
    let windows = api.windows.lock().unwrap().clone();
    assert!(windows.contains(&"2025-01-11T00:00:00Z".to_string()), "10-day windows: {windows:?}");
    let cursor = state["tickets"].to_string();
    assert!(cursor.contains("2025-01-31"), "the state is at the end of the last window: {cursor}");

    api.tickets.lock().unwrap().push((5, jan(41, 0)));
    api.windows.lock().unwrap().clear();
    let later = json!({
        "api_key": "k3y", "start_date": "2025-01-01T00:00:00Z", "end_date": "2025-02-28T00:00:00Z", "base_url": base
    });
    let (records, _) = read(&connector, &later, &["tickets"], state).await;
    assert_eq!(ids(&records, "tickets"), ["5"], "the incremental read starts at the saved cursor");
    // (Discover's sample page is requested without a window: `since` empty.)
    let windows: Vec<String> = api.windows.lock().unwrap().iter().filter(|s| !s.is_empty()).cloned().collect();
    assert!(windows.iter().all(|since| since.as_str() >= "2025-01-31"), "no window before the cursor: {windows:?}");
}

#[tokio::test]
async fn a_manifest_url_is_fetched_once() {
    use crate::registry::SchemeResolver as _;
    let fetches = Arc::new(Mutex::new(0u32));
    let counter = fetches.clone();
    let router = axum::Router::new().route(
        "/source-acme/manifest.yaml",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                *counter.lock().unwrap() += 1;
                MANIFEST
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let resolver = super::ManifestResolver::default();
    let url = format!("http://{address}/source-acme/manifest.yaml");
    let connector = resolver.resolve(&url).await.unwrap();
    assert_eq!(connector.name(), "acme", "named after the URL's folder");
    assert_eq!(connector.spec().config_schema["properties"]["api_key"]["x-secret"], true);
    resolver.resolve(&url).await.unwrap();
    assert_eq!(*fetches.lock().unwrap(), 1, "fetched once per process");
    let err = resolver.resolve(&format!("http://{address}/nope/manifest.yaml")).await.err().unwrap().to_string();
    assert!(err.contains("404") && err.contains("/nope/manifest.yaml"), "{err}");
}
