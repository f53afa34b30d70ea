-- Dead letters: events the ingest validator rejected, per receive hour, reason and event name.
SELECT
  event_dt,
  extract(HOUR FROM received_ts) AS hour,
  reason,
  event_name,
  count(*) AS events,
  min(received_ts) AS first_seen,
  max(received_ts) AS last_seen
FROM dead_letter_events
WHERE event_dt BETWEEN :start AND :end
GROUP BY 1, 2, 3, 4
