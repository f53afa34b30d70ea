-- slug: sfw_violation_rate
-- title: SFW violation rate (public surfaces)
-- description: Share of safe-for-work classifier checks on public surfaces (visible without
--   login: is_public_surface) that found content not safe for work. Checks run in the period
--   (UTC date of checked_ts, fact_sfw_checks); numerator: those with is_violation. Split or
--   filtered by surface.
-- owner: trust-safety
-- area: quality_safety
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: surface
-- higher_is_better: false
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
        WHEN 'surface' THEN coalesce(surface, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(count_if(is_violation) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(is_violation) AS numerator,
    count(*) AS denominator
FROM fact_sfw_checks
WHERE event_dt BETWEEN :start AND :end
    AND is_public_surface
    AND (:surface = '*' OR surface = :surface)
GROUP BY 1, 2
ORDER BY 1, 2
