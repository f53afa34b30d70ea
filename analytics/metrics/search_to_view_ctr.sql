-- slug: search_to_view_ctr
-- title: Search → view CTR
-- description: Listing page views per search. Numerator: listing page views (profile or
--   studio pages, funnel step profile_view); denominator: searches (funnel step search); both
--   counted from fact_funnel_events by the UTC date of the event, independently (an aggregate
--   funnel step ratio, not a session cohort). The funnel table does not link a view to the
--   search it came from, so views reached from elsewhere count too. Periods re-aggregate as
--   sum(numerator) / sum(denominator).
-- owner: marketplace-analytics
-- area: marketplace_health
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: none
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
    'all' AS dimension_value,
    CAST(count_if(step = 'profile_view') AS DOUBLE)
        / nullif(count_if(step = 'search'), 0) AS value,
    count_if(step = 'profile_view') AS numerator,
    count_if(step = 'search') AS denominator
FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end
    AND step IN ('search', 'profile_view')
GROUP BY 1
ORDER BY 1
