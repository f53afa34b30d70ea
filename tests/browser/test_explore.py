"""An analyst explores a metric in a real browser: picks it, breaks it down, filters it with a
value from the picker, sees the chart and the table, and reloads the link to the same view."""

import pandas as pd
import pytest

from metrics.tests.ui_support import lake_table
from tests.browser.conftest import log_in
from tests.support.users import user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.worker]

VIEW = "#explore"


def wait_done(page) -> None:
    page.wait_for_function(
        "() => ['done', 'failed'].includes(document.querySelector('#explore').dataset.state)"
    )
    assert page.locator(VIEW).get_attribute("data-state") == "done"


def table_text(page) -> list[str]:
    return page.locator(f"{VIEW} table tbody tr").all_inner_texts()


def test_pick_break_down_filter_and_reload(portal, pages, lake_settings):
    user_with_role("analyst", "ana")
    page = pages.open()
    log_in(page, portal, "ana", "/explore/")

    page.select_option("[data-metric-select]", "view_to_message_rate")
    page.wait_for_url("**/explore/?metric=view_to_message_rate*")
    wait_done(page)

    page.select_option("select[name=split_by]", "listing_kind")
    page.click("#explore-controls button[type=submit]")
    page.wait_for_url("**split_by=listing_kind*")
    wait_done(page)
    assert page.locator(f"{VIEW} .plot .main-svg").count() >= 1
    picker = "select[data-picker=listing_kind]"
    page.wait_for_selector(f"{picker}[data-loaded=true]", state="attached")
    options = page.locator(f"{picker} option").all_inner_texts()

    funnel = lake_table(lake_settings, "fact_funnel_events")
    window = funnel[funnel.event_dt.between("2026-01-04", "2026-01-31")]
    rows = window[window.step.isin(["profile_view", "message"])]
    counts = rows.groupby("listing_kind").size().sort_values(ascending=False)
    assert options == ["All", *(f"{k} ({n:,})" for k, n in counts.items())]

    page.select_option(picker, "studio")  # the picker applies itself
    page.wait_for_url("**listing_kind=studio*")
    wait_done(page)
    assert page.locator(f"{VIEW} .plot .main-svg").count() >= 1
    studio = rows[rows.listing_kind == "studio"]
    expected = (studio.step == "message").sum() / (studio.step == "profile_view").sum()
    total = page.locator(f"{VIEW} .total[data-series=studio]")
    assert float(total.get_attribute("data-raw")) == pytest.approx(expected)
    shown = table_text(page)
    days = pd.to_datetime(studio.event_dt).dt.date.nunique()
    assert len(shown) == days and all("\tstudio\t" in row for row in shown)

    url = page.url
    page.reload()
    wait_done(page)
    assert page.url == url
    assert table_text(page) == shown
    assert page.locator("select[name=split_by]").input_value() == "listing_kind"
    page.wait_for_selector(f"{picker}[data-loaded=true]", state="attached")
    assert page.locator(picker).input_value() == "studio"
