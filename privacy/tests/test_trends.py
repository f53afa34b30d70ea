"""privacy.trends: the previous period, weekly buckets over long windows, and the headline
numbers as the pages write them (the pages' numbers are checked against pandas over the lake in
test_views_finance and test_views_support)."""

from datetime import date, timedelta

import pandas as pd

from privacy.trends import Headline, Window, finance_headlines, series


def test_the_previous_period_is_as_many_days_just_before():
    window = Window(date(2026, 1, 25), date(2026, 1, 31))
    assert window.previous == Window(date(2026, 1, 18), date(2026, 1, 24))
    assert window.days == window.previous.days == 7 and window.grain == "day"
    long = Window(date(2025, 1, 1), date(2025, 12, 31))
    # As many days (365), not the calendar year before: 2024 had 366.
    assert long.previous == Window(date(2024, 1, 2), date(2024, 12, 31))
    assert long.grain == "week"


def test_a_long_window_is_summed_per_week_from_monday_every_week_present():
    window = Window(date(2026, 1, 1), date(2026, 4, 30))  # 120 days, a Thursday to a Thursday
    days = [window.start + timedelta(days=i) for i in range(window.days) if i % 5 == 0]
    frame = pd.DataFrame({"day": days, "cases": [1] * len(days)})
    weekly = series(frame, window, ["cases"])
    # The first bucket starts on the window's first day, the others on Mondays.
    assert weekly["bucket"].iloc[0] == date(2026, 1, 1)
    assert all(b.weekday() == 0 for b in weekly["bucket"].iloc[1:])
    assert len(weekly) == 18 and weekly["cases"].sum() == len(days)
    empty = series(frame.iloc[0:0], window, ["cases"])
    assert len(empty) == 18 and empty["cases"].sum() == 0


def test_amounts_are_compared_per_currency_never_summed_over_them():
    window = Window(date(2026, 1, 8), date(2026, 1, 14))
    frame = pd.DataFrame(
        {
            "day": [date(2026, 1, 3), date(2026, 1, 9), date(2026, 1, 9), date(2026, 1, 10)],
            "currency": ["GBP", "EUR", "GBP", "EUR"],
            "cases": [2, 1, 4, 3],
            "amount_cents": [150_000, 123_456, 200_000, 1_000],
        }
    )
    headlines = {(h.label, h.currency): h for h in finance_headlines(frame, window)}
    assert (headlines["Cases", ""].current, headlines["Cases", ""].previous) == (8, 2)
    assert headlines["Cases", ""].delta_text == "+6 (+300.0%)"
    eur, gbp = headlines["Amount", "EUR"], headlines["Amount", "GBP"]
    assert (eur.current_text, eur.previous_text, eur.delta_text) == (
        "1,244.56",
        "0.00",
        "+1,244.56",
    )
    assert (gbp.current_text, gbp.delta_text) == ("2,000.00", "+500.00 (+33.3%)")


def test_a_missing_number_is_a_dash_and_has_no_delta():
    headline = Headline("Avg first response (min)", None, 12.5, unit="minutes")
    assert (headline.current_text, headline.previous_text, headline.delta_text) == (
        "\N{EN DASH}",
        "12.5",
        "",
    )
