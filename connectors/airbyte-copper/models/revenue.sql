-- airbyte-copper → tx.revenue, from the `opportunities` stream of Airbyte's Copper manifest:
-- one row per Won opportunity.
--   customer_key: the opportunity's primary contact (a Copper person, as in customers.sql);
--     NULL for a deal with no contact.
--   employee_key: the assignee is a Copper user id, which no HRM shares: NULL.
--   amount: monetary_value, in monetary_unit (the account's currency when Copper leaves the
--     unit out: NULL then).
--   kind: `deal`.
--   occurred_at: close_date (Copper writes it M/D/YYYY).
SELECT
    concat('{{ connection }}', ':', CAST(o.id AS VARCHAR))                    AS revenue_key,
    CASE WHEN o.primary_contact_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(o.primary_contact_id AS VARCHAR))
    END                                                                       AS customer_key,
    CAST(NULL AS VARCHAR)                                                     AS employee_key,
    CAST(o.monetary_value AS DOUBLE)                                          AS amount,
    upper(nullif(trim(o.monetary_unit), ''))                                  AS currency,
    'deal'                                                                    AS kind,
    CAST(to_date(o.close_date, '%m/%d/%Y') AS TIMESTAMP)                      AS occurred_at
FROM {{ connection }}.opportunities AS o
WHERE o.status = 'Won'
