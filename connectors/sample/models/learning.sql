-- sample → tx.learning, from the `enrollments` stream (latest row per id: incremental_dedupe)
-- joined to `courses` for the course's name and category. LEFT JOIN: an enrolment whose
-- course is missing still counts, with NULL name and category.
SELECT
    concat('{{ connection }}', ':', CAST(n.id AS VARCHAR))          AS enrollment_key,
    concat('{{ connection }}', ':', CAST(n.employee_id AS VARCHAR)) AS employee_key,
    CAST(n.course_id AS VARCHAR)                                    AS course_id,
    c.name                                                          AS course_name,
    c.category                                                      AS category,
    n.status                                                        AS status,
    n.enrolled_at                                                   AS enrolled_at,
    n.completed_at                                                  AS completed_at,
    n.score                                                         AS score
FROM {{ connection }}.enrollments AS n
LEFT JOIN {{ connection }}.courses AS c ON c.id = n.course_id
