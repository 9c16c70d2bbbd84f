-- view: touchpoints
-- grain: one row per journey event (one customer meeting one touchpoint once) per connection
-- description: The customer journey: every interaction of a customer with the company, placed in a journey stage, with the employee involved where there is one; the base of journey funnels and paths.
-- key: event_key
-- relation: customer = customer_key -> customers
-- relation: employee = employee_key -> employees
-- column event_key: `<connection>:<source id>`, unique across connections
-- column customer_key: customers.customer_key of the customer
-- column stage: journey stage, in order: `awareness`, `consideration`, `purchase`, `onboarding`, `usage`, `support`, `renewal`, `advocacy`
-- column touchpoint: what happened (e.g. `ad`, `website_visit`, `demo`, `sales_call`, `contract_signed`, `onboarding_session`, `product_usage`, `support_ticket`, `renewal_call`, `review`)
-- column channel: channel of the interaction (e.g. `web`, `email`, `phone`, `video_call`, `app`, `word_of_mouth`)
-- column employee_key: employees.employee_key of the employee involved (account owner, CS manager, support agent); NULL for self-service touchpoints
-- column occurred_at: when it happened, UTC
SELECT
    CAST(NULL AS VARCHAR)   AS event_key,
    CAST(NULL AS VARCHAR)   AS customer_key,
    CAST(NULL AS VARCHAR)   AS stage,
    CAST(NULL AS VARCHAR)   AS touchpoint,
    CAST(NULL AS VARCHAR)   AS channel,
    CAST(NULL AS VARCHAR)   AS employee_key,
    CAST(NULL AS TIMESTAMP) AS occurred_at
WHERE false
