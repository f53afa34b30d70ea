"""The health run's numbers against pandas over the lake files, overrides, triage and digest."""

from datetime import UTC, date, timedelta

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from alerts.models import Alert
from pipeline import services
from pipeline.health import LAG_BIN_WIDTH
from pipeline.models import (
    DeadLetterCount,
    DeadLetterReason,
    HealthRun,
    LagPoint,
    LossPoint,
    SchemaVersionSeen,
    TableFreshness,
    ThresholdOverride,
    TriageNote,
    VolumePoint,
)
from pipeline.tests import lake_edits
from pipeline.tests.conftest import AS_OF
from tests.support.users import user_with_role
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

FIRST_DAY = date(2026, 1, 30)  # the default run recomputes Jan 30 to Feb 1
SINCE = pd.Timestamp(FIRST_DAY)


@pytest.fixture
def lake(scenario_base, settings):
    """The scenario lake, read-only."""
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = scenario_base
    return scenario_base


def frame(root, layer_table: str) -> pd.DataFrame:
    data = pd.read_parquet(root / layer_table)
    return data.drop(columns="event_dt")


def stored(model, **filters) -> dict:
    return {
        (p.grain, pd.Timestamp(p.start).tz_localize(None)): p
        for p in model.objects.filter(**filters)
    }


def expected_ranges(counts: pd.Series, with_data: set, since: pd.Timestamp) -> pd.DataFrame:
    """The volume check's range and score for one event's hourly counts, by hand: the median of
    the same hour in up to four earlier weeks (two at least), residuals of the square roots,
    their scale 1.4826 * MAD (at least 1/2), the range the baseline's root +/- 4 scales,
    squared."""
    hours = pd.date_range(min(with_data), counts.index.max(), freq="h")
    known = [h in with_data or h >= since for h in hours]
    values = counts.reindex(hours, fill_value=0).astype(float).where(known)
    earlier = pd.concat([values.shift(168 * k) for k in range(1, 5)], axis=1)
    baseline = earlier.median(axis=1).where(earlier.count(axis=1) >= 2)
    residual = np.sqrt(values) - np.sqrt(baseline)
    mad = (residual - residual.median()).abs().median()
    scale = max(1.4826 * mad, 0.5)
    root = np.sqrt(baseline)
    return pd.DataFrame(
        {
            "low": (root - 4 * scale).clip(lower=0) ** 2,
            "high": (root + 4 * scale) ** 2,
            "score": residual / scale,
        }
    )


def test_loss_volume_versions_and_dead_letters_match_pandas(lake):
    services.health_run(as_of=AS_OF)
    raw = frame(lake, "bronze/raw_events")
    raw = raw[raw.ingest_ts >= SINCE]
    silver = frame(lake, "silver/events")
    silver = silver[silver.ingest_ts >= SINCE]

    # Loss: bronze rows vs silver rows per ingest hour and day.
    bronze_h = raw.groupby(raw.ingest_ts.dt.floor("h")).size()
    silver_h = silver.groupby(silver.ingest_ts.dt.floor("h")).size()
    points = stored(LossPoint)
    assert {k[1]: p.expected for k, p in points.items() if k[0] == "hour"} == bronze_h.to_dict()
    assert {k[1]: p.delivered for k, p in points.items() if k[0] == "hour"} == silver_h.to_dict()
    day = points[("day", pd.Timestamp("2026-01-30"))]
    on_day = raw.ingest_ts.dt.date == date(2026, 1, 30)
    assert day.expected == on_day.sum()
    assert day.delivered == (silver.ingest_ts.dt.date == date(2026, 1, 30)).sum()
    assert day.ratio == pytest.approx(day.delivered / day.expected)

    # Volume: bronze rows per hour and event name; baseline: median of the same weekday and
    # hour of the earlier weeks in the lake.
    everything = frame(lake, "bronze/raw_events")
    counts = everything.groupby([everything.ingest_ts.dt.floor("h"), "event_name"]).size()
    hours_with_data = set(everything.ingest_ts.dt.floor("h"))
    volume = {
        (pd.Timestamp(p.start).tz_localize(None), p.event_name): p
        for p in VolumePoint.objects.filter(grain="hour")
    }
    checked = 0
    for (start, name), point in volume.items():
        assert point.events == counts.get((start, name), 0)
        earlier = [start - timedelta(weeks=k) for k in range(1, 5)]
        history = [counts.get((e, name), 0) for e in earlier if e in hours_with_data]
        assert point.baseline == pytest.approx(np.median(history))
        checked += point.judged
    assert checked > 50  # busy hours of the common events are judged
    # The expected range and score (docs/anomalies.md), from the square roots of the counts.
    for name in ("search", "page_view"):
        expected = expected_ranges(counts.xs(name, level=1), hours_with_data, SINCE)
        mine = {start: p for (start, event), p in volume.items() if event == name}
        assert set(mine) <= set(expected.index)
        for start, point in mine.items():
            low, high, score = expected.loc[start, ["low", "high", "score"]]
            assert (point.low, point.high, point.score) == pytest.approx((low, high, score))
            assert point.anomaly == (point.judged and point.settled and abs(score) > 4)

    # Schema versions seen per day.
    versions = raw.groupby([raw.ingest_ts.dt.date, "event_name", "schema_version"]).size()
    assert {
        (v.day, v.event_name, v.schema_version): v.events for v in SchemaVersionSeen.objects.all()
    } == versions.to_dict()

    # Dead letters per hour, reason and event name; first and last seen per reason.
    dead = frame(lake, "bronze/dead_letter_events")
    recent = dead[dead.received_ts >= SINCE]
    by_key = recent.groupby([recent.received_ts.dt.floor("h"), "reason", "event_name"]).size()
    assert {
        (pd.Timestamp(c.hour).tz_localize(None), c.reason, c.event_name): c.events
        for c in DeadLetterCount.objects.all()
    } == by_key.to_dict()
    spans = recent.groupby("reason").received_ts.agg(["min", "max"])
    for group in DeadLetterReason.objects.all():
        assert pd.Timestamp(group.first_seen).tz_localize(None) == spans.loc[group.reason, "min"]
        assert pd.Timestamp(group.last_seen).tz_localize(None) == spans.loc[group.reason, "max"]
        assert 1 <= len(group.samples) <= services.SAMPLES_PER_REASON
        assert not any("@" in s["payload"] or "+49" in s["payload"] for s in group.samples)


def test_lag_percentiles_match_pandas(lake):
    services.health_run(as_of=AS_OF)
    silver = frame(lake, "silver/events")
    silver = silver[silver.ingest_ts >= SINCE]
    silver["lag"] = (silver.silver_processed_ts - silver.ingest_ts).dt.total_seconds()
    gold = frame(lake, "gold/fact_funnel_events")
    gold = gold[gold.event_ts >= SINCE]
    gold["lag"] = (gold.gold_processed_ts - gold.silver_processed_ts).dt.total_seconds()
    tolerance = np.exp(LAG_BIN_WIDTH) - 1  # a percentile read from a bin is off by less
    compared = set()
    for stage, rows, clock in (("silver", silver, "ingest_ts"), ("gold", gold, "event_ts")):
        points = stored(LagPoint, stage=stage)
        for grain, freq in (("hour", "h"), ("day", "D")):
            for start, lags in rows.groupby(rows[clock].dt.floor(freq)).lag:
                point = points[(grain, start)]
                assert point.events == len(lags)
                assert point.max_s == pytest.approx(lags.max(), abs=1e-3)
                # With a few hundred lags, neighbouring order statistics lie close enough for
                # the exact quantile to be comparable with one read from a bin.
                if len(lags) < 200:
                    continue
                compared.add((stage, grain))
                for q, value in ((0.5, point.p50_s), (0.95, point.p95_s)):
                    exact = lags.quantile(q)
                    assert value == pytest.approx(exact, rel=tolerance), (stage, start, q)
    # Gold hours hold fewer than 200 rows at this scale; they share the code of the others.
    assert compared == {("silver", "hour"), ("silver", "day"), ("gold", "day")}


def test_freshness_and_recorded_query_runs(lake):
    services.health_run(as_of=AS_OF)
    raw = frame(lake, "bronze/raw_events")
    raw_events = TableFreshness.objects.get(table_name="raw_events")
    assert pd.Timestamp(raw_events.newest_ts).tz_localize(None) == raw.ingest_ts.max()
    assert raw_events.newest_partition == date(2026, 1, 31) and raw_events.cadence == "stream"
    assert raw_events.age_s == pytest.approx((AS_OF - raw_events.newest_ts).total_seconds())
    bookings = TableFreshness.objects.get(table_name="fact_bookings")
    assert bookings.cadence == "daily" and bookings.age_s == 30 * 60  # since Feb 1 00:00
    listings = TableFreshness.objects.get(table_name="dim_listings")
    created = pd.read_parquet(lake / "gold" / "dim_listings").created_ts.max()
    assert pd.Timestamp(listings.newest_ts).tz_localize(None) == created
    assert listings.newest_partition is None and listings.status == "unknown"
    missing = TableFreshness.objects.get(table_name="fact_experiment_result")
    assert "has no data" in missing.error and missing.newest_ts is None

    labels = sorted(QueryRun.objects.values_list("label", flat=True))
    assert labels == [
        "pipeline:bronze_events",
        "pipeline:dead_letter_samples",
        "pipeline:dead_letters",
        "pipeline:freshness",
        "pipeline:freshness",
        "pipeline:gold_lag",
        "pipeline:silver_lag",
    ]
    bronze = QueryRun.objects.get(label="pipeline:bronze_events")
    assert bronze.params["start"]["value"] == "2026-01-02"  # four weeks of volume history
    assert bronze.params["end"]["value"] == "2026-02-01"

    # A second run on the same lake is served from the cache: no new warehouse run but the
    # retry of the failed one (fact_experiment_result has no files yet).
    services.health_run(as_of=AS_OF + timedelta(minutes=10))
    assert QueryRun.objects.count() == 8
    assert QueryRun.objects.filter(status="failed").count() == 2


def test_records_of_runs_older_than_the_keep_days_go(lake, settings):
    settings.PIPELINE_HEALTH_RUNS_KEEP_DAYS = 30
    now = timezone.now()
    for age_days in (45, 31, 29, 1):
        old = HealthRun.objects.create(as_of=AS_OF, days=3, outcome="succeeded")
        HealthRun.objects.filter(pk=old.pk).update(started_at=now - timedelta(days=age_days))

    run = services.health_run(as_of=AS_OF)

    kept = HealthRun.objects.all()
    ages = sorted(round((now - r.started_at).total_seconds() / 86400) for r in kept)
    assert ages == [0, 1, 29] and HealthRun.objects.first() == run


def test_an_admin_override_takes_effect_on_the_next_run(lake):
    services.health_run(as_of=AS_OF)
    assert not Alert.objects.filter(key="pipeline:loss").exists()
    override = ThresholdOverride.objects.create(name="loss_min_ratio", value=0.999)
    services.health_run(as_of=AS_OF)
    alert = Alert.objects.get(key="pipeline:loss")
    assert alert.is_open and "budget ≥ 99.9%" in alert.title
    override.delete()
    services.health_run(as_of=AS_OF)
    alert.refresh_from_db()
    assert not alert.is_open


def test_override_values_are_validated():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="at most 1"):
        ThresholdOverride(name="loss_min_ratio", value=95).full_clean()
    ThresholdOverride(name="lag_silver_p95_budget_s", value=600).full_clean()


# --------------------------------------------------------------------------- triage


def test_triage_records_who_when_and_why(lake):
    services.health_run(as_of=AS_OF)
    group = DeadLetterReason.objects.first()
    analyst = user_with_role("analyst")
    services.dead_letter_triage(reason_id=group.pk, user=analyst, note="client 5.12.1 bug")
    services.dead_letter_triage(reason_id=group.pk, user=analyst, note="fixed in 5.12.2")
    group.refresh_from_db()
    assert group.triaged_by == analyst and group.triage_note == "fixed in 5.12.2"
    assert group.triaged_at <= timezone.now()
    assert list(TriageNote.objects.values_list("note", flat=True)) == [
        "fixed in 5.12.2",
        "client 5.12.1 bug",
    ]


def test_the_digest_reports_new_reasons_once(
    scenario_lake, settings, django_capture_on_commit_callbacks
):
    from django.core import mail

    settings.ALERT_EMAILS = ["data-team@example.com"]
    services.health_run(as_of=AS_OF)
    reasons = set(DeadLetterReason.objects.values_list("reason", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        first = services.triage_digest_send(today=date(2026, 2, 1))
    assert {g.reason for g in first} == reasons and len(mail.outbox) == 1
    alert = Alert.objects.get(key="pipeline:dead_letter_digest:2026-02-01")
    assert alert.severity == "warning" and set(alert.values["reasons"]) == reasons
    assert services.triage_digest_send(today=date(2026, 2, 2)) == []  # nothing new

    new_reason = "schema_validation_failed:missing_field:referrer"
    spike = AS_OF.replace(day=31, month=1, hour=19, minute=0)
    lake_edits.spike_dead_letters(scenario_lake, spike, 5, new_reason, '{"email":"x@y.de"}')
    services.health_run(as_of=AS_OF)
    with django_capture_on_commit_callbacks(execute=True):
        second = services.triage_digest_send(today=date(2026, 2, 2))
    assert [g.reason for g in second] == [new_reason] and len(mail.outbox) == 2
    digest = Alert.objects.get(key="pipeline:dead_letter_digest:2026-02-02")
    assert digest.detail == f"{new_reason}: 5 events since 2026-01-31 19:00"
    samples = DeadLetterReason.objects.get(reason=new_reason).samples
    assert {s["payload"] for s in samples} == {'{"email":"***"}'}

    # Triaging every reason of a digest closes its alert.
    analyst = user_with_role("analyst")
    services.dead_letter_triage(
        reason_id=DeadLetterReason.objects.get(reason=new_reason).pk, user=analyst, note="known"
    )
    digest.refresh_from_db()
    alert.refresh_from_db()
    assert not digest.is_open and alert.is_open
    for group in DeadLetterReason.objects.filter(triaged_at__isnull=True):
        services.dead_letter_triage(reason_id=group.pk, user=analyst, note="known")
    alert.refresh_from_db()
    assert not alert.is_open
    assert AS_OF.tzinfo is UTC


def test_an_erased_subject_leaves_the_dead_letter_samples_too():
    from pipeline.tests.factories import reason
    from privacy.signals import identity_erased

    reason("a", payload='{"user_id":"usr_0001","path":"/"}')
    reason("b", payload='{"user_id":"usr_00012","referrer":"idn_0002"}')
    reason("c", payload='{"path":"/berlin"}')

    identity_erased.send(
        sender=None,
        identity_id="idn_0002",
        user_id="usr_0001",
        linked_ids=(),
        tombstone="erased:t",
    )

    payloads = {g.reason: g.samples[0]["payload"] for g in DeadLetterReason.objects.all()}
    assert payloads == {
        "a": '{"user_id":"erased:t","path":"/"}',
        "b": '{"user_id":"usr_00012","referrer":"erased:t"}',  # a longer id is another id
        "c": '{"path":"/berlin"}',
    }
