import datetime

from experiments.stats import Comparison
from experiments.verdict import Progress, comparison_line, guardrail_breached, srm_line


def comparison(lift_rel, ci_rel, p_value, prob=None, lift_abs=None, ci_abs=None):
    return Comparison(
        variant="b",
        lift_abs=lift_rel if lift_abs is None else lift_abs,
        lift_rel=lift_rel,
        ci_abs=ci_abs or ci_rel,
        ci_rel=ci_rel,
        p_value=p_value,
        variance_reduction=None,
        prob_beat_control=prob,
        credible_interval_rel=None,
        expected_loss=None,
    )


RUNNING = Progress(True, 4, datetime.date(2026, 2, 14))


def test_a_winner_with_days_to_go_reads_as_the_issue_says():
    line = comparison_line(
        comparison(0.031, (0.012, 0.050), 0.002, prob=0.996),
        control="control",
        metric="conversion",
        alpha=0.05,
        progress=RUNNING,
    )
    assert line == (
        "b beats control on conversion: +3.1% (95% CI +1.2% to +5.0%), P(beat)=99.6%; "
        "keep running 4 more days to reach the planned sample (until 2026-02-14)."
    )


def test_losers_and_ties_and_a_reached_sample():
    worse = comparison_line(
        comparison(-0.04, (-0.07, -0.01), 0.01),
        control="control",
        metric="activity",
        alpha=0.1,
        progress=Progress(True, 0, datetime.date(2026, 2, 1)),
    )
    assert worse == (
        "b is worse than control on activity: -4.0% (90% CI -7.0% to -1.0%); "
        "the planned sample is reached."
    )
    tie = comparison_line(
        comparison(0.01, (-0.02, 0.04), 0.5),
        control="control",
        metric="activity",
        alpha=0.05,
        progress=Progress(False, None, None),
    )
    assert tie == (
        "No significant difference between b and control on activity: "
        "+1.0% (95% CI -2.0% to +4.0%)."
    )


def test_srm_and_guardrail_wording():
    assert srm_line(0.00002).startswith("Sample ratio mismatch (p = 2e-05)")
    assert guardrail_breached(comparison(-0.05, (-0.08, -0.02), 0.001))
    assert not guardrail_breached(comparison(-0.05, (-0.08, 0.01), 0.09))
