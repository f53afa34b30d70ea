import re

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from experiments import services
from experiments.catalogue import primary_choices
from experiments.models import KEY_VALIDATOR, NAME_VALIDATOR, Correction, Experiment
from experiments.stats.reading import MIN_TUNING
from experiments.stats.validation import MAX_DAILY_UNITS
from portal.roles import CAPABILITIES, Capability

User = get_user_model()
# What a PostgreSQL integer column holds (a PositiveIntegerField): a larger count is refused by
# the form, not by the database.
_COLUMN_MAX = 2**31 - 1
_SEPARATORS = re.compile(r"[,_\s]")


def _slug_list(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class CountField(forms.IntegerField):
    """A count that may be typed with thousands separators (20,000 or 20 000) and is shown
    with them."""

    widget = forms.TextInput(attrs={"inputmode": "numeric"})

    def to_python(self, value):
        if isinstance(value, str):
            value = _SEPARATORS.sub("", value)
        return super().to_python(value)

    def prepare_value(self, value):
        return f"{value:,}" if isinstance(value, int) else value


class ExperimentForm(forms.Form):
    """A draft's setup. Lists are comma-separated; variants one per line, "name weight"."""

    key = forms.CharField(max_length=64, validators=[KEY_VALIDATOR])
    name = forms.CharField(max_length=200)
    hypothesis = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.ModelChoiceField(queryset=User.objects.none())
    variants = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        initial="control 0.5\ntreatment 0.5",
        help_text="One per line: name and weight (fractions summing to 1), control first.",
    )
    targeted_surfaces = forms.CharField(
        required=False, help_text="Comma-separated surface slugs, e.g. search_results."
    )
    primary_metric = forms.ChoiceField(choices=primary_choices)
    secondary_metrics = forms.CharField(
        required=False, help_text="Comma-separated: outcome metrics or catalogue slugs."
    )
    guardrail_metrics = forms.CharField(
        required=False, help_text="Comma-separated; a significant loss raises an alert."
    )
    alpha = forms.FloatField(initial=0.05, min_value=0.0001, max_value=0.5)
    power = forms.FloatField(initial=0.8, min_value=0.5, max_value=0.9999)
    mde_rel = forms.FloatField(label="MDE (relative)", help_text="0.05 means 5%.")
    baseline = forms.FloatField(
        help_text="Control conversion rate (0-1), or the control's mean or ratio."
    )
    baseline_std = forms.FloatField(
        required=False,
        label="Baseline standard deviation",
        help_text="Mean and ratio metrics (a ratio's per unit, as the MDE calculator's baseline "
        "gives it).",
    )
    expected_correlation = forms.FloatField(
        initial=0.0,
        min_value=-0.999,
        max_value=0.999,
        help_text="Pre-period correlation for CUPED (mean and ratio metrics).",
    )
    max_duration_days = forms.IntegerField(min_value=1, max_value=365, initial=28)
    expected_daily_units = CountField(min_value=1, max_value=MAX_DAILY_UNITS)
    sequential = forms.TypedChoiceField(
        label="Reading the results",
        choices=[
            (True, "Sequential: read at any time"),
            (False, "Fixed horizon: valid only at the planned end"),
        ],
        coerce=lambda value: value == "True",
        # Not sent (a client of the form's fields before these): the model's default.
        required=False,
        empty_value=True,
        initial=True,
        widget=forms.RadioSelect,
    )
    sequential_tuning = CountField(
        required=False,
        min_value=MIN_TUNING,
        max_value=_COLUMN_MAX,
        label="Sequential tuning (units)",
        help_text="Units of control and one treatment together where the interval is tightest; "
        "empty: the planned sample of control and the largest treatment.",
    )
    correction = forms.TypedChoiceField(
        choices=Correction.choices,
        required=False,
        empty_value=Correction.HOLM,
        initial=Correction.HOLM,
        help_text="Across the treatments on the primary metric (and across secondaries); the "
        "plan is sized at alpha / treatments.",
    )
    guardrail_auto_kill = forms.BooleanField(
        required=False,
        label="Kill on a guardrail breach",
        help_text="Stop the experiment (kill-switch) when a guardrail is breached.",
    )

    def __init__(self, *args, experiment: Experiment | None = None, **kwargs):
        if experiment is not None:
            kwargs.setdefault("initial", initial_of(experiment))
        super().__init__(*args, **kwargs)
        writers = CAPABILITIES[Capability.EXPERIMENTS_WRITE].roles
        self.fields["owner"].queryset = (
            User.objects.filter(Q(is_superuser=True) | Q(groups__name__in=writers))
            .distinct()
            .order_by("username")
        )
        if experiment is not None:
            self.fields["key"].disabled = True

    def clean_variants(self) -> list[tuple[str, float]]:
        variants = []
        for number, line in enumerate(self.cleaned_data["variants"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise forms.ValidationError(f"line {number}: write a name and a weight")
            name, weight = parts
            try:
                NAME_VALIDATOR(name)
                variants.append((name, float(weight)))
            except forms.ValidationError as err:
                raise forms.ValidationError(f"line {number}: {err.messages[0]}") from None
            except ValueError:
                raise forms.ValidationError(f"line {number}: {weight!r} is not a number") from None
        return variants

    def clean_targeted_surfaces(self) -> list[str]:
        return [s.lower() for s in _slug_list(self.cleaned_data["targeted_surfaces"])]

    def clean_secondary_metrics(self) -> list[str]:
        return _slug_list(self.cleaned_data["secondary_metrics"])

    def clean_guardrail_metrics(self) -> list[str]:
        return _slug_list(self.cleaned_data["guardrail_metrics"])

    def clean(self) -> dict:
        """The setup's own problems (variants, metrics, the plan) beside the fields' errors: a
        person sees every error of the form at once."""
        cleaned = super().clean()
        fields = {name: cleaned[name] for name in services.EXPERIMENT_FIELDS if name in cleaned}
        for err in services.experiment_problems(fields=fields, variants=cleaned.get("variants")):
            self.add_error(err.field if err.field in self.fields else None, err.message)
        return cleaned

    def draft(self) -> Experiment:
        """The valid form as an unsaved experiment (its plan, before saving)."""
        data = self.cleaned_data
        return Experiment(owner=data["owner"], **{n: data[n] for n in services.EXPERIMENT_FIELDS})

    def weights(self) -> list[float]:
        return [weight for _, weight in self.cleaned_data["variants"]]


def initial_of(experiment: Experiment) -> dict:
    return {
        "key": experiment.key,
        "name": experiment.name,
        "hypothesis": experiment.hypothesis,
        "owner": experiment.owner_id,
        "variants": "\n".join(f"{v.name} {v.weight:g}" for v in experiment.ordered_variants()),
        "targeted_surfaces": ", ".join(experiment.targeted_surfaces),
        "primary_metric": experiment.primary_metric,
        "secondary_metrics": ", ".join(experiment.secondary_metrics),
        "guardrail_metrics": ", ".join(experiment.guardrail_metrics),
        "alpha": experiment.alpha,
        "power": experiment.power,
        "mde_rel": experiment.mde_rel,
        "baseline": experiment.baseline,
        "baseline_std": experiment.baseline_std,
        "expected_correlation": experiment.expected_correlation,
        "max_duration_days": experiment.max_duration_days,
        "expected_daily_units": experiment.expected_daily_units,
        "sequential": experiment.sequential,
        "sequential_tuning": experiment.sequential_tuning,
        "correction": experiment.correction,
        "guardrail_auto_kill": experiment.guardrail_auto_kill,
    }
