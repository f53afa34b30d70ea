-- slug: takedown_propagation_time
-- title: Takedown propagation time
-- description: Median minutes from a takedown order (DMCA or moderation) to the moment it was
--   live on every surface and cache, over the takedowns requested in the period (UTC date of
--   requested_ts, fact_takedowns) that have propagated. Takedowns not propagated yet are
--   left out, so the latest periods read low until their slow takedowns finish. Exact
--   median: the middle value, or the mean of the two middle values.
-- owner: trust-safety
-- area: quality_safety
-- unit: minutes
-- format: duration
-- grains: day, week, month
-- dimensions: source
-- higher_is_better: false
-- version: 1
-- timezone: UTC
-- history: 1: First canonical definition.
WITH propagated AS (
    SELECT
        CAST(
            CASE :grain
                WHEN 'week' THEN date_trunc('week', event_dt)
                WHEN 'month' THEN date_trunc('month', event_dt)
                ELSE event_dt
            END AS DATE
        ) AS period,
        CASE :split_by
            WHEN 'source' THEN coalesce(source, 'unknown')
            ELSE 'all'
        END AS dimension_value,
        (to_unixtime(propagated_ts) - to_unixtime(requested_ts)) / 60.0 AS minutes
    FROM fact_takedowns
    WHERE event_dt BETWEEN :start AND :end
        AND propagated_ts IS NOT NULL
        AND (:source = '*' OR source = :source)
),
ranked AS (
    SELECT
        period,
        dimension_value,
        minutes,
        row_number() OVER (PARTITION BY period, dimension_value ORDER BY minutes) AS row_in_period,
        count(*) OVER (PARTITION BY period, dimension_value) AS items
    FROM propagated
)
SELECT period, dimension_value, avg(minutes) AS value
FROM ranked
WHERE row_in_period IN ((items + 1) / 2, (items + 2) / 2)
GROUP BY 1, 2
ORDER BY 1, 2
