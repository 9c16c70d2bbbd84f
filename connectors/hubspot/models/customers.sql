-- hubspot → tx.customers, from the `contacts` stream (one row per contact: incremental_dedupe
-- keeps each contact's latest version), sized by its primary company from `companies`.
-- HubSpot property values are text; unparseable values become NULL (TRY_CAST).
--   segment: the company's numberofemployees (< 100 `smb`, 100–999 `mid_market`, ≥ 1000
--     `enterprise`), else the contact's own "Number of employees" range (numemployees); NULL
--     when neither is known.
--   country: hs_country_region_code (ISO 3166-1 alpha-2), else `country` when it is a
--     two-letter code; free-text country names ("Spain") are not guessed.
--   acquisition_channel: hs_analytics_source, lower-cased (`paid_search`, `paid_social`,
--     `organic_search`, `email_marketing`, `social_media`, `direct_traffic`, `offline`, …),
--     with REFERRALS as `referral`.
--   lifecycle_stage: `customer` for the lifecycle stages customer and evangelist; `churned`
--     for a contact that became a customer and then moved to `other` (HubSpot has no churn
--     stage; `other` is the usual convention), churned_at its "became other" date; `lead`
--     otherwise (subscriber … opportunity).
--   support_team: HubSpot does not know it (NULL).
SELECT
    concat('{{ connection }}', ':', c.id)                                   AS customer_key,
    CASE WHEN nullif(trim(c.properties['email']), '') IS NOT NULL
         THEN encode(sha256(lower(trim(c.properties['email']))), 'hex')
    END                                                                     AS person_key,
    'hubspot'                                                               AS source,
    coalesce(
        nullif(trim(concat_ws(' ', c.properties['firstname'], c.properties['lastname'])), ''),
        nullif(trim(c.properties['email']), '')
    )                                                                       AS name,
    CASE
        WHEN co.employees >= 1000 THEN 'enterprise'
        WHEN co.employees >= 100 THEN 'mid_market'
        WHEN co.employees >= 0 THEN 'smb'
        WHEN c.properties['numemployees'] = '1000+' THEN 'enterprise'
        WHEN c.properties['numemployees'] IN ('100-500', '500-1000') THEN 'mid_market'
        WHEN c.properties['numemployees'] IN ('1-5', '5-25', '25-50', '50-100') THEN 'smb'
    END                                                                     AS segment,
    CASE
        WHEN length(trim(c.properties['hs_country_region_code'])) = 2
            THEN upper(trim(c.properties['hs_country_region_code']))
        WHEN length(trim(c.properties['country'])) = 2
            THEN upper(trim(c.properties['country']))
    END                                                                     AS country,
    CASE upper(c.properties['hs_analytics_source'])
        WHEN 'REFERRALS' THEN 'referral'
        ELSE lower(nullif(trim(c.properties['hs_analytics_source']), ''))
    END                                                                     AS acquisition_channel,
    CASE
        WHEN c.properties['lifecyclestage'] IN ('customer', 'evangelist') THEN 'customer'
        WHEN c.properties['lifecyclestage'] = 'other'
             AND nullif(c.properties['hs_lifecyclestage_customer_date'], '') IS NOT NULL THEN 'churned'
        ELSE 'lead'
    END                                                                     AS lifecycle_stage,
    CAST(NULL AS VARCHAR)                                                   AS support_team,
    CAST(c."createdAt" AS TIMESTAMP) AS created_at,
    TRY_CAST(c.properties['hs_lifecyclestage_customer_date'] AS TIMESTAMP)  AS became_customer_at,
    CASE
        WHEN c.properties['lifecyclestage'] = 'other'
             AND nullif(c.properties['hs_lifecyclestage_customer_date'], '') IS NOT NULL
            THEN TRY_CAST(c.properties['hs_lifecyclestage_other_date'] AS TIMESTAMP)
    END                                                                     AS churned_at
FROM {{ connection }}.contacts AS c
LEFT JOIN (
    SELECT co.id AS id, TRY_CAST(co.properties['numberofemployees'] AS DOUBLE) AS employees
    FROM {{ connection }}.companies AS co
) AS co ON co.id = c.properties['associatedcompanyid']
