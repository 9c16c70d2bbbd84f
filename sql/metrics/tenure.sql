-- name: tenure
-- title: Employee tenure
-- description: How long employees stay or have stayed. One row per employee hired by the
--   reference time: a leaver's tenure runs from hired_at to terminated_at (status `left`);
--   a current employee's from hired_at to the reference time (status `active`). The
--   reference time is fixed by the data, not the clock: the data's last timestamp, i.e. the
--   latest event time in tx.customers, tx.revenue, tx.tickets, tx.surveys, tx.touchpoints
--   and tx.learning (or, with none, the latest hire or termination), so the numbers do not
--   drift between runs; a termination dated after it counts as still active. tenure_days =
--   (end − hired_at) in days (fractional); `employees` = 1 and tenure_days_sum sum over a
--   group, avg_tenure_days = tenure_days_sum ÷ employees and avg_tenure_years =
--   avg_tenure_days ÷ 365.25. Completed tenures (status = left) and ongoing ones (active,
--   still growing) mean different things: group or filter by status. tenure_band buckets
--   each tenure into `<1y`, `1-2y`, `2-5y` or `5y+`. The time column is hired_at (from/to select hire
--   dates).
-- kind: aggregate
-- time: hired_at
-- dimensions: department, team, role, status, tenure_band
-- measures: employees:sum, tenure_days_sum:sum, longest_tenure_days:max
-- derived: avg_tenure_days = tenure_days_sum / NULLIF(employees, 0)
-- derived: avg_tenure_years = avg_tenure_days / 365.25
-- materialized: true
CREATE VIEW metrics.tenure AS
WITH event_times AS (SELECT last_t AS t FROM tx.event_times),
bounds AS (
    SELECT coalesce(max(t), (SELECT max(greatest(hired_at, terminated_at)) FROM tx.employees)) AS as_of
    FROM event_times
),
spans AS (
    SELECT
        e.employee_key,
        e.department,
        e.team,
        e.role,
        e.hired_at,
        CASE WHEN e.terminated_at IS NOT NULL AND e.terminated_at <= b.as_of THEN 'left' ELSE 'active' END AS status,
        (date_part('epoch', CASE WHEN e.terminated_at IS NOT NULL AND e.terminated_at <= b.as_of
                                 THEN e.terminated_at ELSE b.as_of END)
         - date_part('epoch', e.hired_at)) / 86400.0 AS tenure_days
    FROM tx.employees AS e
    CROSS JOIN bounds AS b
    WHERE e.hired_at IS NOT NULL AND e.hired_at <= b.as_of
)
SELECT
    hired_at,
    department,
    team,
    role,
    status,
    CASE
        WHEN tenure_days < 365.25 THEN '<1y'
        WHEN tenure_days < 2 * 365.25 THEN '1-2y'
        WHEN tenure_days < 5 * 365.25 THEN '2-5y'
        ELSE '5y+'
    END AS tenure_band,
    employee_key,
    1 AS employees,
    greatest(tenure_days, 0.0) AS tenure_days_sum,
    greatest(tenure_days, 0.0) AS longest_tenure_days
FROM spans
