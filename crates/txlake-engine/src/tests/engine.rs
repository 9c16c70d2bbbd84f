//! Engine tests on a fixture lake of twelve survey answers, small enough to check by hand.
//!
//! | id | segment    | score | answered_at |           | id | segment | score | answered_at |
//! |----|------------|-------|-------------|-----------|----|---------|-------|-------------|
//! | 1  | smb        | 10    | 2025-01-05  |           | 7  | ent     | 10    | 2025-02-01  |
//! | 2  | smb        | 9     | 2025-01-06  |           | 8  | ent     | 9     | 2025-02-02  |
//! | 3  | smb        | 3     | 2025-01-07  |           | 9  | ent     | 9     | 2025-02-03  |
//! | 4  | smb        | 7     | 2025-01-20  |           | 10 | ent     | 8     | 2025-02-04  |
//! | 5  | smb        | 6     | 2025-02-10  |           | 11 | ent     | 2     | 2025-02-05  |
//! | 6  | smb        | 0     | 2025-02-11  |           | 12 | mid     | 10    | 2025-03-01  |
//!
//! smb: 2 promoters, 1 passive, 3 detractors of 6 → NPS = 100·(2−3)/6 = −16.67
//! ent: 3 promoters, 1 passive, 1 detractor of 5 → NPS = 100·(3−1)/5 = +40
//! mid: 1 promoter of 1 → NPS = +100
//! all: 6 promoters, 2 passives, 4 detractors of 12 → NPS = 100·(6−4)/12 = +16.67
//! January: ids 1–4 → 2 P, 1 Pa, 1 D → +25; February: ids 5–11 → 3 P, 1 Pa, 3 D of 7 → 0;
//! March: id 12 → +100.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use txlake_lake::{Lake, StreamTable, TableId, WriteMode};

use crate::*;

const ROWS: [(i64, &str, i32, &str); 12] = [
    (1, "smb", 10, "2025-01-05"),
    (2, "smb", 9, "2025-01-06"),
    (3, "smb", 3, "2025-01-07"),
    (4, "smb", 7, "2025-01-20"),
    (5, "smb", 6, "2025-02-10"),
    (6, "smb", 0, "2025-02-11"),
    (7, "ent", 10, "2025-02-01"),
    (8, "ent", 9, "2025-02-02"),
    (9, "ent", 9, "2025-02-03"),
    (10, "ent", 8, "2025-02-04"),
    (11, "ent", 2, "2025-02-05"),
    (12, "mid", 10, "2025-03-01"),
];

fn file(path: &str, text: &str) -> SqlFile {
    SqlFile { path: path.into(), text: text.into() }
}

fn sources() -> SqlSources {
    SqlSources::from_files([
        file(
            "sql/model/answers.sql",
            "-- view: answers\nSELECT CAST(NULL AS VARCHAR) AS answer_key, CAST(NULL AS VARCHAR) AS segment,\n  CAST(NULL AS INT) AS score, CAST(NULL AS TIMESTAMP) AS answered_at WHERE false",
        ),
        file(
            "connectors/fixture/models/answers.sql",
            "SELECT answered_at, score, segment, concat('{{ connection }}', ':', CAST(id AS VARCHAR)) AS answer_key FROM {{ connection }}.answers",
        ),
        file(
            "sql/metrics/nps.sql",
            "-- name: nps\n-- title: Net Promoter Score\n-- description: promoters minus detractors.\n-- time: answered_at\n-- dimensions: segment\n-- measures: responses:sum, promoters:sum, passives:sum, detractors:sum\n-- derived: nps = 100.0 * (promoters - detractors) / responses\n-- min_group: 1\nCREATE VIEW metrics.nps AS\nSELECT segment, answered_at, 1 AS responses,\n  CASE WHEN score >= 9 THEN 1 ELSE 0 END AS promoters,\n  CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END AS passives,\n  CASE WHEN score <= 6 THEN 1 ELSE 0 END AS detractors\nFROM tx.answers",
        ),
        file(
            "sql/metrics/answer_list.sql",
            "-- name: answer_list\n-- kind: table\n-- time: answered_at\n-- dimensions: segment\n-- order_by: score desc, answer_key\nCREATE VIEW metrics.answer_list AS SELECT answer_key, segment, score, answered_at FROM tx.answers",
        ),
    ])
}

async fn fixture_lake(name: &str) -> Lake {
    let lake = Lake::open(&format!("memory://{name}"), std::path::Path::new("/"), HashMap::new()).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("score", DataType::Int32, false),
        Field::new("answered_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
    ]));
    let micros = |d: &str| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap().and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp_micros()
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(ROWS.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(ROWS.iter().map(|r| r.1))),
            Arc::new(Int32Array::from_iter_values(ROWS.iter().map(|r| r.2))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(ROWS.iter().map(|r| micros(r.3))).with_timezone("UTC"),
            ),
        ],
    )
    .unwrap();
    let mut table = StreamTable::open(&lake, &TableId::new("fx", "answers"), schema, WriteMode::Append).await.unwrap();
    table.write(batch).await.unwrap();
    table.commit(None, "fixture").await.unwrap();
    lake
}

async fn engine(name: &str) -> Engine {
    let lake = fixture_lake(name).await;
    let connections = [
        Connection { name: "fx".into(), connector: "fixture".into() },
        Connection { name: "empty".into(), connector: "fixture".into() },
    ];
    Engine::open(&lake, &connections, &sources(), &EngineSettings::default()).await.unwrap()
}

/// `(group, nps)` rows of a result with a text group column and an `nps` column.
async fn nps_by(engine: &Engine, request: MetricRequest, group: &str) -> Vec<(String, f64)> {
    let batches = engine.metric("nps", &request).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for batch in batches {
        let keys = arrow::compute::cast(batch.column_by_name(group).unwrap(), &DataType::Utf8).unwrap();
        let keys = keys.as_any().downcast_ref::<StringArray>().unwrap();
        let nps = batch.column_by_name("nps").unwrap().as_any().downcast_ref::<Float64Array>().unwrap().clone();
        for i in 0..batch.num_rows() {
            out.push((keys.value(i).to_string(), (nps.value(i) * 100.0).round() / 100.0));
        }
    }
    out
}

#[tokio::test]
async fn canonical_views_union_connections_and_skip_missing_streams() {
    let engine = engine("engine-views").await;
    assert_eq!(engine.views(), ["answers"]);
    assert!(engine.warnings().iter().any(|w| w.contains("`empty`")), "{:?}", engine.warnings());
    let batches =
        engine.sql("SELECT answer_key FROM tx.answers ORDER BY answer_key").await.unwrap().collect().await.unwrap();
    let keys = arrow::compute::cast(batches[0].column(0), &DataType::Utf8).unwrap();
    assert_eq!(keys.as_any().downcast_ref::<StringArray>().unwrap().value(0), "fx:1");
    let schema = engine.sql("SELECT answered_at FROM tx.answers").await.unwrap().schema().field(0).data_type().clone();
    assert_eq!(schema, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
}

#[tokio::test]
async fn nps_is_computed_from_summed_counts_for_any_grouping() {
    let engine = engine("engine-nps").await;
    let by_segment = MetricRequest { group_by: vec!["segment".into()], ..Default::default() };
    assert_eq!(
        nps_by(&engine, by_segment, "segment").await,
        [("ent".into(), 40.0), ("mid".into(), 100.0), ("smb".into(), -16.67)]
    );
    // The overall NPS is 16.67, not the average of the segment NPS values (41.11).
    let total = engine.metric("nps", &MetricRequest::default()).await.unwrap().collect().await.unwrap();
    let nps = total[0].column_by_name("nps").unwrap().as_any().downcast_ref::<Float64Array>().unwrap().value(0);
    assert!((nps - 16.6667).abs() < 0.001, "{nps}");

    let by_month = MetricRequest { grain: Some(Grain::Month), ..Default::default() };
    let months: Vec<f64> = nps_by(&engine, by_month, "period").await.into_iter().map(|r| r.1).collect();
    assert_eq!(months, [25.0, 0.0, 100.0]);
}

#[tokio::test]
async fn filters_dates_order_and_paging() {
    let engine = engine("engine-filters").await;
    let smb = MetricRequest {
        group_by: vec!["segment".into()],
        filters: vec![("segment".into(), vec!["smb".into(), "mid".into()])],
        order_by: vec![OrderBy::parse("-nps")],
        ..Default::default()
    };
    assert_eq!(nps_by(&engine, smb, "segment").await, [("mid".into(), 100.0), ("smb".into(), -16.67)]);
    // January only, `to` inclusive of its day: ids 1–4.
    let january = MetricRequest {
        group_by: vec!["segment".into()],
        from: Some("2025-01-01".into()),
        to: Some("2025-01-20".into()),
        ..Default::default()
    };
    assert_eq!(nps_by(&engine, january, "segment").await, [("smb".into(), 25.0)]);
    let paged = MetricRequest { group_by: vec!["segment".into()], limit: Some(1), offset: 1, ..Default::default() };
    assert_eq!(nps_by(&engine, paged, "segment").await, [("mid".into(), 100.0)]);
}

#[tokio::test]
async fn table_metrics_are_filtered_not_aggregated() {
    let engine = engine("engine-table").await;
    let request = MetricRequest { filters: vec![("segment".into(), vec!["ent".into()])], ..Default::default() };
    let rows: usize = engine
        .metric("answer_list", &request)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 5);
    // The header's default order applies: enterprise scores 10, 9, 9, 8, 2.
    let batches = engine.metric("answer_list", &request).await.unwrap().collect().await.unwrap();
    let scores: Vec<i32> = batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("score").unwrap().as_any().downcast_ref::<Int32Array>().unwrap().values().to_vec()
        })
        .collect();
    assert_eq!(scores, [10, 9, 9, 8, 2]);
    let grouped = MetricRequest { group_by: vec!["segment".into()], ..Default::default() };
    let err = engine.metric("answer_list", &grouped).await.unwrap_err().to_string();
    assert!(err.contains("table metric"), "{err}");
}

#[tokio::test]
async fn bad_requests_name_the_problem() {
    let engine = engine("engine-errors").await;
    let err = engine.metric("nsp", &MetricRequest::default()).await.unwrap_err().to_string();
    assert!(err.contains("unknown metric `nsp`") && err.contains("nps"), "{err}");
    let err = engine
        .metric("nps", &MetricRequest { group_by: vec!["country".into()], ..Default::default() })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no dimension `country`") && err.contains("segment"), "{err}");
    let err = engine
        .metric("nps", &MetricRequest { filters: vec![("promoters".into(), vec!["3".into()])], ..Default::default() })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("it is a measure"), "{err}");
    let err = engine
        .metric("nps", &MetricRequest { from: Some("March 1".into()), ..Default::default() })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("`from`") && err.contains("YYYY-MM-DD"), "{err}");
    let err = engine
        .metric("nps", &MetricRequest { order_by: vec![OrderBy::parse("score")], ..Default::default() })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("order_by") && err.contains("nps"), "{err}");
}

#[tokio::test]
async fn broken_sql_files_fail_at_load_naming_the_file() {
    let lake = fixture_lake("engine-broken").await;
    let connections = [Connection { name: "fx".into(), connector: "fixture".into() }];
    let mut broken = sources();
    broken.insert(file(
        "sql/metrics/nps.sql",
        &sources().get("sql/metrics/nps.sql").unwrap().text.replace("-- time:", "-- tmie:"),
    ));
    let err = Engine::open(&lake, &connections, &broken, &EngineSettings::default()).await.unwrap_err().to_string();
    assert!(err.starts_with("sql/metrics/nps.sql:4:") && err.contains("tmie"), "{err}");

    let mut bad_model = sources();
    bad_model.insert(file("connectors/fixture/models/answers.sql", "SELECT segment FROM {{ connection }}.answers"));
    let err = Engine::open(&lake, &connections, &bad_model, &EngineSettings::default()).await.unwrap_err().to_string();
    assert!(err.contains("connectors/fixture/models/answers.sql") && err.contains("answer_key"), "{err}");

    let mut wrong_column = sources();
    wrong_column.insert(file(
        "sql/metrics/answer_list.sql",
        "-- name: answer_list\n-- kind: table\n-- dimensions: region\nCREATE VIEW metrics.answer_list AS SELECT segment FROM tx.answers",
    ));
    let err =
        Engine::open(&lake, &connections, &wrong_column, &EngineSettings::default()).await.unwrap_err().to_string();
    assert!(err.contains("answer_list.sql") && err.contains("`region`"), "{err}");
}

#[tokio::test]
async fn the_session_sees_new_commits_without_reloading() {
    let lake = fixture_lake("engine-live").await;
    let connections = [Connection { name: "fx".into(), connector: "fixture".into() }];
    let engine = Engine::open(&lake, &connections, &sources(), &EngineSettings::default()).await.unwrap();
    let count = || async {
        let batches = engine.sql("SELECT count(*) FROM tx.answers").await.unwrap().collect().await.unwrap();
        batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0)
    };
    assert_eq!(count().await, 12);
    // A sync appends the twelve rows again while the engine is running.
    fixture_lake("engine-live").await;
    assert_eq!(count().await, 24);
}

#[tokio::test]
async fn materialized_views_are_computed_once_per_lake_version() {
    let lake = fixture_lake("engine-materialized").await;
    let connections = [Connection { name: "fx".into(), connector: "fixture".into() }];
    let mut sources = sources();
    sources.insert(file(
        "sql/views/answer_counts.sql",
        "-- tx.answer_counts: answers per segment.\n-- materialized: true\nCREATE VIEW tx.answer_counts AS SELECT segment, count(*) AS answers FROM tx.answers GROUP BY segment",
    ));
    let nps = sources
        .get("sql/metrics/nps.sql")
        .unwrap()
        .text
        .replace("-- min_group: 1", "-- min_group: 1\n-- materialized: true");
    sources.insert(file("sql/metrics/nps.sql", &nps));
    let engine = Engine::open(&lake, &connections, &sources, &EngineSettings::default()).await.unwrap();
    let names: Vec<&str> = engine.materialized_views().iter().map(|v| v.name()).collect();
    assert_eq!(names, ["tx.answer_counts", "metrics.nps (rollup by dimensions × day)"]);
    let computations = || engine.materialized_views().iter().map(|v| v.computations()).collect::<Vec<_>>();
    assert_eq!(computations(), [0, 0], "nothing is computed before it is needed");

    let smb_answers = || async {
        let rows = super::fixture::query(&engine, "SELECT answers FROM tx.answer_counts WHERE segment = 'smb'").await;
        rows[0]["answers"].as_i64().unwrap()
    };
    assert_eq!(smb_answers().await, 6);
    assert_eq!(nps_by(&engine, MetricRequest::default(), "responses").await.len(), 1);
    assert_eq!(
        nps_by(&engine, MetricRequest { group_by: vec!["segment".into()], ..Default::default() }, "segment").await,
        [("ent".to_string(), 40.0), ("mid".to_string(), 100.0), ("smb".to_string(), -16.67)]
    );
    assert_eq!(smb_answers().await, 6);
    assert_eq!(computations(), [1, 1], "later queries on the same lake version read the computed rows");

    // A sync commits the twelve answers again: the next queries see them.
    fixture_lake("engine-materialized").await;
    assert_eq!(smb_answers().await, 12);
    engine.refresh_materialized().await.unwrap();
    assert_eq!(computations(), [2, 2]);
    engine.refresh_materialized().await.unwrap();
    assert_eq!(computations(), [2, 2], "a refresh with no new commit computes nothing");

    // A refresh that puts a metric first still computes every view, once; names that are no
    // materialized metric are passed over.
    fixture_lake("engine-materialized").await;
    engine.refresh_materialized_metrics_first(&["nps", "no_such_metric"]).await.unwrap();
    assert_eq!(computations(), [3, 3]);
}

#[tokio::test]
async fn a_bad_materialized_marker_names_the_file_and_line() {
    let lake = fixture_lake("engine-materialized-bad").await;
    let connections = [Connection { name: "fx".into(), connector: "fixture".into() }];
    let mut sources = sources();
    sources.insert(file(
        "sql/views/answer_counts.sql",
        "-- a view\n-- materialized: yes\nCREATE VIEW tx.answer_counts AS SELECT 1 AS one",
    ));
    let err = Engine::open(&lake, &connections, &sources, &EngineSettings::default()).await.unwrap_err().to_string();
    assert!(err.contains("sql/views/answer_counts.sql:2:") && err.contains("`true` or `false`"), "{err}");
}
