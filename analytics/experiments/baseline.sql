-- Baseline of the experiment outcome metrics over a recent window, for sizing a new experiment.
--
-- Units are identities at their first exposure to an experiment (one experiment, or every one
-- when :experiment_key is empty), known crawlers left out. Traffic counts the units of every
-- variant; the outcome statistics are those of the control units (:control_variant) only, so a
-- running treatment does not move the baseline. A missing value counts as 0.
WITH crawler_agents AS (
    -- Its own read of the table (a CTE read twice would be materialized whole).
    SELECT agent
    FROM (
        SELECT DISTINCT coalesce(user_agent, '') AS agent
        FROM fact_experiment_exposures
        WHERE event_dt BETWEEN :start AND :end
    ) AS agents
    WHERE regexp_like(lower(agent), :crawler_pattern)
),
ranked AS (
    SELECT
        event_dt,
        variant = :control_variant AS is_control,
        coalesce(pre_value, 0) AS pre_value,
        coalesce(outcome_value, 0) AS outcome_value,
        coalesce(converted, false) AS converted,
        row_number() OVER (
            PARTITION BY experiment_key, identity_id ORDER BY exposure_ts, variant
        ) AS exposure_rank
    FROM fact_experiment_exposures AS e
    WHERE event_dt BETWEEN :start AND :end
      AND (:experiment_key = '' OR experiment_key = :experiment_key)
      AND identity_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM crawler_agents AS c WHERE c.agent = coalesce(e.user_agent, '')
      )
),
control AS (
    SELECT
        event_dt,
        is_control,
        CASE WHEN is_control THEN outcome_value ELSE 0 END AS y,
        CASE WHEN is_control THEN pre_value ELSE 0 END AS x,
        is_control AND converted AS converted
    FROM ranked
    WHERE exposure_rank = 1
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
