-- name: customer_churn
-- title: Customer churn (monthly)
-- description: Monthly churn of paying customers, counted per customer-month of exposure.
--   A customer is exposed in a calendar month (UTC) when it became a customer before the
--   month began and had not churned before it began (became_customer_at < month start <=
--   churned_at, or never churned); `customers` counts those customer-months and `churned`
--   the ones whose churned_at falls in that month. churn_rate = 100 × churned ÷ customers,
--   the % of customers active at the start of a month who churned during it;
--   retention_rate = 100 − churn_rate. Summed over several months (grain quarter or year,
--   or no grain) it is churned per customer-month, i.e. the average monthly churn rate;
--   annualized_churn_rate = 100 × (1 − (1 − churned ÷ customers)^12), the share of
--   customers lost within a year at that monthly rate. Months run up to the month of the
--   data's last timestamp (the latest event time in tx.customers, tx.revenue, tx.tickets,
--   tx.surveys, tx.touchpoints and tx.learning), so the last month may be partial; a
--   customer who buys and churns within one month is never exposed. nps_category is the
--   customer's latest NPS answer before the month began: promoter (9–10), passive (7–8),
--   detractor (0–6) or none (no answer yet).
-- materialized: true
-- kind: aggregate
-- time: month
-- dimensions: segment, country, acquisition_channel, support_team, nps_category
-- measures: customers:sum, churned:sum
-- derived: churn_rate = 100.0 * churned / NULLIF(customers, 0)
-- derived: retention_rate = 100.0 - churn_rate
-- derived: annualized_churn_rate = 100.0 * (1.0 - power(1.0 - CAST(churned AS DOUBLE) / NULLIF(customers, 0), 12))
CREATE VIEW metrics.customer_churn AS
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
        unnest(generate_series(
            date_trunc('month', c.became_customer_at) + INTERVAL '1 month',
            least(date_trunc('month', c.churned_at), b.last_month),
            INTERVAL '1 month'
        )) AS month_start
    FROM tx.customers AS c
    CROSS JOIN bounds AS b
    WHERE c.became_customer_at IS NOT NULL
      AND (c.churned_at IS NULL OR c.churned_at > c.became_customer_at)
),
exposure AS (
    SELECT
        customer_key, segment, country, acquisition_channel, support_team, churned_at,
        arrow_cast(month_start, 'Timestamp(Microsecond, Some("UTC"))') AS month
    FROM customer_months
),
nps_answers AS (
    -- each answer holds from its time until the customer's next NPS answer
    SELECT
        respondent_key AS customer_key,
        score,
        answered_at AS valid_from,
        lead(answered_at) OVER (PARTITION BY respondent_key ORDER BY answered_at, response_key) AS valid_to
    FROM tx.surveys
    WHERE respondent_kind = 'customer' AND survey = 'nps' AND score IS NOT NULL
)
SELECT
    e.month,
    e.segment,
    e.country,
    e.acquisition_channel,
    e.support_team,
    CASE
        WHEN n.score IS NULL THEN 'none'
        WHEN n.score >= 9 THEN 'promoter'
        WHEN n.score >= 7 THEN 'passive'
        ELSE 'detractor'
    END AS nps_category,
    e.customer_key,
    1 AS customers,
    CASE WHEN e.churned_at IS NOT NULL AND e.churned_at < e.month + INTERVAL '1 month' THEN 1 ELSE 0 END AS churned
FROM exposure AS e
LEFT JOIN nps_answers AS n
    ON n.customer_key = e.customer_key
   AND n.valid_from < e.month
   AND (n.valid_to IS NULL OR n.valid_to >= e.month)
