"""A saved view in a real browser: an analyst saves a dashboard with its window and grain and
shares it with PMs; a PM finds it on the home page and opens the same view."""

import pytest

from saved_views.models import SavedView
from tests.browser.conftest import log_in, wait_for_tiles
from tests.support.users import user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.worker]

VIEW = "/dashboards/marketplace-health/?days=28&grain=week"


def test_a_view_is_saved_shared_and_opened_from_the_home_page(portal, pages, lake_settings):
    user_with_role("analyst", "ana")
    user_with_role("pm", "pat")
    page = pages.open()
    log_in(page, portal, "ana", VIEW)
    wait_for_tiles(page)
    assert page.input_value("select[name=grain]") == "week"
    page.click(".save-view summary")
    page.fill(".save-view input[name=name]", "Marketplace, weekly")
    page.select_option(".save-view select[name=shared_with]", "pm")
    page.click(".save-view button[type=submit]")
    page.wait_for_url(f"{portal}{VIEW}")  # back on the page, as it was
    page.get_by_text("Saved as 'Marketplace, weekly'.").wait_for()
    wait_for_tiles(page)
    assert SavedView.objects.get().url == VIEW

    other = pages.open()
    log_in(other, portal, "pat", "/")
    link = other.locator("#home-saved a", has_text="Marketplace, weekly")
    assert "shared by ana" in other.inner_text("#home-saved")
    link.click()
    other.wait_for_url(f"{portal}{VIEW}")
    assert other.input_value("select[name=grain]") == "week"
    wait_for_tiles(other)
