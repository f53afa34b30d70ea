-- Sufficient statistics of one experiment, per variant and day of first exposure.
--
-- Reads first_exposures (first_exposures.sql: one row per unit). Summing the rows of a variant
-- over its days gives its sufficient statistics; cumulative_units is the running total of
-- exposed units.
WITH daily AS (
    SELECT
        variant,
        event_dt,
        count(*) AS units,
        count_if(converted) AS conversions,
        sum(outcome_value) AS value_sum,
        sum(outcome_value * outcome_value) AS value_sum_squares,
        sum(pre_value) AS pre_sum,
        sum(pre_value * pre_value) AS pre_sum_squares,
        sum(pre_value * outcome_value) AS sum_products
    FROM first_exposures
    GROUP BY variant, event_dt
)
SELECT
    variant,
    event_dt,
    units,
    CAST(
        sum(units) OVER (
            PARTITION BY variant ORDER BY event_dt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS bigint
    ) AS cumulative_units,
    conversions,
    value_sum,
    value_sum_squares,
    pre_sum,
    pre_sum_squares,
    sum_products
FROM daily
ORDER BY variant, event_dt
