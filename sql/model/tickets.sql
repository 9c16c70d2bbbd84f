-- view: tickets
-- grain: one row per support case (its current state) per ticketing connection
-- description: Support cases raised by customers, with the agent who handles them and the times that make up first-response and resolution times; joins customers (customer_key) to the agents who serve them (assignee_key).
-- key: ticket_key
-- relation: customer = customer_key -> customers
-- relation: assignee = assignee_key -> employees
-- column ticket_key: `<connection>:<source id>`, unique across connections
-- column customer_key: customers.customer_key of the customer who raised the ticket
-- column assignee_key: employees.employee_key of the agent handling (or who solved) the ticket; NULL when unassigned
-- column channel: channel the ticket came in through (sample: `email`, `chat`, `phone`, `web`)
-- column priority: `low`, `normal`, `high` or `urgent`
-- column status: current status (sample: `open`, `solved`)
-- column created_at: when the ticket was opened, UTC
-- column first_response_at: first agent response, UTC; NULL before one
-- column solved_at: when the ticket was (last) solved, UTC; NULL while unsolved
-- column reopened: true when the ticket was reopened after being solved
SELECT
    CAST(NULL AS VARCHAR)   AS ticket_key,
    CAST(NULL AS VARCHAR)   AS customer_key,
    CAST(NULL AS VARCHAR)   AS assignee_key,
    CAST(NULL AS VARCHAR)   AS channel,
    CAST(NULL AS VARCHAR)   AS priority,
    CAST(NULL AS VARCHAR)   AS status,
    CAST(NULL AS TIMESTAMP) AS created_at,
    CAST(NULL AS TIMESTAMP) AS first_response_at,
    CAST(NULL AS TIMESTAMP) AS solved_at,
    CAST(NULL AS BOOLEAN)   AS reopened
WHERE false
