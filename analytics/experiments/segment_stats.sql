-- Sufficient statistics of one experiment per variant and segment, for results by dimension.
--
-- Reads first_exposures (first_exposures.sql: one row per unit). A segment is the user agent of
-- the unit's first exposure (experiments.segments maps it to a platform) and whether the unit
-- was new or returning: returning when dim_identities first saw the identity before the day of
-- its first exposure, new otherwise (first seen that day, or not yet in dim_identities).
-- The columns and the 28-day maturity rule are those of exposure_stats.sql, summed over the
-- days: units and units_pre_* over every unit, the outcome sums over the matured units only.
WITH units AS (
    SELECT
        f.variant,
        coalesce(f.user_agent, '') AS user_agent,
        CASE
            WHEN i.first_seen_ts < CAST(f.event_dt AS timestamp) THEN 'returning'
            ELSE 'new'
        END AS visitor,
        f.converted,
        f.outcome_value,
        f.pre_value,
        CASE WHEN f.event_dt <= :matured_through THEN 1 ELSE 0 END AS matured
    FROM first_exposures AS f
    LEFT JOIN dim_identities AS i ON i.identity_id = f.identity_id
)
SELECT
    variant,
    user_agent,
    visitor,
    count(*) AS units,
    count_if(matured = 1) AS matured_units,
    count_if(matured = 1 AND converted) AS conversions,
    sum(matured * outcome_value) AS value_sum,
    sum(matured * outcome_value * outcome_value) AS value_sum_squares,
    sum(matured * pre_value) AS pre_sum,
    sum(matured * pre_value * pre_value) AS pre_sum_squares,
    sum(matured * pre_value * outcome_value) AS sum_products,
    sum(pre_value) AS units_pre_sum,
    sum(pre_value * pre_value) AS units_pre_sum_squares
FROM units
GROUP BY variant, user_agent, visitor
ORDER BY variant, user_agent, visitor
