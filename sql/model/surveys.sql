-- view: surveys
-- grain: one row per survey answer (one respondent answering one question once) per connection
-- description: Customer (NPS, CSAT, CES, CSI) and employee (eNPS) survey answers with their scale, the touchpoint they were asked about and, for ticket surveys, the ticket; the base of every satisfaction metric.
-- key: response_key
-- column response_key: `<connection>:<source id>`, unique across connections
-- column respondent_kind: `customer` or `employee`; says which view respondent_key points into
-- column respondent_key: customers.customer_key when respondent_kind = `customer`, employees.employee_key when `employee`
-- column survey: `nps`, `csat`, `ces`, `csi` or `enps`
-- column score: the answer on its scale (NPS/eNPS 0–10; CSAT 1–5, 5 = very satisfied; CES 1–7, 1 = very easy, lower is better)
-- column scale_min: lowest possible score of the question's scale
-- column scale_max: highest possible score of the question's scale
-- column touchpoint: the touchpoint the question was about (e.g. `support_ticket`, `onboarding_session`, `contract_signed`, `product_usage`, `employee_pulse`)
-- column channel: channel the survey was answered through (e.g. `email`, `chat`, `web`)
-- column ticket_key: tickets.ticket_key the answer is about; NULL for surveys not about a ticket
-- column answered_at: when the answer was given, UTC
SELECT
    CAST(NULL AS VARCHAR)   AS response_key,
    CAST(NULL AS VARCHAR)   AS respondent_kind,
    CAST(NULL AS VARCHAR)   AS respondent_key,
    CAST(NULL AS VARCHAR)   AS survey,
    CAST(NULL AS INT)       AS score,
    CAST(NULL AS INT)       AS scale_min,
    CAST(NULL AS INT)       AS scale_max,
    CAST(NULL AS VARCHAR)   AS touchpoint,
    CAST(NULL AS VARCHAR)   AS channel,
    CAST(NULL AS VARCHAR)   AS ticket_key,
    CAST(NULL AS TIMESTAMP) AS answered_at
WHERE false
