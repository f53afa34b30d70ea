-- Sufficient statistics of a catalogue ratio metric in one experiment, in one read of the
-- metric: per variant and day of first exposure (grouped_by 'day', event_dt set: the totals
-- and the lift over time), per variant and segment of the units (grouped_by 'platform' (per
-- user agent), 'visitor' or 'country', the value in segment), and per variant and value of the
-- dimension the metric is split by (grouped_by 'dimension', the value in segment: results by
-- the metric's own dimension; one value, 'all', when it is not split).
--
-- Reads unit_segments (unit_segments.sql: the units, with their segments) and metric_rows: the
-- metric's own query split by unit (metrics.per_unit) at grain day, one row per period, value
-- of its dimension and unit, with the unit's numerator and denominator, from :metric_start
-- (28 days before the window) on. experiments.queries joins both in, so the metric keeps its
-- one definition.
-- x and y: a unit's numerator and denominator from the day of its first exposure on (what it
-- did before it saw a variant cannot be the variant's effect). x_pre and y_pre: the same
-- metric's in the 28 days before that day, the CUPED covariate. A unit without rows counts as
-- 0 / 0, so each variant's units are all its exposed units and the ratio is sum(x) / sum(y).
-- A unit's numerators and denominators add up over the values of the dimension (each row of
-- the metric is in one value), which gives its whole x and y.
-- The dimension rows sum the units that have rows of that value; their `units` counts those.
-- Every other unit of the variant is in the value too, at 0 / 0, which adds nothing to a sum:
-- experiments.analysis counts them in (the variant's units from its day rows).
WITH by_value AS (
    SELECT
        u.experiment_key,
        u.identity_id,
        u.variant,
        u.event_dt,
        u.user_agent,
        u.visitor,
        u.country,
        m.dimension_value,
        CAST(coalesce(sum(CASE WHEN m.period >= u.event_dt THEN m.numerator END), 0) AS DOUBLE)
            AS x,
        CAST(coalesce(sum(CASE WHEN m.period >= u.event_dt THEN m.denominator END), 0) AS DOUBLE)
            AS y,
        CAST(coalesce(sum(CASE WHEN m.period < u.event_dt THEN m.numerator END), 0) AS DOUBLE)
            AS x_pre,
        CAST(coalesce(sum(CASE WHEN m.period < u.event_dt THEN m.denominator END), 0) AS DOUBLE)
            AS y_pre
    FROM unit_segments AS u
    -- A unit without rows keeps one, at 0 / 0 and without a value.
    LEFT JOIN metric_rows AS m
        ON m.unit_id = u.identity_id
        AND m.period >= date_add('day', -28, u.event_dt)
    GROUP BY
        u.experiment_key, u.identity_id, u.variant, u.event_dt, u.user_agent, u.visitor,
        u.country, m.dimension_value
),
by_unit AS (
    SELECT
        variant,
        event_dt,
        user_agent,
        visitor,
        country,
        sum(x) AS x,
        sum(y) AS y,
        sum(x_pre) AS x_pre,
        sum(y_pre) AS y_pre
    FROM by_value
    -- A unit is an identity in one experiment (the baseline of every experiment reads
    -- several).
    GROUP BY experiment_key, identity_id, variant, event_dt, user_agent, visitor, country
),
-- One relation of both grains, read once by one aggregation: an engine that inlines common
-- table expressions (Trino) would run one branch per grouping otherwise.
stacked AS (
    SELECT
        'unit' AS grain, variant, event_dt, user_agent, visitor, country,
        CAST(NULL AS varchar) AS dimension_value, x, y, x_pre, y_pre
    FROM by_unit
    UNION ALL
    SELECT 'value', variant, NULL, NULL, NULL, NULL, dimension_value, x, y, x_pre, y_pre
    FROM by_value
    WHERE dimension_value IS NOT NULL
)
SELECT
    CASE
        WHEN grouping(event_dt) = 0 THEN 'day'
        WHEN grouping(user_agent) = 0 THEN 'platform'
        WHEN grouping(visitor) = 0 THEN 'visitor'
        WHEN grouping(country) = 0 THEN 'country'
        ELSE 'dimension'
    END AS grouped_by,
    variant,
    event_dt,
    coalesce(user_agent, visitor, country, dimension_value) AS segment,
    count(*) AS units,
    sum(x) AS numerator_sum,
    sum(x * x) AS numerator_sum_squares,
    sum(y) AS denominator_sum,
    sum(y * y) AS denominator_sum_squares,
    sum(x * y) AS sum_products,
    sum(x_pre) AS pre_numerator_sum,
    sum(x_pre * x_pre) AS pre_numerator_sum_squares,
    sum(y_pre) AS pre_denominator_sum,
    sum(y_pre * y_pre) AS pre_denominator_sum_squares,
    sum(x_pre * y_pre) AS pre_sum_products,
    sum(x * x_pre) AS numerator_pre_numerator_products,
    sum(x * y_pre) AS numerator_pre_denominator_products,
    sum(y * x_pre) AS denominator_pre_numerator_products,
    sum(y * y_pre) AS denominator_pre_denominator_products
FROM stacked
GROUP BY GROUPING SETS (
    (grain, variant, event_dt),
    (grain, variant, user_agent),
    (grain, variant, visitor),
    (grain, variant, country),
    (grain, variant, dimension_value)
)
-- The units' groupings of unit rows, the dimension's of value rows.
HAVING (grain = 'unit') = (grouping(dimension_value) = 1)
ORDER BY grouped_by, variant, event_dt, segment
