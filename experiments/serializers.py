"""Request bodies of the statistics API into `experiments.stats` arguments, and the JSON forms
of what the experiments API answers, with the serializers that describe both in /api/schema/.
The statistics validate the numbers themselves and name the offending field the way the
request spells it (core.errors.InputError)."""

import math
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.errors import InputError
from experiments import stats
from experiments.catalogue import metric_problem, metric_title
from experiments.models import KEY_VALIDATOR, Experiment, ExperimentChange, ResultComputation
from experiments.outcomes import OUTCOME_METRICS
from experiments.segments import DIMENSIONS
from experiments.stats.correction import CORRECTIONS
from experiments.stats.reading import DEFAULT_TUNING
from experiments.stats.validation import normalized_weights, require_int
from warehouse.selectors import without_server_paths

COMPARE_FIELDS = frozenset(
    {"metric_type", "alpha", "weights", "variants", "sequential", "sequential_tuning", "correction"}
)
MDE_FIELDS = frozenset(
    {
        "metric_type",
        "baseline",
        "alpha",
        "power",
        "weights",
        "mde_rel",
        "n_per_variant",
        "daily_units",
        "std",
        "correlation",
        "comparisons",
    }
)
# How the statistics name what the MDE request calls otherwise.
_MDE_RENAMES = {"baseline_mean": "baseline", "n_total": "n_per_variant"}
# MDEs of the chart of sample size against MDE, as multiples of the requested one.
CURVE_FACTORS = tuple(0.5 * 4 ** (i / 15) for i in range(16))


def _object(body: object, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InputError("body", "must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InputError(unknown[0], "is not a field of this request")
    return body


def compare_request(body: object) -> stats.CompareResult:
    data = _object(body, COMPARE_FIELDS)
    variants = data.get("variants")
    pairs: object = variants
    if isinstance(variants, list):
        pairs = []
        for i, item in enumerate(variants):
            if not isinstance(item, Mapping):
                raise InputError(f"variants[{i}]", "must be an object with a name")
            pairs.append((item.get("name"), {k: v for k, v in item.items() if k != "name"}))
    return stats.compare(
        data.get("metric_type"),
        pairs,
        data.get("weights"),
        data.get("alpha", 0.05),
        sequential=data.get("sequential", False),
        sequential_tuning=data.get("sequential_tuning", DEFAULT_TUNING),
        correction=data.get("correction", "holm"),
    )


def compare_payload(result: stats.CompareResult) -> dict[str, Any]:
    return {
        "metric_type": result.metric_type,
        "alpha": result.alpha,
        "srm_p_value": result.srm_p_value,
        "srm_alert": result.srm_alert,
        "theta": result.theta,
        "cuped_applied": result.cuped_applied,
        "sequential": result.sequential,
        "sequential_tuning": result.sequential_tuning,
        "correction": result.correction,
        "comparisons": [
            {
                "variant": c.variant,
                "lift_abs": c.lift_abs,
                "lift_rel": c.lift_rel,
                "ci_abs": list(c.ci_abs),
                "ci_rel": _pair(c.ci_rel),
                "p_value": c.p_value,
                "p_value_adjusted": c.p_value_adjusted,
                "decision": c.decision,
                "test": c.test,
                "variance_reduction": c.variance_reduction,
                "prob_beat_control": c.prob_beat_control,
                "credible_interval_rel": _pair(c.credible_interval_rel),
                "expected_loss": c.expected_loss,
            }
            for c in result.comparisons
        ],
    }


def mde_request(body: object) -> tuple[stats.MdeResult, list[dict[str, Any]]]:
    """The sample for `mde_rel`, or the MDE of `n_per_variant`; with the curve of sample size
    against MDE around the answer (the points the statistics can size)."""
    data = _object(body, MDE_FIELDS)
    if ("mde_rel" in data) == ("n_per_variant" in data):
        raise InputError("mde_rel", "give exactly one of mde_rel and n_per_variant")
    common = {
        "metric_type": data.get("metric_type"),
        "baseline": data.get("baseline"),
        "weights": data.get("weights"),
        "daily_units": data.get("daily_units"),
        "alpha": data.get("alpha", 0.05),
        "power": data.get("power", 0.8),
        "std": data.get("std"),
        "correlation": data.get("correlation", 0.0),
        "comparisons": data.get("comparisons", 1),
    }
    try:
        if "mde_rel" in data:
            result = stats.mde(**common, mde_rel=data["mde_rel"])
        else:
            n_total = _n_total(data["n_per_variant"], data.get("weights"))
            result = stats.mde(**common, n_total=n_total)
    except InputError as err:
        root, dot, rest = err.field.partition(".")
        raise InputError(_MDE_RENAMES.get(root, root) + dot + rest, err.message) from None
    curve = []
    for factor in CURVE_FACTORS:
        try:
            point = stats.mde(**common, mde_rel=result.mde_rel * factor)
        except InputError:
            continue  # e.g. a lift that would take a rate beyond 1
        curve.append({"mde_rel": point.mde_rel, "n_total": point.n_total, "days": point.days})
    return result, curve


def _n_total(value: object, weights: object) -> int:
    """n_per_variant: one count for every variant (equal weights), or a list in weight order
    that splits like the weights (within 1%)."""
    if not isinstance(weights, list):
        raise InputError("weights", "must be a list of numbers")
    shares = normalized_weights(weights, len(weights))
    if isinstance(value, list):
        counts = [require_int(n, f"n_per_variant[{i}]", 1) for i, n in enumerate(value)]
        if len(counts) != len(shares):
            raise InputError("n_per_variant", "needs one count per weight")
        total = sum(counts)
        for i, (n, share) in enumerate(zip(counts, shares, strict=True)):
            if abs(n - total * share) > max(1.0, 0.01 * total * share):
                raise InputError(f"n_per_variant[{i}]", "does not split like the weights")
        return total
    count = require_int(value, "n_per_variant", 1)
    if max(shares) - min(shares) > 1e-9:
        raise InputError("n_per_variant", "give a list in weight order when the weights differ")
    return count * len(shares)


def mde_payload(result: stats.MdeResult, curve: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "n_per_variant": list(result.n_per_variant),
        "n_total": result.n_total,
        "days": result.days,
        "mde_rel": result.mde_rel,
        "curve": curve,
    }


def experiment_payload(experiment: Experiment) -> dict[str, Any]:
    return {
        "key": experiment.key,
        "name": experiment.name,
        "hypothesis": experiment.hypothesis,
        "owner": experiment.owner.get_username(),
        "status": experiment.status,
        "unit": experiment.unit,
        "targeted_surfaces": experiment.targeted_surfaces,
        "variants": [{"name": v.name, "weight": v.weight} for v in experiment.ordered_variants()],
        "primary_metric": experiment.primary_metric,
        "secondary_metrics": experiment.secondary_metrics,
        "guardrail_metrics": experiment.guardrail_metrics,
        "plan": {
            "alpha": experiment.alpha,
            "power": experiment.power,
            "mde_rel": experiment.mde_rel,
            "baseline": experiment.baseline,
            "baseline_std": experiment.baseline_std,
            "expected_correlation": experiment.expected_correlation,
            "max_duration_days": experiment.max_duration_days,
            "expected_daily_units": experiment.expected_daily_units,
            "planned_n_per_variant": experiment.planned_n_per_variant,
            "planned_days": experiment.planned_days,
        },
        "started_at": _iso(experiment.started_at),
        "killed_at": _iso(experiment.killed_at),
        "kill_reason": experiment.kill_reason or None,
        "concluded_at": _iso(experiment.concluded_at),
        "conclusion": experiment.conclusion or None,
        "url": experiment.get_absolute_url(),
    }


def change_payload(change: ExperimentChange) -> dict[str, Any]:
    return {
        "at": change.at.isoformat(),
        "by": change.by.get_username() if change.by else None,
        "action": change.action,
        "changes": change.changes,
        "note": change.note or None,
    }


def results_payload(
    experiment: Experiment,
    computation: ResultComputation | None,
    failure: ResultComputation | None,
    titles: dict[str, str] | None,
    lake_status: str | None = None,
) -> dict[str, Any]:
    """The latest successful computation; `last_failure` when a newer one failed; `lake` (where
    the results were written) as selectors.lake_status_shown gives it."""
    payload: dict[str, Any] = {"experiment": experiment.key, "status": experiment.status}
    if failure is not None:
        error = without_server_paths(failure.error)
        payload["last_failure"] = {"at": failure.computed_at.isoformat(), "error": error}
    if computation is None:
        payload |= {"computed_at": None, "metrics": [], "decision": []}
        return payload
    metrics: dict[str, dict[str, Any]] = {}
    for s in computation.snapshots.all():
        metric = metrics.setdefault(
            s.metric,
            {
                "metric": s.metric,
                "title": metric_title(s.metric, titles),
                "role": s.role,
                "metric_type": s.metric_type or None,
                "control_mean": s.control_mean,
                "theta": s.theta,
                "error": s.error or None,
                "comparisons": [],
            },
        )
        if s.error:
            continue
        metric["comparisons"].append(
            {
                "variant": s.variant,
                "variant_mean": s.variant_mean,
                "lift_abs": s.lift_abs,
                "lift_rel": s.lift_rel,
                "ci_abs": [s.ci_low, s.ci_high],
                "ci_rel": [s.ci_rel_low, s.ci_rel_high],
                "p_value": s.p_value,
                "p_value_adjusted": s.p_value_adjusted,
                "outcome": s.outcome or None,
                "variance_reduction": s.variance_reduction,
                "prob_beat_control": s.prob_beat_control,
                "credible_interval_rel": _pair((s.credible_rel_low, s.credible_rel_high)),
                "expected_loss": s.expected_loss,
                "guardrail_breached": s.guardrail_breached,
            }
        )
    return payload | {
        "computed_at": computation.computed_at.isoformat(),
        "data_as_of": computation.data_as_of or None,
        "window": [_iso(computation.window_start), _iso(computation.window_end)],
        "query_run_id": computation.query_run_id,
        "units": {name: t["units"] for name, t in computation.totals.items()},
        "srm": {"p_value": computation.srm_p_value, "alert": computation.srm_alert},
        "time_to_decision": {
            "days_remaining": computation.days_remaining,
            "decision_date": _iso(computation.decision_date),
        },
        "decision": computation.decision,
        "warnings": computation.warnings,
        "method": computation.method or None,
        "health": computation.health,
        "lift_over_time": computation.lift_over_time,
        "breakdowns": computation.breakdowns,
        "metrics": list(metrics.values()),
        "lake": lake_status,
    }


def _pair(values) -> list[float] | None:
    if values is None or any(v is None or not math.isfinite(v) for v in values):
        return None
    return list(values)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# --------------------------------------------------------------------------- API serializers
# The statistics requests declare their fields for the schema; the statistics check them (one
# check, with the messages and field paths the statistics give), so to_internal_value hands the
# body to compare_request / mde_request and the result is the validated data.

METRIC_TYPES = ("proportion", "mean", "ratio")
OUTCOMES = ("better", "worse", "inconclusive", "too_few_units")
MAX_UNIT_LENGTH = 200
BASELINE_DAYS, MAX_BASELINE_DAYS = 28, 90


def _pair_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, **kwargs
    )


class VariantStatsSerializer(serializers.Serializer):
    """A variant's sufficient statistics: n and conversions, and optionally pre_conversions and
    conversion_products for CUPED (proportion); n, sum, sum_squares and optionally pre_sum,
    pre_sum_squares, sum_products for CUPED (mean); n and the numerator/denominator sums, and
    optionally the nine pre-period sums for CUPED (ratio)."""

    name = serializers.CharField()
    n = serializers.IntegerField(min_value=1)
    conversions = serializers.IntegerField(required=False, min_value=0)
    pre_conversions = serializers.IntegerField(
        required=False, min_value=0, help_text="Units that converted in the pre-period."
    )
    conversion_products = serializers.IntegerField(
        required=False, min_value=0, help_text="Units that converted in both periods."
    )
    sum = serializers.FloatField(required=False)
    sum_squares = serializers.FloatField(required=False)
    pre_sum = serializers.FloatField(required=False)
    pre_sum_squares = serializers.FloatField(required=False)
    sum_products = serializers.FloatField(required=False)
    numerator_sum = serializers.FloatField(required=False)
    numerator_sum_squares = serializers.FloatField(required=False)
    denominator_sum = serializers.FloatField(required=False)
    denominator_sum_squares = serializers.FloatField(required=False)
    # A ratio's CUPED covariate: the same metric's numerator x' and denominator y' of each unit
    # before its first exposure; all nine or none.
    pre_numerator_sum = serializers.FloatField(required=False, help_text="Ratio: sum of x'.")
    pre_numerator_sum_squares = serializers.FloatField(required=False)
    pre_denominator_sum = serializers.FloatField(required=False, help_text="Ratio: sum of y'.")
    pre_denominator_sum_squares = serializers.FloatField(required=False)
    pre_sum_products = serializers.FloatField(required=False, help_text="Ratio: sum of x'y'.")
    numerator_pre_numerator_products = serializers.FloatField(
        required=False, help_text="Ratio: sum of x x'."
    )
    numerator_pre_denominator_products = serializers.FloatField(
        required=False, help_text="Ratio: sum of x y'."
    )
    denominator_pre_numerator_products = serializers.FloatField(
        required=False, help_text="Ratio: sum of y x'."
    )
    denominator_pre_denominator_products = serializers.FloatField(
        required=False, help_text="Ratio: sum of y y'."
    )


class CompareRequestSerializer(serializers.Serializer):
    """Validated data: the stats.CompareResult."""

    metric_type = serializers.ChoiceField(choices=METRIC_TYPES)
    alpha = serializers.FloatField(required=False, default=0.05)
    weights = serializers.ListField(child=serializers.FloatField(), help_text="Sum to 1.")
    variants = VariantStatsSerializer(many=True, help_text="The control first.")
    sequential = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Always-valid intervals and p-values (a confidence sequence), valid at any "
        "look; otherwise fixed horizon, valid only at the planned end.",
    )
    sequential_tuning = serializers.FloatField(
        required=False,
        default=DEFAULT_TUNING,
        help_text="Units of both arms where the sequential interval is tightest.",
    )
    correction = serializers.ChoiceField(
        choices=CORRECTIONS,
        required=False,
        default="holm",
        help_text="Across the treatments: Holm, Benjamini-Hochberg or none.",
    )

    def to_internal_value(self, data) -> stats.CompareResult:
        return compare_request(data)


class MdeRequestSerializer(serializers.Serializer):
    """Exactly one of mde_rel and n_per_variant. Validated data: (stats.MdeResult, curve)."""

    metric_type = serializers.ChoiceField(choices=("proportion", "mean"))
    baseline = serializers.FloatField(help_text="Rate (proportion) or mean of the control.")
    alpha = serializers.FloatField(required=False, default=0.05)
    power = serializers.FloatField(required=False, default=0.8)
    weights = serializers.ListField(child=serializers.FloatField())
    mde_rel = serializers.FloatField(required=False)
    n_per_variant = serializers.IntegerField(
        required=False, help_text="Or a list of counts in weight order."
    )
    daily_units = serializers.IntegerField(required=False)
    std = serializers.FloatField(required=False, help_text="Mean metrics only.")
    correlation = serializers.FloatField(required=False, default=0.0)
    comparisons = serializers.IntegerField(
        required=False,
        default=1,
        help_text="Tests the correction controls (treatments times primary metrics): sized at "
        "alpha / comparisons.",
    )

    def to_internal_value(self, data) -> tuple[stats.MdeResult, list[dict[str, Any]]]:
        return mde_request(data)


class ComparisonSerializer(serializers.Serializer):
    variant = serializers.CharField()
    lift_abs = serializers.FloatField()
    lift_rel = serializers.FloatField(allow_null=True, help_text="Null when the control is 0.")
    ci_abs = _pair_field()
    ci_rel = _pair_field(allow_null=True)
    p_value = serializers.FloatField(
        help_text="Of the relative lift (the absolute one when the control is 0); sequential "
        "when asked; Fisher's exact test for proportions below the minimum units."
    )
    p_value_adjusted = serializers.FloatField(help_text="After the correction.")
    decision = serializers.ChoiceField(
        choices=("increase", "decrease", "inconclusive", "too_few_units"),
        help_text="What the printed interval shows (ci_rel, or ci_abs when the control is 0).",
    )
    test = serializers.ChoiceField(choices=("z", "welch", "fisher_exact"))
    variance_reduction = serializers.FloatField(allow_null=True)
    prob_beat_control = serializers.FloatField(allow_null=True)
    credible_interval_rel = _pair_field(allow_null=True)
    expected_loss = serializers.FloatField(allow_null=True)


class CompareSerializer(serializers.Serializer):
    metric_type = serializers.ChoiceField(choices=METRIC_TYPES)
    alpha = serializers.FloatField()
    srm_p_value = serializers.FloatField()
    srm_alert = serializers.BooleanField()
    theta = serializers.FloatField(allow_null=True)
    cuped_applied = serializers.BooleanField()
    sequential = serializers.BooleanField()
    sequential_tuning = serializers.FloatField(allow_null=True)
    correction = serializers.ChoiceField(choices=CORRECTIONS)
    comparisons = ComparisonSerializer(many=True)


class CurvePointSerializer(serializers.Serializer):
    mde_rel = serializers.FloatField()
    n_total = serializers.IntegerField()
    days = serializers.IntegerField(allow_null=True)


class MdeSerializer(serializers.Serializer):
    n_per_variant = serializers.ListField(child=serializers.IntegerField())
    n_total = serializers.IntegerField()
    days = serializers.IntegerField(allow_null=True)
    mde_rel = serializers.FloatField()
    curve = CurvePointSerializer(many=True)


class BaselineWindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    days = serializers.IntegerField()


class BaselineNumbersSerializer(serializers.Serializer):
    days_with_data = serializers.IntegerField()
    daily_units = serializers.FloatField(allow_null=True)
    control_units = serializers.IntegerField(allow_null=True)
    conversion_rate = serializers.FloatField(
        allow_null=True, help_text="The outcome metrics' baseline only."
    )
    mean = serializers.FloatField(
        allow_null=True, help_text="Activity value's mean, or the catalogue metric's ratio."
    )
    std = serializers.FloatField(
        allow_null=True,
        help_text="Per unit; for a ratio, of its linearisation (x - R y) / mean(y), which "
        "sizes it as a mean.",
    )
    correlation = serializers.FloatField(
        allow_null=True, help_text="With the same measure in the 28 days before exposure."
    )


class BaselineSerializer(serializers.Serializer):
    status = serializers.CharField()
    run_id = serializers.IntegerField()
    experiment_key = serializers.CharField(allow_null=True)
    metric = serializers.CharField(
        allow_null=True, help_text="The catalogue metric asked for; null: the outcome metrics."
    )
    window = BaselineWindowSerializer()
    baseline = BaselineNumbersSerializer()


class VariantSerializer(serializers.Serializer):
    name = serializers.CharField()
    weight = serializers.FloatField()


class PlanSerializer(serializers.Serializer):
    alpha = serializers.FloatField()
    power = serializers.FloatField()
    mde_rel = serializers.FloatField()
    baseline = serializers.FloatField(allow_null=True)
    baseline_std = serializers.FloatField(allow_null=True)
    expected_correlation = serializers.FloatField(allow_null=True)
    max_duration_days = serializers.IntegerField()
    expected_daily_units = serializers.IntegerField(allow_null=True)
    planned_n_per_variant = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    planned_days = serializers.IntegerField(allow_null=True)


class ExperimentSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    hypothesis = serializers.CharField(allow_blank=True)
    owner = serializers.CharField()
    status = serializers.ChoiceField(choices=Experiment.Status.values)
    unit = serializers.CharField()
    targeted_surfaces = serializers.ListField(child=serializers.CharField())
    variants = VariantSerializer(many=True)
    primary_metric = serializers.CharField()
    secondary_metrics = serializers.ListField(child=serializers.CharField())
    guardrail_metrics = serializers.ListField(child=serializers.CharField())
    plan = PlanSerializer()
    started_at = serializers.DateTimeField(allow_null=True)
    killed_at = serializers.DateTimeField(allow_null=True)
    kill_reason = serializers.CharField(allow_null=True)
    concluded_at = serializers.DateTimeField(allow_null=True)
    conclusion = serializers.CharField(allow_null=True)
    url = serializers.CharField()


# A logged field value: a scalar, a list (surfaces, metrics) or a list of pairs (variants).
_SCALAR = [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
VALUE = {
    "nullable": True,
    "anyOf": [
        *_SCALAR,
        {
            "type": "array",
            "items": {"anyOf": [*_SCALAR, {"type": "array", "items": {"anyOf": _SCALAR}}]},
        },
    ],
}


@extend_schema_field(
    {
        "type": "object",
        "description": "Per changed field: [value before, value after].",
        "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2, "items": VALUE},
    }
)
class FieldChangesField(serializers.DictField):
    pass


class ChangeSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True)
    action = serializers.ChoiceField(choices=ExperimentChange.Action.values)
    changes = FieldChangesField()
    note = serializers.CharField(allow_null=True)


class ExperimentDetailSerializer(ExperimentSerializer):
    changes = ChangeSerializer(many=True)


class FailureSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    error = serializers.CharField()


class SnapshotComparisonSerializer(serializers.Serializer):
    variant = serializers.CharField()
    variant_mean = serializers.FloatField(allow_null=True)
    lift_abs = serializers.FloatField(allow_null=True)
    lift_rel = serializers.FloatField(allow_null=True)
    ci_abs = serializers.ListField(child=serializers.FloatField(allow_null=True))
    ci_rel = serializers.ListField(child=serializers.FloatField(allow_null=True))
    p_value = serializers.FloatField(allow_null=True)
    p_value_adjusted = serializers.FloatField(allow_null=True)
    outcome = serializers.ChoiceField(
        choices=OUTCOMES,
        allow_null=True,
        help_text="From the printed interval in the metric's direction; null before it existed.",
    )
    variance_reduction = serializers.FloatField(allow_null=True)
    prob_beat_control = serializers.FloatField(allow_null=True)
    credible_interval_rel = _pair_field(allow_null=True)
    expected_loss = serializers.FloatField(allow_null=True)
    guardrail_breached = serializers.BooleanField()


class MetricResultSerializer(serializers.Serializer):
    metric = serializers.CharField()
    title = serializers.CharField()
    role = serializers.ChoiceField(choices=("primary", "secondary", "guardrail"))
    metric_type = serializers.CharField(allow_null=True)
    control_mean = serializers.FloatField(allow_null=True)
    theta = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    comparisons = SnapshotComparisonSerializer(many=True)


class SrmSerializer(serializers.Serializer):
    p_value = serializers.FloatField(allow_null=True)
    alert = serializers.BooleanField()


class TimeToDecisionSerializer(serializers.Serializer):
    days_remaining = serializers.IntegerField(allow_null=True)
    decision_date = serializers.DateField(allow_null=True)


class MethodSerializer(serializers.Serializer):
    sequential = serializers.BooleanField()
    tuning = serializers.FloatField(allow_null=True)
    correction = serializers.ChoiceField(choices=CORRECTIONS)
    alpha = serializers.FloatField()


class BalanceSerializer(serializers.Serializer):
    control_mean = serializers.FloatField()
    mean = serializers.FloatField()
    p_value = serializers.FloatField()


class HealthValuesSerializer(serializers.Serializer):
    """The numbers of a health check (experiments.health): each check gives its own keys."""

    multi_variant_units = serializers.IntegerField(required=False)
    crawler_units = serializers.IntegerField(required=False)
    crawler_and_person_units = serializers.IntegerField(required=False)
    identities = serializers.IntegerField(required=False)
    share = serializers.FloatField(required=False)
    units_per_variant = serializers.DictField(child=serializers.IntegerField(), required=False)
    weights = serializers.ListField(child=serializers.FloatField(), required=False)
    chi2 = serializers.FloatField(required=False)
    p_value = serializers.FloatField(required=False, allow_null=True)
    covariate = serializers.ChoiceField(
        choices=("pre_value", "pre_converted"),
        required=False,
        help_text="The covariate whose balance is reported: the worst one.",
    )
    variants = serializers.DictField(
        child=BalanceSerializer(), required=False, help_text="Covariate balance per treatment."
    )
    all_units = serializers.IntegerField(required=False)
    matured_units = serializers.IntegerField(required=False)
    outcome_days = serializers.IntegerField(required=False)


class HealthCheckSerializer(serializers.Serializer):
    check = serializers.CharField()
    status = serializers.ChoiceField(choices=("ok", "warning", "alarm"))
    title = serializers.CharField()
    detail = serializers.CharField()
    values = HealthValuesSerializer()


class LiftSeriesSerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.DateField())
    lift_rel = serializers.ListField(child=serializers.FloatField())
    low = serializers.ListField(child=serializers.FloatField())
    high = serializers.ListField(child=serializers.FloatField())


class SegmentComparisonSerializer(serializers.Serializer):
    variant = serializers.CharField()
    lift_abs = serializers.FloatField()
    lift_rel = serializers.FloatField(allow_null=True)
    ci_abs = _pair_field()
    ci_rel = _pair_field(allow_null=True)
    p_value = serializers.FloatField()
    p_value_adjusted = serializers.FloatField(
        help_text="Corrected across every segment and treatment of the dimension."
    )
    outcome = serializers.ChoiceField(choices=OUTCOMES)


class SegmentSerializer(serializers.Serializer):
    value = serializers.CharField()
    units = serializers.DictField(child=serializers.IntegerField())
    error = serializers.CharField(allow_null=True)
    comparisons = SegmentComparisonSerializer(many=True)


class BreakdownSerializer(serializers.Serializer):
    metric = serializers.CharField(help_text="The primary or a secondary metric's slug.")
    dimension = serializers.CharField(
        help_text=f"{', '.join(d.slug for d in DIMENSIONS)}, or one of a catalogue metric's "
        "own dimensions (its values: each with every unit, 0 / 0 where it has no events)."
    )
    title = serializers.CharField()
    segments = SegmentSerializer(many=True)


class ResultsSerializer(serializers.Serializer):
    """The keys after `decision` are there once a computation succeeded."""

    experiment = serializers.CharField()
    status = serializers.ChoiceField(choices=Experiment.Status.values)
    last_failure = FailureSerializer(required=False, help_text="When a newer computation failed.")
    computed_at = serializers.DateTimeField(allow_null=True)
    metrics = MetricResultSerializer(many=True)
    decision = serializers.ListField(child=serializers.CharField())
    data_as_of = serializers.CharField(allow_null=True, required=False)
    window = serializers.ListField(
        child=serializers.DateField(allow_null=True), required=False, min_length=2, max_length=2
    )
    query_run_id = serializers.IntegerField(allow_null=True, required=False)
    units = serializers.DictField(child=serializers.IntegerField(), required=False)
    srm = SrmSerializer(required=False)
    time_to_decision = TimeToDecisionSerializer(required=False)
    warnings = serializers.ListField(child=serializers.CharField(), required=False)
    method = MethodSerializer(required=False, allow_null=True)
    health = HealthCheckSerializer(many=True, required=False)
    lift_over_time = serializers.DictField(
        child=LiftSeriesSerializer(),
        required=False,
        help_text="Per treatment: the primary metric's cumulative lift by day of exposure.",
    )
    breakdowns = BreakdownSerializer(
        many=True,
        required=False,
        help_text=(
            "The primary and secondary metrics by platform, new or returning visitor, "
            "country, and a catalogue metric's own dimensions."
        ),
    )
    lake = serializers.CharField(allow_null=True, required=False)


class AssignmentSerializer(serializers.Serializer):
    experiment = serializers.CharField()
    unit = serializers.CharField()
    variant = serializers.CharField()
    reason = serializers.ChoiceField(choices=("assigned", "crawler", "not_running"))
    bucket = serializers.IntegerField()


class AssignmentQuerySerializer(serializers.Serializer):
    unit = serializers.CharField(
        max_length=MAX_UNIT_LENGTH,
        trim_whitespace=False,
        error_messages=dict.fromkeys(
            ("required", "blank", "max_length"),
            f"is required, at most {MAX_UNIT_LENGTH} characters",
        ),
    )
    user_agent = serializers.CharField(
        required=False, trim_whitespace=False, help_text="Else the User-Agent header."
    )


class BaselineQuerySerializer(serializers.Serializer):
    experiment_key = serializers.CharField(
        required=False, allow_blank=True, default="", validators=[KEY_VALIDATOR]
    )
    metric = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="A catalogue ratio metric computed per variant; empty (or an outcome "
        "metric): the outcome metrics.",
    )
    days = serializers.IntegerField(
        required=False,
        default=BASELINE_DAYS,
        min_value=1,
        max_value=MAX_BASELINE_DAYS,
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_value", "max_string_length"),
            f"must be a whole number from 1 to {MAX_BASELINE_DAYS}",
        ),
    )

    def validate_metric(self, slug: str) -> str:
        """ "" for the outcome metrics (one query gives both), else a catalogue slug."""
        if not slug or slug in OUTCOME_METRICS:
            return ""
        if problem := metric_problem(slug):
            raise serializers.ValidationError(problem)
        return slug
