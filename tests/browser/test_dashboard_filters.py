"""Dashboard-wide filters in a real browser: an analyst picks a listing kind from the picker
(its options are the window's values, with their rows), applies it to every tile that has the
dimension, sees the one tile without it say so, then compares with the same period last week."""

import pytest

from metrics.tests.ui_support import lake_table
from tests.browser.conftest import log_in, wait_for_tiles
from tests.support.users import user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.worker]

DASHBOARD = "/dashboards/marketplace-health/"
PICKER = "select[data-picker=listing_kind]"
VIEW = "[data-metric=view_to_message_rate]"
CTR = "[data-metric=search_to_view_ctr]"
WINDOW = ("2026-01-25", "2026-01-31")
LAST_WEEK = ("2026-01-18", "2026-01-24")


def view_steps(lake, start: str, end: str):
    """The rows view_to_message_rate counts: profile views and messages in the window."""
    funnel = lake_table(lake, "fact_funnel_events")
    funnel = funnel[funnel.event_dt.between(start, end)]
    return funnel[funnel.step.isin(["profile_view", "message"])]


def view_to_message(lake, start: str, end: str, kind: str) -> float:
    rows = view_steps(lake, start, end)
    rows = rows[rows.listing_kind == kind]
    return (rows.step == "message").sum() / (rows.step == "profile_view").sum()


def raw(page, selector: str) -> float:
    return float(page.locator(selector).get_attribute("data-raw"))


def test_pick_a_filter_apply_it_and_compare_with_last_week(portal, pages, lake_settings):
    user_with_role("analyst", "ana")
    page = pages.open()
    start, end = WINDOW
    log_in(page, portal, "ana", f"{DASHBOARD}?start={start}&end={end}&compare=none")
    wait_for_tiles(page)
    ctr_before = raw(page, f"{CTR} [data-field=value]")

    # The picker offers the window's listing kinds, most rows first, counted as pandas counts.
    assert page.locator(PICKER).get_attribute("data-loaded") == "true"
    counts = view_steps(lake_settings, *WINDOW).groupby("listing_kind").size()
    counts = counts.sort_values(ascending=False)
    assert len(counts) >= 2
    options = page.locator(f"{PICKER} option").all_inner_texts()
    assert options == ["All", *(f"{kind} ({n:,})" for kind, n in counts.items())]
    assert page.locator("label[data-filter=listing_kind] [data-applies]").inner_text() == (
        "on 12 of 13 tiles"
    )
    assert page.locator("[data-filter-note]").count() == 0

    kind = "studio"
    page.select_option(PICKER, kind)
    page.click("form.controls button[type=submit]")
    page.wait_for_url(f"**listing_kind={kind}*")
    wait_for_tiles(page)
    assert page.locator("[data-tile][data-state=done]").count() == 13
    expected = view_to_message(lake_settings, *WINDOW, kind)
    assert raw(page, f"{VIEW} [data-field=value]") == pytest.approx(expected)
    assert page.locator(f"{VIEW} [data-field=value]").inner_text() == (
        f"{expected * 100:.1f}%" if expected >= 0.1 else f"{expected * 100:.2f}%"
    )
    # The tile without the dimension says so, and its numbers are unfiltered.
    note = page.locator(f"{CTR} [data-filter-note]")
    assert note.is_visible()
    assert note.inner_text() == "Not filtered by listing_kind: this metric has no such dimension."
    assert page.locator("[data-filter-note]").count() == 1
    assert raw(page, f"{CTR} [data-field=value]") == ctr_before
    assert page.locator(PICKER).input_value() == kind

    page.select_option("select[name=compare]", "wow")
    page.click("form.controls button[type=submit]")
    page.wait_for_url("**compare=wow*")
    wait_for_tiles(page)
    assert page.url.count(f"listing_kind={kind}") == 1  # the filter stays in the URL
    before = view_to_message(lake_settings, *LAST_WEEK, kind)
    previous = page.locator(f"{VIEW} [data-field=previous]")
    assert float(previous.get_attribute("data-raw")) == pytest.approx(before)
    assert previous.inner_text().endswith(" in the same period last week")
    assert raw(page, f"{VIEW} [data-field=value]") == pytest.approx(expected)
    # The comparison is drawn under the days it is compared with: shifted by a week.
    traces = page.evaluate(
        f"""() => document.querySelector('{VIEW} .plot').data
              .filter(t => t.name !== 'annotations')
              .map(t => ({{name: t.name, x: t.x, days: t.customdata || null}}))"""
    )
    assert [t["name"] for t in traces] == ["This period", "Same period last week"]
    this_week, last_week = traces
    assert last_week["x"] == this_week["x"] == [f"2026-01-{d}" for d in range(25, 32)]
    assert last_week["days"] == [f"2026-01-{d}" for d in range(18, 25)]
