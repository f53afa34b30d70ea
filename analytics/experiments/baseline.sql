-- Baseline of the experiment outcome metrics over a recent window, for sizing a new experiment.
--
-- Units are those of the results (exposure_units.sql: crawlers and units exposed to more than
-- one variant left out) of one experiment, or of every one when :experiment_key is empty.
-- Traffic counts the units of every variant; the outcome statistics are those of the control
-- units (:control_variant) only, so a running treatment does not move the baseline.
WITH control AS (
    SELECT
        event_dt,
        variant = :control_variant AS is_control,
        CASE WHEN variant = :control_variant THEN outcome_value ELSE 0 END AS y,
        CASE WHEN variant = :control_variant THEN pre_value ELSE 0 END AS x,
        variant = :control_variant AND converted AS converted
    FROM exposure_units
    WHERE NOT crawler AND NOT multi_variant
)
SELECT
    count(DISTINCT event_dt) AS days_with_data,
    count(*) AS units,
    count_if(is_control) AS control_units,
    count_if(converted) AS conversions,
    coalesce(sum(y), 0) AS value_sum,
    coalesce(sum(y * y), 0) AS value_sum_squares,
    coalesce(sum(x), 0) AS pre_sum,
    coalesce(sum(x * x), 0) AS pre_sum_squares,
    coalesce(sum(x * y), 0) AS sum_products
FROM control
