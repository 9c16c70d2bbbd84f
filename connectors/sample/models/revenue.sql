-- sample → tx.revenue, from the `deals` stream: won deals only (stage = 'won'); lost deals
-- are pipeline, not revenue. kind: `new` → 'deal', `renewal` → 'subscription' (the quarterly
-- renewal fee). occurred_at is the close time; employee_key is the deal owner (a Sales rep).
SELECT
    concat('{{ connection }}', ':', CAST(d.id AS VARCHAR))          AS revenue_key,
    concat('{{ connection }}', ':', CAST(d.customer_id AS VARCHAR)) AS customer_key,
    CASE WHEN d.owner_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(d.owner_id AS VARCHAR))
    END                                                             AS employee_key,
    d.amount                                                        AS amount,
    d.currency                                                      AS currency,
    CASE d.kind
        WHEN 'renewal' THEN 'subscription'
        ELSE 'deal'                       -- 'new', and any future kind of won deal
    END                                                             AS kind,
    d.closed_at                                                     AS occurred_at
FROM {{ connection }}.deals AS d
WHERE d.stage = 'won'
