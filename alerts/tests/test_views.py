"""/alerts/: a page at a time, open alerts first, sortable by every column, with the counts of
open and closed alerts over every page; as many queries for many alerts as for few."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


def make_alerts(count: int, *, source: str) -> list[Alert]:
    """Alerts opened a minute apart, every third one closed, alarms and warnings mixed."""
    now = timezone.now()
    alerts = Alert.objects.bulk_create(
        Alert(
            key=f"{source}:{i}",
            source=source,
            severity="alarm" if i % 4 == 0 else "warning",
            title=f"{source} alert {i:03d}",
            closed_at=now - timedelta(minutes=i) if i % 3 == 0 else None,
        )
        for i in range(count)
    )
    # opened_at is auto_now_add: set it afterwards, one minute apart.
    for i, alert in enumerate(alerts):
        alert.opened_at = now - timedelta(minutes=i)
    Alert.objects.bulk_update(alerts, ["opened_at"])
    return list(Alert.objects.filter(source=source))


def listed(html: str) -> list[str]:
    return re.findall(r"(\w+ alert \d{3})", html.split("<tbody>")[1].split("</tbody>")[0])


def test_open_alerts_first_a_page_at_a_time_with_counts(client, django_assert_num_queries):
    client.force_login(user_with_role("support"))  # pipeline alerts only
    alerts = make_alerts(120, source="pipeline")
    make_alerts(30, source="experiments")  # not for support: never listed nor counted
    with django_assert_num_queries(5):  # session, user, groups, counts, the page
        first = client.get("/alerts/")
    html = first.content.decode()
    expected = sorted(alerts, key=lambda a: (a.closed_at is None, a.opened_at, a.pk), reverse=True)
    assert listed(html) == [a.title for a in expected[:50]]
    assert "rows 1\N{EN DASH}50 of 120" in html
    closed = sum(1 for a in alerts if a.closed_at is not None)
    assert f"120 alerts, {120 - closed} open and {closed} closed" in html
    assert "experiments alert" not in html

    third = client.get("/alerts/?page=3").content.decode()
    assert listed(third) == [a.title for a in expected[100:]]
    assert "rows 101\N{EN DASH}120 of 120" in third


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [
        ("alert", lambda a: a.title, False),
        ("-opened", lambda a: a.opened_at, True),
        ("-severity", lambda a: a.severity == "alarm", True),
    ],
)
def test_every_page_follows_the_sort(client, django_assert_num_queries, sort, key, descending):
    client.force_login(user_with_role("admin"))
    alerts = make_alerts(80, source="pipeline")
    by_newest = sorted(alerts, key=lambda a: (a.opened_at, a.pk), reverse=True)
    expected = sorted(by_newest, key=key, reverse=descending)
    shown = []
    for page in (1, 2):
        with django_assert_num_queries(5):
            html = client.get(f"/alerts/?source=pipeline&sort={sort}&page={page}").content.decode()
        shown += listed(html)
    assert shown == [a.title for a in expected]


def test_a_page_past_the_end_is_not_no_alerts(client):
    client.force_login(user_with_role("admin"))
    make_alerts(3, source="pipeline")
    html = client.get("/alerts/?page=5").content.decode()
    assert "No alerts." not in html and "fewer rows than this page" in html
    assert "No alerts." in client.get("/alerts/?source=nothing").content.decode()
