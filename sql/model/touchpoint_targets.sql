-- view: touchpoint_targets
-- grain: one row per segment × touchpoint × metric
-- description: The desired experience: the score the company aims for at each touchpoint, per customer segment and metric; the touchpoint scorecard compares actual surveys against it.
-- key: segment, touchpoint, metric
-- column segment: customer segment the target applies to (customers.segment)
-- column touchpoint: the touchpoint (surveys.touchpoint)
-- column metric: the metric the target is set in: `csat`, `ces` or `nps` (surveys.survey)
-- column target: the target value: a mean score on the survey's scale for `csat` and `ces` (lower is better for CES), a Net Promoter Score (−100…100) for `nps`
SELECT
    CAST(NULL AS VARCHAR)   AS segment,
    CAST(NULL AS VARCHAR)   AS touchpoint,
    CAST(NULL AS VARCHAR)   AS metric,
    CAST(NULL AS DOUBLE)    AS target
WHERE false
