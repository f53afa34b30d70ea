"""The bench's one percentile, its alternation of baseline and measured runs, and its split of
requests into those that executed a run and those that joined one."""

import pytest

from bench.common import Fetched, alternate, executed_and_joined, percentile

# 20 distinct values, shuffled, so that the function has to sort them.
TWENTY = [14.0, 3.0, 20.0, 7.0, 1.0, 18.0, 11.0, 5.0, 16.0, 9.0,
          2.0, 19.0, 13.0, 6.0, 17.0, 4.0, 12.0, 8.0, 15.0, 10.0]  # fmt: skip


def test_p95_of_20_samples_is_the_19th_smallest():
    # ceil(0.95 * 20) = 19: the 19th smallest of 1..20 is 19 (not 20, as int(0.95 * n)
    # indexing 0-based gave, nor 19.95, as statistics.quantiles interpolates).
    assert percentile(TWENTY, 0.95) == 19.0


def test_p95_of_21_samples_is_the_20th_smallest():
    # ceil(0.95 * 21) = ceil(19.95) = 20.
    assert percentile([*TWENTY, 21.0], 0.95) == 20.0


def test_any_percentile_of_one_sample_is_that_sample():
    assert percentile([42.0], 0.95) == 42.0
    assert percentile([42.0], 0.5) == 42.0


def test_median_and_extremes_by_nearest_rank():
    # ceil(0.5 * 20) = 10th smallest; ceil(0.05 * 20) = 1st; q = 1 is the largest.
    assert percentile(TWENTY, 0.5) == 10.0
    assert percentile(TWENTY, 0.05) == 1.0
    assert percentile(TWENTY, 1.0) == 20.0


def test_percentile_refuses_no_samples_and_a_q_outside_0_1():
    with pytest.raises(ValueError):
        percentile([], 0.95)
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_alternate_runs_baseline_then_measured_round_by_round_after_an_untimed_warmup():
    calls: list[tuple[str, int]] = []
    samples = alternate(
        {
            "baseline": lambda r: calls.append(("B", r)),
            "measured": lambda r: calls.append(("A", r)),
        },
        repeat=3,
        warmup=2,
    )
    assert calls == [
        ("B", -2), ("A", -2), ("B", -1), ("A", -1),  # warm-up, not timed
        ("B", 0), ("A", 0), ("B", 1), ("A", 1), ("B", 2), ("A", 2),
    ]  # fmt: skip
    assert list(samples) == ["baseline", "measured"]
    assert [len(s) for s in samples.values()] == [3, 3]


def test_alternate_times_each_call_on_its_own():
    import time

    samples = alternate(
        {"fast": lambda r: None, "slow": lambda r: time.sleep(0.05)}, repeat=3, warmup=0
    )
    assert all(s >= 0.05 for s in samples["slow"])
    assert all(s < 0.05 for s in samples["fast"])


def test_the_first_request_of_a_new_run_executed_it_and_the_others_joined():
    # Runs up to 100 existed before the batch; 101 and 102 were started during it.
    fetched = [
        Fetched(sent_at=3.0, seconds=0.9, run_id=101),  # joined 101, sent after the first
        Fetched(sent_at=1.0, seconds=1.2, run_id=101),  # first of 101: executed it
        Fetched(sent_at=2.0, seconds=0.7, run_id=102),  # first of 102: executed it
        Fetched(sent_at=2.5, seconds=0.1, run_id=None),  # answered from the cache at once
        Fetched(sent_at=0.5, seconds=0.4, run_id=99),  # a run from before the batch: joined
    ]
    split = executed_and_joined(fetched, last_pk_before=100)
    assert sorted(split["executed"]) == [0.7, 1.2]
    assert sorted(split["joined"]) == [0.4, 0.9]
    assert split["cached"] == [0.1]
