-- hubspot → tx.revenue, from the `deals` stream: one row per won deal (hs_is_closed_won, or
-- the default pipeline's `closedwon` stage where that property is missing).
--   customer_key: the deal's first associated contact (the listing returns associations);
--     NULL for a deal with no contact.
--   employee_key: the deal owner (`owners`) matched to tx.employees by person_key of the
--     owner's e-mail (the HRM's current employment of that person); NULL without a match.
--   amount: the `amount` property (text in HubSpot; empty → NULL), in deal_currency_code.
--   currency: deal_currency_code; NULL in single-currency portals, whose company currency
--     the deal does not carry.
--   kind: `deal` (every won deal, new or existing business).
--   occurred_at: the close date.
WITH owner AS (
    SELECT o.id AS id, encode(sha256(lower(trim(o.email))), 'hex') AS person_key
    FROM {{ connection }}.owners AS o
    WHERE nullif(trim(o.email), '') IS NOT NULL
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
),
deal AS (
    SELECT
        d.id,
        d.associations['contacts']['results'][1]['id'] AS contact_id,
        d.properties['hubspot_owner_id']               AS owner_id,
        d.properties['amount']                         AS amount,
        d.properties['deal_currency_code']             AS currency,
        d.properties['closedate']                      AS closedate
    FROM {{ connection }}.deals AS d
    WHERE d.properties['hs_is_closed_won'] = 'true'
       OR (d.properties['hs_is_closed_won'] IS NULL AND d.properties['dealstage'] = 'closedwon')
)
SELECT
    concat('{{ connection }}', ':', deal.id)                        AS revenue_key,
    CASE WHEN deal.contact_id IS NOT NULL
         THEN concat('{{ connection }}', ':', deal.contact_id)
    END                                                             AS customer_key,
    employee.employee_key                                           AS employee_key,
    TRY_CAST(nullif(trim(deal.amount), '') AS DOUBLE)               AS amount,
    upper(nullif(trim(deal.currency), ''))                          AS currency,
    'deal'                                                          AS kind,
    TRY_CAST(deal.closedate AS TIMESTAMP)                           AS occurred_at
FROM deal
LEFT JOIN owner ON owner.id = deal.owner_id
LEFT JOIN employee ON employee.person_key = owner.person_key
