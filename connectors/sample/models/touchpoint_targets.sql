-- sample → tx.touchpoint_targets, straight from the `touchpoint_targets` stream
-- (3 segments × 5 touchpoint/metric pairs).
SELECT
    t.segment    AS segment,
    t.touchpoint AS touchpoint,
    t.metric     AS metric,
    t.target     AS target
FROM {{ connection }}.touchpoint_targets AS t
