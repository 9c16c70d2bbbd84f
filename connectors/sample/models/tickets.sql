-- sample → tx.tickets, from the `tickets` stream (latest row per id: incremental_dedupe, so
-- a solved ticket appears once, solved, with the agent who solved it).
SELECT
    concat('{{ connection }}', ':', CAST(t.id AS VARCHAR))          AS ticket_key,
    concat('{{ connection }}', ':', CAST(t.customer_id AS VARCHAR)) AS customer_key,
    CASE WHEN t.assignee_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(t.assignee_id AS VARCHAR))
    END                                                             AS assignee_key,
    t.channel                                                       AS channel,
    t.priority                                                      AS priority,
    t.status                                                        AS status,
    t.created_at                                                    AS created_at,
    t.first_response_at                                             AS first_response_at,
    t.solved_at                                                     AS solved_at,
    t.reopened                                                      AS reopened
FROM {{ connection }}.tickets AS t
