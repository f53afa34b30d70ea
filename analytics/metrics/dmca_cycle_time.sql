-- slug: dmca_cycle_time
-- title: DMCA cycle time
-- description: Median hours from a copyright (DMCA) notice's arrival to its decision
--   (takedown, counter notice or rejection), over the notices received in the period (UTC
--   date of received_ts) that have been decided. Open notices are left out, so the latest
--   periods read low until their slow notices are decided. Exact median: the middle value, or
--   the mean of the two middle values. Reads support_dmca_notices_v, the support role's view
--   of support_dmca_notices.
-- owner: support-operations
-- area: support
-- unit: hours
-- format: duration
-- grains: day, week, month
-- dimensions: action
-- higher_is_better: false
-- version: 1
-- timezone: UTC
-- audience: support
-- history: 1: First canonical definition.
WITH decided AS (
    SELECT
        CAST(
            CASE :grain
                WHEN 'week' THEN date_trunc('week', event_dt)
                WHEN 'month' THEN date_trunc('month', event_dt)
                ELSE event_dt
            END AS DATE
        ) AS period,
        CASE :split_by
            WHEN 'action' THEN coalesce(action, 'unknown')
            ELSE 'all'
        END AS dimension_value,
        cycle_hours AS hours
    FROM support_dmca_notices_v
    WHERE event_dt BETWEEN :start AND :end
        AND cycle_hours IS NOT NULL
        AND (:action = '*' OR action = :action)
),
ranked AS (
    SELECT
        period,
        dimension_value,
        hours,
        row_number() OVER (PARTITION BY period, dimension_value ORDER BY hours) AS row_in_period,
        count(*) OVER (PARTITION BY period, dimension_value) AS items
    FROM decided
)
SELECT period, dimension_value, avg(hours) AS value
FROM ranked
WHERE row_in_period IN ((items + 1) / 2, (items + 2) / 2)
GROUP BY 1, 2
ORDER BY 1, 2
