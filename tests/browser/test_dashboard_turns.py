"""A cold dashboard of more tiles than one person may have runs in flight: the tiles answered 429
wait their turn and all load, none shows an error."""

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_dashboards import DASHBOARD, wait_for_tiles
from tests.support.users import user_with_role
from warehouse.models import QueryRun

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_tiles_over_the_cap_wait_their_turn(portal, pages, settings):
    settings.QUERY_USER_MAX_IN_FLIGHT = 2
    user_with_role("analyst", "ana")
    page = pages.open()
    refused = []
    page.on("response", lambda r: refused.append(r.url) if r.status == 429 else None)
    page.set_default_timeout(180_000)  # the tiles load two by two on a busy machine
    log_in(page, portal, "ana", DASHBOARD)
    wait_for_tiles(page)

    states = page.eval_on_selector_all("[data-tile]", "tiles => tiles.map(t => t.dataset.state)")
    assert len(states) > 2 and set(states) == {"done"}
    assert refused, "the cap never refused a tile: the test does not test the cap"
    assert QueryRun.objects.filter(status="succeeded").count() >= len(states)
