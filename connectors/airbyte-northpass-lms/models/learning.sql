-- airbyte-northpass-lms → tx.learning, from the manifest's `course_enrollments` stream (each
-- course's enrollments, with the person and course ids and the progress lifted out of the
-- JSON:API `attributes` by the manifest's AddFields), `courses` (the title) and `people` (the
-- learner's e-mail).
--   employee_key: the employee of any HRM connection with the learner's person_key (the same
--     e-mail; the current employment, else the latest hire); NULL when no HRM knows the e-mail.
--   category: Northpass' course categories are not in the manifest's records: NULL.
--   status: `completed` at 100 % progress, else `enrolled` (the API lists no dropped enrolments).
--   completed_at and score: not in the manifest's records: NULL.
WITH learner AS (
    SELECT p.id AS person_id, encode(sha256(lower(trim(p.email))), 'hex') AS person_key
    FROM {{ connection }}.people AS p
    WHERE nullif(trim(p.email), '') IS NOT NULL
),
employee AS (
    SELECT ranked.person_key, ranked.employee_key
    FROM (
        SELECT e.person_key, e.employee_key,
               row_number() OVER (PARTITION BY e.person_key
                                  ORDER BY e.terminated_at IS NULL DESC, e.hired_at DESC, e.employee_key) AS n
        FROM tx.employees AS e
        WHERE e.person_key IS NOT NULL
    ) AS ranked
    WHERE ranked.n = 1
)
SELECT
    concat('{{ connection }}', ':', n.id)                               AS enrollment_key,
    employee.employee_key                                               AS employee_key,
    n.course_id                                                         AS course_id,
    c.name                                                              AS course_name,
    CAST(NULL AS VARCHAR)                                               AS category,
    CASE WHEN n.progress >= 100 THEN 'completed' ELSE 'enrolled' END    AS status,
    CAST(n.enrolled_at AS TIMESTAMP)                                    AS enrolled_at,
    CAST(NULL AS TIMESTAMP)                                             AS completed_at,
    CAST(NULL AS DOUBLE)                                                AS score
FROM {{ connection }}.course_enrollments AS n
LEFT JOIN {{ connection }}.courses AS c ON c.id = n.course_id
LEFT JOIN learner ON learner.person_id = n.person_id
LEFT JOIN employee ON employee.person_key = learner.person_key
