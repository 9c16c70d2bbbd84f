//! Shared helpers: small sample worlds, config files, running the binary, reading tables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use txlake_engine::{Engine, EngineSettings, SqlSources};
use txlake_lake::{Lake, TableId};

/// The `txlake` binary built for these tests.
pub fn txlake_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_txlake"))
}

/// Runs `txlake ARGS` to completion with the test environment (no terminal).
pub fn txlake(args: &[&str]) -> Output {
    Command::new(txlake_bin()).args(args).env_remove("RUST_LOG").output().expect("the txlake binary runs")
}

/// A sample world small enough for a debug build, with frequent checkpoints.
pub fn small_world(end_date: Option<&str>) -> Value {
    let mut config = json!({
        "customers": 600, "employees": 30, "days": 90, "seed": 7,
        "start_date": "2025-01-01", "batch_size": 256
    });
    if let Some(end) = end_date {
        config["end_date"] = json!(end);
    }
    config
}

/// Writes `dir/txlake.toml` with one `demo` sample connection.
pub fn write_config(dir: &Path, sample: &Value, commit_rows: u64) -> PathBuf {
    let path = dir.join("txlake.toml");
    let text = format!(
        "[lake]\nurl = \"file://./lake\"\n\n[sync]\ncommit_rows = {commit_rows}\n\n[connections.demo]\nconnector = \"sample\"\nconfig = {}\n",
        toml_inline(sample)
    );
    std::fs::write(&path, text).expect("config written");
    path
}

fn toml_inline(value: &Value) -> String {
    let Value::Object(map) = value else { panic!("config is an object") };
    let fields: Vec<String> = map.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{{ {} }}", fields.join(", "))
}

/// A file lake rooted at `dir/lake`.
pub fn file_lake(dir: &Path) -> Lake {
    Lake::open("file://./lake", dir, HashMap::new()).expect("lake opens")
}

/// The engine over `lake`'s raw tables only (no model, no metrics).
pub async fn raw_engine(lake: &Lake) -> Engine {
    Engine::open(lake, &[], &SqlSources::default(), &EngineSettings::default()).await.expect("raw tables load")
}

/// Every raw table of `lake` with its rows rendered in id order, for exact comparison.
pub async fn dump_tables(lake: &Lake) -> Vec<(TableId, String)> {
    let engine = raw_engine(lake).await;
    let mut out = Vec::new();
    for id in engine.raw_tables().to_vec() {
        let batches = engine
            .sql(&format!("SELECT * FROM {}.{} ORDER BY id", id.connection, id.stream))
            .await
            .expect("query plans")
            .collect()
            .await
            .expect("query runs");
        out.push((id, arrow::util::pretty::pretty_format_batches(&batches).expect("renders").to_string()));
    }
    out
}

/// `(rows, distinct ids)` of a raw table.
pub async fn count_ids(lake: &Lake, table: &str) -> (i64, i64) {
    let batches = raw_engine(lake)
        .await
        .sql(&format!("SELECT count(*) AS n, count(DISTINCT id) AS d FROM {table}"))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    let n = batches[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().expect("int").value(0);
    let d = batches[0].column(1).as_any().downcast_ref::<arrow::array::Int64Array>().expect("int").value(0);
    (n, d)
}

/// Asserts two lakes hold exactly the same tables with exactly the same rows.
pub async fn assert_same_tables(expected: &Lake, actual: &Lake) {
    let expected = dump_tables(expected).await;
    let actual = dump_tables(actual).await;
    assert_eq!(
        expected.iter().map(|t| t.0.to_string()).collect::<Vec<_>>(),
        actual.iter().map(|t| t.0.to_string()).collect::<Vec<_>>(),
        "the same tables"
    );
    assert!(!expected.is_empty());
    for ((id, want), (_, got)) in expected.iter().zip(&actual) {
        assert!(
            want == got,
            "table {id} differs:\n--- expected (first lines)\n{}\n--- actual (first lines)\n{}",
            want.lines().take(12).collect::<Vec<_>>().join("\n"),
            got.lines().take(12).collect::<Vec<_>>().join("\n")
        );
    }
}

/// A tiny deterministic PRNG for choosing kill points (xorshift64*).
pub struct TestRng(u64);

impl TestRng {
    /// Seeded from `TXLAKE_TEST_SEED` when set, else a fixed seed; prints it for replay.
    pub fn from_env() -> Self {
        let seed = std::env::var("TXLAKE_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7e57_5eed);
        eprintln!("TXLAKE_TEST_SEED={seed}");
        Self(seed | 1)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}
