-- airbyte-copper → tx.customers, from the `people` stream of Airbyte's Copper manifest (a full
-- refresh each sync: the table is the CRM's people as they are now), with the `opportunities`
-- stream for who bought.
--   person_key: the first of the person's e-mails (Copper keeps a list), trimmed and
--     lower-cased; NULL without one.
--   segment: Copper does not size people or companies: NULL.
--   country: address.country when it is a two-letter code; NULL otherwise.
--   acquisition_channel: Copper names a customer source only by its id: NULL.
--   lifecycle_stage: `customer` for the primary contact of a Won opportunity, `lead` otherwise
--     (Copper has no churn status); became_customer_at the earliest such close_date
--     (Copper writes it M/D/YYYY).
--   support_team: Copper does not know it (NULL).
--   created_at: date_created (unix seconds).
WITH people AS (
    -- One row per person: Airbyte's manifest reads its first page twice (PageIncrement from 0
    -- against Copper's 1-based pages), so the raw table may hold a person twice.
    SELECT * FROM (
        SELECT p.*, row_number() OVER (PARTITION BY p.id ORDER BY p.date_modified DESC) AS dup_rank
        FROM {{ connection }}.people AS p
    ) AS numbered
    WHERE dup_rank = 1
),
won AS (
    SELECT o.primary_contact_id AS person_id,
           min(CAST(to_date(o.close_date, '%m/%d/%Y') AS TIMESTAMP)) AS first_won_at
    FROM (SELECT DISTINCT id, primary_contact_id, close_date, status FROM {{ connection }}.opportunities) AS o
    WHERE o.status = 'Won' AND o.primary_contact_id IS NOT NULL
    GROUP BY o.primary_contact_id
)
SELECT
    concat('{{ connection }}', ':', CAST(p.id AS VARCHAR))                    AS customer_key,
    CASE WHEN nullif(trim(p.emails[1]['email']), '') IS NOT NULL
         THEN encode(sha256(lower(trim(p.emails[1]['email']))), 'hex')
    END                                                                       AS person_key,
    'airbyte-copper'                                                          AS source,
    coalesce(nullif(trim(p.name), ''), nullif(trim(p.emails[1]['email']), '')) AS name,
    CAST(NULL AS VARCHAR)                                                     AS segment,
    CASE WHEN length(trim(p.address['country'])) = 2
         THEN upper(trim(p.address['country']))
    END                                                                       AS country,
    CAST(NULL AS VARCHAR)                                                     AS acquisition_channel,
    CASE WHEN won.person_id IS NOT NULL THEN 'customer' ELSE 'lead' END       AS lifecycle_stage,
    CAST(NULL AS VARCHAR)                                                     AS support_team,
    CAST(to_timestamp_seconds(CAST(p.date_created AS BIGINT)) AS TIMESTAMP)   AS created_at,
    won.first_won_at                                                          AS became_customer_at,
    CAST(NULL AS TIMESTAMP)                                                   AS churned_at
FROM people AS p
LEFT JOIN won ON CAST(won.person_id AS VARCHAR) = CAST(p.id AS VARCHAR)
