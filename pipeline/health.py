"""The pipeline health checks' arithmetic: buckets, ratios, volume baselines, budgets and
statuses. Pure functions over the aggregates the canonical SQL returns (lag percentiles come
computed from silver_lag.sql and gold_lag.sql); no Django, no I/O.

Buckets are hours and days (UTC). Each check buckets by its table's partition clock: bronze,
silver and dead letters by when the ingest endpoint received the event, gold by the event's
time. A bucket is *settled* once ``settle`` has passed since it closed; before that, events may
still be on their way through the pipeline, so a provisional bucket never raises an alarm (at
most a warning). A bucket with fewer than ``min_bucket_events`` events is shown but not judged:
a handful of events says nothing about a ratio or a 95th percentile.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

import pandas as pd

from core import anomalies

HOUR, DAY = "hour", "day"
LENGTH = {HOUR: timedelta(hours=1), DAY: timedelta(days=1)}
# Lag percentiles are read from histograms whose bin k holds lags in [r^k, r^(k+1)) seconds with
# r = 1.1 (bound into silver_lag.sql and gold_lag.sql as :bin_width): within 10% of the exact
# ones, usually far closer.
LAG_BIN_WIDTH = math.log(1.1)


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ALARM = "alarm"
    UNKNOWN = "unknown"  # nothing to judge (no data yet, or no budget)


@dataclass(frozen=True)
class Thresholds:
    """Budgets and thresholds (settings.PIPELINE_THRESHOLDS, overridable in the admin)."""

    loss_min_ratio: float
    loss_warn_ratio: float
    lag_silver_p95_budget_s: float
    lag_gold_p95_budget_s: float
    warn_share: float  # lag and freshness warn at this share of their budget
    min_bucket_events: int
    volume_max_score: float
    volume_min_events: int
    volume_weeks: int
    volume_min_weeks: int
    dead_letter_max_rate: float
    freshness_stream_budget_min: float
    freshness_daily_budget_h: float
    settle_minutes: int
    alert_window_hours: int

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> "Thresholds":
        types = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(types))
        if unknown:
            raise ValueError(f"unknown pipeline threshold {unknown[0]!r}")
        missing = sorted(set(types) - set(values))
        if missing:
            raise ValueError(f"pipeline threshold {missing[0]!r} has no value")
        for name, value in values.items():
            cls.check_value(name, value)
        return cls(**{name: types[name](value) for name, value in values.items()})

    @classmethod
    def check_value(cls, name: str, value: float) -> None:
        """Raise ValueError if ``value`` makes no sense for threshold ``name``."""
        kind = {f.name: f.type for f in fields(cls)}.get(name)
        if kind is None:
            raise ValueError(f"unknown pipeline threshold {name!r}")
        if kind is int and value != int(value):
            raise ValueError(f"{name} must be a whole number, got {value:g}")
        if value <= 0:
            raise ValueError(f"{name} must be above 0, got {value:g}")
        if name in _AT_MOST_ONE and value > 1:
            raise ValueError(f"{name} is a share and must be at most 1, got {value:g}")


_AT_MOST_ONE = frozenset(
    {"loss_min_ratio", "loss_warn_ratio", "warn_share", "dead_letter_max_rate"}
)


@dataclass(frozen=True)
class Clock:
    """When the checks run, and which buckets count as settled or recent."""

    as_of: datetime
    settle: timedelta
    alert_window: timedelta

    @classmethod
    def of(cls, as_of: datetime, thresholds: Thresholds) -> "Clock":
        return cls(
            as_of=as_of,
            settle=timedelta(minutes=thresholds.settle_minutes),
            alert_window=timedelta(hours=thresholds.alert_window_hours),
        )

    def settled(self, start: datetime, grain: str) -> bool:
        return start + LENGTH[grain] + self.settle <= self.as_of

    def recent(self, start: datetime, grain: str) -> bool:
        """Closes inside the alert window (or is still open): counts for alerts."""
        return start + LENGTH[grain] > self.as_of - self.alert_window


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _worst(items: list, key) -> object | None:
    return max(items, key=key) if items else None


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict for the overview and the alert: the number against the budget."""

    check: str
    status: Status
    value: float | None
    budget: float | None
    unit: str
    summary: str
    breaches: tuple[str, ...] = ()


# --------------------------------------------------------------------------- loss


@dataclass(frozen=True)
class LossPoint:
    grain: str
    start: datetime
    expected: int  # bronze rows: events the ingest endpoint accepted (retried sends included)
    delivered: int  # silver rows: distinct events delivered
    judged: bool
    settled: bool

    @property
    def ratio(self) -> float | None:
        return self.delivered / self.expected if self.expected else None


def loss_points(
    bronze: Mapping[datetime, int], silver: Mapping[datetime, int], th: Thresholds, clock: Clock
) -> list[LossPoint]:
    """Delivered / expected per ingest hour and day, from hourly counts."""
    hours = sorted(bronze.keys() | silver.keys())
    days: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    points = []
    for start in hours:
        expected, delivered = bronze.get(start, 0), silver.get(start, 0)
        totals = days[day_start(start)]
        totals[0] += expected
        totals[1] += delivered
        points.append(_loss_point(HOUR, start, expected, delivered, th, clock))
    for start, (expected, delivered) in sorted(days.items()):
        points.append(_loss_point(DAY, start, expected, delivered, th, clock))
    return points


def _loss_point(grain, start, expected, delivered, th, clock) -> LossPoint:
    return LossPoint(
        grain=grain,
        start=start,
        expected=expected,
        delivered=delivered,
        judged=expected >= th.min_bucket_events,
        settled=clock.settled(start, grain),
    )


def loss_breach(point: LossPoint, th: Thresholds) -> bool:
    return point.judged and point.settled and point.ratio < th.loss_min_ratio


def evaluate_loss(points: Iterable[LossPoint], th: Thresholds, clock: Clock) -> CheckResult:
    recent = [p for p in points if clock.recent(p.start, p.grain) and p.judged]
    settled = [p for p in recent if p.settled]
    breaches = [p for p in settled if loss_breach(p, th)]
    worst = _worst(settled, key=lambda p: -p.ratio)
    if breaches:
        status = Status.ALARM
    elif any(p.ratio < th.loss_warn_ratio for p in settled) or any(
        p.ratio < th.loss_min_ratio for p in recent if not p.settled
    ):
        status = Status.WARNING
    else:
        status = Status.OK if recent else Status.UNKNOWN
    return CheckResult(
        check="loss",
        status=status,
        value=worst.ratio if worst else None,
        budget=th.loss_min_ratio,
        unit="ratio",
        summary=(
            f"lowest delivered share {worst.ratio:.1%} ({_label(worst)})"
            if worst
            else "no settled bucket with enough events yet"
        ),
        breaches=tuple(f"{_label(p)}: {p.ratio:.1%}" for p in breaches),
    )


# --------------------------------------------------------------------------- lag


@dataclass(frozen=True)
class LagPoint:
    stage: str  # "silver": ingest -> silver; "gold": silver -> gold
    grain: str
    start: datetime
    events: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    judged: bool
    settled: bool


def lag_points(stage: str, rows: pd.DataFrame, th: Thresholds, clock: Clock) -> list[LagPoint]:
    """Lag points from the rows of silver_lag.sql or gold_lag.sql (columns grain, start as a UTC
    datetime, events, p50_s, p95_s, max_s)."""
    return [
        LagPoint(
            stage=stage,
            grain=row.grain,
            start=row.start.to_pydatetime(),
            events=int(row.events),
            p50_s=_float(row.p50_s),
            p95_s=_float(row.p95_s),
            max_s=_float(row.max_s),
            judged=int(row.events) >= th.min_bucket_events,
            settled=clock.settled(row.start.to_pydatetime(), row.grain),
        )
        for row in rows.sort_values(["grain", "start"]).itertuples(index=False)
    ]


def _float(value) -> float | None:
    return None if pd.isna(value) else float(value)


def lag_budget(stage: str, th: Thresholds) -> float:
    return th.lag_silver_p95_budget_s if stage == "silver" else th.lag_gold_p95_budget_s


def lag_breach(point: LagPoint, th: Thresholds) -> bool:
    return point.judged and point.settled and point.p95_s > lag_budget(point.stage, th)


def evaluate_lag(
    stage: str, points: Iterable[LagPoint], th: Thresholds, clock: Clock
) -> CheckResult:
    budget = lag_budget(stage, th)
    recent = [p for p in points if p.stage == stage and p.judged and clock.recent(p.start, p.grain)]
    settled = [p for p in recent if p.settled]
    breaches = [p for p in settled if lag_breach(p, th)]
    worst = _worst(settled, key=lambda p: p.p95_s)
    if breaches:
        status = Status.ALARM
    elif any(p.p95_s > th.warn_share * budget for p in settled) or any(
        p.p95_s > budget for p in recent if not p.settled
    ):
        status = Status.WARNING
    else:
        status = Status.OK if recent else Status.UNKNOWN
    name = "ingest → silver" if stage == "silver" else "silver → gold"
    return CheckResult(
        check=f"lag_{stage}",
        status=status,
        value=worst.p95_s if worst else None,
        budget=budget,
        unit="seconds",
        summary=(
            f"highest p95 {name} lag {duration(worst.p95_s)} ({_label(worst)})"
            if worst
            else "no settled bucket with enough events yet"
        ),
        breaches=tuple(f"{_label(p)}: p95 {duration(p.p95_s)}" for p in breaches),
    )


# --------------------------------------------------------------------------- volume


@dataclass(frozen=True)
class VolumePoint:
    grain: str
    start: datetime
    event_name: str
    events: int
    baseline: float | None  # median of the same weekday (and hour) in earlier weeks
    low: float | None  # the expected range: outside it, the bucket is unusual
    high: float | None
    score: float | None  # how far from the baseline, in robust standard deviations
    judged: bool
    settled: bool
    anomaly: bool


def volume_points(
    hourly: Mapping[tuple[datetime, str], int],
    *,
    since: datetime,
    th: Thresholds,
    clock: Clock,
) -> list[VolumePoint]:
    """Volume per event name for the buckets from ``since`` on, judged by core.anomalies against
    the same weekday (and hour) of up to ``volume_weeks`` earlier weeks, which ``hourly`` must
    reach back to (docs/anomalies.md). Within a bucket that has events, a missing event name had
    zero; an earlier bucket without any event (before the data begins, or an outage) is no
    history to compare with."""
    if not hourly:
        return []
    daily: dict[tuple[datetime, str], int] = defaultdict(int)
    for (start, name), events in hourly.items():
        daily[(day_start(start), name)] += events
    names = sorted({name for _, name in hourly})
    last = max(start for start, _ in hourly)
    settings = anomalies.Settings(
        threshold=th.volume_max_score,
        count=True,
        history_weeks=th.volume_weeks,
        min_history_weeks=th.volume_min_weeks,
        min_expected=th.volume_min_events,
    )
    points = []
    for grain, counts in ((HOUR, hourly), (DAY, daily)):
        with_data = {start for start, _ in counts}
        first = min(with_data)
        start = since if grain == HOUR else day_start(since)
        end = last if grain == HOUR else day_start(last)
        # Unknown (None): a bucket before ``start`` without any event; absent: zero.
        gaps = dict.fromkeys(_buckets(first, start, grain) - with_data)
        for name in names:
            series = {t: n for (t, event), n in counts.items() if event == name} | gaps
            found = anomalies.detect(
                series, grain=grain, start=start, end=end, settings=settings, first=first
            )
            for p in found.points:
                if not p.value and not p.expected:
                    continue
                settled = clock.settled(p.start, grain)
                points.append(
                    VolumePoint(
                        grain=grain,
                        start=p.start,
                        event_name=name,
                        events=int(p.value),
                        baseline=p.expected,
                        low=p.low,
                        high=p.high,
                        score=p.score,
                        judged=p.judged,
                        settled=settled,
                        # A bucket still filling up is not compared with complete ones.
                        anomaly=p.flagged and settled,
                    )
                )
    return points


def _buckets(first: datetime, end: datetime, grain: str) -> set[datetime]:
    """The bucket starts from ``first`` up to (not including) ``end``."""
    count = (end - first) // LENGTH[grain]
    return {first + k * LENGTH[grain] for k in range(max(count, 0))}


def evaluate_volume(points: Iterable[VolumePoint], th: Thresholds, clock: Clock) -> CheckResult:
    recent = [p for p in points if p.judged and clock.recent(p.start, p.grain)]
    flagged = [p for p in recent if p.anomaly]
    status = Status.ALARM if flagged else Status.OK if recent else Status.UNKNOWN
    return CheckResult(
        check="volume",
        status=status,
        value=float(len(flagged)),
        budget=0.0,
        unit="anomalies",
        summary=(
            f"{_count(len(flagged), 'event-type bucket')} outside the expected range "
            f"(score beyond {th.volume_max_score:g})"
        ),
        breaches=tuple(
            f"{p.event_name} {_label(p)}: {p.events:,} vs usual {p.baseline:,.0f} "
            f"(expected {p.low:,.0f} to {p.high:,.0f}, score {p.score:+.1f})"
            for p in flagged
        ),
    )


# --------------------------------------------------------------------------- dead letters


@dataclass(frozen=True)
class DeadLetterPoint:
    grain: str
    start: datetime
    dead_letters: int
    accepted: int
    judged: bool
    settled: bool

    @property
    def rate(self) -> float | None:
        total = self.dead_letters + self.accepted
        return self.dead_letters / total if total else None


def dead_letter_points(
    dead: Mapping[datetime, int], bronze: Mapping[datetime, int], th: Thresholds, clock: Clock
) -> list[DeadLetterPoint]:
    """Rejected / (rejected + accepted) events per hour and day."""
    days: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    points = []
    for start in sorted(dead.keys() | bronze.keys()):
        counts = (dead.get(start, 0), bronze.get(start, 0))
        total = days[day_start(start)]
        total[0] += counts[0]
        total[1] += counts[1]
        points.append(_dead_point(HOUR, start, *counts, th, clock))
    points += [_dead_point(DAY, s, d, a, th, clock) for s, (d, a) in sorted(days.items())]
    return points


def _dead_point(grain, start, dead_letters, accepted, th, clock) -> DeadLetterPoint:
    return DeadLetterPoint(
        grain=grain,
        start=start,
        dead_letters=dead_letters,
        accepted=accepted,
        judged=dead_letters + accepted >= th.min_bucket_events,
        settled=clock.settled(start, grain),
    )


def dead_letter_breach(point: DeadLetterPoint, th: Thresholds) -> bool:
    return point.judged and point.settled and point.rate > th.dead_letter_max_rate


def evaluate_dead_letters(
    points: Iterable[DeadLetterPoint], th: Thresholds, clock: Clock
) -> CheckResult:
    recent = [p for p in points if p.judged and clock.recent(p.start, p.grain)]
    settled = [p for p in recent if p.settled]
    breaches = [p for p in settled if dead_letter_breach(p, th)]
    worst = _worst(settled, key=lambda p: p.rate)
    if breaches:
        status = Status.ALARM
    elif any(p.rate > th.dead_letter_max_rate for p in recent):
        status = Status.WARNING
    else:
        status = Status.OK if recent else Status.UNKNOWN
    return CheckResult(
        check="dead_letters",
        status=status,
        value=worst.rate if worst else None,
        budget=th.dead_letter_max_rate,
        unit="ratio",
        summary=(
            f"highest dead-letter share {worst.rate:.2%} ({_label(worst)})"
            if worst
            else "no settled bucket with enough events yet"
        ),
        breaches=tuple(f"{_label(p)}: {p.dead_letters:,} ({p.rate:.1%})" for p in breaches),
    )


# --------------------------------------------------------------------------- freshness


class Cadence(StrEnum):
    STREAM = "stream"  # loaded continuously: judged by its newest processed time
    DAILY = "daily"  # loaded once a day: judged by its newest partition
    NONE = "none"  # shown, not judged (sparse or unscheduled tables)


@dataclass(frozen=True)
class Freshness:
    table: str
    cadence: Cadence
    newest_partition: date | None
    newest_processed: datetime | None
    age_s: float | None
    budget_s: float | None
    status: Status


def freshness(
    table: str,
    cadence: Cadence,
    newest_partition: date | None,
    newest_processed: datetime | None,
    th: Thresholds,
    as_of: datetime,
) -> Freshness:
    """A stream table is as old as its newest processed row; a daily table as old as the time
    since its newest partition's day ended."""
    newest = newest_processed
    if cadence != Cadence.STREAM and newest_partition is not None:
        newest = datetime.combine(newest_partition + timedelta(days=1), time(), tzinfo=UTC)
    age = max((as_of - newest).total_seconds(), 0.0) if newest else None
    budget = {
        Cadence.STREAM: th.freshness_stream_budget_min * 60,
        Cadence.DAILY: th.freshness_daily_budget_h * 3600,
    }.get(cadence)
    if budget is None:
        status = Status.UNKNOWN
    elif age is None or age > budget:
        status = Status.ALARM
    elif age > th.warn_share * budget:
        status = Status.WARNING
    else:
        status = Status.OK
    return Freshness(table, cadence, newest_partition, newest_processed, age, budget, status)


def evaluate_freshness(tables: Iterable[Freshness]) -> CheckResult:
    judged = [t for t in tables if t.budget_s is not None]
    stale = [t for t in judged if t.status == Status.ALARM]
    worst = _worst(judged, key=lambda t: math.inf if t.age_s is None else t.age_s / t.budget_s)
    statuses = {t.status for t in judged}
    status = next((s for s in (Status.ALARM, Status.WARNING, Status.OK) if s in statuses), None)
    return CheckResult(
        check="freshness",
        status=status or Status.UNKNOWN,
        value=worst.age_s if worst else None,
        budget=worst.budget_s if worst else None,
        unit="seconds",
        summary=(
            f"oldest relative to its budget: {worst.table} ({_age(worst.age_s)})"
            if worst
            else "no table has a freshness budget"
        ),
        breaches=tuple(f"{t.table}: {_age(t.age_s)}" for t in stale),
    )


# --------------------------------------------------------------------------- schemas


def versions_seen(
    hourly: Mapping[tuple[datetime, str, int], int], clock: Clock
) -> dict[tuple[str, int], tuple[int, datetime, datetime]]:
    """(event name, major version) -> (events, first hour, last hour) within the alert window."""
    seen: dict[tuple[str, int], tuple[int, datetime, datetime]] = {}
    for (start, name, major), events in hourly.items():
        if not clock.recent(start, HOUR):
            continue
        count, first, last = seen.get((name, major), (0, start, start))
        seen[(name, major)] = (count + events, min(first, start), max(last, start))
    return seen


def evaluate_schemas(
    registry_problems: Iterable[str],
    seen: Mapping[tuple[str, int], tuple[int, datetime, datetime]],
    registered: set[tuple[str, int]],
) -> CheckResult:
    """Problems of the registry itself, and events in bronze whose (name, major version) the
    registry does not know (``seen``: see versions_seen)."""
    unregistered = [
        f"{name} v{major}: {events:,} events with an unregistered schema version "
        f"(hours {first:%Y-%m-%d %H:00} to {last:%Y-%m-%d %H:00})"
        for (name, major), (events, first, last) in sorted(seen.items())
        if (name, major) not in registered
    ]
    problems = [*registry_problems, *unregistered]
    return CheckResult(
        check="schemas",
        status=Status.ALARM if problems else Status.OK,
        value=float(len(problems)),
        budget=0.0,
        unit="problems",
        summary=_count(len(problems), "schema problem") if problems else "registry and lake agree",
        breaches=tuple(problems),
    )


# --------------------------------------------------------------------------- labels


def display(value: float | None, unit: str) -> str:
    """A check's number for people: shares in percent, durations in s, min or h."""
    if value is None:
        return "n/a"
    if unit == "ratio":
        return f"{value:.2%}" if value < 0.1 else f"{value:.1%}"
    if unit == "seconds":
        return duration(value)
    return f"{value:,.0f}"


def display_budget(check: str, budget: float | None, unit: str) -> str:
    if budget is None:
        return "no budget"
    # Loss has a floor (delivered share); every other budget is a ceiling.
    return f"{'≥' if check == 'loss' else '≤'} {display(budget, unit)}"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _label(point) -> str:
    if point.grain == DAY:
        return f"day {point.start:%Y-%m-%d}"
    return f"hour {point.start:%Y-%m-%d %H:00}"


def _age(seconds: float | None) -> str:
    return "no recent data" if seconds is None else duration(seconds)
