"""The metrics catalogue from the command line: validate (CI runs it), list, run, anomalies."""

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import anomalies
from core.engines import ENGINE_NAMES
from core.errors import InputError
from metrics.catalogue import Catalogue, UnknownMetric, load_catalogue
from metrics.definitions import Metric
from metrics.params import MetricParams, metric_params
from metrics.services import metric_data_run_sync
from metrics.validation import read_versions, record_versions, validate
from warehouse.engines.base import WarehouseError
from warehouse.result_cache import CachedResult
from warehouse.services import QueryFailed

# A ratio's day of fewer cases says little: its noise would set the scale for every day.
MIN_CASES = 30


class Command(BaseCommand):
    help = "Validate, list and run the canonical metrics of analytics/metrics/; find anomalies."

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
        weeks = anomalies.Settings().history_weeks
        odd = actions.add_parser(
            "anomalies",
            help="the days of one metric outside their expected range",
            description=(
                f"Run the metric by day from {weeks} weeks before --start to --end (those weeks "
                "are the history each day is compared with: the median of the same weekday in "
                f"up to {weeks} earlier weeks, at least 2) and print the days from --start to "
                "--end whose score is beyond --threshold, with their expected range "
                "(docs/anomalies.md). Days after the newest data, and the cohorts of a censored "
                "metric that have not matured yet, are not judged."
            ),
        )
        odd.add_argument("slug")
        odd.add_argument("--start", required=True, help="first day judged, YYYY-MM-DD")
        odd.add_argument("--end", required=True, help="last day judged (inclusive), YYYY-MM-DD")
        odd.add_argument("--split-by", help="judge each value of this dimension on its own")
        odd.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="DIMENSION=VALUE",
            help="keep one value of a dimension (repeatable)",
        )
        odd.add_argument(
            "--threshold",
            type=float,
            default=anomalies.Settings().threshold,
            help="flag a day whose score is beyond this either way (default %(default)g)",
        )
        odd.add_argument(
            "--method",
            choices=[str(m) for m in anomalies.Method],
            default=anomalies.Method.MEDIAN,
            help="median (default) or stl (statsmodels' robust STL)",
        )
        odd.add_argument(
            "--min-cases",
            type=int,
            default=MIN_CASES,
            help="a ratio's day with fewer cases (its denominator) is not judged, nor compared "
            "with (default %(default)s)",
        )
        odd.add_argument("--engine", help=f"one of {', '.join(ENGINE_NAMES)} (default WAREHOUSE)")
        odd.add_argument("--json", action="store_true", help="a JSON list of the flagged days")
        odd.add_argument(
            "--force-refresh", action="store_true", help="run even if a cached result exists"
        )
        for sub in (check, listing, run, odd):
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
        elif options["action"] == "anomalies":
            self._anomalies(catalogue, options)
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
        metric = _metric(catalogue, options["slug"])
        params = _params(
            metric,
            start=_date("start", options["start"]),
            end=_date("end", options["end"]),
            grain=options["grain"],
            options=options,
        )
        result = _result(metric, params, options)
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

    def _anomalies(self, catalogue, options: dict[str, Any]) -> None:
        metric = _metric(catalogue, options["slug"])
        start, end = _date("start", options["start"]), _date("end", options["end"])
        if end < start:
            raise CommandError("--end: must not be before --start")
        if options["min_cases"] < 0:
            raise CommandError("--min-cases: must be 0 or more")
        try:
            judging = anomalies.Settings(
                threshold=options["threshold"],
                method=options["method"],
                count=metric.unit == "count",
            )
        except InputError as err:
            raise CommandError(f"--{err.field}: {err.message}") from None
        first = start - timedelta(weeks=judging.history_weeks)
        try:
            params = _params(metric, start=first, end=end, grain="day", options=options)
        except CommandError as err:
            if str(err).startswith("--end: the window"):
                history = f"with the {judging.history_weeks} weeks of history before --start"
                raise CommandError(f"{err} ({history})") from None
            raise
        result = _result(metric, params, options)
        last = _last_judged(metric, end, result.data_as_of)
        why = _why_not(metric, result.data_as_of)
        if last < start:
            raise CommandError(f"--start: no day from {start} on can be judged: {why}")
        if last < end:
            self.stderr.write(f"days after {last} are not judged: {why}")
        per_value = _series(result.frame, options["min_cases"])
        if per_value:  # before the data begins a count is unknown, not zero
            first = max(first, min(min(days) for days in per_value.values()))
        flagged, judged, notes = [], 0, Counter()
        for value, series in per_value.items():
            found = anomalies.detect(
                series, grain=anomalies.DAY, start=start, end=last, settings=judging, first=first
            )
            judged += found.judged
            flagged += [_flag(value, point) for point in found.flagged]
            notes.update(p.note for p in found.points if not p.judged)
        if not judged:
            reason = notes.most_common(1)[0][0] if notes else "the metric has no rows"
            self.stderr.write(f"no day was judged: {reason}")
        flagged.sort(key=lambda row: (row["period"], row["dimension_value"]))
        if options["json"]:
            self.stdout.write(json.dumps(flagged, indent=2))
            return
        self._table(metric, flagged, options["split_by"])
        self.stdout.write(
            f"{len(flagged)} of {judged} judged days flagged from {start} to {last} "
            f"({judging.method}, threshold {judging.threshold:g})"
        )

    def _table(self, metric: Metric, flagged: list[dict[str, Any]], split_by: str | None) -> None:
        if not flagged:
            return
        columns = [
            "period",
            *([split_by] if split_by else []),
            "value",
            "expected",
            "range",
            "score",
        ]
        rows = [
            [
                row["period"],
                *([row["dimension_value"]] if split_by else []),
                _number(metric, row["value"]),
                _number(metric, row["expected"]),
                f"{_number(metric, row['low'])} to {_number(metric, row['high'])}",
                f"{row['score']:+.1f}",
            ]
            for row in flagged
        ]
        widths = [max(len(str(c)), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
        for line in (columns, *rows):
            self.stdout.write(
                "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            )


def _metric(catalogue: Catalogue, slug: str) -> Metric:
    try:
        return catalogue.get(slug)
    except UnknownMetric:
        broken = catalogue.broken.get(slug)
        if broken is not None:
            raise CommandError(f"{broken.slug} is broken: {broken.errors[0]}") from None
        raise CommandError(f"slug: no metric {slug!r}") from None


def _params(
    metric: Metric, *, start: date, end: date, grain: str, options: dict[str, Any]
) -> MetricParams:
    try:
        return metric_params(
            metric,
            start=start,
            end=end,
            grain=grain,
            split_by=options["split_by"],
            filters=_filters(options["filter"]),
            max_window_days=settings.METRICS_MAX_WINDOW_DAYS,
        )
    except InputError as err:
        option = err.field if err.field in ("start", "end", "grain", "split_by") else "filter"
        raise CommandError(f"--{option.replace('_', '-')}: {err.message}") from None


def _result(metric: Metric, params: MetricParams, options: dict[str, Any]) -> CachedResult:
    engine = options["engine"]
    if engine is not None and engine not in ENGINE_NAMES:
        raise CommandError(f"--engine: must be one of {', '.join(ENGINE_NAMES)}")
    try:
        return metric_data_run_sync(
            metric=metric, params=params, engine=engine, force_refresh=options["force_refresh"]
        )
    except QueryFailed as err:
        raise CommandError(f"{metric.slug} failed on {err.run.engine}: {err}") from None
    except WarehouseError as err:  # transient: the run stays queued for a retry
        raise CommandError(f"{metric.slug}: the warehouse is unavailable: {err}") from None


def _last_judged(metric: Metric, end: date, data_as_of: str | None) -> date:
    """``end``, or the newest day with data; for a censored metric, its latest matured cohort
    (the day metrics.windows.matured_window ends a tile's window on)."""
    if data_as_of is None:
        return end
    last = date.fromisoformat(data_as_of)
    if metric.matures_after_days:
        last -= timedelta(days=metric.matures_after_days)
    return min(end, last)


def _why_not(metric: Metric, data_as_of: str | None) -> str:
    if metric.matures_after_days:
        return (
            f"the data ends on {data_as_of} and its cohorts mature after "
            f"{metric.matures_after_days} days"
        )
    return f"the data ends on {data_as_of}"


def _series(frame: pd.DataFrame, min_cases: int) -> dict[str, dict[date, float | None]]:
    """Each dimension value's days and values: None where the metric has no value, or is a
    ratio of fewer than ``min_cases`` cases (a handful of bookings makes a refund rate jump)."""
    if frame.empty:
        return {}
    days = pd.to_datetime(frame["period"]).dt.date
    values = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    if "denominator" in frame:
        values = values.where(pd.to_numeric(frame["denominator"]) >= min_cases)
    labels = (
        frame["dimension_value"] if "dimension_value" in frame else pd.Series("all", frame.index)
    )
    series: dict[str, dict[date, float | None]] = {}
    for label, day, value in zip(labels, days, values, strict=True):
        series.setdefault(str(label), {})[day] = None if pd.isna(value) else float(value)
    return series


def _flag(dimension_value: str, point: anomalies.Point) -> dict[str, Any]:
    return {
        "period": point.start.date().isoformat(),
        "dimension_value": dimension_value,
        "value": point.value,
        "expected": point.expected,
        "low": point.low,
        "high": point.high,
        "score": point.score,
    }


def _number(metric: Metric, value: float) -> str:
    return f"{value:,.0f}" if metric.unit == "count" else f"{value:.4g}"


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
