-- slug: supply_freshness
-- title: Supply freshness
-- description: Share of active listings updated in the last 30 days. Each day d, the active
--   listings are those with a row in fact_availability_snapshots on d; a listing is fresh on
--   d when its owner saved an edit (fact_listing_updates) on one of the 30 days d-29 .. d.
--   The daily shares are averaged over the period weighted by active listings (numerator:
--   fresh listing-days, denominator: active listing-days), so periods re-aggregate exactly.
--   Edits before the lake's first day are not seen: its first 29 days read low.
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
WITH active AS (
    SELECT event_dt AS snapshot_dt, listing_id, listing_kind
    FROM fact_availability_snapshots
    WHERE event_dt BETWEEN :start AND :end
        AND (:listing_kind = '*' OR listing_kind = :listing_kind)
),
edit_days AS (
    SELECT DISTINCT listing_id, event_dt AS edit_dt
    FROM fact_listing_updates
    WHERE event_dt BETWEEN date_add('day', -29, :start) AND :end
),
listing_days AS (
    SELECT a.snapshot_dt, a.listing_id, a.listing_kind, count(e.listing_id) > 0 AS is_fresh
    FROM active AS a
    LEFT JOIN edit_days AS e
        ON e.listing_id = a.listing_id
        AND e.edit_dt BETWEEN date_add('day', -29, a.snapshot_dt) AND a.snapshot_dt
    GROUP BY a.snapshot_dt, a.listing_id, a.listing_kind
)
SELECT
    CAST(
        CASE :grain
            WHEN 'week' THEN date_trunc('week', snapshot_dt)
            WHEN 'month' THEN date_trunc('month', snapshot_dt)
            ELSE snapshot_dt
        END AS DATE
    ) AS period,
    CASE :split_by
        WHEN 'listing_kind' THEN coalesce(listing_kind, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(count_if(is_fresh) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(is_fresh) AS numerator,
    count(*) AS denominator
FROM listing_days
GROUP BY 1, 2
ORDER BY 1, 2
