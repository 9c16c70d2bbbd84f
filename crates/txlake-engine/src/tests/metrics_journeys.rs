//! Metric tests (journeys): each expected number is worked out by hand from the fixture in the test.
//!
//! `journey_funnel`, `journey_paths` and `time_to_stage` share one journey fixture (six
//! customers, every event at 10:00 UTC so days between events are whole):
//!
//! | customer | segment    | channel     | stages first reached (2025)                                                  |
//! |----------|------------|-------------|-------------------------------------------------------------------------------|
//! | 1        | smb        | paid_search | awareness 01-01, consideration 01-03, purchase 01-13, onboarding 01-15, usage 01-20, support 01-25 (usage again 01-27) |
//! | 2        | smb        | referral    | awareness 01-02, consideration 01-06, purchase 01-11                         |
//! | 3        | enterprise | paid_search | awareness 01-05, consideration 01-07 (and again 01-09)                       |
//! | 4        | enterprise | referral    | awareness 01-10                                                               |
//! | 5        | smb        | content     | awareness 02-01, consideration 02-05, purchase 02-15, onboarding 02-16, usage 02-20, renewal 02-25, support 03-01 |
//! | 6        | smb        | referral    | awareness 01-12                                                               |
//!
//! Customer 5 renews before its first ticket: renewal comes before support, out of stage order.
//! `cx_ex_link` and `tx_scorecard` have their own fixtures, described in their tests.

use serde_json::{Map, Value, json};

use super::fixture::*;
use crate::*;

/// `2025-01-05` → `2025-01-05T10:00:00Z`.
fn at(day: &str) -> String {
    format!("{day}T10:00:00Z")
}

/// `2025-01-05` → `2025-01-05T00:00:00Z` (hire and termination dates are midnights).
fn midnight(day: &str) -> String {
    format!("{day}T00:00:00Z")
}

/// A raw `customers` row.
fn customer(id: i64, segment: &str, channel: &str, team: &str, created: &str) -> Value {
    json!({
        "id": id, "email": format!("c{id}@example.com"), "name": format!("Customer {id}"),
        "segment": segment, "country": "DE", "acquisition_channel": channel,
        "lifecycle_stage": "lead", "support_team": team,
        "created_at": at(created), "updated_at": at(created),
    })
}

/// A customer that bought on `became` (and churned on `churned`, if given).
fn buyer(id: i64, segment: &str, team: &str, became: &str, churned: Option<&str>) -> Value {
    let mut row = customer(id, segment, "referral", team, became);
    row["lifecycle_stage"] = json!(if churned.is_some() { "churned" } else { "customer" });
    row["became_customer_at"] = json!(at(became));
    if let Some(churned) = churned {
        row["churned_at"] = json!(at(churned));
    }
    row
}

/// A raw `touchpoint_events` row.
fn event(id: i64, customer: i64, stage: &str, day: &str) -> Value {
    json!({
        "id": id, "customer_id": customer, "stage": stage, "touchpoint": stage,
        "channel": "web", "occurred_at": at(day),
    })
}

/// A raw `employees` row (hired at a midnight, `terminated` too).
fn employee(id: i64, team: &str, hired: &str, terminated: Option<&str>, annual_cost: f64) -> Value {
    let mut row = json!({
        "id": id, "email": format!("e{id}@example.com"), "name": format!("Employee {id}"),
        "department": "Support", "team": team, "role": "Support Agent",
        "hired_at": midnight(hired), "annual_cost": annual_cost, "currency": "USD",
        "updated_at": midnight(hired),
    });
    if let Some(terminated) = terminated {
        row["terminated_at"] = json!(midnight(terminated));
    }
    row
}

/// A raw `survey_responses` row; `respondent` is a customer id for nps/csat/ces, an employee id for enps.
fn answer(id: i64, respondent: i64, survey: &str, score: i32, day: &str, ticket: Option<i64>) -> Value {
    let (kind, min, max) = match survey {
        "enps" => ("employee", 0, 10),
        "nps" => ("customer", 0, 10),
        "csat" => ("customer", 1, 5),
        _ => ("customer", 1, 7),
    };
    json!({
        "id": id, "respondent_kind": kind, "respondent_id": respondent, "survey": survey,
        "score": score, "scale_min": min, "scale_max": max, "touchpoint": "support_ticket",
        "channel": "email", "ticket_id": ticket, "answered_at": at(day),
    })
}

/// A solved raw `tickets` row.
fn ticket(id: i64, customer: i64, assignee: i64, day: &str) -> Value {
    json!({
        "id": id, "customer_id": customer, "assignee_id": assignee, "channel": "email",
        "priority": "normal", "subject": "help", "status": "solved", "created_at": at(day),
        "first_response_at": at(day), "solved_at": at(day), "reopened": false, "updated_at": at(day),
    })
}

/// A raw `enrollments` row: `completed` gives the completion day, otherwise `status` stays as given.
fn enrollment(id: i64, employee: i64, course: i64, status: &str, completed: Option<&str>) -> Value {
    json!({
        "id": id, "employee_id": employee, "course_id": course, "status": status,
        "enrolled_at": at("2024-12-01"), "completed_at": completed.map(at),
        "score": completed.map(|_| 90.0), "updated_at": at(completed.unwrap_or("2024-12-01")),
    })
}

/// A raw `deals` row (won unless `stage` says otherwise).
fn deal(id: i64, customer: i64, owner: i64, stage: &str, amount: f64, day: &str) -> Value {
    json!({
        "id": id, "customer_id": customer, "owner_id": owner, "kind": "new", "stage": stage,
        "amount": amount, "currency": "USD", "created_at": at(day), "closed_at": at(day),
    })
}

async fn journey_engine(name: &str) -> Engine {
    let customers = vec![
        customer(1, "smb", "paid_search", "Support 01", "2025-01-01"),
        customer(2, "smb", "referral", "Support 01", "2025-01-02"),
        customer(3, "enterprise", "paid_search", "Support 01", "2025-01-05"),
        customer(4, "enterprise", "referral", "Support 01", "2025-01-10"),
        customer(5, "smb", "content", "Support 01", "2025-02-01"),
        customer(6, "smb", "referral", "Support 01", "2025-01-12"),
    ];
    let stages = [
        (1, "awareness", "2025-01-01"),
        (1, "consideration", "2025-01-03"),
        (1, "purchase", "2025-01-13"),
        (1, "onboarding", "2025-01-15"),
        (1, "usage", "2025-01-20"),
        (1, "support", "2025-01-25"),
        (1, "usage", "2025-01-27"),
        (2, "awareness", "2025-01-02"),
        (2, "consideration", "2025-01-06"),
        (2, "purchase", "2025-01-11"),
        (3, "awareness", "2025-01-05"),
        (3, "consideration", "2025-01-07"),
        (3, "consideration", "2025-01-09"),
        (4, "awareness", "2025-01-10"),
        (5, "awareness", "2025-02-01"),
        (5, "consideration", "2025-02-05"),
        (5, "purchase", "2025-02-15"),
        (5, "onboarding", "2025-02-16"),
        (5, "usage", "2025-02-20"),
        (5, "renewal", "2025-02-25"),
        (5, "support", "2025-03-01"),
        (6, "awareness", "2025-01-12"),
    ];
    let events = stages.iter().enumerate().map(|(i, (c, stage, day))| event(i as i64 + 1, *c, stage, day)).collect();
    Fixture::new().rows("customers", customers).rows("touchpoint_events", events).engine(name).await
}

/// The row whose `column` is `value`.
#[track_caller]
fn row<'a>(rows: &'a [Map<String, Value>], column: &str, value: &str) -> &'a Map<String, Value> {
    rows.iter()
        .find(|r| r.get(column).and_then(Value::as_str) == Some(value))
        .unwrap_or_else(|| panic!("no row with {column} = {value} in {rows:?}"))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Absent or null (the JSON writer leaves nulls out).
fn is_null(row: &Map<String, Value>, column: &str) -> bool {
    row.get(column).is_none_or(Value::is_null)
}

fn int(row: &Map<String, Value>, column: &str) -> i64 {
    row.get(column).and_then(Value::as_i64).unwrap_or_else(|| panic!("no integer `{column}` in {row:?}"))
}

fn by_stage() -> MetricRequest {
    MetricRequest {
        group_by: vec!["stage_order".into(), "stage".into()],
        order_by: vec![OrderBy::parse("stage_order")],
        ..Default::default()
    }
}

#[tokio::test]
async fn journey_funnel_counts_conversions_and_days_between_stages() {
    let engine = journey_engine("journeys-funnel").await;
    let rows = metric(&engine, "journey_funnel", by_stage()).await;
    let stages: Vec<String> = rows.iter().map(|r| text(&r["stage"])).collect();
    assert_eq!(
        stages,
        ["awareness", "consideration", "purchase", "onboarding", "usage", "support", "renewal", "advocacy"]
    );
    // customers per stage (first time only; customer 3's second consideration and customer 1's
    // second usage do not count twice):
    //   awareness 6 (all) · consideration 4 (1, 2, 3, 5) · purchase 3 (1, 2, 5) · onboarding 2 (1, 5)
    //   usage 2 · support 2 (1, 5) · renewal 1 (5) · advocacy 0 (a row only because 5 reached renewal).
    let customers: Vec<i64> = rows.iter().map(|r| int(r, "customers")).collect();
    assert_eq!(customers, [6, 4, 3, 2, 2, 2, 1, 0]);
    let awareness = row(&rows, "stage", "awareness");
    assert_eq!(int(awareness, "previous_stage_customers"), 0);
    assert!(is_null(awareness, "conversion_pct"), "awareness has no previous stage: {awareness:?}");
    assert_close(awareness, "avg_days_from_first_touch", 0.0);

    // consideration: 4 of the 6 aware → 100·4/6 = 66.67 %; days from awareness:
    //   1: 01-01→01-03 = 2, 2: 01-02→01-06 = 4, 3: 01-05→01-07 = 2 (first time), 5: 02-01→02-05 = 4
    //   → (2+4+2+4)/4 = 3.0.
    let consideration = row(&rows, "stage", "consideration");
    assert_close(consideration, "conversion_pct", 66.666_667);
    assert_close(consideration, "avg_days_from_previous", 3.0);
    // purchase: 3 of 4 → 75 %; days from consideration 10 (01-03→01-13), 5 (01-06→01-11),
    //   10 (02-05→02-15) → 25/3 = 8.33; from first touch 12, 9, 14 → 35/3 = 11.67.
    let purchase = row(&rows, "stage", "purchase");
    assert_close(purchase, "conversion_pct", 75.0);
    assert_close(purchase, "avg_days_from_previous", 25.0 / 3.0);
    assert_close(purchase, "avg_days_from_first_touch", 35.0 / 3.0);
    // onboarding: 2 of 3 → 66.67 %; days 2 (01-13→01-15) and 1 (02-15→02-16) → 1.5.
    let onboarding = row(&rows, "stage", "onboarding");
    assert_close(onboarding, "conversion_pct", 66.666_667);
    assert_close(onboarding, "avg_days_from_previous", 1.5);
    // support: 2 of 2 at usage → 100 %; days 5 (01-20→01-25) and 9 (02-20→03-01) → 7.0.
    let support = row(&rows, "stage", "support");
    assert_close(support, "conversion_pct", 100.0);
    assert_close(support, "avg_days_from_previous", 7.0);
    // renewal: 1 of the 2 at support → 50 %; customer 5 renewed 4 days BEFORE its first ticket
    //   (02-25 vs 03-01) → −4.0.
    let renewal = row(&rows, "stage", "renewal");
    assert_eq!((int(renewal, "previous_stage_customers"), int(renewal, "converted")), (2, 1));
    assert_close(renewal, "conversion_pct", 50.0);
    assert_close(renewal, "avg_days_from_previous", -4.0);
    // advocacy: 0 of the 1 who renewed → 0 %, no days.
    let advocacy = row(&rows, "stage", "advocacy");
    assert_close(advocacy, "conversion_pct", 0.0);
    assert!(is_null(advocacy, "avg_days_from_previous"), "{advocacy:?}");
}

#[tokio::test]
async fn journey_funnel_regroups_by_segment_and_filters_cohorts() {
    let engine = journey_engine("journeys-funnel-groups").await;
    // By segment, consideration: smb = customers 1, 2, 5, 6 aware, 1, 2, 5 consider → 3/4 = 75 %;
    // enterprise = 3, 4 aware, 3 considers → 1/2 = 50 %. (Summed counts, not averaged rates:
    // together 4/6 = 66.67 %, as above.)
    let request = MetricRequest {
        group_by: vec!["segment".into()],
        filters: vec![("stage".into(), vec!["consideration".into()])],
        ..Default::default()
    };
    let rows = metric(&engine, "journey_funnel", request).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_close(row(&rows, "segment", "smb"), "conversion_pct", 75.0);
    assert_close(row(&rows, "segment", "enterprise"), "conversion_pct", 50.0);

    // The time column is the first touch (cohort): from 2025-02-01 only customer 5 is in the
    // cohort, who went all the way to renewal: purchase 1 of 1 = 100 %, 10 days.
    let february = MetricRequest { from: Some("2025-02-01".into()), ..by_stage() };
    let rows = metric(&engine, "journey_funnel", february).await;
    let purchase = row(&rows, "stage", "purchase");
    assert_eq!(int(purchase, "customers"), 1);
    assert_close(purchase, "conversion_pct", 100.0);
    assert_close(purchase, "avg_days_from_previous", 10.0);
    // By month of first touch, awareness: January cohort = 1, 2, 3, 4, 6 (5), February = 5 (1).
    let monthly = MetricRequest {
        grain: Some(Grain::Month),
        filters: vec![("stage".into(), vec!["awareness".into()])],
        ..Default::default()
    };
    let rows = metric(&engine, "journey_funnel", monthly).await;
    let counts: Vec<i64> = rows.iter().map(|r| int(r, "customers")).collect();
    assert_eq!(counts, [5, 1]);
}

#[tokio::test]
async fn journey_paths_rank_the_stage_sequences() {
    let engine = journey_engine("journeys-paths").await;
    let request = MetricRequest { filters: vec![("segment".into(), vec!["all".into()])], ..Default::default() };
    let mut rows = metric(&engine, "journey_paths", request).await;
    rows.sort_by_key(|r| int(r, "path_rank"));
    // Six customers, five paths: `awareness` twice (4, 6) → 2/6 = 33.33 %, rank 1; the others
    // once each (16.67 %), tied, ranked by path text ('r' < 's' puts 5's path before 1's).
    let paths: Vec<(String, i64)> = rows.iter().map(|r| (text(&r["path"]), int(r, "customers"))).collect();
    assert_eq!(
        paths,
        [
            ("awareness".to_string(), 2),
            ("awareness > consideration".to_string(), 1),
            ("awareness > consideration > purchase".to_string(), 1),
            ("awareness > consideration > purchase > onboarding > usage > renewal > support".to_string(), 1),
            ("awareness > consideration > purchase > onboarding > usage > support".to_string(), 1),
        ]
    );
    assert_close(&rows[0], "share_pct", 100.0 * 2.0 / 6.0);
    assert_close(&rows[1], "share_pct", 100.0 / 6.0);
    // Customer 5 (renewal before support): 7 stages, last = support, not in stage order.
    assert_eq!(int(&rows[3], "stages"), 7);
    assert_eq!(rows[3]["last_stage"], json!("support"));
    assert_eq!(rows[3]["in_stage_order"], json!(false));
    assert_eq!(rows[4]["in_stage_order"], json!(true));

    // Within a segment, shares are of that segment: smb = customers 1, 2, 5, 6, one path each
    // → 25 % each; enterprise = 3 (awareness > consideration) and 4 (awareness) → 50 % each.
    let smb = MetricRequest { filters: vec![("segment".into(), vec!["smb".into()])], ..Default::default() };
    let rows = metric(&engine, "journey_paths", smb).await;
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_close(r, "share_pct", 25.0);
    }
    let enterprise = metric(
        &engine,
        "journey_paths",
        MetricRequest { filters: vec![("segment".into(), vec!["enterprise".into()])], ..Default::default() },
    )
    .await;
    assert_close(row(&enterprise, "path", "awareness"), "share_pct", 50.0);
    // Table metrics are not re-aggregated.
    let grouped = MetricRequest { group_by: vec!["segment".into()], ..Default::default() };
    assert!(engine.metric("journey_paths", &grouped).await.is_err());
}

#[tokio::test]
async fn time_to_stage_gives_true_medians_per_stage_and_segment() {
    let engine = journey_engine("journeys-time").await;
    let everyone = MetricRequest {
        filters: vec![("segment".into(), vec!["all".into()]), ("acquisition_channel".into(), vec!["all".into()])],
        order_by: vec![OrderBy::parse("stage_order")],
        ..Default::default()
    };
    let rows = metric(&engine, "time_to_stage", everyone).await;
    assert_eq!(rows.len(), 7, "advocacy was never reached: {rows:?}");
    // purchase, days from first touch: 12 (1), 9 (2), 14 (5) → median 12, mean 35/3 = 11.67;
    //   from consideration: 10, 5, 10 → median 10, mean 25/3 = 8.33 (the mean equals the funnel's
    //   avg_days_from_previous; the median is what the funnel cannot give).
    let purchase = row(&rows, "stage", "purchase");
    assert_eq!(int(purchase, "customers"), 3);
    assert_close(purchase, "median_days_from_first_touch", 12.0);
    assert_close(purchase, "mean_days_from_first_touch", 35.0 / 3.0);
    assert_close(purchase, "median_days_from_previous", 10.0);
    assert_close(purchase, "mean_days_from_previous", 25.0 / 3.0);
    // consideration: 2, 4, 2, 4 → median (2+4)/2 = 3.
    assert_close(row(&rows, "stage", "consideration"), "median_days_from_first_touch", 3.0);
    // support: from first touch 24 (01-01→01-25) and 28 (02-01→03-01) → median 26;
    //   from usage 5 and 9 → median 7.
    let support = row(&rows, "stage", "support");
    assert_close(support, "median_days_from_first_touch", 26.0);
    assert_close(support, "median_days_from_previous", 7.0);
    // renewal: only customer 5: 24 days after awareness (02-01→02-25), −4 after support.
    let renewal = row(&rows, "stage", "renewal");
    assert_eq!(int(renewal, "transitions"), 1);
    assert_close(renewal, "median_days_from_previous", -4.0);

    // One segment: enterprise reached consideration once (customer 3, 2 days); smb by referral
    // (customers 2 and 6): only 2 considered, 4 days.
    let rows = metric(
        &engine,
        "time_to_stage",
        MetricRequest {
            filters: vec![
                ("segment".into(), vec!["enterprise".into()]),
                ("acquisition_channel".into(), vec!["all".into()]),
            ],
            ..Default::default()
        },
    )
    .await;
    let consideration = row(&rows, "stage", "consideration");
    assert_eq!(int(consideration, "customers"), 1);
    assert_close(consideration, "median_days_from_first_touch", 2.0);
    let rows = metric(
        &engine,
        "time_to_stage",
        MetricRequest {
            filters: vec![
                ("segment".into(), vec!["smb".into()]),
                ("acquisition_channel".into(), vec!["referral".into()]),
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(int(row(&rows, "stage", "awareness"), "customers"), 2);
    assert_close(row(&rows, "stage", "consideration"), "median_days_from_first_touch", 4.0);
}

/// `cx_ex_link` fixture: four support teams, five agents.
///
/// | team | agents (employee id) | other eNPS respondents | eNPS scores        | eNPS                       |
/// |------|----------------------|------------------------|--------------------|----------------------------|
/// | T1   | 1, 2                 | 11, 12, 13             | 10, 10, 9, 9, 8    | 4 P, 0 D of 5 → +80        |
/// | T2   | 3                    | 21, 22, 23, 24         | 9, 8, 7, 6, 5      | 1 P, 2 D of 5 → −20        |
/// | T3   | 4                    | 31, 32, 33, 34         | 10, 9, 8, 7, 3     | 2 P, 1 D of 5 → +20        |
/// | T4   | 5                    | 41                     | 10, 10             | 2 respondents → suppressed |
///
/// Customers (support team → NPS answer): 1 (T1) 10, 2 (T1) 8, 3 (T2) 4, 4 (T3) 9, 5 (T3) 6,
/// 6 (T4) 10 → customer NPS: T1 1 P + 1 passive of 2 = +50, T2 −100, T3 1 P 1 D = 0, T4 +100.
///
/// | ticket | customer | agent | CSAT | agent's completed courses (when)                 |
/// |--------|----------|-------|------|--------------------------------------------------|
/// | 1      | 1        | 1     | 5    | agent 1: courses 1, 2, 3 in Dec 2024 (+1 dropped, +1 in progress) |
/// | 2      | 2        | 1     | 4    |                                                  |
/// | 3      | 1        | 2     | 2    | agent 2: none                                    |
/// | 4      | 3        | 3     | 3    | agent 3: course 1 in Dec 2024                     |
/// | 5      | 4        | 4     | 5    | agent 4: course 1 in Dec 2024, course 2 on 2025-03-01 (after the answers) |
/// | 6      | 5        | 4     | 4    |                                                  |
/// | 7      | 6        | 5     | 1    | agent 5: none                                    |
///
/// All tickets and answers are in February 2025; ticket 1 also has a CES answer of 2.
async fn link_engine(name: &str) -> Engine {
    let team_of = |id: i64| match id {
        1 | 2 | 11..=13 => "Support 01",
        3 | 21..=24 => "Support 02",
        4 | 31..=34 => "Support 03",
        _ => "Support 04",
    };
    let ids = [1, 2, 11, 12, 13, 3, 21, 22, 23, 24, 4, 31, 32, 33, 34, 5, 41];
    let enps = [10, 10, 9, 9, 8, 9, 8, 7, 6, 5, 10, 9, 8, 7, 3, 10, 10];
    let employees = ids.iter().map(|&id| employee(id, team_of(id), "2024-01-01", None, 50_000.0)).collect();
    let mut answers: Vec<Value> = ids
        .iter()
        .zip(enps)
        .enumerate()
        .map(|(i, (&id, s))| answer(100 + i as i64, id, "enps", s, "2025-02-20", None))
        .collect();
    let customers = [
        (1, "Support 01", 10),
        (2, "Support 01", 8),
        (3, "Support 02", 4),
        (4, "Support 03", 9),
        (5, "Support 03", 6),
        (6, "Support 04", 10),
    ];
    answers.extend(customers.iter().map(|&(c, _, s)| answer(200 + c, c, "nps", s, "2025-02-25", None)));
    let tickets = [(1, 1, 1, 5), (2, 2, 1, 4), (3, 1, 2, 2), (4, 3, 3, 3), (5, 4, 4, 5), (6, 5, 4, 4), (7, 6, 5, 1)];
    answers.extend(tickets.iter().map(|&(t, c, _, s)| answer(300 + t, c, "csat", s, "2025-02-10", Some(t))));
    answers.push(answer(400, 1, "ces", 2, "2025-02-10", Some(1)));
    Fixture::new()
        .rows("employees", employees)
        .rows("customers", customers.iter().map(|&(c, team, _)| buyer(c, "smb", team, "2025-01-05", None)).collect())
        .rows("tickets", tickets.iter().map(|&(t, c, a, _)| ticket(t, c, a, "2025-02-08")).collect())
        .rows("survey_responses", answers)
        .rows(
            "enrollments",
            vec![
                enrollment(1, 1, 1, "completed", Some("2024-12-10")),
                enrollment(2, 1, 2, "completed", Some("2024-12-11")),
                enrollment(3, 1, 3, "completed", Some("2024-12-12")),
                enrollment(4, 1, 4, "dropped", None),
                enrollment(5, 1, 5, "enrolled", None),
                enrollment(6, 3, 1, "completed", Some("2024-12-10")),
                enrollment(7, 4, 1, "completed", Some("2024-12-10")),
                enrollment(8, 4, 2, "completed", Some("2025-03-01")),
            ],
        )
        .engine(name)
        .await
}

#[tokio::test]
async fn cx_ex_link_relates_training_and_team_enps_to_customer_scores() {
    let engine = link_engine("journeys-link").await;
    let rows = metric(&engine, "cx_ex_link", MetricRequest::default()).await;
    assert_eq!(rows.len(), 5, "one row per agent with tickets: {rows:?}");
    let agent = |id: &str| row(&rows, "employee_key", id);

    // Agent 1: tickets 1, 2 (customers 1, 2); 3 completed courses (the dropped and the in-progress
    // ones do not count); CSAT 5 and 4 → mean 4.5, both 4–5 → 100 %; CES 2; courses at the
    // answers 3 and 3; customers served answered NPS 10 and 8 → 1 P of 2 = +50.
    let a1 = agent("fx:1");
    assert_eq!((int(a1, "tickets"), int(a1, "customers_served"), int(a1, "completed_courses")), (2, 2, 3));
    assert_close(a1, "csat_mean", 4.5);
    assert_close(a1, "csat_pct", 100.0);
    assert_close(a1, "ces_mean", 2.0);
    assert_close(a1, "courses_at_answer_mean", 3.0);
    assert_close(a1, "customer_nps", 50.0);
    assert_eq!(a1["team"], json!("Support 01"));
    // Team Support 01: eNPS 10, 10, 9, 9, 8 → 4 P, 0 D of 5 → +80; its customers 1, 2 → +50.
    assert_eq!(int(a1, "team_enps_responses"), 5);
    assert_close(a1, "team_enps", 80.0);
    assert_close(a1, "team_customer_nps", 50.0);
    // Agent 2: no course, one CSAT of 2 → 0 % satisfied; served customer 1 (NPS 10) → +100.
    let a2 = agent("fx:2");
    assert_eq!(int(a2, "completed_courses"), 0);
    assert_close(a2, "csat_pct", 0.0);
    assert_close(a2, "customer_nps", 100.0);
    // Agent 4: 2 completed courses, but one after the answers → 1 course at each answer;
    // CSAT 5 and 4 → 4.5; team Support 03: eNPS 2 P, 1 D of 5 → +20, customers 4, 5: 9 and 6 → 0.
    let a4 = agent("fx:4");
    assert_eq!(int(a4, "completed_courses"), 2);
    assert_close(a4, "courses_at_answer_mean", 1.0);
    assert_close(a4, "team_enps", 20.0);
    assert_close(a4, "team_customer_nps", 0.0);
    // Agent 5: team Support 04 has 2 eNPS answers from 2 people → suppressed (< 5).
    let a5 = agent("fx:5");
    assert_eq!(int(a5, "team_enps_responses"), 2);
    assert!(is_null(a5, "team_enps"), "{a5:?}");
    assert_close(a5, "team_customer_nps", 100.0);

    // Pearson correlations, the same on every row.
    // corr_training_csat, over the 5 agents: x = courses (3, 0, 1, 2, 0), y = CSAT mean
    //   (4.5, 2, 3, 4.5, 1); x̄ = 1.2, ȳ = 3.0; Σdxdy = 1.8·1.5 + (−1.2)(−1) + (−0.2)(0) + 0.8·1.5
    //   + (−1.2)(−2) = 7.5; Σdx² = 3.24+1.44+0.04+0.64+1.44 = 6.8; Σdy² = 2.25+1+0+2.25+4 = 9.5
    //   → r = 7.5 / √(6.8·9.5) = 0.9331.
    // corr_training_csat_answers, over the 7 CSAT answers: x = courses at the answer
    //   (3, 3, 0, 1, 1, 1, 0), y = score (5, 4, 2, 3, 5, 4, 1); x̄ = 9/7, ȳ = 24/7;
    //   Σxy = 15+12+0+3+5+4+0 = 39 → Σdxdy = 39 − 7·(9/7)(24/7) = 39 − 216/7 = 8.1429;
    //   Σx² = 21 → Σdx² = 21 − 81/7 = 9.4286; Σy² = 96 → Σdy² = 96 − 576/7 = 13.7143
    //   → r = 8.1429 / √(9.4286·13.7143) = 0.7161.
    // corr_enps_nps, over the 3 teams with an eNPS: (80, 50), (−20, −100), (20, 0); x̄ = 26.67,
    //   ȳ = −16.67; Σdxdy = 53.33·66.67 + (−46.67)(−83.33) + (−6.67)(16.67) = 7333.33;
    //   Σdx² = 5066.67; Σdy² = 11666.67 → r = 7333.33 / √(5066.67·11666.67) = 0.9538.
    // corr_enps_agent_nps, over agents 1–4 (agent 5's team eNPS is suppressed): (80, 50),
    //   (80, 100), (−20, −100), (20, 0); x̄ = 40, ȳ = 12.5; Σdxdy = 40·37.5 + 40·87.5 + (−60)(−112.5)
    //   + (−20)(−12.5) = 12000; Σdx² = 7200; Σdy² = 21875 → r = 12000 / √(7200·21875) = 0.9562.
    for r in &rows {
        assert_close(r, "corr_training_csat", 0.933_136);
        assert_close(r, "corr_training_csat_answers", 0.716_089);
        assert_close(r, "corr_enps_nps", 0.953_821);
        assert_close(r, "corr_enps_agent_nps", 0.956_183);
    }

    // Filtering by team returns that team's agents, with the correlations still over everyone.
    let request = MetricRequest { filters: vec![("team".into(), vec!["Support 01".into()])], ..Default::default() };
    let rows = metric(&engine, "cx_ex_link", request).await;
    assert_eq!(rows.len(), 2);
    assert_close(&rows[0], "corr_enps_nps", 0.953_821);
}

/// `tx_scorecard` fixture, January–February 2025 (the calendar: 59 days, from the first
/// customer and answer on 01-01 to the last answer on 02-28).
///
/// - Customers: 1 buys 01-01; 2 buys 01-11 and churns 02-10; 3 buys 02-01.
/// - Employees (cost per day = annual_cost / 365.25): 1 hired 2020 (before the calendar:
///   counted from 01-01), 36 525 → 100/day; 2 hired 01-16, 73 050 → 200/day; 3 hired 2024,
///   terminated 02-01 (not employed that day), 36 525 → 100/day; 4 left in 2024 (left out).
/// - Won deals (every sample deal has an owner): customer 1 1 000 on 01-01 (owner 1), customer 2
///   3 000 on 01-11 (owner 1), customer 1 1 000 on 02-01 (owner 2), customer 3 20 000 on 02-01
///   (owner 2); a lost deal of 3 000 on 02-10 (not revenue).
/// - Answers: NPS 10 (01-01), 6 (01-15), 9 (02-10), 8 (02-28); CSAT 5 (01-10), 3 (01-20),
///   4 (02-05); CES 2 (01-10), 5 (02-05); eNPS 10, 10, 9, 7, 3 (01-20) and 9, 2, 8 (02-20).
async fn scorecard_engine(name: &str) -> Engine {
    let mut answers = vec![
        answer(1, 1, "nps", 10, "2025-01-01", None),
        answer(2, 2, "nps", 6, "2025-01-15", None),
        answer(3, 1, "nps", 9, "2025-02-10", None),
        answer(4, 3, "nps", 8, "2025-02-28", None),
        answer(5, 1, "csat", 5, "2025-01-10", None),
        answer(6, 2, "csat", 3, "2025-01-20", None),
        answer(7, 3, "csat", 4, "2025-02-05", None),
        answer(8, 1, "ces", 2, "2025-01-10", None),
        answer(9, 3, "ces", 5, "2025-02-05", None),
    ];
    for (i, score) in [10, 10, 9, 7, 3].into_iter().enumerate() {
        answers.push(answer(20 + i as i64, 1, "enps", score, "2025-01-20", None));
    }
    for (i, score) in [9, 2, 8].into_iter().enumerate() {
        answers.push(answer(30 + i as i64, 1, "enps", score, "2025-02-20", None));
    }
    Fixture::new()
        .rows(
            "customers",
            vec![
                buyer(1, "smb", "Support 01", "2025-01-01", None),
                buyer(2, "smb", "Support 01", "2025-01-11", Some("2025-02-10")),
                buyer(3, "enterprise", "Support 01", "2025-02-01", None),
            ],
        )
        .rows(
            "employees",
            vec![
                employee(1, "Sales 01", "2020-01-01", None, 36_525.0),
                employee(2, "Sales 01", "2025-01-16", None, 73_050.0),
                employee(3, "Support 01", "2024-06-01", Some("2025-02-01"), 36_525.0),
                employee(4, "Support 01", "2023-01-01", Some("2024-12-01"), 36_525.0),
            ],
        )
        .rows(
            "deals",
            vec![
                deal(1, 1, 1, "won", 1_000.0, "2025-01-01"),
                deal(2, 2, 1, "won", 3_000.0, "2025-01-11"),
                deal(3, 1, 2, "won", 1_000.0, "2025-02-01"),
                deal(4, 3, 2, "won", 20_000.0, "2025-02-01"),
                deal(5, 2, 2, "lost", 3_000.0, "2025-02-10"),
            ],
        )
        .rows("survey_responses", answers)
        .engine(name)
        .await
}

#[tokio::test]
async fn tx_scorecard_gives_the_headline_numbers_per_period() {
    let engine = scorecard_engine("journeys-scorecard").await;
    let rows = metric(&engine, "tx_scorecard", MetricRequest { grain: Some(Grain::Month), ..Default::default() }).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (jan, feb) = (&rows[0], &rows[1]);
    assert_eq!((int(jan, "days"), int(feb, "days")), (31, 28));
    // NPS: Jan 10, 6 → 1 P, 1 D of 2 → 0; Feb 9, 8 → 1 P of 2 → +50.
    assert_close(jan, "nps", 0.0);
    assert_close(feb, "nps", 50.0);
    // CSAT: Jan 5, 3 → 1 of 2 is 4–5 → 50 %, mean 4; Feb 4 → 100 %.  CES: Jan 2, Feb 5.
    assert_close(jan, "csat_pct", 50.0);
    assert_close(jan, "csat_mean", 4.0);
    assert_close(feb, "csat_pct", 100.0);
    assert_close(jan, "ces_mean", 2.0);
    assert_close(feb, "ces_mean", 5.0);
    // eNPS: Jan 10, 10, 9, 7, 3 → 3 P, 1 D of 5 → +40; Feb has 3 answers → suppressed.
    assert_close(jan, "enps", 40.0);
    assert!(is_null(feb, "enps"), "{feb:?}");
    // Churn. Active customers at each day's end — Jan: 01-01..01-10 one (10 days), 01-11..01-31
    // two (21 days) → 52 customer-days / 31 = 1.677 on average, nobody churned → 0 %.
    // Feb: 02-01..02-09 three (9 days = 27), 02-10..02-28 two (19 days = 38) → 65 / 28 = 2.3214;
    // 1 churned → 100 · 1 / 2.3214 = 43.08 %.
    assert_eq!(int(jan, "active_customer_days"), 52);
    assert_close(jan, "customer_churn_pct", 0.0);
    assert_close(feb, "avg_active_customers", 65.0 / 28.0);
    assert_close(feb, "customer_churn_pct", 100.0 * 28.0 / 65.0);
    // Attrition. Head count — Jan: employees 1, 3 on 01-01..01-15 (2 × 15 = 30), 1, 2, 3 on
    // 01-16..01-31 (3 × 16 = 48) → 78 / 31; nobody left → 0 %. Feb: 1 and 2 (3 left on 02-01)
    // → 2 × 28 = 56 / 28 = 2; 1 left → 50 %. Hires: only employee 2 (1 and 3 predate the calendar).
    assert_eq!(int(jan, "headcount_days"), 78);
    assert_eq!((int(jan, "hires"), int(feb, "terminations")), (1, 1));
    assert_close(jan, "employee_attrition_pct", 0.0);
    assert_close(feb, "employee_attrition_pct", 50.0);
    // Historic customer LTV at the period's end — Jan: won 1 000 + 3 000 = 4 000 from customers
    // 1 and 2 → 2 000; Feb: + 1 000 + 20 000 = 25 000 from 3 customers → 8 333.33 (the lost
    // deal is not revenue).
    assert_close(jan, "avg_customer_ltv", 2_000.0);
    assert_close(feb, "avg_customer_ltv", 25_000.0 / 3.0);
    // Employee LTV at the period's end. Cost so far — Jan: 01-01..01-15 employees 1 + 3 =
    // 200/day × 15 = 3 000, 01-16..01-31 1 + 2 + 3 = 400/day × 16 = 6 400 → 9 400; Feb: 1 + 2 =
    // 300/day × 28 = 8 400 → 17 800. Revenue of owned deals (every deal has an owner) — Jan 4 000,
    // Feb 25 000. Employees so far: 1, 2, 3 (4 left before the calendar).
    // Jan: (4 000 − 9 400) / 3 = −1 800; Feb: (25 000 − 17 800) / 3 = 2 400.
    assert_close(jan, "avg_employee_ltv", -1_800.0);
    assert_close(feb, "avg_employee_ltv", 2_400.0);

    // No grain: one row over the 59 days. NPS 2 P, 1 D of 4 → +25; CSAT 2 of 3 → 66.67 %;
    // CES (2+5)/2 = 3.5; eNPS 4 P, 2 D of 8 → +25; churn 1 / (117/59) = 50.43 %; attrition
    // 1 / (134/59) = 44.03 %; the LTVs are those at the end (Feb).
    let total = metric(&engine, "tx_scorecard", MetricRequest::default()).await;
    let all = &total[0];
    assert_eq!(int(all, "days"), 59);
    assert_close(all, "nps", 25.0);
    assert_close(all, "csat_pct", 200.0 / 3.0);
    assert_close(all, "ces_mean", 3.5);
    assert_close(all, "enps", 25.0);
    assert_close(all, "customer_churn_pct", 100.0 * 59.0 / 117.0);
    assert_close(all, "employee_attrition_pct", 100.0 * 59.0 / 134.0);
    assert_close(all, "avg_customer_ltv", 25_000.0 / 3.0);
    assert_close(all, "avg_employee_ltv", 2_400.0);

    // from/to select days: 2025-02-01..2025-02-28 is the February row.
    let february =
        MetricRequest { from: Some("2025-02-01".into()), to: Some("2025-02-28".into()), ..Default::default() };
    let rows = metric(&engine, "tx_scorecard", february).await;
    assert_close(&rows[0], "customer_churn_pct", 100.0 * 28.0 / 65.0);
    assert_close(&rows[0], "avg_employee_ltv", 2_400.0);
}
