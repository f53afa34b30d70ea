"""The date range / grain / comparison controls of dashboards and metric pages."""

from datetime import date

from django import forms
from django.conf import settings

from metrics.definitions import GRAINS
from metrics.windows import default_window

COMPARE_CHOICES = (("previous", "Previous period"), ("none", "No comparison"))


class WindowForm(forms.Form):
    """start/end/grain/compare from the query string; a missing value takes its default."""

    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    grain = forms.ChoiceField(choices=[(g, g.capitalize()) for g in GRAINS])
    compare = forms.ChoiceField(choices=COMPARE_CHOICES)

    def __init__(
        self,
        query,
        *,
        data_as_of: str | None,
        days: int,
        grain: str,
        compare: bool,
        today: date,
        grains: tuple[str, ...] = GRAINS,
    ):
        start, end = default_window(data_as_of=data_as_of, days=days, today=today)
        defaults = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "grain": grain,
            "compare": "previous" if compare else "none",
        }
        data = {name: query.get(name) or value for name, value in defaults.items()}
        super().__init__(data)
        self.fields["grain"].choices = [(g, g.capitalize()) for g in grains]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "must not be before start")
            elif (days := (end - start).days + 1) > settings.METRICS_MAX_WINDOW_DAYS:
                self.add_error(
                    "end",
                    f"the window is {days} days; at most "
                    f"{settings.METRICS_MAX_WINDOW_DAYS} days are allowed",
                )
        return cleaned

    @property
    def comparing(self) -> bool:
        return self.cleaned_data["compare"] == "previous"

    def first_error(self) -> tuple[str, str] | None:
        for field, errors in self.errors.items():
            return field, errors[0]
        return None
