-- slug: sla_breach_count
-- title: SLA breaches
-- description: Tickets created in the period (UTC date of created_ts) whose first-response
--   SLA was breached: answered after sla_due_ts, or not answered although sla_due_ts has
--   passed. "Passed" is judged as of the latest ticket creation time in the data from the
--   window's start on (the data's clock, not the wall clock), so the count does not grow
--   while the data stands still. Reads support_tickets_v, the support role's view of
--   support_tickets.
-- owner: support-operations
-- area: support
-- unit: count
-- format: number
-- grains: day, week, month
-- dimensions: priority, channel
-- higher_is_better: false
-- version: 2
-- timezone: UTC
-- audience: support
-- history: 1: First canonical definition.
-- history: 2: support_tickets_v read up to tomorrow, not open-ended (the partition rule
--   wants both ends); same numbers.
WITH data_clock AS (
    SELECT max(created_ts) AS as_of
    FROM support_tickets_v
    -- The data's clock: up to tomorrow by the engine's clock, whatever its time zone.
    WHERE event_dt BETWEEN :start AND date_add('day', 1, current_date)
)
SELECT
    CAST(
        CASE :grain
            WHEN 'week' THEN date_trunc('week', t.event_dt)
            WHEN 'month' THEN date_trunc('month', t.event_dt)
            ELSE t.event_dt
        END AS DATE
    ) AS period,
    CASE :split_by
        WHEN 'priority' THEN coalesce(t.priority, 'unknown')
        WHEN 'channel' THEN coalesce(t.channel, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    count_if(
        t.first_response_ts > t.sla_due_ts
        OR (t.first_response_ts IS NULL AND t.sla_due_ts < c.as_of)
    ) AS value
FROM support_tickets_v AS t
CROSS JOIN data_clock AS c
WHERE t.event_dt BETWEEN :start AND :end
    AND (:priority = '*' OR t.priority = :priority)
    AND (:channel = '*' OR t.channel = :channel)
GROUP BY 1, 2
ORDER BY 1, 2
