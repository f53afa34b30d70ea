-- Sufficient statistics of one experiment per variant and segment, for results by dimension.
--
-- Reads unit_segments (unit_segments.sql: one row per unit with its user agent and visitor
-- kind). The columns and the 28-day maturity rule are those of exposure_stats.sql, summed over
-- the days: units and units_pre_* over every unit, the outcome sums over the matured units only.
WITH units AS (
    SELECT
        variant,
        user_agent,
        visitor,
        converted,
        outcome_value,
        pre_value,
        CASE WHEN event_dt <= :matured_through THEN 1 ELSE 0 END AS matured
    FROM unit_segments
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
