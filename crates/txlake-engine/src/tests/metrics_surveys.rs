//! Metric tests (surveys): each expected number is worked out by hand from the fixture in the test.
//!
//! The customer fixtures share four customers:
//!
//! | id | segment    | country | acquisition_channel | support_team |
//! |----|------------|---------|---------------------|--------------|
//! | 1  | smb        | DE      | referral            | Support 01   |
//! | 2  | smb        | FR      | paid_search         | Support 01   |
//! | 3  | enterprise | DE      | referral            | Support 02   |
//! | 4  | enterprise | US      | content             | Support 02   |
//!
//! Every fixture also holds answers of other surveys (and an employee answer with a customer's
//! id) that the metric must ignore.

use serde_json::{Map, Value, json};

use super::fixture::*;
use crate::*;

fn customer(id: i64, segment: &str, country: &str, acquisition: &str, team: &str) -> Value {
    json!({
        "id": id, "email": format!("customer{id}@example.com"), "name": format!("Customer {id}"),
        "segment": segment, "country": country, "acquisition_channel": acquisition,
        "lifecycle_stage": "customer", "support_team": team,
        "created_at": "2024-12-01T09:00:00Z", "became_customer_at": "2024-12-10T09:00:00Z",
        "updated_at": "2024-12-10T09:00:00Z",
    })
}

fn customers() -> Vec<Value> {
    vec![
        customer(1, "smb", "DE", "referral", "Support 01"),
        customer(2, "smb", "FR", "paid_search", "Support 01"),
        customer(3, "enterprise", "DE", "referral", "Support 02"),
        customer(4, "enterprise", "US", "content", "Support 02"),
    ]
}

fn employee(id: i64, team: &str, role: &str) -> Value {
    json!({
        "id": id, "email": format!("employee{id}@example.com"), "name": format!("Employee {id}"),
        "department": "Support", "team": team, "role": role,
        "hired_at": "2024-01-01T00:00:00Z", "annual_cost": 46000.0, "currency": "USD",
        "updated_at": "2024-01-01T00:00:00Z",
    })
}

/// One `survey_responses` row on the survey's usual scale (NPS/eNPS 0–10, CSAT 1–5, CES 1–7),
/// answered at 10:00 UTC on `day`; eNPS answers come from employees, the others from customers.
fn answer(id: i64, respondent: i64, survey: &str, score: i32, touchpoint: &str, channel: &str, day: &str) -> Value {
    let (scale_min, scale_max) = match survey {
        "nps" | "enps" => (0, 10),
        "csat" => (1, 5),
        "ces" => (1, 7),
        other => panic!("no default scale for `{other}`"),
    };
    let kind = if survey == "enps" { "employee" } else { "customer" };
    json!({
        "id": id, "respondent_kind": kind, "respondent_id": respondent, "survey": survey, "score": score,
        "scale_min": scale_min, "scale_max": scale_max, "touchpoint": touchpoint, "channel": channel,
        "answered_at": format!("{day}T10:00:00Z"),
    })
}

/// The row whose columns equal the given values; panics naming what is there.
#[track_caller]
fn row<'a>(rows: &'a [Map<String, Value>], keys: &[(&str, &str)]) -> &'a Map<String, Value> {
    rows.iter()
        .find(|r| keys.iter().all(|(k, v)| r.get(*k).and_then(Value::as_str) == Some(*v)))
        .unwrap_or_else(|| panic!("no row {keys:?} in {rows:?}"))
}

fn count(row: &Map<String, Value>, column: &str) -> i64 {
    row.get(column).and_then(Value::as_i64).unwrap_or_else(|| panic!("no integer `{column}` in {row:?}"))
}

fn is_null(row: &Map<String, Value>, column: &str) -> bool {
    row.get(column).is_none_or(Value::is_null)
}

fn by(dimensions: &[&str]) -> MetricRequest {
    MetricRequest { group_by: dimensions.iter().map(|d| d.to_string()).collect(), ..Default::default() }
}

fn filtered(dimensions: &[&str], filters: &[(&str, &str)]) -> MetricRequest {
    MetricRequest {
        filters: filters.iter().map(|(k, v)| (k.to_string(), vec![v.to_string()])).collect(),
        ..by(dimensions)
    }
}

/// NPS answers (touchpoint product_usage, channel email):
///
/// | id | customer | segment    | score | class | answered   |
/// |----|----------|------------|-------|-------|------------|
/// | 1  | 1        | smb        | 10    | P     | 2025-01-10 |
/// | 2  | 1        | smb        | 9     | P     | 2025-04-10 |
/// | 3  | 2        | smb        | 7     | Pa    | 2025-01-12 |
/// | 4  | 2        | smb        | 3     | D     | 2025-04-12 |
/// | 5  | 2        | smb        | 6     | D     | 2025-07-12 |
/// | 6  | 3        | enterprise | 10    | P     | 2025-01-15 |
/// | 7  | 3        | enterprise | 9     | P     | 2025-04-15 |
/// | 8  | 3        | enterprise | 8     | Pa    | 2025-07-15 |
/// | 9  | 4        | enterprise | 0     | D     | 2025-01-20 |
/// | 10 | 4        | enterprise | 10    | P     | 2025-04-20 |
/// | 11 | 4        | enterprise | 9     | P     | 2025-07-20 |
/// | 12 | 4        | enterprise | 5     | D     | 2025-07-21 |
///
/// plus a CSAT answer (13) and an employee eNPS answer from respondent 1 (14), both ignored.
#[tokio::test]
async fn nps_counts_promoters_and_detractors_with_a_95_percent_interval() {
    let engine = Fixture::new()
        .rows("customers", customers())
        .rows(
            "survey_responses",
            vec![
                answer(1, 1, "nps", 10, "product_usage", "email", "2025-01-10"),
                answer(2, 1, "nps", 9, "product_usage", "email", "2025-04-10"),
                answer(3, 2, "nps", 7, "product_usage", "email", "2025-01-12"),
                answer(4, 2, "nps", 3, "product_usage", "email", "2025-04-12"),
                answer(5, 2, "nps", 6, "product_usage", "email", "2025-07-12"),
                answer(6, 3, "nps", 10, "product_usage", "email", "2025-01-15"),
                answer(7, 3, "nps", 9, "product_usage", "email", "2025-04-15"),
                answer(8, 3, "nps", 8, "product_usage", "email", "2025-07-15"),
                answer(9, 4, "nps", 0, "product_usage", "email", "2025-01-20"),
                answer(10, 4, "nps", 10, "product_usage", "email", "2025-04-20"),
                answer(11, 4, "nps", 9, "product_usage", "email", "2025-07-20"),
                answer(12, 4, "nps", 5, "product_usage", "email", "2025-07-21"),
                answer(13, 1, "csat", 5, "support_ticket", "email", "2025-01-10"),
                answer(14, 1, "enps", 10, "employee_pulse", "web", "2025-01-10"),
            ],
        )
        .engine("metrics-surveys-nps")
        .await;

    // All: 6 promoters (1, 2, 6, 7, 10, 11), 2 passives (3, 8), 4 detractors (4, 5, 9, 12) of 12.
    // NPS = 100·(6 − 4)/12 = 16.667. p = 6/12 = 0.5, q = 4/12 = 0.3333;
    // var = (0.5 + 0.3333 − (0.1667)²)/12 = (0.83333 − 0.02778)/12 = 0.80556/12 = 0.067130;
    // √var = 0.259094; margin = 196·0.259094 = 50.782 → interval 16.667 ∓ 50.782 = [−34.116, 67.449].
    // Scores sum to 10+9+7+3+6+10+9+8+0+10+9+5 = 86 → mean 86/12 = 7.1667.
    let all = metric(&engine, "nps", MetricRequest::default()).await;
    assert_eq!(all.len(), 1);
    let all = &all[0];
    assert_eq!(
        (count(all, "responses"), count(all, "promoters"), count(all, "passives"), count(all, "detractors")),
        (12, 6, 2, 4)
    );
    assert_close(all, "nps", 16.6667);
    assert_close(all, "nps_margin", 50.7824);
    assert_close(all, "nps_ci_low", -34.1157);
    assert_close(all, "nps_ci_high", 67.4491);
    assert_close(all, "promoter_share", 50.0);
    assert_close(all, "detractor_share", 33.3333);
    assert_close(all, "mean_score", 7.1667);

    // smb (ids 1–5): 2 P, 1 Pa, 2 D of 5 → NPS 0; p = q = 0.4, var = (0.8 − 0)/5 = 0.16,
    //   √var = 0.4, margin = 196·0.4 = 78.4 → [−78.4, 78.4].
    // enterprise (ids 6–12): 4 P, 1 Pa, 2 D of 7 → 100·2/7 = 28.571; p = 4/7, q = 2/7,
    //   var = (6/7 − (2/7)²)/7 = (0.857143 − 0.081633)/7 = 0.110787, √ = 0.332847,
    //   margin = 65.238 → [−36.667, 93.810].
    // Overall 16.667 is not the mean of the segments ((0 + 28.571)/2 = 14.286): sums re-aggregate.
    let segments = metric(&engine, "nps", by(&["segment"])).await;
    assert_eq!(segments.len(), 2);
    let smb = row(&segments, &[("segment", "smb")]);
    assert_eq!(count(smb, "responses"), 5);
    assert_close(smb, "nps", 0.0);
    assert_close(smb, "nps_ci_low", -78.4);
    assert_close(smb, "nps_ci_high", 78.4);
    let enterprise = row(&segments, &[("segment", "enterprise")]);
    assert_eq!(count(enterprise, "responses"), 7);
    assert_close(enterprise, "nps", 28.5714);
    assert_close(enterprise, "nps_margin", 65.2380);
    assert_close(enterprise, "nps_ci_low", -36.6666);
    assert_close(enterprise, "nps_ci_high", 93.8095);

    // Filter country = FR (customer 2: ids 3, 4, 5 = 7, 3, 6): 0 P, 1 Pa, 2 D of 3 → −66.667;
    // p = 0, q = 2/3, var = (2/3 − 4/9)/3 = (2/9)/3 = 0.074074, √ = 0.272166, margin = 53.344;
    // −66.667 − 53.344 = −120.011 is clipped to −100; high = −66.667 + 53.344 = −13.322.
    let france = metric(&engine, "nps", filtered(&[], &[("country", "FR")])).await;
    assert_eq!(france.len(), 1);
    assert_eq!(count(&france[0], "responses"), 3);
    assert_close(&france[0], "nps", -66.6667);
    assert_close(&france[0], "nps_margin", 53.3444);
    assert_close(&france[0], "nps_ci_low", -100.0);
    assert_close(&france[0], "nps_ci_high", -13.3222);

    // By quarter: Q1 = ids 1, 3, 6, 9 (10, 7, 10, 0) → 2 P, 1 D of 4 → +25;
    // Q2 = ids 2, 4, 7, 10 (9, 3, 9, 10) → 3 P, 1 D of 4 → +50;
    // Q3 = ids 5, 8, 11, 12 (6, 8, 9, 5) → 1 P, 2 D of 4 → −25.
    let quarters = metric(&engine, "nps", MetricRequest { grain: Some(Grain::Quarter), ..Default::default() }).await;
    let values: Vec<f64> = quarters.iter().map(|r| r["nps"].as_f64().unwrap()).collect();
    assert_eq!(values, [25.0, 50.0, -25.0]);

    // From April on, support team Support 02 (customers 3, 4): ids 7, 8, 10, 11, 12
    // (9, 8, 10, 9, 5) → 3 P, 1 Pa, 1 D of 5 → 100·2/5 = +40.
    let request = MetricRequest { from: Some("2025-04-01".into()), ..filtered(&[], &[("support_team", "Support 02")]) };
    let late = metric(&engine, "nps", request).await;
    assert_eq!(count(&late[0], "responses"), 5);
    assert_close(&late[0], "nps", 40.0);
}

/// Employees of department Support answering one eNPS campaign (touchpoint employee_pulse):
///
/// | id | team       | role              | score | class |
/// |----|------------|-------------------|-------|-------|
/// | 1  | Support 01 | Support Team Lead | 10    | P     |
/// | 2  | Support 01 | Support Agent     | 9     | P     |
/// | 3  | Support 01 | Support Agent     | 6     | D     |
/// | 4  | Support 01 | Support Agent     | 8     | Pa    |
/// | 5  | Support 02 | Support Team Lead | 10    | P     |
/// | 6  | Support 02 | Support Agent     | 9     | P     |
/// | 7  | Support 02 | Support Agent     | 9     | P     |
/// | 8  | Support 02 | Support Agent     | 7     | Pa    |
/// | 9  | Support 02 | Support Agent     | 3     | D     |
///
/// plus a customer NPS answer from respondent id 1 (answer 10), which is not an eNPS answer.
#[tokio::test]
async fn enps_has_an_interval_and_hides_groups_under_five_respondents() {
    let employees = vec![
        employee(1, "Support 01", "Support Team Lead"),
        employee(2, "Support 01", "Support Agent"),
        employee(3, "Support 01", "Support Agent"),
        employee(4, "Support 01", "Support Agent"),
        employee(5, "Support 02", "Support Team Lead"),
        employee(6, "Support 02", "Support Agent"),
        employee(7, "Support 02", "Support Agent"),
        employee(8, "Support 02", "Support Agent"),
        employee(9, "Support 02", "Support Agent"),
    ];
    let scores = [10, 9, 6, 8, 10, 9, 9, 7, 3];
    let mut answers: Vec<Value> = (1..=9)
        .map(|id| answer(id, id, "enps", scores[id as usize - 1], "employee_pulse", "web", "2025-02-16"))
        .collect();
    answers.push(answer(10, 1, "nps", 0, "product_usage", "email", "2025-02-16"));
    let engine = Fixture::new()
        .rows("employees", employees)
        .rows("customers", customers())
        .rows("survey_responses", answers)
        .engine("metrics-surveys-enps")
        .await;

    // Department Support, all 9: P = 1, 2, 5, 6, 7 (5); Pa = 4, 8 (2); D = 3, 9 (2).
    // eNPS = 100·(5 − 2)/9 = 33.333; p = 5/9, q = 2/9; var = (7/9 − (3/9)²)/9 = (0.777778 −
    // 0.111111)/9 = 0.074074; √ = 0.272166; margin = 196·0.272166 = 53.344 → [−20.011, 86.678].
    let department = metric(&engine, "enps", by(&["department"])).await;
    assert_eq!(department.len(), 1);
    let support = row(&department, &[("department", "Support")]);
    assert_eq!(count(support, "responses"), 9);
    assert_close(support, "enps", 33.3333);
    assert_close(support, "enps_margin", 53.3444);
    assert_close(support, "enps_ci_low", -20.0111);
    assert_close(support, "enps_ci_high", 86.6778);
    assert_close(support, "mean_score", 71.0 / 9.0); // (10+9+6+8+10+9+9+7+3)/9 = 71/9 = 7.889

    // By team: Support 01 has 4 respondents → suppressed (4 < min_group 5).
    // Support 02 has 5: 3 P (5, 6, 7), 1 Pa (8), 1 D (9) → 100·2/5 = 40; p = 0.6, q = 0.2,
    // var = (0.8 − 0.16)/5 = 0.128, √ = 0.357771, margin = 70.123 → [−30.123, 110.123],
    // whose top is clipped to 100.
    let teams = metric(&engine, "enps", by(&["team"])).await;
    assert_eq!(teams.len(), 1, "{teams:?}");
    let team = row(&teams, &[("team", "Support 02")]);
    assert_eq!(count(team, "responses"), 5);
    assert_close(team, "enps", 40.0);
    assert_close(team, "enps_margin", 70.1231);
    assert_close(team, "enps_ci_low", -30.1231);
    assert_close(team, "enps_ci_high", 100.0);

    // Filtering to Support 01 alone is suppressed too; so are the 2 team leads by role,
    // while the 7 agents are shown: P = 2, 6, 7 (3); Pa = 4, 8 (2); D = 3, 9 (2) → 100·1/7 = 14.286;
    // p = 3/7, q = 2/7, var = (5/7 − (1/7)²)/7 = (0.714286 − 0.020408)/7 = 0.099125,
    // √ = 0.314842, margin = 61.709 → [−47.423, 75.995].
    assert!(metric(&engine, "enps", filtered(&[], &[("team", "Support 01")])).await.is_empty());
    let roles = metric(&engine, "enps", by(&["role"])).await;
    assert_eq!(roles.len(), 1, "{roles:?}");
    let agents = row(&roles, &[("role", "Support Agent")]);
    assert_eq!(count(agents, "responses"), 7);
    assert_close(agents, "enps", 14.2857);
    assert_close(agents, "enps_ci_low", -47.4233);
    assert_close(agents, "enps_ci_high", 75.9947);
}

/// Anonymity counts people, not answers: Support 01's four employees answer two campaigns
/// (February and May), 8 answers from 4 people. Grouped by team over both campaigns, the team
/// still has only 4 distinct respondents (< 5), so it stays hidden; Support 02's five are shown
/// (10 answers, 5 respondents).
#[tokio::test]
async fn enps_suppression_counts_distinct_respondents_across_campaigns() {
    let employees: Vec<Value> =
        (1..=9).map(|id| employee(id, if id <= 4 { "Support 01" } else { "Support 02" }, "Support Agent")).collect();
    let mut answers = Vec::new();
    for (campaign, day) in ["2025-02-16", "2025-05-16"].iter().enumerate() {
        for id in 1..=9_i64 {
            answers.push(answer(campaign as i64 * 100 + id, id, "enps", 9, "employee_pulse", "web", day));
        }
    }
    let engine = Fixture::new()
        .rows("employees", employees)
        .rows("customers", customers())
        .rows("survey_responses", answers)
        .engine("metrics-surveys-enps-distinct")
        .await;
    let teams = metric(&engine, "enps", by(&["team"])).await;
    assert_eq!(teams.len(), 1, "{teams:?}");
    let team = row(&teams, &[("team", "Support 02")]);
    assert_eq!(count(team, "responses"), 10);
    assert_eq!(count(team, "respondents"), 5);
    assert_close(team, "enps", 100.0);
}

/// CSAT answers (1–5):
///
/// | id | customer | segment    | score | touchpoint         | channel    |
/// |----|----------|------------|-------|--------------------|------------|
/// | 1  | 1        | smb        | 5     | support_ticket     | email      |
/// | 2  | 1        | smb        | 4     | support_ticket     | chat       |
/// | 3  | 2        | smb        | 2     | support_ticket     | email      |
/// | 4  | 2        | smb        | 3     | onboarding_session | video_call |
/// | 5  | 3        | enterprise | 5     | onboarding_session | video_call |
/// | 6  | 3        | enterprise | 4     | support_ticket     | chat       |
/// | 7  | 3        | enterprise | 1     | support_ticket     | email      |
/// | 8  | 4        | enterprise | 4     | support_ticket     | email      |
/// | 9  | 4        | enterprise | 5     | onboarding_session | video_call |
/// | 10 | 4        | enterprise | 3     | support_ticket     | chat       |
///
/// plus a CES (11) and an NPS (12) answer, ignored.
#[tokio::test]
async fn csat_is_the_top_two_box_share_and_the_mean() {
    let rows = [
        (1, 1, 5, "support_ticket", "email"),
        (2, 1, 4, "support_ticket", "chat"),
        (3, 2, 2, "support_ticket", "email"),
        (4, 2, 3, "onboarding_session", "video_call"),
        (5, 3, 5, "onboarding_session", "video_call"),
        (6, 3, 4, "support_ticket", "chat"),
        (7, 3, 1, "support_ticket", "email"),
        (8, 4, 4, "support_ticket", "email"),
        (9, 4, 5, "onboarding_session", "video_call"),
        (10, 4, 3, "support_ticket", "chat"),
    ];
    let mut answers: Vec<Value> =
        rows.iter().map(|&(id, c, score, tp, ch)| answer(id, c, "csat", score, tp, ch, "2025-03-01")).collect();
    answers.push(answer(11, 1, "ces", 2, "support_ticket", "email", "2025-03-01"));
    answers.push(answer(12, 1, "nps", 10, "product_usage", "email", "2025-03-01"));
    let engine = Fixture::new()
        .rows("customers", customers())
        .rows("survey_responses", answers)
        .engine("metrics-surveys-csat")
        .await;

    // All 10: satisfied (4–5) = ids 1, 2, 5, 6, 8, 9 → 6/10 = 60%;
    // scores 5+4+2+3+5+4+1+4+5+3 = 36 → mean 3.6.
    let all = metric(&engine, "csat", MetricRequest::default()).await;
    assert_eq!((count(&all[0], "responses"), count(&all[0], "satisfied")), (10, 6));
    assert_close(&all[0], "csat", 60.0);
    assert_close(&all[0], "csat_mean", 3.6);

    // support_ticket: ids 1, 2, 3, 6, 7, 8, 10 = 5, 4, 2, 4, 1, 4, 3 → satisfied 1, 2, 6, 8 = 4/7
    //   = 57.143%, mean 23/7 = 3.2857.
    // onboarding_session: ids 4, 5, 9 = 3, 5, 5 → 2/3 = 66.667%, mean 13/3 = 4.3333.
    let touchpoints = metric(&engine, "csat", by(&["touchpoint"])).await;
    assert_eq!(touchpoints.len(), 2);
    let ticket = row(&touchpoints, &[("touchpoint", "support_ticket")]);
    assert_eq!(count(ticket, "responses"), 7);
    assert_close(ticket, "csat", 57.1429);
    assert_close(ticket, "csat_mean", 3.2857);
    let onboarding = row(&touchpoints, &[("touchpoint", "onboarding_session")]);
    assert_close(onboarding, "csat", 66.6667);
    assert_close(onboarding, "csat_mean", 4.3333);

    // Enterprise by email: ids 7, 8 = 1, 4 → 1/2 = 50%, mean 2.5.
    let request = filtered(&["segment", "channel"], &[("segment", "enterprise"), ("channel", "email")]);
    let enterprise_email = metric(&engine, "csat", request).await;
    assert_eq!(enterprise_email.len(), 1);
    assert_eq!(count(&enterprise_email[0], "responses"), 2);
    assert_close(&enterprise_email[0], "csat", 50.0);
    assert_close(&enterprise_email[0], "csat_mean", 2.5);
}

/// CES answers (1–7, 1 = very easy):
///
/// | id | customer | segment    | score | touchpoint      | answered   |
/// |----|----------|------------|-------|-----------------|------------|
/// | 1  | 1        | smb        | 1     | contract_signed | 2025-01-05 |
/// | 2  | 1        | smb        | 2     | support_ticket  | 2025-01-06 |
/// | 3  | 2        | smb        | 5     | support_ticket  | 2025-01-07 |
/// | 4  | 2        | smb        | 3     | contract_signed | 2025-01-08 |
/// | 5  | 3        | enterprise | 7     | support_ticket  | 2025-01-09 |
/// | 6  | 3        | enterprise | 2     | contract_signed | 2025-02-05 |
/// | 7  | 4        | enterprise | 1     | support_ticket  | 2025-02-06 |
/// | 8  | 4        | enterprise | 4     | support_ticket  | 2025-02-07 |
/// | 9  | 4        | enterprise | 6     | contract_signed | 2025-02-08 |
/// | 10 | 1        | smb        | 2     | support_ticket  | 2025-02-09 |
///
/// plus a CSAT answer (11), ignored.
#[tokio::test]
async fn ces_is_the_mean_effort_and_the_low_effort_share() {
    let rows = [
        (1, 1, 1, "contract_signed", "2025-01-05"),
        (2, 1, 2, "support_ticket", "2025-01-06"),
        (3, 2, 5, "support_ticket", "2025-01-07"),
        (4, 2, 3, "contract_signed", "2025-01-08"),
        (5, 3, 7, "support_ticket", "2025-01-09"),
        (6, 3, 2, "contract_signed", "2025-02-05"),
        (7, 4, 1, "support_ticket", "2025-02-06"),
        (8, 4, 4, "support_ticket", "2025-02-07"),
        (9, 4, 6, "contract_signed", "2025-02-08"),
        (10, 1, 2, "support_ticket", "2025-02-09"),
    ];
    let mut answers: Vec<Value> =
        rows.iter().map(|&(id, c, score, tp, day)| answer(id, c, "ces", score, tp, "email", day)).collect();
    answers.push(answer(11, 1, "csat", 1, "support_ticket", "email", "2025-01-05"));
    let engine = Fixture::new()
        .rows("customers", customers())
        .rows("survey_responses", answers)
        .engine("metrics-surveys-ces")
        .await;

    // All 10: 1+2+5+3+7+2+1+4+6+2 = 33 → CES 3.3; low effort (1–2) = ids 1, 2, 6, 7, 10 → 5/10 = 50%.
    let all = metric(&engine, "ces", MetricRequest::default()).await;
    assert_eq!((count(&all[0], "responses"), count(&all[0], "effort_sum"), count(&all[0], "low_effort")), (10, 33, 5));
    assert_close(&all[0], "ces", 3.3);
    assert_close(&all[0], "low_effort_share", 50.0);

    // smb (ids 1, 2, 3, 4, 10 = 1, 2, 5, 3, 2): 13/5 = 2.6, low 1, 2, 10 → 3/5 = 60%.
    // enterprise (ids 5–9 = 7, 2, 1, 4, 6): 20/5 = 4.0, low 6, 7 → 2/5 = 40%.
    let segments = metric(&engine, "ces", by(&["segment"])).await;
    assert_close(row(&segments, &[("segment", "smb")]), "ces", 2.6);
    assert_close(row(&segments, &[("segment", "smb")]), "low_effort_share", 60.0);
    assert_close(row(&segments, &[("segment", "enterprise")]), "ces", 4.0);
    assert_close(row(&segments, &[("segment", "enterprise")]), "low_effort_share", 40.0);

    // support_ticket only: ids 2, 3, 5, 7, 8, 10 = 2, 5, 7, 1, 4, 2 → 21/6 = 3.5; low 2, 7, 10 → 50%.
    let tickets = metric(&engine, "ces", filtered(&[], &[("touchpoint", "support_ticket")])).await;
    assert_eq!(count(&tickets[0], "responses"), 6);
    assert_close(&tickets[0], "ces", 3.5);
    assert_close(&tickets[0], "low_effort_share", 50.0);

    // February (from 2025-02-01): ids 6–10 = 2, 1, 4, 6, 2 → 15/5 = 3.0; low 6, 7, 10 → 60%.
    let february =
        metric(&engine, "ces", MetricRequest { from: Some("2025-02-01".into()), ..Default::default() }).await;
    assert_eq!(count(&february[0], "responses"), 5);
    assert_close(&february[0], "ces", 3.0);
    assert_close(&february[0], "low_effort_share", 60.0);
}

/// Satisfaction answers normalised to 0–100, 100·(score − min)/(max − min):
///
/// | id | customer | segment    | survey | score | scale | normalised | touchpoint         |
/// |----|----------|------------|--------|-------|-------|------------|--------------------|
/// | 1  | 1        | smb        | csat   | 5     | 1–5   | 100        | support_ticket     |
/// | 2  | 1        | smb        | csat   | 3     | 1–5   | 50         | support_ticket     |
/// | 3  | 2        | smb        | csat   | 4     | 1–5   | 75         | onboarding_session |
/// | 4  | 3        | enterprise | csat   | 2     | 1–5   | 25         | support_ticket     |
/// | 5  | 3        | enterprise | csat   | 1     | 1–5   | 0          | onboarding_session |
/// | 6  | 4        | enterprise | csi    | 8     | 0–10  | 80         | product_usage      |
/// | 7  | 4        | enterprise | csat   | 5     | 1–5   | 100        | onboarding_session |
///
/// plus an NPS (8) and a CES (9) answer, ignored.
#[tokio::test]
async fn csi_weights_normalised_answers_by_touchpoint() {
    let mut csi_answer = answer(6, 4, "nps", 8, "product_usage", "web", "2025-03-02");
    csi_answer["survey"] = json!("csi");
    let answers = vec![
        answer(1, 1, "csat", 5, "support_ticket", "email", "2025-03-01"),
        answer(2, 1, "csat", 3, "support_ticket", "chat", "2025-03-01"),
        answer(3, 2, "csat", 4, "onboarding_session", "video_call", "2025-03-01"),
        answer(4, 3, "csat", 2, "support_ticket", "email", "2025-03-02"),
        answer(5, 3, "csat", 1, "onboarding_session", "video_call", "2025-03-02"),
        csi_answer,
        answer(7, 4, "csat", 5, "onboarding_session", "video_call", "2025-03-02"),
        answer(8, 1, "nps", 0, "product_usage", "email", "2025-03-01"),
        answer(9, 1, "ces", 7, "support_ticket", "email", "2025-03-01"),
    ];
    let fixture = || Fixture::new().rows("customers", customers()).rows("survey_responses", answers.clone());

    // Default, every weight 1.0: (100 + 50 + 75 + 25 + 0 + 80 + 100)/7 = 430/7 = 61.429.
    let equal = fixture().engine("metrics-surveys-csi-equal").await;
    let all = metric(&equal, "csi", MetricRequest::default()).await;
    assert_eq!(count(&all[0], "responses"), 7);
    assert_close(&all[0], "weight", 7.0);
    assert_close(&all[0], "csi", 61.4286);
    assert_close(&all[0], "csi_unweighted", 61.4286);

    // support_ticket weighs 2.0: weights 2, 2, 1, 2, 1, 1, 1 = 10;
    // Σ weight·normalised = 200 + 100 + 75 + 50 + 0 + 80 + 100 = 605 → CSI = 605/10 = 60.5,
    // while the unweighted index stays 430/7 = 61.429.
    let weighted = fixture().csi_weight("support_ticket", 2.0).engine("metrics-surveys-csi-weighted").await;
    let all = metric(&weighted, "csi", MetricRequest::default()).await;
    assert_close(&all[0], "weight", 10.0);
    assert_close(&all[0], "weighted_score", 605.0);
    assert_close(&all[0], "csi", 60.5);
    assert_close(&all[0], "csi_unweighted", 61.4286);

    // By segment (weighted): smb = ids 1, 2, 3: (200 + 100 + 75)/(2 + 2 + 1) = 375/5 = 75;
    // enterprise = ids 4–7: (50 + 0 + 80 + 100)/(2 + 1 + 1 + 1) = 230/5 = 46.
    let segments = metric(&weighted, "csi", by(&["segment"])).await;
    assert_close(row(&segments, &[("segment", "smb")]), "csi", 75.0);
    assert_close(row(&segments, &[("segment", "enterprise")]), "csi", 46.0);
    // Unweighted, smb = (100 + 50 + 75)/3 = 75 and enterprise = (25 + 0 + 80 + 100)/4 = 51.25.
    assert_close(row(&segments, &[("segment", "enterprise")]), "csi_unweighted", 51.25);

    // Only the dedicated CSI question (survey = csi): id 6, 8 on 0–10 → 80.
    let csi_only = metric(&weighted, "csi", filtered(&[], &[("survey", "csi")])).await;
    assert_eq!(count(&csi_only[0], "responses"), 1);
    assert_close(&csi_only[0], "csi", 80.0);
}

/// Targets (touchpoint_targets stream):
///
/// | segment    | touchpoint     | metric | target |
/// |------------|----------------|--------|--------|
/// | smb        | support_ticket | csat   | 4.0    |
/// | smb        | support_ticket | ces    | 3.0    |
/// | smb        | product_usage  | nps    | 20     |
/// | enterprise | support_ticket | csat   | 4.4    |
/// | enterprise | support_ticket | ces    | 2.5    |
/// | enterprise | product_usage  | nps    | 40     |
///
/// Answers (actual value per answer: the score for csat/ces; +100 / 0 / −100 for an NPS
/// promoter / passive / detractor):
///
/// | id | customer | segment    | survey | score | actual | touchpoint         |
/// |----|----------|------------|--------|-------|--------|--------------------|
/// | 1  | 1        | smb        | csat   | 5     | 5      | support_ticket     |
/// | 2  | 2        | smb        | csat   | 4     | 4      | support_ticket     |
/// | 3  | 1        | smb        | csat   | 2     | 2      | support_ticket     |
/// | 4  | 3        | enterprise | csat   | 5     | 5      | support_ticket     |
/// | 5  | 4        | enterprise | csat   | 4     | 4      | support_ticket     |
/// | 6  | 1        | smb        | ces    | 2     | 2      | support_ticket     |
/// | 7  | 2        | smb        | ces    | 3     | 3      | support_ticket     |
/// | 8  | 3        | enterprise | ces    | 4     | 4      | support_ticket     |
/// | 9  | 4        | enterprise | ces    | 2     | 2      | support_ticket     |
/// | 10 | 1        | smb        | nps    | 10    | +100   | product_usage      |
/// | 11 | 2        | smb        | nps    | 6     | −100   | product_usage      |
/// | 12 | 3        | enterprise | nps    | 9     | +100   | product_usage      |
/// | 13 | 4        | enterprise | nps    | 10    | +100   | product_usage      |
/// | 14 | 4        | enterprise | nps    | 7     | 0      | product_usage      |
/// | 15 | 1        | smb        | csat   | 5     | —      | onboarding_session |
/// | 16 | 3        | enterprise | ces    | 1     | —      | contract_signed    |
///
/// 15 and 16 have no target and are left out.
#[tokio::test]
async fn touchpoint_scorecard_compares_actual_with_target() {
    let targets = [
        ("smb", "support_ticket", "csat", 4.0),
        ("smb", "support_ticket", "ces", 3.0),
        ("smb", "product_usage", "nps", 20.0),
        ("enterprise", "support_ticket", "csat", 4.4),
        ("enterprise", "support_ticket", "ces", 2.5),
        ("enterprise", "product_usage", "nps", 40.0),
    ];
    let targets: Vec<Value> = targets
        .iter()
        .enumerate()
        .map(|(i, (s, tp, m, t))| json!({"id": i + 1, "segment": s, "touchpoint": tp, "metric": m, "target": t}))
        .collect();
    let answers = vec![
        answer(1, 1, "csat", 5, "support_ticket", "email", "2025-03-01"),
        answer(2, 2, "csat", 4, "support_ticket", "chat", "2025-03-01"),
        answer(3, 1, "csat", 2, "support_ticket", "email", "2025-03-01"),
        answer(4, 3, "csat", 5, "support_ticket", "email", "2025-03-01"),
        answer(5, 4, "csat", 4, "support_ticket", "chat", "2025-03-01"),
        answer(6, 1, "ces", 2, "support_ticket", "email", "2025-03-01"),
        answer(7, 2, "ces", 3, "support_ticket", "chat", "2025-03-01"),
        answer(8, 3, "ces", 4, "support_ticket", "email", "2025-03-01"),
        answer(9, 4, "ces", 2, "support_ticket", "chat", "2025-03-01"),
        answer(10, 1, "nps", 10, "product_usage", "email", "2025-03-01"),
        answer(11, 2, "nps", 6, "product_usage", "email", "2025-03-01"),
        answer(12, 3, "nps", 9, "product_usage", "email", "2025-03-01"),
        answer(13, 4, "nps", 10, "product_usage", "email", "2025-03-01"),
        answer(14, 4, "nps", 7, "product_usage", "email", "2025-03-01"),
        answer(15, 1, "csat", 5, "onboarding_session", "video_call", "2025-03-01"),
        answer(16, 3, "ces", 1, "contract_signed", "email", "2025-03-01"),
    ];
    let engine = Fixture::new()
        .rows("customers", customers())
        .rows("touchpoint_targets", targets)
        .rows("survey_responses", answers)
        .engine("metrics-surveys-scorecard")
        .await;

    // Per segment × touchpoint × metric:
    // smb csat:        (5 + 4 + 2)/3 = 3.6667 vs 4.0 → gap −0.3333, better_by −0.3333, missed.
    // smb ces:         (2 + 3)/2 = 2.5 vs 3.0 → gap −0.5; lower is better → better_by +0.5, met.
    // smb nps:         (100 − 100)/2 = 0 vs 20 → gap −20, missed.
    // enterprise csat: (5 + 4)/2 = 4.5 vs 4.4 → gap +0.1, met.
    // enterprise ces:  (4 + 2)/2 = 3.0 vs 2.5 → gap +0.5, better_by −0.5, missed.
    // enterprise nps:  (100 + 100 + 0)/3 = 66.667 vs 40 → gap +26.667, met.
    let cells = metric(&engine, "touchpoint_scorecard", by(&["segment", "touchpoint", "metric"])).await;
    assert_eq!(cells.len(), 6, "{cells:?}");
    let expected = [
        ("smb", "support_ticket", "csat", 3, 3.6667, 4.0, -0.3333, -0.3333, false),
        ("smb", "support_ticket", "ces", 2, 2.5, 3.0, -0.5, 0.5, true),
        ("smb", "product_usage", "nps", 2, 0.0, 20.0, -20.0, -20.0, false),
        ("enterprise", "support_ticket", "csat", 2, 4.5, 4.4, 0.1, 0.1, true),
        ("enterprise", "support_ticket", "ces", 2, 3.0, 2.5, 0.5, -0.5, false),
        ("enterprise", "product_usage", "nps", 3, 66.6667, 40.0, 26.6667, 26.6667, true),
    ];
    for (segment, touchpoint, metric_name, responses, actual, target, gap, better_by, meets) in expected {
        let cell = row(&cells, &[("segment", segment), ("touchpoint", touchpoint), ("metric", metric_name)]);
        assert_eq!(count(cell, "responses"), responses, "{cell:?}");
        assert_close(cell, "actual", actual);
        assert_close(cell, "target", target);
        assert_close(cell, "gap", gap);
        assert_close(cell, "better_by", better_by);
        assert_eq!(cell["meets_target"], json!(meets), "{cell:?}");
    }

    // By metric, across segments (targets weighted by answers):
    // csat: (5+4+2+5+4)/5 = 4.0 vs (3·4.0 + 2·4.4)/5 = 20.8/5 = 4.16 → gap −0.16, missed.
    // ces:  (2+3+4+2)/4 = 2.75 vs (2·3.0 + 2·2.5)/4 = 11/4 = 2.75 → gap 0, met (equal counts).
    // nps:  (100 − 100 + 100 + 100 + 0)/5 = 40 vs (2·20 + 3·40)/5 = 160/5 = 32 → gap +8, met.
    let metrics = metric(&engine, "touchpoint_scorecard", by(&["metric"])).await;
    let csat = row(&metrics, &[("metric", "csat")]);
    assert_close(csat, "actual", 4.0);
    assert_close(csat, "target", 4.16);
    assert_close(csat, "gap", -0.16);
    assert_eq!(csat["meets_target"], json!(false));
    let ces = row(&metrics, &[("metric", "ces")]);
    assert_close(ces, "actual", 2.75);
    assert_close(ces, "target", 2.75);
    assert_close(ces, "gap", 0.0);
    assert_eq!(ces["meets_target"], json!(true));
    let nps = row(&metrics, &[("metric", "nps")]);
    assert_close(nps, "actual", 40.0);
    assert_close(nps, "target", 32.0);
    assert_eq!(nps["meets_target"], json!(true));

    // Filter metric = nps, no grouping: the same 40 vs 32 of 5 answers.
    let nps_only = metric(&engine, "touchpoint_scorecard", filtered(&[], &[("metric", "nps")])).await;
    assert_eq!(count(&nps_only[0], "responses"), 5);
    assert_close(&nps_only[0], "actual", 40.0);
    assert_close(&nps_only[0], "gap", 8.0);

    // Everything together mixes scales: 14 answers (5 csat, 4 ces, 5 nps) and no actual/target.
    let mixed = metric(&engine, "touchpoint_scorecard", MetricRequest::default()).await;
    assert_eq!(count(&mixed[0], "responses"), 14);
    assert_eq!(
        (count(&mixed[0], "csat_responses"), count(&mixed[0], "ces_responses"), count(&mixed[0], "nps_responses")),
        (5, 4, 5)
    );
    for column in ["actual", "target", "gap", "better_by", "meets_target"] {
        assert!(is_null(&mixed[0], column), "{column} in {:?}", mixed[0]);
    }
}
