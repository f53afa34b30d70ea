"""Which metrics an experiment may name: its own outcome metrics (computed per variant from
fact_experiment_exposures) and the slugs of the metrics catalogue (metrics.catalogue)."""

from experiments.outcomes import OUTCOME_METRICS


def catalogue_titles() -> dict[str, str] | None:
    """Slug -> title of the catalogue's metrics; None where no catalogue is installed."""
    try:
        from metrics.catalogue import load_catalogue
    except ImportError:
        return None
    return {slug: metric.title for slug, metric in load_catalogue().metrics.items()}


def titles_for(slugs: list[str]) -> dict[str, str] | None:
    """The catalogue's titles when some of `slugs` need them (loading it parses every file)."""
    if all(slug in OUTCOME_METRICS for slug in slugs):
        return None
    return catalogue_titles()


def unknown_metrics(slugs: list[str]) -> list[str]:
    """The slugs that are neither outcome metrics nor in the catalogue (when there is one)."""
    titles = catalogue_titles()
    return [
        slug
        for slug in slugs
        if slug not in OUTCOME_METRICS and (titles is not None and slug not in titles)
    ]


def metric_title(slug: str, titles: dict[str, str] | None = None) -> str:
    if slug in OUTCOME_METRICS:
        return OUTCOME_METRICS[slug].title
    return (titles or {}).get(slug, slug)
