"""The metrics catalogue from the command line: validate (CI runs it), list, run."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.engines import ENGINE_NAMES
from core.errors import InputError
from metrics.catalogue import UnknownMetric, load_catalogue
from metrics.params import metric_params
from metrics.services import metric_data_run_sync
from metrics.validation import read_versions, record_versions, validate
from warehouse.engines.base import WarehouseError
from warehouse.services import QueryFailed


class Command(BaseCommand):
    help = "Validate, list and run the canonical metrics of analytics/metrics/."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        check = actions.add_parser("validate", help="check every metric file; non-zero on problems")
        check.add_argument(
            "--record",
            action="store_true",
            help="first record the SQL hash of every new metric version in versions.json",
        )
        listing = actions.add_parser("list", help="the catalogue")
        listing.add_argument("--json", action="store_true", help="one JSON object per metric")
        run = actions.add_parser("run", help="run one metric and print its result")
        run.add_argument("slug")
        run.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
        run.add_argument("--end", required=True, help="last day (inclusive), YYYY-MM-DD")
        run.add_argument("--grain", default="day", help="day, week or month (default day)")
        run.add_argument("--split-by", help="a dimension of the metric")
        run.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="DIMENSION=VALUE",
            help="keep one value of a dimension (repeatable)",
        )
        run.add_argument("--engine", help=f"one of {', '.join(ENGINE_NAMES)} (default WAREHOUSE)")
        run.add_argument("--format", choices=("csv", "json"), default="csv")
        run.add_argument(
            "--force-refresh", action="store_true", help="run even if a cached result exists"
        )
        for sub in (check, listing, run):
            sub.add_argument(
                "--dir", type=Path, help="metrics directory (default settings.METRICS_DIR)"
            )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["dir"] or Path(settings.METRICS_DIR)
        if not directory.is_dir():
            raise CommandError(f"--dir: {directory} is not a directory")
        catalogue = load_catalogue(directory)
        if options["action"] == "validate":
            self._validate(catalogue, directory, options["record"])
        elif options["action"] == "list":
            self._list(catalogue, options["json"])
        else:
            self._run(catalogue, options)

    def _validate(self, catalogue, directory: Path, record: bool) -> None:
        try:
            if record:
                for what in record_versions(catalogue, directory):
                    self.stdout.write(f"recorded {what}")
            problems = validate(catalogue, read_versions(directory))
        except (ValueError, OSError) as err:
            raise CommandError(str(err)) from None
        for problem in problems:
            self.stderr.write(problem)
        total = len(catalogue.metrics) + len(catalogue.broken)
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in {total} metric files")
        self.stdout.write(f"{total} metrics OK")

    def _list(self, catalogue, as_json: bool) -> None:
        if as_json:
            rows = [_summary(m) for m in catalogue.metrics.values()]
            rows += [
                {"slug": b.slug, "broken": True, "errors": list(b.errors)}
                for b in catalogue.broken.values()
            ]
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for metric in catalogue.metrics.values():
            self.stdout.write(
                f"{metric.slug:32} v{metric.version:<3} {metric.area:20} {metric.unit:8} "
                f"{metric.title}"
            )
        for broken in catalogue.broken.values():
            self.stdout.write(f"{broken.slug:32} BROKEN: {broken.errors[0]}")

    def _run(self, catalogue, options: dict[str, Any]) -> None:
        try:
            metric = catalogue.get(options["slug"])
        except UnknownMetric:
            broken = catalogue.broken.get(options["slug"])
            if broken is not None:
                raise CommandError(f"{broken.slug} is broken: {broken.errors[0]}") from None
            raise CommandError(f"slug: no metric {options['slug']!r}") from None
        engine = options["engine"]
        if engine is not None and engine not in ENGINE_NAMES:
            raise CommandError(f"--engine: must be one of {', '.join(ENGINE_NAMES)}")
        try:
            params = metric_params(
                metric,
                start=_date("start", options["start"]),
                end=_date("end", options["end"]),
                grain=options["grain"],
                split_by=options["split_by"],
                filters=_filters(options["filter"]),
                max_window_days=settings.METRICS_MAX_WINDOW_DAYS,
            )
        except InputError as err:
            option = err.field if err.field in ("start", "end", "grain", "split_by") else "filter"
            raise CommandError(f"--{option.replace('_', '-')}: {err.message}") from None
        try:
            result = metric_data_run_sync(
                metric=metric,
                params=params,
                engine=engine,
                force_refresh=options["force_refresh"],
            )
        except QueryFailed as err:
            raise CommandError(f"{metric.slug} failed on {err.run.engine}: {err}") from None
        except WarehouseError as err:  # transient: the run stays queued for a retry
            raise CommandError(f"{metric.slug}: the warehouse is unavailable: {err}") from None
        frame = _printable(result.frame)
        if options["format"] == "csv":
            self.stdout.write(frame.to_csv(index=False), ending="")
            return
        payload = {
            "metric": metric.slug,
            "version": metric.version,
            "unit": metric.unit,
            "run_id": result.run_id,
            "data_as_of": result.data_as_of,
            "params": {k: str(v) for k, v in params.bind(metric).items()},
            "rows": json.loads(frame.to_json(orient="records")),
        }
        self.stdout.write(json.dumps(payload, indent=2, default=str))


def _summary(metric) -> dict[str, Any]:
    return {
        "slug": metric.slug,
        "title": metric.title,
        "area": metric.area,
        "unit": metric.unit,
        "format": metric.format,
        "version": metric.version,
        "owner": metric.owner,
        "grains": list(metric.grains),
        "dimensions": list(metric.dimensions),
        "higher_is_better": metric.higher_is_better,
        "audience": metric.audience,
        "tables": sorted(metric.tables),
        "columns": {t: sorted(c) for t, c in metric.columns.items()},
        "description": metric.description,
    }


def _date(option: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"--{option}: {raw!r} is not a date (YYYY-MM-DD)") from None


def _filters(raw: list[str]) -> dict[str, str]:
    filters = {}
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"--filter: {item!r} should read DIMENSION=VALUE")
        filters[name] = value
    return filters


def _printable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "period" in out and len(out):
        out["period"] = pd.to_datetime(out["period"]).dt.strftime("%Y-%m-%d")
    return out
