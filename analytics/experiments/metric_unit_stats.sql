-- Sufficient statistics of a catalogue ratio metric per variant of one experiment.
--
-- Reads first_exposures (first_exposures.sql) and metric_rows: the metric's own query split by
-- unit (metrics.per_unit) at grain day, one row per unit and day with its numerator and
-- denominator. experiments.queries joins both in, so the metric keeps its one definition.
-- A unit's rows count from the day of its first exposure on: what it did before it saw a
-- variant cannot be the variant's effect. An exposed unit without rows counts as 0 / 0, so each
-- variant's units are all its exposed units and the ratio is Σ numerator / Σ denominator.
WITH per_unit AS (
    SELECT
        f.variant,
        CAST(coalesce(sum(m.numerator), 0) AS DOUBLE) AS x,
        CAST(coalesce(sum(m.denominator), 0) AS DOUBLE) AS y
    FROM first_exposures AS f
    LEFT JOIN metric_rows AS m
        ON m.dimension_value = f.identity_id AND m.period >= f.event_dt
    GROUP BY f.variant, f.identity_id
)
SELECT
    variant,
    count(*) AS units,
    sum(x) AS numerator_sum,
    sum(x * x) AS numerator_sum_squares,
    sum(y) AS denominator_sum,
    sum(y * y) AS denominator_sum_squares,
    sum(x * y) AS sum_products
FROM per_unit
GROUP BY variant
ORDER BY variant
