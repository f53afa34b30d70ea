"""Writes of the pipeline app: running the health checks, dead-letter triage and its digest."""

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from alerts.models import Alert
from alerts.selectors import alerts_feed
from alerts.services import alert_raise, alert_resolve
from pipeline import health, queries, registry, selectors
from pipeline.health import Cadence, CheckResult, Clock, Status, Thresholds
from pipeline.models import (
    Check,
    CheckState,
    DeadLetterCount,
    DeadLetterPoint,
    DeadLetterReason,
    HealthRun,
    LagPoint,
    LossPoint,
    SchemaVersionSeen,
    TableFreshness,
    TriageNote,
    VolumePoint,
)
from portal.roles import Access
from warehouse.engines.base import TransientWarehouseError, WarehouseError
from warehouse.lake import contract
from warehouse.services import QueryFailed, query_run_sync
from warehouse.sql import SqlError

log = logging.getLogger(__name__)

# The job reads every table (freshness covers restricted ones too); pages filter what they show.
SYSTEM_SCOPE = frozenset(Access)
SAMPLES_PER_REASON = 3
FRESHNESS_LOOKBACK_DAYS = 7  # a table with no rows this recent is "no recent data"
ALERT_LINK = "/pipeline/"
CHECK_LINKS = {"dead_letters": "/pipeline/dead-letters/", "schemas": "/pipeline/schemas/"}
RUN_ALERT_KEY = "pipeline:health_run"
DIGEST_KEY = "pipeline:dead_letter_digest:"


def alert_key(check: str) -> str:
    return f"pipeline:{check}"


@dataclass(frozen=True)
class _Window:
    as_of: datetime
    start: date  # first day recomputed
    end: date  # last day (that of as_of)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)


def _frame(
    name: str, params: Mapping[str, Any], *, sql: str | None = None, force: bool
) -> pd.DataFrame:
    """One canonical query through the warehouse layer, recorded as a query run."""
    result = query_run_sync(
        sql=sql or queries.sql(name),
        params=params,
        scope=SYSTEM_SCOPE,
        label=f"pipeline:{name}",
        force_refresh=force,
    )
    return result.frame


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def _utc(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    return (
        stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    ).to_pydatetime()


def health_run(
    *, as_of: datetime | None = None, days: int | None = None, force_refresh: bool = False
) -> HealthRun:
    """Recompute every check over the last ``days`` days up to ``as_of``, store the series,
    and open, update or close the alerts. A failed run is recorded and alerted; re-run it."""
    as_of = as_of or timezone.now()
    th = selectors.thresholds()
    # The alert window must lie inside what is recomputed.
    days = max(days or settings.PIPELINE_HEALTH_DAYS, math.ceil(th.alert_window_hours / 24) + 1)
    window = _Window(as_of=as_of, start=as_of.date() - timedelta(days=days - 1), end=as_of.date())
    run = HealthRun.objects.create(as_of=as_of, days=days)
    # A run every few minutes adds up: older runs go (the series themselves are replaced, not
    # appended, so they need no pruning).
    keep = timedelta(days=settings.PIPELINE_HEALTH_RUNS_KEEP_DAYS)
    HealthRun.objects.filter(started_at__lt=run.started_at - keep).delete()
    try:
        results = _run_checks(window, th, force_refresh)
    except TransientWarehouseError as err:
        # Worth a retry (the task does it); not yet worth an alarm.
        _run_failed(run, f"transient warehouse error: {err}")
        raise
    except (QueryFailed, SqlError, WarehouseError) as err:
        _run_failed(run, str(err))
        alert_raise(
            key=RUN_ALERT_KEY,
            source="pipeline",
            severity=Alert.Severity.ALARM,
            title="Pipeline health checks could not run",
            detail=str(err)[:2000],
            link=ALERT_LINK,
        )
        run.refresh_from_db()
        return run
    except Exception as err:
        # A bug must not leave the run "running" forever: record it, then let it surface.
        _run_failed(run, f"internal error: {type(err).__name__}: {err}")
        raise
    alert_resolve(key=RUN_ALERT_KEY)
    for result in results:
        _alert(result)
    HealthRun.objects.filter(pk=run.pk).update(
        outcome=HealthRun.Outcome.SUCCEEDED, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def _run_failed(run: HealthRun, error: str) -> None:
    HealthRun.objects.filter(pk=run.pk).update(
        outcome=HealthRun.Outcome.FAILED, finished_at=timezone.now(), error=error
    )


def _run_checks(window: _Window, th: Thresholds, force: bool) -> list[CheckResult]:
    clock = Clock.of(window.as_of, th)
    now = timezone.now()
    dates = {"start": window.start, "end": window.end}
    history = window.start - timedelta(weeks=th.volume_weeks)
    bronze = _frame("bronze_events", {"start": history, "end": window.end}, force=force)
    lag_params = {**dates, "bin_width": health.LAG_BIN_WIDTH}
    silver = _frame("silver_lag", lag_params, sql=queries.lag_sql("silver"), force=force)
    gold = _frame("gold_lag", lag_params, sql=queries.lag_sql("gold"), force=force)
    dead = _frame("dead_letters", dates, force=force)
    samples = _frame(
        "dead_letter_samples", {**dates, "per_reason": SAMPLES_PER_REASON}, force=force
    )

    accepted: dict[datetime, int] = defaultdict(int)
    by_name: dict[tuple[datetime, str], int] = defaultdict(int)
    versions: dict[tuple[datetime, str, int], int] = defaultdict(int)
    for row in bronze.assign(start=_starts(bronze)).itertuples(index=False):
        start, events = row.start.to_pydatetime(), int(row.events)
        by_name[(start, row.event_name)] += events
        if start >= window.since:
            accepted[start] += events
            versions[(start, row.event_name, int(row.schema_version))] += events
    delivered = _per_hour(silver[silver["grain"] == health.HOUR])
    rejected = _per_hour(dead)

    loss = health.loss_points(accepted, delivered, th, clock)
    lag = [
        *health.lag_points("silver", silver.assign(start=_starts(silver)), th, clock),
        *health.lag_points("gold", gold.assign(start=_starts(gold)), th, clock),
    ]
    volume = health.volume_points(
        by_name,
        since=window.since,
        th=th,
        clock=clock,
    )
    dead_points = health.dead_letter_points(rejected, accepted, th, clock)
    tables = _freshness(window, th, force)
    loaded = registry.load_cached(settings.PIPELINE_SCHEMA_DIR)
    results = [
        health.evaluate_loss(loss, th, clock),
        health.evaluate_lag("silver", lag, th, clock),
        health.evaluate_lag("gold", lag, th, clock),
        health.evaluate_volume(volume, th, clock),
        health.evaluate_freshness(f for f, _, _ in tables),
        health.evaluate_dead_letters(dead_points, th, clock),
        health.evaluate_schemas(
            [str(f) for f in loaded.findings()],
            health.versions_seen(versions, clock),
            {(s.event, s.version.major) for s in loaded.schemas},
        ),
    ]
    with transaction.atomic():
        _store_series(window, th, now, loss, lag, volume, dead_points)
        _store_dead_letters(window, dead, samples)
        _store_versions(window, versions)
        for fresh, column, error in tables:
            _store_freshness(fresh, column, error, now)
        for result in results:
            CheckState.objects.update_or_create(
                name=result.check,
                defaults={
                    "status": result.status,
                    "value": result.value,
                    "budget": result.budget,
                    "unit": result.unit,
                    "summary": result.summary,
                    "breaches": list(result.breaches),
                    "evaluated_at": window.as_of,
                },
            )
    return results


def _store_versions(window: _Window, hourly: Mapping[tuple[datetime, str, int], int]) -> None:
    daily: dict[tuple[date, str, int], int] = defaultdict(int)
    for (start, name, major), events in hourly.items():
        daily[(start.date(), name, major)] += events
    _replace(
        SchemaVersionSeen,
        ("day", "event_name", "schema_version", "events"),
        [(day, name, major, events) for (day, name, major), events in daily.items()],
        day__gte=window.start,
    )


def _starts(frame: pd.DataFrame) -> pd.Series:
    """The UTC hour each row's (event_dt, hour) stands for (the day's start for hour -1)."""
    day = pd.to_datetime(frame["event_dt"]).dt.tz_localize(None).dt.tz_localize(UTC)
    return day + pd.to_timedelta(frame["hour"].astype("int64").clip(lower=0), unit="h")


def _per_hour(frame: pd.DataFrame) -> dict[datetime, int]:
    sums = frame.groupby(_starts(frame))["events"].sum()
    return {start.to_pydatetime(): int(n) for start, n in sums.items()}


def _replace(model, fields: tuple[str, ...], rows: list[tuple], **after) -> None:
    """Replace a time series from a point on: delete, then one INSERT per batch of rows. A
    90-day backfill writes tens of thousands of points, where building and preparing a model
    instance per row costs far more than the database does."""
    model.objects.filter(**after).delete()
    meta, ops = model._meta, connection.ops
    adapters = []
    for name in fields:
        field = meta.get_field(name)
        if isinstance(field, models.DateTimeField):
            adapters.append(ops.adapt_datetimefield_value)
        elif isinstance(field, models.DateField):
            adapters.append(ops.adapt_datefield_value)
        else:
            adapters.append(None)
    columns = ", ".join(ops.quote_name(meta.get_field(f).column) for f in fields)
    sql = (
        f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608 (identifiers)
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    values = [
        tuple(v if adapt is None else adapt(v) for v, adapt in zip(row, adapters, strict=True))
        for row in rows
    ]
    with connection.cursor() as cursor:
        for first in range(0, len(values), 5000):
            cursor.executemany(sql, values[first : first + 5000])


BUCKET = ("grain", "start", "judged", "settled", "computed_at")


def _store_series(window, th, now, loss, lag, volume, dead_points) -> None:
    since = {"start__gte": window.since}

    def bucket(p) -> tuple:
        return (p.grain, p.start, p.judged, p.settled, now)

    _replace(
        LossPoint,
        (*BUCKET, "expected", "delivered", "ratio", "breach"),
        [(*bucket(p), p.expected, p.delivered, p.ratio, health.loss_breach(p, th)) for p in loss],
        **since,
    )
    _replace(
        LagPoint,
        (*BUCKET, "stage", "events", "p50_s", "p95_s", "max_s", "breach"),
        [
            (*bucket(p), p.stage, p.events, p.p50_s, p.p95_s, p.max_s, health.lag_breach(p, th))
            for p in lag
        ],
        **since,
    )
    _replace(
        VolumePoint,
        (*BUCKET, "event_name", "events", "baseline", "low", "high", "score", "anomaly"),
        [
            (*bucket(p), p.event_name, p.events, p.baseline, p.low, p.high, p.score, p.anomaly)
            for p in volume
        ],
        **since,
    )
    _replace(
        DeadLetterPoint,
        (*BUCKET, "dead_letters", "accepted", "rate", "breach"),
        [
            (*bucket(p), p.dead_letters, p.accepted, p.rate, health.dead_letter_breach(p, th))
            for p in dead_points
        ],
        **since,
    )


def _utc_column(values: pd.Series) -> pd.Series:
    """Timestamps from the warehouse (naive UTC, or aware) as aware UTC."""
    stamps = pd.to_datetime(values)
    return stamps.dt.tz_localize(UTC) if stamps.dt.tz is None else stamps.dt.tz_convert(UTC)


def _store_dead_letters(window: _Window, dead: pd.DataFrame, samples: pd.DataFrame) -> None:
    dead = dead.assign(
        start=_starts(dead),
        first_seen=_utc_column(dead["first_seen"]),
        last_seen=_utc_column(dead["last_seen"]),
        event_name=dead["event_name"].fillna(""),
    )
    _replace(
        DeadLetterCount,
        ("hour", "reason", "event_name", "events", "first_seen", "last_seen"),
        [
            (
                start.to_pydatetime(),
                reason,
                name,
                int(events),
                first.to_pydatetime(),
                last.to_pydatetime(),
            )
            for start, reason, name, events, first, last in zip(
                dead.start,
                dead.reason,
                dead.event_name,
                dead.events,
                dead.first_seen,
                dead.last_seen,
                strict=True,
            )
        ],
        hour__gte=window.since,
    )
    spans = dead.groupby("reason").agg(first=("first_seen", "min"), last=("last_seen", "max"))
    shown: dict[str, list[dict]] = defaultdict(list)
    for row in samples.itertuples(index=False):
        shown[row.reason].append(
            {
                "event_name": row.event_name or "",
                "received_at": _utc(row.received_ts).isoformat(),
                # Masked at the source: the run's result is already the masked reading form
                # (warehouse.personal_data), the same for this page and /api/runs/<id>.
                "payload": row.payload or "",
            }
        )
    existing = {r.reason: r for r in DeadLetterReason.objects.filter(reason__in=spans.index)}
    for reason, first, last in zip(spans.index, spans["first"], spans["last"], strict=True):
        first, last = first.to_pydatetime(), last.to_pydatetime()
        group = existing.get(reason)
        if group is None:
            DeadLetterReason.objects.create(
                reason=reason, first_seen=first, last_seen=last, samples=shown[reason]
            )
            continue
        group.first_seen, group.last_seen = min(group.first_seen, first), max(group.last_seen, last)
        group.samples = shown[reason] or group.samples
        group.save(update_fields=["first_seen", "last_seen", "samples"])


def _cadence(name: str) -> Cadence:
    if name in settings.PIPELINE_FRESHNESS_STREAM_TABLES:
        return Cadence.STREAM
    if name in settings.PIPELINE_FRESHNESS_DAILY_TABLES:
        return Cadence.DAILY
    return Cadence.NONE


def _freshness(window: _Window, th: Thresholds, force: bool) -> list[tuple]:
    """(freshness, the column that dates it, the error if unreadable) of every lake table.

    One query reads every table the data pipeline writes (they always exist); a table the
    portal writes gets a query of its own, as it may not have been written yet."""
    pipeline = [t for t in contract.TABLES.values() if t.writer == "pipeline"]
    portal = [[t] for t in contract.TABLES.values() if t.writer == "portal"]
    since = window.end - timedelta(days=FRESHNESS_LOOKBACK_DAYS)
    out = []
    for tables in [pipeline, *portal]:
        params = {"since": since} if any(t.partition_column for t in tables) else {}
        rows, error = {}, ""
        try:
            frame = _frame("freshness", params, sql=queries.freshness_sql(tables), force=force)
        except QueryFailed as err:
            error = str(err)
        else:
            rows = {row.table_name: row for row in frame.itertuples(index=False)}
        for table in tables:
            row = rows.get(table.name)
            partition = (
                None if row is None or pd.isna(row.newest_partition) else _day(row.newest_partition)
            )
            newest = None if row is None else _utc(row.newest_ts)
            fresh = health.freshness(
                table.name, _cadence(table.name), partition, newest, th, window.as_of
            )
            out.append((fresh, queries.freshness_column(table) or "", error))
    return out


def _store_freshness(fresh: health.Freshness, column: str, error: str, now: datetime) -> None:
    TableFreshness.objects.update_or_create(
        table_name=fresh.table,
        defaults={
            "cadence": fresh.cadence,
            "newest_partition": fresh.newest_partition,
            "newest_ts": fresh.newest_processed,
            "newest_column": column,
            "age_s": fresh.age_s,
            "budget_s": fresh.budget_s,
            "status": fresh.status,
            "error": error[:2000],
            "checked_at": now,
        },
    )


def _alert(result: CheckResult) -> None:
    key = alert_key(result.check)
    if result.status != Status.ALARM:
        alert_resolve(key=key)
        return
    label = Check(result.check).label
    budget = health.display_budget(result.check, result.budget, result.unit)
    alert_raise(
        key=key,
        source="pipeline",
        severity=Alert.Severity.ALARM,
        title=f"{label}: {result.summary}; budget {budget}"[:300],
        detail=_listing(result.breaches),
        values={"value": result.value, "budget": result.budget, "breaches": len(result.breaches)},
        link=CHECK_LINKS.get(result.check, ALERT_LINK),
    )


def _listing(items: tuple[str, ...], limit: int = 10) -> str:
    """The first ``limit`` items, one line each (the alert feed shows them as one paragraph)."""
    more = len(items) - limit
    return ";\n".join(items[:limit]) + (f";\n… and {more} more" if more > 0 else "")


# --------------------------------------------------------------------------- triage


@transaction.atomic
def dead_letter_triage(*, reason_id: int, user, note: str) -> DeadLetterReason:
    """Mark a dead-letter reason triaged with a note; the note is kept as an audit record."""
    group = DeadLetterReason.objects.select_for_update().get(pk=reason_id)
    group.triaged_at, group.triaged_by, group.triage_note = timezone.now(), user, note
    group.save(update_fields=["triaged_at", "triaged_by", "triage_note"])
    TriageNote.objects.create(reason=group, user=user, note=note)
    log.info("dead-letter reason %r triaged by %s", group.reason, user)
    _close_triaged_digests()
    return group


@transaction.atomic
def dead_letter_samples_erase(*, ids: Sequence[str], tombstone: str) -> int:
    """Samples naming erased ids take the DSAR's tombstone in their place (allowlisted keys such
    as user_id are not masked in samples); returns the groups changed."""
    if not ids:
        return 0
    pattern = selectors.ids_pattern(ids)
    changed = 0
    for group in DeadLetterReason.objects.select_for_update():
        samples = [{**s, "payload": pattern.sub(tombstone, s["payload"])} for s in group.samples]
        if samples != group.samples:
            group.samples = samples
            group.save(update_fields=["samples"])
            changed += 1
    return changed


def _close_triaged_digests() -> None:
    """A digest's alert closes once every reason it reported is triaged."""
    untriaged = set(
        DeadLetterReason.objects.filter(triaged_at__isnull=True).values_list("reason", flat=True)
    )
    for alert in alerts_feed(source="pipeline"):
        digest = alert.is_open and alert.key.startswith(DIGEST_KEY)
        if digest and not untriaged & set(alert.values.get("reasons", [])):
            alert_resolve(key=alert.key)


def triage_digest_send(*, today: date | None = None) -> list[DeadLetterReason]:
    """The daily digest of dead-letter reasons no digest has reported yet: one alert (emailed
    once to ALERT_EMAILS) listing them with their counts. Nothing new, no digest."""
    today = today or timezone.now().date()
    with transaction.atomic():
        new = list(
            DeadLetterReason.objects.select_for_update()
            .filter(digested_at__isnull=True, triaged_at__isnull=True)
            .order_by("first_seen")
        )
        if not new:
            return []
        counts = selectors.dead_letter_totals([g.reason for g in new])
        lines = [
            f"{g.reason}: {counts.get(g.reason, 0):,} events since {g.first_seen:%Y-%m-%d %H:%M}"
            for g in new
        ]
        alert_raise(
            key=f"{DIGEST_KEY}{today}",
            source="pipeline",
            severity=Alert.Severity.WARNING,
            title=f"{len(new)} new dead-letter reason(s) to triage",
            detail="\n".join(lines),
            values={"reasons": [g.reason for g in new]},
            link="/pipeline/dead-letters/",
        )
        DeadLetterReason.objects.filter(pk__in=[g.pk for g in new]).update(
            digested_at=timezone.now()
        )
    return new
