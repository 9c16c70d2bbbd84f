-- qualtrics → tx.survey_answers, from the `response_values`, `questions` and `responses`
-- streams: one row per value of a recorded response.
--   Answers (kind `question`): field is the export field as Qualtrics names it (`QID1`; `QID3_2`
--     for row 2 of matrix QID3 or statement 2 of a slider; `QID2_TEXT` for text entry); question
--     and question_type (`QuestionType/Selector`: `MC/NPS`, `Matrix/Likert`, `Slider/HSLIDER`,
--     `TE/ML`) come from the survey's definition; value is the recoded number of a choice or the
--     slider position, value_text the choice's label (or the number, or the text typed).
--   Embedded data (kind `embedded`): field `hidden.<name>`, value_text the value.
--   Response metadata: `meta.email` (recipientEmail), `meta.channel` (distributionChannel:
--     email, anonymous link, sms, …), `meta.external_id` (externalDataReference, the contact's id
--     in another system), when the response has them.
--   answered_at: recordedDate, when Qualtrics recorded the response (UTC).
WITH question AS (
    SELECT
        q."surveyId"                                                          AS survey_id,
        q."QuestionID"                                                        AS question_id,
        q."QuestionText"                                                      AS question_text,
        CASE WHEN q."Selector" IS NOT NULL THEN concat(q."QuestionType", '/', q."Selector")
             ELSE q."QuestionType" END                                        AS question_type
    FROM {{ connection }}.questions AS q
),
answer AS (
    SELECT
        v."surveyId"                                                          AS survey_id,
        v."responseId"                                                        AS response_id,
        CASE WHEN v.kind = 'embedded' THEN concat('hidden.', v.field) ELSE v.field END AS field,
        q.question_text                                                       AS question,
        q.question_type                                                       AS question_type,
        v.value_number                                                        AS value,
        v.value_text                                                          AS value_text,
        v."recordedDate"                                                      AS answered_at
    FROM {{ connection }}.response_values AS v
    LEFT JOIN question AS q
           ON v.kind = 'question' AND q.survey_id = v."surveyId" AND q.question_id = v.question_id
),
meta AS (
    SELECT r."surveyId" AS survey_id, r."responseId" AS response_id, 'meta.email' AS field,
           r."recipientEmail" AS value_text, r."recordedDate" AS answered_at
    FROM {{ connection }}.responses AS r
    WHERE nullif(trim(r."recipientEmail"), '') IS NOT NULL
    UNION ALL
    SELECT r."surveyId", r."responseId", 'meta.channel', r."distributionChannel", r."recordedDate"
    FROM {{ connection }}.responses AS r
    WHERE nullif(trim(r."distributionChannel"), '') IS NOT NULL
    UNION ALL
    SELECT r."surveyId", r."responseId", 'meta.external_id', r."externalDataReference", r."recordedDate"
    FROM {{ connection }}.responses AS r
    WHERE nullif(trim(r."externalDataReference"), '') IS NOT NULL
)
SELECT
    concat('{{ connection }}', ':', a.response_id, ':', a.field)              AS answer_key,
    '{{ connection }}'                                                        AS source,
    a.survey_id,
    a.response_id,
    a.field,
    a.question,
    a.question_type,
    CAST(a.value AS DOUBLE)                                                   AS value,
    a.value_text,
    CAST(a.answered_at AS TIMESTAMP)                                          AS answered_at
FROM answer AS a
UNION ALL
SELECT
    concat('{{ connection }}', ':', m.response_id, ':', m.field)              AS answer_key,
    '{{ connection }}'                                                        AS source,
    m.survey_id,
    m.response_id,
    m.field,
    CAST(NULL AS VARCHAR)                                                     AS question,
    CAST(NULL AS VARCHAR)                                                     AS question_type,
    CAST(NULL AS DOUBLE)                                                      AS value,
    m.value_text,
    CAST(m.answered_at AS TIMESTAMP)                                          AS answered_at
FROM meta AS m
