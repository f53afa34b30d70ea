-- Bronze: events the ingest endpoint accepted, per ingest hour, event name and schema version
-- (retried sends of the same event_id included: bronze keeps what arrived).
-- Feeds loss (expected events), volume by event type and the schema versions seen.
SELECT
  event_dt,
  extract(HOUR FROM ingest_ts) AS hour,
  event_name,
  schema_version,
  count(*) AS events
FROM raw_events
WHERE event_dt BETWEEN :start AND :end
GROUP BY 1, 2, 3, 4
