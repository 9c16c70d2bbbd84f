-- surveymonkey → tx.survey_answers, from the `responses` and `survey_details` streams: one
-- row per answered question (per row of a matrix with several rows), per custom variable
-- and per piece of metadata of a completed response.
--   answers: field = the question id, or `<question id>.<row id>` for a row of a matrix
--     with several rows (a one-row matrix, such as NPS, is its question id); question = the
--     question's heading (and the row's text); question_type = `<family>/<subtype>`
--     (`matrix/rating`, `single_choice/vertical`, `open_ended/essay`, …).
--     value: the chosen choice as a number: its weight when every choice of the question has
--     one, else its text when every text is a number (NPS 0–10), else its position on a
--     rating scale (matrix/rating: 1…n); NULL for other choices, text and several choices.
--     value_text: the choice's text, the respondent's own text (open-ended, "other"), or
--     several choices' texts joined with ", " in the survey's order.
--   custom variables: field = `hidden.<name>`, value_text = the value the survey link carried.
--   metadata: `meta.email` (the contact's e-mail, or the recipient's of an e-mail collector),
--     `meta.collector_id`.
--   answered_at: date_modified (a completed response's last change: its completion).
WITH detail_pages AS (
    SELECT d.id AS survey_id, unnest(d.pages) AS page
    FROM {{ connection }}.survey_details AS d
),
detail_questions AS (
    SELECT dp.survey_id, unnest(dp.page['questions']) AS q
    FROM detail_pages AS dp
),
questions AS (
    SELECT
        dq.survey_id,
        dq.q['id']                                              AS question_id,
        dq.q['family']                                          AS family,
        dq.q['subtype']                                         AS subtype,
        concat(dq.q['family'], '/', dq.q['subtype'])             AS question_type,
        dq.q['headings'][1]['heading']                          AS heading,
        coalesce(array_length(dq.q['answers']['rows']), 0)      AS row_count,
        dq.q['answers']['rows']                                 AS row_list,
        dq.q['answers']['choices']                              AS choice_list
    FROM detail_questions AS dq
),
question_rows AS (
    SELECT qr.survey_id, qr.question_id, qr.item['id'] AS row_id, qr.item['text'] AS row_text
    FROM (SELECT survey_id, question_id, unnest(row_list) AS item FROM questions) AS qr
),
choice_items AS (
    SELECT ci.survey_id, ci.question_id, ci.family, ci.subtype, ci.item['id'] AS choice_id, ci.item['text'] AS text,
           ci.item['position'] AS position, ci.item['weight'] AS weight
    FROM (SELECT survey_id, question_id, family, subtype, unnest(choice_list) AS item FROM questions) AS ci
),
choices AS (
    SELECT
        c.survey_id,
        c.question_id,
        c.choice_id,
        c.text,
        c.position,
        CASE
            WHEN count(c.weight) OVER w = count(*) OVER w THEN CAST(c.weight AS DOUBLE)
            WHEN count(TRY_CAST(c.text AS DOUBLE)) OVER w = count(*) OVER w THEN TRY_CAST(c.text AS DOUBLE)
            WHEN c.family = 'matrix' AND c.subtype = 'rating' THEN CAST(c.position AS DOUBLE)
        END AS value
    FROM choice_items AS c
    WINDOW w AS (PARTITION BY c.survey_id, c.question_id)
),
response_pages AS (
    SELECT rp.survey_id, rp.id AS response_id, rp.date_modified, unnest(rp.pages) AS page
    FROM {{ connection }}.responses AS rp
),
response_questions AS (
    SELECT pg.survey_id, pg.response_id, pg.date_modified, unnest(pg.page['questions']) AS q
    FROM response_pages AS pg
),
response_answers AS (
    -- The answer's parts as plain columns before any join: DataFusion 55's optimizer cannot
    -- push struct field reads through the joins below (an ambiguous extracted column).
    SELECT ra.survey_id, ra.response_id, ra.date_modified, ra.question_id,
           ra.answer['choice_id'] AS choice_id, ra.answer['row_id'] AS row_id,
           ra.answer['other_id'] AS other_id, ra.answer['text'] AS answer_text
    FROM (
        SELECT rq.survey_id, rq.response_id, rq.date_modified, rq.q['id'] AS question_id, unnest(rq.q['answers']) AS answer
        FROM response_questions AS rq
    ) AS ra
),
answer_values AS (
    SELECT
        ans.survey_id,
        ans.response_id,
        ans.date_modified,
        CASE WHEN questions.row_count > 1 AND ans.row_id IS NOT NULL
             THEN concat(ans.question_id, '.', ans.row_id)
             ELSE ans.question_id
        END                                                                     AS field,
        CASE WHEN questions.row_count > 1 AND question_rows.row_text IS NOT NULL
             THEN concat(questions.heading, ' ', question_rows.row_text)
             ELSE questions.heading
        END                                                                     AS question,
        questions.question_type,
        CASE WHEN ans.other_id IS NULL THEN choices.value END          AS value,
        coalesce(ans.answer_text, choices.text)                                AS value_text,
        coalesce(choices.position, 1000)                                        AS sort_key
    FROM response_answers AS ans
    LEFT JOIN questions ON questions.survey_id = ans.survey_id AND questions.question_id = ans.question_id
    LEFT JOIN question_rows
        ON question_rows.survey_id = ans.survey_id AND question_rows.question_id = ans.question_id
       AND question_rows.row_id = ans.row_id
    LEFT JOIN choices
        ON choices.survey_id = ans.survey_id AND choices.question_id = ans.question_id
       AND choices.choice_id = ans.choice_id
),
answer_rows AS (
    SELECT
        survey_id,
        response_id,
        field,
        max(question)                                                           AS question,
        max(question_type)                                                      AS question_type,
        CASE WHEN count(*) = 1 THEN max(value) END                              AS value,
        array_to_string(array_agg(value_text ORDER BY sort_key), ', ')          AS value_text,
        max(date_modified)                                                      AS answered_at
    FROM answer_values
    GROUP BY survey_id, response_id, field
),
variables AS (
    SELECT v.survey_id, v.response_id, v.date_modified, v.entry['key'] AS name, v.entry['value'] AS value_text
    FROM (
        SELECT r.survey_id, r.id AS response_id, r.date_modified, unnest(map_entries(r.custom_variables)) AS entry
        FROM {{ connection }}.responses AS r
        WHERE r.custom_variables IS NOT NULL
    ) AS v
),
meta AS (
    SELECT r.survey_id, r.id AS response_id, r.date_modified, 'email' AS name,
           coalesce(nullif(r.metadata['contact']['email']['value'], ''), nullif(r.email_address, '')) AS value_text
    FROM {{ connection }}.responses AS r
    UNION ALL
    SELECT r.survey_id, r.id, r.date_modified, 'collector_id', r.collector_id
    FROM {{ connection }}.responses AS r
)
SELECT
    concat('{{ connection }}', ':', response_id, ':', field) AS answer_key,
    '{{ connection }}'                                       AS source,
    survey_id,
    response_id,
    field,
    question,
    question_type,
    value,
    value_text,
    answered_at
FROM answer_rows
WHERE field IS NOT NULL
UNION ALL
SELECT
    concat('{{ connection }}', ':', response_id, ':hidden.', name),
    '{{ connection }}',
    survey_id,
    response_id,
    concat('hidden.', name),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS DOUBLE),
    value_text,
    date_modified
FROM variables
WHERE nullif(value_text, '') IS NOT NULL
UNION ALL
SELECT
    concat('{{ connection }}', ':', response_id, ':meta.', name),
    '{{ connection }}',
    survey_id,
    response_id,
    concat('meta.', name),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS DOUBLE),
    value_text,
    date_modified
FROM meta
WHERE nullif(value_text, '') IS NOT NULL
