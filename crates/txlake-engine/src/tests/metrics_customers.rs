//! Metric tests (customers): each expected number is worked out by hand from the fixture in the test.
//!
//! Covered: customer_churn, retention_cohorts, customer_ltv (CX) and employee_attrition,
//! tenure, employee_ltv (EX). Every metric fixes its "now" from the data — the latest event
//! time in tx.customers, tx.revenue, tx.tickets, tx.surveys, tx.touchpoints and tx.learning —
//! so each fixture holds one touchpoint event that sets that reference time on purpose.

use serde_json::{Map, Value, json};

use super::fixture::*;
use crate::*;

/// A `customers` row; `became` / `churned` are RFC 3339 times or None (a lead has neither).
fn customer(id: i64, segment: &str, country: &str, became: Option<&str>, churned: Option<&str>) -> Value {
    let stage = match (became, churned) {
        (None, _) => "lead",
        (Some(_), None) => "customer",
        (Some(_), Some(_)) => "churned",
    };
    json!({
        "id": id, "email": format!("customer{id}@example.com"), "name": format!("Customer {id}"),
        "segment": segment, "country": country, "acquisition_channel": "referral",
        "lifecycle_stage": stage, "support_team": "Support 01",
        "created_at": "2025-01-01T00:00:00Z", "became_customer_at": became, "churned_at": churned,
        "updated_at": "2025-01-01T00:00:00Z",
    })
}

/// A customer's answer to `survey` (0–10 scale) at `at`.
fn answer(id: i64, customer: i64, survey: &str, score: i32, at: &str) -> Value {
    json!({
        "id": id, "respondent_kind": "customer", "respondent_id": customer, "survey": survey, "score": score,
        "scale_min": 0, "scale_max": 10, "touchpoint": "product_usage", "channel": "email", "answered_at": at,
    })
}

/// An employee's eNPS answer (must never count as a customer's NPS, whatever the id).
fn enps(id: i64, employee: i64, score: i32, at: &str) -> Value {
    json!({
        "id": id, "respondent_kind": "employee", "respondent_id": employee, "survey": "enps", "score": score,
        "scale_min": 0, "scale_max": 10, "touchpoint": "employee_pulse", "channel": "web", "answered_at": at,
    })
}

/// A touchpoint event; the fixtures use one to fix the data's last (and first) event time.
fn event(id: i64, customer: i64, at: &str) -> Value {
    json!({
        "id": id, "customer_id": customer, "stage": "usage", "touchpoint": "product_usage", "channel": "app",
        "occurred_at": at,
    })
}

/// A deal of `amount` owned by `owner`, closed at `closed` (`stage` won or lost).
fn deal(id: i64, customer: i64, owner: i64, kind: &str, stage: &str, amount: f64, closed: &str) -> Value {
    json!({
        "id": id, "customer_id": customer, "owner_id": owner, "kind": kind, "stage": stage, "amount": amount,
        "currency": "USD", "created_at": closed, "closed_at": closed,
    })
}

/// A ticket of `customer` assigned to `assignee`, solved at `solved` (None: still open).
fn ticket(id: i64, customer: i64, assignee: i64, solved: Option<&str>) -> Value {
    json!({
        "id": id, "customer_id": customer, "assignee_id": assignee, "channel": "email", "priority": "normal",
        "subject": "help", "status": if solved.is_some() { "solved" } else { "open" },
        "created_at": "2025-03-01T00:00:00Z", "first_response_at": "2025-03-01T01:00:00Z", "solved_at": solved,
        "reopened": false, "updated_at": solved.unwrap_or("2025-03-01T00:00:00Z"),
    })
}

/// An `employees` row (no manager).
fn employee(
    id: i64,
    department: &str,
    team: &str,
    role: &str,
    hired: &str,
    terminated: Option<&str>,
    cost: f64,
) -> Value {
    json!({
        "id": id, "email": format!("employee{id}@example.com"), "name": format!("Employee {id}"),
        "department": department, "team": team, "role": role, "hired_at": hired, "terminated_at": terminated,
        "annual_cost": cost, "currency": "USD", "updated_at": hired,
    })
}

/// The row whose columns equal the given values; panics naming what is there.
#[track_caller]
fn row<'a>(rows: &'a [Map<String, Value>], keys: &[(&str, &str)]) -> &'a Map<String, Value> {
    rows.iter()
        .find(|r| {
            keys.iter().all(|(k, v)| match r.get(*k) {
                Some(Value::String(s)) => s == v,
                Some(Value::Number(n)) => n.to_string() == *v,
                _ => false,
            })
        })
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

/// The churn and cohort fixture. The data's last event is the touchpoint of 2025-06-20, so
/// June 2025 is the last month.
///
/// | id | segment | country | became_customer_at | churned_at | NPS answers (before a month = known at its start) |
/// |----|---------|---------|--------------------|------------|----------------------------------------------------|
/// | 1  | smb     | US      | 2025-01-10         | 2025-04-12 | 3 on 03-10                                         |
/// | 2  | smb     | US      | 2025-01-20         | —          | 10 on 02-15, 5 on 05-15                            |
/// | 3  | smb     | DE      | 2025-02-05         | 2025-05-20 | 8 on 04-01 00:00 (not before April began)          |
/// | 4  | ent     | DE      | 2025-02-28         | —          | (a CSAT 1 and an employee's eNPS 0: not NPS)       |
/// | 5  | ent     | US      | 2025-03-15         | 2025-03-25 | —  (bought and churned in one month)               |
/// | 6  | ent     | US      | 2025-04-10         | 2025-06-03 | —                                                  |
/// | 7  | smb     | US      | — (a lead)         | —          | —                                                  |
/// | 8  | mid     | US      | 2025-05-20         | —          | —                                                  |
fn churn_fixture() -> Fixture {
    Fixture::new()
        .rows(
            "customers",
            vec![
                customer(1, "smb", "US", Some("2025-01-10T09:00:00Z"), Some("2025-04-12T09:00:00Z")),
                customer(2, "smb", "US", Some("2025-01-20T09:00:00Z"), None),
                customer(3, "smb", "DE", Some("2025-02-05T09:00:00Z"), Some("2025-05-20T09:00:00Z")),
                customer(4, "ent", "DE", Some("2025-02-28T09:00:00Z"), None),
                customer(5, "ent", "US", Some("2025-03-15T09:00:00Z"), Some("2025-03-25T09:00:00Z")),
                customer(6, "ent", "US", Some("2025-04-10T09:00:00Z"), Some("2025-06-03T09:00:00Z")),
                customer(7, "smb", "US", None, None),
                customer(8, "mid", "US", Some("2025-05-20T09:00:00Z"), None),
            ],
        )
        .rows(
            "survey_responses",
            vec![
                answer(1, 1, "nps", 3, "2025-03-10T10:00:00Z"),
                answer(2, 2, "nps", 10, "2025-02-15T10:00:00Z"),
                answer(3, 2, "nps", 5, "2025-05-15T10:00:00Z"),
                answer(4, 3, "nps", 8, "2025-04-01T00:00:00Z"),
                answer(5, 4, "csat", 1, "2025-03-01T10:00:00Z"),
                enps(6, 4, 0, "2025-03-01T10:00:00Z"),
            ],
        )
        .rows("touchpoint_events", vec![event(1, 2, "2025-06-20T12:00:00Z")])
}

/// customer_churn: a customer counts in the months that began while it was a customer.
///
/// Exposed customer-months (✗ = churned in that month):
///   1: Feb, Mar, Apr✗            (bought in January; churned April 12)
///   2: Feb, Mar, Apr, May, Jun   (never churned; June is the last month)
///   3: Mar, Apr, May✗
///   4: Mar, Apr, May, Jun
///   5: none — bought March 15, churned March 25: no month began while it was a customer
///   6: May, Jun✗
///   7: a lead, never counted
///   8: Jun
/// all: customers = 3 + 5 + 3 + 4 + 2 + 1 = 18, churned = 3 → churn 100·3/18 = 16.67 %,
///      retention 83.33 %, annualized 100·(1 − (15/18)^12) = 100·(1 − 0.11216) = 88.78 %
/// segment smb: 1, 2, 3 → 11 months, 2 churned → 18.18 %; ent: 4, 6 → 6 months, 1 churned →
///      16.67 %; mid: 8 → 1 month, 0 churned → 0 %
/// by month: Feb 2 (1, 2), Mar 4 (1–4), Apr 4 with 1 churned (25 %), May 4 (2, 3, 4, 6) with 1
///      (25 %), Jun 4 (2, 4, 6, 8) with 1 (25 %)
/// nps_category (latest NPS answer before the month began):
///   1: Feb none, Mar none (answer of Mar 10 is after Mar 1), Apr✗ detractor
///   2: Feb none, Mar–May promoter (10 of Feb 15), Jun detractor (5 of May 15)
///   3: Mar none, Apr none (answered exactly at April's start), May✗ passive
///   4, 6, 8: none (4's CSAT and the employee's eNPS are not customer NPS)
///   → none 2+1+2+4+2+1 = 12 months, 1 churned (6 in June) = 8.33 %; detractor 2 (1 Apr✗,
///     2 Jun) → 50 %; promoter 3, 0 churned → 0 %; passive 1 (3 May✗) → 100 %
#[tokio::test]
async fn customer_churn_counts_customer_months_exposed_at_the_start_of_each_month() {
    let engine = churn_fixture().engine("metrics-customers-churn").await;

    let all = metric(&engine, "customer_churn", MetricRequest::default()).await;
    assert_eq!(all.len(), 1);
    assert_eq!((count(&all[0], "customers"), count(&all[0], "churned")), (18, 3));
    assert_close(&all[0], "churn_rate", 16.6667);
    assert_close(&all[0], "retention_rate", 83.3333);
    assert_close(&all[0], "annualized_churn_rate", 88.7843);

    let segments = metric(&engine, "customer_churn", by(&["segment"])).await;
    assert_eq!(segments.len(), 3);
    let smb = row(&segments, &[("segment", "smb")]);
    assert_eq!((count(smb, "customers"), count(smb, "churned")), (11, 2));
    assert_close(smb, "churn_rate", 18.1818);
    let ent = row(&segments, &[("segment", "ent")]);
    assert_eq!((count(ent, "customers"), count(ent, "churned")), (6, 1));
    assert_close(ent, "churn_rate", 16.6667);
    assert_close(row(&segments, &[("segment", "mid")]), "churn_rate", 0.0);

    let months =
        metric(&engine, "customer_churn", MetricRequest { grain: Some(Grain::Month), ..Default::default() }).await;
    let customers: Vec<i64> = months.iter().map(|r| count(r, "customers")).collect();
    let churned: Vec<i64> = months.iter().map(|r| count(r, "churned")).collect();
    assert_eq!(customers, [2, 4, 4, 4, 4]);
    assert_eq!(churned, [0, 0, 1, 1, 1]);
    assert!(months[0]["period"].as_str().unwrap().starts_with("2025-02-01"), "{:?}", months[0]);
    assert_close(&months[2], "churn_rate", 25.0);

    let nps = metric(&engine, "customer_churn", by(&["nps_category"])).await;
    assert_eq!(nps.len(), 4);
    let none = row(&nps, &[("nps_category", "none")]);
    assert_eq!((count(none, "customers"), count(none, "churned")), (12, 1));
    assert_close(none, "churn_rate", 8.3333);
    let detractor = row(&nps, &[("nps_category", "detractor")]);
    assert_eq!((count(detractor, "customers"), count(detractor, "churned")), (2, 1));
    assert_close(detractor, "churn_rate", 50.0);
    let promoter = row(&nps, &[("nps_category", "promoter")]);
    assert_eq!((count(promoter, "customers"), count(promoter, "churned")), (3, 0));
    assert_close(row(&nps, &[("nps_category", "passive")]), "churn_rate", 100.0);

    // A filter and a time range: German customers from April on → 3 (Apr, May✗) + 4 (Apr, May, Jun).
    let de = MetricRequest {
        filters: vec![("country".into(), vec!["DE".into()])],
        from: Some("2025-04-01".into()),
        ..Default::default()
    };
    let de = metric(&engine, "customer_churn", de).await;
    assert_eq!((count(&de[0], "customers"), count(&de[0], "churned")), (5, 1));
    assert_close(&de[0], "churn_rate", 20.0);
}

/// retention_cohorts on the churn fixture (last month June 2025). Retained at months_since_start
/// N = not churned before the end of the cohort month + N.
///
///   cohort 2025-01 (1, 2):  N = 0..5 (Jan–Jun); 1 churned Apr 12 → retained 2, 2, 2, 1, 1, 1
///   cohort 2025-02 (3, 4):  N = 0..4 (Feb–Jun); 3 churned May 20 → retained 2, 2, 2, 1, 1
///   cohort 2025-03 (5):     N = 0..3; churned Mar 25, before the end of March → 0, 0, 0, 0
///   cohort 2025-04 (6):     N = 0..2; churned Jun 3 → 1, 1, 0
///   cohort 2025-05 (8):     N = 0..1 → 1, 1
///   (7 is a lead: in no cohort)
/// by months_since_start: N=0: 7 customers (2+2+1+1+1), 6 retained → 85.71 %;
///   N=1: 7, 6 → 85.71 %; N=2: 6 (2+2+1+1), 4 (2+2+0+0) → 66.67 %; N=3: 5 (2+2+1), 2 → 40 %;
///   N=4: 4, 2 → 50 %; N=5: 2, 1 → 50 %
#[tokio::test]
async fn retention_cohorts_follow_each_monthly_cohort() {
    let engine = churn_fixture().engine("metrics-customers-cohorts").await;

    let ages = metric(&engine, "retention_cohorts", by(&["months_since_start"])).await;
    let cohort: Vec<i64> = ages.iter().map(|r| count(r, "cohort_customers")).collect();
    let retained: Vec<i64> = ages.iter().map(|r| count(r, "retained")).collect();
    assert_eq!(cohort, [7, 7, 6, 5, 4, 2]);
    assert_eq!(retained, [6, 6, 4, 2, 2, 1]);
    assert_close(&ages[0], "retention_rate", 85.7143);
    assert_close(&ages[2], "retention_rate", 66.6667);
    assert_close(&ages[3], "retention_rate", 40.0);
    assert_close(&ages[5], "retention_rate", 50.0);

    let triangle = metric(&engine, "retention_cohorts", by(&["cohort", "months_since_start"])).await;
    assert_eq!(triangle.len(), 6 + 5 + 4 + 3 + 2);
    let january_3 = row(&triangle, &[("cohort", "2025-01"), ("months_since_start", "3")]);
    assert_eq!((count(january_3, "cohort_customers"), count(january_3, "retained")), (2, 1));
    assert_close(january_3, "retention_rate", 50.0);
    assert_close(row(&triangle, &[("cohort", "2025-03"), ("months_since_start", "0")]), "retention_rate", 0.0);
    assert_close(row(&triangle, &[("cohort", "2025-04"), ("months_since_start", "2")]), "retention_rate", 0.0);

    // The February cohort by segment, selected through the time column (cohort_start).
    let february = MetricRequest {
        group_by: vec!["segment".into()],
        from: Some("2025-02-01".into()),
        to: Some("2025-02-28".into()),
        ..Default::default()
    };
    let february = metric(&engine, "retention_cohorts", february).await;
    // 3 (smb): 5 months, retained N=0..2 → 3 of 5 = 60 %; 4 (ent): 5 of 5 = 100 %.
    let smb = row(&february, &[("segment", "smb")]);
    assert_eq!((count(smb, "cohort_customers"), count(smb, "retained")), (5, 3));
    assert_close(smb, "retention_rate", 60.0);
    assert_close(row(&february, &[("segment", "ent")]), "retention_rate", 100.0);
}

/// The customer LTV fixture. The data's last event is the touchpoint of 2025-07-01 00:00.
///
/// | id | segment | became     | churned    | won deals (lost ones are not revenue) | NPS answers        |
/// |----|---------|------------|------------|---------------------------------------|--------------------|
/// | 1  | smb     | 2025-01-01 | 2025-04-01 | 3 000                                 | 3 (detractor)      |
/// | 2  | smb     | 2025-01-01 | —          | 3 000 + 2 000                         | 10, then 9         |
/// | 3  | ent     | 2025-02-25 | —          | 30 000 (+ a lost 5 000)               | 6, then 10         |
/// | 4  | mid     | 2025-02-01 | 2025-05-02 | 8 000                                 | — (a CSAT 2 only)  |
/// | 5  | smb     | — (lead)   | —          | —                                     | —                  |
///
/// Customer days (became → churned, or → 2025-07-01): 1: 31+28+31 = 90; 2: 181 (90 + 30 +
/// 31 + 30); 3: 4 (Feb 25 → Mar 1) + 122 (Mar–Jun) = 126; 4: 28 + 31 + 30 + 1 = 90. Months =
/// days ÷ 30.4375: in all 487 days = 16 months exactly.
fn ltv_fixture() -> Fixture {
    Fixture::new()
        .rows(
            "customers",
            vec![
                customer(1, "smb", "US", Some("2025-01-01T00:00:00Z"), Some("2025-04-01T00:00:00Z")),
                customer(2, "smb", "US", Some("2025-01-01T00:00:00Z"), None),
                customer(3, "ent", "DE", Some("2025-02-25T00:00:00Z"), None),
                customer(4, "mid", "DE", Some("2025-02-01T00:00:00Z"), Some("2025-05-02T00:00:00Z")),
                customer(5, "smb", "US", None, None),
            ],
        )
        .rows(
            "deals",
            vec![
                deal(1, 1, 90, "new", "won", 3000.0, "2025-01-01T00:00:00Z"),
                deal(2, 2, 90, "new", "won", 3000.0, "2025-01-01T00:00:00Z"),
                deal(3, 2, 90, "renewal", "won", 2000.0, "2025-04-02T00:00:00Z"),
                deal(4, 3, 91, "new", "won", 30000.0, "2025-02-25T00:00:00Z"),
                deal(5, 3, 91, "new", "lost", 5000.0, "2025-02-20T00:00:00Z"),
                deal(6, 4, 91, "new", "won", 8000.0, "2025-02-01T00:00:00Z"),
            ],
        )
        .rows(
            "survey_responses",
            vec![
                answer(1, 1, "nps", 3, "2025-03-01T10:00:00Z"),
                answer(2, 2, "nps", 10, "2025-02-01T10:00:00Z"),
                answer(3, 2, "nps", 9, "2025-05-01T10:00:00Z"),
                answer(4, 3, "nps", 6, "2025-03-10T10:00:00Z"),
                answer(5, 3, "nps", 10, "2025-06-10T10:00:00Z"),
                answer(6, 4, "csat", 2, "2025-03-01T10:00:00Z"),
                enps(7, 4, 0, "2025-03-01T10:00:00Z"),
            ],
        )
        .rows("touchpoint_events", vec![event(1, 2, "2025-07-01T00:00:00Z")])
}

/// customer_ltv: historic revenue per customer, and AOV × frequency × expected lifetime.
///
/// all (1–4): customers 4, revenue 3 000 + 5 000 + 30 000 + 8 000 = 46 000, orders 5,
///   customer_months 16, churned 2 (1, 4)
///   historic_ltv = 46 000 / 4 = 11 500; avg_order_value = 46 000 / 5 = 9 200;
///   purchase_frequency = 5 / 16 = 0.3125 orders per customer-month;
///   monthly_churn_rate = 100·2/16 = 12.5 %; expected_lifetime_months = 16/2 = 8;
///   predicted_ltv = 9 200 × 0.3125 × 8 = 23 000
/// nps_category (latest answer): 1 detractor; 2 promoter (9); 3 promoter (10 after 6); 4 none
///   detractor: revenue 3 000, 1 order, 90 days = 2.9569 months, 1 churned →
///     lifetime 2.9569 months, predicted = 3 000 × (1/2.9569) × 2.9569 = 3 000
///   promoter: customers 2, revenue 35 000, orders 3, 307 days = 10.0862 months, 0 churned →
///     historic 17 500, frequency 3/10.0862 = 0.29743, lifetime capped at 60 months,
///     predicted = (35 000/3) × 0.29743 × 60 = 35 000 × 60 / 10.0862 = 208 204.40
///   none: customer 4, 8 000, 1 churned → historic 8 000, predicted 8 000
/// segment smb (filter): 1 and 2 → customers 2, revenue 8 000 → historic 4 000; 271 days =
///   8.9035 months, 1 churned → lifetime 8.9035, predicted = 8 000 × 8.9035 / 8.9035 = 8 000
#[tokio::test]
async fn customer_ltv_is_historic_revenue_and_aov_times_frequency_times_lifetime() {
    let engine = ltv_fixture().engine("metrics-customers-ltv").await;

    let all = metric(&engine, "customer_ltv", MetricRequest::default()).await;
    assert_eq!(all.len(), 1);
    let all = &all[0];
    assert_eq!((count(all, "customers"), count(all, "orders"), count(all, "churned")), (4, 5, 2));
    assert_close(all, "revenue", 46000.0);
    assert_close(all, "customer_months", 16.0);
    assert_close(all, "historic_ltv", 11500.0);
    assert_close(all, "avg_order_value", 9200.0);
    assert_close(all, "purchase_frequency", 0.3125);
    assert_close(all, "monthly_churn_rate", 12.5);
    assert_close(all, "expected_lifetime_months", 8.0);
    assert_close(all, "predicted_ltv", 23000.0);

    let nps = metric(&engine, "customer_ltv", by(&["nps_category"])).await;
    assert_eq!(nps.len(), 3);
    let detractor = row(&nps, &[("nps_category", "detractor")]);
    assert_close(detractor, "historic_ltv", 3000.0);
    assert_close(detractor, "customer_months", 2.9569);
    assert_close(detractor, "predicted_ltv", 3000.0);
    let promoter = row(&nps, &[("nps_category", "promoter")]);
    assert_eq!(count(promoter, "customers"), 2);
    assert_close(promoter, "historic_ltv", 17500.0);
    assert_close(promoter, "purchase_frequency", 0.29743);
    assert_close(promoter, "expected_lifetime_months", 60.0);
    assert_close(promoter, "predicted_ltv", 208204.3974);
    let none = row(&nps, &[("nps_category", "none")]);
    assert_close(none, "historic_ltv", 8000.0);
    assert_close(none, "predicted_ltv", 8000.0);

    let smb = MetricRequest { filters: vec![("segment".into(), vec!["smb".into()])], ..Default::default() };
    let smb = metric(&engine, "customer_ltv", smb).await;
    assert_eq!(count(&smb[0], "customers"), 2);
    assert_close(&smb[0], "historic_ltv", 4000.0);
    assert_close(&smb[0], "expected_lifetime_months", 8.9035);
    assert_close(&smb[0], "predicted_ltv", 8000.0);
}

/// The staff fixture. The data's events are two touchpoints, 2025-01-05 and 2025-04-20 00:00:
/// its span is January–April 2025 and its last timestamp 2025-04-20 00:00.
///
/// | id | department | team     | role              | hired      | terminated |
/// |----|------------|----------|-------------------|------------|------------|
/// | 1  | Support    | Support 1 | Support Agent     | 2020-03-01 | —          |
/// | 2  | Support    | Support 1 | Support Agent     | 2022-06-01 | 2025-02-10 |
/// | 3  | Support    | Support 1 | Support Agent     | 2025-02-20 | —          |
/// | 4  | Sales      | Sales 1   | Account Executive | 2019-01-01 | 2025-04-01 00:00 |
/// | 5  | Sales      | Sales 1   | Account Executive | 2021-05-05 | —          |
/// | 6  | Sales      | Sales 1   | Account Executive | 2018-01-01 | 2024-11-30 (before the span) |
/// | 7  | Support    | Support 1 | Support Team Lead | 2025-03-05 | 2025-03-25 |
/// | 8  | Marketing  | Marketing 1 | Marketing Specialist | 2025-05-01 (after the last timestamp) | — |
fn staff_fixture() -> Fixture {
    Fixture::new()
        .rows(
            "employees",
            vec![
                employee(1, "Support", "Support 1", "Support Agent", "2020-03-01T00:00:00Z", None, 46000.0),
                employee(
                    2,
                    "Support",
                    "Support 1",
                    "Support Agent",
                    "2022-06-01T00:00:00Z",
                    Some("2025-02-10T00:00:00Z"),
                    46000.0,
                ),
                employee(3, "Support", "Support 1", "Support Agent", "2025-02-20T00:00:00Z", None, 46000.0),
                employee(
                    4,
                    "Sales",
                    "Sales 1",
                    "Account Executive",
                    "2019-01-01T00:00:00Z",
                    Some("2025-04-01T00:00:00Z"),
                    72000.0,
                ),
                employee(5, "Sales", "Sales 1", "Account Executive", "2021-05-05T00:00:00Z", None, 72000.0),
                employee(
                    6,
                    "Sales",
                    "Sales 1",
                    "Account Executive",
                    "2018-01-01T00:00:00Z",
                    Some("2024-11-30T00:00:00Z"),
                    72000.0,
                ),
                employee(
                    7,
                    "Support",
                    "Support 1",
                    "Support Team Lead",
                    "2025-03-05T00:00:00Z",
                    Some("2025-03-25T00:00:00Z"),
                    70000.0,
                ),
                employee(8, "Marketing", "Marketing 1", "Marketing Specialist", "2025-05-01T00:00:00Z", None, 60000.0),
            ],
        )
        .rows("touchpoint_events", vec![event(1, 1, "2025-01-05T12:00:00Z"), event(2, 1, "2025-04-20T00:00:00Z")])
}

/// employee_attrition: headcount at each month's start, leavers and hires during it.
///
///   Jan: 1, 2, 4, 5 employed at the start → headcount 4, no leaver, no hire
///   Feb: 1, 2, 4, 5 → 4; 2 leaves (Feb 10) → 1 leaver; 3 hired (Feb 20) → 1 hire
///   Mar: 1, 3, 4, 5 → 4; 7 hired Mar 5 and left Mar 25 → 1 hire, 1 leaver (not in headcount)
///   Apr: 1, 3, 4, 5 → 4 (4 left at April's very first instant: employed when it began); 4 → 1 leaver
///   6 left before the span, 8 was hired after it: neither counts.
/// all: headcount 16, leavers 3, hires 2 → attrition 100·3/16 = 18.75 % a month, annualized
///   12 × 18.75 = 225 %, net change 2 − 3 = −1
/// by month: 0 %, 25 %, 25 %, 25 %
/// department Support: 1 (4 months), 2 (Jan, Feb), 3 (Mar, Apr) → headcount 8; leavers 2, 7 →
///   2 → 25 %; Sales: 4, 5 → headcount 8, leaver 4 → 12.5 %
/// role Support Team Lead: headcount 0, 1 leaver → rate NULL (no one to leave from)
#[tokio::test]
async fn employee_attrition_is_monthly_leavers_over_headcount() {
    let engine = staff_fixture().engine("metrics-customers-attrition").await;

    let all = metric(&engine, "employee_attrition", MetricRequest::default()).await;
    let all = &all[0];
    assert_eq!((count(all, "headcount"), count(all, "leavers"), count(all, "hires")), (16, 3, 2));
    assert_close(all, "attrition_rate", 18.75);
    assert_close(all, "annualized_attrition_rate", 225.0);
    assert_close(all, "net_change", -1.0);

    let months =
        metric(&engine, "employee_attrition", MetricRequest { grain: Some(Grain::Month), ..Default::default() }).await;
    let rates: Vec<f64> = months.iter().map(|r| r["attrition_rate"].as_f64().unwrap()).collect();
    assert_eq!(rates, [0.0, 25.0, 25.0, 25.0]);
    assert!(months[0]["period"].as_str().unwrap().starts_with("2025-01-01"), "{:?}", months[0]);

    let departments = metric(&engine, "employee_attrition", by(&["department"])).await;
    assert_eq!(departments.len(), 2);
    let support = row(&departments, &[("department", "Support")]);
    assert_eq!((count(support, "headcount"), count(support, "leavers")), (8, 2));
    assert_close(support, "attrition_rate", 25.0);
    assert_close(row(&departments, &[("department", "Sales")]), "attrition_rate", 12.5);

    let roles = metric(&engine, "employee_attrition", by(&["role"])).await;
    let lead = row(&roles, &[("role", "Support Team Lead")]);
    assert_eq!((count(lead, "headcount"), count(lead, "leavers")), (0, 1));
    assert!(is_null(lead, "attrition_rate"), "{lead:?}");
    assert_close(row(&roles, &[("role", "Support Agent")]), "attrition_rate", 12.5);
}

/// tenure on the staff fixture; the reference time is the data's last timestamp, 2025-04-20.
///
///   1: 2020-03-01 → 2025-03-01 = 5·365 + 1 (2024-02-29) = 1 826, + 31 + 19 = 1 876 days, active
///   2: 2022-06-01 → 2025-02-10 = 3·365 + 1 (2024-02-29) = 1 096 − 111 (Feb 10 → Jun 1) = 985, left
///   3: 2025-02-20 → 2025-04-20 = 28 + 31 = 59, active
///   4: 2019-01-01 → 2025-04-01 = 6·365 + 2 (2020, 2024) = 2 192, + 90 = 2 282, left
///   5: 2021-05-05 → 2025-04-20 = 4·365 + 1 = 1 461 − 15 = 1 446, active
///   6: 2018-01-01 → 2024-11-30 = 7·365 + 2 = 2 557 − 32 (Nov 30 → Jan 1) = 2 525, left
///   7: 2025-03-05 → 2025-03-25 = 20, left
///   8: hired after the reference time: not counted
/// active: 3 employees, 1 876 + 59 + 1 446 = 3 381 days → 1 127 days = 1 127/365.25 = 3.0856 years
/// left: 4 employees, 985 + 2 282 + 2 525 + 20 = 5 812 → 1 453 days = 3.9781 years
/// all: 7, 9 193 days → 1 313.29 days = 3.5956 years; longest 2 525
/// Support (1, 2, 3, 7): 2 940 / 4 = 735 days; Sales (4, 5, 6): 6 253 / 3 = 2 084.33 days
/// tenure_band 5y+ (≥ 1 826.25 days): 1, 4, 6 → 3
#[tokio::test]
async fn tenure_runs_to_the_data_last_timestamp_or_the_termination() {
    let engine = staff_fixture().engine("metrics-customers-tenure").await;

    let all = metric(&engine, "tenure", MetricRequest::default()).await;
    let all = &all[0];
    assert_eq!(count(all, "employees"), 7);
    assert_close(all, "tenure_days_sum", 9193.0);
    assert_close(all, "avg_tenure_days", 1313.2857);
    assert_close(all, "avg_tenure_years", 3.5956);
    assert_close(all, "longest_tenure_days", 2525.0);

    let status = metric(&engine, "tenure", by(&["status"])).await;
    let active = row(&status, &[("status", "active")]);
    assert_eq!(count(active, "employees"), 3);
    assert_close(active, "avg_tenure_days", 1127.0);
    assert_close(active, "avg_tenure_years", 3.0856);
    let left = row(&status, &[("status", "left")]);
    assert_eq!(count(left, "employees"), 4);
    assert_close(left, "avg_tenure_years", 3.9781);

    let departments = metric(&engine, "tenure", by(&["department"])).await;
    assert_close(row(&departments, &[("department", "Support")]), "avg_tenure_days", 735.0);
    assert_close(row(&departments, &[("department", "Sales")]), "avg_tenure_days", 2084.3333);

    let bands = metric(&engine, "tenure", by(&["tenure_band"])).await;
    assert_eq!(count(row(&bands, &[("tenure_band", "5y+")]), "employees"), 3);
    assert_eq!(count(row(&bands, &[("tenure_band", "<1y")]), "employees"), 2);
}

/// employee_ltv. Events: a touchpoint at 2025-01-01 00:00 and one at 2026-01-01 06:00, so the
/// window is 2025-01-01 → 2026-01-01 06:00 = 365.25 days = exactly 1 year.
///
/// | id | department | role          | hired      | terminated       | annual cost | in window |
/// |----|------------|---------------|------------|------------------|-------------|-----------|
/// | 1  | Sales      | Account Exec. | 2020-01-01 | —                | 80 000      | 1 year    |
/// | 2  | Sales      | Account Exec. | 2019-01-01 | 2025-07-02 15:00 | 60 000      | 182.625 days = 0.5 year |
/// | 3  | Support    | Support Agent | 2024-06-01 | —                | 40 000      | 1 year    |
/// | 4  | Support    | Support Agent | 2025-07-02 15:00 | —          | 50 000      | 0.5 year  |
/// | 5  | Marketing  | Specialist    | 2015-01-01 | 2024-12-01       | 60 000      | left before: excluded |
/// | 6  | HR         | HR Partner    | 2018-01-01 | —                | 50 000      | 1 year    |
///
/// Revenue (won deals; owner): customer 1: 100 000 (1) + 60 000 (2) = 160 000; customer 2:
///   200 000 (1); a lost deal of 1 is not revenue. Tickets: customer 1: solved by 3 and by 4;
///   customer 2: solved by 3, one open ticket of 4 (not solved: no credit); customer 3 (no
///   revenue): solved by 4.
/// Support credit per solved ticket = 10 % × customer revenue ÷ its solved tickets:
///   customer 1: 0.1 × 160 000 / 2 = 8 000 each; customer 2: 0.1 × 200 000 / 1 = 20 000;
///   customer 3: 0 → employee 3: 8 000 + 20 000 = 28 000 (2 tickets); 4: 8 000 + 0 = 8 000 (2)
/// Costs in window: 1: 80 000; 2: 30 000; 3: 40 000; 4: 25 000; 6: 50 000
/// all: employees 5, leavers 1 (2), years 4.0, deal revenue 360 000, support 36 000,
///   attributed 396 000, cost 225 000 → value/yr 99 000, cost/yr 56 250, attrition 25 %/yr,
///   expected tenure 4.0 / 1 = 4 years → lifetime value 396 000, cost 225 000, LTV 171 000
/// Sales: 1.5 years, 1 leaver → tenure 1.5; value/yr 360 000/1.5 = 240 000; cost/yr
///   110 000/1.5 = 73 333.33 → lifetime value 360 000, cost 110 000, LTV 250 000
/// Support: 1.5 years, no leaver → tenure capped at 10; value/yr 36 000/1.5 = 24 000; cost/yr
///   65 000/1.5 = 43 333.33 → lifetime value 240 000, cost 433 333.33, LTV −193 333.33
/// HR: 1 year, no leaver → 10 years of 50 000 and no value: LTV −500 000
#[tokio::test]
async fn employee_ltv_is_attributed_value_minus_cost_over_expected_tenure() {
    let engine = Fixture::new()
        .rows(
            "employees",
            vec![
                employee(1, "Sales", "Sales 1", "Account Executive", "2020-01-01T00:00:00Z", None, 80000.0),
                employee(
                    2,
                    "Sales",
                    "Sales 1",
                    "Account Executive",
                    "2019-01-01T00:00:00Z",
                    Some("2025-07-02T15:00:00Z"),
                    60000.0,
                ),
                employee(3, "Support", "Support 1", "Support Agent", "2024-06-01T00:00:00Z", None, 40000.0),
                employee(4, "Support", "Support 1", "Support Agent", "2025-07-02T15:00:00Z", None, 50000.0),
                employee(
                    5,
                    "Marketing",
                    "Marketing 1",
                    "Marketing Specialist",
                    "2015-01-01T00:00:00Z",
                    Some("2024-12-01T00:00:00Z"),
                    60000.0,
                ),
                employee(6, "HR", "HR 1", "HR Partner", "2018-01-01T00:00:00Z", None, 50000.0),
            ],
        )
        .rows(
            "deals",
            vec![
                deal(1, 1, 1, "new", "won", 100000.0, "2025-02-01T00:00:00Z"),
                deal(2, 1, 2, "renewal", "won", 60000.0, "2025-05-01T00:00:00Z"),
                deal(3, 2, 1, "new", "won", 200000.0, "2025-03-01T00:00:00Z"),
                deal(4, 3, 1, "new", "lost", 50000.0, "2025-03-01T00:00:00Z"),
            ],
        )
        .rows(
            "tickets",
            vec![
                ticket(1, 1, 3, Some("2025-03-02T00:00:00Z")),
                ticket(2, 1, 4, Some("2025-08-02T00:00:00Z")),
                ticket(3, 2, 3, Some("2025-03-03T00:00:00Z")),
                ticket(4, 2, 4, None),
                ticket(5, 3, 4, Some("2025-09-02T00:00:00Z")),
            ],
        )
        .rows("touchpoint_events", vec![event(1, 1, "2025-01-01T00:00:00Z"), event(2, 1, "2026-01-01T06:00:00Z")])
        .engine("metrics-customers-employee-ltv")
        .await;

    let all = metric(&engine, "employee_ltv", MetricRequest::default()).await;
    let all = &all[0];
    assert_eq!((count(all, "employees"), count(all, "leavers"), count(all, "solved_tickets")), (5, 1, 4));
    assert_close(all, "employee_years", 4.0);
    assert_close(all, "deal_revenue", 360000.0);
    assert_close(all, "support_value", 36000.0);
    assert_close(all, "attributed_value", 396000.0);
    assert_close(all, "cost", 225000.0);
    assert_close(all, "value_per_year", 99000.0);
    assert_close(all, "cost_per_year", 56250.0);
    assert_close(all, "attrition_per_year", 25.0);
    assert_close(all, "expected_tenure_years", 4.0);
    assert_close(all, "lifetime_value", 396000.0);
    assert_close(all, "lifetime_cost", 225000.0);
    assert_close(all, "employee_ltv", 171000.0);

    let departments = metric(&engine, "employee_ltv", by(&["department"])).await;
    assert_eq!(departments.len(), 3, "{departments:?}");
    let sales = row(&departments, &[("department", "Sales")]);
    assert_close(sales, "expected_tenure_years", 1.5);
    assert_close(sales, "value_per_year", 240000.0);
    assert_close(sales, "cost_per_year", 73333.3333);
    assert_close(sales, "employee_ltv", 250000.0);
    let support = row(&departments, &[("department", "Support")]);
    assert_close(support, "support_value", 28000.0 + 8000.0);
    assert_close(support, "expected_tenure_years", 10.0);
    assert_close(support, "lifetime_value", 240000.0);
    assert_close(support, "employee_ltv", -193333.3333);
    assert_close(row(&departments, &[("department", "HR")]), "employee_ltv", -500000.0);

    // Per agent, through a filter on the team and the time column (hired from 2025 on: employee 4).
    let newcomer = MetricRequest {
        filters: vec![("team".into(), vec!["Support 1".into()])],
        from: Some("2025-01-01".into()),
        ..Default::default()
    };
    let newcomer = metric(&engine, "employee_ltv", newcomer).await;
    assert_eq!(count(&newcomer[0], "employees"), 1);
    assert_close(&newcomer[0], "support_value", 8000.0);
    assert_close(&newcomer[0], "employee_years", 0.5);
}
