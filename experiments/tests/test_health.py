"""Health checks of a running experiment, against scipy and hand-counted thresholds."""

import dataclasses

import numpy as np
import pytest
from scipy import stats as sps

from experiments.health import ExposureHygiene, health_checks
from experiments.outcomes import VariantTotals


def totals(pre: np.ndarray, matured: int | None = None) -> VariantTotals:
    """A variant's totals with `pre` as every unit's covariate (outcomes are not read here)."""
    return VariantTotals(
        units=len(pre),
        conversions=0,
        value_sum=0.0,
        value_sum_squares=0.0,
        pre_sum=0.0,
        pre_sum_squares=0.0,
        sum_products=0.0,
        matured_units=len(pre) if matured is None else matured,
        units_pre_sum=float(pre.sum()),
        units_pre_sum_squares=float(pre @ pre),
    )


def hygiene(units: int, crawlers: int = 0, mixed: int = 0, multi: int = 0) -> ExposureHygiene:
    return ExposureHygiene(
        identities=units + crawlers + multi,
        units=units,
        crawler_units=crawlers,
        crawler_and_person_units=mixed,
        multi_variant_units=multi,
    )


def checks(arms: dict[str, VariantTotals], weights=(0.5, 0.5), found=None) -> dict:
    units = sum(t.units for t in arms.values())
    found = hygiene(units) if found is None else found
    return {c.check: c for c in health_checks(totals=arms, weights=weights, hygiene=found)}


def balanced(rng, n_control=1_000, n_treatment=1_000, shift=0.0) -> dict[str, VariantTotals]:
    return {
        "control": totals(rng.normal(20, 5, n_control)),
        "treatment": totals(rng.normal(20 + shift, 5, n_treatment)),
    }


def test_a_healthy_experiment_is_ok_on_every_check():
    found = checks(balanced(np.random.default_rng(1)))
    assert list(found) == [
        "multiple_variants",
        "crawlers",
        "sample_ratio",
        "pre_period_balance",
        "outcome_windows",
    ]
    assert {c.status for c in found.values()} == {"ok"}


@pytest.mark.parametrize(
    ("multi", "status"), [(0, "ok"), (10, "ok"), (30, "warning"), (150, "alarm")]
)
def test_units_in_more_than_one_variant_are_graded_by_their_share(multi, status):
    # 2,000 units kept; the share is of everyone who is not a crawler: 10 -> 0.5%, 30 -> 1.5%,
    # 150 -> 7.0%.
    check = checks(balanced(np.random.default_rng(2)), found=hygiene(2_000, multi=multi))[
        "multiple_variants"
    ]
    assert check.status == status
    assert check.values["multi_variant_units"] == multi
    assert check.values["share"] == pytest.approx(multi / (2_000 + multi))
    if multi:
        assert f"{multi:,} of {2_000 + multi:,} units" in check.detail
        assert "left out of the results" in check.detail


def test_crawlers_are_reported_and_warn_when_they_share_ids_with_people():
    arms = balanced(np.random.default_rng(3))
    quiet = checks(arms, found=hygiene(2_000, crawlers=40, mixed=5))["crawlers"]
    assert quiet.status == "ok"
    assert quiet.detail.startswith("40 of 2,040 exposed identities (2.0%) were crawlers")
    assert "5 of them" in quiet.detail
    mixed = checks(arms, found=hygiene(2_000, crawlers=40, mixed=30))["crawlers"]
    assert mixed.status == "warning"  # 30 of 2,040 is 1.5%, above 1%
    assert "shared device id" in mixed.detail


@pytest.mark.parametrize(
    ("counts", "status"),
    [((1_000, 1_000), "ok"), ((1_000, 1_130), "warning"), ((1_000, 1_200), "alarm")],
)
def test_the_split_is_graded_by_its_chi_square_p_value(counts, status):
    rng = np.random.default_rng(4)
    arms = balanced(rng, *counts)
    check = checks(arms)["sample_ratio"]
    expected = sps.chisquare(counts, [sum(counts) / 2] * 2).pvalue
    assert check.values["p_value"] == pytest.approx(expected, rel=1e-9)
    assert status == ("alarm" if expected < 0.001 else "warning" if expected < 0.01 else "ok")
    assert check.status == status


def test_pre_period_balance_is_welch_on_every_units_covariate():
    rng = np.random.default_rng(5)
    control, treatment = rng.normal(20, 5, 3_000), rng.normal(20.6, 5, 3_000)
    # The covariate of every unit counts, matured or not.
    arms = {"control": totals(control, matured=10), "treatment": totals(treatment, matured=10)}
    check = checks(arms)["pre_period_balance"]
    expected = sps.ttest_ind(treatment, control, equal_var=False).pvalue
    assert check.values["variants"]["treatment"]["p_value"] == pytest.approx(expected, rel=1e-6)
    assert expected < 0.001 and check.status == "alarm"
    assert "already differed before the experiment" in check.detail


def test_pre_period_conversions_are_balanced_too():
    # The activity values alike, but treatment's units had booked more often before exposure.
    rng = np.random.default_rng(8)
    pre = {name: rng.normal(20, 5, 4_000) for name in ("control", "treatment")}
    booked = {"control": rng.random(4_000) < 0.06, "treatment": rng.random(4_000) < 0.09}
    arms = {
        name: dataclasses.replace(totals(pre[name]), units_pre_conversions=int(booked[name].sum()))
        for name in pre
    }
    check = checks(arms)["pre_period_balance"]
    expected = sps.ttest_ind(
        booked["treatment"].astype(float), booked["control"].astype(float), equal_var=False
    ).pvalue
    assert check.values["covariate"] == "pre_converted"
    assert check.values["variants"]["treatment"]["p_value"] == pytest.approx(expected, rel=1e-6)
    assert expected < 0.001 and check.status == "alarm"
    assert "share that booked in the 28 days before exposure" in check.detail


def test_the_worst_treatment_decides_the_balance():
    rng = np.random.default_rng(6)
    arms = {
        "control": totals(rng.normal(20, 5, 2_000)),
        "b": totals(rng.normal(20, 5, 2_000)),
        "c": totals(rng.normal(21, 5, 2_000)),
    }
    check = checks(arms, weights=(1 / 3, 1 / 3, 1 / 3))["pre_period_balance"]
    assert check.status == "alarm" and check.detail.startswith("The variants' units already")
    assert "c 2" in check.detail  # c's mean is named, not b's


def test_outcome_windows_say_how_many_units_count_toward_outcomes():
    rng = np.random.default_rng(7)
    arms = {
        "control": totals(rng.normal(20, 5, 500), matured=300),
        "treatment": totals(rng.normal(20, 5, 500), matured=320),
    }
    check = checks(arms)["outcome_windows"]
    assert check.values == {"all_units": 1_000, "matured_units": 620, "outcome_days": 28}
    assert check.detail.startswith("620 of 1,000 units have had 28 days")


def test_without_units_or_hygiene_the_checks_say_what_they_can():
    empty = {"control": totals(np.array([])), "treatment": totals(np.array([]))}
    found = {c.check: c for c in health_checks(totals=empty, weights=(0.5, 0.5), hygiene=None)}
    assert list(found) == ["sample_ratio", "pre_period_balance", "outcome_windows"]
    assert found["sample_ratio"].detail == "No units yet."
    assert found["pre_period_balance"].detail.startswith("Not enough units yet")
    assert {c.status for c in found.values()} == {"ok"}
