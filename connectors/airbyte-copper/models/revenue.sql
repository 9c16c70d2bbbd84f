-- airbyte-copper → tx.revenue, from the `opportunities` stream of Airbyte's Copper manifest:
-- one row per Won opportunity.
--   customer_key: the opportunity's primary contact (a Copper person, as in customers.sql);
--     NULL for a deal with no contact.
--   employee_key: the assignee is a Copper user id, which no HRM shares: NULL.
--   amount: monetary_value. currency: NULL — Copper's monetary_unit is not in the manifest's
--     schema, so no such column reaches the table (the account's currency applies).
-- The manifest may read an opportunity twice (its first page, see customers.sql): one row per id.
--   kind: `deal`.
--   occurred_at: close_date (Copper writes it M/D/YYYY).
SELECT
    concat('{{ connection }}', ':', CAST(o.id AS VARCHAR))                    AS revenue_key,
    CASE WHEN o.primary_contact_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(o.primary_contact_id AS VARCHAR))
    END                                                                       AS customer_key,
    CAST(NULL AS VARCHAR)                                                     AS employee_key,
    CAST(o.monetary_value AS DOUBLE)                                          AS amount,
    CAST(NULL AS VARCHAR)                                                     AS currency,
    'deal'                                                                    AS kind,
    CAST(to_date(o.close_date, '%m/%d/%Y') AS TIMESTAMP)                      AS occurred_at
FROM (
    SELECT * FROM (
        SELECT x.*, row_number() OVER (PARTITION BY x.id ORDER BY x.date_modified DESC) AS dup_rank
        FROM {{ connection }}.opportunities AS x
    ) AS numbered
    WHERE dup_rank = 1
) AS o
WHERE o.status = 'Won'
