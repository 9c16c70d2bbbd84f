//! A metric's rollup (dimensions × day, kept in memory) answers exactly what its view
//! answers: on a small sample world, every metric with a rollup is asked the same requests
//! both ways, and the results must agree row for row (numbers to a relative 1e-9, since sums
//! of sums add floats in another order).

use serde_json::{Map, Value};
use txlake_engine::{Connection, Engine, EngineSettings, Grain, MetricRequest, SqlSources};
use txlake_lake::RunStatus;
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

use crate::support::{file_lake, small_world};

fn to_json(batches: &[arrow::record_batch::RecordBatch]) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    {
        let mut writer = arrow::json::ArrayWriter::new(&mut out);
        for batch in batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
    }
    if out.is_empty() { Vec::new() } else { serde_json::from_slice(&out).unwrap() }
}

/// The answer to `request`, over the rollup (`true`) or the view.
async fn answer(engine: &Engine, name: &str, request: &MetricRequest, rollup: bool) -> Vec<Map<String, Value>> {
    let frame = if rollup { engine.metric(name, request).await } else { engine.metric_from_view(name, request).await };
    let batches = frame.unwrap_or_else(|e| panic!("{name} {request:?} plans: {e}")).collect().await;
    to_json(&batches.unwrap_or_else(|e| panic!("{name} {request:?} runs: {e}")))
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rollup_answers_what_its_view_answers() {
    let dir = tempfile::tempdir().unwrap();
    let lake = file_lake(dir.path());
    let demo = ConnectionConfig {
        connector: "sample".into(),
        config: small_world(None),
        streams: None,
        modes: Default::default(),
        survey_mapping: None,
    };
    let report = sync_connection(&lake, &builtin_registry(), "demo", &demo, &SyncOptions::default(), &QuietObserver)
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let connections = [Connection { name: "demo".into(), connector: "sample".into() }];
    let engine = Engine::open(&lake, &connections, &SqlSources::builtin(), &EngineSettings::default()).await.unwrap();

    let defs: Vec<_> = engine.metrics().filter(|d| engine.has_rollup(&d.name)).cloned().collect();
    assert!(
        defs.len() >= 10,
        "most aggregate metrics keep a rollup: {:?}",
        defs.iter().map(|d| &d.name).collect::<Vec<_>>()
    );
    assert!(!engine.has_rollup("enps"), "a count_distinct measure (distinct respondents) does not re-aggregate");
    for def in &defs {
        let mut requests = vec![
            MetricRequest::default(),
            MetricRequest { group_by: def.dimensions.iter().take(2).cloned().collect(), ..Default::default() },
        ];
        if def.time.is_some() {
            requests.push(MetricRequest {
                group_by: def.dimensions.clone(),
                grain: Some(Grain::Month),
                ..Default::default()
            });
            requests.push(MetricRequest {
                grain: Some(Grain::Week),
                from: Some("2025-02-03T00:00:00Z".into()),
                to: Some("2025-03-15".into()),
                ..Default::default()
            });
        }
        if let Some(first) = def.dimensions.first() {
            // A filter on the first value the dimension has.
            let values = answer(&engine, &def.name, &requests[1], false).await;
            if let Some(value) = values.iter().find_map(|r| r.get(first).and_then(Value::as_str)) {
                requests.push(MetricRequest {
                    group_by: def.dimensions.iter().skip(1).take(1).cloned().collect(),
                    filters: vec![(first.clone(), vec![value.to_string()])],
                    ..Default::default()
                });
            }
        }
        for request in &requests {
            let expected = answer(&engine, &def.name, request, false).await;
            let actual = answer(&engine, &def.name, request, true).await;
            assert_eq!(actual.len(), expected.len(), "{} {request:?}: rows", def.name);
            assert!(!expected.is_empty() || def.time.is_some(), "{} {request:?} has rows", def.name);
            for (a, e) in actual.iter().zip(&expected) {
                let columns: Vec<_> = e.keys().collect();
                assert_eq!(
                    a.keys().collect::<Vec<_>>(),
                    columns,
                    "{} {request:?}: the same non-null columns\nrollup: {a:?}\nview:   {e:?}",
                    def.name
                );
                for column in columns {
                    assert!(
                        same(&a[column], &e[column]),
                        "{} {request:?}: `{column}` is {} from the rollup, {} from the view\nrollup: {a:?}\nview:   {e:?}",
                        def.name,
                        a[column],
                        e[column]
                    );
                }
            }
        }
    }
    let computed: Vec<_> =
        engine.materialized_views().iter().filter(|v| v.computations() > 0).map(|v| v.name()).collect();
    assert!(computed.iter().any(|n| n.contains("rollup")), "the rollups were used: {computed:?}");
}
