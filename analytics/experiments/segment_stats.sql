-- Sufficient statistics of one experiment per variant and segment, for results by dimension.
--
-- Reads unit_segments (unit_segments.sql: one row per unit with its user agent, country and
-- visitor kind). grouped_by is the dimension (platform: per user agent, which
-- experiments.segments maps to a platform; visitor; country) and segment its value: one
-- grouping per dimension, so the rows grow with the values of each, not with their product.
-- The columns and the 28-day maturity rule are those of exposure_stats.sql, summed over the
-- days: units and units_pre_* over every unit, the outcome sums over the matured units only.
WITH units AS (
    SELECT
        variant,
        user_agent,
        visitor,
        country,
        converted,
        pre_converted,
        outcome_value,
        pre_value,
        CASE WHEN event_dt <= :matured_through THEN 1 ELSE 0 END AS matured
    FROM unit_segments
)
SELECT
    CASE
        WHEN grouping(user_agent) = 0 THEN 'platform'
        WHEN grouping(visitor) = 0 THEN 'visitor'
        ELSE 'country'
    END AS grouped_by,
    coalesce(user_agent, visitor, country) AS segment,
    variant,
    count(*) AS units,
    count_if(matured = 1) AS matured_units,
    count_if(matured = 1 AND converted) AS conversions,
    count_if(matured = 1 AND pre_converted) AS pre_conversions,
    count_if(matured = 1 AND pre_converted AND converted) AS conversion_products,
    sum(matured * outcome_value) AS value_sum,
    sum(matured * outcome_value * outcome_value) AS value_sum_squares,
    sum(matured * pre_value) AS pre_sum,
    sum(matured * pre_value * pre_value) AS pre_sum_squares,
    sum(matured * pre_value * outcome_value) AS sum_products,
    sum(pre_value) AS units_pre_sum,
    sum(pre_value * pre_value) AS units_pre_sum_squares,
    count_if(pre_converted) AS units_pre_conversions
FROM units
GROUP BY GROUPING SETS ((variant, user_agent), (variant, visitor), (variant, country))
ORDER BY grouped_by, segment, variant
