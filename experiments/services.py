"""Writes of the experiments app: setup, launch (past the gate and the compliance check), the
kill-switch and conclusion. A refused change raises core.errors.InputError naming the form
field to change; a setup or a launch refused for several reasons raises them all at once
(InputErrors). Every change is logged with its field diffs, and every change that
can move an assignment republishes the experiment's assignment config to the cache."""

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from alerts.services import alert_resolve
from core.errors import InputError
from experiments import selectors
from experiments.assignment import BUCKETS, bucket_edges
from experiments.catalogue import metric_problem
from experiments.models import Correction, Experiment, ExperimentChange, GateOverride, Variant
from experiments.stats.power import plan_problems, required_sample_reachable
from experiments.stats.reading import MIN_TUNING
from experiments.stats.validation import normalized_weights
from experiments.tasks import compute_results
from portal.roles import Capability, may

# The fields a draft's form sets; the change log diffs these, plus variants and owner.
EXPERIMENT_FIELDS = (
    "key",
    "name",
    "hypothesis",
    "targeted_surfaces",
    "primary_metric",
    "secondary_metrics",
    "guardrail_metrics",
    "alpha",
    "power",
    "mde_rel",
    "baseline",
    "baseline_std",
    "expected_correlation",
    "max_duration_days",
    "expected_daily_units",
    "sequential",
    "sequential_tuning",
    "correction",
    "guardrail_auto_kill",
)
# The form fields the plan is sized from (the primary metric gives its type).
_PLAN_INPUTS = (
    "primary_metric",
    "alpha",
    "power",
    "mde_rel",
    "baseline",
    "baseline_std",
    "expected_correlation",
    "expected_daily_units",
    "correction",
)
# Valid values of the plan inputs, checked in place of a field the form refused.
_PLAN_STAND_INS = {
    "alpha": 0.05,
    "power": 0.8,
    "mde_rel": 0.1,
    "baseline": 0.5,  # a rate in (0, 1) and a nonzero mean
    "baseline_std": 1.0,
    "expected_correlation": 0.0,
    "expected_daily_units": 1,
    "correction": Correction.HOLM,
}
# Fields of the statistics' MDE API -> the experiment's field that holds them.
_PLAN_FIELDS = {
    "baseline": "baseline",
    "baseline_mean": "baseline",
    "std": "baseline_std",
    "correlation": "expected_correlation",
    "mde_rel": "mde_rel",
    "alpha": "alpha",
    "power": "power",
    "weights": "variants",
    "daily_units": "expected_daily_units",
    "comparisons": "variants",
}
RESERVED_KEYS = frozenset({"new", "mde"})  # paths under /experiments/
_SURFACE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class InputErrors(InputError):
    """Several refusals at once, each naming its field (a form shows every one beside its
    field); as an InputError it is the first of them."""

    def __init__(self, errors: Sequence[InputError]) -> None:
        super().__init__(errors[0].field, errors[0].message)
        self.errors = tuple(errors)


# --------------------------------------------------------------------------- setup


@transaction.atomic
def experiment_create(
    *, user, owner, fields: Mapping[str, Any], variants: Sequence[tuple[str, float]]
) -> Experiment:
    """A new draft; `fields` holds every name of EXPERIMENT_FIELDS."""
    experiment = Experiment(owner=owner, **_only_fields(fields))
    _validate(experiment, variants)
    experiment.save()
    _save_variants(experiment, variants)
    _log(experiment, user, ExperimentChange.Action.CREATED, _diff({}, _state(experiment)))
    _publish_assignment(experiment)
    return experiment


@transaction.atomic
def experiment_update(
    *, experiment: Experiment, user, owner, fields: Mapping[str, Any], variants
) -> Experiment:
    """Change a draft; running experiments keep their setup (their assignment depends on it)."""
    experiment = _locked(experiment)
    if not experiment.is_draft:
        raise InputError("status", f"only a draft can be edited; this one is {experiment.status}")
    before = _state(experiment)
    for name, value in _only_fields(fields).items():
        setattr(experiment, name, value)
    experiment.owner = owner
    _validate(experiment, variants)
    experiment.save()
    _save_variants(experiment, variants)
    changes = _diff(before, _state(experiment))
    if changes:
        _log(experiment, user, ExperimentChange.Action.EDITED, changes)
        _publish_assignment(experiment)
    return experiment


# --------------------------------------------------------------------------- lifecycle


@transaction.atomic
def experiment_launch(
    *, experiment: Experiment, user, override_reason: str = "", started_at: datetime | None = None
) -> Experiment:
    """Start a draft. Refused when it targets a protected surface (always), or when its planned
    sample cannot arrive within the maximum duration (unless an admin overrides, in writing).
    `started_at` backdates the launch (registering an experiment that already runs)."""
    experiment = _locked(experiment)
    if not experiment.is_draft:
        raise InputError("status", f"only a draft can be launched; this one is {experiment.status}")
    problems = []
    protected = selectors.protected_surfaces_targeted(experiment)
    if protected:
        names = ", ".join(f"{p.slug} ({p.get_kind_display().lower()})" for p in protected)
        problems.append(
            InputError(
                "targeted_surfaces",
                f"targets protected surfaces: {names}. Experiments never change legal texts or "
                "consent components.",
            )
        )
    plan = _plan(experiment)
    reachable = required_sample_reachable(
        plan.n_total, experiment.expected_daily_units, experiment.max_duration_days
    )
    reason = override_reason.strip()
    if not reachable:
        problems += _gate_problems(experiment, plan, user, reason)
    if problems:
        raise InputErrors(problems)
    if not reachable:
        GateOverride.objects.create(
            experiment=experiment,
            by=user,
            reason=reason,
            required_days=plan.days,
            max_duration_days=experiment.max_duration_days,
        )
        _log(
            experiment,
            user,
            ExperimentChange.Action.GATE_OVERRIDDEN,
            {"required_days": [None, plan.days]},
            note=reason,
        )
    before = _state(experiment)
    experiment.status = Experiment.Status.RUNNING
    experiment.started_at = started_at or timezone.now()
    experiment.planned_n_per_variant = list(plan.n_per_variant)
    experiment.planned_days = plan.days
    experiment.save()
    _log(experiment, user, ExperimentChange.Action.LAUNCHED, _diff(before, _state(experiment)))
    _publish_assignment(experiment)
    return experiment


@transaction.atomic
def experiment_kill(*, experiment: Experiment, user, reason: str) -> Experiment:
    """The kill-switch: stop at once; from the commit on, everyone gets control."""
    experiment = _locked(experiment)
    if not experiment.is_running:
        raise InputError(
            "status", f"only a running experiment can be killed; this one is {experiment.status}"
        )
    if not reason.strip():
        raise InputError("reason", "say why the experiment is killed")
    before = _state(experiment)
    experiment.status = Experiment.Status.STOPPED
    experiment.killed_at = timezone.now()
    experiment.killed_by = user
    experiment.kill_reason = reason.strip()
    experiment.save()
    changes = _diff(before, _state(experiment))
    _log(experiment, user, ExperimentChange.Action.KILLED, changes, note=experiment.kill_reason)
    _publish_assignment(experiment)
    return experiment


@transaction.atomic
def experiment_conclude(*, experiment: Experiment, user, conclusion: str) -> Experiment:
    """Record the decision; a running experiment stops assigning. Its alerts close: nobody acts
    on the split or guardrails of a concluded experiment any more."""
    experiment = _locked(experiment)
    if experiment.status not in (Experiment.Status.RUNNING, Experiment.Status.STOPPED):
        raise InputError(
            "status",
            f"only a running or stopped experiment can be concluded, not a {experiment.status} one",
        )
    if not conclusion.strip():
        raise InputError("conclusion", "write down the decision")
    before = _state(experiment)
    experiment.status = Experiment.Status.CONCLUDED
    experiment.concluded_at = timezone.now()
    experiment.conclusion = conclusion.strip()
    experiment.save()
    _log(
        experiment,
        user,
        ExperimentChange.Action.CONCLUDED,
        _diff(before, _state(experiment)),
        note=experiment.conclusion,
    )
    for key in selectors.open_alert_keys(experiment):
        alert_resolve(key=key)
    _publish_assignment(experiment)
    return experiment


def experiment_results_request(*, experiment: Experiment) -> None:
    """Queue a computation of the results now (once the request's transaction commits)."""
    if experiment.started_at is None:
        raise InputError("status", "a draft has no results: launch it first")
    transaction.on_commit(lambda: compute_results.delay(experiment.pk))


# --------------------------------------------------------------------------- helpers


def _locked(experiment: Experiment) -> Experiment:
    return Experiment.objects.select_for_update().prefetch_related("variants").get(pk=experiment.pk)


def _only_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(EXPERIMENT_FIELDS)
    if unknown:
        raise InputError(sorted(unknown)[0], "is not a field of an experiment")
    return {name: fields[name] for name in EXPERIMENT_FIELDS if name in fields}


def experiment_problems(
    *, fields: Mapping[str, Any], variants: Sequence[tuple[str, float]] | None
) -> list[InputError]:
    """Every problem of a setup at once, each naming its form field: what a form cannot check
    alone (variants, metrics, surfaces, the sequential tuning, a plan that can be sized). A name
    missing from `fields` (or variants None) was refused already, by the form: the checks that
    need it are skipped, so that a form shows its own errors and these together."""
    problems = []
    if fields.get("key") in RESERVED_KEYS:
        problems.append(InputError("key", f"{fields['key']!r} is reserved for a page"))
    weights = None
    if variants is not None:
        try:
            weights = _weights(variants)
        except InputError as err:
            problems.append(err)
    primary = fields.get("primary_metric")
    primary_problem = metric_problem(primary) if primary is not None else None
    if primary_problem:
        problems.append(InputError("primary_metric", primary_problem))
    seen = {primary}
    for field in ("secondary_metrics", "guardrail_metrics"):
        for slug in fields.get(field, ()):
            if problem := metric_problem(slug):
                problems.append(InputError(field, problem))
            elif slug in seen:
                problems.append(
                    InputError(field, f"{slug} is named twice: give each metric one role")
                )
            seen.add(slug)
    for surface in fields.get("targeted_surfaces", ()):
        if not _SURFACE.match(surface):
            problems.append(InputError("targeted_surfaces", f"{surface!r} is not a surface slug"))
    tuning = fields.get("sequential_tuning")
    if tuning is not None and tuning < MIN_TUNING:
        problems.append(InputError("sequential_tuning", f"must be at least {MIN_TUNING} units"))
    if fields.get("correction", Correction.HOLM) not in Correction.values:
        problems.append(InputError("correction", f"must be one of {', '.join(Correction.values)}"))
    elif not primary_problem:
        problems += _plan_problems(fields, weights)
    return problems


def _validate(experiment: Experiment, variants: Sequence[tuple[str, float]]) -> None:
    fields = {name: getattr(experiment, name) for name in EXPERIMENT_FIELDS}
    problems = experiment_problems(fields=fields, variants=variants)
    if problems:
        raise InputErrors(problems)


def _weights(variants: Sequence[tuple[str, float]]) -> tuple[float, ...]:
    names = [name for name, _ in variants]
    if len(variants) < 2:
        raise InputError("variants", "needs a control and at least one treatment")
    if len(set(names)) != len(names):
        raise InputError("variants", "variant names must differ")
    try:
        weights = normalized_weights([w for _, w in variants], len(variants))
    except InputError as err:
        raise InputError("variants", f"{err.field}: {err.message}") from None
    edges = bucket_edges(weights)
    if any(b <= a for a, b in zip((0, *edges), edges, strict=False)):
        raise InputError("variants", f"every weight must be at least 1/{BUCKETS:,}")
    return weights


def _plan_problems(fields: Mapping[str, Any], weights: Sequence[float] | None) -> list[InputError]:
    """Each refused plan input, or else whatever refuses the plan they make together.

    An input missing from `fields` was refused by the form, with its own error: a valid
    stand-in takes its place so that the other inputs are still checked, and the plan itself
    waits until every input is there (and the weights, None when refused)."""
    if "primary_metric" not in fields:  # its type says which inputs a plan has
        return []
    complete = weights is not None and all(name in fields for name in _PLAN_INPUTS)
    draft = Experiment(**(_PLAN_STAND_INS | {n: fields[n] for n in _PLAN_INPUTS if n in fields}))
    mean = draft.sized_as == "mean"
    problems = plan_problems(
        draft.sized_as,
        baseline=draft.baseline,
        mde_rel=draft.mde_rel,
        daily_units=draft.expected_daily_units,
        alpha=draft.alpha,
        power=draft.power,
        std=draft.baseline_std if mean else None,
        correlation=draft.expected_correlation if mean else 0.0,
    )
    if not problems and complete:
        try:
            draft.plan(weights)
        except InputError as err:
            problems = [err]
    return [_on_form_field(err) for err in problems]


def _gate_problems(experiment: Experiment, plan, user, reason: str) -> list[InputError]:
    """Why a sample out of reach stops this launch, in words for who launches: an admin is
    told how to override, anyone else whom to ask."""
    admin = may(user, Capability.EXPERIMENTS_OVERRIDE_GATE)
    if reason:
        return (
            [] if admin else [InputError("override_reason", "only an admin may override the gate")]
        )
    short = (
        f"the planned sample of {plan.n_total:,} units needs {plan.days:,} days at "
        f"{experiment.expected_daily_units:,} units a day, more than the maximum duration of "
        f"{experiment.max_duration_days:,} days."
    )
    if admin:
        return [
            InputError(
                "override_reason",
                f"{short} As an admin you may launch it all the same: write why in the override "
                "reason (it is kept with the experiment and its change log).",
            )
        ]
    return [
        InputError(
            "max_duration_days",
            f"{short} Raise the MDE or the duration, or ask an admin to override with a written "
            "reason.",
        )
    ]


def _plan(experiment: Experiment, weights: Sequence[float] | None = None):
    try:
        return experiment.plan(weights)
    except InputError as err:
        raise _on_form_field(err) from None


def _on_form_field(err: InputError) -> InputError:
    """A refusal of the statistics (named as the MDE API spells it) on the form's field."""
    return InputError(_PLAN_FIELDS.get(err.field.split("[")[0], "mde_rel"), err.message)


def _save_variants(experiment: Experiment, variants: Sequence[tuple[str, float]]) -> None:
    Variant.objects.filter(experiment=experiment).delete()
    Variant.objects.bulk_create(
        Variant(experiment=experiment, name=name, weight=weight, order=i)
        for i, (name, weight) in enumerate(variants)
    )
    # A prefetched set of the old variants would hide the new ones.
    getattr(experiment, "_prefetched_objects_cache", {}).pop("variants", None)


def _state(experiment: Experiment) -> dict[str, Any]:
    """The logged state: JSON values of every field a person sets or a transition changes."""
    state = {name: getattr(experiment, name) for name in EXPERIMENT_FIELDS}
    state["variants"] = [[v.name, v.weight] for v in experiment.ordered_variants()]
    state["owner"] = experiment.owner.get_username()
    state["status"] = experiment.status
    for name in ("started_at", "killed_at", "concluded_at"):
        value = getattr(experiment, name)
        state[name] = value.isoformat() if value else None
    return state


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def _log(experiment, user, action, changes, note: str = "") -> None:
    ExperimentChange.objects.create(
        experiment=experiment,
        by=user if getattr(user, "pk", None) else None,
        action=action,
        changes=changes,
        note=note,
    )


def _publish_assignment(experiment: Experiment) -> None:
    """Put the new config in the cache once the change is committed (a set, not a delete:
    readers only ever `add`, so a reader holding an older row cannot overwrite it)."""
    config = experiment.assignment_config()
    key = selectors.assignment_cache_key(experiment.key)
    transaction.on_commit(
        lambda: cache.set(key, config, timeout=selectors.ASSIGNMENT_CACHE_SECONDS)
    )
