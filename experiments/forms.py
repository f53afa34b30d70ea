from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from experiments.models import KEY_VALIDATOR, NAME_VALIDATOR, Experiment
from experiments.outcomes import OUTCOME_METRICS
from portal.roles import CAPABILITIES, Capability

User = get_user_model()


def _slug_list(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


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
    primary_metric = forms.ChoiceField(
        choices=[(m.slug, f"{m.title} ({m.metric_type})") for m in OUTCOME_METRICS.values()]
    )
    secondary_metrics = forms.CharField(
        required=False, help_text="Comma-separated: outcome metrics or catalogue slugs."
    )
    guardrail_metrics = forms.CharField(
        required=False, help_text="Comma-separated; a significant loss raises an alert."
    )
    alpha = forms.FloatField(initial=0.05, min_value=0.0001, max_value=0.5)
    power = forms.FloatField(initial=0.8, min_value=0.5, max_value=0.9999)
    mde_rel = forms.FloatField(label="MDE (relative)", help_text="0.05 means 5%.")
    baseline = forms.FloatField(help_text="Control conversion rate (0-1), or control mean.")
    baseline_std = forms.FloatField(
        required=False, label="Baseline standard deviation", help_text="Mean metrics only."
    )
    expected_correlation = forms.FloatField(
        initial=0.0,
        min_value=-0.999,
        max_value=0.999,
        help_text="Pre-period correlation for CUPED (mean metrics only).",
    )
    max_duration_days = forms.IntegerField(min_value=1, max_value=365, initial=28)
    expected_daily_units = forms.IntegerField(min_value=1)

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
    }
