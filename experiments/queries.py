"""The canonical SQL of experiments (analytics/experiments/*.sql) and the parameters it binds."""

import datetime
from functools import cache
from pathlib import Path

from experiments.crawlers import CRAWLER_PATTERN
from warehouse.lake.contract import Access

SQL_DIR = Path(__file__).resolve().parent.parent / "analytics" / "experiments"
# Experiments read general tables only; jobs run with this scope, people with their own.
JOB_SCOPE = frozenset({Access.GENERAL})


@cache
def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def exposure_stats(
    experiment_key: str, start: datetime.date, end: datetime.date
) -> tuple[str, dict]:
    params = {
        "experiment_key": experiment_key,
        "start": start,
        "end": end,
        "crawler_pattern": CRAWLER_PATTERN,
    }
    return sql("exposure_stats"), params


def baseline(
    start: datetime.date, end: datetime.date, experiment_key: str = "", control: str = "control"
) -> tuple[str, dict]:
    params = {
        "experiment_key": experiment_key,
        "control_variant": control,
        "start": start,
        "end": end,
        "crawler_pattern": CRAWLER_PATTERN,
    }
    return sql("baseline"), params
