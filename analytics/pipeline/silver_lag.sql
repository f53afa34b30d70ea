-- Ingest -> silver lag per ingest hour and per day: events delivered, p50, p95 and max (seconds).
-- Percentiles are read from a histogram of log-spaced bins (bin k holds lags in
-- [exp(k * :bin_width), exp((k + 1) * :bin_width)) seconds; lags of zero or less go to a bin of
-- their own, read as 0) and interpolated geometrically inside the bin the rank falls in, so each
-- is within a factor exp(:bin_width) of the exact one; never above the bucket's max.
WITH lagged AS (
  SELECT
    event_dt,
    extract(HOUR FROM ingest_ts) AS hour,
    to_unixtime(silver_processed_ts) - to_unixtime(ingest_ts) AS lag_s
  FROM events
  WHERE event_dt BETWEEN :start AND :end
),
binned AS (
  SELECT
    event_dt,
    hour,
    coalesce(
      CAST(floor(ln(CASE WHEN lag_s > 0 THEN lag_s END) / :bin_width) AS integer), -100000
    ) AS bin,
    count(*) AS events,
    max(lag_s) AS max_s
  FROM lagged
  GROUP BY 1, 2, 3
),
buckets AS (
  -- Hours, and days as the sum of their hours' histograms (hour -1 on day rows).
  SELECT
    CASE WHEN grouping(hour) = 1 THEN 'day' ELSE 'hour' END AS grain,
    event_dt,
    coalesce(hour, -1) AS hour,
    bin,
    sum(events) AS events,
    max(max_s) AS max_s
  FROM binned
  GROUP BY GROUPING SETS ((event_dt, hour, bin), (event_dt, bin))
),
ranked AS (
  SELECT
    grain,
    event_dt,
    hour,
    bin,
    events,
    sum(events) OVER (
      PARTITION BY grain, event_dt, hour ORDER BY bin ROWS UNBOUNDED PRECEDING
    ) AS cumulative,
    sum(events) OVER (PARTITION BY grain, event_dt, hour) AS total,
    max(max_s) OVER (PARTITION BY grain, event_dt, hour) AS max_s
  FROM buckets
)
SELECT
  grain,
  event_dt,
  hour,
  max(total) AS events,
  max(max_s) AS max_s,
  least(max(CASE
    WHEN cumulative < 0.5 * total OR cumulative - events >= 0.5 * total THEN NULL
    WHEN bin = -100000 THEN 0.0
    ELSE exp((bin + (0.5 * total - (cumulative - events)) / events) * :bin_width)
  END), max(max_s)) AS p50_s,
  least(max(CASE
    WHEN cumulative < 0.95 * total OR cumulative - events >= 0.95 * total THEN NULL
    WHEN bin = -100000 THEN 0.0
    ELSE exp((bin + (0.95 * total - (cumulative - events)) / events) * :bin_width)
  END), max(max_s)) AS p95_s
FROM ranked
GROUP BY grain, event_dt, hour
