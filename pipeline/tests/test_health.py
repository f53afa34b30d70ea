"""The health checks' arithmetic, on hand-made aggregates with known answers."""

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline import health
from pipeline.health import Cadence, Clock, Status, Thresholds

TH = Thresholds(
    loss_min_ratio=0.95,
    loss_warn_ratio=0.98,
    lag_silver_p95_budget_s=300.0,
    lag_gold_p95_budget_s=1800.0,
    warn_share=0.8,
    min_bucket_events=100,
    volume_max_score=4.0,
    volume_min_events=50,
    volume_weeks=4,
    volume_min_weeks=2,
    dead_letter_max_rate=0.01,
    freshness_stream_budget_min=60.0,
    freshness_daily_budget_h=30.0,
    settle_minutes=180,
    alert_window_hours=48,
)
AS_OF = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
CLOCK = Clock.of(AS_OF, TH)


def hour(day: int, h: int) -> datetime:
    return datetime(2026, 1, day, h, tzinfo=UTC)


# --------------------------------------------------------------------------- loss


def test_loss_points_per_hour_and_day():
    bronze = {hour(30, 10): 1000, hour(30, 11): 500, hour(31, 10): 80}
    silver = {hour(30, 10): 990, hour(30, 11): 450, hour(31, 10): 80}
    points = {(p.grain, p.start): p for p in health.loss_points(bronze, silver, TH, CLOCK)}
    assert points[("hour", hour(30, 11))].ratio == 0.9
    day = points[("day", hour(30, 0))]
    assert (day.expected, day.delivered) == (1500, 1440) and day.judged and day.settled
    assert not points[("hour", hour(31, 10))].judged  # 80 events: too few to judge


def test_a_settled_bucket_below_the_floor_is_an_alarm():
    points = health.loss_points({hour(31, 10): 1000}, {hour(31, 10): 940}, TH, CLOCK)
    result = health.evaluate_loss(points, TH, CLOCK)
    assert result.status == Status.ALARM and result.value == 0.94
    assert result.breaches == ("hour 2026-01-31 10:00: 94.0%", "day 2026-01-31: 94.0%")


def test_a_provisional_bucket_below_the_floor_is_only_a_warning():
    # Closed at 05:00, settles at 08:00: silver may still be catching up at 06:00.
    start = AS_OF - timedelta(hours=2)
    points = health.loss_points({start: 1000}, {start: 900}, TH, CLOCK)
    result = health.evaluate_loss(points, TH, CLOCK)
    assert result.status == Status.WARNING and result.breaches == ()
    assert result.value is None  # nothing settled to report yet


def test_loss_below_the_warning_line_warns_and_old_breaches_do_not_count():
    old = hour(28, 10)  # closed more than 48 h before as_of
    points = health.loss_points(
        {old: 1000, hour(31, 10): 1000}, {old: 100, hour(31, 10): 975}, TH, CLOCK
    )
    result = health.evaluate_loss(points, TH, CLOCK)
    assert result.status == Status.WARNING and result.value == 0.975


def test_loss_without_data_is_unknown():
    assert health.evaluate_loss([], TH, CLOCK).status == Status.UNKNOWN


# --------------------------------------------------------------------------- lag


def lag_rows(*rows: tuple) -> pd.DataFrame:
    """Rows as lag.sql.tmpl returns them: (grain, start, events, p50_s, p95_s, max_s)."""
    frame = pd.DataFrame(rows, columns=["grain", "start", "events", "p50_s", "p95_s", "max_s"])
    return frame.assign(start=pd.to_datetime(frame["start"], utc=True))


def test_lag_p95_over_budget_is_an_alarm_and_near_it_a_warning():
    rows = lag_rows(
        ("hour", hour(31, 9), 1_000, 400.0, 650.0, 900.0),
        ("hour", hour(31, 10), 1_000, 40.0, 100.0, 400.0),
        ("hour", hour(31, 11), 50, 40.0, 9_000.0, 9_000.0),  # too few events to judge
        ("day", hour(31, 0), 2_050, 60.0, 420.0, 9_000.0),
    )
    points = health.lag_points("silver", rows, TH, CLOCK)
    assert [(p.grain, p.start.hour, p.judged) for p in points] == [
        ("day", 0, True),
        ("hour", 9, True),
        ("hour", 10, True),
        ("hour", 11, False),
    ]
    result = health.evaluate_lag("silver", points, TH, CLOCK)
    assert result.status == Status.ALARM and result.value == 650.0
    assert result.breaches == ("day 2026-01-31: p95 7.0 min", "hour 2026-01-31 09:00: p95 10.8 min")
    near = lag_rows(("hour", hour(31, 9), 1_000, 100.0, 255.0, 400.0))  # over 80% of 300 s
    near_points = health.lag_points("silver", near, TH, CLOCK)
    assert health.evaluate_lag("silver", near_points, TH, CLOCK).status == Status.WARNING
    # The gold budget is 30 min: the same lags are fine there.
    gold = health.lag_points("gold", rows, TH, CLOCK)
    assert health.evaluate_lag("gold", gold, TH, CLOCK).status == Status.OK
    assert health.evaluate_lag("gold", [], TH, CLOCK).status == Status.UNKNOWN


# --------------------------------------------------------------------------- volume


def steady_hours(first: datetime, last: datetime, usual: dict[str, float], seed: int = 5) -> dict:
    """Poisson counts per hour and event name around ``usual``, busier in the evening."""
    rng = np.random.default_rng(seed)
    counts, start = {}, first
    while start <= last:
        shape = 1 + 0.5 * math.sin(math.pi * start.hour / 24)
        for name, level in usual.items():
            counts[(start, name)] = int(rng.poisson(level * shape))
        start += timedelta(hours=1)
    return counts


def test_volume_compares_with_the_median_of_the_same_weekday_and_hour():
    """The hand-made numbers of the band this replaced, in a steady four weeks of Poisson
    counts: 150 searches where about 400 were usual is far outside the expected range, and so
    is an hour without any app.start; the steady hours around them are not."""
    target = hour(31, 10)  # a Saturday
    counts = steady_hours(hour(3, 0), target, {"search": 300, "app.start": 100})
    counts[(target - timedelta(weeks=3), "search")] = 2_000  # an outlier the median ignores
    counts[(target, "search")] = 150
    del counts[(target, "app.start")]  # no app.start at all: zero events
    points = health.volume_points(counts, since=hour(31, 0), th=TH, clock=CLOCK)
    by_key = {(p.grain, p.start, p.event_name): p for p in points}
    search = by_key[("hour", target, "search")]
    earlier = [counts[(target - timedelta(weeks=k), "search")] for k in range(1, 5)]
    assert search.baseline == np.median(earlier) and search.anomaly
    assert search.score < -4 and search.low > search.events
    assert search.low < search.baseline < search.high
    missing = by_key[("hour", target, "app.start")]
    assert missing.events == 0 and missing.anomaly and missing.score < -4
    steady = [p for p in points if p.grain == "hour" and p.start < target]
    assert len(steady) == 20 and all(p.judged and not p.anomaly for p in steady)
    assert all(p.low <= p.events <= p.high for p in steady)
    result = health.evaluate_volume(points, TH, CLOCK)
    # Both hours, and both days: Saturday the 31st has only its first eleven hours.
    assert result.status == Status.ALARM and result.value == 4
    assert result.summary == "4 event-type buckets outside the expected range (score beyond 4)"
    assert (
        f"search hour 2026-01-31 10:00: 150 vs usual {search.baseline:,.0f} "
        f"(expected {search.low:,.0f} to {search.high:,.0f}, score {search.score:+.1f})"
    ) in result.breaches
    lenient = replace(TH, volume_max_score=100.0)  # the threshold is the admin's to set
    points = health.volume_points(counts, since=hour(31, 0), th=lenient, clock=CLOCK)
    assert not [p for p in points if p.grain == "hour" and p.anomaly]


def test_volume_needs_enough_history_and_volume_to_judge():
    target = hour(31, 10)
    # Two weeks ago nothing arrived at all (the data begins later): one week of history.
    short = {(target - timedelta(weeks=1), "search"): 400, (target, "search"): 10}
    # Two weeks of history, but under 50 events.
    small = {(target - timedelta(weeks=k), "email_click"): 20 for k in range(3)}
    for counts, baseline in ((short, None), (small, 20)):
        points = health.volume_points(counts, since=hour(31, 0), th=TH, clock=CLOCK)
        assert [(p.grain, p.baseline) for p in points if p.start == target] == [("hour", baseline)]
        assert not any(p.judged for p in points)
        assert health.evaluate_volume(points, TH, CLOCK).status == Status.UNKNOWN


def test_volume_of_a_bucket_still_filling_is_not_an_anomaly():
    now = hour(31, 23)
    clock = Clock.of(now + timedelta(minutes=30), TH)  # half-way through the hour
    counts = {(now - timedelta(weeks=k), "search"): 400 for k in (1, 2)} | {(now, "search"): 30}
    points = health.volume_points(counts, since=now, th=TH, clock=clock)
    assert not any(p.anomaly for p in points)


# --------------------------------------------------------------------------- dead letters


def test_dead_letter_share_of_everything_received():
    dead = {hour(31, 10): 30, hour(31, 11): 1}
    accepted = {hour(31, 10): 970, hour(31, 11): 999}
    points = health.dead_letter_points(dead, accepted, TH, CLOCK)
    rates = {(p.grain, p.start): p.rate for p in points}
    assert rates[("hour", hour(31, 10))] == 0.03
    assert rates[("day", hour(31, 0))] == 31 / 2000
    result = health.evaluate_dead_letters(points, TH, CLOCK)
    assert result.status == Status.ALARM and result.value == 0.03


# --------------------------------------------------------------------------- freshness


def test_stream_tables_age_by_processed_time_daily_tables_by_partition_end():
    stream = health.freshness(
        "raw_events", Cadence.STREAM, date(2026, 2, 1), AS_OF - timedelta(minutes=50), TH, AS_OF
    )
    assert stream.age_s == 3000 and stream.status == Status.WARNING  # over 80% of 60 min
    daily = health.freshness(
        "fact_bookings", Cadence.DAILY, date(2026, 1, 30), AS_OF - timedelta(hours=40), TH, AS_OF
    )
    assert daily.age_s == 30 * 3600 and daily.status == Status.WARNING  # ended Jan 31 00:00
    stale = health.freshness("fact_bookings", Cadence.DAILY, date(2026, 1, 29), None, TH, AS_OF)
    assert stale.status == Status.ALARM
    gone = health.freshness("events", Cadence.STREAM, None, None, TH, AS_OF)
    assert gone.age_s is None and gone.status == Status.ALARM
    free = health.freshness("fin_disputes", Cadence.NONE, date(2026, 1, 2), None, TH, AS_OF)
    assert free.status == Status.UNKNOWN and free.budget_s is None
    result = health.evaluate_freshness([stream, daily, stale, free])
    assert result.status == Status.ALARM and result.breaches == ("fact_bookings: 54.0 h",)


# --------------------------------------------------------------------------- schemas


def test_schemas_alarm_on_registry_problems_and_unregistered_versions():
    registered = {("search", 2), ("search", 3)}
    hourly = {
        (hour(31, 9), "search", 3): 10,
        (hour(31, 9), "search", 9): 5,
        (hour(31, 11), "search", 9): 7,
        (hour(20, 11), "search", 8): 7,  # outside the alert window
    }
    seen = health.versions_seen(hourly, CLOCK)
    assert seen == {
        ("search", 3): (10, hour(31, 9), hour(31, 9)),
        ("search", 9): (12, hour(31, 9), hour(31, 11)),
    }
    ok = health.evaluate_schemas([], {("search", 3): seen[("search", 3)]}, registered)
    assert ok.status == Status.OK
    bad = health.evaluate_schemas(["x v1.1: drift"], seen, registered)
    assert bad.status == Status.ALARM and bad.breaches == (
        "x v1.1: drift",
        "search v9: 12 events with an unregistered schema version "
        "(hours 2026-01-31 09:00 to 2026-01-31 11:00)",
    )
    assert bad.summary == "2 schema problems"


# --------------------------------------------------------------------------- thresholds


def test_thresholds_refuse_nonsense():
    values = {f: getattr(TH, f) for f in TH.__dataclass_fields__}
    assert Thresholds.from_mapping(values) == TH
    with pytest.raises(ValueError, match="loss_min_ratio is a share"):
        Thresholds.from_mapping(values | {"loss_min_ratio": 95})
    with pytest.raises(ValueError, match="min_bucket_events must be a whole number"):
        Thresholds.from_mapping(values | {"min_bucket_events": 2.5})
    with pytest.raises(ValueError, match="has no value"):
        Thresholds.from_mapping({k: v for k, v in values.items() if k != "warn_share"})
    with pytest.raises(ValueError, match="unknown pipeline threshold 'speed'"):
        Thresholds.from_mapping(values | {"speed": 1})
    assert replace(TH, warn_share=0.5).warn_share == 0.5
    assert math.isclose(health.LAG_BIN_WIDTH, math.log(1.1))
