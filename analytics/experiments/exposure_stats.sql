-- Sufficient statistics of one experiment, per variant and day of first exposure.
--
-- Reads first_exposures (first_exposures.sql: one row per unit). Summing the rows of a variant
-- over its days gives its sufficient statistics. units counts every unit (the split, its
-- sample-ratio check and the exposure charts) and cumulative_units is their running total.
--
-- conversion and outcome_value are 28-day outcomes: a unit counts toward them only once all
-- of the 28 days after its first exposure have passed by the analysis cut-off, that is when it
-- was first exposed on or before :matured_through (experiments.queries.exposure_stats: the
-- cut-off minus 28 days; an exposure late on day d has its 28 days end on day d + 28).
-- matured_units, conversions, pre_conversions (booked in the 28 days before exposure: the
-- CUPED covariate of conversion), conversion_products (booked in both periods) and the sums
-- value_*, pre_* and sum_products are over those units only; units_pre_sum,
-- units_pre_sum_squares and units_pre_conversions are the covariates over every unit (they are
-- known at exposure), for the pre-period balance check.
WITH weighted AS (
    SELECT
        variant,
        event_dt,
        converted,
        pre_converted,
        outcome_value,
        pre_value,
        CASE WHEN event_dt <= :matured_through THEN 1 ELSE 0 END AS matured
    FROM first_exposures
),
daily AS (
    SELECT
        variant,
        event_dt,
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
    FROM weighted
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
    matured_units,
    conversions,
    pre_conversions,
    conversion_products,
    value_sum,
    value_sum_squares,
    pre_sum,
    pre_sum_squares,
    sum_products,
    units_pre_sum,
    units_pre_sum_squares,
    units_pre_conversions
FROM daily
ORDER BY variant, event_dt
