-- name: journey_paths
-- title: Customer journey paths
-- description: The most frequent journeys: a customer's path is the distinct journey stages
--   they have reached (tx.touchpoints.stage), in the order they first reached each one, joined
--   with ' > ' (e.g. `awareness > consideration > purchase > onboarding`); a path that stops
--   early is a drop-off. One row per path × segment, plus rows with segment `all` for every
--   customer (filter segment=all for the overall ranking; customers without a segment count as
--   `unknown`). customers = customers with exactly that path; share_pct = 100 × customers /
--   customers in the same segment (so the shares of a segment add up to 100); path_rank = 1 for
--   the most frequent path of the segment (ties broken by path); stages = stages in the path;
--   last_stage = the stage reached last; in_stage_order = true when the stages were first
--   reached in the canonical order (awareness, consideration, purchase, onboarding, usage,
--   support, renewal, advocacy). A table metric (returned as it is), ordered by customers,
--   most frequent first.
-- kind: table
-- dimensions: segment, path, last_stage, in_stage_order
-- order_by: customers desc, segment, path
CREATE VIEW metrics.journey_paths AS
WITH stages (stage_order, stage) AS (
    VALUES (1, 'awareness'), (2, 'consideration'), (3, 'purchase'), (4, 'onboarding'),
           (5, 'usage'), (6, 'support'), (7, 'renewal'), (8, 'advocacy')
),
firsts AS (
    SELECT t.customer_key, t.stage, min(t.occurred_at) AS reached_at
    FROM tx.touchpoints t
    WHERE t.customer_key IS NOT NULL AND t.stage IS NOT NULL
    GROUP BY t.customer_key, t.stage
),
-- in_order: this stage was not first reached before a stage that comes earlier in the journey.
ordered AS (
    SELECT
        f.customer_key,
        f.stage,
        f.reached_at,
        s.stage_order,
        COALESCE(
            f.reached_at >= max(f.reached_at) OVER (
                PARTITION BY f.customer_key ORDER BY s.stage_order
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
            true) AS in_order
    FROM firsts f
    LEFT JOIN stages s ON s.stage = f.stage
),
paths AS (
    SELECT
        customer_key,
        string_agg(stage, ' > ' ORDER BY reached_at, stage_order) AS path,
        count(*) AS stages,
        last_value(stage ORDER BY reached_at, stage_order) AS last_stage,
        bool_and(in_order) AS in_order
    FROM ordered
    GROUP BY customer_key
),
segmented AS (
    SELECT p.*, COALESCE(c.segment, 'unknown') AS segment
    FROM paths p
    LEFT JOIN tx.customers c ON c.customer_key = p.customer_key
),
counted AS (
    SELECT
        segment,
        path,
        max(stages) AS stages,
        max(last_stage) AS last_stage,
        bool_and(in_order) AS in_stage_order,
        count(*) AS customers
    FROM segmented
    GROUP BY GROUPING SETS ((path), (path, segment))
)
SELECT
    COALESCE(segment, 'all') AS segment,
    CAST(row_number() OVER (PARTITION BY COALESCE(segment, 'all') ORDER BY customers DESC, path) AS BIGINT) AS path_rank,
    path,
    stages,
    last_stage,
    in_stage_order,
    customers,
    100.0 * customers / sum(customers) OVER (PARTITION BY COALESCE(segment, 'all')) AS share_pct
FROM counted
ORDER BY customers DESC, segment, path
