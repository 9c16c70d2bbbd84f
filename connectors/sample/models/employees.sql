-- sample → tx.employees, from the `employees` stream (latest row per id: incremental_dedupe).
-- concat() skips NULL arguments, so the nullable manager_id is guarded with CASE: a head's
-- manager_key must be NULL, not '<connection>:'.
SELECT
    concat('{{ connection }}', ':', CAST(e.id AS VARCHAR)) AS employee_key,
    encode(sha256(lower(trim(e.email))), 'hex')            AS person_key,
    'sample'                                               AS source,
    e.name                                                 AS name,
    e.department                                           AS department,
    e.team                                                 AS team,
    e.role                                                 AS role,
    CASE WHEN e.manager_id IS NOT NULL
         THEN concat('{{ connection }}', ':', CAST(e.manager_id AS VARCHAR))
    END                                                    AS manager_key,
    e.hired_at                                             AS hired_at,
    e.terminated_at                                        AS terminated_at,
    e.annual_cost                                          AS annual_cost,
    e.currency                                             AS currency
FROM {{ connection }}.employees AS e
