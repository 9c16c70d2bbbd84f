-- moodle → tx.learning: one row per enrolment (`enrolments`, a user in a course) that is not
-- a teaching-only one, with the course (`courses`, `categories`), the completion
-- (`user_courses`) and the course total (`grades`).
-- employee_key: the employee of any HRM connection with the Moodle user's person_key
-- (the same e-mail); tx.employees is registered before tx.learning. A person with several
-- employments takes the current one (else the latest hire). NULL when no HRM knows the e-mail.
-- enrollment_key: `<connection>:<course id>:<user id>` (Moodle's web services expose no
-- enrolment id). status: `completed` when Moodle marks the course complete for the user,
-- `dropped` when the enrolment is no longer active (listed among the course's enrolled users
-- but not among the user's courses: suspended or ended), else `enrolled`.
-- enrolled_at: NULL, the web services do not expose when a user was enrolled.
-- completed_at: the web services do not expose the completion time either; the time the
-- course total was graded, else the user's last access to the course, stands in for it.
-- score: the course total in percent of its range, for completed enrolments only.
-- Moodle times are unix seconds, 0 for never.
WITH roles AS (
    SELECT course_id, id AS user_id,
           bool_and(role['shortname'] IN ('editingteacher', 'teacher', 'manager', 'coursecreator')) AS teaching_only
    FROM (SELECT n.course_id, n.id, unnest(n.roles) AS role FROM {{ connection }}.enrolments AS n) AS r
    GROUP BY course_id, id
),
course_totals AS (
    SELECT courseid, userid,
           item['graderaw']        AS graderaw,
           item['grademin']        AS grademin,
           item['grademax']        AS grademax,
           item['gradedategraded'] AS graded_at
    FROM (SELECT g.courseid, g.userid, unnest(g.gradeitems) AS item FROM {{ connection }}.grades AS g) AS i
    WHERE item['itemtype'] = 'course'
),
staff AS (
    SELECT person_key, employee_key
    FROM (
        SELECT person_key, employee_key,
               row_number() OVER (PARTITION BY person_key
                                  ORDER BY terminated_at IS NULL DESC, hired_at DESC NULLS LAST, employee_key) AS n
        FROM tx.employees
        WHERE person_key IS NOT NULL
    ) AS e
    WHERE n = 1
)
SELECT
    concat('{{ connection }}', ':', CAST(n.course_id AS VARCHAR), ':', CAST(n.id AS VARCHAR)) AS enrollment_key,
    s.employee_key                                                                         AS employee_key,
    CAST(n.course_id AS VARCHAR)                                                           AS course_id,
    c.fullname                                                                             AS course_name,
    cat.name                                                                               AS category,
    CASE WHEN uc.completed THEN 'completed'
         WHEN uc.id IS NULL THEN 'dropped'
         ELSE 'enrolled'
    END                                                                                    AS status,
    CAST(NULL AS TIMESTAMP)                                                                AS enrolled_at,
    CASE WHEN uc.completed
         THEN to_timestamp(coalesce(nullif(t.graded_at, 0), nullif(uc.lastaccess, 0)))
    END                                                                                    AS completed_at,
    CASE WHEN uc.completed AND t.graderaw IS NOT NULL AND t.grademax > t.grademin
         THEN 100.0 * (t.graderaw - t.grademin) / (t.grademax - t.grademin)
    END                                                                                    AS score
FROM {{ connection }}.enrolments AS n
LEFT JOIN roles AS r ON r.course_id = n.course_id AND r.user_id = n.id
LEFT JOIN {{ connection }}.users AS u ON u.id = n.id
LEFT JOIN staff AS s ON s.person_key = encode(sha256(lower(trim(u.email))), 'hex')
LEFT JOIN {{ connection }}.courses AS c ON c.id = n.course_id
LEFT JOIN {{ connection }}.categories AS cat ON cat.id = c.categoryid
LEFT JOIN {{ connection }}.user_courses AS uc ON uc.user_id = n.id AND uc.id = n.course_id
LEFT JOIN course_totals AS t ON t.courseid = n.course_id AND t.userid = n.id
WHERE NOT coalesce(r.teaching_only, false)
