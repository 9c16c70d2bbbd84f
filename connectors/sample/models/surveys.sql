-- sample → tx.surveys, from the `survey_responses` stream. respondent_id is a customer id or
-- an employee id depending on respondent_kind; both become `<connection>:<id>` keys.
-- ticket_key only for answers about a ticket (NULL otherwise; guarded because concat()
-- skips NULL arguments).
SELECT
    concat('{{ connection }}', ':', CAST(s.id AS VARCHAR))            AS response_key,
    s.respondent_kind                                                 AS respondent_kind,
    concat('{{ connection }}', ':', CAST(s.respondent_id AS VARCHAR)) AS respondent_key,
    s.survey                                                          AS survey,
    s.score                                                           AS score,
    s.scale_min                                                       AS scale_min,
    s.scale_max                                                       AS scale_max,
    s.touchpoint                                                      AS touchpoint,
    s.channel                                                         AS channel,
    CASE WHEN s.ticket_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(s.ticket_id AS VARCHAR))
    END                                                               AS ticket_key,
    s.answered_at                                                     AS answered_at
FROM {{ connection }}.survey_responses AS s
