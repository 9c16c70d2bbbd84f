-- view: survey_answers
-- grain: one row per value of one survey response as the survey tool gives it (an answered question, a hidden field, a piece of response metadata), before the connection's survey mapping turns the mapped questions into tx.surveys
-- description: The raw answers of survey tools (Typeform, SurveyMonkey, Qualtrics, files of answers) in one long shape, so one mapping per connection (`survey_mapping` in txlake.toml) can say which question is NPS, eNPS, CSAT, CES or CSI and which field names the respondent, the touchpoint, the channel and the ticket.
-- key: answer_key
-- column answer_key: `<connection>:<response id>:<field>`, unique across connections
-- column source: the connection the response came from
-- column survey_id: the survey (form) id in the tool
-- column response_id: the response id in the tool
-- column field: what the value is: a question id as the tool names it in answers (Typeform field ref, SurveyMonkey question id or `question_id.row_id` for a matrix row, Qualtrics QID, a file's column name), `hidden.<name>` for a value the survey link carried (Typeform hidden fields, SurveyMonkey custom variables, Qualtrics embedded data), or `meta.<name>` for what the tool recorded about the response (`meta.email`, `meta.channel`, …)
-- column question: the question's text; NULL for hidden and meta fields
-- column question_type: the tool's type of the question (`opinion_scale`, `rating`, `nps`, `matrix`, …); NULL for hidden and meta fields
-- column value: the answer as a number where it is one (a scale step, a rating, an NPS choice), else NULL
-- column value_text: the answer as text (a choice's label, free text, an e-mail, a hidden field's value; numbers too)
-- column answered_at: when the response was submitted, UTC
SELECT
    CAST(NULL AS VARCHAR)   AS answer_key,
    CAST(NULL AS VARCHAR)   AS source,
    CAST(NULL AS VARCHAR)   AS survey_id,
    CAST(NULL AS VARCHAR)   AS response_id,
    CAST(NULL AS VARCHAR)   AS field,
    CAST(NULL AS VARCHAR)   AS question,
    CAST(NULL AS VARCHAR)   AS question_type,
    CAST(NULL AS DOUBLE)    AS value,
    CAST(NULL AS VARCHAR)   AS value_text,
    CAST(NULL AS TIMESTAMP) AS answered_at
WHERE false
