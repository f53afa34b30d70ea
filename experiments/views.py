from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import InputError
from experiments import charts, selectors, services
from experiments.catalogue import (
    metric_title,
    per_variant_titles,
    shown_as_percent,
    titles_for,
)
from experiments.forms import ExperimentForm
from experiments.models import Experiment, ProtectedSurface
from experiments.outcomes import OUTCOME_METRICS
from experiments.services import EXPERIMENT_FIELDS
from experiments.surfaces import SURFACES
from portal.permissions import capability_required
from portal.roles import Capability, data_scope
from portal.throttles import query_throttled
from warehouse.services import DataAccessDenied


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
        if form.is_valid():
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
    if request.method == "POST" and form.is_valid() and _saved(form, request.user, experiment):
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
        form.add_error(err.field if err.field in form.fields else None, err.message)
    return None


def _form_context(form: ExperimentForm, experiment: Experiment | None) -> dict:
    return {
        "form": form,
        "experiment": experiment,
        "surfaces": SURFACES,
        "protected": ProtectedSurface.objects.all(),
        "outcome_metrics": OUTCOME_METRICS.values(),
        "catalogue": sorted(per_variant_titles().items()),
    }


@require_GET
@capability_required(Capability.EXPERIMENTS_READ)
def experiment_detail(request, key: str):
    experiment = _experiment(key)
    try:
        plan, plan_error = experiment.plan(), None
    except InputError as err:
        plan, plan_error = None, f"{err.field}: {err.message}"
    titles = titles_for([slug for slug, _ in experiment.metrics()])
    context = {
        "experiment": experiment,
        "variants": experiment.ordered_variants(),
        "metrics": [
            (slug, role, metric_title(slug, titles)) for slug, role in experiment.metrics()
        ],
        "plan": plan,
        "plan_error": plan_error,
        "gate_ok": plan is not None and plan.days <= experiment.max_duration_days,
        "protected": selectors.protected_surfaces_targeted(experiment),
        "overrides": experiment.gate_overrides.select_related("by"),
        "changes": selectors.experiment_changes(experiment),
    }
    return render(request, "experiments/experiment_detail.html", context)


def _transition(request, key: str, action) -> object:
    experiment = _experiment(key)
    try:
        action(experiment)
    except InputError as err:
        messages.error(request, f"{err.field.replace('_', ' ')}: {err.message}")
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
        "failure_error": selectors.without_server_paths(latest.error) if latest else "",
        "titles": titles,
        "percent_metrics": {slug for slug in slugs if shown_as_percent(slug)},
    }
    if computation is not None:
        snapshots = list(computation.snapshots.all())
        context |= {
            "lake_status": selectors.lake_status_shown(computation, request.user),
            "snapshots": snapshots,
            "split": _split(experiment, computation),
            "guardrails": [s for s in snapshots if s.role == "guardrail"],
            "forest": charts.forest(snapshots, titles),
            "exposures": charts.exposures(computation.exposures),
        }
        if any(s.metric_type == "proportion" and not s.error for s in snapshots):
            context["posterior"] = charts.posterior(computation.totals)
    return render(request, "experiments/experiment_results.html", context)


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
        {"experiments": selectors.experiment_choices()},
    )
