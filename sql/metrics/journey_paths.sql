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
-- materialized: true
CREATE VIEW metrics.journey_paths AS
-- A customer's path, row by row from its stage times: each reached stage becomes a mark
-- "<20-digit microseconds><stage_order>:<stage>", so sorting the marks as text orders the
-- stages by when they were first reached (ties by stage order); the digits are then cut.
WITH marked AS (
    SELECT
        customer_key,
        COALESCE(segment, 'unknown') AS segment,
        array_sort(make_array(
            CASE WHEN t1 IS NOT NULL THEN lpad(CAST(CAST(t1 AS BIGINT) AS VARCHAR), 20, '0') || '1:awareness' END,
            CASE WHEN t2 IS NOT NULL THEN lpad(CAST(CAST(t2 AS BIGINT) AS VARCHAR), 20, '0') || '2:consideration' END,
            CASE WHEN t3 IS NOT NULL THEN lpad(CAST(CAST(t3 AS BIGINT) AS VARCHAR), 20, '0') || '3:purchase' END,
            CASE WHEN t4 IS NOT NULL THEN lpad(CAST(CAST(t4 AS BIGINT) AS VARCHAR), 20, '0') || '4:onboarding' END,
            CASE WHEN t5 IS NOT NULL THEN lpad(CAST(CAST(t5 AS BIGINT) AS VARCHAR), 20, '0') || '5:usage' END,
            CASE WHEN t6 IS NOT NULL THEN lpad(CAST(CAST(t6 AS BIGINT) AS VARCHAR), 20, '0') || '6:support' END,
            CASE WHEN t7 IS NOT NULL THEN lpad(CAST(CAST(t7 AS BIGINT) AS VARCHAR), 20, '0') || '7:renewal' END,
            CASE WHEN t8 IS NOT NULL THEN lpad(CAST(CAST(t8 AS BIGINT) AS VARCHAR), 20, '0') || '8:advocacy' END
        ), 'ASC', 'NULLS FIRST') AS marks,
        CAST(t1 IS NOT NULL AS BIGINT) + CAST(t2 IS NOT NULL AS BIGINT) + CAST(t3 IS NOT NULL AS BIGINT) + CAST(t4 IS NOT NULL AS BIGINT) + CAST(t5 IS NOT NULL AS BIGINT) + CAST(t6 IS NOT NULL AS BIGINT) + CAST(t7 IS NOT NULL AS BIGINT) + CAST(t8 IS NOT NULL AS BIGINT) AS stages,
        -- in stage order: no stage was first reached before one that comes earlier in the
        -- journey (greatest skips the stages not reached)
        COALESCE(t2 >= t1, true)
            AND COALESCE(t3 >= greatest(t1, t2), true)
            AND COALESCE(t4 >= greatest(t1, t2, t3), true)
            AND COALESCE(t5 >= greatest(t1, t2, t3, t4), true)
            AND COALESCE(t6 >= greatest(t1, t2, t3, t4, t5), true)
            AND COALESCE(t7 >= greatest(t1, t2, t3, t4, t5, t6), true)
            AND COALESCE(t8 >= greatest(t1, t2, t3, t4, t5, t6, t7), true) AS in_order
    FROM tx.customer_stage_times
),
segmented AS (
    SELECT
        customer_key,
        segment,
        regexp_replace(array_to_string(marks, ' > '), '[0-9]{21}:', '', 'g') AS path,
        stages,
        regexp_replace(array_element(marks, -1), '[0-9]{21}:', '') AS last_stage,
        in_order
    FROM marked
    WHERE stages > 0
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
