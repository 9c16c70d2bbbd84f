-- tx.journey_stages: the customer journey's stages in order, each with the stage before it.
CREATE VIEW tx.journey_stages AS
WITH stages (stage_order, stage, previous_stage) AS (
    VALUES (1, 'awareness', CAST(NULL AS VARCHAR)),
           (2, 'consideration', 'awareness'),
           (3, 'purchase', 'consideration'),
           (4, 'onboarding', 'purchase'),
           (5, 'usage', 'onboarding'),
           (6, 'support', 'usage'),
           (7, 'renewal', 'support'),
           (8, 'advocacy', 'renewal')
)
SELECT stage_order, stage, previous_stage FROM stages
