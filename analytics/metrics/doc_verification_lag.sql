-- slug: doc_verification_lag
-- title: Document verification lag
-- description: Median hours from a listing owner's submission of identity documents to their
--   review (verified or rejected), over the submissions made in the period (UTC date of
--   submitted_ts, fact_doc_verifications) that have been reviewed. Pending submissions are
--   left out, so the latest periods read low until their slow reviews are done. Exact
--   median: the middle value, or the mean of the two middle values.
-- owner: trust-safety
-- area: quality_safety
-- unit: hours
-- format: duration
-- grains: day, week, month
-- dimensions: status
-- higher_is_better: false
-- version: 1
-- timezone: UTC
-- history: 1: First canonical definition.
WITH reviewed AS (
    SELECT
        CAST(
            CASE :grain
                WHEN 'week' THEN date_trunc('week', event_dt)
                WHEN 'month' THEN date_trunc('month', event_dt)
                ELSE event_dt
            END AS DATE
        ) AS period,
        CASE :split_by
            WHEN 'status' THEN coalesce(status, 'unknown')
            ELSE 'all'
        END AS dimension_value,
        (to_unixtime(verified_ts) - to_unixtime(submitted_ts)) / 3600.0 AS hours
    FROM fact_doc_verifications
    WHERE event_dt BETWEEN :start AND :end
        AND verified_ts IS NOT NULL
        AND (:status = '*' OR status = :status)
),
ranked AS (
    SELECT
        period,
        dimension_value,
        hours,
        row_number() OVER (PARTITION BY period, dimension_value ORDER BY hours) AS row_in_period,
        count(*) OVER (PARTITION BY period, dimension_value) AS items
    FROM reviewed
)
SELECT period, dimension_value, avg(hours) AS value
FROM ranked
WHERE row_in_period IN ((items + 1) / 2, (items + 2) / 2)
GROUP BY 1, 2
ORDER BY 1, 2
