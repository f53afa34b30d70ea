"""Re-warming after a write: what a DSAR-like write of three tables costs the dashboards, against
a write of everything (a load), on the 50M-event lake, measured in the same run.

A result is cached under the versions of the tables it reads (docs/architecture.md#watermarks).
Every dashboard tile's default view is warmed for two scopes in use (analyst and support), then
the lake's watermark is bumped, and Celery beat's warming check runs
(metrics.warming.dashboards_warm_if_watermark_moved) and the runs it queued are executed one
after the other in this process, as one worker would. Per bump, three times: the views queued
again, the seconds until all are cached again (median), and the bytes they scanned (what
Athena bills).

- load (the baseline): every table, as a load bumps it; before per-table watermarks every
  write did this;
- dsar_three_tables: consent_changes, dim_identities and fact_messages_sent, the tables a DSAR
  of a subject who only ever received messages changes;
- dsar_active_subject: the six tables a DSAR of a typical active subject (events, funnel,
  experiments, consent) changes.
"""

import statistics
import time
from collections.abc import Callable

from bench import common

REPEAT = 3
WRITES = {
    "dsar_three_tables": ["consent_changes", "dim_identities", "fact_messages_sent"],
    "dsar_active_subject": [
        "consent_changes",
        "dim_identities",
        "events",
        "fact_experiment_exposures",
        "fact_funnel_events",
        "raw_events",
    ],
}


def _users() -> None:
    from django.contrib.auth.models import Group, User

    for name, role in (("bench-analyst", "analyst"), ("bench-support", "support")):
        user, _ = User.objects.get_or_create(username=name)
        user.groups.add(Group.objects.get_or_create(name=role)[0])


def _rewarm(warm: Callable[[], int]) -> dict:
    """``warm``, then every run it queued executed here: until every view is cached; seconds
    of this alone (the suite's timings also count the watermark's bump)."""
    from warehouse.models import QueryRun
    from warehouse.services import query_run_execute

    last = QueryRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    started = time.perf_counter()
    queued = warm()
    runs = QueryRun.objects.filter(pk__gt=last).order_by("pk")
    for run_id in runs.values_list("pk", flat=True):
        query_run_execute(run_id=run_id)
    seconds = time.perf_counter() - started
    failed = runs.exclude(status=QueryRun.Status.SUCCEEDED)
    if failed.exists():
        raise SystemExit(f"re-warming failed: {failed.first().error}")
    labels = runs.values_list("label", flat=True)
    return {
        "views_queued": queued,
        "runs": runs.count(),
        "seconds": round(seconds, 2),
        "bytes_scanned": sum(b or 0 for b in runs.values_list("bytes_scanned", flat=True)),
        "metrics": sorted({label.removeprefix("metric:") for label in labels}),
    }


def run() -> dict:
    from django.core.management import call_command

    from metrics.warming import (
        dashboards_warm,
        dashboards_warm_if_watermark_moved,
        default_views,
        scopes_in_use,
    )
    from warehouse.lake import storage

    common.lake_marker()  # or the lake suite has not run
    call_command("migrate", verbosity=0)
    _users()
    scopes = scopes_in_use()
    mark = storage.read_watermark(common.BENCH_LAKE)
    tiles = [metric for metric, _ in default_views(mark.max_partition)]
    views = sum(metric.readable_by(scope) for metric in tiles for scope in scopes)

    # Every view cached (and the OS page cache warm) before anything is measured.
    _rewarm(dashboards_warm)
    kinds: dict[str, list[str] | None] = {"load": None, **WRITES}
    details: dict[str, list[dict]] = {name: [] for name in kinds}

    def write(name: str, tables: list[str] | None):
        def once(_round: int) -> None:
            storage.bump_watermark(common.BENCH_LAKE, tables=tables)
            details[name].append(_rewarm(dashboards_warm_if_watermark_moved))

        return once

    samples = common.alternate(
        {name: write(name, tables) for name, tables in kinds.items()}, REPEAT, warmup=0
    )
    measured = {
        name: {**details[name][-1], "seconds": round(statistics.median(samples[name]), 2)}
        for name in kinds
    }
    load = measured["load"]
    results = {
        "lake": str(common.BENCH_LAKE),
        "data_as_of": mark.max_partition,
        "scopes_in_use": len(scopes),
        "tile_views": views,
        "repeat": REPEAT,
        "load": {"tables": "all", **load, "metrics": len(load["metrics"])},
    }
    for name, tables in WRITES.items():
        write_ = measured[name]
        results[name] = {
            "tables": tables,
            **write_,
            "views_ratio": round(write_["views_queued"] / load["views_queued"], 3),
            "seconds_ratio": round(write_["seconds"] / load["seconds"], 3),
            "bytes_ratio": round(write_["bytes_scanned"] / max(load["bytes_scanned"], 1), 3),
        }
    # Measured for the docs, with no target of its own.
    return {**results, "targets": {}, "met": {}}
