-- The units of one experiment (or of every one, when :experiment_key is empty: one row per
-- experiment and identity): every identity exposed in the window that is neither a crawler
-- nor exposed to more than one variant (exposure_units.sql says why), one row each, at its
-- first exposure. The other queries here read it as first_exposures (experiments.queries joins
-- it in).
SELECT
    experiment_key, identity_id, variant, event_dt, user_agent, country, pre_value,
    outcome_value, converted, pre_converted
FROM exposure_units
WHERE NOT crawler AND NOT multi_variant
