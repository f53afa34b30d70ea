-- slug: refund_rate
-- title: Refund rate
-- description: Share of bookings refunded (a fin_refunds row exists), as of the latest load. Cohort by
--   booking date: bookings made in the period (UTC date of booked_ts, fact_bookings) and, of
--   those, the ones flagged is_refunded. After-sale events come days to weeks after the booking,
--   so the latest periods read low until their bookings mature. Split or filtered by
--   listing_kind of the booked listing.
-- owner: marketplace-analytics
-- area: marketplace_health
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: listing_kind
-- higher_is_better: false
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
    CASE :split_by
        WHEN 'listing_kind' THEN coalesce(listing_kind, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(count_if(is_refunded) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(is_refunded) AS numerator,
    count(*) AS denominator
FROM fact_bookings
WHERE event_dt BETWEEN :start AND :end
    AND (:listing_kind = '*' OR listing_kind = :listing_kind)
GROUP BY 1, 2
ORDER BY 1, 2
