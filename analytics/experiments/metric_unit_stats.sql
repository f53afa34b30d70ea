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
-- 0 / 0, in every value of the dimension, so each variant's units are all its exposed units,
-- whole or within one value, and the ratio is sum(x) / sum(y). A unit's numerators and
-- denominators add up over the values of the dimension (each row of the metric is in one
-- value), which gives its whole x and y.
WITH dimension_values AS (
    -- Every value, for the units' whole x and y; those seen only before the window have no
    -- results of their own.
    SELECT dimension_value, max(CASE WHEN period >= :start THEN 1 ELSE 0 END) AS in_window
    FROM metric_rows
    GROUP BY dimension_value
),
by_value AS (
    SELECT
        u.identity_id,
        u.variant,
        u.event_dt,
        u.user_agent,
        u.visitor,
        u.country,
        v.dimension_value,
        v.in_window,
        CAST(coalesce(sum(CASE WHEN m.period >= u.event_dt THEN m.numerator END), 0) AS DOUBLE)
            AS x,
        CAST(coalesce(sum(CASE WHEN m.period >= u.event_dt THEN m.denominator END), 0) AS DOUBLE)
            AS y,
        CAST(coalesce(sum(CASE WHEN m.period < u.event_dt THEN m.numerator END), 0) AS DOUBLE)
            AS x_pre,
        CAST(coalesce(sum(CASE WHEN m.period < u.event_dt THEN m.denominator END), 0) AS DOUBLE)
            AS y_pre
    FROM unit_segments AS u
    -- Kept without values too: a metric without rows still has its units, at 0 / 0.
    LEFT JOIN dimension_values AS v ON 1 = 1
    LEFT JOIN metric_rows AS m
        ON m.unit_id = u.identity_id
        AND m.dimension_value = v.dimension_value
        AND m.period >= date_add('day', -28, u.event_dt)
    GROUP BY
        u.identity_id, u.variant, u.event_dt, u.user_agent, u.visitor, u.country,
        v.dimension_value, v.in_window
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
    GROUP BY identity_id, variant, event_dt, user_agent, visitor, country
),
stacked AS (
    SELECT
        'day' AS grouped_by, variant, event_dt, CAST(NULL AS varchar) AS segment,
        x, y, x_pre, y_pre
    FROM by_unit
    UNION ALL
    SELECT 'platform', variant, NULL, user_agent, x, y, x_pre, y_pre FROM by_unit
    UNION ALL
    SELECT 'visitor', variant, NULL, visitor, x, y, x_pre, y_pre FROM by_unit
    UNION ALL
    SELECT 'country', variant, NULL, country, x, y, x_pre, y_pre FROM by_unit
    UNION ALL
    SELECT 'dimension', variant, NULL, dimension_value, x, y, x_pre, y_pre
    FROM by_value
    WHERE in_window = 1
)
SELECT
    grouped_by,
    variant,
    event_dt,
    segment,
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
GROUP BY grouped_by, variant, event_dt, segment
ORDER BY grouped_by, variant, event_dt, segment
