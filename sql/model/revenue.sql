-- view: revenue
-- grain: one row per money event (a won deal, an order, an invoice, a subscription charge) per connection
-- description: Money received from customers, the basis of historic and predicted customer LTV and of the value attributed to the employees who own the deals; only realised revenue (won deals, paid orders), never pipeline.
-- key: revenue_key
-- relation: customer = customer_key -> customers
-- relation: employee = employee_key -> employees
-- column revenue_key: `<connection>:<source id>` of the deal, order, invoice or charge; unique across connections
-- column customer_key: customers.customer_key of the paying customer
-- column employee_key: employees.employee_key of the employee who owns the deal or account; NULL when the source has no owner
-- column amount: amount received, in currency (positive; refunds negative)
-- column currency: ISO 4217 currency of amount (e.g. `USD`)
-- column kind: `deal` (a won new-business deal), `order`, `invoice` or `subscription` (a recurring charge or renewal)
-- column occurred_at: when the money was won or booked (a deal's close time), UTC
SELECT
    CAST(NULL AS VARCHAR)   AS revenue_key,
    CAST(NULL AS VARCHAR)   AS customer_key,
    CAST(NULL AS VARCHAR)   AS employee_key,
    CAST(NULL AS DOUBLE)    AS amount,
    CAST(NULL AS VARCHAR)   AS currency,
    CAST(NULL AS VARCHAR)   AS kind,
    CAST(NULL AS TIMESTAMP) AS occurred_at
WHERE false
