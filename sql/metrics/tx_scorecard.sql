-- name: tx_scorecard
-- title: Total Experience scorecard
-- description: The headline CX and EX numbers, one row per period (ask for a grain: day, week,
--   month, quarter, year; without one, a single row over the whole span). Built from tx.* with
--   the catalog's definitions (it does not read the other metric views). The view has one row
--   per calendar day (from the first to the last day with a survey answer, revenue or a customer
--   created, won or churned, UTC) with that day's counts; a period sums them. Flows (summed): nps =
--   100 × (promoters 9–10 − detractors 0–6) / customer NPS answers (−100…100); csat_pct = 100 ×
--   share of 4–5 answers among customer CSAT answers (1–5), csat_mean their mean; ces_mean =
--   mean customer CES answer (1–7, lower = easier); enps = eNPS of employee answers, same formula
--   as NPS, NULL below 5 answers in the period so no employee can be identified (answers, not
--   distinct people: day rows cannot count people across a period; within one company-wide
--   campaign each person answers once, and a group eNPS is in metrics.enps);
--   customer_churn_pct = 100 × customers churned in the period / average active customers over
--   its days (active = became a customer and not churned, counted at each day's end: summed
--   active_customer_days / days); employee_attrition_pct = 100 × terminations / average head
--   count (same way). Stocks (to date, measured at the period's end — the `max` of a running
--   total, which only grows while amounts are positive): avg_customer_ltv = historic customer
--   LTV = all revenue won so far (tx.revenue amount) / customers who have paid so far;
--   avg_employee_ltv = (revenue of the deals the employees own so far, tx.revenue.employee_key,
--   − their fully loaded cost accrued so far, annual_cost / 365.25 per day employed since the
--   calendar's first day) / employees employed at any time since that day. Amounts in the
--   sources' currency (sample: USD). 95% confidence intervals (normal approximation, from the same
--   sums, so right for any period): nps_ci_low/high and enps_ci_low/high as in metrics.nps (margin
--   = 196 × √((p + q − (p − q)²) / n), p, q = promoter and detractor shares, clipped to −100…100;
--   NULL where eNPS is); csat_pct_ci_low/high = csat_pct ∓ 196 × √(s (1 − s) / n), s = satisfied share,
--   clipped to 0…100; ces_ci_low/high = ces_mean ∓ 1.96 × √(sample variance / n), the variance
--   from ces_score_sq_sum, clipped to 1…7. Rough for small n; zero width when every answer agrees.
-- materialized: true
-- kind: aggregate
-- time: day
-- measures: days:sum, nps_responses:sum, nps_promoters:sum, nps_detractors:sum, csat_responses:sum, csat_satisfied:sum, csat_score_sum:sum, ces_responses:sum, ces_score_sum:sum, ces_score_sq_sum:sum, enps_responses:sum, enps_promoters:sum, enps_detractors:sum, new_customers:sum, churned_customers:sum, active_customer_days:sum, hires:sum, terminations:sum, headcount_days:sum, revenue:sum, revenue_to_date:max, paying_customers_to_date:max, attributed_revenue_to_date:max, employee_cost_to_date:max, employees_to_date:max
-- derived: nps = 100.0 * (nps_promoters - nps_detractors) / NULLIF(nps_responses, 0)
-- derived: csat_pct = 100.0 * csat_satisfied / NULLIF(csat_responses, 0)
-- derived: csat_mean = CAST(csat_score_sum AS DOUBLE) / NULLIF(csat_responses, 0)
-- derived: ces_mean = CAST(ces_score_sum AS DOUBLE) / NULLIF(ces_responses, 0)
-- derived: enps = CASE WHEN enps_responses >= 5 THEN 100.0 * (enps_promoters - enps_detractors) / enps_responses END
-- derived: nps_margin = 196.0 * sqrt(greatest(0.0, (CAST(nps_promoters + nps_detractors AS DOUBLE) / NULLIF(nps_responses, 0) - power(nps / 100.0, 2)) / NULLIF(nps_responses, 0)))
-- derived: nps_ci_low = greatest(-100.0, nps - nps_margin)
-- derived: nps_ci_high = least(100.0, nps + nps_margin)
-- derived: csat_pct_margin = 196.0 * sqrt(greatest(0.0, (csat_pct / 100.0) * (1.0 - csat_pct / 100.0) / NULLIF(csat_responses, 0)))
-- derived: csat_pct_ci_low = greatest(0.0, csat_pct - csat_pct_margin)
-- derived: csat_pct_ci_high = least(100.0, csat_pct + csat_pct_margin)
-- derived: ces_margin = 1.96 * sqrt(greatest(0.0, (CAST(ces_score_sq_sum AS DOUBLE) - ces_responses * power(ces_mean, 2)) / NULLIF(ces_responses - 1, 0)) / NULLIF(ces_responses, 0))
-- derived: ces_ci_low = greatest(1.0, ces_mean - ces_margin)
-- derived: ces_ci_high = least(7.0, ces_mean + ces_margin)
-- derived: enps_margin = 196.0 * sqrt(greatest(0.0, (CAST(enps_promoters + enps_detractors AS DOUBLE) / NULLIF(enps_responses, 0) - power(enps / 100.0, 2)) / NULLIF(enps_responses, 0)))
-- derived: enps_ci_low = greatest(-100.0, enps - enps_margin)
-- derived: enps_ci_high = least(100.0, enps + enps_margin)
-- derived: avg_active_customers = CAST(active_customer_days AS DOUBLE) / NULLIF(days, 0)
-- derived: customer_churn_pct = 100.0 * churned_customers / NULLIF(avg_active_customers, 0)
-- derived: avg_headcount = CAST(headcount_days AS DOUBLE) / NULLIF(days, 0)
-- derived: employee_attrition_pct = 100.0 * terminations / NULLIF(avg_headcount, 0)
-- derived: avg_customer_ltv = revenue_to_date / NULLIF(paying_customers_to_date, 0)
-- derived: avg_employee_ltv = (attributed_revenue_to_date - employee_cost_to_date) / NULLIF(employees_to_date, 0)
CREATE VIEW metrics.tx_scorecard AS
WITH events AS (
    SELECT answered_at AS t FROM tx.surveys
    UNION ALL SELECT occurred_at FROM tx.revenue
    UNION ALL SELECT created_at FROM tx.customers
    UNION ALL SELECT became_customer_at FROM tx.customers
    UNION ALL SELECT churned_at FROM tx.customers
),
bounds AS (
    SELECT date_trunc('day', min(t)) AS first_day, date_trunc('day', max(t)) AS last_day FROM events
),
calendar AS (
    SELECT arrow_cast(day, 'Timestamp(Microsecond, Some("UTC"))') AS day
    FROM (SELECT unnest(generate_series(first_day, last_day, INTERVAL '1 day')) AS day FROM bounds)
),
surveys_daily AS (
    SELECT
        date_trunc('day', answered_at) AS day,
        sum(CASE WHEN survey = 'nps' AND respondent_kind = 'customer' THEN 1 ELSE 0 END) AS nps_responses,
        sum(CASE WHEN survey = 'nps' AND respondent_kind = 'customer' AND score >= 9 THEN 1 ELSE 0 END) AS nps_promoters,
        sum(CASE WHEN survey = 'nps' AND respondent_kind = 'customer' AND score <= 6 THEN 1 ELSE 0 END) AS nps_detractors,
        sum(CASE WHEN survey = 'csat' AND respondent_kind = 'customer' THEN 1 ELSE 0 END) AS csat_responses,
        sum(CASE WHEN survey = 'csat' AND respondent_kind = 'customer' AND score >= 4 THEN 1 ELSE 0 END) AS csat_satisfied,
        sum(CASE WHEN survey = 'csat' AND respondent_kind = 'customer' THEN score ELSE 0 END) AS csat_score_sum,
        sum(CASE WHEN survey = 'ces' AND respondent_kind = 'customer' THEN 1 ELSE 0 END) AS ces_responses,
        sum(CASE WHEN survey = 'ces' AND respondent_kind = 'customer' THEN score ELSE 0 END) AS ces_score_sum,
        sum(CASE WHEN survey = 'ces' AND respondent_kind = 'customer' THEN score * score ELSE 0 END) AS ces_score_sq_sum,
        sum(CASE WHEN survey = 'enps' AND respondent_kind = 'employee' THEN 1 ELSE 0 END) AS enps_responses,
        sum(CASE WHEN survey = 'enps' AND respondent_kind = 'employee' AND score >= 9 THEN 1 ELSE 0 END) AS enps_promoters,
        sum(CASE WHEN survey = 'enps' AND respondent_kind = 'employee' AND score <= 6 THEN 1 ELSE 0 END) AS enps_detractors
    FROM tx.surveys
    WHERE answered_at IS NOT NULL
    GROUP BY date_trunc('day', answered_at)
),
-- Customer base: +1 on the day a customer first bought, −1 on the day it churned.
customers_daily AS (
    SELECT day, sum(joined) AS new_customers, sum(churned) AS churned_customers
    FROM (
        SELECT date_trunc('day', became_customer_at) AS day, 1 AS joined, 0 AS churned
        FROM tx.customers WHERE became_customer_at IS NOT NULL
        UNION ALL
        SELECT date_trunc('day', churned_at), 0, 1
        FROM tx.customers WHERE churned_at IS NOT NULL AND became_customer_at IS NOT NULL
    )
    GROUP BY day
),
-- Staff: employed from hired_at (people hired before the calendar count from its first day)
-- until terminated_at (not employed on that day); people who left before it are left out.
staff AS (
    SELECT
        GREATEST(date_trunc('day', e.hired_at), b.first_day) AS start_day,
        CASE WHEN e.hired_at >= b.first_day THEN 1 ELSE 0 END AS hired,
        date_trunc('day', e.terminated_at) AS end_day,
        COALESCE(e.annual_cost, 0.0) AS annual_cost
    FROM tx.employees e
    CROSS JOIN bounds b
    WHERE e.hired_at IS NOT NULL AND (e.terminated_at IS NULL OR e.terminated_at >= b.first_day)
),
staff_daily AS (
    SELECT
        day,
        sum(started) AS started,
        sum(hired) AS hires,
        sum(left_) AS terminations,
        sum(cost_change) AS cost_change
    FROM (
        SELECT start_day AS day, 1 AS started, hired, 0 AS left_, annual_cost AS cost_change FROM staff
        UNION ALL
        SELECT end_day, 0, 0, 1, -annual_cost FROM staff WHERE end_day IS NOT NULL
    )
    GROUP BY day
),
revenue_daily AS (
    SELECT
        date_trunc('day', occurred_at) AS day,
        sum(amount) AS revenue,
        sum(CASE WHEN employee_key IS NOT NULL THEN amount ELSE 0.0 END) AS attributed_revenue
    FROM tx.revenue
    WHERE occurred_at IS NOT NULL
    GROUP BY date_trunc('day', occurred_at)
),
first_payments AS (
    SELECT day, count(*) AS new_payers
    FROM (SELECT customer_key, date_trunc('day', min(occurred_at)) AS day FROM tx.revenue GROUP BY customer_key)
    GROUP BY day
),
daily AS (
    SELECT
        c.day,
        COALESCE(s.nps_responses, 0) AS nps_responses,
        COALESCE(s.nps_promoters, 0) AS nps_promoters,
        COALESCE(s.nps_detractors, 0) AS nps_detractors,
        COALESCE(s.csat_responses, 0) AS csat_responses,
        COALESCE(s.csat_satisfied, 0) AS csat_satisfied,
        COALESCE(s.csat_score_sum, 0) AS csat_score_sum,
        COALESCE(s.ces_responses, 0) AS ces_responses,
        COALESCE(s.ces_score_sum, 0) AS ces_score_sum,
        COALESCE(s.ces_score_sq_sum, 0) AS ces_score_sq_sum,
        COALESCE(s.enps_responses, 0) AS enps_responses,
        COALESCE(s.enps_promoters, 0) AS enps_promoters,
        COALESCE(s.enps_detractors, 0) AS enps_detractors,
        COALESCE(cu.new_customers, 0) AS new_customers,
        COALESCE(cu.churned_customers, 0) AS churned_customers,
        COALESCE(st.started, 0) AS started,
        COALESCE(st.hires, 0) AS hires,
        COALESCE(st.terminations, 0) AS terminations,
        COALESCE(st.cost_change, 0.0) AS cost_change,
        COALESCE(r.revenue, 0.0) AS revenue,
        COALESCE(r.attributed_revenue, 0.0) AS attributed_revenue,
        COALESCE(fp.new_payers, 0) AS new_payers
    FROM calendar c
    LEFT JOIN surveys_daily s ON s.day = c.day
    LEFT JOIN customers_daily cu ON cu.day = c.day
    LEFT JOIN staff_daily st ON st.day = c.day
    LEFT JOIN revenue_daily r ON r.day = c.day
    LEFT JOIN first_payments fp ON fp.day = c.day
),
running AS (
    SELECT
        d.*,
        sum(new_customers - churned_customers) OVER w AS active_customers,
        sum(started - terminations) OVER w AS headcount,
        sum(cost_change) OVER w AS annual_cost_rate,
        sum(revenue) OVER w AS revenue_to_date,
        sum(new_payers) OVER w AS paying_customers_to_date,
        sum(attributed_revenue) OVER w AS attributed_revenue_to_date,
        sum(started) OVER w AS employees_to_date
    FROM daily d
    WINDOW w AS (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
    day,
    1 AS days,
    nps_responses, nps_promoters, nps_detractors,
    csat_responses, csat_satisfied, csat_score_sum,
    ces_responses, ces_score_sum, ces_score_sq_sum,
    enps_responses, enps_promoters, enps_detractors,
    new_customers, churned_customers, active_customers AS active_customer_days,
    hires, terminations, headcount AS headcount_days,
    revenue, revenue_to_date, paying_customers_to_date,
    attributed_revenue_to_date,
    sum(annual_cost_rate / 365.25) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        AS employee_cost_to_date,
    employees_to_date
FROM running
