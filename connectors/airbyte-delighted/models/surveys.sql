-- airbyte-delighted → tx.surveys, from the `survey_responses` stream of Airbyte's Delighted
-- manifest (one row per response: the table keeps each response's latest version).
-- Delighted asks one scored question per survey; its survey_type names the scale:
--   nps  → survey `nps`, 0–10 (the Net Promoter question), respondent_kind `customer`;
--   csat → survey `csat`, 1–5 (5 = very satisfied), respondent_kind `customer`.
-- Other survey types (ces, whose 1–7 scale runs the other way from tx's CES; enps, whose
-- respondents are employees Delighted knows only by e-mail; 5-star, smileys, thumbs) are left
-- out rather than guessed onto a scale.
--   respondent_key: the person (from `people`, by the response's `person` id) matched to
--     tx.customers by person_key of the e-mail; NULL when no CRM knows the person.
--   touchpoint: Delighted does not say what the survey was about: NULL.
--   channel: Delighted does not say how it was answered (e-mail, SMS, web, link): NULL.
--   answered_at: updated_at (when the person last set the score), else created_at; unix seconds.
WITH person AS (
    SELECT p.id AS person_id, encode(sha256(lower(trim(p.email))), 'hex') AS person_key
    FROM {{ connection }}.people AS p
    WHERE nullif(trim(p.email), '') IS NOT NULL
),
customer AS (
    SELECT c.person_key, min(c.customer_key) AS customer_key
    FROM tx.customers AS c
    WHERE c.person_key IS NOT NULL
    GROUP BY c.person_key
)
SELECT
    concat('{{ connection }}', ':', CAST(r.id AS VARCHAR))                  AS response_key,
    'customer'                                                              AS respondent_kind,
    customer.customer_key                                                   AS respondent_key,
    r.survey_type                                                           AS survey,
    CAST(r.score AS INT)                                                    AS score,
    CASE r.survey_type WHEN 'nps' THEN 0 ELSE 1 END                         AS scale_min,
    CASE r.survey_type WHEN 'nps' THEN 10 ELSE 5 END                        AS scale_max,
    CAST(NULL AS VARCHAR)                                                   AS touchpoint,
    CAST(NULL AS VARCHAR)                                                   AS channel,
    CAST(NULL AS VARCHAR)                                                   AS ticket_key,
    CAST(to_timestamp_seconds(CAST(coalesce(r.updated_at, r.created_at) AS BIGINT)) AS TIMESTAMP) AS answered_at
FROM {{ connection }}.survey_responses AS r
LEFT JOIN person ON person.person_id = CAST(r.person AS VARCHAR)
LEFT JOIN customer ON customer.person_key = person.person_key
WHERE r.survey_type IN ('nps', 'csat')
  AND r.score IS NOT NULL
