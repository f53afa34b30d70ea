"""The lake payload check: raw_events payload keys counted by canonical SQL through the
warehouse (DuckDB and PostgreSQL alike), PII-looking keys off the allowlist reported; checked
against pandas and json over the Parquet files."""

import io
import json
from collections import Counter
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from core.pii import ALLOWED_PII_KEYS, looks_like_pii, pii_violations
from privacy import services
from privacy.tests.conftest import read_table
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.registry import get_engine
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db


def expected_violations(root, start: date, end: date) -> dict[tuple[str, str], int]:
    raw = read_table(root, "raw_events")
    raw = raw[(raw["event_dt"] >= start) & (raw["event_dt"] <= end)]
    counts: Counter = Counter()
    for name, payload in zip(raw["event_name"], raw["payload"], strict=True):
        try:
            document = json.loads(payload)
        except (TypeError, ValueError):
            continue
        if isinstance(document, dict):
            for key in document:
                if looks_like_pii(key) and key not in ALLOWED_PII_KEYS:
                    counts[(name, key)] += 1
    return dict(counts)


def test_pii_violations_is_the_allowlist_check():
    assert pii_violations(["email", "identity_id", "path", "phone_number", "city"]) == [
        "email",
        "phone_number",
    ]


@pytest.mark.parametrize(
    "key",
    [
        "email", "emailAddress", "userEmail", "e-mail", "phone_number", "phoneNumber", "ipAddr",
        "IPAddress", "telephone", "birthday", "date_of_birth", "password", "device_id",
        "advertising_id", "imei", "remote_addr", "gender", "first_name", "lastName",
        "firstname", "name", "home.street", "contact_name", "customerName", "middle_name",
        "recipient_name", "billing_name", "nickname",
    ],
)  # fmt: skip
def test_keys_that_name_personal_data_look_like_pii_in_any_spelling(key):
    assert looks_like_pii(key)


@pytest.mark.parametrize(
    "key",
    [
        "event_name", "listing_name", "path", "referrer", "listing_id", "profile_id",
        "page", "image", "usage", "device_type", "amount_cents", "utm_source", "filters",
        "schema_version", "experiment_key", "hotel_id",
    ],
)  # fmt: skip
def test_ordinary_keys_do_not(key):
    assert not looks_like_pii(key)


def test_every_pii_reason_of_the_dead_letters_names_a_key_the_allowlist_flags(small_lake):
    """The demo lake's ingest dead-letters by the same rule the portal checks."""
    reasons = read_table(small_lake, "dead_letter_events")["reason"].unique()
    keys = [r.split(":", 1)[1] for r in reasons if r.startswith("pii_key_not_allowed:")]
    assert keys and pii_violations(keys) == sorted(keys)


def test_scan_reports_what_pandas_finds(lake_settings):
    start, end = date(2026, 1, 18), date(2026, 1, 31)
    scan = services.payload_scan_run(start=start, end=end)
    found = {(v["event_name"], v["key"]): v["events"] for v in scan.violations}
    assert found == expected_violations(lake_settings, start, end)
    assert found[("page_view", "email")] > 0  # the demo lake's client bug that leaks e-mails
    run = QueryRun.objects.get(pk=scan.run_id)
    assert run.status == "succeeded" and run.tables == ["raw_events"]


def test_command_prints_violations(lake_settings):
    out = io.StringIO()
    call_command("payload_check", "--start", "2026-01-30", "--end", "2026-01-31", stdout=out)
    lines = out.getvalue().splitlines()
    expected = expected_violations(lake_settings, date(2026, 1, 30), date(2026, 1, 31))
    assert lines[-1] == f"{len(expected)} PII-looking keys off the allowlist"
    with pytest.raises(CommandError, match="must not be after"):
        call_command("payload_check", "--start", "2026-01-31", "--end", "2026-01-01")


def key_counts_by_pandas(root, start: date, end: date) -> dict[tuple[str, str], int]:
    """Events per (event name, top-level payload key), every key, by json over the files."""
    raw = read_table(root, "raw_events")
    raw = raw[(raw["event_dt"] >= start) & (raw["event_dt"] <= end)]
    counts: Counter = Counter()
    for name, payload in zip(raw["event_name"], raw["payload"], strict=True):
        document = json.loads(payload) if payload is not None else None
        if isinstance(document, dict):
            counts.update((name, key) for key in document)
    return dict(counts)


@pytest.fixture
def pg_raw_events(small_lake, pg_database, settings):
    """raw_events of the demo lake in a PostgreSQL of the test's own, in the engine's schema."""
    load_lake(pg_database, small_lake, tables=["raw_events"], schema="lake")
    settings.LAKE_ROOT = small_lake
    settings.WAREHOUSE_POSTGRES_URL = pg_database
    return pg_database


def test_duckdb_and_postgres_find_the_same_keys_and_violations(small_lake, pg_raw_events, settings):
    start, end = date(2026, 1, 18), date(2026, 1, 31)
    params = {"start": start, "end": end}
    expected_keys = key_counts_by_pandas(small_lake, start, end)
    scans = {}
    for engine in ("duckdb", "postgres"):
        settings.WAREHOUSE = engine
        frame = get_engine(engine).run(services.PAYLOAD_KEYS_SQL, params).frame
        found = {(r.event_name, r.key): int(r.events) for r in frame.itertuples(index=False)}
        assert found == expected_keys, engine
        scan = services.payload_scan_run(start=start, end=end)
        assert QueryRun.objects.get(pk=scan.run_id).engine == engine
        scans[engine] = scan.violations
    assert scans["postgres"] == scans["duckdb"]
    by_key = {(v["event_name"], v["key"]): v["events"] for v in scans["postgres"]}
    assert by_key == expected_violations(small_lake, start, end) != {}
