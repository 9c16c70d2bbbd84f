-- name: csat
-- title: Customer Satisfaction (CSAT)
-- description: How satisfied customers are with a touchpoint, from customer CSAT answers on the 1–5 scale
--   (5 = very satisfied; survey = csat, respondent_kind = customer; answers outside the question's scale are ignored).
--   CSAT = % of answers in the top two boxes, 4–5 (satisfied) = 100 × satisfied / responses;
--   e.g. scores 5, 4, 3, 2 give 100 × 2 / 4 = 50%. In general the top two boxes are the two highest
--   points of the question's scale (score ≥ scale_max − 1).
--   csat_mean = mean score on the 1–5 scale = score_sum / responses (3.5 in the example).
--   Dimensions are the answer's touchpoint and channel and the customer's segment, country,
--   acquisition channel and support team (current values in tx.customers).
-- kind: aggregate
-- time: answered_at
-- dimensions: segment, country, acquisition_channel, support_team, touchpoint, channel
-- measures: responses:sum, satisfied:sum, score_sum:sum
-- derived: csat = 100.0 * satisfied / NULLIF(responses, 0)
-- derived: csat_mean = CAST(score_sum AS DOUBLE) / NULLIF(responses, 0)
-- min_group: 1
-- materialized: true
CREATE VIEW metrics.csat AS
SELECT
    s.answered_at                                           AS answered_at,
    c.segment                                               AS segment,
    c.country                                               AS country,
    c.acquisition_channel                                   AS acquisition_channel,
    c.support_team                                          AS support_team,
    s.touchpoint                                            AS touchpoint,
    s.channel                                               AS channel,
    1                                                       AS responses,
    CASE WHEN s.score >= s.scale_max - 1 THEN 1 ELSE 0 END  AS satisfied,
    CAST(s.score AS BIGINT)                                 AS score_sum
FROM tx.surveys AS s
LEFT JOIN tx.customers AS c ON c.customer_key = s.respondent_key
WHERE s.survey = 'csat'
  AND s.respondent_kind = 'customer'
  AND s.score BETWEEN s.scale_min AND s.scale_max
