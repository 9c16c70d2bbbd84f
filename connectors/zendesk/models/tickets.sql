-- zendesk → tx.tickets, from the `tickets` stream (its current state; deleted tickets left
-- out) with its metric set from `ticket_metrics`.
--   customer_key: the requester (`users`) matched to tx.customers by person_key of the
--     requester's e-mail (the CRM's customer with that e-mail; the smallest customer_key when
--     several CRM connections know the person); NULL when no CRM knows the requester.
--   assignee_key: the assignee matched to tx.employees by person_key of the agent's e-mail
--     (the HRM's current employment of that person); NULL when unassigned or unknown.
--   channel: via.channel, with voice → `phone`, web_widget/web_form → `web`,
--     native_messaging/chat → `chat`; other channels (api, mobile, sms, …) as Zendesk names them.
--   first_response_at: created_at + reply_time_in_minutes (calendar): the first public agent
--     reply; NULL before one.
--   solved_at: the metric set's solved_at (the last solve) while the ticket is solved or
--     closed; NULL while it is open again.
--   reopened: the metric set counts at least one reopen.
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
    concat('{{ connection }}', ':', CAST(t.id AS VARCHAR))            AS ticket_key,
    customer.customer_key                                             AS customer_key,
    employee.employee_key                                             AS assignee_key,
    CASE t.via['channel']
        WHEN 'voice' THEN 'phone'
        WHEN 'web_widget' THEN 'web'
        WHEN 'web_form' THEN 'web'
        WHEN 'native_messaging' THEN 'chat'
        ELSE t.via['channel']
    END                                                               AS channel,
    t.priority                                                        AS priority,
    t.status                                                          AS status,
    t.created_at                                                      AS created_at,
    CASE WHEN m.reply_time_in_minutes['calendar'] IS NOT NULL
         THEN t.created_at + arrow_cast(m.reply_time_in_minutes['calendar'] * 60, 'Duration(Second)')
    END                                                               AS first_response_at,
    CASE WHEN t.status IN ('solved', 'closed') THEN m.solved_at END   AS solved_at,
    coalesce(m.reopens, 0) > 0                                        AS reopened
FROM {{ connection }}.tickets AS t
LEFT JOIN {{ connection }}.ticket_metrics AS m ON m.ticket_id = t.id
LEFT JOIN person AS requester ON requester.user_id = t.requester_id
LEFT JOIN customer ON customer.person_key = requester.person_key
LEFT JOIN person AS agent ON agent.user_id = t.assignee_id
LEFT JOIN employee ON employee.person_key = agent.person_key
WHERE t.status IS DISTINCT FROM 'deleted'
