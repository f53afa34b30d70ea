import datetime

from experiments.stats import compare
from experiments.verdict import Method, Progress, comparison_line, guardrail_line, srm_line

RUNNING = Progress(True, 4, datetime.date(2026, 2, 14))
SEQUENTIAL = Method(alpha=0.05, sequential=True, correction="holm")


def _comparison(control, treatment, **kwargs):
    variants = [("control", {"n": 20_000, "conversions": control})]
    variants.append(("b", {"n": 20_000, "conversions": treatment}))
    return compare("proportion", variants, [0.5, 0.5], **kwargs).comparisons[0]


def _pct(value):
    return f"{value * 100:+.1f}%"


def test_a_winner_with_days_to_go_prints_the_interval_it_was_decided_on():
    b = _comparison(1_000, 1_200, sequential=True, sequential_tuning=40_000)
    assert b.decision == "increase"
    line = comparison_line(
        b, outcome="better", control="control", metric="Conversion", method=SEQUENTIAL,
        progress=RUNNING,
    )  # fmt: skip
    low, high = b.ci_rel
    assert line == (
        f"b beats control on Conversion: {_pct(b.lift_rel)} (95% always-valid CI {_pct(low)} to "
        f"{_pct(high)}), P(beat)={b.prob_beat_control * 100:.1f}%; keep running 4 more days to "
        "reach the planned sample (until 2026-02-14)."
    )


def test_fixed_horizon_says_the_result_holds_only_at_the_planned_end():
    b = _comparison(1_000, 1_200)
    line = comparison_line(
        b, outcome="better", control="control", metric="Conversion",
        method=Method(alpha=0.05, sequential=False), progress=RUNNING,
    )  # fmt: skip
    assert "(95% CI " in line
    assert line.endswith(
        "; fixed horizon: this holds only at the planned sample, 4 more days away "
        "(until 2026-02-14), so do not act on it before then."
    )


def test_losers_ties_small_samples_and_corrections():
    b = _comparison(1_000, 1_000)
    common = {"control": "control", "metric": "Activity", "method": SEQUENTIAL}
    done = Progress(True, 0, datetime.date(2026, 2, 1))
    worse = comparison_line(b, outcome="worse", progress=done, **common)
    assert worse.startswith("b is worse than control on Activity: +0.0% (95% always-valid CI")
    assert worse.endswith("; the planned sample is reached.")
    tie = comparison_line(b, outcome="inconclusive", progress=Progress(False, None, None), **common)
    assert tie.startswith("No significant difference between b and control on Activity")
    few = comparison_line(b, outcome="too_few_units", progress=done, **common)
    assert few.startswith("Too few units yet for a verdict between b and control on Activity")
    adjusted = comparison_line(b, outcome="inconclusive", progress=done, corrected=True, **common)
    assert "95% always-valid CI, Holm-adjusted " in adjusted


def test_a_control_of_zero_reads_on_the_absolute_lift():
    variants = [("control", {"n": 5_000, "conversions": 0}), ("b", {"n": 5_000, "conversions": 14})]
    b = compare("proportion", variants, [0.5, 0.5]).comparisons[0]
    line = comparison_line(
        b, outcome="better", control="control", metric="Conversion",
        method=Method(alpha=0.05, sequential=False), progress=Progress(False, None, None),
    )  # fmt: skip
    low, high = b.ci_abs
    assert line.startswith(
        "b beats control on Conversion: +0.0028 absolute, no relative lift with a mean of 0 "
        f"(95% CI {low:+.4g} to {high:+.4g})"
    )


def test_srm_and_guardrail_wording():
    assert srm_line(0.00002).startswith("Sample ratio mismatch (p = 2e-05)")
    b = _comparison(1_200, 1_000)
    line = guardrail_line(b, metric="Refunds", method=Method(0.05, True))
    assert line.startswith(f"Guardrail Refunds breached by b: {_pct(b.lift_rel)} (95% always")
