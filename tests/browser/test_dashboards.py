"""An analyst's dashboard in a real browser: tiles load on their own through the API and a real
worker, follow the date range, export CSV, refresh, recover from a failure, and fit a phone."""

import csv
import re

import pytest
from django.conf import settings as django_settings

from metrics.tests.ui_support import lake_table
from tests.browser.conftest import PHONE, log_in, wait_for_tiles
from tests.support.users import user_with_role
from warehouse.models import QueryRun

pytestmark = [pytest.mark.browser, pytest.mark.worker]

DASHBOARD = "/dashboards/growth/"
SEO = "[data-metric=seo_nonbrand_clicks]"

# Records every state each tile passes through (installed before the page's own scripts).
RECORD_STATES = """
window.__tileStates = {};
new MutationObserver(function (records) {
  records.forEach(function (r) {
    var seen = window.__tileStates[r.target.dataset.metric] =
      window.__tileStates[r.target.dataset.metric] || [];
    var state = r.target.dataset.state;
    var message = (r.target.querySelector(".tile-state .message") || {}).textContent || "";
    var entry = state + "|" + message;
    if (seen[seen.length - 1] !== entry) seen.push(entry);
  });
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-state"] });
"""


def headline(page, selector: str) -> tuple[str, float | None]:
    value = page.locator(f"{selector} [data-field=value]")
    raw = value.get_attribute("data-raw")
    return value.inner_text(), float(raw) if raw else None


def nonbrand_clicks(lake, start: str, end: str) -> dict[str, int]:
    seo = lake_table(lake, "fact_seo_landings")
    seo = seo[(seo.query_class == "non_brand") & seo.event_dt.between(start, end)]
    return seo.groupby("event_dt")["clicks"].sum().to_dict()


def test_tiles_render_charts_and_follow_the_date_range(portal, pages, lake_settings):
    user_with_role("analyst", "ana")
    page = pages.open()
    page.add_init_script(RECORD_STATES)
    log_in(page, portal, "ana", DASHBOARD)
    wait_for_tiles(page)

    tiles = page.locator("[data-tile]")
    assert tiles.count() == 7
    assert page.locator("[data-tile][data-state=done]").count() == 7
    assert page.locator("[data-tile] .plot.js-plotly-plot .main-svg").count() >= 7
    for slug, states in page.evaluate("window.__tileStates").items():
        assert states[0].startswith("queued|Queued · "), (slug, states)
        assert states[-1].startswith("done|"), (slug, states)
        for state in states[:-1]:  # queued, then running, each with its elapsed time
            assert re.fullmatch(r"(queued|running)\|(Queued|Running) · \d+\.\d s", state)

    # The default window ends at the newest data: 28 days to 2026-01-31.
    text, value = headline(page, SEO)
    expected = sum(nonbrand_clicks(lake_settings, "2026-01-04", "2026-01-31").values())
    assert value == expected and text == f"{expected:,}"
    assert page.locator(f"{SEO} [data-field=data_as_of]").inner_text() == "Data as of 2026-01-31"
    assert page.locator(f"{SEO} [data-field=cached_at]").inner_text().startswith("Cached ")
    ctr_text, ctr = headline(page, "[data-metric=email_digest_ctr]")
    assert ctr_text == (f"{ctr * 100:.1f}%" if ctr >= 0.1 else f"{ctr * 100:.2f}%")
    before = {
        slug: headline(page, f"[data-metric={slug}]")[1]
        for slug in page.eval_on_selector_all("[data-tile]", "ts => ts.map(t => t.dataset.metric)")
    }

    page.fill("input[name=start]", "2026-01-25")
    page.click("form.controls button[type=submit]")
    page.wait_for_url(f"{portal}{DASHBOARD}?start=2026-01-25*")
    wait_for_tiles(page)
    assert page.locator("[data-tile][data-state=done]").count() == 7
    text, value = headline(page, SEO)
    expected = sum(nonbrand_clicks(lake_settings, "2026-01-25", "2026-01-31").values())
    assert value == expected and text == f"{expected:,}"
    after = {slug: headline(page, f"[data-metric={slug}]")[1] for slug in before}
    assert sum(after[s] != before[s] for s in before) >= 5
    # Compared with the 7 days before: 2026-01-18 to 2026-01-24.
    previous = sum(nonbrand_clicks(lake_settings, "2026-01-18", "2026-01-24").values())
    assert page.locator(f"{SEO} [data-field=previous]").get_attribute("data-raw") == str(previous)
    change = page.locator(f"{SEO} [data-field=change]").inner_text()
    assert change.endswith(f"{abs(expected - previous) / previous * 100:.1f}%")


def test_csv_export_and_force_refresh(portal, pages, lake_settings, tmp_path, settings):
    settings.QUERY_FORCE_REFRESH_MIN_AGE_SECONDS = 0  # the tile's result is seconds old
    user_with_role("analyst", "ana")
    page = pages.open()
    log_in(page, portal, "ana", f"{DASHBOARD}?start=2026-01-20&end=2026-01-31&compare=none")
    wait_for_tiles(page)

    with page.expect_download() as download:
        page.click(f"{SEO} a:text('CSV')")
    assert download.value.suggested_filename == "seo_nonbrand_clicks_2026-01-20_2026-01-31_day.csv"
    target = tmp_path / "tile.csv"
    download.value.save_as(target)
    with target.open() as fh:
        got = {r["period"]: int(r["value"]) for r in csv.DictReader(fh)}
    assert got == nonbrand_clicks(lake_settings, "2026-01-20", "2026-01-31")

    run_before = page.locator(f"{SEO} [data-field=run]").inner_text()
    page.click(f"{SEO} button[data-action=refresh]")
    page.wait_for_function(
        f"""() => {{
          const tile = document.querySelector('{SEO}');
          return tile.dataset.state === 'done'
            && tile.querySelector('[data-field=run]').textContent !== '{run_before}';
        }}"""
    )
    refreshed = QueryRun.objects.get(label="metric:seo_nonbrand_clicks", force_refresh=True)
    assert page.locator(f"{SEO} [data-field=run]").inner_text() == f"Run {refreshed.pk}"
    assert refreshed.status == "succeeded"


def test_a_failed_tile_shows_the_error_and_retries(
    portal, pages, lake_settings, settings, tmp_path
):
    good = (django_settings.METRICS_DIR / "seo_nonbrand_clicks.sql").read_text()
    bad = good.replace("sum(clicks)", "sum(CAST(landing_path AS BIGINT))")
    assert bad != good
    (tmp_path / "seo_nonbrand_clicks.sql").write_text(bad)
    settings.METRICS_DIR = tmp_path
    user_with_role("analyst", "ana")
    page = pages.open()
    log_in(page, portal, "ana", f"{DASHBOARD}?start=2026-01-20&end=2026-01-31")
    wait_for_tiles(page)

    assert page.locator(f"{SEO}").get_attribute("data-state") == "failed"
    assert "Could not convert" in page.locator(f"{SEO} .tile-state .message").inner_text()
    retry = page.locator(f"{SEO} .tile-state button:text('Retry')")
    assert retry.is_visible()
    assert page.locator("[data-broken-tile]").count() == 6  # metrics missing from this catalogue

    (tmp_path / "seo_nonbrand_clicks.sql").write_text(good)  # fixed
    retry.click()
    page.wait_for_function(f"document.querySelector('{SEO}').dataset.state === 'done'")
    expected = sum(nonbrand_clicks(lake_settings, "2026-01-20", "2026-01-31").values())
    assert headline(page, SEO)[1] == expected
    assert QueryRun.objects.filter(status="failed").count() == 2  # both windows, first time


def test_readable_on_a_phone(portal, pages, tmp_path):
    user_with_role("analyst", "ana")
    page = pages.open(viewport=PHONE)
    log_in(page, portal, "ana", DASHBOARD)
    wait_for_tiles(page)
    widths = page.evaluate(
        "({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " view: window.innerWidth})"
    )
    assert widths["doc"] <= widths["view"] and widths["body"] <= widths["view"], widths
    lefts = {
        round(box["x"])
        for box in map(lambda t: t.bounding_box(), page.locator("[data-tile]").all())
    }
    assert len(lefts) == 1  # one column
    shot = tmp_path / "phone.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 20_000
