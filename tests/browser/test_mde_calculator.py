"""A product manager sizes an experiment with the MDE calculator in a real browser: sample size
and days from an MDE, the MDE of a sample, CUPED for a mean, the one-click fill from the lake,
the chart, and readable errors. Every number is checked against a closed form computed here."""

import math
import re

import pandas as pd
import pytest
from scipy.stats import norm

from experiments.tests.builders import experiment
from experiments.tests.references import baseline_reference, exposed_units, per_unit_ratio
from tests.browser.conftest import log_in
from tests.support.users import user_with_role
from warehouse.lake import contract, storage

pytestmark = [pytest.mark.browser, pytest.mark.worker]

CALCULATOR = "/experiments/mde/"

# Counts batches of DOM changes in the results and the error line (installed before the page's
# scripts), so a test can wait until the calculator has shown its answer, whatever it is.
COUNT_RENDERS = """
window.__renders = 0;
document.addEventListener("DOMContentLoaded", function () {
  var result = document.getElementById("mde-result");
  if (!result) return;  // the login page
  var observer = new MutationObserver(function () { window.__renders += 1; });
  var options = { childList: true, subtree: true, characterData: true, attributes: true };
  observer.observe(result, options);
  observer.observe(document.querySelector("#mde-form p.error"), options);
});
"""


def z_sum(alpha: float, power: float) -> float:
    return norm.ppf(1 - alpha / 2) + norm.ppf(power)


def rate_sample(p_c, mde_rel, weights, alpha, power) -> list[int]:
    """Textbook two-sided Wald test of two proportions, unpooled variances, sized for the
    smallest treatment arm: N = z²(p_c q_c/w₀ + p_t q_t/w_min)/δ²; each arm ⌈N·wᵢ⌉."""
    p_t = p_c * (1 + mde_rel)
    units = (
        z_sum(alpha, power) ** 2
        * (p_c * (1 - p_c) / weights[0] + p_t * (1 - p_t) / min(weights[1:]))
        / (p_t - p_c) ** 2
    )
    return [math.ceil(units * w) for w in weights]


def rate_mde(p_c, n_total, weights, alpha, power) -> float:
    """The positive root of δ² = (z²/N)(p_c q_c/w₀ + (p_c + δ)(1 - p_c - δ)/w_min), over p_c."""
    k = z_sum(alpha, power) ** 2 / n_total
    w0, wmin = weights[0], min(weights[1:])
    a = 1 + k / wmin
    b = -k / wmin * (1 - 2 * p_c)
    c = -k * p_c * (1 - p_c) * (1 / w0 + 1 / wmin)
    return (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a) / p_c


def mean_sample(mean, std, rho, mde_rel, weights, alpha, power) -> list[int]:
    """N = z²·std²(1 - ρ²)(1/w₀ + 1/w_min)/(mde·mean)²; each arm ⌈N·wᵢ⌉."""
    units = (
        z_sum(alpha, power) ** 2
        * std**2
        * (1 - rho**2)
        * (1 / weights[0] + 1 / min(weights[1:]))
        / (mde_rel * mean) ** 2
    )
    return [math.ceil(units * w) for w in weights]


def count(text: str) -> int:
    """A count as the page shows it (grouped the browser's way: 21,910 or 21 910)."""
    return int(re.sub(r"\D", "", text))


def shown(page) -> dict:
    out = {
        name: page.locator(f"#mde-result [data-out={name}]").inner_text()
        for name in ("n_per_variant", "n_total", "days", "mde_rel")
    }
    out["n_per_variant"] = [count(part) for part in out["n_per_variant"].split("/")]
    out["n_total"], out["days"] = count(out["n_total"]), int(out["days"])
    return out


def chart(page) -> dict:
    """The traces Plotly holds for the chart: the curve and the marker of this plan."""
    return page.evaluate(
        """() => {
          const data = document.getElementById("mde-chart").data;
          return {curve: {x: data[0].x, y: data[0].y}, plan: {x: data[1].x[0], y: data[1].y[0]}};
        }"""
    )


def calculate(page) -> None:
    """Press Calculate and wait until the page shows the answer (numbers or an error)."""
    before = page.evaluate("window.__renders")
    page.click("#mde-form button[type=submit]")
    page.wait_for_function("n => window.__renders > n", arg=before)


def fill_form(page, **fields) -> None:
    for name, value in fields.items():
        page.fill(f"#mde-form [name={name}]", str(value))


def open_calculator(page, portal: str) -> None:
    user_with_role("pm", "pat")
    page.add_init_script(COUNT_RENDERS)
    log_in(page, portal, "pat", CALCULATOR)


def test_sample_size_and_mde_of_a_rate_with_the_chart(portal, pages):
    page = pages.open()
    open_calculator(page, portal)
    assert page.locator("#mde-result").is_hidden()
    # Fields of a mean metric and of the other mode stay out of sight.
    assert page.locator("#mde-form [name=std]").is_hidden()
    assert page.locator("#mde-form [name=correlation]").is_hidden()
    assert page.locator("#mde-form [name=n_per_variant]").is_hidden()

    weights = [0.5, 0.3, 0.2]
    plan = {"baseline": 0.2, "alpha": 0.01, "power": 0.9, "mde_rel": 0.1, "daily_units": 1500}
    fill_form(page, weights="0.5, 0.3, 0.2", **plan)
    calculate(page)
    # Holm across the two treatments, the default: each test is sized at alpha / 2.
    each = plan["alpha"] / 2
    args = (plan["baseline"], plan["mde_rel"], weights, each, plan["power"])
    expected = rate_sample(*args)  # [24622, 14774, 9849]
    # The pooled variance (N 2.9% lower), Cohen's arcsine h (1.5% lower) or a one-sided z
    # (12.5% lower) would all miss by far more than this rounding tolerance.
    got = shown(page)
    assert len(got["n_per_variant"]) == 3
    assert all(abs(g - e) <= 1 for g, e in zip(got["n_per_variant"], expected, strict=True))
    assert got["n_total"] == sum(got["n_per_variant"])
    assert got["days"] == math.ceil(got["n_total"] / plan["daily_units"])
    assert got["mde_rel"] == "10.00%"
    assert page.locator("#mde-result [data-out=sizing]").inner_text() == (
        "Sized for 2 comparisons: each test at alpha 0.01 / 2 = 0.005."
    )

    # The chart: a curve of total sample against MDE around the plan, and the plan's marker.
    page.wait_for_selector("#mde-chart .main-svg")
    assert page.locator("#mde-chart .scatterlayer .trace").count() == 2
    assert page.locator("#mde-chart .scatterlayer .trace .point").count() == 1
    first = chart(page)
    assert first["plan"] == {"x": pytest.approx(10.0), "y": got["n_total"]}
    assert len(first["curve"]["x"]) >= 10
    assert first["curve"]["x"] == sorted(first["curve"]["x"])
    assert min(first["curve"]["x"]) < 10 < max(first["curve"]["x"])
    for x, y in zip(first["curve"]["x"], first["curve"]["y"], strict=True):
        total = sum(rate_sample(plan["baseline"], x / 100, weights, each, plan["power"]))
        assert abs(y - total) <= len(weights), (x, y, total)

    # A smaller MDE: new numbers, and the chart follows them.
    fill_form(page, mde_rel=0.05)
    calculate(page)
    got = shown(page)
    expected = rate_sample(plan["baseline"], 0.05, weights, each, plan["power"])
    assert all(abs(g - e) <= 1 for g, e in zip(got["n_per_variant"], expected, strict=True))
    second = chart(page)
    assert second["plan"] == {"x": pytest.approx(5.0), "y": got["n_total"]}
    assert second["curve"]["x"] != first["curve"]["x"]
    assert max(second["curve"]["y"]) > max(first["curve"]["y"])

    # The other way round: the MDE a sample of 5,000 / 3,000 / 2,000 units reaches.
    page.select_option("#mde-form [name=mode]", "n_per_variant")
    assert page.locator("#mde-form [name=mde_rel]").is_hidden()
    assert page.locator("#mde-form [name=n_per_variant]").is_visible()
    fill_form(page, n_per_variant="5000, 3000, 2000")
    calculate(page)
    got = shown(page)
    mde = rate_mde(plan["baseline"], 10_000, weights, each, plan["power"])
    assert got["mde_rel"] == f"{mde * 100:.2f}%"
    # The sample it reports is the one that MDE needs: the one given, up to rounding.
    assert all(
        abs(g - n) <= 1 for g, n in zip(got["n_per_variant"], [5000, 3000, 2000], strict=True)
    )
    assert got["days"] == math.ceil(got["n_total"] / plan["daily_units"])
    assert chart(page)["plan"]["x"] == pytest.approx(mde * 100, rel=1e-9)


def test_cuped_shrinks_the_sample_of_a_mean_by_one_minus_rho_squared(portal, pages):
    page = pages.open()
    open_calculator(page, portal)
    page.select_option("#mde-form [name=metric_type]", "mean")
    assert page.locator("#mde-form [name=std]").is_visible()
    weights = [0.5, 0.5]
    plan = {"baseline": 50, "std": 20, "alpha": 0.05, "power": 0.8, "mde_rel": 0.05}
    fill_form(page, weights="0.5, 0.5", daily_units=300, correlation=0, **plan)
    calculate(page)
    plain = shown(page)
    args = (plan["baseline"], plan["std"])
    rest = (plan["mde_rel"], weights, plan["alpha"], plan["power"])
    expected = mean_sample(*args, 0.0, *rest)  # [1005, 1005]
    assert all(abs(g - e) <= 1 for g, e in zip(plain["n_per_variant"], expected, strict=True))
    assert plain["days"] == math.ceil(plain["n_total"] / 300)

    fill_form(page, correlation=0.6)
    calculate(page)
    cuped = shown(page)
    expected = mean_sample(*args, 0.6, *rest)  # [644, 644]
    assert all(abs(g - e) <= 1 for g, e in zip(cuped["n_per_variant"], expected, strict=True))
    assert cuped["n_total"] / plain["n_total"] == pytest.approx(1 - 0.6**2, abs=2e-3)
    assert cuped["days"] == math.ceil(cuped["n_total"] / 300) < plain["days"]
    assert chart(page)["plan"]["y"] == cuped["n_total"]


def test_fill_from_the_lake(portal, pages, lake_settings):
    owner = user_with_role("pm", "pat")
    experiment("checkout_button_color", owner=owner)  # listed in the fill panel
    page = pages.open()
    page.add_init_script(COUNT_RENDERS)
    log_in(page, portal, "pat", CALCULATOR)
    expected = baseline_reference(
        lake_settings, "checkout_button_color", "2026-01-25", "2026-01-31"
    )
    status = page.locator("#fill-status")

    def fill_from_lake() -> None:
        page.click("#fill-button")
        page.wait_for_function(
            "() => /^(Filled|Could not|Too few)/.test("
            "document.getElementById('fill-status').textContent)"
        )

    page.click("#fill summary")
    page.select_option("#fill [name=experiment_key]", "checkout_button_color")
    page.fill("#fill [name=days]", "7")
    fill_from_lake()
    filled = re.fullmatch(
        r"Filled from ([\d,. \u202f]+) control units, 2026-01-25 to 2026-01-31 \(query run \d+\)\.",
        status.inner_text(),
    )
    assert filled and count(filled[1]) == expected["control_units"]
    form = "#mde-form [name={}]".format
    # The rate to 4 significant digits; daily units rounded the way JavaScript rounds.
    assert page.input_value(form("baseline")) == format_precision(expected["conversion_rate"])
    assert int(page.input_value(form("daily_units"))) == math.floor(expected["daily_units"] + 0.5)

    page.select_option(form("metric_type"), "mean")
    fill_from_lake()
    assert page.input_value(form("baseline")) == format_precision(expected["mean"])
    assert page.input_value(form("std")) == format_precision(expected["std"])
    assert page.input_value(form("correlation")) == f"{expected['correlation']:.3f}"

    # The filled numbers size an experiment straight away.
    calculate(page)
    sample = mean_sample(
        float(page.input_value(form("baseline"))),
        float(page.input_value(form("std"))),
        float(page.input_value(form("correlation"))),
        0.1,
        [0.5, 0.5],
        0.05,
        0.8,
    )
    assert all(abs(g - e) <= 1 for g, e in zip(shown(page)["n_per_variant"], sample, strict=True))


def test_fill_a_catalogue_ratio_and_create_an_experiment_on_it(portal, pages, lake_settings):
    """A ratio is filled with its per-unit linearisation's spread, sized as a mean, and made
    the primary metric of the experiment created from the answer."""
    owner = user_with_role("pm", "pia")
    experiment("search_ranking_v2", owner=owner)
    page = pages.open()
    page.add_init_script(COUNT_RENDERS)
    log_in(page, portal, "pia", CALCULATOR)
    page.click("#fill summary")
    page.select_option("#fill [name=metric]", "search_to_view_ctr")
    page.select_option("#fill [name=experiment_key]", "search_ranking_v2")
    page.fill("#fill [name=days]", "14")
    page.click("#fill-button")
    page.wait_for_function(
        "() => /^(Filled|Could not|Too few)/.test("
        "document.getElementById('fill-status').textContent)"
    )
    status = page.locator("#fill-status").inner_text()
    assert status.endswith("sized as a mean of its per-unit linearisation."), status
    units = exposed_units(lake_settings, "search_ranking_v2", "2026-01-18", "2026-01-31")
    funnel = pd.read_parquet(storage.table_dir(lake_settings, contract.table("fact_funnel_events")))
    per_unit = per_unit_ratio(
        units[units.variant == "control"],
        funnel,
        lambda e: (e.step == "profile_view").astype(float),
        lambda e: (e.step == "search").astype(float),
    )
    ratio = per_unit.x.sum() / per_unit.y.sum()
    spread = ((per_unit.x - ratio * per_unit.y) / per_unit.y.mean()).std(ddof=1)
    form = "#mde-form [name={}]".format
    assert page.input_value(form("metric_type")) == "mean"
    assert page.input_value(form("baseline")) == format_precision(ratio)
    assert page.input_value(form("std")) == format_precision(spread)
    calculate(page)
    link = page.get_attribute("#create-link", "href")
    assert "primary_metric=search_to_view_ctr" in link
    page.click("#create-link")
    page.wait_for_selector("form [name=primary_metric]")
    assert page.input_value("[name=primary_metric]") == "search_to_view_ctr"
    assert float(page.input_value("[name=baseline_std]")) == pytest.approx(spread, rel=1e-3)


def format_precision(value: float) -> str:
    """JavaScript's Number.prototype.toPrecision(4) for numbers from 1e-6 to below 1e4."""
    assert 1e-6 <= abs(value) < 1e4
    exponent = math.floor(math.log10(abs(float(f"{value:.4g}"))))
    return f"{value:.{max(0, 3 - exponent)}f}"


def test_bad_input_names_the_field_and_shows_no_numbers(portal, pages):
    page = pages.open()
    open_calculator(page, portal)
    error = page.locator("#mde-form p.error")
    calculate(page)  # the defaults size an experiment
    assert page.locator("#mde-result").is_visible()

    fill_form(page, alpha=1.5)
    calculate(page)
    assert error.inner_text() == "alpha: must be strictly between 0 and 1"
    assert page.locator("#mde-result").is_hidden()  # the previous numbers are gone
    assert page.locator("label.invalid [name=alpha]").count() == 1

    fill_form(page, alpha=0.05, weights="0.6, 0.6")
    calculate(page)
    assert error.inner_text() == "weights: must sum to 1, got 1.2"
    assert page.locator("#mde-result").is_hidden()
    assert page.locator("label.invalid").count() == 1
    assert page.locator("label.invalid [name=weights]").count() == 1

    # A decimal comma in the CUPED correlation is an error, not a silent "no CUPED".
    page.select_option("#mde-form [name=metric_type]", "mean")
    fill_form(page, weights="0.5, 0.5", baseline=50, std=20, correlation="0,6")
    calculate(page)
    assert error.inner_text() == "correlation: must be a finite number"
    assert page.locator("#mde-result").is_hidden()

    fill_form(page, correlation="0.6")
    calculate(page)
    assert error.inner_text() == ""
    assert page.locator("label.invalid").count() == 0
    assert count(page.locator("#mde-result [data-out=n_total]").inner_text()) > 0


def test_numbers_are_grouped_and_a_changed_input_marks_the_answer_stale(portal, pages):
    page = pages.open()
    open_calculator(page, portal)
    stale = page.locator("#mde-result .stale-note")
    # A count typed with separators is read as the count.
    fill_form(page, baseline=0.05, mde_rel=0.02, daily_units="1,500", weights="0.5, 0.5")
    calculate(page)
    total = page.locator("#mde-result [data-out=n_total]").inner_text()
    expected = sum(rate_sample(0.05, 0.02, [0.5, 0.5], 0.05, 0.8))
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", total) and count(total) == expected
    assert int(page.locator("#mde-result [data-out=days]").inner_text().replace(",", "")) == (
        math.ceil(expected / 1_500)
    )
    assert stale.is_hidden()
    assert page.locator("#mde-result.stale").count() == 0
    # Typing into any input: the numbers no longer answer what is typed.
    fill_form(page, mde_rel=0.025)
    stale.wait_for(state="visible")
    assert page.locator("#mde-result.stale").count() == 1
    assert page.locator("#mde-result [data-out=mde_rel]").inner_text() == "2.00%"
    calculate(page)
    assert page.locator("#mde-result [data-out=mde_rel]").inner_text() == "2.50%"
    assert stale.is_hidden() and page.locator("#mde-result.stale").count() == 0


def test_absurd_plans_are_refused_in_words(portal, pages):
    page = pages.open()
    open_calculator(page, portal)
    error = page.locator("#mde-form p.error")
    # An MDE of 0.01% on a 5% rate: about 30 million days at 2,000 units a day.
    fill_form(page, baseline=0.05, mde_rel=0.0001, weights="0.5, 0.5")
    calculate(page)
    assert re.fullmatch(
        r"daily_units: too few for this sample: [\d,]+ units take [\d,]+ days at 2,000 a day, "
        r"more than ten years \(3,650 days\)\. Plan for a larger effect or more units a day\.",
        error.inner_text(),
    ), error.inner_text()
    assert page.locator("#mde-result").is_hidden()
    fill_form(page, mde_rel=0.1, daily_units="1e308")
    calculate(page)
    assert error.inner_text() == "daily_units: must be at most 1,000,000,000 a day"
