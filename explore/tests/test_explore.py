"""The explore API and its exports: numbers by grain, breakdowns (top N plus Other), filters and
comparisons, checked against pandas over the lake's Parquet files (never against the SQL)."""

import csv
import io
from datetime import date, timedelta

import pandas as pd
import pytest
from openpyxl import load_workbook

from explore.tests.conftest import answer
from tests.support.users import client_for
from warehouse.models import QueryRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("funnel_settings")]

SLUG = "view_to_message_rate"  # messages / listing page views, by listing_kind
URL = "/api/explore/data"


@pytest.fixture
def analyst_client():
    return client_for("analyst")


def reference(
    funnel: pd.DataFrame,
    start: str,
    end: str,
    grain: str,
    *,
    split: bool = False,
    top: int | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """The rate from the definition: message events over listing page views, by UTC day."""
    f = funnel[funnel.event_dt.between(pd.Timestamp(start), pd.Timestamp(end))]
    f = f[f.step.isin(["profile_view", "message"])]
    if kind is not None:
        f = f[f.listing_kind == kind]
    days = f.event_dt
    period = {
        "day": days,
        "week": days - pd.to_timedelta(days.dt.weekday, unit="D"),
        "month": days.dt.to_period("M").dt.start_time,
        "quarter": days.dt.to_period("Q").dt.start_time,
    }[grain]
    series = f.listing_kind.fillna("unknown") if split else pd.Series("all", index=f.index)
    if top is not None:
        views = f[f.step == "profile_view"].assign(s=series).groupby("s").size()
        kept = views.sort_values(ascending=False).index[:top]
        series = series.where(series.isin(kept), "Other")
    out = pd.DataFrame(
        {
            "period": period.dt.date,
            "series": series,
            "numerator": (f.step == "message").astype(int),
            "denominator": (f.step == "profile_view").astype(int),
        }
    )
    out = out.groupby(["period", "series"], as_index=False).sum()
    out["value"] = out.numerator / out.denominator
    return out.sort_values(["series", "period"]).reset_index(drop=True)


def table(payload: dict) -> pd.DataFrame:
    frame = pd.DataFrame(payload["table"]["rows"], columns=payload["table"]["columns"])
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    return frame.sort_values(["series", "period"]).reset_index(drop=True)


def assert_matches(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    keys = ["period", "series"]
    assert got[keys].values.tolist() == expected[keys].values.tolist()
    for column in ("numerator", "denominator"):
        assert got[column].tolist() == expected[column].astype(float).tolist(), column
    pd.testing.assert_series_equal(got.value, expected.value, check_names=False, rtol=1e-12)


@pytest.mark.parametrize(
    ("grain", "start", "end"),
    [
        ("day", "2026-01-10", "2026-02-03"),
        ("week", "2026-01-07", "2026-03-10"),  # a Wednesday to a Tuesday: partial edge weeks
        ("month", "2025-11-15", "2026-03-31"),
        ("quarter", "2025-05-10", "2026-03-31"),  # quarters are sums of months, never means
    ],
)
def test_each_grain_matches_pandas(analyst_client, funnel, grain, start, end):
    query = {"metric": SLUG, "start": start, "end": end, "grain": grain, "compare": "none"}
    payload = answer(analyst_client, URL, query)
    assert payload["grain"] == grain and payload["compare_window"] is None
    assert_matches(table(payload), reference(funnel, start, end, grain))
    # The headline is sum / sum over the window.
    expected = reference(funnel, start, end, grain)
    total = expected.numerator.sum() / expected.denominator.sum()
    [whole] = payload["totals"]
    assert whole["name"] == "all" and whole["compare_value"] is None
    assert whole["value"] == pytest.approx(total)


def test_a_quarter_is_a_ratio_of_sums_not_a_mean_of_months(analyst_client, funnel):
    query = {"metric": SLUG, "start": "2025-01-01", "end": "2025-03-31", "grain": "quarter",
             "compare": "none"}  # fmt: skip
    quarter = answer(analyst_client, URL, query)["table"]["rows"]
    months = reference(funnel, "2025-01-01", "2025-03-31", "month")
    assert len(quarter) == 1
    assert quarter[0]["value"] == pytest.approx(months.numerator.sum() / months.denominator.sum())
    assert quarter[0]["value"] != pytest.approx(months.value.mean(), rel=1e-9)


def test_breakdown_keeps_the_top_values_and_sums_the_rest_into_other(analyst_client, funnel):
    start, end = "2026-01-05", "2026-02-15"
    query = {"metric": SLUG, "start": start, "end": end, "grain": "week", "compare": "none",
             "split_by": "listing_kind", "top": "3"}  # fmt: skip
    payload = answer(analyst_client, URL, query)
    expected = reference(funnel, start, end, "week", split=True, top=3)
    assert_matches(table(payload), expected)
    names = [s["name"] for s in payload["series"]]
    assert names == ["profile", "studio", "venue", "Other"]
    # Other's whole-window value is its own sum / sum, not a mean of its members' rates.
    other = expected[expected.series == "Other"]
    totals = {t["name"]: t["value"] for t in payload["totals"]}
    assert totals["Other"] == pytest.approx(other.numerator.sum() / other.denominator.sum())


def test_a_filter_from_the_data_keeps_only_its_rows(analyst_client, funnel):
    start, end = "2026-01-01", "2026-03-31"
    query = {"metric": SLUG, "start": start, "end": end, "grain": "month", "compare": "none",
             "listing_kind": "event"}  # fmt: skip
    payload = answer(analyst_client, URL, query)
    assert_matches(table(payload), reference(funnel, start, end, "month", kind="event"))
    assert payload["query"]["listing_kind"] == "event"


@pytest.mark.parametrize(
    ("compare", "grain", "start", "end", "before"),
    [
        ("previous", "day", "2026-02-01", "2026-02-10", ("2026-01-22", "2026-01-31")),
        ("wow", "day", "2026-02-01", "2026-02-10", ("2026-01-25", "2026-02-03")),
        # Days and weeks: 52 weeks back, Monday against Monday.
        ("yoy", "week", "2026-01-05", "2026-02-01", ("2025-01-06", "2025-02-02")),
        # Months: the same months of last year.
        ("yoy", "month", "2026-01-01", "2026-03-31", ("2025-01-01", "2025-03-31")),
    ],
)
def test_comparisons_match_pandas(analyst_client, funnel, compare, grain, start, end, before):
    query = {"metric": SLUG, "start": start, "end": end, "grain": grain, "compare": compare}
    payload = answer(analyst_client, URL, query)
    assert payload["compare_window"] == {"start": before[0], "end": before[1]}
    got = table(payload)
    now = reference(funnel, start, end, grain)
    then = reference(funnel, *before, grain)
    # The i-th period of the window against the i-th of the comparison window.
    assert got.compare_period.tolist() == [p.isoformat() for p in then.period]
    assert got.compare_value.tolist() == pytest.approx(then.value.tolist())
    assert got.change.tolist() == pytest.approx((now.value - then.value).tolist())
    assert got.change_relative.tolist() == pytest.approx((now.value / then.value - 1).tolist())
    whole_then = then.numerator.sum() / then.denominator.sum()
    assert payload["totals"][0]["compare_value"] == pytest.approx(whole_then)


def test_the_view_reuses_the_metric_runs_and_its_cache(analyst_client):
    query = {"metric": SLUG, "start": "2026-01-01", "end": "2026-01-31", "grain": "week"}
    first = answer(analyst_client, URL, query)
    runs = QueryRun.objects.count()
    again = analyst_client.get(URL, query)
    assert again.status_code == 200 and again.json()["run_ids"] == first["run_ids"]
    assert QueryRun.objects.count() == runs == 2  # the window and the previous period
    labels = set(QueryRun.objects.values_list("label", flat=True))
    assert labels == {f"metric:{SLUG}"}
    # The metric's own data API finds the same result cached.
    window = {"start": "2026-01-01", "end": "2026-01-31", "grain": "week"}
    data = analyst_client.get(f"/api/metrics/{SLUG}/data", window)
    assert data.status_code == 200 and data.json()["run_id"] == first["run_ids"][0]


def test_defaults_end_at_the_newest_data(analyst_client):
    payload = answer(analyst_client, URL, {"metric": SLUG})
    assert payload["window"] == {"start": "2026-03-04", "end": "2026-03-31"}
    assert payload["compare_window"] == {"start": "2026-02-04", "end": "2026-03-03"}
    assert payload["query"] == {
        "metric": SLUG, "start": "2026-03-04", "end": "2026-03-31", "grain": "day",
        "compare": "previous",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "metric"),
        ({"grain": "hour"}, "grain"),
        ({"compare": "lastmonth"}, "compare"),
        ({"top": "0"}, "top"),
        ({"top": "many"}, "top"),
        ({"start": "2026-13-01"}, "start"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "end"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
        ({"split_by": "city"}, "split_by"),
    ],
)
def test_invalid_state_is_400_naming_the_parameter(analyst_client, query, field):
    base = {} if field == "metric" else {"metric": SLUG}
    response = analyst_client.get(URL, {**base, **query})
    assert response.status_code == 400
    assert list(response.json()) == [field]
    page = analyst_client.get("/explore/", {"metric": SLUG, **query}) if base else None
    if page is not None:
        assert page.status_code == 400
        assert f'data-error-field="{field}"' in page.content.decode()


def test_exports_hold_the_table(analyst_client, funnel, settings):
    settings.QUERY_WAIT_SECONDS = 0
    start, end = "2026-01-05", "2026-02-15"
    query = {"metric": SLUG, "start": start, "end": end, "grain": "week", "compare": "wow",
             "split_by": "listing_kind", "top": "2"}  # fmt: skip
    payload = answer(analyst_client, URL, query)  # the runs, now cached
    columns = payload["table"]["columns"]
    assert columns == ["period", "series", "value", "numerator", "denominator", "compare_period",
                       "compare_value", "change", "change_relative"]  # fmt: skip

    response = analyst_client.get("/explore/export.csv", query)
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'{SLUG}_{start}_{end}_week.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == columns
    expected = reference(funnel, start, end, "week", split=True, top=2)
    got = pd.DataFrame(rows[1:], columns=columns)
    got = got.sort_values(["series", "period"]).reset_index(drop=True)
    assert got.series.tolist() == expected.series.tolist()
    assert got.numerator.astype(float).tolist() == expected.numerator.astype(float).tolist()
    assert got.value.astype(float).tolist() == pytest.approx(expected.value.tolist())

    response = analyst_client.get("/explore/export.xlsx", query)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["data"]
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert list(cells[0]) == columns
    assert len(cells) == len(rows)
    by_key = {(r[0].date().isoformat(), r[1]): r for r in cells[1:]}
    for row in rows[1:]:
        xlsx = by_key[(row[0], row[1])]
        assert xlsx[3] == float(row[3]) and xlsx[2] == pytest.approx(float(row[2]))
        assert isinstance(xlsx[2], int | float)  # numbers as numbers, not text
    about = dict(book["view"].iter_rows(values_only=True))
    assert about["split_by"] == "listing_kind" and about["compare"] == "wow"
    assert about["query_runs"] == ", ".join(str(r) for r in payload["run_ids"])


def test_an_export_not_ready_yet_says_so(analyst_client, settings):
    settings.QUERY_WAIT_SECONDS = 0
    query = {"metric": SLUG, "start": "2025-12-01", "end": "2025-12-31"}
    response = analyst_client.get("/explore/export.csv", query)
    assert response.status_code == 202
    assert "Preparing" in response.content.decode()


def test_window_periods_and_year_before():
    from explore.frames import window_periods
    from metrics.windows import comparison_window

    assert window_periods(date(2026, 1, 7), date(2026, 1, 20), "week") == [
        date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]  # fmt: skip
    assert window_periods(date(2025, 2, 10), date(2025, 7, 1), "quarter") == [
        date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1)]  # fmt: skip
    assert comparison_window(date(2024, 2, 1), date(2024, 2, 29), "yoy", "month") == (
        date(2023, 2, 1), date(2023, 2, 28))  # fmt: skip
    start = date(2026, 1, 7)
    assert comparison_window(start, start, "yoy", "day")[0] == start - timedelta(days=364)
