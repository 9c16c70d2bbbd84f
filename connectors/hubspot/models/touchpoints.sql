-- hubspot → tx.touchpoints: the journey events HubSpot records, and only those.
--   awareness: the contact is created (createdate); touchpoint and channel from its original
--     source (hs_analytics_source): PAID_SEARCH → ad/search, PAID_SOCIAL → ad/social,
--     ORGANIC_SEARCH → website_visit/search, DIRECT_TRAFFIC → website_visit/web,
--     REFERRALS → referral/web, SOCIAL_MEDIA → social_post/social, EMAIL_MARKETING →
--     email_campaign/email, OTHER_CAMPAIGNS → campaign/web; OFFLINE (imports, manual entry)
--     and unknown sources → contact_created with no channel.
--   consideration: a new-business deal is created for the contact (deal_created, the owner).
--   purchase: a deal is won (deal_won, the owner, at its close date); `renewal` instead when
--     the deal is existing business (dealtype existingbusiness).
-- Lifecycle-stage changes are HubSpot's classification, not interactions, so they are not events.
WITH owner AS (
    SELECT o.id AS id, encode(sha256(lower(trim(o.email))), 'hex') AS person_key
    FROM {{ connection }}.owners AS o
    WHERE nullif(trim(o.email), '') IS NOT NULL
),
employee AS (
    SELECT ranked.person_key, ranked.employee_key
    FROM (
        SELECT e.person_key, e.employee_key,
               row_number() OVER (PARTITION BY e.person_key
                                  ORDER BY e.terminated_at IS NULL DESC, e.hired_at DESC, e.employee_key) AS n
        FROM tx.employees AS e
        WHERE e.person_key IS NOT NULL
    ) AS ranked
    WHERE ranked.n = 1
),
deal AS (
    SELECT
        d.id,
        d.associations['contacts']['results'][1]['id']                        AS contact_id,
        employee.employee_key                                                  AS employee_key,
        d.properties['dealtype']                                               AS dealtype,
        d.properties['hs_is_closed_won'] = 'true'
            OR (d.properties['hs_is_closed_won'] IS NULL AND d.properties['dealstage'] = 'closedwon') AS won,
        CAST(d."createdAt" AS TIMESTAMP) AS created_at,
        TRY_CAST(d.properties['closedate'] AS TIMESTAMP)                       AS closed_at
    FROM {{ connection }}.deals AS d
    LEFT JOIN owner ON owner.id = d.properties['hubspot_owner_id']
    LEFT JOIN employee ON employee.person_key = owner.person_key
),
contact AS (
    SELECT
        c.id,
        upper(c.properties['hs_analytics_source'])                                                  AS source,
        CAST(c."createdAt" AS TIMESTAMP) AS created_at
    FROM {{ connection }}.contacts AS c
),
event AS (
    SELECT
        concat(':contact:', contact.id, ':created') AS key,
        contact.id                                  AS contact_id,
        'awareness'                                 AS stage,
        CASE contact.source
            WHEN 'PAID_SEARCH' THEN 'ad'
            WHEN 'PAID_SOCIAL' THEN 'ad'
            WHEN 'ORGANIC_SEARCH' THEN 'website_visit'
            WHEN 'DIRECT_TRAFFIC' THEN 'website_visit'
            WHEN 'REFERRALS' THEN 'referral'
            WHEN 'SOCIAL_MEDIA' THEN 'social_post'
            WHEN 'EMAIL_MARKETING' THEN 'email_campaign'
            WHEN 'OTHER_CAMPAIGNS' THEN 'campaign'
            ELSE 'contact_created'
        END                                         AS touchpoint,
        CASE contact.source
            WHEN 'PAID_SEARCH' THEN 'search'
            WHEN 'ORGANIC_SEARCH' THEN 'search'
            WHEN 'PAID_SOCIAL' THEN 'social'
            WHEN 'SOCIAL_MEDIA' THEN 'social'
            WHEN 'DIRECT_TRAFFIC' THEN 'web'
            WHEN 'REFERRALS' THEN 'web'
            WHEN 'OTHER_CAMPAIGNS' THEN 'web'
            WHEN 'EMAIL_MARKETING' THEN 'email'
        END                                         AS channel,
        CAST(NULL AS VARCHAR)                       AS employee_key,
        contact.created_at                          AS occurred_at
    FROM contact
    UNION ALL
    -- A deal's two events (created, won) from one scan of the deals.
    SELECT
        concat(':deal:', deal.id, ':', step.name),
        deal.contact_id,
        CASE
            WHEN step.name = 'created' THEN 'consideration'
            WHEN deal.dealtype = 'existingbusiness' THEN 'renewal'
            ELSE 'purchase'
        END,
        concat('deal_', step.name),
        CAST(NULL AS VARCHAR),
        deal.employee_key,
        CASE WHEN step.name = 'created' THEN deal.created_at ELSE deal.closed_at END
    FROM deal
    CROSS JOIN (VALUES ('created'), ('won')) AS step(name)
    WHERE deal.contact_id IS NOT NULL
      AND CASE
              WHEN step.name = 'created' THEN deal.dealtype IS DISTINCT FROM 'existingbusiness'
              ELSE deal.won AND deal.closed_at IS NOT NULL
          END
)
SELECT
    concat('{{ connection }}', event.key)              AS event_key,
    concat('{{ connection }}', ':', event.contact_id)  AS customer_key,
    event.stage                                        AS stage,
    event.touchpoint                                   AS touchpoint,
    event.channel                                      AS channel,
    event.employee_key                                 AS employee_key,
    event.occurred_at                                  AS occurred_at
FROM event
