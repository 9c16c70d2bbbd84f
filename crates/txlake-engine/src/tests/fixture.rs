//! A tiny lake in the `sample` connector's shape, written row by row from JSON, so a metric
//! test reads like the table it is checked against. Every sample stream exists (empty unless
//! given rows), the connection is `fx`, and the engine loads the shipped SQL (the sample
//! models, the canonical views and every metric).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};
use txlake_lake::{Lake, StreamTable, TableId, WriteMode};

use crate::{Connection, Engine, EngineSettings, MetricRequest, SqlSources};

/// Rows per sample stream, as JSON objects (timestamps as RFC 3339 strings; absent = null).
#[derive(Default)]
pub struct Fixture {
    rows: BTreeMap<String, Vec<Value>>,
    settings: EngineSettings,
    /// Raw tables of other connections: (connection, stream) → (schema, rows).
    tables: BTreeMap<(String, String), (arrow::datatypes::SchemaRef, Vec<Value>)>,
    connections: Vec<Connection>,
    models: Vec<crate::SqlFile>,
}

impl Fixture {
    /// A fixture with every stream empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds rows to a sample stream (`customers`, `tickets`, …).
    pub fn rows(mut self, stream: &str, rows: Vec<Value>) -> Self {
        self.rows.entry(stream.to_string()).or_default().extend(rows);
        self
    }

    /// Sets a CSI touchpoint weight (`[metrics] csi_weights` in txlake.toml).
    pub fn csi_weight(mut self, touchpoint: &str, weight: f64) -> Self {
        self.settings.csi_weights.insert(touchpoint.to_string(), weight);
        self
    }

    /// Adds a raw table `<connection>.<stream>` of another connection, and the connection.
    pub fn table(
        mut self,
        connector: &str,
        connection: &str,
        stream: &str,
        schema: arrow::datatypes::SchemaRef,
        rows: Vec<Value>,
    ) -> Self {
        self.tables.insert((connection.to_string(), stream.to_string()), (schema, rows));
        if !self.connections.iter().any(|c| c.name == connection) {
            self.connections.push(Connection { name: connection.into(), connector: connector.into() });
        }
        self
    }

    /// Adds a SQL file to the shipped ones (a connector model of a test connector).
    pub fn sql(mut self, path: &str, text: &str) -> Self {
        self.models.push(crate::SqlFile { path: path.into(), text: text.into() });
        self
    }

    /// The engine settings, to set survey mappings.
    pub fn settings(mut self, edit: impl FnOnce(&mut EngineSettings)) -> Self {
        edit(&mut self.settings);
        self
    }

    /// Writes the lake (in memory, under `name`, which must be unique per test) and opens
    /// the engine over it with the shipped SQL.
    pub async fn engine(self, name: &str) -> Engine {
        self.try_engine(name).await.unwrap()
    }

    /// [`Fixture::engine`], returning the engine's error instead of panicking on it.
    pub async fn try_engine(self, name: &str) -> crate::Result<Engine> {
        let lake = Lake::open(&format!("memory://{name}"), std::path::Path::new("/"), HashMap::new()).unwrap();
        for stream in txlake_connector_sample::catalog().streams {
            let schema = stream.schema.clone();
            let mut table =
                StreamTable::open(&lake, &TableId::new("fx", &stream.name), schema.clone(), WriteMode::Append)
                    .await
                    .unwrap();
            if let Some(rows) = self.rows.get(&stream.name) {
                let mut decoder = arrow::json::ReaderBuilder::new(schema).build_decoder().unwrap();
                decoder.serialize(rows).unwrap_or_else(|e| panic!("fixture rows of `{}`: {e}", stream.name));
                let batch = decoder.flush().unwrap().expect("rows were given");
                table.write(batch).await.unwrap();
                table.commit(None, "fixture").await.unwrap();
            }
        }
        for stream in self.rows.keys() {
            assert!(txlake_connector_sample::catalog().stream(stream).is_some(), "`{stream}` is not a sample stream");
        }
        for ((connection, stream), (schema, rows)) in &self.tables {
            let mut table =
                StreamTable::open(&lake, &TableId::new(connection, stream), schema.clone(), WriteMode::Append)
                    .await
                    .unwrap();
            let mut decoder = arrow::json::ReaderBuilder::new(schema.clone()).build_decoder().unwrap();
            decoder.serialize(rows).unwrap_or_else(|e| panic!("fixture rows of `{connection}.{stream}`: {e}"));
            if let Some(batch) = decoder.flush().unwrap() {
                table.write(batch).await.unwrap();
            }
            table.commit(None, "fixture").await.unwrap();
        }
        let mut connections = vec![Connection { name: "fx".into(), connector: "sample".into() }];
        connections.extend(self.connections);
        let mut sources = SqlSources::builtin();
        for file in self.models {
            sources.insert(file);
        }
        Engine::open(&lake, &connections, &sources, &self.settings).await
    }
}

/// The result of a SQL query as JSON objects.
pub async fn query(engine: &Engine, sql: &str) -> Vec<Map<String, Value>> {
    let batches = engine.sql(sql).await.unwrap().collect().await.unwrap();
    to_json(&batches)
}

/// The result of a metric request as JSON objects.
pub async fn metric(engine: &Engine, name: &str, request: MetricRequest) -> Vec<Map<String, Value>> {
    let batches = engine.metric(name, &request).await.unwrap().collect().await.unwrap();
    to_json(&batches)
}

fn to_json(batches: &[arrow::record_batch::RecordBatch]) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    {
        let mut writer = arrow::json::ArrayWriter::new(&mut out);
        for batch in batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
    }
    if out.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<Map<String, Value>>>(&out).unwrap()
}

/// Asserts a JSON number is within 0.005 of `expected` (results are compared to 2 decimals).
#[track_caller]
pub fn assert_close(row: &Map<String, Value>, column: &str, expected: f64) {
    let actual = row.get(column).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number `{column}` in {row:?}"));
    assert!((actual - expected).abs() < 0.005, "`{column}` is {actual}, expected {expected}, in {row:?}");
}

/// The sample connector's own model files compile against the fixture.
#[tokio::test]
async fn an_empty_fixture_loads_every_view_and_metric() {
    let engine = Fixture::new().engine("fixture-empty").await;
    assert_eq!(engine.views().len(), 12, "9 canonical views and 3 helper views: {:?}", engine.views());
    assert!(engine.warnings().is_empty(), "{:?}", engine.warnings());
    for view in engine.views().iter().take(9) {
        assert!(query(&engine, &format!("SELECT * FROM tx.{view}")).await.is_empty(), "tx.{view} is empty");
    }
    assert_eq!(query(&engine, "SELECT * FROM tx.journey_stages").await.len(), 8);
}
