import datetime
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from experiments import stats
from experiments.assignment import AssignmentConfig
from experiments.outcomes import OUTCOME_METRICS
from experiments.stats.compare import MetricType
from experiments.stats.reading import MIN_TUNING

KEY_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_]{1,63}$",
    "2-64 lower-case letters, digits or underscores; a letter first.",
)
NAME_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_]{0,31}$",
    "1-32 lower-case letters, digits or underscores; a letter first.",
)


def new_salt() -> str:
    return secrets.token_hex(8)


class ProtectedSurface(models.Model):
    """A surface no experiment may change: legal texts and consent components."""

    class Kind(models.TextChoices):
        LEGAL_TEXT = "legal_text", "Legal text"
        CONSENT_COMPONENT = "consent_component", "Consent component"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "slug"]

    def __str__(self) -> str:
        return self.name


class Correction(models.TextChoices):
    HOLM = "holm", "Holm (family-wise error)"
    BH = "bh", "Benjamini-Hochberg (false discovery rate)"
    NONE = "none", "None"


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        STOPPED = "stopped"
        CONCLUDED = "concluded"

    class Unit(models.TextChoices):
        IDENTITY = "identity", "Identity (device or browser)"

    key = models.CharField(max_length=64, unique=True, validators=[KEY_VALIDATOR])
    name = models.CharField(max_length=200)
    hypothesis = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unit = models.CharField(max_length=16, choices=Unit.choices, default=Unit.IDENTITY)
    targeted_surfaces = models.JSONField(default=list, blank=True)
    primary_metric = models.CharField(max_length=100)
    secondary_metrics = models.JSONField(default=list, blank=True)
    guardrail_metrics = models.JSONField(default=list, blank=True)

    # The plan: what the sample-size gate sizes the experiment from.
    alpha = models.FloatField(default=0.05)
    power = models.FloatField(default=0.8)
    mde_rel = models.FloatField(help_text="Relative minimum detectable effect, e.g. 0.05 = 5%.")
    baseline = models.FloatField(help_text="Control conversion rate, or control mean.")
    baseline_std = models.FloatField(
        null=True, blank=True, help_text="Standard deviation (mean metrics)."
    )
    expected_correlation = models.FloatField(
        default=0.0, help_text="Pre-period correlation CUPED will use (mean metrics)."
    )
    # How results are read (docs/experiments.md, "Reading results at any time").
    sequential = models.BooleanField(
        default=True,
        help_text="Always-valid intervals: results may be read at any time. Off: fixed "
        "horizon, valid only at the planned end.",
    )
    sequential_tuning = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_TUNING)],
        help_text="Units of control and one treatment together where the sequential interval "
        "is tightest; empty: the planned sample of control and the largest treatment.",
    )
    correction = models.CharField(
        max_length=8,
        choices=Correction.choices,
        default=Correction.HOLM,
        help_text="Multiple-comparison correction across treatments on the primary metric "
        "(and across secondaries).",
    )
    guardrail_auto_kill = models.BooleanField(
        default=False,
        help_text="Stop the experiment (kill-switch) when a guardrail is breached.",
    )
    max_duration_days = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    expected_daily_units = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    salt = models.CharField(max_length=32, default=new_salt, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    planned_n_per_variant = models.JSONField(null=True, blank=True)
    planned_days = models.PositiveIntegerField(null=True, blank=True)
    killed_at = models.DateTimeField(null=True, blank=True)
    killed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kill_reason = models.TextField(blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)
    conclusion = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key

    def get_absolute_url(self) -> str:
        return f"/experiments/{self.key}/"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING

    @property
    def metric_type(self) -> MetricType:
        """The primary metric's: an outcome metric's own, else a catalogue ratio's."""
        outcome = OUTCOME_METRICS.get(self.primary_metric)
        return outcome.metric_type if outcome is not None else "ratio"

    @property
    def sized_as(self) -> MetricType:
        """How the plan sizes the primary metric: a ratio as a mean of its per-unit
        linearisation (the delta method), whose standard deviation `baseline_std` holds."""
        return "proportion" if self.metric_type == "proportion" else "mean"

    def ordered_variants(self) -> list["Variant"]:
        # Sorted in Python so that a prefetched set of variants costs no query.
        return sorted(self.variants.all(), key=lambda v: v.order)

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(v.weight for v in self.ordered_variants())

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.ordered_variants())

    def metrics(self) -> list[tuple[str, str]]:
        """(slug, role) of every metric: the primary first, then secondaries, then guardrails."""
        return (
            [(self.primary_metric, "primary")]
            + [(slug, "secondary") for slug in self.secondary_metrics]
            + [(slug, "guardrail") for slug in self.guardrail_metrics]
        )

    def plan(self, weights: Sequence[float] | None = None) -> stats.MdeResult:
        """The sample the primary metric needs for the planned MDE (with the variants' weights,
        or `weights` for variants not saved yet); InputError if the plan cannot be computed
        (the error names the field as the MDE API spells it)."""
        kind = self.sized_as
        return stats.mde(
            kind,
            self.baseline,
            self.weights if weights is None else weights,
            self.expected_daily_units,
            mde_rel=self.mde_rel,
            alpha=self.alpha,
            power=self.power,
            std=self.baseline_std if kind == "mean" else None,
            correlation=self.expected_correlation if kind == "mean" else 0.0,
            comparisons=self.primary_comparisons(weights),
        )

    def primary_comparisons(self, weights: Sequence[float] | None = None) -> int:
        """Tests in the primary family the correction controls: one per treatment."""
        if self.correction == Correction.NONE:
            return 1
        return max(1, len(self.weights if weights is None else weights) - 1)

    def assignment_config(self) -> AssignmentConfig:
        return AssignmentConfig(
            key=self.key,
            salt=self.salt,
            running=self.is_running,
            variants=self.variant_names,
            weights=self.weights,
        )

    def analysis_window(self, today: datetime.date) -> tuple[datetime.date, datetime.date] | None:
        """First and last day of exposures analysed: from launch until it stopped assigning
        (killed or concluded), or today."""
        if self.started_at is None:
            return None
        stopped = self.killed_at or self.concluded_at
        end = stopped.date() if stopped else today
        return self.started_at.date(), max(end, self.started_at.date())


class Variant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=32, validators=[NAME_VALIDATOR])
    weight = models.FloatField()
    order = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["experiment", "order"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="variant_name_unique"),
            models.UniqueConstraint(fields=["experiment", "order"], name="variant_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight:g})"


class ExperimentChange(models.Model):
    """The append-only change log: who changed what, when (field: [old, new])."""

    class Action(models.TextChoices):
        CREATED = "created"
        EDITED = "edited"
        LAUNCHED = "launched"
        GATE_OVERRIDDEN = "gate_overridden"
        KILLED = "killed"
        CONCLUDED = "concluded"

    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="changes")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.experiment_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("The change log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The change log is append-only.")


class GateOverride(models.Model):
    """An admin's decision to launch although the sample cannot be reached in time."""

    experiment = models.ForeignKey(
        Experiment, on_delete=models.PROTECT, related_name="gate_overrides"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    required_days = models.PositiveIntegerField()
    max_duration_days = models.PositiveIntegerField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"override of {self.experiment_id} by {self.by_id}"


class ResultComputation(models.Model):
    """One run of the results job: what it read, the split, and what it wrote."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="computations"
    )
    computed_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    query_run = models.ForeignKey(
        "warehouse.QueryRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_start = models.DateField(null=True)
    window_end = models.DateField(null=True)
    data_as_of = models.CharField(max_length=32, blank=True)
    # Per variant: its sufficient statistics ({"control": {"units": ..., ...}}).
    totals = models.JSONField(default=dict)
    # Per variant: {"days": [...], "cumulative": [...]} for the exposures chart.
    exposures = models.JSONField(default=dict)
    srm_p_value = models.FloatField(null=True)
    srm_alert = models.BooleanField(default=False)
    days_remaining = models.PositiveIntegerField(null=True)
    decision_date = models.DateField(null=True)
    decision = models.JSONField(default=list)  # the plain-language lines
    warnings = models.JSONField(default=list)
    lake_status = models.CharField(max_length=300, blank=True)
    # {"sequential": bool, "tuning": int | None, "correction": str}: how the numbers were read.
    method = models.JSONField(default=dict)
    # experiments.health checks: [{"check", "status", "title", "detail", "values"}].
    health = models.JSONField(default=list)
    # The primary and secondary metrics by dimension: [{"metric", "dimension", "title",
    # "segments": [{"value", "units", "error", "comparisons"}]}]
    # (experiments.results._breakdowns_json).
    breakdowns = models.JSONField(default=list)
    # Per metric slug, per variant: {"days": [...], "lift_rel": [...], "low": [...], "high": [...]}.
    lift_over_time = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["experiment", "-computed_at"])]

    def __str__(self) -> str:
        return f"{self.experiment_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class Outcome(models.TextChoices):
    BETTER = "better", "Better"
    WORSE = "worse", "Worse"
    INCONCLUSIVE = "inconclusive", "Inconclusive"
    TOO_FEW_UNITS = "too_few_units", "Too few units"


class ResultSnapshot(models.Model):
    """One variant against control on one metric: the fact_experiment_result row."""

    computation = models.ForeignKey(
        ResultComputation, on_delete=models.CASCADE, related_name="snapshots"
    )
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=32)
    metric = models.CharField(max_length=100)
    metric_type = models.CharField(max_length=16)
    role = models.CharField(max_length=16)  # primary, secondary or guardrail
    error = models.TextField(blank=True)  # the metric could not be computed (too little data)
    control_mean = models.FloatField(null=True)
    variant_mean = models.FloatField(null=True)
    lift_abs = models.FloatField(null=True)
    lift_rel = models.FloatField(null=True)
    ci_low = models.FloatField(null=True)
    ci_high = models.FloatField(null=True)
    ci_rel_low = models.FloatField(null=True)
    ci_rel_high = models.FloatField(null=True)
    p_value = models.FloatField(null=True)
    p_value_adjusted = models.FloatField(null=True)
    # From the printed interval: better, worse (than control, given the metric's direction) or
    # inconclusive. The decision line, the chart colour and the table all read this.
    outcome = models.CharField(max_length=16, blank=True, choices=Outcome.choices)
    prob_beat_control = models.FloatField(null=True)
    credible_rel_low = models.FloatField(null=True)
    credible_rel_high = models.FloatField(null=True)
    expected_loss = models.FloatField(null=True)
    variance_reduction = models.FloatField(null=True)
    theta = models.FloatField(null=True)
    guardrail_breached = models.BooleanField(default=False)
    time_to_decision_days = models.PositiveIntegerField(null=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.experiment_id} {self.variant} {self.metric}"
