-- name: ces
-- title: Customer Effort Score (CES)
-- description: How easy it was for customers to get something done, from customer CES answers on the 1–7 scale
--   where 1 = very easy and 7 = very difficult, so LOWER IS BETTER
--   (survey = ces, respondent_kind = customer; answers outside the question's scale are ignored).
--   CES = mean effort = effort_sum / responses, on 1–7; e.g. scores 1, 2, 4, 7 give (1 + 2 + 4 + 7) / 4 = 3.5.
--   low_effort_share = % of low-effort answers, 1–2 (the two easiest points of the scale,
--   score ≤ scale_min + 1) = 100 × low_effort / responses (50% in the example).
--   Dimensions are the answer's touchpoint and channel and the customer's segment, country,
--   acquisition channel and support team (current values in tx.customers).
-- kind: aggregate
-- time: answered_at
-- dimensions: segment, country, acquisition_channel, support_team, touchpoint, channel
-- measures: responses:sum, effort_sum:sum, low_effort:sum
-- derived: ces = CAST(effort_sum AS DOUBLE) / NULLIF(responses, 0)
-- derived: low_effort_share = 100.0 * low_effort / NULLIF(responses, 0)
-- min_group: 1
-- materialized: true
CREATE VIEW metrics.ces AS
SELECT
    s.answered_at                                           AS answered_at,
    c.segment                                               AS segment,
    c.country                                               AS country,
    c.acquisition_channel                                   AS acquisition_channel,
    c.support_team                                          AS support_team,
    s.touchpoint                                            AS touchpoint,
    s.channel                                               AS channel,
    1                                                       AS responses,
    CAST(s.score AS BIGINT)                                 AS effort_sum,
    CASE WHEN s.score <= s.scale_min + 1 THEN 1 ELSE 0 END  AS low_effort
FROM tx.surveys AS s
LEFT JOIN tx.customers AS c ON c.customer_key = s.respondent_key
WHERE s.survey = 'ces'
  AND s.respondent_kind = 'customer'
  AND s.score BETWEEN s.scale_min AND s.scale_max
