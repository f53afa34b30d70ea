"""core.anomalies against hand computations: the seasonal median and MAD with pandas, closed
forms for constant series, statsmodels' STL itself, and input it must refuse or cannot judge."""

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.seasonal import STL

from core.anomalies import DAY, HOUR, Method, Settings, detect
from core.errors import InputError

FIRST = datetime(2026, 1, 5)  # a Monday


def daily(values: list[float | None], first: datetime = FIRST) -> dict[datetime, float | None]:
    return {first + timedelta(days=i): v for i, v in enumerate(values)}


def by_hand(values: pd.Series, season: int, count: bool, k: float = 4.0) -> pd.DataFrame:
    """The median of the same season in up to four earlier weeks (two at least), residuals
    (of square roots for counts), scale 1.4826 * MAD (at least 1/2 for counts), range and score."""
    earlier = pd.concat([values.shift(season * w) for w in range(1, 5)], axis=1)
    usual = earlier.median(axis=1).where(earlier.count(axis=1) >= 2)
    centre, seen = (np.sqrt(usual), np.sqrt(values)) if count else (usual, values)
    residual = seen - centre
    scale = 1.4826 * (residual - residual.median()).abs().median()
    if count:
        scale = max(scale, 0.5)
    low = (centre - k * scale).clip(lower=0) ** 2 if count else centre - k * scale
    high = (centre + k * scale) ** 2 if count else centre + k * scale
    score = residual / scale
    return pd.DataFrame({"usual": usual, "low": low, "high": high, "score": score})


def as_frame(found) -> pd.DataFrame:
    return pd.DataFrame(
        [(p.start, p.expected, p.low, p.high, p.score, p.flagged) for p in found.points],
        columns=["start", "usual", "low", "high", "score", "flagged"],
    ).set_index("start")


def noisy_weeks(weeks: int, seed: int = 1) -> list[float]:
    """Daily counts with a weekday pattern (busy weekends) and Poisson noise."""
    rng = np.random.default_rng(seed)
    pattern = [1000, 950, 980, 1010, 1100, 1500, 1400]
    return [float(rng.poisson(pattern[d % 7])) for d in range(7 * weeks)]


def test_daily_counts_match_the_seasonal_median_and_mad_by_hand():
    counts = noisy_weeks(8)
    counts[45] = 0.0  # a day without any event
    counts[50] *= 0.7  # a 30% drop
    counts[52] *= 2  # twice the volume
    series = pd.Series(counts, index=pd.date_range(FIRST, periods=len(counts), freq="D"))
    start = FIRST + timedelta(weeks=2)
    found = detect(daily(counts), grain=DAY, start=start, end=series.index[-1])
    mine = as_frame(found)
    theirs = by_hand(series, 7, count=True).loc[start:]
    pd.testing.assert_frame_equal(
        mine[["usual", "low", "high", "score"]], theirs, check_names=False, check_freq=False
    )
    assert list(mine.index[mine.flagged]) == [series.index[i] for i in (45, 50, 52)]
    assert (mine.flagged == (theirs.score.abs() > 4)).all()
    assert found.judged == 42 and len(found.points) == 42


def test_hourly_counts_use_the_hour_of_the_week():
    rng = np.random.default_rng(2)
    hours = pd.date_range(FIRST, periods=168 * 5, freq="h")
    # Busy evenings, and Sunday evenings busier still: the pattern is per hour of the week.
    level = 40 + 60 * np.sin(np.pi * hours.hour / 24) ** 2 + 80 * (hours.dayofweek == 6)
    series = pd.Series(rng.poisson(level).astype(float), index=hours)
    doubled = hours[-30]
    series[doubled] *= 2
    values = {t.to_pydatetime(): v for t, v in series.items()}
    start = hours[168 * 3]
    found = detect(values, grain=HOUR, start=start, end=hours[-1])
    mine = as_frame(found)
    theirs = by_hand(series, 168, count=True).loc[start:]
    pd.testing.assert_frame_equal(
        mine[["usual", "low", "high", "score"]], theirs, check_names=False, check_freq=False
    )
    assert list(mine.index[mine.flagged]) == [doubled]


def test_a_ratio_is_judged_as_it_is_and_a_missing_day_is_unknown():
    rng = np.random.default_rng(3)
    rates = [0.2 + 0.05 * (d % 7 == 5) + rng.normal(0, 0.004) for d in range(35)]
    rates[30] = 0.12
    values = daily(rates)
    del values[FIRST + timedelta(days=33)]  # no row that day: unknown, not zero
    values[FIRST + timedelta(days=20)] = None  # the metric had no value: unknown too
    series = pd.Series(
        [values.get(FIRST + timedelta(days=d)) for d in range(35)],
        index=pd.date_range(FIRST, periods=35, freq="D"),
        dtype=float,
    )
    start = FIRST + timedelta(weeks=3)
    found = detect(
        values, grain=DAY, start=start, end=series.index[-1], settings=Settings(count=False)
    )
    mine = as_frame(found)
    theirs = by_hand(series, 7, count=False).loc[start:]
    known = series.loc[start:].notna()
    pd.testing.assert_frame_equal(
        mine.loc[known, ["usual", "low", "high", "score"]],
        theirs[known],
        check_names=False,
        check_freq=False,
    )
    assert list(mine.index[mine.flagged]) == [series.index[30]]
    unknown = found.points[33 - 21]
    assert (unknown.value, unknown.judged, unknown.note) == (None, False, "no value")


def test_too_short_a_history_is_reported_not_judged():
    found = detect(
        daily(noisy_weeks(2)[:10]),
        grain=DAY,
        start=FIRST + timedelta(days=7),
        end=FIRST + timedelta(days=9),
    )
    assert found.scale is None and not found.flagged and found.judged == 0
    assert found.note == (
        "nothing to compare with: a bucket needs its weekday in 2 earlier weeks of the "
        "series, which begins 2026-01-05"
    )
    assert all(p.note == found.note and p.expected is None for p in found.points)
    at = FIRST + timedelta(hours=7)
    hourly = detect({at: 5.0}, grain=HOUR, start=at + timedelta(days=8), end=at + timedelta(days=8))
    assert hourly.note.endswith(
        "its weekday and hour in 2 earlier weeks of the series, which begins 2026-01-05 07:00"
    )
    # Enough history for some buckets but not others: those say why.
    found = detect(
        daily(noisy_weeks(3)),
        grain=DAY,
        start=FIRST + timedelta(days=10),
        end=FIRST + timedelta(days=20),
    )
    notes = [p.note for p in found.points]
    assert notes[:4] == ["fewer than 2 earlier weeks"] * 4 and set(notes[4:]) == {""}


def test_a_constant_count_falls_back_to_poisson_noise():
    """MAD 0: the scale is 1/2 on the root scale (Poisson's), so around 100 (root 10) the range
    is (10 -/+ 2) squared, 64 to 144."""
    values = daily([100.0] * 28 + [121.0, 49.0, 100.0, 64.0])
    found = detect(
        values, grain=DAY, start=FIRST + timedelta(days=28), end=FIRST + timedelta(days=31)
    )
    assert found.scale == 0.5
    assert [(p.expected, p.low, p.high) for p in found.points] == [(100, 64, 144)] * 4
    assert [p.score for p in found.points] == [2.0, -6.0, 0.0, -4.0]
    assert [p.flagged for p in found.points] == [False, True, False, False]  # beyond 4 only


def test_a_ratio_that_is_mostly_constant_is_scaled_by_its_mean_deviation():
    """More than half the residuals 0 makes the MAD 0 however much the rest vary: the scale is
    then 1.2533 times the mean absolute deviation (normal noise's standard deviation too)."""
    rates = [0.0] * 35
    for day in (15, 19, 24, 26):
        rates[day] = 0.1  # a refund now and then
    rates[33] = 0.5
    values = daily(rates)
    found = detect(
        values,
        grain=DAY,
        start=FIRST + timedelta(days=28),
        end=FIRST + timedelta(days=34),
        settings=Settings(count=False),
    )
    series = pd.Series(rates, index=pd.date_range(FIRST, periods=35, freq="D"))
    earlier = pd.concat([series.shift(7 * w) for w in range(1, 5)], axis=1)
    residual = series - earlier.median(axis=1).where(earlier.count(axis=1) >= 2)
    assert (residual.dropna() - residual.median()).abs().median() == 0
    scale = math.sqrt(math.pi / 2) * (residual.dropna() - residual.median()).abs().mean()
    assert found.scale == pytest.approx(scale)
    assert [p.start for p in found.flagged] == [FIRST + timedelta(days=33)]
    assert found.flagged[0].score == pytest.approx(residual.iloc[33] / scale)  # 0.5 - 0.05


def test_a_series_that_does_not_vary_is_not_judged():
    found = detect(
        daily([0.25] * 30),
        grain=DAY,
        start=FIRST + timedelta(days=28),
        end=FIRST + timedelta(days=29),
        settings=Settings(count=False),
    )
    assert found.scale == 0 and found.judged == 0
    assert found.note == "the series does not vary: no noise to measure a change by"


def test_a_ratio_needs_a_week_of_comparisons_to_measure_its_noise():
    found = detect(
        daily([0.2, 0.21, 0.19, 0.2] * 4),
        grain=DAY,
        start=FIRST + timedelta(days=15),
        end=FIRST + timedelta(days=15),
        settings=Settings(count=False),
    )
    assert found.scale is None and found.judged == 0
    assert found.note == "too few comparisons to measure the noise by: 2, fewer than 7"


def test_all_zeros_raise_nothing():
    found = detect(
        daily([0.0] * 35),
        grain=DAY,
        start=FIRST + timedelta(days=14),
        end=FIRST + timedelta(days=34),
    )
    assert found.scale == 0.5 and not found.flagged and found.judged == 21
    assert {(p.expected, p.low, p.high, p.score) for p in found.points} == {(0, 0, 4, 0)}


def test_a_missing_count_is_zero_and_none_is_unknown():
    counts = noisy_weeks(4)
    values = daily(counts)
    del values[FIRST + timedelta(days=27)]  # no events that day: zero
    values[FIRST + timedelta(days=13)] = None  # an outage: no history for day 27 either
    found = detect(
        values, grain=DAY, start=FIRST + timedelta(days=27), end=FIRST + timedelta(days=27)
    )
    (point,) = found.points
    assert point.value == 0 and point.flagged
    assert point.expected == np.median([counts[20], counts[6]])  # day 13 left out


def test_buckets_under_min_expected_are_shown_but_not_judged():
    values = daily([10.0] * 28 + [40.0])
    found = detect(
        values,
        grain=DAY,
        start=FIRST + timedelta(days=28),
        end=FIRST + timedelta(days=28),
        settings=Settings(min_expected=50),
    )
    (point,) = found.points
    assert point.expected == 10 and point.score == pytest.approx(
        (math.sqrt(40) - math.sqrt(10)) / 0.5
    )
    assert not point.judged and not point.flagged
    assert point.note == "expected 10.0, under 50: too few to judge"


def test_first_cuts_the_history_and_dates_are_days():
    counts = noisy_weeks(6)
    values = {(FIRST + timedelta(days=i)).date(): v for i, v in enumerate(counts)}
    end = date(2026, 2, 15)
    full = detect(values, grain=DAY, start=end, end=end)
    cut = detect(values, grain=DAY, start=end, end=end, first=date(2026, 1, 26))
    assert full.points[0].expected == np.median([counts[41 - 7 * k] for k in range(1, 5)])
    assert cut.points[0].expected == np.median([counts[34], counts[27]])  # from Jan 26 only


def test_stl_expects_trend_plus_weekly_pattern():
    counts = noisy_weeks(6, seed=4)
    counts[30] *= 2
    roots = np.sqrt(np.array(counts))
    fit = STL(roots, period=7, robust=True).fit()
    centre = fit.trend + fit.seasonal
    scale = max(1.4826 * np.median(np.abs((roots - centre) - np.median(roots - centre))), 0.5)
    start = FIRST + timedelta(weeks=2)
    found = detect(
        daily(counts),
        grain=DAY,
        start=start,
        end=FIRST + timedelta(days=41),
        settings=Settings(method=Method.STL),
    )
    assert found.scale == pytest.approx(scale)
    assert [p.expected for p in found.points] == pytest.approx(list(centre[14:] ** 2))
    assert [p.start for p in found.flagged] == [FIRST + timedelta(days=30)]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: detect({}, grain="week", start=FIRST, end=FIRST), "grain"),
        (lambda: detect({}, grain=DAY, start=FIRST, end=FIRST - timedelta(days=1)), "end"),
        (
            lambda: detect({FIRST + timedelta(hours=1): 1}, grain=DAY, start=FIRST, end=FIRST),
            "values",
        ),
        (lambda: detect({FIRST: -1}, grain=DAY, start=FIRST, end=FIRST), "values"),
        (lambda: Settings(threshold=0), "threshold"),
        (lambda: Settings(threshold=math.nan), "threshold"),
        (lambda: Settings(method="prophet"), "method"),
        (lambda: Settings(min_history_weeks=0), "min_history_weeks"),
        (lambda: Settings(history_weeks=1), "history_weeks"),
        (lambda: Settings(min_expected=-1), "min_expected"),
    ],
)
def test_bad_input_names_its_field(call, field):
    with pytest.raises(InputError) as raised:
        call()
    assert raised.value.field == field


def test_an_empty_series_is_judged_nowhere_and_says_why():
    found = detect({}, grain=DAY, start=date(2026, 1, 1), end=date(2026, 1, 7))
    assert len(found.points) == 7 and found.judged == 0 and not found.flagged
    assert all(p.note.startswith("nothing to compare with") for p in found.points)
