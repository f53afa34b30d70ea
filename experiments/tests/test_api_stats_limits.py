"""The statistics API's limits: every numeric input range-checked (a 400 naming the field),
bodies bounded in size (413) and nesting (400), at most MAX_VARIANTS variants, and no input at
all that makes it answer 5xx or take long."""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.stats.sufficient import RATIO_COVARIATE_FIELDS
from experiments.stats.validation import MAX_VARIANTS
from experiments.tests.stats_examples import ISSUE_COMPARE, ISSUE_MDE

pytestmark = pytest.mark.django_db
SLOW_S = 0.5  # every answer comes in well under a second, even on a busy machine


def post(client, path, body):
    started = time.perf_counter()
    answer = client.post(path, body, content_type="application/json")
    return answer, time.perf_counter() - started


MEAN = {"metric_type": "mean", "baseline": 10, "std": 4, "weights": [0.5, 0.5]}


def _variants(n: int) -> list[dict]:
    return [{"name": f"v{i}", "n": 1000, "conversions": 100 + i} for i in range(n)]


# The six 500s of the review, then the numbers beyond each range, each a 400 naming its field.
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "compare",
            {**ISSUE_COMPARE, "variants": [{"name": "a", "n": 10**400, "conversions": 1}] * 2},
            "variants[0].n",
        ),
        ("compare", {**ISSUE_COMPARE, "alpha": 1e-300}, "alpha"),
        ("mde", {**ISSUE_MDE, "alpha": 1e-300}, "alpha"),
        ("mde", {**MEAN, "mde_rel": 0.05, "daily_units": 100, "std": 1e300}, "std"),
        ("mde", {**ISSUE_MDE, "mde_rel": 1e-300}, "mde_rel"),
        ("mde", {**ISSUE_MDE, "baseline": 1e-300}, "mde_rel"),
        ("mde", {**MEAN, "mde_rel": 0.05, "daily_units": 100, "baseline": 1e-300}, "mde_rel"),
        (
            "mde",
            {**MEAN, "n_per_variant": 1000, "daily_units": 100, "baseline": 1e-300},
            "baseline",
        ),
        ("mde", {**ISSUE_MDE, "power": 0.1}, "power"),
        ("mde", {**ISSUE_MDE, "alpha": 0.9}, "alpha"),
        ("mde", {**ISSUE_MDE, "daily_units": 1e-300}, "daily_units"),
        ("mde", {**ISSUE_MDE, "weights": [1 - 1e-300, 1e-300]}, "mde_rel"),
        ("mde", {**ISSUE_MDE, "mde_rel": None, "n_per_variant": 10**13}, "n_per_variant"),
        (
            "compare",
            {
                "metric_type": "mean",
                "weights": [0.5, 0.5],
                "variants": [
                    {"name": "a", "n": 10, "sum": 1e300, "sum_squares": 1e300},
                    {"name": "b", "n": 10, "sum": 1, "sum_squares": 1},
                ],
            },
            "variants[0].sum",
        ),
        (
            "compare",
            {**ISSUE_COMPARE, "weights": [0.05] * 20 + [0.0], "variants": _variants(21)},
            "variants",
        ),
    ],
)
def test_out_of_range_numbers_are_a_400_naming_the_field(analyst, path, body, field):
    body = {k: v for k, v in body.items() if v is not None}
    answer, took = post(analyst, f"/api/stats/{path}", body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json(), answer.json()
    assert took < SLOW_S


def test_variants_are_capped_and_ten_thousand_are_refused_at_once(analyst):
    weights = [1 / MAX_VARIANTS] * MAX_VARIANTS
    most, took = post(
        analyst,
        "/api/stats/compare",
        {**ISSUE_COMPARE, "weights": weights, "variants": _variants(MAX_VARIANTS)},
    )
    assert most.status_code == 200, most.json()
    assert len(most.json()["comparisons"]) == MAX_VARIANTS - 1
    assert took < 2 * SLOW_S
    many = {**ISSUE_COMPARE, "weights": [1e-4] * 10_000, "variants": _variants(10_000)}
    answer, took = post(analyst, "/api/stats/compare", many)
    assert answer.status_code == 400
    assert answer.json() == {"variants": [f"at most {MAX_VARIANTS} variants"]}
    assert took < SLOW_S


def test_deep_nesting_is_a_400_and_a_big_body_a_413(analyst, settings):
    nested, took = post(analyst, "/api/stats/compare", "[" * 100_000)
    assert nested.status_code == 400
    assert "nested deeper than" in nested.json()["detail"]
    assert took < SLOW_S
    # Brackets inside strings are text, not nesting.
    text, _ = post(analyst, "/api/stats/compare", {**ISSUE_COMPARE, "metric_type": "[" * 100})
    assert text.status_code == 400 and "metric_type" in text.json()

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    big = {**ISSUE_COMPARE, "padding": "x" * 10_000}
    answer, _ = post(analyst, "/api/stats/compare", big)
    assert answer.status_code == 413
    assert answer.json() == {"detail": "The request body is over 10,000 bytes."}


# --- fuzzing: any JSON-like input, never a 5xx, never slow

numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False),
    st.sampled_from([0, 1, 2, 1e-300, 1e300, -1e-300, 0.5, 0.05, 0.8, 10**12, 10**13]),
)
values = st.one_of(numbers, st.none(), st.booleans(), st.text(max_size=5))
proportion = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=3), "n": values, "conversions": values}
)
mean = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=3), "n": values, "sum": values, "sum_squares": values},
    optional={"pre_sum": values, "pre_sum_squares": values, "sum_products": values},
)
ratio = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1, max_size=3),
        "n": values,
        "numerator_sum": values,
        "numerator_sum_squares": values,
        "denominator_sum": values,
        "denominator_sum_squares": values,
        "sum_products": values,
    },
    optional=dict.fromkeys(RATIO_COVARIATE_FIELDS, values),
)
compare_bodies = st.fixed_dictionaries(
    {
        "metric_type": st.sampled_from(["proportion", "mean", "ratio"]),
        "weights": st.lists(numbers, max_size=4),
        "variants": st.lists(st.one_of(proportion, mean, ratio), max_size=4),
    },
    optional={"alpha": values},
)
mde_bodies = st.fixed_dictionaries(
    {
        "metric_type": st.sampled_from(["proportion", "mean", "ratio"]),
        "weights": st.lists(numbers, max_size=4),
    },
    optional={
        "baseline": values,
        "alpha": values,
        "power": values,
        "mde_rel": values,
        "n_per_variant": st.one_of(values, st.lists(numbers, max_size=4)),
        "daily_units": values,
        "std": values,
        "correlation": values,
    },
)
FUZZ = settings(
    max_examples=150,
    deadline=None,  # timed below, with a margin for a busy machine
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@FUZZ
@given(body=compare_bodies)
def test_fuzzed_compare_never_fails_on_the_server(analyst, body):
    _never_5xx(analyst, "/api/stats/compare", body)


@FUZZ
@given(body=mde_bodies)
def test_fuzzed_mde_never_fails_on_the_server(analyst, body):
    _never_5xx(analyst, "/api/stats/mde", body)


def _never_5xx(client, path: str, body: dict) -> None:
    answer, took = post(client, path, body)
    assert answer.status_code in (200, 400), (answer.status_code, body)
    if answer.status_code == 400:
        assert answer.json(), body  # a field and its message
    assert took < 2 * SLOW_S, (took, body)
