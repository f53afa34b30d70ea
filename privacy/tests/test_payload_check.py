"""The lake payload check: raw_events payload keys counted by canonical SQL through the
warehouse, PII-looking keys off the allowlist reported; checked against pandas."""

import io
import json
from collections import Counter
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from privacy import services
from privacy.pii import ALLOWED_PII_KEYS, looks_like_pii, pii_violations
from privacy.tests.conftest import read_table
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
