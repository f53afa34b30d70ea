"""Value pickers: the values of a metric's dimension in a window with their row counts (checked
against pandas), cached as a recorded run, and hidden exactly like the metric's data."""

import re

import pandas as pd
import pytest

from explore.tests.conftest import answer
from explore.values import ValuesQueryError, values_sql
from metrics.catalogue import load_catalogue
from metrics.tests.ui_support import lake_table
from tests.support.users import client_for
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("funnel_settings")
def test_values_and_counts_match_pandas_and_are_cached(funnel):
    client = client_for("analyst")
    url = "/api/metrics/view_to_message_rate/values/listing_kind"
    window = {"start": "2026-01-10", "end": "2026-02-20"}
    payload = answer(client, url, window)
    f = funnel[funnel.event_dt.between(pd.Timestamp(window["start"]), pd.Timestamp(window["end"]))]
    # The rows the metric reads: its two funnel steps; rows without a kind cannot be filtered.
    f = f[f.step.isin(["profile_view", "message"])].dropna(subset=["listing_kind"])
    expected = f.groupby("listing_kind").size().sort_values(ascending=False)
    assert [(v["value"], v["items"]) for v in payload["values"]] == list(expected.items())
    run = QueryRun.objects.get(pk=payload["run_id"])
    assert run.label == "values:view_to_message_rate:listing_kind"
    # Warm: the same answer from the cache, no new run.
    again = client.get(url, window)
    assert again.status_code == 200 and again.json()["run_id"] == run.pk
    assert QueryRun.objects.count() == 1
    # Every value offered selects rows: filtering by the first gives data.
    top = payload["values"][0]["value"]
    data = answer(
        client,
        "/api/explore/data",
        {"metric": "view_to_message_rate", **window, "listing_kind": top, "compare": "none"},
    )
    assert sum(r["denominator"] for r in data["table"]["rows"]) == len(
        f[(f.listing_kind == top) & (f.step == "profile_view")]
    )


@pytest.mark.usefixtures("lake_settings")
def test_restricted_metric_values_count_tickets_for_support(small_lake):
    client = client_for("support")
    window = {"start": "2026-01-18", "end": "2026-01-31"}
    payload = answer(client, "/api/metrics/sla_breach_count/values/priority", window)
    tickets = lake_table(small_lake, "support_tickets")
    tickets = tickets[tickets.event_dt.between(window["start"], window["end"])]
    expected = tickets.dropna(subset=["priority"]).groupby("priority").size()
    got = {v["value"]: v["items"] for v in payload["values"]}
    assert got == expected.to_dict() and len(got) >= 3


@pytest.mark.usefixtures("lake_settings")
def test_a_restricted_metric_is_404_like_an_unknown_one():
    analyst = client_for("analyst")
    window = {"start": "2026-01-18", "end": "2026-01-31"}
    for slug in ("sla_breach_count", "no_such_metric"):
        values = analyst.get(f"/api/metrics/{slug}/values/priority", window)
        assert values.status_code == 404
        assert values.json() == {"detail": f"No metric {slug!r}."}
        page = analyst.get("/explore/", {"metric": slug})
        assert page.status_code == 404
        data = analyst.get("/api/explore/data", {"metric": slug})
        assert data.status_code == 404 and data.json() == {"detail": f"No metric {slug!r}."}
        export = analyst.get("/explore/export.csv", {"metric": slug})
        assert export.status_code == 404
    hidden = analyst.get("/explore/", {"metric": "sla_breach_count"}).content.decode()
    unknown = analyst.get("/explore/", {"metric": "no_such_metric"}).content.decode()
    assert _without_csrf(hidden) == _without_csrf(unknown)
    assert b"sla_breach_count" not in analyst.get("/explore/").content
    assert QueryRun.objects.count() == 0


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


@pytest.mark.usefixtures("lake_settings")
@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("view_to_message_rate/values/city", {"start": "2026-01-18", "end": "2026-01-31"},
         "dimension"),
        ("view_to_message_rate/values/listing_kind", {"end": "2026-01-31"}, "start"),
        ("view_to_message_rate/values/listing_kind", {"start": "2026-01-18", "end": "x"}, "end"),
        ("view_to_message_rate/values/listing_kind", {"start": "2026-01-18", "end": "2026-01-01"},
         "end"),
    ],
)  # fmt: skip
def test_bad_picker_requests_are_400_naming_the_field(path, query, field):
    response = client_for("analyst").get(f"/api/metrics/{path}", query)
    assert response.status_code == 400 and list(response.json()) == [field]


def test_every_dimension_of_every_metric_has_a_values_query():
    catalogue = load_catalogue()
    for metric in catalogue.metrics.values():
        for dimension in metric.dimensions:
            sql = values_sql(metric.sql, dimension)
            assert ":split_by" not in sql and ":grain" not in sql, metric.slug
    with pytest.raises(ValuesQueryError):
        values_sql(catalogue.get("search_to_view_ctr").sql, "listing_kind")
