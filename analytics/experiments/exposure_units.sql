-- Every identity exposed to an experiment in the window, one row per experiment and identity,
-- with what decides whether it is a unit of the analysis. One experiment, or every one when
-- :experiment_key is empty. The other queries here read it as exposure_units
-- (experiments.queries joins it in), so the rule is written once.
--
-- crawler: the identity was exposed at least once with a crawler's user agent. The agent,
--   followed by chr(3), is matched against :crawler_pattern (experiments.crawlers: the
--   maintained crawler list in a syntax every engine reads alike; assignment matches the same
--   pattern in Python), once per distinct agent rather than once per row. The whole identity is
--   left out, even when a person's browser was exposed under it before or after: what it did is
--   not one person's response to one variant, and whether an identity met a crawler does not
--   depend on its variant, so leaving it out keeps the split. person_exposed says whether it
--   was also exposed with a person's agent (a missing agent counts as a person's).
-- multi_variant: exposed under more than one variant, in any order or at the same instant; it
--   is left out (its variant is null here): no single variant's effect, and keeping its first
--   variant would let the order of exposures, or a tie of timestamps, choose.
-- The values are those of the first exposure; exposures of one variant at the same instant are
--   copies of one exposure. pre_value and pre_converted are the CUPED covariates (the 28 days
--   before exposure), outcome_value and converted the 28 days after; a missing value counts as
--   0 (false). user_agent and
--   country are the first exposure's (results by platform and by country).
WITH crawler_agents AS (
    -- Its own read of the table (a CTE read twice would be materialized whole). The LIMIT,
    -- far above any count of distinct agents, keeps an engine from pushing the match below
    -- the DISTINCT: it then runs once per distinct agent, not once per exposure (a match
    -- tries every pattern of the list; PostgreSQL took 2.2 s for 4,000 exposures without it).
    SELECT agent
    FROM (
        SELECT DISTINCT coalesce(user_agent, '') AS agent
        FROM fact_experiment_exposures
        WHERE (:experiment_key = '' OR experiment_key = :experiment_key)
          AND event_dt BETWEEN :start AND :end
        LIMIT 2147483647
    ) AS agents
    WHERE regexp_like(agent || chr(3), :crawler_pattern)
),
ranked AS (
    SELECT
        e.experiment_key,
        e.identity_id,
        e.variant,
        e.event_dt,
        e.user_agent,
        e.country,
        coalesce(e.pre_value, 0) AS pre_value,
        coalesce(e.outcome_value, 0) AS outcome_value,
        coalesce(e.converted, false) AS converted,
        coalesce(e.pre_converted, false) AS pre_converted,
        max(CASE WHEN c.agent IS NULL THEN 0 ELSE 1 END) OVER (
            PARTITION BY e.experiment_key, e.identity_id
        ) AS crawler_exposed,
        max(CASE WHEN c.agent IS NULL THEN 1 ELSE 0 END) OVER (
            PARTITION BY e.experiment_key, e.identity_id
        ) AS person_exposed,
        min(e.variant) OVER (PARTITION BY e.experiment_key, e.identity_id) AS lowest_variant,
        max(e.variant) OVER (PARTITION BY e.experiment_key, e.identity_id) AS highest_variant,
        row_number() OVER (
            PARTITION BY e.experiment_key, e.identity_id ORDER BY e.exposure_ts
        ) AS exposure_rank
    FROM fact_experiment_exposures AS e
    LEFT JOIN crawler_agents AS c ON c.agent = coalesce(e.user_agent, '')
    WHERE (:experiment_key = '' OR e.experiment_key = :experiment_key)
      AND e.event_dt BETWEEN :start AND :end
      AND e.identity_id IS NOT NULL
)
SELECT
    experiment_key,
    identity_id,
    CASE WHEN lowest_variant = highest_variant THEN variant END AS variant,
    event_dt,
    user_agent,
    country,
    pre_value,
    outcome_value,
    converted,
    pre_converted,
    crawler_exposed = 1 AS crawler,
    person_exposed = 1 AS person_exposed,
    lowest_variant <> highest_variant AS multi_variant
FROM ranked
WHERE exposure_rank = 1
