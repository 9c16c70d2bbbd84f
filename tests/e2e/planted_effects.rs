//! The effects planted in the sample world (connectors/sample/README.md, "Planted effects")
//! are recovered through the METRICS, end to end: a medium sample world is synced into a lake
//! on disk through the library, the engine is opened over it with the shipped SQL, and each
//! effect is asserted with its sign and a minimum strength.

use serde_json::{Map, Value, json};
use txlake_engine::{Connection, Engine, EngineSettings, MetricRequest, SqlSources};
use txlake_lake::RunStatus;
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

use crate::support::file_lake;

/// The world the sample connector's own effect tests use, a few seconds in a debug build:
/// leads arrive over 240 days, lifecycles go on to the end of the year.
fn world() -> Value {
    json!({
        "customers": 4000, "employees": 120, "days": 240, "seed": 11,
        "start_date": "2025-01-01", "end_date": "2025-12-27"
    })
}

async fn metric(engine: &Engine, name: &str, request: MetricRequest) -> Vec<Map<String, Value>> {
    let batches = engine
        .metric(name, &request)
        .await
        .unwrap_or_else(|e| panic!("metric `{name}` plans: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("metric `{name}` runs: {e}"));
    let mut out = Vec::new();
    {
        let mut writer = arrow::json::ArrayWriter::new(&mut out);
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
    }
    if out.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&out).unwrap()
}

fn number(row: &Map<String, Value>, column: &str) -> f64 {
    row.get(column).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number `{column}` in {row:?}"))
}

fn grouped_by(dimension: &str) -> MetricRequest {
    MetricRequest { group_by: vec![dimension.into()], ..Default::default() }
}

/// The row of a result grouped by `dimension` whose value is `value`.
fn group<'a>(rows: &'a [Map<String, Value>], dimension: &str, value: &str) -> &'a Map<String, Value> {
    rows.iter()
        .find(|r| r.get(dimension).and_then(Value::as_str) == Some(value))
        .unwrap_or_else(|| panic!("no {dimension} = {value} in {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_recover_the_planted_effects() {
    let dir = tempfile::tempdir().unwrap();
    let lake = file_lake(dir.path());
    let demo = ConnectionConfig {
        connector: "sample".into(),
        config: world(),
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
    assert!(engine.warnings().is_empty(), "{:?}", engine.warnings());

    // 1. Agents who completed more training get higher CSAT (cx_ex_link, one row per agent).
    let agents = metric(&engine, "cx_ex_link", MetricRequest::default()).await;
    assert!(agents.len() >= 40, "a Support department of about 60 agents: {}", agents.len());
    let corr_training = number(&agents[0], "corr_training_csat");
    assert!(corr_training > 0.3, "corr(completed courses, agent CSAT) = {corr_training}");
    let corr_answers = number(&agents[0], "corr_training_csat_answers");
    assert!(corr_answers > 0.2, "corr(courses at the answer, CSAT score) = {corr_answers}");
    // Mean CSAT, weighted by answers, of agents with ≥ 3 completed courses vs with none.
    let mean_csat = |keep: &dyn Fn(f64) -> bool| {
        let (sum, n) = agents
            .iter()
            .filter(|a| keep(number(a, "completed_courses")) && number(a, "csat_responses") > 0.0)
            .fold((0.0, 0.0), |(s, n), a| {
                (s + number(a, "csat_mean") * number(a, "csat_responses"), n + number(a, "csat_responses"))
            });
        assert!(n >= 20.0, "enough CSAT answers in the group: {n}");
        sum / n
    };
    let (trained, untrained) = (mean_csat(&|k| k >= 3.0), mean_csat(&|k| k == 0.0));
    assert!(trained - untrained > 0.5, "CSAT with ≥ 3 courses {trained:.2} vs none {untrained:.2}");

    // 2. Teams with higher eNPS serve customers with higher NPS (cx_ex_link, team columns).
    let corr_teams = number(&agents[0], "corr_enps_nps");
    assert!(corr_teams > 0.3, "corr(team eNPS, team customer NPS) = {corr_teams}");
    let mut teams: Vec<(String, f64, f64)> = Vec::new();
    for a in &agents {
        let team = a["team"].as_str().unwrap().to_string();
        if a.get("team_enps").is_some_and(Value::is_number) && !teams.iter().any(|t| t.0 == team) {
            teams.push((team, number(a, "team_enps"), number(a, "team_customer_nps")));
        }
    }
    assert!(teams.len() >= 4, "support teams with an eNPS: {teams:?}");
    teams.sort_by(|a, b| b.1.total_cmp(&a.1));
    let half = teams.len() / 2;
    let mean_nps = |t: &[(String, f64, f64)]| t.iter().map(|t| t.2).sum::<f64>() / t.len() as f64;
    let (top, bottom) = (mean_nps(&teams[..half]), mean_nps(&teams[teams.len() - half..]));
    assert!(top - bottom > 5.0, "customer NPS of the top-half eNPS teams {top:.1} vs bottom half {bottom:.1}");

    // 3. Detractors churn more than promoters, and their historic LTV is lower
    //    (customer_churn and customer_ltv by the customer's NPS category).
    let churn = metric(&engine, "customer_churn", grouped_by("nps_category")).await;
    let (detractor_churn, promoter_churn) = (
        number(group(&churn, "nps_category", "detractor"), "churn_rate"),
        number(group(&churn, "nps_category", "promoter"), "churn_rate"),
    );
    assert!(
        detractor_churn > 2.0 * promoter_churn,
        "monthly churn: detractors {detractor_churn:.2} % vs promoters {promoter_churn:.2} %"
    );
    let ltv = metric(&engine, "customer_ltv", grouped_by("nps_category")).await;
    let (detractor_ltv, promoter_ltv) = (
        number(group(&ltv, "nps_category", "detractor"), "historic_ltv"),
        number(group(&ltv, "nps_category", "promoter"), "historic_ltv"),
    );
    assert!(
        detractor_ltv < 0.9 * promoter_ltv,
        "historic LTV: detractors {detractor_ltv:.0} vs promoters {promoter_ltv:.0}"
    );

    // 4. The journey funnel's drop-offs and delays: 60 % of leads consider (1–14 days later),
    //    half of those buy (3–30 days later), onboarding 1–7 days after purchase.
    let funnel = metric(&engine, "journey_funnel", grouped_by("stage")).await;
    let conversion = |stage: &str| number(group(&funnel, "stage", stage), "conversion_pct");
    assert!((55.0..66.0).contains(&conversion("consideration")), "consideration {}", conversion("consideration"));
    assert!((44.0..56.0).contains(&conversion("purchase")), "purchase {}", conversion("purchase"));
    let everyone = MetricRequest {
        filters: vec![("segment".into(), vec!["all".into()]), ("acquisition_channel".into(), vec!["all".into()])],
        ..Default::default()
    };
    let times = metric(&engine, "time_to_stage", everyone).await;
    let median = |stage: &str| number(group(&times, "stage", stage), "median_days_from_previous");
    assert!((5.0..10.0).contains(&median("consideration")), "median days to consider {}", median("consideration"));
    assert!((12.0..21.0).contains(&median("purchase")), "median days to buy {}", median("purchase"));
    assert!((2.0..6.0).contains(&median("onboarding")), "median days to onboard {}", median("onboarding"));
    // Paths: the biggest drop-off is right after awareness (40 % never come back), then after
    // consideration (half of the 60 % do not buy).
    let request = MetricRequest { filters: vec![("segment".into(), vec!["all".into()])], ..Default::default() };
    let mut paths = metric(&engine, "journey_paths", request).await;
    paths.sort_by(|a, b| number(a, "path_rank").total_cmp(&number(b, "path_rank")));
    assert_eq!((&paths[0]["path"], &paths[1]["path"]), (&json!("awareness"), &json!("awareness > consideration")));
    assert!((35.0..45.0).contains(&number(&paths[0], "share_pct")), "{:?}", paths[0]);

    // The scorecard's headline numbers land where the README says (NPS about +29, eNPS about
    // +23, mean CSAT 3.8, mean CES 3.0) — loosely, this is a different world.
    let card = metric(&engine, "tx_scorecard", MetricRequest::default()).await;
    let card = &card[0];
    for (column, low, high) in
        [("nps", 10.0, 50.0), ("enps", 0.0, 45.0), ("csat_mean", 3.4, 4.2), ("ces_mean", 2.5, 3.5)]
    {
        let value = number(card, column);
        assert!((low..high).contains(&value), "scorecard {column} = {value}");
    }
    eprintln!(
        "planted effects: corr(training, CSAT) agents {corr_training:.2}, answers {corr_answers:.2}; CSAT ≥3 courses \
         {trained:.2} vs none {untrained:.2}; corr(team eNPS, NPS) {corr_teams:.2}, top/bottom-half NPS {top:.1}/{bottom:.1}; \
         monthly churn detractor/promoter {detractor_churn:.2}/{promoter_churn:.2} %; LTV {detractor_ltv:.0}/{promoter_ltv:.0}; \
         conversion {:.1}/{:.1} %",
        conversion("consideration"),
        conversion("purchase")
    );
}
