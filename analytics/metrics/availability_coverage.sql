-- slug: availability_coverage
-- title: Availability coverage
-- description: Share of active listings with at least one open slot in the next 14 days.
--   Each day's snapshot (fact_availability_snapshots: one row per active listing per day)
--   gives the listings with open_slots_next_14d > 0; the daily shares are averaged over the
--   period weighted by active listings (numerator: covered listing-days, denominator: active
--   listing-days), so periods re-aggregate exactly.
-- owner: marketplace-analytics
-- area: marketplace_health
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: listing_kind
-- higher_is_better: true
-- version: 1
-- timezone: UTC
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
    CAST(count_if(open_slots_next_14d > 0) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(open_slots_next_14d > 0) AS numerator,
    count(*) AS denominator
FROM fact_availability_snapshots
WHERE event_dt BETWEEN :start AND :end
    AND (:listing_kind = '*' OR listing_kind = :listing_kind)
GROUP BY 1, 2
ORDER BY 1, 2
