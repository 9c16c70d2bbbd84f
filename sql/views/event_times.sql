-- tx.event_times: the first and latest time of each kind of event in the canonical model, one row each.
-- Metrics take "now" from the data (max over these rows), never from the wall clock, so the same
-- lake gives the same numbers whenever it is queried.
CREATE VIEW tx.event_times AS
SELECT min(created_at) AS first_t, max(created_at) AS last_t FROM tx.customers
UNION ALL SELECT min(became_customer_at), max(became_customer_at) FROM tx.customers
UNION ALL SELECT min(churned_at), max(churned_at) FROM tx.customers
UNION ALL SELECT min(occurred_at), max(occurred_at) FROM tx.revenue
UNION ALL SELECT min(created_at), max(created_at) FROM tx.tickets
UNION ALL SELECT min(solved_at), max(solved_at) FROM tx.tickets
UNION ALL SELECT min(answered_at), max(answered_at) FROM tx.surveys
UNION ALL SELECT min(occurred_at), max(occurred_at) FROM tx.touchpoints
UNION ALL SELECT min(enrolled_at), max(enrolled_at) FROM tx.learning
UNION ALL SELECT min(completed_at), max(completed_at) FROM tx.learning
