-- slug: referral_qualification_rate
-- title: Referral qualification rate
-- description: Share of referral invitations that qualified for the reward. Cohort by
--   invitation date: invitations used in the period (UTC date of invited_ts,
--   fact_referrals); numerator: those with qualified_ts set (the referee signed up and met
--   the reward's conditions). Qualification comes days to weeks after the invitation, so
--   recent periods read low until they mature.
-- owner: growth-analytics
-- area: growth
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: none
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- experiment_unit: referee_identity_id
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
    CAST(count_if(qualified_ts IS NOT NULL) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(qualified_ts IS NOT NULL) AS numerator,
    count(*) AS denominator
FROM fact_referrals
WHERE event_dt BETWEEN :start AND :end
GROUP BY 1
ORDER BY 1
