"""The method comparison behind docs/anomalies.md: for each method and threshold of
core.anomalies, the flags it raises on a clean demo lake and whether it finds anomalies planted
in the same series.

The series are counted with pandas from the lake's Parquet files, the way the portal counts
them: events per hour and per day and event name from bronze raw_events by ingest time (the
pipeline's volume check; buckets expected to hold fewer than 50 events are not judged), and
funnel events per day and visitor country (gold fact_funnel_events by event day; a visitor's
country is the one their experiment exposures carry, and the 2% never exposed are left out).
Each series is judged over the lake's last 62 days with the 4 weeks before them as history,
as one health run or one `manage.py metrics anomalies` does.

Planted, each on its own copy of a series, once mid-window and once on the newest data (the
series then ends with the anomaly, as when the health job first sees it): a day without any
profile_view events, twice the search events in the day's busiest hour, and a 30% drop of the
German visitors' funnel events for three days.

    .venv/bin/python manage.py demo_lake --root var/lake90 --end-date 2026-01-31
    .venv/bin/python tools/anomaly_rates.py var/lake90
"""

import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.anomalies import DAY, HOUR, Detection, Method, Settings, detect

THRESHOLDS = (3.5, 4.0, 4.5, 5.0)
MIN_EVENTS = 50  # settings.PIPELINE_THRESHOLDS["volume_min_events"]
WEEKS = 4
JUDGED_DAYS = 62

Series = dict[datetime, float]


def counts(frame: pd.DataFrame, column: str, key: str, freq: str) -> dict[str, Series]:
    grouped = frame.groupby([frame[column].dt.floor(freq), key]).size()
    out: dict[str, Series] = {}
    for (start, name), n in grouped.items():
        out.setdefault(name, {})[start.to_pydatetime()] = float(n)
    return out


def load(root: Path) -> tuple[dict[str, Series], dict[str, Series], dict[str, Series]]:
    raw = pd.read_parquet(root / "bronze/raw_events", columns=["event_name", "ingest_ts"])
    funnel = pd.read_parquet(root / "gold/fact_funnel_events", columns=["identity_id", "event_ts"])
    exposures = pd.read_parquet(
        root / "gold/fact_experiment_exposures", columns=["identity_id", "country"]
    ).drop_duplicates("identity_id")
    funnel = funnel.merge(exposures, on="identity_id")
    return (
        counts(raw, "ingest_ts", "event_name", "h"),
        counts(raw, "ingest_ts", "event_name", "D"),
        counts(funnel, "event_ts", "country", "D"),
    )


def judge(series: Series, grain: str, start: datetime, last: datetime, st: Settings) -> Detection:
    """The buckets from ``start`` to the end of day ``last``, on the series up to then."""
    end = last + (timedelta(hours=23) if grain == HOUR else timedelta(0))
    known = {k: v for k, v in series.items() if k <= end}
    first = start - timedelta(weeks=WEEKS)
    return detect(known, grain=grain, start=start, end=end, settings=st, first=first)


def alarms(per_name: dict[str, Series], grain, start, last, st: Settings) -> str:
    flagged = judged = 0
    for series in per_name.values():
        found = judge(series, grain, start, last, st)
        flagged, judged = flagged + len(found.flagged), judged + found.judged
    return f"{flagged}/{judged}"


def planted(series: Series, when: list[datetime], change: Callable[[float], float]) -> Series:
    return {**series, **{t: change(series.get(t, 0.0)) for t in when}}


def hits(found: Detection, when: list[datetime]) -> int:
    return sum(p.flagged for p in found.points if p.start in when)


def finds(hourly, daily, countries, day, newest: bool, start, last, volume, metric) -> str:
    """The three anomalies on ``day`` (the drop on the three days from it); with ``newest``,
    each series ends with its anomaly."""
    empty = planted(daily["profile_view"], [day], lambda _: 0.0)
    hours = [day + timedelta(hours=h) for h in range(24)]
    peak = max(hours, key=lambda h: hourly["search"].get(h, 0.0))
    doubled = planted(hourly["search"], [peak], lambda n: 2 * n)
    drop_days = [day + timedelta(days=k) for k in range(3)]
    dropped = planted(countries["DE"], drop_days, lambda n: round(0.7 * n))
    drop_end = drop_days[-1] if newest else last
    return ", ".join(
        (
            f"{hits(judge(empty, DAY, start, day if newest else last, volume), [day])}/1",
            f"{hits(judge(doubled, HOUR, start, day if newest else last, volume), [peak])}/1",
            f"{hits(judge(dropped, DAY, start, drop_end, metric), drop_days)}/3",
        )
    )


def main(root: Path) -> None:
    hourly, daily, countries = load(root)
    last = max(max(s) for s in daily.values())
    start = last - timedelta(days=JUDGED_DAYS - 1)
    print(f"{root}: {start:%Y-%m-%d} to {last:%Y-%m-%d} judged, {WEEKS} weeks of history\n")
    print(
        "| method | threshold | flags on the clean lake: volume hours | volume days | "
        "country days | found mid-window: empty day, doubled hour, country drop | "
        "found on the newest data | seconds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for method in Method:
        for threshold in THRESHOLDS:
            began = time.monotonic()
            volume = Settings(threshold=threshold, method=method, min_expected=MIN_EVENTS)
            metric = Settings(threshold=threshold, method=method)
            cells = (
                alarms(hourly, HOUR, start, last, volume),
                alarms(daily, DAY, start, last, volume),
                alarms(countries, DAY, start, last, metric),
                finds(
                    hourly,
                    daily,
                    countries,
                    last - timedelta(days=17),
                    False,
                    start,
                    last,
                    volume,
                    metric,
                ),
                finds(
                    hourly,
                    daily,
                    countries,
                    last - timedelta(days=2),
                    True,
                    start,
                    last,
                    volume,
                    metric,
                ),
            )
            print(
                f"| {method} | {threshold:g} | {' | '.join(cells)} | "
                f"{time.monotonic() - began:.0f} |"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
