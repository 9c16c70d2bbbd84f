-- zendesk → tx.surveys, from the `satisfaction_ratings` stream (legacy CSAT): one answer per
-- received rating. Zendesk asks "How would you rate the support you received?" with two
-- answers, mapped onto the CSAT 1–5 scale at its ends: good → 5, bad → 1 (so the CSAT
-- metric's top-two-box share is the share of good ratings; its mean is 1 + 4 × that share).
-- Offered but unanswered ratings are no answers and are left out.
--   respondent_key: the requester matched to tx.customers by person_key of the e-mail (as
--     in tickets.sql); NULL when no CRM knows the requester.
--   touchpoint: `support_ticket`; ticket_key: the rated ticket.
--   channel: the rating does not say how it was answered (e-mail link, help center, chat): NULL.
--   answered_at: updated_at, when the requester last set the rating.
WITH person AS (
    SELECT u.id AS user_id, encode(sha256(lower(trim(u.email))), 'hex') AS person_key
    FROM {{ connection }}.users AS u
    WHERE nullif(trim(u.email), '') IS NOT NULL
),
customer AS (
    SELECT c.person_key, min(c.customer_key) AS customer_key
    FROM tx.customers AS c
    WHERE c.person_key IS NOT NULL
    GROUP BY c.person_key
)
SELECT
    concat('{{ connection }}', ':', CAST(r.id AS VARCHAR))                 AS response_key,
    'customer'                                                             AS respondent_kind,
    customer.customer_key                                                  AS respondent_key,
    'csat'                                                                 AS survey,
    CASE r.score WHEN 'good' THEN 5 WHEN 'bad' THEN 1 END                  AS score,
    1                                                                      AS scale_min,
    5                                                                      AS scale_max,
    'support_ticket'                                                       AS touchpoint,
    CAST(NULL AS VARCHAR)                                                  AS channel,
    CASE WHEN r.ticket_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(r.ticket_id AS VARCHAR))
    END                                                                    AS ticket_key,
    r.updated_at                                                           AS answered_at
FROM {{ connection }}.satisfaction_ratings AS r
LEFT JOIN person ON person.user_id = r.requester_id
LEFT JOIN customer ON customer.person_key = person.person_key
WHERE r.score IN ('good', 'bad')
