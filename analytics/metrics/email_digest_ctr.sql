-- slug: email_digest_ctr
-- title: Email digest CTR
-- description: Share of weekly digest emails (sent only to users with marketing consent) that were
--   clicked. Cohort by send date: emails of kind digest sent in the period (UTC date of
--   sent_ts, fact_messages_sent); numerator: those with a click (clicked_ts set, unique
--   clicks: one per email). Clicks come hours after the send, so the latest day reads low
--   until its clicks arrive.
-- owner: growth-analytics
-- area: growth
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
    CAST(count_if(clicked_ts IS NOT NULL) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(clicked_ts IS NOT NULL) AS numerator,
    count(*) AS denominator
FROM fact_messages_sent
WHERE event_dt BETWEEN :start AND :end
    AND kind = 'digest'
GROUP BY 1
ORDER BY 1
