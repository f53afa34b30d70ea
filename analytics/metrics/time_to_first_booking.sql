-- slug: time_to_first_booking
-- title: Time to first booking (new listings)
-- description: Median days from a new listing's creation to its first booking. Listings
--   (profiles and studios, dim_listings) created in the period (UTC date of created_ts); the
--   first booking is the earliest fact_bookings row for the listing at or after its
--   creation, whenever it came. Listings not booked yet are left out, so the latest periods
--   read low (only the fast ones have booked) until their listings book. Exact median: the
--   middle value, or the mean of the two middle values.
-- owner: marketplace-analytics
-- area: marketplace_health
-- unit: days
-- format: duration
-- grains: day, week, month
-- dimensions: listing_kind
-- higher_is_better: false
-- version: 2
-- timezone: UTC
-- history: 1: First canonical definition.
-- history: 2: fact_bookings read up to tomorrow, not open-ended (the partition rule wants
--   both ends); same numbers.
WITH new_listings AS (
    SELECT listing_id, listing_kind, created_ts, CAST(created_ts AS DATE) AS created_dt
    FROM dim_listings
    WHERE CAST(created_ts AS DATE) BETWEEN :start AND :end
        AND (:listing_kind = '*' OR listing_kind = :listing_kind)
),
first_bookings AS (
    SELECT l.listing_id, min(b.booked_ts) AS first_booked_ts
    FROM new_listings AS l
    JOIN fact_bookings AS b
        ON b.profile_id = l.listing_id
        AND b.booked_ts >= l.created_ts
        -- Whenever it came: up to tomorrow by the engine's clock, whatever its time zone.
        AND b.event_dt BETWEEN :start AND date_add('day', 1, current_date)
    GROUP BY l.listing_id
),
waits AS (
    SELECT
        CAST(
            CASE :grain
                WHEN 'week' THEN date_trunc('week', l.created_dt)
                WHEN 'month' THEN date_trunc('month', l.created_dt)
                ELSE l.created_dt
            END AS DATE
        ) AS period,
        CASE :split_by
            WHEN 'listing_kind' THEN coalesce(l.listing_kind, 'unknown')
            ELSE 'all'
        END AS dimension_value,
        (to_unixtime(f.first_booked_ts) - to_unixtime(l.created_ts)) / 86400.0 AS days
    FROM new_listings AS l
    JOIN first_bookings AS f ON f.listing_id = l.listing_id
),
ranked AS (
    SELECT
        period,
        dimension_value,
        days,
        row_number() OVER (PARTITION BY period, dimension_value ORDER BY days) AS row_in_period,
        count(*) OVER (PARTITION BY period, dimension_value) AS items
    FROM waits
)
SELECT period, dimension_value, avg(days) AS value
FROM ranked
WHERE row_in_period IN ((items + 1) / 2, (items + 2) / 2)
GROUP BY 1, 2
ORDER BY 1, 2
