-- view: learning
-- grain: one row per enrolment (one employee in one course, once) per LMS connection
-- description: Employee training: who enrolled in which course, whether and when they completed it and their score; joined to tickets and surveys through employee_key to link training to the CX of the customers an agent serves.
-- key: enrollment_key
-- relation: employee = employee_key -> employees
-- column enrollment_key: `<connection>:<source id>`, unique across connections
-- column employee_key: employees.employee_key of the learner
-- column course_id: the course's id in its source system (as text; not prefixed, so unique only within a connection)
-- column course_name: the course's title
-- column category: course category (sample: `customer_service`, `communication`, `product`, `leadership`, `compliance`)
-- column status: `enrolled` (in progress), `completed` or `dropped`
-- column enrolled_at: when the employee enrolled, UTC
-- column completed_at: when the course was completed, UTC; NULL unless status = `completed`
-- column score: the final assessment score in percent (0–100); NULL when not completed or not assessed
SELECT
    CAST(NULL AS VARCHAR)   AS enrollment_key,
    CAST(NULL AS VARCHAR)   AS employee_key,
    CAST(NULL AS VARCHAR)   AS course_id,
    CAST(NULL AS VARCHAR)   AS course_name,
    CAST(NULL AS VARCHAR)   AS category,
    CAST(NULL AS VARCHAR)   AS status,
    CAST(NULL AS TIMESTAMP) AS enrolled_at,
    CAST(NULL AS TIMESTAMP) AS completed_at,
    CAST(NULL AS DOUBLE)    AS score
WHERE false
