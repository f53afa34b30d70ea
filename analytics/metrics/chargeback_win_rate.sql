-- slug: chargeback_win_rate
-- title: Chargeback win rate
-- description: Share of decided chargebacks the platform won. Cohort by booking date:
--   bookings made in the period (UTC date of booked_ts, fact_bookings) whose chargeback has
--   been decided (chargeback_outcome won or lost, as of the latest load); numerator: those
--   won. Pending chargebacks are left out until decided, so recent periods have few or no
--   decided chargebacks (no value when none). A cohort counts as matured 60 days after its
--   bookings (matures_after_days), when most of its chargebacks have been filed and about
--   half decided; tiles and headlines show the latest matured cohorts and say so.
-- owner: marketplace-analytics
-- area: marketplace_health
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: listing_kind
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- matures_after_days: 60
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
        WHEN 'listing_kind' THEN coalesce(listing_kind, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(count_if(chargeback_outcome = 'won') AS DOUBLE)
        / nullif(count_if(chargeback_outcome IN ('won', 'lost')), 0) AS value,
    count_if(chargeback_outcome = 'won') AS numerator,
    count_if(chargeback_outcome IN ('won', 'lost')) AS denominator
FROM fact_bookings
WHERE event_dt BETWEEN :start AND :end
    AND has_chargeback
    AND (:listing_kind = '*' OR listing_kind = :listing_kind)
GROUP BY 1, 2
ORDER BY 1, 2
