"""Dashboard-wide filters and comparisons: one picker per dimension of the tiles, applied to the
tiles whose metric has it (the others say so), compared with the previous period, last week or
last year; the filtered numbers checked against pandas over the lake's Parquet files."""

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from metrics.tests.test_views_dashboards import tiles
from metrics.tests.ui_support import fetch_data, lake_table, rows
from portal.local_cache import local_cache
from tests.support.users import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lake_settings")]

MARKET = "/dashboards/marketplace-health/"
SUPPORT = "/dashboards/support/"
FILTERED = ("priority", "category")


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def pickers(page: str) -> dict[str, dict[str, str]]:
    """Each filter control: its select's attributes, selected value and what it applies to."""
    found = {}
    for label in re.findall(r'<label class="filter".*?</label>', page, re.S):
        select = re.search(r"<select[^>]*>", label).group(0)
        attrs = {k: unescape(v) for k, v in re.findall(r'([a-z-]+)="([^"]*)"', select)}
        chosen = re.search(r'<option value="([^"]*)" selected>', label)
        attrs["selected"] = unescape(chosen[1]) if chosen else ""
        applies = re.search(r"data-applies>([^<]*)<", label)
        attrs["applies"] = applies[1] if applies else ""
        title = re.search(r'<label[^>]*title="([^"]*)"', label)
        attrs["title"] = unescape(title[1]) if title else ""
        found[attrs["name"]] = attrs
    return found


def notes(page: str) -> dict[str, str]:
    """The "not filtered" note of each tile that has one, by metric slug."""
    found = {}
    for section in re.findall(r"<section class=\"tile[^>]*data-tile.*?</section>", page, re.S):
        slug = re.search(r'data-metric="([^"]+)"', section)[1]
        if note := re.search(r"<p class=\"filter-note\" data-filter-note>([^<]*)</p>", section):
            found[slug] = unescape(note[1])
    return found


# ------------------------------------------------------------------------ pickers and tiles


def test_one_picker_per_dimension_of_the_tiles_saying_how_many_it_applies_to(analyst):
    found = pickers(analyst.get(MARKET).content.decode())
    assert list(found) == ["listing_kind"]
    kind = found["listing_kind"]
    # search_to_view_ctr has no dimension: 12 of the 13 tiles.
    assert kind["applies"] == "on 12 of 13 tiles" and kind["selected"] == ""
    # The values of the window from the first tile with the dimension (the values API).
    assert kind["data-values-url"] == (
        "/api/metrics/view_to_message_rate/values/listing_kind?start=2026-01-04&end=2026-01-31"
    )
    assert kind["title"] == "Values and row counts of View → message rate in the window"

    support = pickers(client_for("support").get(SUPPORT).content.decode())
    assert {name: p["applies"] for name, p in support.items()} == {
        "channel": "on 4 of 5 tiles",
        "priority": "on 3 of 5 tiles",
        "category": "on 3 of 5 tiles",
        "action": "on 1 of 5 tiles",
    }


def test_a_filter_goes_into_each_tile_with_the_dimension_and_the_others_say_so(analyst):
    query = {"start": "2026-01-25", "end": "2026-01-31", "listing_kind": "studio"}
    page = analyst.get(MARKET, query).content.decode()
    found = tiles(page)
    assert len(found) == 13
    for slug, attrs in found.items():
        carried = {query_of(attrs[a]).get("listing_kind") for a in ("data-url", "data-compare-url")}
        assert carried == ({None} if slug == "search_to_view_ctr" else {"studio"}), slug
    assert notes(page) == {
        "search_to_view_ctr": "Not filtered by listing_kind: this metric has no such dimension."
    }
    view = found["view_to_message_rate"]
    assert query_of(view["data-url"]) == {
        "start": "2026-01-25",
        "end": "2026-01-31",
        "grain": "day",
        "listing_kind": "studio",
    }
    csv = "/metrics/view_to_message_rate/data.csv?start=2026-01-25&end=2026-01-31&grain=day"
    assert f'href="{csv}&listing_kind=studio"' in unescape(page)
    assert pickers(page)["listing_kind"]["selected"] == "studio"


def test_each_tile_takes_the_filters_it_has_and_names_those_it_lacks(lake_settings):
    page = client_for("support").get(SUPPORT, {"priority": "high", "category": "account"})
    page = page.content.decode()
    found = tiles(page)
    filtered = {
        slug: {k: v for k, v in query_of(attrs["data-url"]).items() if k in FILTERED}
        for slug, attrs in found.items()
    }
    assert filtered == {
        "support_first_response_time": {"priority": "high", "category": "account"},
        "support_time_to_resolution": {"priority": "high", "category": "account"},
        "support_auto_resolved_share": {"category": "account"},
        "dmca_cycle_time": {},
        "sla_breach_count": {"priority": "high"},
    }
    assert notes(page) == {
        "support_auto_resolved_share": "Not filtered by priority: this metric has no such "
        "dimension.",
        "dmca_cycle_time": "Not filtered by priority or category: this metric has none of these "
        "dimensions.",
        "sla_breach_count": "Not filtered by category: this metric has no such dimension.",
    }


def test_an_unknown_dimension_is_ignored_and_an_unknown_value_is_no_crash(analyst):
    plain = tiles(analyst.get(MARKET).content.decode())
    ignored = analyst.get(MARKET, {"channel": "email", "split_by": "x"})
    assert ignored.status_code == 200 and tiles(ignored.content.decode()) == plain
    assert "channel" not in pickers(ignored.content.decode())

    response = analyst.get(MARKET, {"start": "2026-01-25", "listing_kind": "no-such-kind"})
    assert response.status_code == 200
    view = tiles(response.content.decode())["view_to_message_rate"]
    assert query_of(view["data-url"])["listing_kind"] == "no-such-kind"
    # The tile then finds no rows and says "No data in this window." (dashboard.js).
    body = fetch_data(analyst, "view_to_message_rate", **query_of(view["data-url"]))
    assert rows(body) == [] and body["summary"]["value"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"listing_kind": "*"}, "listing_kind"),
        ({"listing_kind": "x" * 201}, "listing_kind"),
        ({"compare": "mom"}, "compare"),
        ({"compare": "wow", "listing_kind": "studio", "end": "nope"}, "end"),
    ],
)
def test_bad_filters_and_comparisons_are_400_naming_the_field(analyst, query, field):
    response = analyst.get(MARKET, query)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"<strong>{field}</strong>" in page
    assert not tiles(page)
    # The controls keep what was asked; a picker without a valid window has no values to offer.
    assert "data-values-url" not in pickers(page)["listing_kind"]


# ------------------------------------------------------------------------------ comparisons


@pytest.mark.parametrize(
    ("compare", "grain", "window", "shift", "label"),
    [
        ("previous", "day", ("2026-01-18", "2026-01-24"), ("7", "0"), "Previous period"),
        ("wow", "day", ("2026-01-18", "2026-01-24"), ("7", "0"), "Same period last week"),
        ("yoy", "day", ("2025-01-26", "2025-02-01"), ("364", "0"), "Same period last year"),
        ("yoy", "week", ("2025-01-26", "2025-02-01"), ("364", "0"), "Same period last year"),
        ("yoy", "month", ("2025-01-25", "2025-01-31"), ("0", "12"), "Same period last year"),
    ],
)
def test_each_tile_is_compared_with_the_window_named_and_aligned_to_it(
    analyst, compare, grain, window, shift, label
):
    query = {"start": "2026-01-25", "end": "2026-01-31", "grain": grain, "compare": compare}
    page = analyst.get(MARKET, query).content.decode()
    ctr = tiles(page)["search_to_view_ctr"]
    compared = query_of(ctr["data-compare-url"])
    assert (compared["start"], compared["end"], compared["grain"]) == (*window, grain)
    assert (ctr["data-shift-days"], ctr["data-shift-months"]) == shift
    assert ctr["data-compare-label"] == label
    assert re.search(rf'<option value="{compare}" selected>{label}</option>', page)


def test_no_comparison_asks_for_no_second_window(analyst):
    found = tiles(analyst.get(MARKET, {"compare": "none"}).content.decode())
    assert not any("data-compare-url" in attrs for attrs in found.values())


def test_a_censored_tile_is_compared_with_the_window_before_its_shifted_one(analyst):
    page = analyst.get(MARKET, {"compare": "wow"}).content.decode()
    repeat = tiles(page)["repeat_booking_rate_30d"]
    # Shown: 2025-12-05..2026-01-01, the latest matured cohorts; compared: a week before those.
    assert (query_of(repeat["data-url"])["start"], repeat["data-end"]) == (
        "2025-12-05",
        "2026-01-01",
    )
    compared = query_of(repeat["data-compare-url"])
    assert (compared["start"], compared["end"]) == ("2025-11-28", "2025-12-25")


def test_the_metric_page_compares_and_filters_with_the_same_controls(lake_settings):
    support = client_for("support")
    query = {"start": "2026-01-25", "end": "2026-01-31", "compare": "yoy", "channel": "email"}
    page = support.get("/metrics/support_first_response_time/", query).content.decode()
    chart = tiles(page)["support_first_response_time"]
    assert query_of(chart["data-compare-url"]) == {
        "start": "2025-01-26",
        "end": "2025-02-01",
        "grain": "day",
        "channel": "email",
    }
    found = pickers(page)
    assert list(found) == ["channel", "priority", "category"]
    assert found["channel"]["selected"] == "email"
    assert found["channel"]["applies"] == found["channel"]["title"] == ""  # one metric: its own
    assert found["priority"]["data-values-url"] == (
        "/api/metrics/support_first_response_time/values/priority?start=2026-01-25&end=2026-01-31"
    )
    response = support.get("/metrics/support_first_response_time/", {"compare": "qoq"})
    assert response.status_code == 400
    assert "<strong>compare</strong>" in response.content.decode()


# ------------------------------------------------------------------- caching and query count


def test_tiles_are_rendered_once_per_comparison_and_filters(analyst):
    fragments = local_cache()
    views = [
        {},
        {"compare": "wow"},
        {"listing_kind": "studio"},
        {"listing_kind": "profile"},
        {"listing_kind": "studio", "compare": "yoy"},
    ]
    for query in views:
        analyst.get(MARKET, query)
    assert len(fragments._cache) == len(views)
    # The same filters (an empty one is no filter) find the same rendering.
    analyst.get(MARKET, {"listing_kind": "studio", "compare": "previous", "channel": "x"})
    analyst.get(MARKET, {"listing_kind": ""})
    assert len(fragments._cache) == len(views)


def test_query_count_with_filters_and_comparison(analyst, django_assert_max_num_queries):
    query = {"listing_kind": "studio", "compare": "yoy"}
    with django_assert_max_num_queries(3):
        assert analyst.get(MARKET, query).status_code == 200


# -------------------------------------------------------------------- numbers against pandas


def funnel_rate(lake, start: str, end: str, kind: str) -> tuple[dict[str, float], float]:
    """View -> message rate of ``kind`` per day and over the window, from the Parquet files."""
    funnel = lake_table(lake, "fact_funnel_events")
    funnel = funnel[funnel.event_dt.between(start, end) & (funnel.listing_kind == kind)]
    steps = funnel.groupby(["event_dt", "step"]).size().unstack(fill_value=0)
    daily = (steps["message"] / steps["profile_view"]).to_dict()
    return daily, steps["message"].sum() / steps["profile_view"].sum()


def test_a_filtered_tile_and_its_comparison_match_pandas(analyst, lake_settings):
    query = {"start": "2026-01-25", "end": "2026-01-31", "compare": "wow", "listing_kind": "studio"}
    view = tiles(analyst.get(MARKET, query).content.decode())["view_to_message_rate"]
    for url, (start, end) in [
        (view["data-url"], ("2026-01-25", "2026-01-31")),
        (view["data-compare-url"], ("2026-01-18", "2026-01-24")),
    ]:
        body = fetch_data(analyst, "view_to_message_rate", **query_of(url))
        daily, whole = funnel_rate(lake_settings, start, end, "studio")
        assert {r["period"][:10]: r["value"] for r in rows(body)} == pytest.approx(daily)
        assert len(daily) == 7
        assert body["summary"]["value"] == pytest.approx(whole)
    every_kind = query_of(view["data-url"]) | {"listing_kind": ""}
    unfiltered = fetch_data(analyst, "view_to_message_rate", **every_kind)
    assert unfiltered["summary"]["value"] != pytest.approx(whole)


def sla_breaches(lake, start: str, end: str, **filters: str) -> int:
    """sla_breach_count by its header: answered late, or unanswered past the data's clock."""
    tickets = lake_table(lake, "support_tickets")
    as_of = tickets[tickets.event_dt >= start].created_ts.max()
    window = tickets[tickets.event_dt.between(start, end)]
    for column, value in filters.items():
        window = window[window[column] == value]
    late = window.first_response_ts > window.sla_due_ts
    unanswered = window.first_response_ts.isna() & (window.sla_due_ts < as_of)
    return int((late | unanswered).sum())


def test_a_filtered_count_tile_matches_pandas(lake_settings):
    support = client_for("support")
    query = {"start": "2026-01-18", "end": "2026-01-31", "channel": "email", "priority": "high"}
    tile = tiles(support.get(SUPPORT, query).content.decode())["sla_breach_count"]
    body = fetch_data(support, "sla_breach_count", **query_of(tile["data-url"]))
    window = ("2026-01-18", "2026-01-31")
    expected = sla_breaches(lake_settings, *window, channel="email", priority="high")
    assert body["summary"]["value"] == expected
    assert expected != sla_breaches(lake_settings, *window)
