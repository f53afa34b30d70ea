-- slug: support_first_response_time
-- title: Support first response time
-- description: Median minutes from a ticket's creation to its first response, over the
--   tickets created in the period (UTC date of created_ts) that agents handle
--   (auto_resolved = false: automation answers in seconds and has its own metric,
--   support_auto_resolved_share) and that have been answered. Tickets not answered yet are
--   left out, so the latest periods read low until their slow tickets are answered; see
--   sla_breach_count for those. Exact median: the middle value, or the mean of the two middle
--   values. Reads support_tickets_v, the support role's view of support_tickets.
-- owner: support-operations
-- area: support
-- unit: minutes
-- format: duration
-- grains: day, week, month
-- dimensions: channel, priority, category
-- higher_is_better: false
-- version: 1
-- timezone: UTC
-- audience: support
-- history: 1: First canonical definition.
WITH answered AS (
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
        first_response_minutes AS minutes
    FROM support_tickets_v
    WHERE event_dt BETWEEN :start AND :end
        AND NOT auto_resolved
        AND first_response_minutes IS NOT NULL
        AND (:channel = '*' OR channel = :channel)
        AND (:priority = '*' OR priority = :priority)
        AND (:category = '*' OR category = :category)
),
ranked AS (
    SELECT
        period,
        dimension_value,
        minutes,
        row_number() OVER (PARTITION BY period, dimension_value ORDER BY minutes) AS row_in_period,
        count(*) OVER (PARTITION BY period, dimension_value) AS items
    FROM answered
)
SELECT period, dimension_value, avg(minutes) AS value
FROM ranked
WHERE row_in_period IN ((items + 1) / 2, (items + 2) / 2)
GROUP BY 1, 2
ORDER BY 1, 2
