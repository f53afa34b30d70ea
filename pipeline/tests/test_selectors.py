"""Reads other pages rely on: table freshness, triage groups, schema histories."""

from datetime import timedelta

import pytest

from pipeline import selectors
from pipeline.models import DeadLetterCount, SchemaVersionSeen
from pipeline.tests import factories
from pipeline.tests.factories import AS_OF
from portal.roles import Access
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


def test_table_freshness_of_the_tables_asked_for(django_assert_num_queries):
    assert selectors.table_freshness(["raw_events"]) == {}  # not checked yet
    factories.health()
    with django_assert_num_queries(1):
        found = selectors.table_freshness(["raw_events", "events", "no_such_table"])
    assert set(found) == {"raw_events", "events"}
    fresh = found["raw_events"]
    assert fresh.table_name == "raw_events" and fresh.age_display == "30.0 min"
    assert fresh.budget_display == "30.0 h" and fresh.status == "ok"


def test_freshness_visible_follows_the_scope():
    factories.health()
    general = {f.table_name for f in selectors.freshness_visible(frozenset({Access.GENERAL}))}
    everything = {f.table_name for f in selectors.freshness_visible(frozenset(Access))}
    assert "fin_refunds" not in general and "consent_changes" not in general
    assert {"fin_refunds", "consent_changes", "raw_events"} <= everything


def test_triage_groups_count_the_window_and_what_came_after_triage():
    analyst = user_with_role("analyst")
    triaged_at = AS_OF - timedelta(hours=3)
    group = factories.reason("malformed_json", triaged_at=triaged_at, triaged_by=analyst)
    for hours_ago, events in ((50, 7), (2, 4), (1, 5)):  # 5 h ago: 3 more (the factory's)
        hour = (AS_OF - timedelta(hours=hours_ago)).replace(minute=0)
        DeadLetterCount.objects.create(
            hour=hour, reason=group.reason, event_name="page_view", events=events,
            first_seen=hour, last_seen=hour,
        )  # fmt: skip
    DeadLetterCount.objects.create(
        hour=AS_OF - timedelta(hours=2), reason=group.reason, event_name="favorite_add",
        events=1, first_seen=AS_OF, last_seen=AS_OF,
    )  # fmt: skip
    (row,) = selectors.dead_letter_groups(since=AS_OF - timedelta(hours=24))
    assert row.events == 3 + 4 + 5 + 1  # not the 7 from 50 hours ago
    assert row.by_event == [("page_view", 12), ("favorite_add", 1)]
    assert row.since_triage == 4 + 5 + 1  # hours that began after the triage


def test_schema_history_counts_bronze_events_under_the_newest_minor(settings, tmp_path):
    import json
    import shutil

    registry = tmp_path / "schemas"
    shutil.copytree(settings.PIPELINE_SCHEMA_DIR, registry)
    settings.PIPELINE_SCHEMA_DIR = registry
    document = json.loads((registry / "search" / "v3.0.json").read_text())
    document.update({"x-version": "3.1", "x-released": "2026-10-01"})
    document["properties"]["sort"] = {"type": "string"}
    (registry / "search" / "v3.1.json").write_text(json.dumps(document))
    SchemaVersionSeen.objects.create(
        day="2026-01-31", event_name="search", schema_version=3, events=9
    )
    history = selectors.schema_history("search")
    assert [(str(v.schema.version), v.newest_minor, v.events) for v in history] == [
        ("v3.1", True, 9),
        ("v3.0", False, 0),
        ("v2.0", True, 0),
    ]
    assert history[0].changes.added == ("sort",) and history[-1].changes is None
    assert selectors.schema_history("nope") is None
    rates = {
        r.event: (r.changes_30d, r.changes_90d)
        for r in selectors.schema_change_rates(AS_OF.date().replace(year=2026, month=10, day=20))
    }
    assert rates["search"] == (1, 2) and rates["app.start"] == (0, 0)
