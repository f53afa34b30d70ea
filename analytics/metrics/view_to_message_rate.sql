-- slug: view_to_message_rate
-- title: View → message rate
-- description: Messages to listing owners per listing page view. Numerator: funnel step
--   message; denominator: funnel step profile_view (profile or studio page views); both
--   counted from fact_funnel_events by the UTC date of the event (an aggregate funnel step
--   ratio). Split or filtered by listing_kind of the listing viewed or messaged.
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
    CAST(count_if(step = 'message') AS DOUBLE)
        / nullif(count_if(step = 'profile_view'), 0) AS value,
    count_if(step = 'message') AS numerator,
    count_if(step = 'profile_view') AS denominator
FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end
    AND step IN ('profile_view', 'message')
    AND (:listing_kind = '*' OR listing_kind = :listing_kind)
GROUP BY 1, 2
ORDER BY 1, 2
