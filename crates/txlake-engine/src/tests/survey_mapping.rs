//! Survey mappings: a survey tool's answers (`tx.survey_answers`) and a file of answers (a
//! wide stream) become `tx.surveys` rows through `tx.survey_mapping` and
//! `sql/mappings/surveys.sql`, matched by e-mail to the sample connection's people.
//!
//! People (connection `fx`, the sample shape):
//!
//! | customer | e-mail                | segment    |   | employee | e-mail                | team    |
//! |----------|-----------------------|------------|---|----------|-----------------------|---------|
//! | fx:1     | customer1@example.com | smb        |   | fx:11…15 | employee11…15@…       | Team A  |
//! | fx:2     | customer2@example.com | enterprise |   |          |                       |         |
//!
//! Survey tool answers (connection `forms`, a test connector mapping `forms.answers` as is):
//!
//! | response | nps_q | csat_q (1–7) | hidden.email             | hidden.touchpoint |
//! |----------|-------|--------------|--------------------------|-------------------|
//! | r1       | 10    | 7            | " Customer1@Example.com" | onboarding        |
//! | r2       | 3     | 4            | customer2@example.com    |                   |
//! | r3       | 8     |              | nobody@example.com       |                   |
//! | r4       | 11    |              | customer1@example.com    |                   |
//! | r5       | "n/a" |              | customer2@example.com    |                   |
//!
//! Mapping: nps_q → nps (0–10), csat_q → csat from 1–7 rescaled onto 1–5, respondent by
//! e-mail as a customer, touchpoint from hidden.touchpoint else `web_form`, channel `web`.
//! So tx.surveys holds r1..r3's NPS answers (r4's 11 and r5's text are out of scale) and
//! r1, r2's CSAT rescaled: 7 → 1 + (7 − 1) × 4 / 6 = 5, 4 → 1 + 3 × 4 / 6 = 3.
//! NPS overall: promoters {r1}, passives {r3}, detractors {r2}: (1 − 1) / 3 = 0; by segment
//! smb (r1) 100, enterprise (r2) −100, and r3 (nobody) in no segment.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde_json::{Value, json};

use super::fixture::*;
use crate::*;

const FORMS_MODEL: &str = "SELECT concat('{{ connection }}', ':', a.response_id, ':', a.field) AS answer_key,
    '{{ connection }}' AS source, a.survey_id, a.response_id, a.field, a.question, a.question_type,
    a.value, a.value_text, a.answered_at
FROM {{ connection }}.answers AS a";

fn answers_schema() -> Arc<Schema> {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        text("survey_id"),
        text("response_id"),
        text("field"),
        text("question"),
        text("question_type"),
        Field::new("value", DataType::Float64, true),
        text("value_text"),
        Field::new("answered_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
    ]))
}

fn answer(response: &str, field: &str, value: Value) -> Value {
    let number = value.as_f64();
    let text = match &value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    json!({
        "survey_id": "f1", "response_id": response, "field": field,
        "question": if field.starts_with("hidden.") { Value::Null } else { json!("How likely…?") },
        "question_type": if field.starts_with("hidden.") { Value::Null } else { json!("opinion_scale") },
        "value": number, "value_text": text, "answered_at": "2025-03-10T10:00:00Z",
    })
}

fn customer(id: i64, segment: &str) -> Value {
    json!({
        "id": id, "email": format!("customer{id}@example.com"), "name": format!("Customer {id}"),
        "segment": segment, "country": "DE", "acquisition_channel": "referral",
        "lifecycle_stage": "customer", "support_team": "Support 01",
        "created_at": "2024-12-01T09:00:00Z", "became_customer_at": "2024-12-10T09:00:00Z",
        "updated_at": "2024-12-10T09:00:00Z",
    })
}

fn employee(id: i64) -> Value {
    json!({
        "id": id, "email": format!("employee{id}@example.com"), "name": format!("Employee {id}"),
        "department": "Support", "team": "Team A", "role": "Agent",
        "hired_at": "2024-01-01T00:00:00Z", "annual_cost": 46000.0, "currency": "USD",
        "updated_at": "2024-01-01T00:00:00Z",
    })
}

fn mapped(field: &str, survey: &str, scale: [i64; 2], target: [i64; 2]) -> MappedQuestion {
    MappedQuestion {
        source: "forms".into(),
        field: field.into(),
        survey: survey.into(),
        respondent_kind: "customer".into(),
        scale,
        target_scale: target,
        respondent_field: "hidden.email".into(),
        touchpoint_field: Some("hidden.touchpoint".into()),
        touchpoint_value: Some("web_form".into()),
        channel_value: Some("web".into()),
        ..Default::default()
    }
}

async fn forms_engine(name: &str) -> Engine {
    let rows = vec![
        answer("r1", "nps_q", json!(10)),
        answer("r1", "csat_q", json!(7)),
        answer("r1", "hidden.email", json!(" Customer1@Example.com")),
        answer("r1", "hidden.touchpoint", json!("onboarding")),
        answer("r2", "nps_q", json!(3)),
        answer("r2", "csat_q", json!(4)),
        answer("r2", "hidden.email", json!("customer2@example.com")),
        answer("r3", "nps_q", json!(8)),
        answer("r3", "hidden.email", json!("nobody@example.com")),
        answer("r4", "nps_q", json!(11)),
        answer("r4", "hidden.email", json!("customer1@example.com")),
        answer("r5", "nps_q", json!("n/a")),
        answer("r5", "hidden.email", json!("customer2@example.com")),
        // An unmapped question is no satisfaction answer.
        answer("r1", "comment", json!("great")),
    ];
    Fixture::new()
        .rows("customers", vec![customer(1, "smb"), customer(2, "enterprise")])
        .table("test_forms", "forms", "answers", answers_schema(), rows)
        .sql("connectors/test_forms/models/survey_answers.sql", FORMS_MODEL)
        .settings(|s| {
            // csat_q is mapped for survey f1 only, as a key "f1/csat_q" does; a mapping of
            // another survey's csat_q must not read f1's answers.
            let csat = MappedQuestion { survey_id: Some("f1".into()), ..mapped("csat_q", "csat", [1, 7], [1, 5]) };
            let elsewhere = MappedQuestion { survey_id: Some("f9".into()), ..mapped("csat_q", "ces", [1, 7], [1, 7]) };
            s.survey_questions = vec![mapped("nps_q", "nps", [0, 10], [0, 10]), csat, elsewhere];
        })
        .engine(name)
        .await
}

#[tokio::test]
async fn mapped_answers_become_surveys_matched_by_email() {
    let engine = forms_engine("survey-mapping-rows").await;
    assert!(engine.warnings().is_empty(), "{:?}", engine.warnings());
    let rows = query(
        &engine,
        "SELECT response_key, respondent_kind, respondent_key, survey, score, scale_min, scale_max, touchpoint, channel, ticket_key
         FROM tx.surveys ORDER BY response_key",
    )
    .await;
    let compact: Vec<String> = rows
        .iter()
        .map(|r| {
            let get = |k: &str| r.get(k).map(|v| v.to_string().replace('"', "")).unwrap_or_else(|| "∅".into());
            ["response_key", "respondent_key", "survey", "score", "scale_min", "scale_max", "touchpoint", "channel"]
                .map(get)
                .join(" ")
        })
        .collect();
    assert_eq!(
        compact,
        [
            "forms:r1:csat_q fx:1 csat 5 1 5 onboarding web",
            "forms:r1:nps_q fx:1 nps 10 0 10 onboarding web",
            "forms:r2:csat_q fx:2 csat 3 1 5 web_form web",
            "forms:r2:nps_q fx:2 nps 3 0 10 web_form web",
            "forms:r3:nps_q ∅ nps 8 0 10 web_form web",
        ]
    );
    assert!(rows.iter().all(|r| r["respondent_kind"] == "customer" && r.get("ticket_key").is_none()));
}

#[tokio::test]
async fn nps_by_segment_and_coverage_count_every_answer() {
    let engine = forms_engine("survey-mapping-metrics").await;
    let overall = metric(&engine, "nps", MetricRequest::default()).await;
    assert_close(&overall[0], "nps", 0.0);
    assert_eq!(overall[0]["responses"], 3);
    let by_segment =
        metric(&engine, "nps", MetricRequest { group_by: vec!["segment".into()], ..Default::default() }).await;
    let nps = |segment: Value| {
        by_segment.iter().find(|r| r.get("segment").cloned().unwrap_or(Value::Null) == segment).unwrap()
    };
    assert_close(nps(json!("smb")), "nps", 100.0);
    assert_close(nps(json!("enterprise")), "nps", -100.0);
    assert_close(nps(Value::Null), "nps", 0.0);

    // nps: 3 answers kept, 2 matched, r3 unmatched, r4 (11) and r5 ("n/a") out of scale;
    // csat: 2 answers, both matched.
    let coverage = metric(
        &engine,
        "survey_coverage",
        MetricRequest { group_by: vec!["source".into(), "survey".into()], ..Default::default() },
    )
    .await;
    let nps = coverage.iter().find(|r| r["survey"] == "nps").unwrap();
    assert_eq!(
        (&nps["source"], &nps["answers"], &nps["matched"], &nps["unmatched"], &nps["out_of_scale"]),
        (&json!("forms"), &json!(3), &json!(2), &json!(1), &json!(2))
    );
    assert_close(nps, "matched_share", 200.0 / 3.0);
    let csat = coverage.iter().find(|r| r["survey"] == "csat").unwrap();
    assert_eq!((&csat["answers"], &csat["matched"], &csat["out_of_scale"]), (&json!(2), &json!(2), &json!(0)));
}

/// A file of eNPS answers: one row per response, a column per field. Five employees answer
/// 10, 9, 8, 5, 0 (promoters 2, passives 1, detractors 2 → eNPS 0), matched by e-mail; a
/// sixth row's e-mail matches nobody and its answer (10) counts overall only.
#[tokio::test]
async fn a_wide_file_of_answers_is_unpivoted_and_mapped() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("_file", DataType::Utf8, true),
        Field::new("_row", DataType::Int64, true),
        Field::new("email", DataType::Utf8, true),
        Field::new("score", DataType::Int64, true),
        Field::new("submitted", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
    ]));
    let mut rows: Vec<Value> = [(11, 10), (12, 9), (13, 8), (14, 5), (15, 0)]
        .iter()
        .enumerate()
        .map(|(i, (id, score))| {
            json!({"_file": "enps.csv", "_row": i + 1, "email": format!("employee{id}@example.com"), "score": score, "submitted": "2025-03-10T10:00:00Z"})
        })
        .collect();
    rows.push(json!({"_file": "enps.csv", "_row": 6, "email": "temp@example.com", "score": 10, "submitted": "2025-03-11T10:00:00Z"}));
    let engine = Fixture::new()
        .rows("employees", (11..=15).map(employee).collect())
        .table("files", "hr", "enps", schema, rows)
        .settings(|s| {
            s.survey_questions = vec![MappedQuestion {
                source: "hr".into(),
                field: "score".into(),
                survey: "enps".into(),
                respondent_kind: "employee".into(),
                scale: [0, 10],
                target_scale: [0, 10],
                respondent_field: "email".into(),
                touchpoint_value: Some("employee_pulse".into()),
                ..Default::default()
            }];
            s.wide_survey_sources = vec![WideSurveySource {
                connection: "hr".into(),
                stream: "enps".into(),
                response_id: None,
                answered_at: "submitted".into(),
                fields: vec!["score".into(), "email".into()],
            }];
        })
        .engine("survey-mapping-wide")
        .await;
    let keys = query(&engine, "SELECT response_key, respondent_key FROM tx.surveys ORDER BY response_key").await;
    assert_eq!(keys.len(), 6);
    assert_eq!(keys[0]["response_key"], "hr:enps.csv:1:score");
    assert_eq!(keys[0]["respondent_key"], "fx:11");
    assert!(keys[5].get("respondent_key").is_none(), "temp@ matches nobody: {:?}", keys[5]);
    let by_team = metric(&engine, "enps", MetricRequest { group_by: vec!["team".into()], ..Default::default() }).await;
    let team = by_team.iter().find(|r| r["team"] == "Team A").unwrap();
    assert_close(team, "enps", 0.0);
    assert_eq!(team["responses"], 5);
}

#[tokio::test]
async fn a_wide_source_naming_a_missing_column_says_which() {
    let schema = Arc::new(Schema::new(vec![Field::new("email", DataType::Utf8, true)]));
    let lake_rows = vec![json!({"email": "a@example.com"})];
    let fixture = Fixture::new().table("files", "hr", "enps", schema, lake_rows).settings(|s| {
        s.wide_survey_sources = vec![WideSurveySource {
            connection: "hr".into(),
            stream: "enps".into(),
            response_id: Some("id".into()),
            answered_at: "submitted".into(),
            fields: vec!["score".into()],
        }];
    });
    let message =
        fixture.try_engine("survey-mapping-missing").await.expect_err("the engine refuses the mapping").to_string();
    assert!(message.contains("connections.hr.survey_mapping.response_id") && message.contains("email"), "{message}");
}
