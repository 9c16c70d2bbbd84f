-- sample → tx.touchpoints, from the `touchpoint_events` stream. employee_id is set only where
-- a person takes part (demo, sales call, onboarding, support, renewal call).
SELECT
    concat('{{ connection }}', ':', CAST(e.id AS VARCHAR))          AS event_key,
    concat('{{ connection }}', ':', CAST(e.customer_id AS VARCHAR)) AS customer_key,
    e.stage                                                         AS stage,
    e.touchpoint                                                    AS touchpoint,
    e.channel                                                       AS channel,
    CASE WHEN e.employee_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(e.employee_id AS VARCHAR))
    END                                                             AS employee_key,
    e.occurred_at                                                   AS occurred_at
FROM {{ connection }}.touchpoint_events AS e
