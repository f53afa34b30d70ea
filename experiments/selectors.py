"""Reads of the experiments app."""

from datetime import datetime

from django.core.cache import cache
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from alerts.models import Alert
from annotations.selectors import Annotation
from experiments import queries
from experiments.assignment import AssignmentConfig
from experiments.models import (
    Experiment,
    ExperimentChange,
    ProtectedSurface,
    ResultComputation,
    ResultSnapshot,
)
from portal.roles import Capability, may
from warehouse.selectors import without_server_paths
from warehouse.services import check_access
from warehouse.sql import parse

ASSIGNMENT_CACHE_SECONDS = 300  # a bound on staleness should an invalidation ever be missed
_ASSIGNMENT_KEY = "experiments:assignment:{key}"


def assignment_cache_key(experiment_key: str) -> str:
    return _ASSIGNMENT_KEY.format(key=experiment_key)


def assignment_config(experiment_key: str) -> AssignmentConfig | None:
    """The config assignment needs, from the cache (one read on the hot path) or the database.

    `add` rather than `set` on a miss: should a change commit between our read and our write,
    its own (newer) `set` wins."""
    cache_key = assignment_cache_key(experiment_key)
    config = cache.get(cache_key)
    if config is None:
        experiment = (
            Experiment.objects.filter(key=experiment_key).prefetch_related("variants").first()
        )
        if experiment is None:
            return None
        config = experiment.assignment_config()
        cache.add(cache_key, config, timeout=ASSIGNMENT_CACHE_SECONDS)
    return config


def experiment_list() -> QuerySet[Experiment]:
    """Every experiment with its variants and the time and SRM flag of its latest results."""
    latest = ResultComputation.objects.filter(
        experiment=OuterRef("pk"), status=ResultComputation.Status.SUCCEEDED
    ).order_by("-computed_at", "-id")
    return (
        Experiment.objects.select_related("owner")
        .prefetch_related("variants")
        .annotate(
            last_computed_at=Subquery(latest.values("computed_at")[:1]),
            last_srm_alert=Subquery(latest.values("srm_alert")[:1]),
        )
    )


def experiment_choices() -> list[tuple[str, str]]:
    return list(Experiment.objects.order_by("key").values_list("key", "name"))


def experiment_get(key: str) -> Experiment | None:
    return (
        Experiment.objects.select_related("owner", "killed_by")
        .prefetch_related("variants")
        .filter(key=key)
        .first()
    )


def experiment_changes(experiment: Experiment) -> QuerySet[ExperimentChange]:
    return experiment.changes.select_related("by")


def protected_surfaces_targeted(experiment: Experiment) -> list[ProtectedSurface]:
    slugs = {s.lower() for s in experiment.targeted_surfaces}
    return list(ProtectedSurface.objects.filter(slug__in=slugs))


def latest_computation(experiment: Experiment) -> ResultComputation | None:
    """The newest computation, successful or not, with its snapshots."""
    return (
        experiment.computations.select_related("query_run")
        .prefetch_related(Prefetch("snapshots", queryset=ResultSnapshot.objects.order_by("id")))
        .first()
    )


def latest_success(experiment: Experiment) -> ResultComputation | None:
    return (
        experiment.computations.filter(status=ResultComputation.Status.SUCCEEDED)
        .prefetch_related(Prefetch("snapshots", queryset=ResultSnapshot.objects.order_by("id")))
        .first()
    )


def results_readable(scope) -> None:
    """Raise DataAccessDenied unless `scope` may read what results are computed from."""
    check_access(parse(queries.units_query("exposure_stats")), scope)


def srm_alert_key(experiment: Experiment) -> str:
    return f"experiments:srm:{experiment.key}"


def guardrail_alert_key(experiment: Experiment, metric: str, variant: str) -> str:
    return f"experiments:guardrail:{experiment.key}:{metric}:{variant}"


def auto_kill_alert_key(experiment: Experiment) -> str:
    return f"experiments:auto-kill:{experiment.key}"


def health_alert_key(experiment: Experiment, check: str) -> str:
    return f"experiments:health:{experiment.key}:{check}"


def open_alert_keys(experiment: Experiment) -> list[str]:
    alerts = Alert.objects.filter(closed_at__isnull=True, source="experiments")
    exact = alerts.filter(key__in=[srm_alert_key(experiment), auto_kill_alert_key(experiment)])
    guardrails = alerts.filter(key__startswith=f"experiments:guardrail:{experiment.key}:")
    health = alerts.filter(key__startswith=f"experiments:health:{experiment.key}:")
    return list((exact | guardrails | health).values_list("key", flat=True))


def lake_status_shown(computation: ResultComputation, user) -> str | None:
    """Where the results were written, for the roles that query them (None for others)."""
    if not may(user, Capability.EXPERIMENTS_STORAGE):
        return None
    return without_server_paths(computation.lake_status)


def annotations(start: datetime, end: datetime) -> list[Annotation]:
    """Launches, kills and conclusions at start <= time < end, for the charts (annotations)."""
    events = (
        ("experiment_launch", "started_at", "hypothesis"),
        ("experiment_kill", "killed_at", "kill_reason"),
        ("experiment_conclusion", "concluded_at", "conclusion"),
    )
    within = Q()
    for _, field, _ in events:
        within |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    found = []
    fields = ["key", "name", *(f for _, at, text in events for f in (at, text))]
    for experiment in Experiment.objects.filter(within).only(*fields).order_by():
        for kind, field, text in events:
            at = getattr(experiment, field)
            if at is not None and start <= at < end:
                title = f"{experiment.name} ({experiment.key})"
                link = experiment.get_absolute_url()
                found.append(Annotation(kind, at, title, getattr(experiment, text), link))
    return found
