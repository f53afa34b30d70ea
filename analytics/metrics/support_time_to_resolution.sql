-- slug: support_time_to_resolution
-- title: Support time to resolution
-- description: Median hours from a ticket's creation to its resolution, over the tickets
--   created in the period (UTC date of created_ts) that agents handle (auto_resolved =
--   false, as for support_first_response_time) and that are resolved. Open tickets are left
--   out, so the latest periods read low until their slow tickets are resolved. Exact median:
--   the middle value, or the mean of the two middle values. Reads support_tickets_v, the
--   support role's view of support_tickets.
-- owner: support-operations
-- area: support
-- unit: hours
-- format: duration
-- grains: day, week, month
-- dimensions: channel, priority, category
-- higher_is_better: false
-- version: 1
-- timezone: UTC
-- audience: support
-- history: 1: First canonical definition.
WITH resolved AS (
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
            WHEN 'priority' THEN coalesce(priority, 'unknown')
            WHEN 'category' THEN coalesce(category, 'unknown')
            ELSE 'all'
        END AS dimension_value,
        resolution_minutes / 60.0 AS hours
    FROM support_tickets_v
    WHERE event_dt BETWEEN :start AND :end
        AND NOT auto_resolved
        AND resolution_minutes IS NOT NULL
        AND (:channel = '*' OR channel = :channel)
        AND (:priority = '*' OR priority = :priority)
        AND (:category = '*' OR category = :category)
),
ranked AS (
    SELECT
        period,
        dimension_value,
        hours,
        row_number() OVER (PARTITION BY period, dimension_value ORDER BY hours) AS row_in_period,
        count(*) OVER (PARTITION BY period, dimension_value) AS items
    FROM resolved
)
SELECT period, dimension_value, avg(hours) AS value
FROM ranked
WHERE row_in_period IN ((items + 1) / 2, (items + 2) / 2)
GROUP BY 1, 2
ORDER BY 1, 2
