-- The units of one experiment: every identity at its first exposure in the window, one row each.
--
-- A unit exposed again, or under another variant later, keeps its first variant. Known
-- crawlers are left out by user agent (:crawler_pattern, a lower-case regular expression from
-- experiments.crawlers), matched once per distinct agent rather than once per row. The outcome
-- is outcome_value (28 days after exposure) with pre_value (28 days before) as the CUPED
-- covariate; a missing value counts as 0. The other queries here read it as first_exposures
-- (experiments.queries joins it in).
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
        identity_id,
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
)
SELECT identity_id, variant, event_dt, pre_value, outcome_value, converted
FROM ranked
WHERE exposure_rank = 1
