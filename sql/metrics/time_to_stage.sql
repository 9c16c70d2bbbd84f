-- name: time_to_stage
-- title: Time to each journey stage (medians)
-- description: How long customers take to reach each journey stage, in days (fractional, from
--   the timestamps), with true medians — a table metric, because medians do not re-aggregate.
--   One row per stage × segment × acquisition_channel, plus roll-up rows where segment and/or
--   acquisition_channel is `all` (filter segment=all&acquisition_channel=all for everyone;
--   customers without a segment or channel count as `unknown`). customers = customers who
--   reached the stage (first time they met it in tx.touchpoints). median_/mean_days_from_first_touch
--   = days from the customer's first touchpoint (awareness) to first reaching this stage.
--   median_/mean_days_from_previous = days from first reaching the previous stage (order: awareness,
--   consideration, purchase, onboarding, usage, support, renewal, advocacy) to first reaching
--   this one, over the `transitions` customers who reached both — the "median days between
--   stages" of the journey funnel (whose avg_days_from_previous is the additive mean); negative
--   when a customer met this stage first, possible only for support, renewal and advocacy.
--   p90_days_from_first_touch is an approximate 90th percentile. stage_order sorts the stages
--   (awareness = 1 … advocacy = 8).
-- kind: table
-- dimensions: stage, stage_order, segment, acquisition_channel
-- order_by: stage_order, segment, acquisition_channel
-- materialized: true
CREATE VIEW metrics.time_to_stage AS
WITH stages AS (SELECT stage_order, stage, previous_stage FROM tx.journey_stages),
-- One row per customer: its first touchpoint and the first time it met each stage.
per_customer AS (SELECT * FROM tx.customer_stage_times),
-- Each stage a customer reached, with the days it took.
reached AS (
    SELECT
        stage,
        stage_order,
        segment,
        acquisition_channel,
        (CAST(reached_at AS BIGINT) - CAST(first_touch_at AS BIGINT)) / 86400000000.0 AS days_from_first_touch,
        (CAST(reached_at AS BIGINT) - CAST(previous_reached_at AS BIGINT)) / 86400000000.0 AS days_from_previous
    FROM (
        SELECT
            s.stage,
            s.stage_order,
            COALESCE(p.segment, 'unknown') AS segment,
            COALESCE(p.acquisition_channel, 'unknown') AS acquisition_channel,
            p.first_touch_at,
            CASE s.stage_order
                WHEN 1 THEN p.t1 WHEN 2 THEN p.t2 WHEN 3 THEN p.t3 WHEN 4 THEN p.t4
                WHEN 5 THEN p.t5 WHEN 6 THEN p.t6 WHEN 7 THEN p.t7 WHEN 8 THEN p.t8
            END AS reached_at,
            CASE s.stage_order
                WHEN 2 THEN p.t1 WHEN 3 THEN p.t2 WHEN 4 THEN p.t3 WHEN 5 THEN p.t4
                WHEN 6 THEN p.t5 WHEN 7 THEN p.t6 WHEN 8 THEN p.t7
            END AS previous_reached_at
        FROM per_customer p
        CROSS JOIN stages s
    )
    WHERE reached_at IS NOT NULL
)
SELECT
    stage,
    stage_order,
    COALESCE(segment, 'all') AS segment,
    COALESCE(acquisition_channel, 'all') AS acquisition_channel,
    count(*) AS customers,
    median(days_from_first_touch) AS median_days_from_first_touch,
    avg(days_from_first_touch) AS mean_days_from_first_touch,
    approx_percentile_cont(days_from_first_touch, 0.9) AS p90_days_from_first_touch,
    count(days_from_previous) AS transitions,
    median(days_from_previous) AS median_days_from_previous,
    avg(days_from_previous) AS mean_days_from_previous
FROM reached
GROUP BY GROUPING SETS (
    (stage, stage_order),
    (stage, stage_order, segment),
    (stage, stage_order, acquisition_channel),
    (stage, stage_order, segment, acquisition_channel)
)
ORDER BY stage_order, segment, acquisition_channel
