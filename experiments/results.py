"""The results job: sufficient statistics from the warehouse, statistics in Python, snapshots
in the portal database, the gold table in the lake, and SRM and guardrail alerts.

Runs on a Celery worker (hourly for running experiments, or on demand). A failed query is
recorded as a failed computation and the job can simply run again.
"""

import dataclasses
import datetime
import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.services import alert_raise, alert_resolve
from core.engines import REMOTE_ENGINES
from experiments import queries, selectors, verdict
from experiments.analysis import Analysis, CatalogueRows, Setup, analyse, decision_lines
from experiments.catalogue import metric_title, titles_for
from experiments.health import hygiene_from_row
from experiments.lake import (
    NoResultTable,
    experiment_results_replace,
    experiment_results_write,
    remote_result_table,
    result_file,
)
from experiments.models import Experiment, ResultComputation, ResultSnapshot
from experiments.outcomes import OUTCOME_METRICS
from metrics.catalogue import load_catalogue
from warehouse.services import QueryFailed, query_run_sync

SOURCE = "experiments"
log = logging.getLogger(__name__)


def results_compute(
    *, experiment_id: int, today: datetime.date | None = None
) -> ResultComputation | None:
    """Compute and store the experiment's results now; None for a draft (nothing to read)."""
    experiment = Experiment.objects.prefetch_related("variants").get(pk=experiment_id)
    now = timezone.now()
    today = today or now.date()
    window = experiment.analysis_window(today)
    if window is None:
        return None
    try:
        result = _job_query(
            f"experiment results: {experiment.key}", queries.exposure_stats(experiment.key, *window)
        )
        hygiene = _job_query(
            f"experiment health: {experiment.key}",
            queries.exposure_hygiene(experiment.key, *window),
        )
    except QueryFailed as err:
        return results_fail(experiment_id=experiment.pk, error=str(err), run=err.run)
    setup = experiment_setup(experiment)
    catalogue, catalogue_warnings = _catalogue_rows(experiment, window)
    segments, segment_warnings = _segment_rows(experiment, window)
    analysis = analyse(
        setup,
        result.frame.to_dict("records"),
        today,
        catalogue,
        hygiene_from_row(hygiene.frame.iloc[0]),
        segments,
    )
    snapshots = _snapshots(experiment, analysis, now)
    rows = [_lake_row(experiment, s) for s in snapshots if not s.error]
    content_hash = _content_hash(rows)
    lake_status = _lake_write(experiment, rows, content_hash, today)
    with transaction.atomic():
        computation = ResultComputation.objects.create(
            experiment=experiment,
            computed_at=now,
            status=ResultComputation.Status.SUCCEEDED,
            query_run_id=result.run_id,
            window_start=window[0],
            window_end=window[1],
            data_as_of=result.data_as_of or "",
            totals={name: dataclasses.asdict(t) for name, t in analysis.totals.items()},
            exposures={
                name: {"days": [d.isoformat() for d in e.days], "cumulative": list(e.cumulative)}
                for name, e in analysis.exposures.items()
            },
            srm_p_value=analysis.srm.p_value if analysis.srm else None,
            srm_alert=bool(analysis.srm and analysis.srm.srm_alert),
            days_remaining=analysis.progress.days_remaining,
            decision_date=analysis.progress.decision_date,
            decision=decision_lines(
                setup, analysis, titles_for([slug for slug, _ in setup.metrics])
            ),
            warnings=[*analysis.warnings, *segment_warnings, *catalogue_warnings],
            lake_status=lake_status,
            content_hash=content_hash,
            method={
                "sequential": setup.sequential,
                "tuning": setup.tuning if setup.sequential else None,
                "correction": setup.correction,
                "alpha": setup.alpha,
            },
            health=[dataclasses.asdict(check) for check in analysis.health],
            breakdowns=_breakdowns_json(analysis),
            lift_over_time={
                name: {
                    "days": [d.isoformat() for d in series.days],
                    "lift_rel": list(series.lift_rel),
                    "low": list(series.low),
                    "high": list(series.high),
                }
                for name, series in analysis.lift_over_time.items()
            },
        )
        for snapshot in snapshots:
            snapshot.computation = computation
        ResultSnapshot.objects.bulk_create(snapshots)
        _alerts(experiment, analysis)
    if experiment.guardrail_auto_kill and experiment.is_running:
        _guardrail_kill(experiment, analysis)
    return computation


def _guardrail_kill(experiment: Experiment, analysis: Analysis) -> None:
    """The opt-in automatic rollback: a breached guardrail stops the experiment through the
    kill-switch, logged (by nobody: the system) with the breaches as the reason."""
    # Services enqueue this job (services -> tasks -> results): a module-level import would
    # be a cycle.
    from experiments.services import experiment_kill

    titles = titles_for([m.slug for m in analysis.metrics])
    breaches = [
        f"{metric_title(m.slug, titles)} breached by {variant}"
        for m in analysis.metrics
        for variant in m.breached
    ]
    if not breaches:
        return
    reason = "Automatic guardrail kill: " + "; ".join(breaches) + "."
    experiment_kill(experiment=experiment, user=None, reason=reason)
    alert_raise(
        key=selectors.auto_kill_alert_key(experiment),
        source=SOURCE,
        severity="alarm",
        title=f"Experiment {experiment.key} stopped by its guardrails",
        detail=reason + " Everyone now gets control.",
        values={"breaches": breaches},
        link=f"/experiments/{experiment.key}/",
    )


def results_fail(*, experiment_id: int, error: str, run=None) -> ResultComputation:
    """Record a computation that did not finish; the page shows it next to the last good one."""
    return ResultComputation.objects.create(
        experiment_id=experiment_id,
        computed_at=timezone.now(),
        status=ResultComputation.Status.FAILED,
        error=error[:10_000],
        query_run=run,
    )


def _catalogue_rows(
    experiment: Experiment, window: tuple[datetime.date, datetime.date]
) -> tuple[dict[str, CatalogueRows], list[str]]:
    """Per-variant rows of each catalogue metric the experiment names and experiments can
    split by unit: one warehouse query each, or for a primary or secondary metric with
    dimensions of its own one per dimension (its results by dimension), whose dimension rows
    are tagged with it. A metric whose first query fails gets its error, the others are
    still computed; a later split that fails leaves only that dimension out, with a warning."""
    catalogue = load_catalogue()
    found: dict[str, CatalogueRows] = {}
    warnings: list[str] = []
    for slug, role in experiment.metrics():
        if slug in OUTCOME_METRICS:
            continue
        metric = catalogue.metrics.get(slug)
        if metric is None:
            reason = "broken" if slug in catalogue.broken else "no longer"
            found[slug] = CatalogueRows(
                (), True, f"cannot be computed: its definition is {reason} in the catalogue"
            )
            continue
        if metric.experiment_unit is None:
            continue
        if not metric.readable_by(queries.JOB_SCOPE):
            found[slug] = CatalogueRows(
                (), metric.higher_is_better, "cannot be computed: it reads restricted data"
            )
            continue
        splits = list(metric.dimensions) if role != "guardrail" and metric.dimensions else [None]
        rows: list[dict[str, Any]] = []
        for split_by in splits:
            try:
                result = _job_query(
                    f"experiment results: {experiment.key} / {slug}"
                    + (f" by {split_by}" if split_by else ""),
                    queries.metric_unit_stats(metric, experiment.key, *window, split_by),
                )
            except QueryFailed as err:
                if split_by != splits[0]:
                    warnings.append(
                        f"{metric.title} by {split_by} could not be computed "
                        f"(query run {err.run.pk})"
                    )
                    continue
                found[slug] = CatalogueRows((), metric.higher_is_better, f"the query failed: {err}")
                break
            for row in result.frame.to_dict("records"):
                if row["grouped_by"] != "dimension":
                    # The same in every split: the first one's are kept.
                    if split_by == splits[0]:
                        rows.append(row)
                elif split_by is not None:
                    rows.append(row | {"split_by": split_by})
        if slug not in found:
            found[slug] = CatalogueRows(rows, metric.higher_is_better)
    return found, warnings


def _job_query(label: str, query: tuple[str, dict]):
    """One of the job's queries as a recorded run (general scope); QueryFailed if it fails."""
    sql, params = query
    return query_run_sync(sql=sql, params=params, scope=queries.JOB_SCOPE, label=label)


def _segment_rows(experiment: Experiment, window) -> tuple[list[dict], list[str]]:
    """The rows of the results by dimension, or a warning why there are none: a failure here
    leaves the rest of the results standing."""
    try:
        result = _job_query(
            f"experiment results: {experiment.key} / by dimension",
            queries.segment_stats(experiment.key, *window),
        )
    except QueryFailed as err:
        # The run's page tells its readers why; the error itself may name the server's paths.
        return [], [f"the results by dimension could not be computed (query run {err.run.pk})"]
    return result.frame.to_dict("records"), []


def _breakdowns_json(analysis: Analysis) -> list[dict[str, Any]]:
    return [
        {
            "metric": b.metric,
            "dimension": b.dimension,
            "title": b.title,
            "segments": [
                {
                    "value": s.value,
                    "units": s.units,
                    "error": s.metric.error,
                    "comparisons": [
                        {
                            "variant": c.variant,
                            "lift_abs": c.lift_abs,
                            "lift_rel": c.lift_rel,
                            "ci_abs": list(c.ci_abs),
                            "ci_rel": list(c.ci_rel) if c.ci_rel else None,
                            "p_value": c.p_value,
                            "p_value_adjusted": c.p_value_adjusted,
                            "outcome": s.metric.outcome(c),
                        }
                        for c in (s.metric.result.comparisons if s.metric.result else ())
                    ],
                }
                for s in b.segments
            ],
        }
        for b in analysis.breakdowns
    ]


def experiment_setup(experiment: Experiment) -> Setup:
    planned = experiment.planned_n_per_variant
    return Setup(
        variants=experiment.variant_names,
        weights=experiment.weights,
        alpha=experiment.alpha,
        metrics=tuple(experiment.metrics()),
        planned_n_per_variant=tuple(planned) if planned else None,
        running=experiment.is_running,
        sequential=experiment.sequential,
        sequential_tuning=experiment.sequential_tuning,
        correction=experiment.correction,
    )


def _snapshots(
    experiment: Experiment, analysis: Analysis, now: datetime.datetime
) -> list[ResultSnapshot]:
    treatments = experiment.variant_names[1:]
    control = experiment.variant_names[0]
    snapshots = []
    for metric in analysis.metrics:
        common: dict[str, Any] = {
            "experiment": experiment,
            "metric": metric.slug,
            "metric_type": metric.metric_type or "",
            "role": metric.role,
            "computed_at": now,
            "control_mean": metric.means.get(control),
            "time_to_decision_days": analysis.progress.days_remaining,
        }
        if metric.result is None:
            snapshots += [
                ResultSnapshot(variant=name, error=metric.error or "", **common)
                for name in treatments
            ]
            continue
        for c in metric.result.comparisons:
            snapshots.append(
                ResultSnapshot(
                    variant=c.variant,
                    variant_mean=metric.means.get(c.variant),
                    lift_abs=c.lift_abs,
                    lift_rel=c.lift_rel,
                    ci_low=c.ci_abs[0],
                    ci_high=c.ci_abs[1],
                    ci_rel_low=c.ci_rel[0] if c.ci_rel else None,
                    ci_rel_high=c.ci_rel[1] if c.ci_rel else None,
                    p_value=c.p_value,
                    p_value_adjusted=c.p_value_adjusted,
                    outcome=metric.outcome(c),
                    prob_beat_control=c.prob_beat_control,
                    credible_rel_low=c.credible_interval_rel[0]
                    if c.credible_interval_rel
                    else None,
                    credible_rel_high=c.credible_interval_rel[1]
                    if c.credible_interval_rel
                    else None,
                    expected_loss=c.expected_loss,
                    variance_reduction=c.variance_reduction,
                    theta=metric.result.theta,
                    guardrail_breached=c.variant in metric.breached,
                    **common,
                )
            )
    return snapshots


def _lake_row(experiment: Experiment, s: ResultSnapshot) -> dict[str, Any]:
    days = s.time_to_decision_days
    return {
        "experiment_key": experiment.key,
        "variant": s.variant,
        "metric": s.metric,
        "lift_abs": s.lift_abs,
        "lift_rel": s.lift_rel,
        "ci_low": s.ci_low,
        "ci_high": s.ci_high,
        "p_value": s.p_value,
        "prob_beat_control": s.prob_beat_control,
        "time_to_decision_days": float(days) if days is not None else None,
        # The lake's timestamps are UTC without a time zone.
        "computed_at": s.computed_at.astimezone(datetime.UTC).replace(tzinfo=None),
    }


def _content_hash(rows: list[dict[str, Any]]) -> str:
    """What the lake file would hold, but for the time of computation. Numbers are rounded to
    12 significant digits: a parallel warehouse sum of doubles varies in its last bits."""
    content = [
        {
            k: f"{v:.12g}" if isinstance(v, float) else v
            for k, v in row.items()
            if k != "computed_at"
        }
        for row in rows
    ]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _lake_write(
    experiment: Experiment, rows: list[dict[str, Any]], content_hash: str, today: datetime.date
) -> str:
    """Write the day's rows to the embedded lake, or to the table of the remote warehouse the
    portal reads, unless the same rows went there today already: each write moves the table's
    watermark, which makes every cached result read from it stale. A failed write leaves the
    computation standing (its results are in the portal database); the next run writes again."""
    if not rows:
        return "not written: no metric could be computed yet"
    engine = settings.WAREHOUSE
    unchanged = "written (unchanged since the last write today)"
    if engine in REMOTE_ENGINES:
        where = f"{engine} {remote_result_table(engine)}"
    else:
        # Relative to the lake: the server's own paths are nobody's business on a page.
        path = result_file(settings.LAKE_ROOT, experiment.key, today)
        where = f"lake {path.relative_to(settings.LAKE_ROOT)}"
    # The last attempt that could have changed what is there: a write (to this target or
    # another one) or a failure, which may have left the day without rows.
    last = (
        experiment.computations.filter(status=ResultComputation.Status.SUCCEEDED)
        .exclude(lake_status=unchanged)
        .exclude(lake_status__startswith="not written: no metric")
        .values("computed_at", "content_hash", "lake_status")
        .first()
    )
    if (
        last
        and last["lake_status"].startswith(f"written to {where}")
        and last["content_hash"] == content_hash
        and last["computed_at"].date() == today
    ):
        return unchanged
    if engine not in REMOTE_ENGINES:
        try:
            experiment_results_write(
                root=settings.LAKE_ROOT, experiment_key=experiment.key, day=today, rows=rows
            )
        except OSError as err:
            log.exception("writing results of %s to the lake failed", experiment.key)
            return f"failed: {err.strerror or type(err).__name__}"[:300]  # no path
        return f"written to {where}"
    try:
        experiment_results_replace(
            engine=engine, experiment_key=experiment.key, day=today, rows=rows
        )
    except NoResultTable as err:
        return f"not written: {err}"
    except Exception as err:  # driver, network, credentials: the results stay in the portal DB
        log.exception("writing results of %s to %s failed", experiment.key, engine)
        return f"failed: {err}"[:300]
    return f"written to {where} ({len(rows)} rows)"


def _alerts(experiment: Experiment, analysis: Analysis) -> None:
    """One alert per breach: raised (or updated) while it lasts, resolved on recovery."""
    link = f"/experiments/{experiment.key}/results/"
    for check in analysis.health:
        # The split keeps the key it always had: alerts raised before health checks existed
        # resolve on recovery.
        if check.check == "sample_ratio":
            key = selectors.srm_alert_key(experiment)
        else:
            key = selectors.health_alert_key(experiment, check.check)
        if check.status == "ok":
            alert_resolve(key=key)
            continue
        alert_raise(
            key=key,
            source=SOURCE,
            severity=check.status,
            title=f"{check.title} in experiment {experiment.key}",
            detail=check.detail,
            values=check.values,
            link=link,
        )
    titles = titles_for([m.slug for m in analysis.metrics])
    method = verdict.Method(experiment.alpha, experiment.sequential)
    for metric in analysis.metrics:
        if metric.role != "guardrail" or metric.result is None:
            continue
        for c in metric.result.comparisons:
            key = selectors.guardrail_alert_key(experiment, metric.slug, c.variant)
            if c.variant not in metric.breached:
                alert_resolve(key=key)
                continue
            alert_raise(
                key=key,
                source=SOURCE,
                severity="alarm",
                title=(
                    f"Guardrail {metric_title(metric.slug, titles)} breached by {c.variant} "
                    f"in experiment {experiment.key}"
                ),
                detail=(
                    f"{c.variant} is significantly worse than control: "
                    f"{verdict.lift_text(c, method)}, p = {c.p_value:.2g}."
                ),
                values={"lift_rel": c.lift_rel, "p_value": c.p_value},
                link=link,
            )
