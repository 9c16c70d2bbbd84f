-- airbyte-hibob → tx.employees, from the manifest's `payroll` stream (GET /v1/payroll/history:
-- every employee the service user may read, current and former, with the work, lifecycle
-- (`internal`) and payroll sections). One row per employee.
--   person_key: the work e-mail; name: displayName (else first name + surname).
--   department: work.department; team: Bob has no team field in the manifest's schema, so the
--     department; role: work.title; manager_key: work.reportsTo.id (else work.manager).
--   hired_at: work.startDate; terminated_at: internal.currentActiveStatusStartDate (the start
--     of the current lifecycle status) when internal.lifecycleStatus is `terminated`.
--   annual_cost / currency: the current entry of the salary table (isCurrent), base.value
--     scaled by payPeriod to a year (Annual × 1, Monthly × 12, Weekly × 52, Daily × 260,
--     Hourly × 2080); NULL without payroll access or with an unknown period.
WITH salary AS (
    SELECT s.id, s.entry['base']['value'] AS amount, s.entry['base']['currency'] AS currency,
           s.entry['payPeriod'] AS period
    FROM (
        SELECT p.id, unnest(p.payroll['salary']) AS entry
        FROM {{ connection }}.payroll AS p
    ) AS s
    WHERE s.entry['isCurrent'] = true
),
current_salary AS (
    SELECT id, min(amount) AS amount, min(currency) AS currency, min(period) AS period
    FROM salary
    GROUP BY id
)
SELECT
    concat('{{ connection }}', ':', p.id)                                     AS employee_key,
    encode(sha256(lower(trim(p.email))), 'hex')                               AS person_key,
    'hibob'                                                                   AS source,
    coalesce(nullif(trim(p."displayName"), ''),
             nullif(trim(concat_ws(' ', p."firstName", p.surname)), ''))      AS name,
    nullif(trim(p.work['department']), '')                                    AS department,
    nullif(trim(p.work['department']), '')                                    AS team,
    nullif(trim(p.work['title']), '')                                         AS role,
    CASE WHEN nullif(trim(coalesce(p.work['reportsTo']['id'], p.work['manager'])), '') IS NOT NULL
         THEN concat('{{ connection }}', ':', trim(coalesce(p.work['reportsTo']['id'], p.work['manager'])))
    END                                                                       AS manager_key,
    CAST(nullif(trim(p.work['startDate']), '') AS TIMESTAMP)                  AS hired_at,
    CASE WHEN lower(p.internal['lifecycleStatus']) = 'terminated'
         THEN CAST(nullif(trim(p.internal['currentActiveStatusStartDate']), '') AS TIMESTAMP)
    END                                                                       AS terminated_at,
    CAST(s.amount AS DOUBLE)
        * CASE lower(s.period)
              WHEN 'annual'  THEN 1
              WHEN 'monthly' THEN 12
              WHEN 'weekly'  THEN 52
              WHEN 'daily'   THEN 260
              WHEN 'hourly'  THEN 2080
          END                                                                 AS annual_cost,
    s.currency                                                                AS currency
FROM {{ connection }}.payroll AS p
LEFT JOIN current_salary AS s ON s.id = p.id
