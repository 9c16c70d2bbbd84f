-- survey mappings → tx.surveys: every connection's `survey_mapping` (txlake.toml), as the rows
-- of tx.survey_mapping, applied to its answers in tx.survey_answers. One row per answer to a
-- mapped question:
--   A mapping row with a survey_id (a `questions` key `<survey id>/<field>`) applies to that
--   survey's answers only; without one, to the field in every survey of the connection.
--   response_key: the answer's key, `<connection>:<response id>:<question field>`.
--   score: the answer on the mapped scale. A question mapped with `rescale` goes linearly from
--     its own scale onto the survey kind's (target_min + (value − scale_min) × (target_max −
--     target_min) / (scale_max − scale_min), rounded: 1–10 → 0–10 takes 5 to 4). Answers that
--     are not a whole step of the question's scale (empty, text, out of range) are left out
--     here and counted by the metric survey_coverage as out_of_scale.
--   respondent_key: with `respondent.connection`, `<that connection>:<id>` from the field;
--     otherwise the field is an e-mail, matched through person_key to the customer (smallest
--     customer_key when several CRMs know the person) or to the employee (the current
--     employment, else the latest) of any connection; NULL when nobody matches. Unmatched
--     answers are kept (respondent_key NULL) and counted by survey_coverage.
--   touchpoint: the question's own touchpoint, else the touchpoint field, else the fixed value.
--   channel: the channel field, else the fixed value. ticket_key: `<ticket connection>:<id>`.
WITH context_fields AS (
    SELECT DISTINCT source, respondent_field AS field FROM tx.survey_mapping
    UNION SELECT DISTINCT source, touchpoint_field FROM tx.survey_mapping WHERE touchpoint_field IS NOT NULL
    UNION SELECT DISTINCT source, channel_field FROM tx.survey_mapping WHERE channel_field IS NOT NULL
    UNION SELECT DISTINCT source, ticket_field FROM tx.survey_mapping WHERE ticket_field IS NOT NULL
),
context AS (
    SELECT a.source, a.response_id, a.field, max(nullif(trim(a.value_text), '')) AS value_text
    FROM tx.survey_answers AS a
    JOIN context_fields AS f ON f.source = a.source AND f.field = a.field
    GROUP BY a.source, a.response_id, a.field
),
answer AS (
    SELECT a.source, a.response_id, a.field, a.value, a.answered_at,
           m.survey, m.respondent_kind, m.scale_min, m.scale_max, m.target_min, m.target_max,
           m.question_touchpoint, m.respondent_field, m.respondent_connection,
           m.touchpoint_field, m.touchpoint_value, m.channel_field, m.channel_value,
           m.ticket_field, m.ticket_connection
    FROM tx.survey_answers AS a
    JOIN tx.survey_mapping AS m
        ON m.source = a.source AND m.field = a.field AND (m.survey_id IS NULL OR m.survey_id = a.survey_id)
    WHERE a.value BETWEEN m.scale_min AND m.scale_max AND a.value = round(a.value)
),
customer AS (
    SELECT c.person_key, min(c.customer_key) AS customer_key
    FROM tx.customers AS c
    WHERE c.person_key IS NOT NULL
    GROUP BY c.person_key
),
employee AS (
    SELECT ranked.person_key, ranked.employee_key
    FROM (
        SELECT e.person_key, e.employee_key,
               row_number() OVER (PARTITION BY e.person_key
                                  ORDER BY e.terminated_at IS NULL DESC, e.hired_at DESC, e.employee_key) AS n
        FROM tx.employees AS e
        WHERE e.person_key IS NOT NULL
    ) AS ranked
    WHERE ranked.n = 1
),
resolved AS (
    SELECT answer.*,
           respondent.value_text AS respondent_value,
           CASE WHEN answer.respondent_connection IS NULL AND respondent.value_text IS NOT NULL
                THEN encode(sha256(lower(respondent.value_text)), 'hex')
           END AS person_key,
           touchpoint.value_text AS touchpoint_text,
           channel.value_text AS channel_text,
           ticket.value_text AS ticket_text
    FROM answer
    LEFT JOIN context AS respondent
        ON respondent.source = answer.source AND respondent.response_id = answer.response_id
       AND respondent.field = answer.respondent_field
    LEFT JOIN context AS touchpoint
        ON touchpoint.source = answer.source AND touchpoint.response_id = answer.response_id
       AND touchpoint.field = answer.touchpoint_field
    LEFT JOIN context AS channel
        ON channel.source = answer.source AND channel.response_id = answer.response_id
       AND channel.field = answer.channel_field
    LEFT JOIN context AS ticket
        ON ticket.source = answer.source AND ticket.response_id = answer.response_id
       AND ticket.field = answer.ticket_field
)
SELECT
    concat(r.source, ':', r.response_id, ':', r.field)                      AS response_key,
    r.respondent_kind                                                       AS respondent_kind,
    CASE
        WHEN r.respondent_connection IS NOT NULL AND r.respondent_value IS NOT NULL
            THEN concat(r.respondent_connection, ':', r.respondent_value)
        WHEN r.respondent_kind = 'customer' THEN customer.customer_key
        ELSE employee.employee_key
    END                                                                     AS respondent_key,
    r.survey                                                                AS survey,
    CAST(CASE
        WHEN r.scale_min = r.target_min AND r.scale_max = r.target_max THEN r.value
        ELSE round(r.target_min + (r.value - r.scale_min) * (r.target_max - r.target_min)
                                  / CAST(r.scale_max - r.scale_min AS DOUBLE))
    END AS INT)                                                             AS score,
    CAST(r.target_min AS INT)                                               AS scale_min,
    CAST(r.target_max AS INT)                                               AS scale_max,
    coalesce(r.question_touchpoint, r.touchpoint_text, r.touchpoint_value)  AS touchpoint,
    coalesce(r.channel_text, r.channel_value)                               AS channel,
    CASE WHEN r.ticket_connection IS NOT NULL AND r.ticket_text IS NOT NULL
         THEN concat(r.ticket_connection, ':', r.ticket_text)
    END                                                                     AS ticket_key,
    r.answered_at                                                           AS answered_at
FROM resolved AS r
LEFT JOIN customer ON r.respondent_kind = 'customer' AND customer.person_key = r.person_key
LEFT JOIN employee ON r.respondent_kind = 'employee' AND employee.person_key = r.person_key
