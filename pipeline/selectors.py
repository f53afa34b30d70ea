"""Reads of the pipeline app: thresholds in force, stored health series, triage groups, the
schema registry."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Exists, Max, OuterRef, Q, Sum
from django.utils import timezone

from pipeline import registry
from pipeline.health import Thresholds
from pipeline.models import (
    CheckState,
    DeadLetterCount,
    DeadLetterReason,
    HealthRun,
    LagPoint,
    LossPoint,
    SchemaVersionSeen,
    TableFreshness,
    ThresholdOverride,
    VolumePoint,
)
from pipeline.schemas import EventSchema, SchemaDiff, by_event, change_counts, diff
from portal.roles import Access
from warehouse.lake import contract


def thresholds() -> Thresholds:
    """settings.PIPELINE_THRESHOLDS with the admin's overrides on top."""
    overrides = dict(ThresholdOverride.objects.values_list("name", "value"))
    return Thresholds.from_mapping({**settings.PIPELINE_THRESHOLDS, **overrides})


def table_freshness(table_names: Iterable[str]) -> dict[str, TableFreshness]:
    """The latest freshness of each of ``table_names`` the health job has checked, in one query.

    For pages that show a metric beside the freshness of the tables it reads: they have
    already checked the reader's access to those tables."""
    rows = TableFreshness.objects.filter(table_name__in=list(table_names))
    return {row.table_name: row for row in rows}


def freshness_visible(scope: frozenset[Access]) -> list[TableFreshness]:
    """Freshness of the lake tables within ``scope`` (restricted tables only for their roles)."""
    visible = {t.name for t in contract.TABLES.values() if t.access in scope}
    return [f for f in TableFreshness.objects.all() if f.table_name in visible]


def check_states() -> list[CheckState]:
    return list(CheckState.objects.all())


def last_run() -> HealthRun | None:
    return HealthRun.objects.first()


# Charts read plain rows (named tuples with the fields they draw): a 90-day page holds
# thousands of points, and model instances would cost most of its time.
_POINT = ("grain", "start", "judged", "settled")


def _series(model, days_since: datetime, hours_since: datetime, *fields: str) -> list:
    """Day buckets from ``days_since``, hour buckets from ``hours_since``."""
    recent = Q(grain="day", start__gte=days_since) | Q(grain="hour", start__gte=hours_since)
    rows = model.objects.filter(recent).order_by("grain", "start")
    return list(rows.values_list(*_POINT, *fields, named=True))


def loss_series(days_since: datetime, hours_since: datetime) -> list:
    return _series(LossPoint, days_since, hours_since, "expected", "delivered", "ratio", "breach")


def lag_series(days_since: datetime, hours_since: datetime) -> list:
    fields = ("stage", "events", "p50_s", "p95_s", "max_s", "breach")
    return _series(LagPoint, days_since, hours_since, *fields)


def volume_by_day(since: datetime) -> list:
    rows = VolumePoint.objects.filter(grain="day", start__gte=since).order_by("event_name", "start")
    fields = ("event_name", "events", "baseline", "low", "high", "score", "anomaly")
    return list(rows.values_list(*_POINT, *fields, named=True))


def volume_anomalies(since: datetime, limit: int = 50) -> list[VolumePoint]:
    return list(
        VolumePoint.objects.filter(anomaly=True, start__gte=since).order_by("-start")[:limit]
    )


@dataclass(frozen=True)
class ReasonGroup:
    group: DeadLetterReason
    events: int  # in the window shown
    since_triage: int  # events in the hours that began after it was last triaged
    by_event: list[tuple[str, int]]


def dead_letter_totals(reasons: Iterable[str]) -> dict[str, int]:
    rows = DeadLetterCount.objects.filter(reason__in=list(reasons)).values("reason")
    return {r["reason"]: r["total"] for r in rows.annotate(total=Sum("events"))}


def dead_letter_groups(since: datetime) -> list[ReasonGroup]:
    """Triage groups (one per reason) with their counts since ``since``, newest first."""
    groups = list(DeadLetterReason.objects.select_related("triaged_by").order_by("-last_seen"))
    counts = (
        DeadLetterCount.objects.filter(hour__gte=since)
        .values("reason", "event_name")
        .annotate(total=Sum("events"))
        .order_by("reason", "-total")
    )
    by_reason: dict[str, list[tuple[str, int]]] = {}
    for row in counts:
        by_reason.setdefault(row["reason"], []).append((row["event_name"], row["total"]))
    triaged_before = DeadLetterReason.objects.filter(
        reason=OuterRef("reason"), triaged_at__lte=OuterRef("hour")
    )
    since_triage = dict(
        DeadLetterCount.objects.filter(Exists(triaged_before))
        .values("reason")
        .annotate(total=Sum("events"))
        .values_list("reason", "total")
    )
    return [
        ReasonGroup(
            group=g,
            events=sum(n for _, n in by_reason.get(g.reason, [])),
            since_triage=since_triage.get(g.reason, 0),
            by_event=by_reason.get(g.reason, []),
        )
        for g in groups
    ]


# --------------------------------------------------------------------------- schemas


def schema_registry() -> registry.Registry:
    return registry.load_cached(settings.PIPELINE_SCHEMA_DIR)


@dataclass(frozen=True)
class SchemaRate:
    event: str
    versions: int
    latest: EventSchema
    changes_30d: int
    changes_90d: int


def schema_change_rates(today: date | None = None) -> list[SchemaRate]:
    """Every event schema with its changes over the last 30 and 90 days, most changed first."""
    today = today or timezone.now().date()
    schemas = schema_registry().schemas
    rates_30, rates_90 = change_counts(schemas, today, 30), change_counts(schemas, today, 90)
    rows = [
        SchemaRate(event, len(versions), versions[-1], rates_30[event], rates_90[event])
        for event, versions in by_event(schemas).items()
    ]
    return sorted(rows, key=lambda r: (-r.changes_90d, -r.changes_30d, r.event))


@dataclass(frozen=True)
class VersionView:
    schema: EventSchema
    changes: SchemaDiff | None  # from the previous version; None for the first
    newest_minor: bool  # bronze events carry the major version only: they count here
    events: int  # bronze events of this major version in the stored days
    last_seen: date | None


def schema_history(event: str) -> list[VersionView] | None:
    """An event's versions, newest first, each with what changed since the one before."""
    versions = by_event(schema_registry().schemas).get(event)
    if versions is None:
        return None
    seen = {
        row["schema_version"]: row
        for row in SchemaVersionSeen.objects.filter(event_name=event)
        .values("schema_version")
        .annotate(events=Sum("events"), last=Max("day"))
    }
    views = []
    for i, schema in enumerate(versions):
        newest = all(v.version.major != schema.version.major for v in versions[i + 1 :])
        row = seen.get(schema.version.major) if newest else None
        views.append(
            VersionView(
                schema=schema,
                changes=diff(versions[i - 1], schema) if i else None,
                newest_minor=newest,
                events=row["events"] if row else 0,
                last_seen=row["last"] if row else None,
            )
        )
    return views[::-1]


def untriaged_count() -> int:
    return DeadLetterReason.objects.filter(triaged_at__isnull=True).count()


def ids_pattern(ids: Sequence[str]) -> re.Pattern[str]:
    """Any of ``ids`` as a whole id: one id never matches part of a longer one."""
    return re.compile("|".join(rf"(?<![\w]){re.escape(v)}(?![\w])" for v in ids))


def dead_letter_samples_naming(*, ids: Sequence[str]) -> list[dict]:
    """The dead-letter samples whose payload names one of ``ids``, with their reason (what a
    DSAR access export holds of them)."""
    if not ids:
        return []
    pattern = ids_pattern(ids)
    return [
        {"reason": group.reason, **sample}
        for group in DeadLetterReason.objects.order_by("reason")
        for sample in group.samples
        if pattern.search(sample["payload"])
    ]
