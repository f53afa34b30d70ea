-- Sufficient statistics of one experiment, per variant and day of first exposure.
--
-- Units are identities, counted once, at their first exposure in the window (a unit exposed
-- again, or under another variant later, keeps its first variant). Known crawlers are left out
-- by user agent (:crawler_pattern, a lower-case regular expression from experiments.crawlers),
-- matched once per distinct agent rather than once per row. The outcome is outcome_value (28
-- days after exposure) with pre_value (28 days before) as the CUPED covariate; a missing value
-- counts as 0. Summing the rows of a variant over its days gives its sufficient statistics;
-- cumulative_units is the running total of exposed units.
WITH crawler_agents AS (
    -- Its own read of the table (a CTE read twice would be materialized whole).
    SELECT agent
    FROM (
        SELECT DISTINCT coalesce(user_agent, '') AS agent
        FROM fact_experiment_exposures
        WHERE experiment_key = :experiment_key AND event_dt BETWEEN :start AND :end
    ) AS agents
    WHERE regexp_like(lower(agent), :crawler_pattern)
),
ranked AS (
    SELECT
        variant,
        event_dt,
        coalesce(pre_value, 0) AS pre_value,
        coalesce(outcome_value, 0) AS outcome_value,
        coalesce(converted, false) AS converted,
        row_number() OVER (PARTITION BY identity_id ORDER BY exposure_ts, variant) AS exposure_rank
    FROM fact_experiment_exposures AS e
    WHERE experiment_key = :experiment_key
      AND event_dt BETWEEN :start AND :end
      AND identity_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM crawler_agents AS c WHERE c.agent = coalesce(e.user_agent, '')
      )
),
daily AS (
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
    FROM ranked
    WHERE exposure_rank = 1
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
