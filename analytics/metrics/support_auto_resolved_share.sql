-- slug: support_auto_resolved_share
-- title: Support auto-resolved share
-- description: Share of tickets resolved by automation without an agent. Cohort: tickets
--   created in the period (UTC date of created_ts); numerator: those with auto_resolved.
--   Open tickets stay in the denominator (automation resolves within seconds, so an open
--   ticket is an agent's). Reads support_tickets_v, the support role's view of
--   support_tickets.
-- owner: support-operations
-- area: support
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: channel, category
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- audience: support
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
        WHEN 'channel' THEN coalesce(channel, 'unknown')
        WHEN 'category' THEN coalesce(category, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(count_if(auto_resolved) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(auto_resolved) AS numerator,
    count(*) AS denominator
FROM support_tickets_v
WHERE event_dt BETWEEN :start AND :end
    AND (:channel = '*' OR channel = :channel)
    AND (:category = '*' OR category = :category)
GROUP BY 1, 2
ORDER BY 1, 2
