-- airbyte-freshservice → tx.tickets, from the manifest's `tickets` stream (the ticket list of
-- the Freshservice API v2, incremental on updated_at; deleted and spam tickets left out).
-- Freshservice is an IT service desk: its requesters are usually staff, so customer_key is
-- filled only when a CRM connection knows the requester's e-mail.
--   customer_key: the requester (`requesters.primary_email`) matched to tx.customers by
--     person_key (the smallest customer_key when several CRM connections know the person).
--   assignee_key: the responder (`agents.email`) matched to tx.employees by person_key (the
--     HRM's current employment of that person); NULL when unassigned or unknown.
--   channel: source 1 email, 2 portal → `web`, 3 phone, 4 chat, 5 feedback widget → `web`,
--     9 walk-up → `walkup`, 10 Slack, 11 MS Teams → `chat`; other sources `other`.
--   priority: 1 low, 2 medium → `normal`, 3 high, 4 urgent.
--   status: 2 open, 3 pending, 4 resolved → `solved`, 5 closed.
--   first_response_at: the ticket list carries no stats (`include=stats` is not requested by
--     the manifest): NULL.
--   solved_at: updated_at while the ticket is resolved or closed (the list has no resolved_at;
--     the last change of a resolved ticket is normally its resolution), NULL otherwise.
--   reopened: unknown from the list: NULL.
WITH person AS (
    SELECT r.id AS user_id, encode(sha256(lower(trim(r.primary_email))), 'hex') AS person_key
    FROM {{ connection }}.requesters AS r
    WHERE nullif(trim(r.primary_email), '') IS NOT NULL
),
agent AS (
    SELECT a.id AS agent_id, encode(sha256(lower(trim(a.email))), 'hex') AS person_key
    FROM {{ connection }}.agents AS a
    WHERE nullif(trim(a.email), '') IS NOT NULL
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
)
SELECT
    concat('{{ connection }}', ':', CAST(t.id AS VARCHAR))              AS ticket_key,
    customer.customer_key                                               AS customer_key,
    employee.employee_key                                               AS assignee_key,
    CASE t.source
        WHEN 1 THEN 'email'
        WHEN 2 THEN 'web'
        WHEN 3 THEN 'phone'
        WHEN 4 THEN 'chat'
        WHEN 5 THEN 'web'
        WHEN 9 THEN 'walkup'
        WHEN 10 THEN 'chat'
        WHEN 11 THEN 'chat'
        ELSE 'other'
    END                                                                 AS channel,
    CASE t.priority WHEN 1 THEN 'low' WHEN 2 THEN 'normal' WHEN 3 THEN 'high' WHEN 4 THEN 'urgent' END
                                                                        AS priority,
    CASE t.status WHEN 2 THEN 'open' WHEN 3 THEN 'pending' WHEN 4 THEN 'solved' WHEN 5 THEN 'closed'
                  ELSE CAST(t.status AS VARCHAR) END                    AS status,
    CAST(t.created_at AS TIMESTAMP)                                     AS created_at,
    CAST(NULL AS TIMESTAMP)                                             AS first_response_at,
    CASE WHEN t.status IN (4, 5) THEN CAST(t.updated_at AS TIMESTAMP) END AS solved_at,
    CAST(NULL AS BOOLEAN)                                               AS reopened
FROM {{ connection }}.tickets AS t
LEFT JOIN person AS requester ON requester.user_id = t.requester_id
LEFT JOIN customer ON customer.person_key = requester.person_key
LEFT JOIN agent ON agent.agent_id = t.responder_id
LEFT JOIN employee ON employee.person_key = agent.person_key
WHERE coalesce(t.deleted, false) = false AND coalesce(t.spam, false) = false
