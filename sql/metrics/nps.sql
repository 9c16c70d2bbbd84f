-- name: nps
-- title: Net Promoter Score (customers)
-- description: How likely customers are to recommend us, from customer NPS answers on the 0–10 scale
--   (survey = nps, respondent_kind = customer; answers outside 0–10 are ignored).
--   Promoters answer 9–10, passives 7–8, detractors 0–6.
--   NPS = 100 × (promoters − detractors) / responses, from −100 (all detractors) to +100 (all promoters);
--   e.g. 6 promoters, 2 passives and 4 detractors of 12 answers give 100 × (6 − 4) / 12 = +16.7.
--   95% confidence interval (normal approximation, from the same sums, so right for any grouping):
--   with n = responses, p = promoters / n and q = detractors / n, var = (p + q − (p − q)²) / n,
--   nps_margin = 100 × 1.96 × √var and nps_ci_low / nps_ci_high = NPS ∓ nps_margin, clipped to −100…100.
--   Being a normal approximation, it is rough for small groups and has zero width when every answer is in one class.
--   promoter_share and detractor_share are the % of answers; mean_score is the mean answer (0–10).
--   Dimensions are the answer's touchpoint and channel and the customer's segment, country,
--   acquisition channel and support team (current values in tx.customers).
-- kind: aggregate
-- time: answered_at
-- dimensions: segment, country, acquisition_channel, support_team, touchpoint, channel
-- measures: responses:sum, promoters:sum, passives:sum, detractors:sum, score_sum:sum
-- derived: nps = 100.0 * (promoters - detractors) / NULLIF(responses, 0)
-- derived: nps_margin = 196.0 * sqrt(greatest(0.0, (CAST(promoters + detractors AS DOUBLE) / NULLIF(responses, 0) - power(nps / 100.0, 2)) / NULLIF(responses, 0)))
-- derived: nps_ci_low = greatest(-100.0, nps - nps_margin)
-- derived: nps_ci_high = least(100.0, nps + nps_margin)
-- derived: promoter_share = 100.0 * promoters / NULLIF(responses, 0)
-- derived: detractor_share = 100.0 * detractors / NULLIF(responses, 0)
-- derived: mean_score = CAST(score_sum AS DOUBLE) / NULLIF(responses, 0)
-- min_group: 1
-- materialized: true
CREATE VIEW metrics.nps AS
SELECT
    s.answered_at                                        AS answered_at,
    c.segment                                            AS segment,
    c.country                                            AS country,
    c.acquisition_channel                                AS acquisition_channel,
    c.support_team                                       AS support_team,
    s.touchpoint                                         AS touchpoint,
    s.channel                                            AS channel,
    1                                                    AS responses,
    CASE WHEN s.score >= 9 THEN 1 ELSE 0 END             AS promoters,
    CASE WHEN s.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END  AS passives,
    CASE WHEN s.score <= 6 THEN 1 ELSE 0 END             AS detractors,
    CAST(s.score AS BIGINT)                              AS score_sum
FROM tx.surveys AS s
LEFT JOIN tx.customers AS c ON c.customer_key = s.respondent_key
WHERE s.survey = 'nps'
  AND s.respondent_kind = 'customer'
  AND s.score BETWEEN 0 AND 10
