-- zendesk → tx.touchpoints: a `support` / `support_ticket` event when a ticket is opened, on
-- the channel it came in through (as in tickets.sql), with its assignee as the employee.
-- Only tickets whose requester is a known customer (tx.customers, by e-mail) are journey
-- events; deleted tickets are left out.
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
    concat('{{ connection }}', ':ticket:', CAST(t.id AS VARCHAR))  AS event_key,
    customer.customer_key                                          AS customer_key,
    'support'                                                      AS stage,
    'support_ticket'                                               AS touchpoint,
    CASE t.via['channel']
        WHEN 'voice' THEN 'phone'
        WHEN 'web_widget' THEN 'web'
        WHEN 'web_form' THEN 'web'
        WHEN 'native_messaging' THEN 'chat'
        ELSE t.via['channel']
    END                                                            AS channel,
    employee.employee_key                                          AS employee_key,
    t.created_at                                                   AS occurred_at
FROM {{ connection }}.tickets AS t
JOIN person AS requester ON requester.user_id = t.requester_id
JOIN customer ON customer.person_key = requester.person_key
LEFT JOIN person AS agent ON agent.user_id = t.assignee_id
LEFT JOIN employee ON employee.person_key = agent.person_key
WHERE t.status IS DISTINCT FROM 'deleted'
