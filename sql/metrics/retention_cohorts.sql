-- name: retention_cohorts
-- title: Customer retention by monthly cohort
-- description: Monthly acquisition cohorts of paying customers and how many of them are still
--   customers N months later. A customer's cohort is the calendar month (UTC) of its
--   became_customer_at (`cohort` as text YYYY-MM; `cohort_start` is its first instant, the
--   time column); months_since_start = 0 is that month, 1 the next calendar month, and so on
--   up to the month of the data's last timestamp (the latest event time in tx.customers,
--   tx.revenue, tx.tickets, tx.surveys, tx.touchpoints and tx.learning), so the last
--   observed month may be partial. One row per customer × months_since_start:
--   cohort_customers = 1, retained = 1 when the customer had not churned by the end of that
--   month (churned_at NULL or ≥ the next month's start; a churned customer stays in its
--   cohort with retained = 0 for every later month). retention_rate = 100 × retained ÷
--   cohort_customers, the % of the cohort still a customer at the end of month N. Group by
--   months_since_start (with cohort for the classic triangle): summing over several
--   months_since_start values mixes ages and gives retained customer-months ÷ cohort
--   customer-months.
-- materialized: true
-- kind: aggregate
-- time: cohort_start
-- dimensions: cohort, months_since_start, segment, country, acquisition_channel, support_team
-- measures: cohort_customers:sum, retained:sum
-- derived: retention_rate = 100.0 * retained / NULLIF(cohort_customers, 0)
-- derived: churned = cohort_customers - retained
CREATE VIEW metrics.retention_cohorts AS
WITH event_times AS (SELECT last_t AS t FROM tx.event_times),
bounds AS (
    SELECT date_trunc('month', max(t)) AS last_month FROM event_times
),
customer_months AS (
    SELECT
        c.customer_key,
        c.segment,
        c.country,
        c.acquisition_channel,
        c.support_team,
        c.churned_at,
        date_trunc('month', c.became_customer_at) AS cohort_month,
        unnest(generate_series(
            date_trunc('month', c.became_customer_at),
            b.last_month,
            INTERVAL '1 month'
        )) AS month_start
    FROM tx.customers AS c
    CROSS JOIN bounds AS b
    WHERE c.became_customer_at IS NOT NULL
)
SELECT
    arrow_cast(cohort_month, 'Timestamp(Microsecond, Some("UTC"))') AS cohort_start,
    to_char(cohort_month, '%Y-%m') AS cohort,
    CAST(
        (date_part('year', month_start) - date_part('year', cohort_month)) * 12
        + date_part('month', month_start) - date_part('month', cohort_month)
        AS BIGINT
    ) AS months_since_start,
    segment,
    country,
    acquisition_channel,
    support_team,
    customer_key,
    1 AS cohort_customers,
    CASE WHEN churned_at IS NULL OR churned_at >= month_start + INTERVAL '1 month' THEN 1 ELSE 0 END AS retained
FROM customer_months
