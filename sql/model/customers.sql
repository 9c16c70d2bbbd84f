-- view: customers
-- grain: one row per customer (a person or account, from lead on) per CRM connection
-- description: Everyone the company sells to, from first contact (lead) through purchase to churn, with the attributes CX metrics are sliced by; person_key joins the same person across systems.
-- key: customer_key
-- column customer_key: `<connection>:<source id>`, unique across connections; the key every CX view joins on
-- column person_key: lower-case hex SHA-256 of the trimmed, lower-cased e-mail (64 characters); the same person in any system has the same person_key; NULL without an e-mail
-- column source: the connector the row comes from (e.g. `sample`, `hubspot`)
-- column name: display name of the person or account
-- column segment: customer segment (sample: `smb`, `mid_market`, `enterprise`)
-- column country: ISO 3166-1 alpha-2 country code
-- column acquisition_channel: how the customer was acquired (sample: `paid_social`, `paid_search`, `referral`, `content`)
-- column lifecycle_stage: `lead` (never bought), `customer` (buying now) or `churned` (bought, then left)
-- column support_team: name of the support team that serves the customer; equals employees.team of its agents
-- column created_at: when the customer (lead) was first recorded, UTC
-- column became_customer_at: when the lead first bought (became a customer), UTC; NULL for leads
-- column churned_at: when the customer churned, UTC; NULL unless lifecycle_stage = `churned`
SELECT
    CAST(NULL AS VARCHAR)   AS customer_key,
    CAST(NULL AS VARCHAR)   AS person_key,
    CAST(NULL AS VARCHAR)   AS source,
    CAST(NULL AS VARCHAR)   AS name,
    CAST(NULL AS VARCHAR)   AS segment,
    CAST(NULL AS VARCHAR)   AS country,
    CAST(NULL AS VARCHAR)   AS acquisition_channel,
    CAST(NULL AS VARCHAR)   AS lifecycle_stage,
    CAST(NULL AS VARCHAR)   AS support_team,
    CAST(NULL AS TIMESTAMP) AS created_at,
    CAST(NULL AS TIMESTAMP) AS became_customer_at,
    CAST(NULL AS TIMESTAMP) AS churned_at
WHERE false
