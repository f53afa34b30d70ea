-- slug: checkout_completion_rate
-- title: Checkout start → complete
-- description: Completed checkouts per checkout started. Numerator: funnel step
--   checkout_complete; denominator: funnel step checkout_start; both counted from
--   fact_funnel_events by the UTC date of the event (an aggregate funnel step ratio: a
--   checkout completed just after midnight counts on the next day). Split or filtered by
--   listing_kind (profile or studio) of the listing being booked.
-- owner: marketplace-analytics
-- area: marketplace_health
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: listing_kind
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- experiment_unit: identity_id
-- history: 1: First canonical definition.
SELECT
    CAST(
        CASE :grain
            WHEN 'week' THEN date_trunc('week', event_dt)
            WHEN 'month' THEN date_trunc('month', event_dt)
            ELSE event_dt
        END AS DATE
    ) AS period,
    CASE :split_by
        WHEN 'listing_kind' THEN coalesce(listing_kind, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(count_if(step = 'checkout_complete') AS DOUBLE)
        / nullif(count_if(step = 'checkout_start'), 0) AS value,
    count_if(step = 'checkout_complete') AS numerator,
    count_if(step = 'checkout_start') AS denominator
FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end
    AND step IN ('checkout_start', 'checkout_complete')
    AND (:listing_kind = '*' OR listing_kind = :listing_kind)
GROUP BY 1, 2
ORDER BY 1, 2
