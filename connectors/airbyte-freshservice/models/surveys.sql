-- airbyte-freshservice → tx.surveys, from the manifest's `satisfaction_survey_responses`
-- stream (GET /api/v2/tickets/{id}/csat_response for every ticket): one CSAT answer per
-- survey response, its overall rating on the 1–5 scale of Freshservice's default satisfaction
-- survey, read from overall_rating_text (Extremely dissatisfied 1, Dissatisfied / Not satisfied
-- 2, Neutral 3, Satisfied 4, Extremely satisfied 5), else overall_rating when it lies in 1–5.
--   respondent_kind: `customer` (the service desk's requester); respondent_key and ticket_key:
--     NULL, because the manifest's records carry neither the ticket nor the requester (the
--     ticket id is only the partition the response was read under, not a field).
--   touchpoint: `support_ticket`; channel: not recorded (NULL); answered_at: created_at.
SELECT
    concat('{{ connection }}', ':', CAST(r.id AS VARCHAR))          AS response_key,
    'customer'                                                      AS respondent_kind,
    CAST(NULL AS VARCHAR)                                           AS respondent_key,
    'csat'                                                          AS survey,
    CASE lower(trim(r.overall_rating_text))
        WHEN 'extremely dissatisfied' THEN 1
        WHEN 'dissatisfied' THEN 2
        WHEN 'not satisfied' THEN 2
        WHEN 'neutral' THEN 3
        WHEN 'satisfied' THEN 4
        WHEN 'extremely satisfied' THEN 5
        ELSE CASE WHEN r.overall_rating BETWEEN 1 AND 5 THEN r.overall_rating END
    END                                                             AS score,
    1                                                               AS scale_min,
    5                                                               AS scale_max,
    'support_ticket'                                                AS touchpoint,
    CAST(NULL AS VARCHAR)                                           AS channel,
    CAST(NULL AS VARCHAR)                                           AS ticket_key,
    CAST(r.created_at AS TIMESTAMP)                                 AS answered_at
FROM {{ connection }}.satisfaction_survey_responses AS r
WHERE r.id IS NOT NULL
