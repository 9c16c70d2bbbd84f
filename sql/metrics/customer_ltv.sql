-- name: customer_ltv
-- title: Customer lifetime value (historic and predicted)
-- description: Revenue per paying customer so far, and a predicted lifetime value. One row
--   per paying customer (became_customer_at set, or any tx.revenue row): revenue = sum of
--   its tx.revenue amounts (all currencies added as they are), orders = its count of
--   revenue events, customer_months = months it has been a customer, from became_customer_at
--   (or its first revenue) to churned_at or, if still a customer, the data's last timestamp
--   (the latest event time in tx.customers, tx.revenue, tx.tickets, tx.surveys,
--   tx.touchpoints and tx.learning), in days ÷ 30.4375; churned = 1 if it churned.
--   historic_ltv = revenue ÷ customers. Predicted LTV = average order value × purchase
--   frequency × expected lifetime, from a group's sums: avg_order_value = revenue ÷ orders,
--   purchase_frequency = orders ÷ customer_months (orders per customer-month),
--   monthly_churn_rate = 100 × churned ÷ customer_months (% per customer-month),
--   expected_lifetime_months = customer_months ÷ churned (1 ÷ the monthly churn rate),
--   capped at 60 months (5 years) and 60 when the group has no churn; predicted_ltv =
--   avg_order_value × purchase_frequency × expected_lifetime_months (the whole expected
--   lifetime's revenue of a customer of the group, not what remains). Revenue is booked
--   when won, so up-front fees of young customers push the observed revenue rate, and with
--   it predicted_ltv, up while the data span is short against customer lifetimes.
--   nps_category is from the customer's latest NPS answer in tx.surveys: promoter (9–10),
--   passive (7–8), detractor (0–6) or none (never answered). The time column
--   customer_since is when the customer became one.
-- materialized: true
-- kind: aggregate
-- time: customer_since
-- dimensions: segment, country, acquisition_channel, support_team, nps_category, lifecycle_stage
-- measures: customers:sum, revenue:sum, orders:sum, customer_months:sum, churned:sum
-- derived: historic_ltv = revenue / NULLIF(customers, 0)
-- derived: avg_order_value = revenue / NULLIF(orders, 0)
-- derived: purchase_frequency = orders / NULLIF(customer_months, 0)
-- derived: monthly_churn_rate = 100.0 * churned / NULLIF(customer_months, 0)
-- derived: expected_lifetime_months = CASE WHEN churned = 0 THEN 60.0 ELSE least(customer_months / churned, 60.0) END
-- derived: predicted_ltv = avg_order_value * purchase_frequency * expected_lifetime_months
CREATE VIEW metrics.customer_ltv AS
WITH event_times AS (SELECT last_t AS t FROM tx.event_times),
bounds AS (
    SELECT max(t) AS as_of FROM event_times
),
customer_revenue AS (
    SELECT customer_key, sum(amount) AS revenue, count(*) AS orders, min(occurred_at) AS first_revenue_at
    FROM tx.revenue
    GROUP BY customer_key
),
last_nps AS (
    SELECT respondent_key AS customer_key, score
    FROM (
        SELECT
            respondent_key,
            score,
            row_number() OVER (PARTITION BY respondent_key ORDER BY answered_at DESC, response_key DESC) AS answer_rank
        FROM tx.surveys
        WHERE respondent_kind = 'customer' AND survey = 'nps' AND score IS NOT NULL
    ) AS ranked
    WHERE answer_rank = 1
),
paying AS (
    SELECT
        c.customer_key,
        c.segment,
        c.country,
        c.acquisition_channel,
        c.support_team,
        c.lifecycle_stage,
        coalesce(c.became_customer_at, r.first_revenue_at) AS customer_since,
        CASE WHEN c.churned_at IS NOT NULL AND c.churned_at <= b.as_of THEN c.churned_at ELSE b.as_of END AS customer_until,
        CASE WHEN c.churned_at IS NOT NULL AND c.churned_at <= b.as_of THEN 1 ELSE 0 END AS churned,
        coalesce(r.revenue, 0.0) AS revenue,
        coalesce(r.orders, 0) AS orders,
        n.score AS nps_score
    FROM tx.customers AS c
    CROSS JOIN bounds AS b
    LEFT JOIN customer_revenue AS r ON r.customer_key = c.customer_key
    LEFT JOIN last_nps AS n ON n.customer_key = c.customer_key
    WHERE c.became_customer_at IS NOT NULL OR r.customer_key IS NOT NULL
)
SELECT
    arrow_cast(customer_since, 'Timestamp(Microsecond, Some("UTC"))') AS customer_since,
    segment,
    country,
    acquisition_channel,
    support_team,
    CASE
        WHEN nps_score IS NULL THEN 'none'
        WHEN nps_score >= 9 THEN 'promoter'
        WHEN nps_score >= 7 THEN 'passive'
        ELSE 'detractor'
    END AS nps_category,
    lifecycle_stage,
    customer_key,
    1 AS customers,
    revenue,
    orders,
    greatest((date_part('epoch', customer_until) - date_part('epoch', customer_since)) / 86400.0 / 30.4375, 0.0) AS customer_months,
    churned
FROM paying
