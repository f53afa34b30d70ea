"""The metrics API: catalogue, data (202 then 200 from the cache), access rules, bad input.

Numbers are checked against pandas over the lake's Parquet files, never against the SQL.
"""

import pandas as pd
import pytest

from metrics import params
from metrics.tests.ui_support import WINDOW, fetch_data, lake_table, rows
from tests.support.users import client_for
from warehouse.models import QueryRun

# Pages over the shared small lake; `analyst` is the shared fixture (tests/support/users.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lake_settings")]

SUPPORT_METRICS = {
    "support_first_response_time",
    "support_time_to_resolution",
    "support_auto_resolved_share",
    "dmca_cycle_time",
    "sla_breach_count",
}


@pytest.fixture
def support(lake_settings, settings):
    return client_for("support")


def funnel_by_day(lake) -> pd.DataFrame:
    funnel = lake_table(lake, "fact_funnel_events")
    counts = funnel.groupby(["event_dt", "step"]).size().unstack(fill_value=0)
    return counts[["profile_view", "search"]]


# ------------------------------------------------------------------------------------ catalogue


def test_list_hides_metrics_whose_data_the_user_may_not_read(analyst, support):
    analyst_slugs = {m["slug"] for m in analyst.get("/api/metrics/").json()}
    support_slugs = {m["slug"] for m in support.get("/api/metrics/").json()}
    assert len(analyst_slugs) == 23
    assert not analyst_slugs & SUPPORT_METRICS
    assert support_slugs == analyst_slugs | SUPPORT_METRICS


def test_list_describes_each_metric(analyst):
    by_slug = {m["slug"]: m for m in analyst.get("/api/metrics/").json()}
    ctr = by_slug["search_to_view_ctr"]
    assert ctr["area"] == "marketplace_health" and ctr["unit"] == "ratio"
    assert ctr["format"] == "percent" and ctr["is_ratio"] is True
    assert ctr["tables"] == ["fact_funnel_events"]
    assert ctr["url"] == "/metrics/search_to_view_ctr/"
    assert ctr["data_url"] == "/api/metrics/search_to_view_ctr/data"


def test_list_searches(analyst):
    found = [m["slug"] for m in analyst.get("/api/metrics/", {"q": "repeat booking"}).json()]
    assert sorted(found) == [
        "repeat_booking_rate_30d",
        "repeat_booking_rate_7d",
        "repeat_booking_rate_90d",
    ]


def test_list_query_count(analyst, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # session, user, roles
        assert analyst.get("/api/metrics/").status_code == 200


def test_detail_has_sql_translations_lineage_and_history(analyst):
    body = analyst.get("/api/metrics/search_to_view_ctr").json()
    assert "FROM fact_funnel_events" in body["sql"]
    assert set(body["translations"]) == {"duckdb", "postgres", "redshift", "athena"}
    assert "%(start)s" in body["translations"]["postgres"]
    assert "$start" in body["translations"]["duckdb"] or ":start" in body["translations"]["duckdb"]
    assert set(body["lineage"]["fact_funnel_events"]) >= {"event_dt", "step"}
    assert body["history"][0]["version"] == body["version"]


def test_restricted_metric_is_404_for_its_detail_and_403_for_its_data(analyst, support):
    assert analyst.get("/api/metrics/sla_breach_count").status_code == 404
    data = analyst.get("/api/metrics/sla_breach_count/data", WINDOW)
    assert data.status_code == 403
    assert "sla" not in data.json()["detail"].lower()
    assert QueryRun.objects.count() == 0
    assert support.get("/api/metrics/sla_breach_count").status_code == 200


def test_unknown_metric_is_404(analyst):
    assert analyst.get("/api/metrics/no_such_metric").status_code == 404
    assert analyst.get("/api/metrics/no_such_metric/data", WINDOW).status_code == 404


def test_login_required(client, lake_settings):
    assert client.get("/api/metrics/").status_code == 403
    assert client.get("/api/metrics/search_to_view_ctr/data", WINDOW).status_code == 403


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-13-01", "end": "2026-01-31"}, "start"),
        ({"start": "2026-01-18"}, "end"),
        ({"start": "2026-01-31", "end": "2026-01-18"}, "end"),
        ({"start": "2024-01-01", "end": "2026-01-31"}, "end"),  # over the maximum window
        ({**WINDOW, "grain": "hour"}, "grain"),
        ({**WINDOW, "force_refresh": "maybe"}, "force_refresh"),
    ],
)
def test_bad_input_is_400_naming_the_field(analyst, query, field):
    response = analyst.get("/api/metrics/search_to_view_ctr/data", query)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert QueryRun.objects.count() == 0


def test_the_parameters_are_checked_once(analyst, monkeypatch):
    """The API parses and checks them (metrics.params.metric_params); the service takes the
    checked MetricParams as they are."""
    checks = []

    class Counted(params.MetricParams):
        def __init__(self, **values):
            checks.append(values)
            super().__init__(**values)

    monkeypatch.setattr(params, "MetricParams", Counted)
    assert analyst.get("/api/metrics/search_to_view_ctr/data", WINDOW).status_code == 202
    assert len(checks) == 1


def test_unknown_dimension_for_split_is_400(support):
    response = support.get("/api/metrics/sla_breach_count/data", {**WINDOW, "split_by": "category"})
    assert response.status_code == 400
    assert "split_by" in response.json()


# ------------------------------------------------------------------------------------------ data


def test_data_is_queued_then_served_from_the_cache(analyst):
    first = analyst.get("/api/metrics/search_to_view_ctr/data", WINDOW)
    assert first.status_code == 202
    queued = first.json()
    assert queued["status"] == "queued"
    assert queued["poll_url"] == f"/api/runs/{queued['run_id']}"
    run = QueryRun.objects.get(pk=queued["run_id"])
    assert run.label == "metric:search_to_view_ctr"

    body = fetch_data(analyst, "search_to_view_ctr", **WINDOW)
    assert body["run_id"] == queued["run_id"]
    assert body["data_as_of"] == "2026-01-31"
    assert body["cached_at"]
    assert body["params"] == {
        "start": "2026-01-18",
        "end": "2026-01-31",
        "grain": "day",
        "split_by": None,
        "filters": {},
    }
    assert QueryRun.objects.count() == 1


def test_daily_ratio_matches_pandas(analyst, lake_settings):
    expected = funnel_by_day(lake_settings)
    body = fetch_data(analyst, "search_to_view_ctr", **WINDOW)
    got = {r["period"][:10]: r for r in rows(body)}
    assert sorted(got) == sorted(expected.index)
    for day, counts in expected.iterrows():
        assert got[day]["numerator"] == counts["profile_view"]
        assert got[day]["denominator"] == counts["search"]
        assert got[day]["value"] == pytest.approx(counts["profile_view"] / counts["search"])
    summary = body["summary"]
    assert summary["method"] == "ratio_of_sums"
    assert summary["value"] == pytest.approx(
        expected["profile_view"].sum() / expected["search"].sum()
    )


def test_weekly_grain_reaggregates_as_ratio_of_sums(analyst, lake_settings):
    daily = funnel_by_day(lake_settings)
    days = pd.to_datetime(daily.index)
    weeks = (days - pd.to_timedelta(days.weekday, unit="D")).strftime("%Y-%m-%d")
    weekly = daily.groupby(weeks).sum()
    body = fetch_data(analyst, "search_to_view_ctr", **WINDOW, grain="week")
    got = {r["period"][:10]: r["value"] for r in rows(body)}
    assert got == pytest.approx((weekly["profile_view"] / weekly["search"]).to_dict())


def test_count_metric_matches_pandas_and_sums_over_the_window(analyst, lake_settings):
    seo = lake_table(lake_settings, "fact_seo_landings")
    inner = seo[(seo.query_class == "non_brand") & seo.event_dt.between("2026-01-20", "2026-01-26")]
    expected = inner.groupby("event_dt")["clicks"].sum()
    body = fetch_data(analyst, "seo_nonbrand_clicks", start="2026-01-20", end="2026-01-26")
    assert {r["period"][:10]: r["value"] for r in rows(body)} == expected.to_dict()
    assert body["summary"] == {
        "value": float(expected.sum()),
        "method": "sum",
        "label": "total over the window",
        "numerator": None,
        "denominator": None,
        "periods": 7,
    }


def test_support_metric_split_and_filtered_matches_pandas(support, lake_settings):
    tickets = lake_table(lake_settings, "support_tickets")
    answered = tickets[~tickets.auto_resolved & tickets.first_response_ts.notna()]
    answered = answered[answered.priority == "high"]
    minutes = (answered.first_response_ts - answered.created_ts).dt.total_seconds() / 60
    expected = minutes.groupby([answered.event_dt, answered.channel]).median()
    body = fetch_data(
        support,
        "support_first_response_time",
        **WINDOW,
        split_by="channel",
        priority="high",
    )
    got = {(r["period"][:10], r["dimension_value"]): r["value"] for r in rows(body)}
    assert got == pytest.approx(expected.to_dict())
    assert body["params"]["filters"] == {"priority": "high"}
    assert body["summary"]["value"] is None  # a median cannot be re-aggregated across splits


def test_force_refresh_runs_again(analyst, settings):
    settings.QUERY_FORCE_REFRESH_MIN_AGE_SECONDS = 0  # any cached result is old enough
    first = fetch_data(analyst, "search_to_view_ctr", **WINDOW)
    again = fetch_data(analyst, "search_to_view_ctr", **WINDOW, force_refresh="true")
    assert again["run_id"] != first["run_id"]
    assert again["result"] == first["result"]
    assert QueryRun.objects.filter(force_refresh=True).count() == 1


def test_results_are_cached_per_scope(analyst, support):
    """The same request by a user of another scope never gets the first user's cached run."""
    mine = fetch_data(analyst, "search_to_view_ctr", **WINDOW)
    theirs = support.get("/api/metrics/search_to_view_ctr/data", WINDOW)
    assert theirs.status_code == 202
    assert theirs.json()["run_id"] != mine["run_id"]


def test_a_failed_run_is_reported_when_polled(analyst, lake_settings, tmp_path, settings):
    settings.LAKE_ROOT = tmp_path  # an empty lake: the table does not exist
    run_id = analyst.get("/api/metrics/search_to_view_ctr/data", WINDOW).json()["run_id"]
    from warehouse.services import query_run_execute

    query_run_execute(run_id=run_id)
    polled = analyst.get(f"/api/runs/{run_id}").json()
    assert polled["status"] == "failed" and polled["error"]
