"""A CSV export of a result not cached yet, in a real browser with a real worker: the page says
the file is being prepared, reloads by itself, and the browser downloads the file once the run
finished; the rows are pandas' over the lake's files."""

import csv

import pytest
from playwright.sync_api import Error as PlaywrightError

from metrics.tests.ui_support import lake_table
from tests.browser.conftest import log_in
from tests.support.users import user_with_role
from warehouse.models import QueryRun

pytestmark = [pytest.mark.browser, pytest.mark.worker]

EXPORT = "/metrics/seo_nonbrand_clicks/data.csv?start=2026-01-21&end=2026-01-30"


def test_an_uncached_export_is_prepared_then_downloads_by_itself(
    portal, pages, lake_settings, tmp_path, settings
):
    settings.QUERY_WAIT_SECONDS = 0  # the first answer is the preparing page
    user_with_role("analyst", "ana")
    page = pages.open()
    log_in(page, portal, "ana", "/metrics/")
    with page.expect_download(timeout=120_000) as download:
        try:
            page.goto(f"{portal}{EXPORT}")
        except PlaywrightError as err:
            # The worker finished before the first answer: the link downloaded at once.
            assert "Download is starting" in str(err)
        else:
            page.get_by_text("Preparing the CSV of SEO non-brand clicks").wait_for()
    assert download.value.suggested_filename == "seo_nonbrand_clicks_2026-01-21_2026-01-30_day.csv"
    target = tmp_path / "export.csv"
    download.value.save_as(target)
    with target.open() as fh:
        got = {r["period"]: int(r["value"]) for r in csv.DictReader(fh)}
    seo = lake_table(lake_settings, "fact_seo_landings")
    seo = seo[(seo.query_class == "non_brand") & seo.event_dt.between("2026-01-21", "2026-01-30")]
    assert got == seo.groupby("event_dt")["clicks"].sum().to_dict()
    assert QueryRun.objects.get().status == QueryRun.Status.SUCCEEDED
