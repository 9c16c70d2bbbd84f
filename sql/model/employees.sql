-- view: employees
-- grain: one row per employee (one employment) per HRM connection, current and former staff alike
-- description: Everyone who works or worked for the company, with the org structure (department, team, manager) EX metrics are sliced by, tenure dates and yearly cost; person_key joins the same person across systems.
-- key: employee_key
-- relation: manager = manager_key -> employees
-- column employee_key: `<connection>:<source id>`, unique across connections; the key every EX view (and tickets, touchpoints, revenue) joins on
-- column person_key: lower-case hex SHA-256 of the trimmed, lower-cased e-mail (64 characters); the same person in any system has the same person_key; NULL without an e-mail
-- column source: the connector the row comes from (e.g. `sample`, `bamboohr`)
-- column name: the employee's display name
-- column department: department (sample: `Support`, `Sales`, `Customer Success`, `Marketing`, `Product`, `HR`)
-- column team: team within the department (sample: `Support 01` …); support teams match customers.support_team
-- column role: job title (e.g. `Support Agent`, `Support Team Lead`, `Head of Support`)
-- column manager_key: employee_key of the direct manager (same connection); NULL for department heads
-- column hired_at: start of employment, UTC
-- column terminated_at: end of employment, UTC; NULL while employed
-- column annual_cost: fully loaded yearly cost of the employee, in currency
-- column currency: ISO 4217 currency of annual_cost (e.g. `USD`)
SELECT
    CAST(NULL AS VARCHAR)   AS employee_key,
    CAST(NULL AS VARCHAR)   AS person_key,
    CAST(NULL AS VARCHAR)   AS source,
    CAST(NULL AS VARCHAR)   AS name,
    CAST(NULL AS VARCHAR)   AS department,
    CAST(NULL AS VARCHAR)   AS team,
    CAST(NULL AS VARCHAR)   AS role,
    CAST(NULL AS VARCHAR)   AS manager_key,
    CAST(NULL AS TIMESTAMP) AS hired_at,
    CAST(NULL AS TIMESTAMP) AS terminated_at,
    CAST(NULL AS DOUBLE)    AS annual_cost,
    CAST(NULL AS VARCHAR)   AS currency
WHERE false
