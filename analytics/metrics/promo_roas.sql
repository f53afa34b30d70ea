-- slug: promo_roas
-- title: Promotion ROAS
-- description: Return on ad spend of paid promotions: booking revenue attributed to a
--   promotion (fact_attribution_conversions, last paid touch within 30 days, by UTC date of
--   the booking) divided by promotion spend (fact_promo_spend, by spend date), both in EUR
--   cents over the same period. 2.0 means every euro spent brought two euros of bookings.
--   Split or filtered by the promotion's channel.
-- owner: growth-analytics
-- area: growth
-- unit: ratio
-- format: multiple
-- grains: day, week, month
-- dimensions: channel
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- history: 1: First canonical definition.
WITH money AS (
    SELECT event_dt, channel, revenue_cents, 0 AS spend_cents
    FROM fact_attribution_conversions
    WHERE event_dt BETWEEN :start AND :end
        AND model = 'last_touch'
    UNION ALL
    SELECT event_dt, channel, 0 AS revenue_cents, spend_cents
    FROM fact_promo_spend
    WHERE event_dt BETWEEN :start AND :end
)
SELECT
    CAST(
        CASE :grain
            WHEN 'week' THEN date_trunc('week', event_dt)
            WHEN 'month' THEN date_trunc('month', event_dt)
            ELSE event_dt
        END AS DATE
    ) AS period,
    CASE :split_by
        WHEN 'channel' THEN coalesce(channel, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(sum(revenue_cents) AS DOUBLE) / nullif(CAST(sum(spend_cents) AS DOUBLE), 0) AS value,
    CAST(sum(revenue_cents) AS BIGINT) AS numerator,
    CAST(sum(spend_cents) AS BIGINT) AS denominator
FROM money
WHERE :channel = '*' OR channel = :channel
GROUP BY 1, 2
ORDER BY 1, 2
