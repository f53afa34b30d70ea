"""Which metrics an experiment may name: its own outcome metrics (computed per variant from
fact_experiment_exposures) and the catalogue's ratio metrics that name an experiment unit
(computed per variant from their own definition, see metrics.per_unit)."""

from experiments.outcomes import OUTCOME_METRICS
from experiments.queries import JOB_SCOPE
from metrics.catalogue import load_catalogue


def catalogue_titles() -> dict[str, str]:
    """Slug -> title of every catalogue metric."""
    return {slug: metric.title for slug, metric in load_catalogue().metrics.items()}


def per_variant_titles() -> dict[str, str]:
    """Slug -> title of the catalogue metrics an experiment can compute per variant."""
    return {
        slug: metric.title
        for slug, metric in load_catalogue().metrics.items()
        if metric.experiment_unit and metric.readable_by(JOB_SCOPE)
    }


def primary_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """What an experiment's primary metric may be, grouped for a select box: its outcome
    metrics and the catalogue's ratio metrics computed per variant."""
    return [
        (
            "Experiment outcomes",
            [(m.slug, f"{m.title} ({m.metric_type})") for m in OUTCOME_METRICS.values()],
        ),
        (
            "Catalogue metrics",
            [(slug, f"{title} (ratio)") for slug, title in sorted(per_variant_titles().items())],
        ),
    ]


def titles_for(slugs: list[str]) -> dict[str, str] | None:
    """The catalogue's titles when some of `slugs` need them (loading it parses every file)."""
    if all(slug in OUTCOME_METRICS for slug in slugs):
        return None
    return catalogue_titles()


def metric_problem(slug: str) -> str | None:
    """Why an experiment cannot use `slug` as a metric of any role; None if it can."""
    if slug in OUTCOME_METRICS:
        return None
    catalogue = load_catalogue()
    metric = catalogue.metrics.get(slug)
    if metric is None:
        if slug in catalogue.broken:
            return f"{slug}: its definition in the catalogue is broken"
        return f"unknown metric: {slug}"
    if not metric.experiment_unit:
        return (
            f"{slug} is measured for the whole marketplace and cannot be split by variant "
            "(its definition names no experiment_unit)"
        )
    if not metric.readable_by(JOB_SCOPE):
        return f"{slug} reads restricted data, which experiment results may not show"
    return None


def shown_as_percent(slug: str) -> bool:
    """Whether a metric's values read as percentages: rates, and catalogue ratios so formatted."""
    if slug in OUTCOME_METRICS:
        return OUTCOME_METRICS[slug].metric_type == "proportion"
    metric = load_catalogue().metrics.get(slug)
    return metric is not None and metric.format == "percent"


def metric_title(slug: str, titles: dict[str, str] | None = None) -> str:
    if slug in OUTCOME_METRICS:
        return OUTCOME_METRICS[slug].title
    return (titles or {}).get(slug, slug)
