-- The newest :per_reason rejected payloads of every dead-letter reason, for triage. The result
-- reads payload, so the warehouse masks its personal data before the result is cached
-- (warehouse/personal_data.py): the run holds no more than the dead-letters page shows.
WITH ranked AS (
  SELECT
    reason,
    event_name,
    received_ts,
    payload,
    row_number() OVER (PARTITION BY reason ORDER BY received_ts DESC, event_id) AS recency
  FROM dead_letter_events
  WHERE event_dt BETWEEN :start AND :end
)
SELECT reason, event_name, received_ts, payload
FROM ranked
WHERE recency <= :per_reason
ORDER BY reason, received_ts DESC
