-- The units of one experiment (first_exposures.sql) with their segments, for results by
-- dimension: the user agent of the first exposure (experiments.segments maps it to a platform),
-- its country ('' when unknown), and whether the unit was new or returning: returning when
-- dim_identities first saw the identity before the day of its first exposure, new otherwise
-- (first seen that day, or not yet in dim_identities). The other queries here read it as unit_segments (experiments.queries
-- joins it in), so a unit's segment is decided once.
SELECT
    f.experiment_key,
    f.identity_id,
    f.variant,
    f.event_dt,
    coalesce(f.user_agent, '') AS user_agent,
    coalesce(f.country, '') AS country,
    CASE
        WHEN i.first_seen_ts < CAST(f.event_dt AS timestamp) THEN 'returning'
        ELSE 'new'
    END AS visitor,
    f.converted,
    f.pre_converted,
    f.outcome_value,
    f.pre_value
FROM first_exposures AS f
LEFT JOIN dim_identities AS i ON i.identity_id = f.identity_id
