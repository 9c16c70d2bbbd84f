-- __NAME__ → tx.customers, from the `items` stream. Every column of sql/model/customers.sql
-- must be produced; CAST(NULL AS …) what the source does not have.
SELECT
    concat('{{ connection }}', ':', CAST(i.id AS VARCHAR)) AS customer_key,
    encode(sha256(lower(trim(i.email))), 'hex')            AS person_key,
    '__NAME__'                                             AS source,
    i.name                                                 AS name,
    CAST(NULL AS VARCHAR)                                  AS segment,
    CAST(NULL AS VARCHAR)                                  AS country,
    CAST(NULL AS VARCHAR)                                  AS acquisition_channel,
    'customer'                                             AS lifecycle_stage,
    CAST(NULL AS VARCHAR)                                  AS support_team,
    i.updated_at                                           AS created_at,
    CAST(NULL AS TIMESTAMP)                                AS became_customer_at,
    CAST(NULL AS TIMESTAMP)                                AS churned_at
FROM {{ connection }}.items AS i
