"""Small builders of stored pipeline health, for page tests."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from pipeline.models import (
    CheckState,
    DeadLetterCount,
    DeadLetterReason,
    HealthRun,
    LagPoint,
    LossPoint,
    TableFreshness,
    VolumePoint,
)
from warehouse.lake import contract

AS_OF = datetime(2026, 2, 1, 0, 30, tzinfo=UTC)


def health(days: int = 14) -> HealthRun:
    """A finished run with a verdict for every check and ``days`` days of hourly series."""
    run = HealthRun.objects.create(as_of=AS_OF, days=days, outcome="succeeded")
    now = timezone.now()
    states = [
        (
            "loss",
            "alarm",
            0.931,
            0.95,
            "ratio",
            "lowest delivered share 93.1% (hour 2026-01-31 19:00)",
        ),
        ("lag_silver", "ok", 171.0, 300.0, "seconds", "highest p95 ingest → silver lag 2.9 min"),
        (
            "lag_gold",
            "warning",
            1500.0,
            1800.0,
            "seconds",
            "highest p95 silver → gold lag 25.0 min",
        ),
        (
            "volume",
            "ok",
            0.0,
            0.0,
            "anomalies",
            "0 event-type buckets outside the expected range (score beyond 4)",
        ),
        ("freshness", "ok", 1800.0, 3600.0, "seconds", "oldest relative to its budget: events"),
        ("dead_letters", "ok", 0.004, 0.01, "ratio", "highest dead-letter share 0.40%"),
        ("schemas", "ok", 0.0, 0.0, "problems", "registry and lake agree"),
    ]
    for name, status, value, budget, unit, summary in states:
        CheckState.objects.create(
            name=name,
            status=status,
            value=value,
            budget=budget,
            unit=unit,
            summary=summary,
            breaches=["hour 2026-01-31 19:00: 93.1%"] if status == "alarm" else [],
            evaluated_at=AS_OF,
        )
    first = AS_OF.replace(minute=0) - timedelta(days=days)
    hours = [first + timedelta(hours=h) for h in range(days * 24)]
    common = {"judged": True, "settled": True, "computed_at": now}
    LossPoint.objects.bulk_create(
        LossPoint(
            grain="hour", start=h, expected=1000, delivered=990, ratio=0.99, breach=False, **common
        )
        for h in hours
    )
    LagPoint.objects.bulk_create(
        LagPoint(
            grain="hour",
            start=h,
            stage=stage,
            events=1000,
            p50_s=40,
            p95_s=160,
            max_s=900,
            breach=False,
            **common,
        )
        for h in hours
        for stage in ("silver", "gold")
    )
    VolumePoint.objects.bulk_create(
        VolumePoint(
            grain="day",
            start=first + timedelta(days=d),
            event_name=name,
            events=500,
            baseline=480,
            low=330,
            high=660,
            score=0.9,
            anomaly=False,
            **common,
        )
        for d in range(days)
        for name in ("app.start", "search", "page_view")
    )
    for table in contract.TABLES.values():
        TableFreshness.objects.create(
            table_name=table.name,
            cadence="daily",
            newest_partition=AS_OF.date() - timedelta(days=1),
            newest_column="",
            age_s=1800.0,
            budget_s=108000.0,
            status="ok",
            checked_at=now,
        )
    return run


def reason(name: str, payload: str = '{"path":"/"}', events: int = 3, **fields) -> DeadLetterReason:
    seen = AS_OF - timedelta(hours=5)
    group = DeadLetterReason.objects.create(
        reason=name,
        first_seen=seen,
        last_seen=seen,
        samples=[{"event_name": "page_view", "received_at": seen.isoformat(), "payload": payload}],
        **fields,
    )
    DeadLetterCount.objects.create(
        hour=seen.replace(minute=0),
        reason=name,
        event_name="page_view",
        events=events,
        first_seen=seen,
        last_seen=seen,
    )
    return group
