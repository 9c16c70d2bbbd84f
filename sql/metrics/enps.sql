-- name: enps
-- title: Employee Net Promoter Score
-- description: How likely employees are to recommend us as an employer, from eNPS answers on the 0–10 scale
--   (survey = enps, respondent_kind = employee; answers outside 0–10 are ignored).
--   Promoters answer 9–10, passives 7–8, detractors 0–6.
--   eNPS = 100 × (promoters − detractors) / responses, from −100 to +100.
--   95% confidence interval (normal approximation, from the same sums, so right for any grouping):
--   with n = responses, p = promoters / n and q = detractors / n, var = (p + q − (p − q)²) / n,
--   enps_margin = 100 × 1.96 × √var and enps_ci_low / enps_ci_high = eNPS ∓ enps_margin, clipped to −100…100.
--   Being a normal approximation, it is rough for small groups and has zero width when every answer is in one class.
--   Anonymity: a group (any grouping, any period) with fewer than 5 distinct respondents is suppressed
--   (min_group 5 on `respondents`, a distinct count of employees), so no single employee's answer can be read,
--   however many eNPS campaigns the period spans.
--   Dimensions are the employee's department, team and role (current values in tx.employees).
-- kind: aggregate
-- time: answered_at
-- dimensions: department, team, role
-- measures: responses:sum, respondents:count_distinct, promoters:sum, passives:sum, detractors:sum, score_sum:sum
-- derived: enps = 100.0 * (promoters - detractors) / NULLIF(responses, 0)
-- derived: enps_margin = 196.0 * sqrt(greatest(0.0, (CAST(promoters + detractors AS DOUBLE) / NULLIF(responses, 0) - power(enps / 100.0, 2)) / NULLIF(responses, 0)))
-- derived: enps_ci_low = greatest(-100.0, enps - enps_margin)
-- derived: enps_ci_high = least(100.0, enps + enps_margin)
-- derived: promoter_share = 100.0 * promoters / NULLIF(responses, 0)
-- derived: detractor_share = 100.0 * detractors / NULLIF(responses, 0)
-- derived: mean_score = CAST(score_sum AS DOUBLE) / NULLIF(responses, 0)
-- min_group: 5
-- min_group_measure: respondents
CREATE VIEW metrics.enps AS
SELECT
    s.answered_at                                        AS answered_at,
    e.department                                         AS department,
    e.team                                               AS team,
    e.role                                               AS role,
    1                                                    AS responses,
    s.respondent_key                                     AS respondents,
    CASE WHEN s.score >= 9 THEN 1 ELSE 0 END             AS promoters,
    CASE WHEN s.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END  AS passives,
    CASE WHEN s.score <= 6 THEN 1 ELSE 0 END             AS detractors,
    CAST(s.score AS BIGINT)                              AS score_sum
FROM tx.surveys AS s
LEFT JOIN tx.employees AS e ON e.employee_key = s.respondent_key
WHERE s.survey = 'enps'
  AND s.respondent_kind = 'employee'
  AND s.score BETWEEN 0 AND 10
