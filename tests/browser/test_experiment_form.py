"""A product manager sets up an experiment in a real browser: the plan is checked before
saving, every error shows at once, and a plan the inputs no longer match says so."""

import re

import pytest

from experiments.models import Experiment
from tests.browser.conftest import log_in
from tests.support.users import user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.worker]

FIELDS = {
    "key": "exp_browser_form",
    "name": "Browser form",
    "hypothesis": "A clearer button converts better.",
    "targeted_surfaces": "search_results",
    "mde_rel": "0.1",
    "baseline": "0.07",
    "expected_daily_units": "2,000",
}


def fill(page, **fields) -> None:
    for name, value in fields.items():
        page.fill(f"#experiment-form [name={name}]", value)


def test_check_the_plan_then_a_change_marks_it_stale(portal, pages):
    user_with_role("pm", "pat")
    page = pages.open()
    log_in(page, portal, "pat", "/experiments/new/")
    fill(page, **FIELDS)
    page.fill("#experiment-form [name=variants]", "control 0.34\nb 0.33\nc 0.33")
    page.click("button[name=check]")
    page.wait_for_selector("[data-plan=sample]")
    sample = page.locator("[data-plan=sample]").inner_text()
    assert re.match(r"Needs \d{1,3}(,\d{3})+ units", sample), sample
    assert "Sized for 2 comparisons" in page.locator("[data-plan=comparisons]").inner_text()
    assert not Experiment.objects.exists()  # checked, not saved
    note = page.locator("#plan-summary .stale-note")
    assert note.is_hidden()
    fill(page, mde_rel="0.05")
    assert note.is_visible()

    # Two wrong fields at once: the browser does not stop at the first (its own validation
    # shows one field at a time); the server shows both, each beside its field.
    fill(page, alpha="2", mde_rel="-1")
    with page.expect_navigation():
        page.click("button[name=check]")
    alpha = page.locator("label:has([name=alpha]) .error").all_inner_texts()
    mde = page.locator("label:has([name=mde_rel]) .error").all_inner_texts()
    assert alpha == ["Ensure this value is less than or equal to 0.5."], alpha
    assert mde == ["must be positive"], mde
