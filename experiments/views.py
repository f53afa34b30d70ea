from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations.charts import with_annotations
from core.errors import InputError
from experiments import charts, selectors, services
from experiments.catalogue import (
    metric_title,
    per_variant_titles,
    shown_as_percent,
    titles_for,
)
from experiments.forms import ExperimentForm
from experiments.models import Correction, Experiment, Outcome, ProtectedSurface
from experiments.outcomes import OUTCOME_METRICS
from experiments.services import EXPERIMENT_FIELDS
from experiments.surfaces import SURFACES
from experiments.verdict import CORRECTION_NAMES
from portal.permissions import capability_required
from portal.roles import Capability, data_scope
from portal.throttles import query_throttled
from warehouse.selectors import without_server_paths
from warehouse.services import DataAccessDenied

# The form's second button: check the setup and show its plan without saving.
_CHECK = "check"


def _experiment(key: str) -> Experiment:
    experiment = selectors.experiment_get(key)
    if experiment is None:
        raise Http404("No such experiment.")
    return experiment


@require_GET
@capability_required(Capability.EXPERIMENTS_READ)
def experiment_list(request):
    return render(
        request,
        "experiments/experiment_list.html",
        {"experiments": selectors.experiment_list()},
    )


@require_http_methods(["GET", "POST"])
@capability_required(Capability.EXPERIMENTS_WRITE)
def experiment_create(request):
    if request.method == "POST":
        form = ExperimentForm(request.POST)
        if form.is_valid() and _CHECK not in request.POST:
            experiment = _saved(form, request.user, None)
            if experiment is not None:
                messages.success(request, f"Draft {experiment.key} created.")
                return redirect(experiment)
    else:
        prefill = {k: v for k, v in request.GET.items() if k in ExperimentForm.base_fields}
        form = ExperimentForm(initial={"owner": request.user.pk, **prefill})
    return render(request, "experiments/experiment_form.html", _form_context(form, None))


@require_http_methods(["GET", "POST"])
@capability_required(Capability.EXPERIMENTS_WRITE)
def experiment_edit(request, key: str):
    experiment = _experiment(key)
    if not experiment.is_draft:
        messages.error(request, f"Only a draft can be edited; {key} is {experiment.status}.")
        return redirect(experiment)
    form = ExperimentForm(request.POST or None, experiment=experiment)
    saving = request.method == "POST" and _CHECK not in request.POST
    if saving and form.is_valid() and _saved(form, request.user, experiment):
        messages.success(request, "Saved.")
        return redirect(experiment)
    return render(request, "experiments/experiment_form.html", _form_context(form, experiment))


def _saved(form: ExperimentForm, user, experiment: Experiment | None) -> Experiment | None:
    data = form.cleaned_data
    arguments = {
        "user": user,
        "owner": data["owner"],
        "fields": {name: data[name] for name in EXPERIMENT_FIELDS},
        "variants": data["variants"],
    }
    try:
        if experiment is None:
            return services.experiment_create(**arguments)
        return services.experiment_update(experiment=experiment, **arguments)
    except InputError as err:
        for each in _each(err):
            form.add_error(each.field if each.field in form.fields else None, each.message)
    return None


def _each(err: InputError) -> tuple[InputError, ...]:
    return getattr(err, "errors", (err,))


def _form_context(form: ExperimentForm, experiment: Experiment | None) -> dict:
    """The form, and the plan summary of what it holds: the checked form's, or else the saved
    draft's."""
    if form.is_bound:
        sizing = _sizing(form.draft(), form.weights()) if form.is_valid() else None
    else:
        sizing = _sizing(experiment) if experiment is not None else None
    return {
        "form": form,
        "experiment": experiment,
        "sizing": sizing,
        "surfaces": SURFACES,
        "protected": ProtectedSurface.objects.all(),
        "outcome_metrics": OUTCOME_METRICS.values(),
        "catalogue": sorted(per_variant_titles().items()),
    }


@require_GET
@capability_required(Capability.EXPERIMENTS_READ)
def experiment_detail(request, key: str):
    experiment = _experiment(key)
    titles = titles_for([slug for slug, _ in experiment.metrics()])
    context = {
        "experiment": experiment,
        "variants": experiment.ordered_variants(),
        "metrics": [
            (slug, role, metric_title(slug, titles)) for slug, role in experiment.metrics()
        ],
        "sizing": _sizing(experiment),
        "protected": selectors.protected_surfaces_targeted(experiment),
        "overrides": experiment.gate_overrides.select_related("by"),
        "changes": selectors.experiment_changes(experiment),
    }
    return render(request, "experiments/experiment_detail.html", context)


def _sizing(experiment: Experiment, weights: list[float] | None = None) -> dict:
    """The plan summary (templates/experiments/plan_summary.html): the plan or why it cannot
    be computed, the comparisons it is sized for and each one's alpha, and the gate."""
    try:
        plan, error = experiment.plan(weights), ""
    except InputError as err:
        plan, error = None, f"{err.field}: {err.message}"
    comparisons = experiment.primary_comparisons(weights)
    return {
        "experiment": experiment,
        "plan": plan,
        "error": error,
        "treatments": len(experiment.weights if weights is None else weights) - 1,
        "comparisons": comparisons,
        "alpha_each": experiment.alpha / comparisons,
        "gate_ok": plan is not None and plan.days <= experiment.max_duration_days,
    }


def _transition(request, key: str, action) -> object:
    experiment = _experiment(key)
    try:
        action(experiment)
    except InputError as err:
        for each in _each(err):
            messages.error(request, f"{each.field.replace('_', ' ')}: {each.message}")
    return redirect(experiment)


@require_POST
@capability_required(Capability.EXPERIMENTS_WRITE)
def experiment_launch(request, key: str):
    def launch(experiment):
        services.experiment_launch(
            experiment=experiment,
            user=request.user,
            override_reason=request.POST.get("override_reason", ""),
        )
        messages.success(request, f"{experiment.key} is running.")

    return _transition(request, key, launch)


@require_POST
@capability_required(Capability.EXPERIMENTS_WRITE)
def experiment_kill(request, key: str):
    def kill(experiment):
        services.experiment_kill(
            experiment=experiment, user=request.user, reason=request.POST.get("reason", "")
        )
        messages.success(request, f"{experiment.key} is stopped: everyone now gets control.")

    return _transition(request, key, kill)


@require_POST
@capability_required(Capability.EXPERIMENTS_WRITE)
def experiment_conclude(request, key: str):
    def conclude(experiment):
        services.experiment_conclude(
            experiment=experiment,
            user=request.user,
            conclusion=request.POST.get("conclusion", ""),
        )
        messages.success(request, f"{experiment.key} is concluded.")

    return _transition(request, key, conclude)


@require_POST
@capability_required(Capability.EXPERIMENTS_WRITE)
@query_throttled
def experiment_results_refresh(request, key: str):
    experiment = _experiment(key)
    try:
        services.experiment_results_request(experiment=experiment)
        messages.success(request, "Results are being computed; reload in a few seconds.")
    except InputError as err:
        messages.error(request, err.message)
    return redirect("experiment-results", key=experiment.key)


@require_GET
@capability_required(Capability.EXPERIMENTS_READ)
def experiment_results(request, key: str):
    experiment = _experiment(key)
    try:
        selectors.results_readable(data_scope(request.user))
    except DataAccessDenied as err:
        raise PermissionDenied(str(err)) from None
    computation = selectors.latest_success(experiment)
    latest = selectors.latest_computation(experiment)
    slugs = [slug for slug, _ in experiment.metrics()]
    catalogue = titles_for(slugs)
    titles = {slug: metric_title(slug, catalogue) for slug in slugs}
    context = {
        "experiment": experiment,
        "computation": computation,
        "failure": latest if latest is not None and latest != computation else None,
        "failure_error": without_server_paths(latest.error) if latest else "",
        "titles": titles,
        "percent_metrics": {slug for slug in slugs if shown_as_percent(slug)},
    }
    if computation is not None:
        snapshots = list(computation.snapshots.all())
        colours = charts.variant_colours(experiment.variant_names)
        sequential = computation.method.get("sequential", False)
        interval_name = "always-valid interval" if sequential else "interval valid at the end"
        context |= {
            "lake_status": selectors.lake_status_shown(computation, request.user),
            "snapshots": snapshots,
            "split": _split(experiment, computation),
            "guardrails": [s for s in snapshots if s.role == "guardrail"],
            "forest": charts.forest(snapshots, titles),
            "exposures": charts.exposures(computation.exposures, colours),
            "method": computation.method,
            "outcome_names": dict(Outcome.choices),
            "correction_name": CORRECTION_NAMES.get(computation.method.get("correction")),
        }
        context["breakdowns"] = _breakdowns_by_metric(experiment, computation, titles)
        if computation.lift_over_time:
            lift = charts.lift_over_time(computation.lift_over_time, colours, interval_name)
            context["lift"] = with_annotations(lift, user=request.user)
        if any(s.metric_type == "proportion" and not s.error for s in snapshots):
            context["posterior"] = charts.posterior(computation.totals, colours)
    return render(request, "experiments/experiment_results.html", context)


def _breakdowns_by_metric(
    experiment: Experiment, computation, titles: dict[str, str]
) -> list[tuple[str, str, list[dict]]]:
    """(title, role, its breakdowns) per metric, in the experiment's order of metrics."""
    found: dict[str, list[dict]] = {}
    for breakdown in computation.breakdowns:
        # A computation stored before breakdowns named their metric: the primary's.
        found.setdefault(breakdown.get("metric", experiment.primary_metric), []).append(breakdown)
    return [
        (titles.get(slug, slug), role, found[slug])
        for slug, role in experiment.metrics()
        if slug in found
    ]


def _split(experiment: Experiment, computation) -> list[tuple[str, int, int]]:
    """(variant, units, units the weights expect) for the SRM table."""
    units = {name: t["units"] for name, t in computation.totals.items()}
    total = sum(units.values())
    return [
        (v.name, units.get(v.name, 0), round(total * v.weight))
        for v in experiment.ordered_variants()
    ]


@require_GET
@capability_required(Capability.EXPERIMENTS_READ)
def mde_calculator(request):
    return render(
        request,
        "experiments/mde.html",
        {
            "experiments": selectors.experiment_choices(),
            "corrections": Correction.choices,
            "catalogue_metrics": sorted(per_variant_titles().items(), key=lambda item: item[1]),
        },
    )
