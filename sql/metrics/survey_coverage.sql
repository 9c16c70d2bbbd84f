-- name: survey_coverage
-- title: Survey answers matched to people
-- description: How many satisfaction answers (tx.surveys) each source contributes, how many found their respondent
--   among the customers or employees (respondent_key set) and how many did not (unmatched: the respondent's
--   e-mail or id matched nobody; the answer is kept with respondent_key NULL, counts in overall NPS/CSAT/CES but
--   in no segment or department). For connections with a survey mapping it also counts the answers to mapped
--   questions that were left out because they are not a whole step of the question's scale (out_of_scale: an
--   empty or text answer, or a number outside the scale the mapping gives).
--   source is the connection (the first part of response_key); answers = matched + unmatched;
--   matched_share = 100 × matched / answers. E.g. 8 answers of which 6 matched, 2 unmatched, plus 1 answer of 11
--   on a 0–10 question: answers 8, matched 6, unmatched 2, out_of_scale 1, matched_share 75.
-- kind: aggregate
-- time: answered_at
-- dimensions: source, survey, respondent_kind
-- measures: answers:sum, matched:sum, unmatched:sum, out_of_scale:sum
-- derived: matched_share = 100.0 * matched / NULLIF(answers, 0)
-- min_group: 1
-- min_group_measure: answers
CREATE VIEW metrics.survey_coverage AS
SELECT
    s.answered_at                                              AS answered_at,
    split_part(s.response_key, ':', 1)                         AS source,
    s.survey                                                   AS survey,
    s.respondent_kind                                          AS respondent_kind,
    1                                                          AS answers,
    CASE WHEN s.respondent_key IS NOT NULL THEN 1 ELSE 0 END   AS matched,
    CASE WHEN s.respondent_key IS NULL THEN 1 ELSE 0 END       AS unmatched,
    0                                                          AS out_of_scale
FROM tx.surveys AS s
UNION ALL
SELECT
    a.answered_at                                              AS answered_at,
    a.source                                                   AS source,
    m.survey                                                   AS survey,
    m.respondent_kind                                          AS respondent_kind,
    0                                                          AS answers,
    0                                                          AS matched,
    0                                                          AS unmatched,
    1                                                          AS out_of_scale
FROM tx.survey_answers AS a
JOIN tx.survey_mapping AS m
    ON m.source = a.source AND m.field = a.field AND (m.survey_id IS NULL OR m.survey_id = a.survey_id)
WHERE a.value IS NULL
   OR NOT (a.value BETWEEN m.scale_min AND m.scale_max AND a.value = round(a.value))
