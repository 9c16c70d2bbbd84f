-- name: employee_attrition
-- title: Employee attrition (monthly)
-- description: Employees leaving against head count, per calendar month (UTC). One row per
--   employee and month in which they were employed: `headcount` = 1 when employed at the
--   start of the month (hired_at < month start <= terminated_at, or not terminated),
--   `leavers` = 1 when terminated_at falls in the month, `hires` = 1 when hired_at does.
--   attrition_rate = 100 × leavers ÷ headcount is the MONTHLY attrition (% of the staff at
--   the start of a month who left during it); summed over several months (grain quarter or
--   year, or no grain) it is leavers per employee-month, the average monthly rate.
--   annualized_attrition_rate = 12 × attrition_rate = leavers in a year ÷ average head count,
--   the usual HR turnover rate. Months run over the data's observed span: from the month
--   of its first to the month of its last event time in tx.customers, tx.revenue,
--   tx.tickets, tx.surveys, tx.touchpoints and tx.learning (only when all are empty, from
--   the first hire to the last hire or termination). Hire and termination dates do not set
--   the span: a roster of current staff carries old hire dates but says nothing about the
--   people who left back then, and HR systems hold future-dated hires and terminations.
--   So the last month may be partial, earlier terminations are not counted and those
--   dated after the span not yet.
-- kind: aggregate
-- time: month
-- dimensions: department, team, role
-- measures: headcount:sum, leavers:sum, hires:sum
-- derived: attrition_rate = 100.0 * leavers / NULLIF(headcount, 0)
-- derived: annualized_attrition_rate = 12.0 * attrition_rate
-- derived: net_change = hires - leavers
-- materialized: true
CREATE VIEW metrics.employee_attrition AS
WITH event_times AS (SELECT first_t, last_t FROM tx.event_times),
bounds AS (
    -- with no event at all, the employees' own dates bound the window
    SELECT
        date_trunc('month', coalesce(min(first_t), (SELECT min(hired_at) FROM tx.employees))) AS first_month,
        date_trunc('month', coalesce(max(last_t), (SELECT max(greatest(hired_at, terminated_at)) FROM tx.employees))) AS last_month
    FROM event_times
),
employee_months AS (
    SELECT
        e.employee_key,
        e.department,
        e.team,
        e.role,
        e.hired_at,
        e.terminated_at,
        unnest(generate_series(
            greatest(date_trunc('month', e.hired_at), b.first_month),
            least(coalesce(date_trunc('month', e.terminated_at), b.last_month), b.last_month),
            INTERVAL '1 month'
        )) AS month_start
    FROM tx.employees AS e
    CROSS JOIN bounds AS b
    WHERE e.hired_at IS NOT NULL
      AND (e.terminated_at IS NULL OR e.terminated_at >= e.hired_at)
)
SELECT
    arrow_cast(month_start, 'Timestamp(Microsecond, Some("UTC"))') AS month,
    department,
    team,
    role,
    employee_key,
    CASE WHEN hired_at < month_start AND (terminated_at IS NULL OR terminated_at >= month_start) THEN 1 ELSE 0 END AS headcount,
    CASE WHEN terminated_at >= month_start AND terminated_at < month_start + INTERVAL '1 month' THEN 1 ELSE 0 END AS leavers,
    CASE WHEN hired_at >= month_start AND hired_at < month_start + INTERVAL '1 month' THEN 1 ELSE 0 END AS hires
FROM employee_months
