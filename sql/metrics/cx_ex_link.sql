-- name: cx_ex_link
-- title: CX × EX linkage (training and team eNPS against customer CSAT and NPS)
-- description: Links the experience of employees to the experience of the customers they serve.
--   One row per agent (an employee who is the assignee of at least one ticket), with the agent's
--   team from tx.employees. Agent columns: tickets = tickets assigned; customers_served =
--   distinct customers among them; completed_courses = distinct courses the agent completed
--   (tx.learning status `completed`); csat_responses, csat_mean (mean of 1–5, 5 = very
--   satisfied) and csat_pct (100 × share of 4–5 answers) of the customer CSAT answers about the
--   agent's tickets (surveys linked by ticket_key); ces_responses and ces_mean (1–7, lower =
--   easier) likewise; courses_at_answer_mean = mean number of courses the agent had completed
--   when the CSAT answer was given; customer_nps_responses and customer_nps (% promoters 9–10
--   minus % detractors 0–6) of the NPS answers of the customers the agent served. Team columns
--   (repeated on each agent row of the team): team_enps_responses and team_enps (eNPS of the
--   team's employees, same formula; NULL when fewer than 5 different people answered, so no employee
--   can be identified); team_customer_nps_responses and team_customer_nps (NPS of customers
--   whose support_team is the team). Correlations (Pearson, `corr()`; repeated on every row and
--   computed over ALL rows, not the filtered ones): corr_training_csat across agents with a CSAT
--   answer (completed_courses vs csat_mean); corr_training_csat_answers across CSAT answers
--   (courses the agent had completed at the answer vs the score); corr_enps_nps across teams
--   with a team_enps and a team_customer_nps (one point per team, team_enps vs
--   team_customer_nps); corr_enps_agent_nps across agents (team_enps vs the agent's
--   customer_nps). Positive values mean better-trained agents / healthier teams go with happier
--   customers. A table metric: correlations and means do not re-aggregate.
-- kind: table
-- dimensions: employee_key, team, department, role
-- order_by: team, employee_key
-- materialized: true
CREATE VIEW metrics.cx_ex_link AS
WITH agent_tickets AS (
    SELECT t.assignee_key AS employee_key, count(*) AS tickets, count(DISTINCT t.customer_key) AS customers_served
    FROM tx.tickets t
    WHERE t.assignee_key IS NOT NULL
    GROUP BY t.assignee_key
),
completed AS (
    SELECT employee_key, course_id, min(completed_at) AS completed_at
    FROM tx.learning
    WHERE status = 'completed' AND employee_key IS NOT NULL
    GROUP BY employee_key, course_id
),
training AS (
    SELECT employee_key, count(*) AS completed_courses FROM completed GROUP BY employee_key
),
-- Customer CSAT/CES answers about a ticket, with the ticket's agent.
ticket_answers AS (
    SELECT s.response_key, s.survey, s.score, s.answered_at, t.assignee_key AS employee_key
    FROM tx.surveys s
    JOIN tx.tickets t ON t.ticket_key = s.ticket_key
    WHERE s.respondent_kind = 'customer' AND s.survey IN ('csat', 'ces') AND t.assignee_key IS NOT NULL
),
-- Courses the agent had completed when each CSAT answer was given.
csat_answers AS (
    SELECT a.response_key, a.employee_key, a.score, count(c.course_id) AS courses_at_answer
    FROM ticket_answers a
    LEFT JOIN completed c ON c.employee_key = a.employee_key AND c.completed_at <= a.answered_at
    WHERE a.survey = 'csat'
    GROUP BY a.response_key, a.employee_key, a.score
),
agent_csat AS (
    SELECT
        employee_key,
        count(*) AS csat_responses,
        avg(CAST(score AS DOUBLE)) AS csat_mean,
        100.0 * sum(CASE WHEN score >= 4 THEN 1 ELSE 0 END) / count(*) AS csat_pct,
        avg(CAST(courses_at_answer AS DOUBLE)) AS courses_at_answer_mean
    FROM csat_answers
    GROUP BY employee_key
),
agent_ces AS (
    SELECT employee_key, count(*) AS ces_responses, avg(CAST(score AS DOUBLE)) AS ces_mean
    FROM ticket_answers
    WHERE survey = 'ces'
    GROUP BY employee_key
),
nps_answers AS (
    SELECT
        respondent_key AS customer_key,
        CASE WHEN score >= 9 THEN 1 ELSE 0 END AS promoter,
        CASE WHEN score <= 6 THEN 1 ELSE 0 END AS detractor
    FROM tx.surveys
    WHERE respondent_kind = 'customer' AND survey = 'nps'
),
agent_customers AS (
    SELECT DISTINCT assignee_key AS employee_key, customer_key FROM tx.tickets WHERE assignee_key IS NOT NULL
),
agent_nps AS (
    SELECT
        ac.employee_key,
        count(*) AS customer_nps_responses,
        100.0 * (sum(n.promoter) - sum(n.detractor)) / count(*) AS customer_nps
    FROM agent_customers ac
    JOIN nps_answers n ON n.customer_key = ac.customer_key
    GROUP BY ac.employee_key
),
team_enps AS (
    SELECT
        e.team,
        count(*) AS team_enps_responses,
        CASE WHEN count(DISTINCT s.respondent_key) >= 5
             THEN 100.0 * (sum(CASE WHEN s.score >= 9 THEN 1 ELSE 0 END)
                         - sum(CASE WHEN s.score <= 6 THEN 1 ELSE 0 END)) / count(*)
        END AS team_enps
    FROM tx.surveys s
    JOIN tx.employees e ON e.employee_key = s.respondent_key
    WHERE s.respondent_kind = 'employee' AND s.survey = 'enps' AND e.team IS NOT NULL
    GROUP BY e.team
),
team_nps AS (
    SELECT
        c.support_team AS team,
        count(*) AS team_customer_nps_responses,
        100.0 * (sum(n.promoter) - sum(n.detractor)) / count(*) AS team_customer_nps
    FROM nps_answers n
    JOIN tx.customers c ON c.customer_key = n.customer_key
    WHERE c.support_team IS NOT NULL
    GROUP BY c.support_team
),
agents AS (
    SELECT
        a.employee_key,
        e.name,
        e.team,
        e.department,
        e.role,
        a.tickets,
        a.customers_served,
        COALESCE(tr.completed_courses, 0) AS completed_courses,
        COALESCE(cs.csat_responses, 0) AS csat_responses,
        cs.csat_mean,
        cs.csat_pct,
        cs.courses_at_answer_mean,
        COALESCE(ce.ces_responses, 0) AS ces_responses,
        ce.ces_mean,
        COALESCE(an.customer_nps_responses, 0) AS customer_nps_responses,
        an.customer_nps,
        COALESCE(te.team_enps_responses, 0) AS team_enps_responses,
        te.team_enps,
        COALESCE(tn.team_customer_nps_responses, 0) AS team_customer_nps_responses,
        tn.team_customer_nps
    FROM agent_tickets a
    LEFT JOIN tx.employees e ON e.employee_key = a.employee_key
    LEFT JOIN training tr ON tr.employee_key = a.employee_key
    LEFT JOIN agent_csat cs ON cs.employee_key = a.employee_key
    LEFT JOIN agent_ces ce ON ce.employee_key = a.employee_key
    LEFT JOIN agent_nps an ON an.employee_key = a.employee_key
    LEFT JOIN team_enps te ON te.team = e.team
    LEFT JOIN team_nps tn ON tn.team = e.team
),
correlations AS (
    SELECT
        (SELECT corr(CAST(completed_courses AS DOUBLE), csat_mean) FROM agents WHERE csat_mean IS NOT NULL)
            AS corr_training_csat,
        (SELECT corr(CAST(courses_at_answer AS DOUBLE), CAST(score AS DOUBLE)) FROM csat_answers)
            AS corr_training_csat_answers,
        (SELECT corr(te.team_enps, tn.team_customer_nps)
           FROM team_enps te JOIN team_nps tn ON tn.team = te.team
          WHERE te.team_enps IS NOT NULL) AS corr_enps_nps,
        (SELECT corr(team_enps, customer_nps) FROM agents) AS corr_enps_agent_nps
)
SELECT agents.*, correlations.*
FROM agents
CROSS JOIN correlations
ORDER BY team, employee_key
