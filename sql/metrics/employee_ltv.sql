-- name: employee_ltv
-- title: Employee lifetime value
-- description: Value attributed to employees per year, over their expected tenure, minus
--   their cost over that tenure. One row per employee employed at some time in the
--   observation window, which runs from the start of the month of the data's first event
--   to its last event (event times in tx.customers, tx.revenue, tx.tickets, tx.surveys,
--   tx.touchpoints and tx.learning; hire and termination dates do not move it). Attribution: deal_revenue = the
--   tx.revenue the employee owns (employee_key; 100% of each deal or renewal); support_value
--   = for each ticket the employee solved (assignee_key, solved_at set), an equal share of
--   10% of the served customer's revenue: 0.10 × that customer's total revenue ÷ its
--   number of solved tickets, so tickets of valuable customers weigh more and a customer's
--   revenue is credited at most 110% in all (100% to deal owners, 10% to the agents who
--   solved its tickets); attributed_value = deal_revenue + support_value. Only deal owners
--   and ticket solvers get value in this model; other roles show their cost only.
--   employee_years = years employed inside the window (days ÷ 365.25), leavers = 1 when
--   terminated inside it, cost = annual_cost × employee_years. From a group's sums:
--   value_per_year = attributed_value ÷ employee_years, cost_per_year = cost ÷
--   employee_years, attrition_per_year = 100 × leavers ÷ employee_years (% leaving per
--   employee-year), expected_tenure_years = employee_years ÷ leavers (1 ÷ that rate),
--   capped at 10 years and 10 when the group had no leaver; lifetime_value =
--   value_per_year × expected_tenure_years, lifetime_cost = cost_per_year ×
--   expected_tenure_years and employee_ltv = lifetime_value − lifetime_cost, per employee
--   of the group. Amounts are added as they are, whatever their currency. The time column
--   is hired_at.
-- materialized: true
-- kind: aggregate
-- time: hired_at
-- dimensions: department, team, role
-- measures: employees:sum, leavers:sum, employee_years:sum, deal_revenue:sum, solved_tickets:sum, support_value:sum, attributed_value:sum, cost:sum
-- derived: value_per_year = attributed_value / NULLIF(employee_years, 0)
-- derived: cost_per_year = cost / NULLIF(employee_years, 0)
-- derived: attrition_per_year = 100.0 * leavers / NULLIF(employee_years, 0)
-- derived: expected_tenure_years = CASE WHEN leavers = 0 THEN 10.0 ELSE least(employee_years / leavers, 10.0) END
-- derived: lifetime_value = value_per_year * expected_tenure_years
-- derived: lifetime_cost = cost_per_year * expected_tenure_years
-- derived: employee_ltv = lifetime_value - lifetime_cost
CREATE VIEW metrics.employee_ltv AS
WITH event_times AS (SELECT first_t, last_t FROM tx.event_times),
bounds AS (
    -- with no event at all, the employees' own dates bound the window
    SELECT
        date_trunc('month', coalesce(min(first_t), (SELECT min(hired_at) FROM tx.employees))) AS window_start,
        coalesce(max(last_t), (SELECT max(greatest(hired_at, terminated_at)) FROM tx.employees)) AS as_of
    FROM event_times
),
customer_revenue AS (
    SELECT customer_key, sum(amount) AS revenue FROM tx.revenue GROUP BY customer_key
),
deal_owners AS (
    SELECT employee_key, sum(amount) AS deal_revenue
    FROM tx.revenue
    WHERE employee_key IS NOT NULL
    GROUP BY employee_key
),
solved AS (
    SELECT
        t.assignee_key,
        t.customer_key,
        count(*) OVER (PARTITION BY t.customer_key) AS customer_solved_tickets
    FROM tx.tickets AS t
    CROSS JOIN bounds AS b
    WHERE t.solved_at IS NOT NULL AND t.solved_at <= b.as_of
),
solvers AS (
    SELECT
        s.assignee_key AS employee_key,
        count(*) AS solved_tickets,
        sum(0.10 * coalesce(r.revenue, 0.0) / s.customer_solved_tickets) AS support_value
    FROM solved AS s
    LEFT JOIN customer_revenue AS r ON r.customer_key = s.customer_key
    WHERE s.assignee_key IS NOT NULL
    GROUP BY s.assignee_key
),
staff AS (
    SELECT
        e.employee_key,
        e.department,
        e.team,
        e.role,
        e.hired_at,
        coalesce(e.annual_cost, 0.0) AS annual_cost,
        greatest(e.hired_at, b.window_start) AS exposed_from,
        CASE WHEN e.terminated_at IS NOT NULL AND e.terminated_at <= b.as_of THEN e.terminated_at ELSE b.as_of END AS exposed_until,
        CASE WHEN e.terminated_at IS NOT NULL AND e.terminated_at >= b.window_start AND e.terminated_at <= b.as_of
             THEN 1 ELSE 0 END AS leavers
    FROM tx.employees AS e
    CROSS JOIN bounds AS b
    WHERE e.hired_at IS NOT NULL
      AND e.hired_at <= b.as_of
      AND (e.terminated_at IS NULL OR e.terminated_at >= b.window_start)
),
valued AS (
    SELECT
        s.*,
        greatest((date_part('epoch', s.exposed_until) - date_part('epoch', s.exposed_from)) / 86400.0 / 365.25, 0.0) AS employee_years,
        coalesce(d.deal_revenue, 0.0) AS deal_revenue,
        coalesce(v.solved_tickets, 0) AS solved_tickets,
        coalesce(v.support_value, 0.0) AS support_value
    FROM staff AS s
    LEFT JOIN deal_owners AS d ON d.employee_key = s.employee_key
    LEFT JOIN solvers AS v ON v.employee_key = s.employee_key
)
SELECT
    hired_at,
    department,
    team,
    role,
    employee_key,
    1 AS employees,
    leavers,
    employee_years,
    deal_revenue,
    solved_tickets,
    support_value,
    deal_revenue + support_value AS attributed_value,
    annual_cost * employee_years AS cost
FROM valued
