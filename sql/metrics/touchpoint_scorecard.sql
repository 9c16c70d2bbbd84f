-- name: touchpoint_scorecard
-- title: Touchpoint scorecard (actual vs target)
-- description: The experience delivered against the desired experience, per segment × touchpoint × metric:
--   every customer CSAT, CES or NPS answer whose (customer segment, touchpoint, survey) has a target in
--   tx.touchpoint_targets is one row (answers without a target are left out), carrying its actual value and
--   its target. actual_sum adds the score for csat (1–5) and ces (1–7, lower is better) and +100 for an
--   NPS promoter (9–10), 0 for a passive (7–8), −100 for a detractor (0–6), so that
--   actual = actual_sum / responses is the mean CSAT, the mean CES or the NPS; target_sum adds the
--   target once per answer, so target = target_sum / responses is the target (answer-weighted when a
--   group spans segments or touchpoints). gap = actual − target in the metric's unit.
--   better_by = how much better than target, the same sign convention for every metric
--   (positive = better): gap for csat and nps, −gap (target − actual) for ces, where lower is better;
--   meets_target = better_by ≥ 0. E.g. smb support_ticket ces answers 2 and 3 against target 3.0:
--   actual 2.5, gap −0.5, better_by +0.5, meets_target true.
--   Group by metric (or filter one): a group that mixes metrics has no common scale, so its actual,
--   target, gap, better_by and meets_target are NULL (csat_responses, ces_responses, nps_responses count
--   each metric's answers). If several connections set a target for the same cell, their mean is used.
-- kind: aggregate
-- time: answered_at
-- dimensions: segment, touchpoint, metric, channel
-- measures: responses:sum, actual_sum:sum, target_sum:sum, csat_responses:sum, ces_responses:sum, nps_responses:sum
-- derived: actual = CASE WHEN greatest(csat_responses, ces_responses, nps_responses) = responses THEN actual_sum / NULLIF(responses, 0) END
-- derived: target = CASE WHEN greatest(csat_responses, ces_responses, nps_responses) = responses THEN target_sum / NULLIF(responses, 0) END
-- derived: gap = actual - target
-- derived: better_by = CASE WHEN ces_responses = responses THEN target - actual ELSE actual - target END
-- derived: meets_target = better_by >= -0.000000001
-- min_group: 1
-- materialized: true
CREATE VIEW metrics.touchpoint_scorecard AS
SELECT
    s.answered_at                                          AS answered_at,
    c.segment                                              AS segment,
    s.touchpoint                                           AS touchpoint,
    t.metric                                               AS metric,
    s.channel                                              AS channel,
    1                                                      AS responses,
    CASE
        WHEN t.metric = 'nps' THEN
            CASE WHEN s.score >= 9 THEN 100.0 WHEN s.score >= 7 THEN 0.0 ELSE -100.0 END
        ELSE CAST(s.score AS DOUBLE)
    END                                                    AS actual_sum,
    t.target                                               AS target_sum,
    CASE WHEN t.metric = 'csat' THEN 1 ELSE 0 END          AS csat_responses,
    CASE WHEN t.metric = 'ces' THEN 1 ELSE 0 END           AS ces_responses,
    CASE WHEN t.metric = 'nps' THEN 1 ELSE 0 END           AS nps_responses
FROM tx.surveys AS s
JOIN tx.customers AS c ON c.customer_key = s.respondent_key
JOIN (
    SELECT segment, touchpoint, metric, avg(target) AS target
    FROM tx.touchpoint_targets
    GROUP BY segment, touchpoint, metric
) AS t
  ON t.segment = c.segment AND t.touchpoint = s.touchpoint AND t.metric = s.survey
WHERE s.respondent_kind = 'customer'
  AND s.survey IN ('csat', 'ces', 'nps')
  AND s.score BETWEEN s.scale_min AND s.scale_max
