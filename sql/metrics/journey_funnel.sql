-- name: journey_funnel
-- title: Customer journey funnel
-- description: How many customers reach each journey stage (awareness, consideration, purchase,
--   onboarding, usage, support, renewal, advocacy; from tx.touchpoints.stage, first time a
--   customer meets the stage), how many of those at the previous stage (in that order) go on
--   to it, and how long it takes. customers = customers who reached the stage;
--   previous_stage_customers = customers who reached the stage before it; converted = customers
--   who reached both. conversion_pct = 100 × converted / previous_stage_customers (NULL for
--   awareness, which has no previous stage). avg_days_from_previous = summed days from first
--   reaching the previous stage to first reaching this one / converted (a MEAN, additive; the
--   MEDIAN days between stages is in the table metric time_to_stage, column
--   median_days_from_previous); negative for a customer who met this stage first, possible only
--   for support, renewal and advocacy, which do not strictly follow each other.
--   avg_days_from_first_touch = summed days from the customer's first touchpoint to this stage /
--   customers. Group by stage (and stage_order, to sort: awareness = 1 … advocacy = 8);
--   without stage the sums mix stages. The time column is the customer's first touchpoint
--   (cohort): from/to and grains give the funnel of the customers who arrived then, followed
--   to today, so conversions stay within 0–100 %.
-- kind: aggregate
-- time: first_touch_at
-- dimensions: stage, stage_order, previous_stage, segment, acquisition_channel, country
-- measures: customers:sum, previous_stage_customers:sum, converted:sum, days_from_previous:sum, days_from_first_touch:sum
-- derived: conversion_pct = 100.0 * converted / NULLIF(previous_stage_customers, 0)
-- derived: avg_days_from_previous = days_from_previous / NULLIF(converted, 0)
-- derived: avg_days_from_first_touch = days_from_first_touch / NULLIF(customers, 0)
-- materialized: true
CREATE VIEW metrics.journey_funnel AS
WITH stages AS (SELECT stage_order, stage, previous_stage FROM tx.journey_stages),
-- One row per customer: its segment, first touchpoint and the first time it met each stage.
per_customer AS (SELECT * FROM tx.customer_stage_times),
-- Each customer × stage, with when the customer first reached it and the stage before it.
pairs AS (
    SELECT
        p.customer_key,
        p.segment,
        p.acquisition_channel,
        p.country,
        s.stage,
        s.stage_order,
        s.previous_stage,
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
),
-- Only the stages a customer reached, or could have reached next (reached the previous one).
grid AS (
    SELECT * FROM pairs WHERE reached_at IS NOT NULL OR previous_reached_at IS NOT NULL
)
SELECT
    g.customer_key,
    g.stage,
    g.stage_order,
    g.previous_stage,
    g.segment,
    g.acquisition_channel,
    g.country,
    g.first_touch_at,
    g.reached_at,
    CASE WHEN g.reached_at IS NOT NULL THEN 1 ELSE 0 END AS customers,
    CASE WHEN g.previous_reached_at IS NOT NULL THEN 1 ELSE 0 END AS previous_stage_customers,
    CASE WHEN g.reached_at IS NOT NULL AND g.previous_reached_at IS NOT NULL THEN 1 ELSE 0 END AS converted,
    CASE WHEN g.reached_at IS NOT NULL AND g.previous_reached_at IS NOT NULL
         THEN (CAST(g.reached_at AS BIGINT) - CAST(g.previous_reached_at AS BIGINT)) / 86400000000.0
    END AS days_from_previous,
    CASE WHEN g.reached_at IS NOT NULL
         THEN (CAST(g.reached_at AS BIGINT) - CAST(g.first_touch_at AS BIGINT)) / 86400000000.0
    END AS days_from_first_touch
FROM grid g
