-- Quickstart: answers per survey kind in the sample world, with the average score.
SELECT survey,
       respondent_kind,
       count(*)              AS answers,
       round(avg(score), 2)  AS average_score,
       min(answered_at)      AS first_answer,
       max(answered_at)      AS last_answer
FROM demo.survey_responses
GROUP BY survey, respondent_kind
ORDER BY survey
