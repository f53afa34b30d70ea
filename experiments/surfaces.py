"""The product's surfaces: where an event happens (``events.surface`` and
``fact_experiment_exposures.surface`` in the lake) and what an experiment may target. The
experiment form lists them; the demo lake's events happen on them."""

SURFACES = (
    "app", "landing", "pricing_page", "search_results", "profile_page", "studio_page", "messages",
    "checkout", "email", "settings",
)  # fmt: skip
