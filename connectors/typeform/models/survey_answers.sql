-- typeform → tx.survey_answers, from the `responses` and `form_fields` streams: one row per
-- answer, per hidden field and per piece of metadata of a completed response.
--   answers: field = the form field's ref (stable across edits of the question's text);
--     question and question_type come from the form's definition (a group's own fields
--     included), falling back to the answer's field type for a field since deleted.
--     value = the number of number answers (nps 0–10, opinion_scale, rating, number fields);
--     value_text = the answer as text: the text, e-mail, URL, file URL, date or phone
--     number; a choice's label (or the respondent's "other" text); several choices' labels
--     joined with ", "; true/false for yes/no; the number as text (`9`, `2.5`).
--   hidden fields: field = `hidden.<name>`, value_text = the value the survey link carried.
--   metadata: `meta.platform` (mobile, tablet, other), `meta.browser`, `meta.referer`.
--   answered_at: submitted_at.
WITH fields AS (
    SELECT f.form_id, f.id AS field_id, f.title, f.type
    FROM {{ connection }}.form_fields AS f
    UNION ALL
    SELECT g.form_id, g.inner_field['id'] AS field_id, g.inner_field['title'] AS title, g.inner_field['type'] AS type
    FROM (
        SELECT f.form_id, unnest(f.properties['fields']) AS inner_field
        FROM {{ connection }}.form_fields AS f
        WHERE f.type = 'group'
    ) AS g
),
answers AS (
    SELECT r.form_id, r.response_id, r.submitted_at, unnest(r.answers) AS answer
    FROM {{ connection }}.responses AS r
),
answer_rows AS (
    SELECT
        a.form_id,
        a.response_id,
        a.answer['field']['ref']                                               AS field,
        fields.title                                                      AS question,
        coalesce(fields.type, a.answer['field']['type'])                       AS question_type,
        a.answer['number']                                                     AS value,
        CASE a.answer['type']
            WHEN 'number'  THEN CASE WHEN a.answer['number'] = trunc(a.answer['number'])
                                     THEN CAST(CAST(a.answer['number'] AS BIGINT) AS VARCHAR)
                                     ELSE CAST(a.answer['number'] AS VARCHAR)
                                END
            WHEN 'boolean' THEN CASE WHEN a.answer['boolean'] THEN 'true' ELSE 'false' END
            WHEN 'choice'  THEN coalesce(a.answer['choice']['label'], a.answer['choice']['other'])
            WHEN 'choices' THEN concat_ws(', ', array_to_string(a.answer['choices']['labels'], ', '), a.answer['choices']['other'])
            ELSE coalesce(a.answer['text'], a.answer['email'], a.answer['url'], a.answer['file_url'], a.answer['date'], a.answer['phone_number'])
        END                                                               AS value_text,
        a.submitted_at                                                    AS answered_at
    FROM answers AS a
    LEFT JOIN fields ON fields.form_id = a.form_id AND fields.field_id = a.answer['field']['id']
),
hidden_rows AS (
    SELECT h.form_id, h.response_id, h.entry['key'] AS name, h.entry['value'] AS value_text, h.submitted_at
    FROM (
        SELECT r.form_id, r.response_id, r.submitted_at, unnest(map_entries(r.hidden)) AS entry
        FROM {{ connection }}.responses AS r
        WHERE r.hidden IS NOT NULL
    ) AS h
),
meta_rows AS (
    SELECT r.form_id, r.response_id, 'platform' AS name, r.metadata['platform'] AS value_text, r.submitted_at
    FROM {{ connection }}.responses AS r
    UNION ALL
    SELECT r.form_id, r.response_id, 'browser', r.metadata['browser'], r.submitted_at
    FROM {{ connection }}.responses AS r
    UNION ALL
    SELECT r.form_id, r.response_id, 'referer', r.metadata['referer'], r.submitted_at
    FROM {{ connection }}.responses AS r
)
SELECT
    concat('{{ connection }}', ':', response_id, ':', field) AS answer_key,
    '{{ connection }}'                                       AS source,
    form_id                                                  AS survey_id,
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
    form_id,
    response_id,
    concat('hidden.', name),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS DOUBLE),
    value_text,
    submitted_at
FROM hidden_rows
WHERE value_text IS NOT NULL
UNION ALL
SELECT
    concat('{{ connection }}', ':', response_id, ':meta.', name),
    '{{ connection }}',
    form_id,
    response_id,
    concat('meta.', name),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS DOUBLE),
    value_text,
    submitted_at
FROM meta_rows
WHERE nullif(value_text, '') IS NOT NULL
