-- slug: repeat_booking_rate_30d
-- title: Repeat booking rate (30 days)
-- description: Share of new bookers who book again within 30 days. Cohort: users whose
--   first booking (no booking of theirs in the 365 days before it) falls in the period (UTC
--   date of booked_ts, fact_bookings); numerator: those whose next booking came at most 30
--   days (30 × 24 h) after the first. Right-censoring: a first booking is counted only once
--   its whole follow-up is in the data, that is when its date plus 30 days is on or before
--   the latest booking date in fact_bookings; until then it is in neither numerator nor
--   denominator, and the last 30 days of data have no value.
-- owner: marketplace-analytics
-- area: marketplace_health
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: listing_kind
-- higher_is_better: true
-- version: 2
-- timezone: UTC
-- history: 1: First canonical definition.
-- history: 2: fact_bookings read up to tomorrow, not open-ended (the partition rule wants
--   both ends); same numbers.
WITH bookings AS (
    SELECT
        user_id,
        listing_kind,
        booked_ts,
        event_dt,
        lag(booked_ts) OVER (PARTITION BY user_id ORDER BY booked_ts, booking_id) AS previous_ts,
        lead(booked_ts) OVER (PARTITION BY user_id ORDER BY booked_ts, booking_id) AS next_ts
    FROM fact_bookings
    -- Up to the data's end (right-censoring needs the latest booking date): tomorrow by the
    -- engine's clock, whatever its time zone, bounds it (the partition rule wants both ends).
    WHERE event_dt BETWEEN date_add('day', -365, :start) AND date_add('day', 1, current_date)
),
data_end AS (
    SELECT max(event_dt) AS last_dt
    FROM bookings
),
first_bookings AS (
    SELECT b.*
    FROM bookings AS b
    CROSS JOIN data_end AS d
    WHERE b.event_dt BETWEEN :start AND :end
        AND (b.previous_ts IS NULL OR b.previous_ts < b.booked_ts - INTERVAL '365' DAY)
        AND date_add('day', 30, b.event_dt) <= d.last_dt
        AND (:listing_kind = '*' OR b.listing_kind = :listing_kind)
)
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
    CAST(count_if(next_ts <= booked_ts + INTERVAL '30' DAY) AS DOUBLE)
        / nullif(count(*), 0) AS value,
    count_if(next_ts <= booked_ts + INTERVAL '30' DAY) AS numerator,
    count(*) AS denominator
FROM first_bookings
GROUP BY 1, 2
ORDER BY 1, 2
