-- sample → tx.customers, from the `customers` stream.
-- One row per id: the stream is synced as incremental_dedupe, so the raw table holds each
-- customer's latest row (lead → customer → churned).
SELECT
    concat('{{ connection }}', ':', CAST(c.id AS VARCHAR)) AS customer_key,
    encode(sha256(lower(trim(c.email))), 'hex')            AS person_key,
    'sample'                                               AS source,
    c.name                                                 AS name,
    c.segment                                              AS segment,
    c.country                                              AS country,
    c.acquisition_channel                                  AS acquisition_channel,
    c.lifecycle_stage                                      AS lifecycle_stage,
    c.support_team                                         AS support_team,
    c.created_at                                           AS created_at,
    c.became_customer_at                                   AS became_customer_at,
    c.churned_at                                           AS churned_at
FROM {{ connection }}.customers AS c
