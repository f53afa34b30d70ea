import datetime

import pytest

from experiments.stats.decision import time_to_decision
from experiments.stats.validation import InputError

TODAY = datetime.date(2025, 3, 10)


def test_days_remaining_follow_the_slowest_arm():
    # Control needs 6_000 more at 500/day (12 days); the 20% arm 3_000 more at 200/day (15 days).
    result = time_to_decision(
        current=[4_000, 1_000, 2_000],
        required=[10_000, 4_000, 4_000],
        weights=[0.5, 0.2, 0.3],
        daily_units=1_000,
        today=TODAY,
    )
    assert result.days_remaining == 15
    assert result.decision_date == datetime.date(2025, 3, 25)
    assert not result.reached


def test_partial_days_round_up_and_exact_quotients_do_not():
    common = {"weights": [0.5, 0.5], "daily_units": 1_000, "today": TODAY}
    assert time_to_decision([0, 0], [5_000, 5_000], **common).days_remaining == 10
    assert time_to_decision([0, 0], [5_001, 5_000], **common).days_remaining == 11


def test_reached_when_every_arm_has_its_sample():
    result = time_to_decision([5_000, 5_200], [5_000, 5_000], [0.5, 0.5], 100, TODAY)
    assert result.reached
    assert result.days_remaining == 0
    assert result.decision_date == TODAY


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"current": [1, -1]}, "current[1]"),
        ({"required": [10]}, "required"),
        ({"weights": [0.7, 0.7]}, "weights"),
        ({"daily_units": 0}, "daily_units"),
        ({"today": "2025-03-10"}, "today"),
    ],
)
def test_invalid_input_names_the_field(kwargs, field):
    arguments = {
        "current": [1, 1],
        "required": [10, 10],
        "weights": [0.5, 0.5],
        "daily_units": 10,
        "today": TODAY,
    } | kwargs
    with pytest.raises(InputError) as caught:
        time_to_decision(**arguments)
    assert caught.value.field == field
