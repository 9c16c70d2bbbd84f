-- bamboohr → tx.employees, from the `employees_report` stream (the custom report: one row per
-- employee, current and former; incremental_dedupe keeps the latest by lastChanged).
-- BambooHR writes a missing date as "0000-00-00" (or leaves it empty), so dates are NULLIF'd
-- before the cast. team: BambooHR has no teams; the division when set, else the department.
-- annual_cost: payRate ("65000.00 USD") scaled by payPer to a year (Hour × 2080, Day × 260,
-- Week × 52, Month × 12, Quarter × 4); NULL without compensation access or an unknown period.
-- concat() skips NULL arguments, so the nullable supervisorEId is guarded with CASE.
SELECT
    concat('{{ connection }}', ':', e.id)                                   AS employee_key,
    encode(sha256(lower(trim(e."workEmail"))), 'hex')                       AS person_key,
    'bamboohr'                                                              AS source,
    coalesce(nullif(trim(e."displayName"), ''),
             nullif(trim(concat_ws(' ', e."firstName", e."lastName")), '')) AS name,
    nullif(trim(e.department), '')                                          AS department,
    coalesce(nullif(trim(e.division), ''), nullif(trim(e.department), ''))  AS team,
    nullif(trim(e."jobTitle"), '')                                          AS role,
    CASE WHEN nullif(trim(e."supervisorEId"), '') IS NOT NULL
         THEN concat('{{ connection }}', ':', trim(e."supervisorEId"))
    END                                                                     AS manager_key,
    CAST(nullif(nullif(trim(e."hireDate"), ''), '0000-00-00') AS TIMESTAMP)        AS hired_at,
    CAST(nullif(nullif(trim(e."terminationDate"), ''), '0000-00-00') AS TIMESTAMP) AS terminated_at,
    TRY_CAST(split_part(trim(e."payRate"), ' ', 1) AS DOUBLE)
        * CASE lower(trim(e."payPer"))
              WHEN 'year'    THEN 1
              WHEN 'quarter' THEN 4
              WHEN 'month'   THEN 12
              WHEN 'week'    THEN 52
              WHEN 'day'     THEN 260
              WHEN 'hour'    THEN 2080
          END                                                               AS annual_cost,
    nullif(split_part(trim(e."payRate"), ' ', 2), '')                       AS currency
FROM {{ connection }}.employees_report AS e
