-- name: csi
-- title: Customer Satisfaction Index (CSI)
-- description: One satisfaction index over every touchpoint, on 0–100, from customer satisfaction answers
--   (survey = csat, or csi where a source asks a dedicated CSI question; respondent_kind = customer).
--   Each answer is normalised to 0–100 on its own scale, 100 × (score − scale_min) / (scale_max − scale_min)
--   (CSAT 1–5 gives 1 → 0, 2 → 25, 3 → 50, 4 → 75, 5 → 100), and weighted by its touchpoint's weight;
--   CSI = Σ(weight × normalised) / Σ(weight) = weighted_score / weight.
--   Weights come from txlake.toml, e.g. [metrics] csi_weights = { support_ticket = 2.0, onboarding_session = 1.0 },
--   exposed to SQL as metrics.csi_weights (touchpoint, weight); a touchpoint not listed weighs 1.0, so by
--   default (no weights) every answer counts the same and CSI is the plain mean of the normalised scores.
--   Weights should be ≥ 0; a weight of 0 leaves a touchpoint out. E.g. support_ticket answers 5 and 3
--   (100, 50) with weight 2 and an onboarding_session answer 4 (75) with weight 1 give
--   (2 × 100 + 2 × 50 + 75) / (2 + 2 + 1) = 75. csi_unweighted = normalised_sum / responses
--   is the equal-weight index (75 in the example too, (100 + 50 + 75) / 3).
--   Dimensions are the answer's touchpoint, channel and survey and the customer's segment, country,
--   acquisition channel and support team (current values in tx.customers).
-- kind: aggregate
-- time: answered_at
-- dimensions: segment, country, acquisition_channel, support_team, touchpoint, channel, survey
-- measures: responses:sum, weight:sum, weighted_score:sum, normalised_sum:sum
-- derived: csi = weighted_score / NULLIF(weight, 0)
-- derived: csi_unweighted = normalised_sum / NULLIF(responses, 0)
-- min_group: 1
-- materialized: true
CREATE VIEW metrics.csi AS
SELECT
    a.answered_at,
    a.segment,
    a.country,
    a.acquisition_channel,
    a.support_team,
    a.touchpoint,
    a.channel,
    a.survey,
    1                             AS responses,
    a.weight                      AS weight,
    a.weight * a.normalised       AS weighted_score,
    a.normalised                  AS normalised_sum
FROM (
    SELECT
        s.answered_at,
        c.segment,
        c.country,
        c.acquisition_channel,
        c.support_team,
        s.touchpoint,
        s.channel,
        s.survey,
        COALESCE(w.weight, 1.0)                                                       AS weight,
        100.0 * (s.score - s.scale_min) / CAST(s.scale_max - s.scale_min AS DOUBLE)  AS normalised
    FROM tx.surveys AS s
    LEFT JOIN tx.customers AS c ON c.customer_key = s.respondent_key
    LEFT JOIN metrics.csi_weights AS w ON w.touchpoint = s.touchpoint
    WHERE s.survey IN ('csat', 'csi')
      AND s.respondent_kind = 'customer'
      AND s.scale_max > s.scale_min
      AND s.score BETWEEN s.scale_min AND s.scale_max
) AS a
