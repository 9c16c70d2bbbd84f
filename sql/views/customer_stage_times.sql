-- tx.customer_stage_times: one row per customer with its segment, acquisition channel and
-- country (tx.customers), its first touchpoint (first_touch_at) and the first time it reached
-- each journey stage (t1 = awareness … t8 = advocacy, as in tx.journey_stages.stage_order).
-- Ten million touchpoints fold into one row per customer here, which every journey metric
-- reads; computing it once per lake version keeps those metrics interactive.
-- materialized: true
CREATE VIEW tx.customer_stage_times AS
WITH firsts AS (
    SELECT
        customer_key,
        min(occurred_at) AS first_touch_at,
        min(CASE WHEN stage = 'awareness' THEN occurred_at END) AS t1,
        min(CASE WHEN stage = 'consideration' THEN occurred_at END) AS t2,
        min(CASE WHEN stage = 'purchase' THEN occurred_at END) AS t3,
        min(CASE WHEN stage = 'onboarding' THEN occurred_at END) AS t4,
        min(CASE WHEN stage = 'usage' THEN occurred_at END) AS t5,
        min(CASE WHEN stage = 'support' THEN occurred_at END) AS t6,
        min(CASE WHEN stage = 'renewal' THEN occurred_at END) AS t7,
        min(CASE WHEN stage = 'advocacy' THEN occurred_at END) AS t8
    FROM tx.touchpoints
    WHERE customer_key IS NOT NULL
    GROUP BY customer_key
)
SELECT
    f.customer_key,
    c.segment,
    c.acquisition_channel,
    c.country,
    f.first_touch_at,
    f.t1, f.t2, f.t3, f.t4, f.t5, f.t6, f.t7, f.t8
FROM firsts f
LEFT JOIN tx.customers c ON c.customer_key = f.customer_key
