"""The lake's consent history into the portal, once per change: manage.py consent_import, and
the scheduled task, which first writes to the lake the portal's changes it lacks. A change made
in the lake (a Parquet file written here with pyarrow, as the pipeline would) reaches the API
once the task has run."""

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from privacy import selectors, tasks
from privacy.models import ConsentChange, ConsentImport, ConsentState
from privacy.tests.conftest import read_table
from privacy.tests.test_api_consent import bearer, token
from privacy.tombstone import TOMBSTONE_PREFIX
from tests.support.users import user_with_role
from warehouse.lake import storage

pytestmark = pytest.mark.django_db


def test_import_copies_every_change_once_and_rebuilds_consent(lake_settings):
    out = io.StringIO()
    call_command("consent_import", stdout=out)
    lake = read_table(lake_settings, "consent_changes")
    assert out.getvalue().startswith(f"{len(lake)} consent changes read")
    assert out.getvalue().strip().endswith(f"{len(lake)} new")
    assert ConsentChange.objects.count() == len(lake)
    call_command("consent_import", stdout=io.StringIO())  # again: nothing doubles
    assert ConsentChange.objects.count() == len(lake)

    latest = lake.sort_values(["changed_ts", "change_id"]).groupby(["identity_id", "flag"]).last()
    assert ConsentState.objects.count() == lake["identity_id"].nunique()
    for identity_id in lake["identity_id"].drop_duplicates().sample(25, random_state=1):
        state = ConsentState.objects.get(identity_id=identity_id)
        flags = latest.loc[identity_id, "value"].to_dict()
        for flag in ("marketing", "analytics", "personalization"):
            assert getattr(state, flag) == bool(flags.get(flag, False)), (identity_id, flag)

    client = Client()
    client.force_login(user_with_role("privacy"))
    identity_id = lake.loc[lake["value"] & (lake["flag"] == "marketing"), "identity_id"].iloc[-1]
    expected = bool(latest.loc[(identity_id, "marketing"), "value"])
    assert client.get(f"/api/consent/{identity_id}").json()["marketing"] is expected


def test_bad_dates_are_refused(lake_settings):
    with pytest.raises(CommandError, match="must not be after"):
        call_command("consent_import", "--start", "2026-02-01", "--end", "2026-01-01")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("consent_import", "--start", "yesterday")


# --- the scheduled import

SCHEMA = pa.schema(
    [
        ("change_id", pa.string()),
        ("identity_id", pa.string()),
        ("user_id", pa.string()),
        ("flag", pa.string()),
        ("value", pa.bool_()),
        ("source", pa.string()),
        ("changed_ts", pa.timestamp("us")),
    ]
)


def pipeline_writes(root: Path, rows: list[dict], name: str = "part-late.parquet") -> None:
    """Consent changes loaded into the lake by the pipeline: a Parquet file of each row's day,
    then the lake's watermark moves, as after any load."""
    for row in rows:
        partition = root / "gold" / "consent_changes" / f"event_dt={row['changed_ts'].date()}"
        partition.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist([row], schema=SCHEMA), partition / name)
    storage.bump_watermark(root)


def a_change(identity_id: str, flag: str, value: bool, change_id: str) -> dict:
    now = timezone.now().astimezone(UTC).replace(tzinfo=None)
    return {
        "change_id": change_id,
        "identity_id": identity_id,
        "user_id": None,
        "flag": flag,
        "value": value,
        "source": "settings",
        "changed_ts": now,
    }


def latest(lake, identity_id: str, flag: str) -> bool:
    rows = lake[(lake["identity_id"] == identity_id) & (lake["flag"] == flag)]
    return bool(rows.sort_values(["changed_ts", "change_id"])["value"].iloc[-1])


def test_the_scheduled_import_brings_lake_changes_to_the_api_once(
    lake_copy, client, django_capture_on_commit_callbacks
):
    lake = read_table(lake_copy, "consent_changes")
    busy = lake["identity_id"].value_counts()
    identity_id = busy[busy == 4].index[0]  # as in the issue: 4 changes in the lake
    cache.delete(selectors.consent_cache_key(identity_id))
    app = bearer(token("consent:read"))
    assert client.get(f"/api/consent/{identity_id}", **app).json()["known"] is False

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.consent_sync() == len(lake)
    first = ConsentImport.objects.get()
    assert (first.start, first.rows_read, first.rows_added, first.pushed) == (
        date(2000, 1, 1),
        len(lake),
        len(lake),
        0,
    )
    assert ConsentChange.objects.count() == len(lake)
    answer = client.get(f"/api/consent/{identity_id}", **app).json()
    assert answer["known"] is True
    for flag in ("marketing", "analytics", "personalization"):
        assert answer[flag] is latest(lake, identity_id, flag), flag

    # A change made in the lake: the API holds the old answer until the next import.
    flipped = not answer["marketing"]
    pipeline_writes(lake_copy, [a_change(identity_id, "marketing", flipped, "cns_feedfacecafe")])
    assert client.get(f"/api/consent/{identity_id}", **app).json()["marketing"] is not flipped
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.consent_sync() == 1
    assert client.get(f"/api/consent/{identity_id}", **app).json()["marketing"] is flipped
    second = ConsentImport.objects.first()
    # From the last import's end, less the days the pipeline may still add to.
    assert second.start == first.end - timedelta(days=3) and second.rows_added == 1

    # Again: nothing doubles.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.consent_sync() == 0
    assert ConsentChange.objects.count() == len(lake) + 1
    ids = list(ConsentChange.objects.values_list("lake_change_id", flat=True))
    assert len(set(ids)) == len(ids) == len(read_table(lake_copy, "consent_changes"))


def test_portal_changes_from_before_the_lake_writer_are_pushed_then_linked(lake_copy):
    def old(identity_id: str, flag: str, at: datetime) -> ConsentChange:
        return ConsentChange.objects.create(
            identity_id=identity_id,
            flag=flag,
            value=True,
            source="privacy_team",
            actor="priv-alice",
            changed_at=at,
        )

    legacy = [
        old("idn_0000000a11ce", "marketing", datetime(2026, 1, 20, 9, 0, tzinfo=UTC)),
        old("idn_0000000a11ce", "analytics", datetime(2026, 1, 20, 9, 5, tzinfo=UTC)),
        old("idn_00000000b0b0", "marketing", datetime(2026, 1, 22, 14, 0, tzinfo=UTC)),
    ]
    erased = old(f"{TOMBSTONE_PREFIX}0123456789abcdef01234567", "marketing", legacy[0].changed_at)
    before = read_table(lake_copy, "consent_changes")

    assert tasks.consent_sync() == len(before)
    lake = read_table(lake_copy, "consent_changes").set_index("change_id")
    assert len(lake) == len(before) + len(legacy)
    for change in legacy:
        change.refresh_from_db()
        row = lake.loc[change.lake_change_id]
        assert (row.identity_id, row.flag, row.value, row.source) == (
            change.identity_id,
            change.flag,
            True,
            "privacy_team",
        )
        assert row.changed_ts == change.changed_at.replace(tzinfo=None)
        assert row.event_dt == change.changed_at.date()
    # An erased subject's change stays out of the lake; the pushed ones are not imported back.
    erased.refresh_from_db()
    assert erased.lake_change_id is None
    assert not lake["identity_id"].str.startswith(TOMBSTONE_PREFIX).any()
    assert ConsentChange.objects.count() == len(before) + len(legacy) + 1
    assert ConsentImport.objects.get().pushed == len(legacy)

    assert tasks.consent_sync() == 0
    assert ConsentImport.objects.first().pushed == 0
    assert len(read_table(lake_copy, "consent_changes")) == len(lake)


def test_one_sync_at_a_time(lake_copy):
    cache.set(tasks.CONSENT_SYNC_LOCK, 1, timeout=60)
    try:
        assert tasks.consent_sync() is None
        assert not ConsentImport.objects.exists()
    finally:
        cache.delete(tasks.CONSENT_SYNC_LOCK)
