"""The date range / grain / comparison / filter controls of dashboards and metric pages."""

from collections.abc import Mapping
from datetime import date

from django import forms
from django.conf import settings

from metrics.definitions import ANY_VALUE, GRAINS
from metrics.params import MAX_FILTER_LENGTH
from metrics.windows import COMPARISONS, default_window


class WindowForm(forms.Form):
    """start/end/grain/compare from the query string, and one optional filter per dimension
    under the dimension's name (the metric data API's parameters, so the URL is the state); a
    missing value takes its default, a missing filter means every value."""

    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    grain = forms.ChoiceField(choices=[(g, g.capitalize()) for g in GRAINS])
    compare = forms.ChoiceField(choices=list(COMPARISONS.items()))

    def __init__(
        self,
        query: Mapping[str, str],
        *,
        data_as_of: str | None,
        days: int,
        grain: str,
        compare: bool,
        today: date,
        grains: tuple[str, ...] = GRAINS,
        dimensions: tuple[str, ...] = (),
    ):
        start, end = default_window(data_as_of=data_as_of, days=days, today=today)
        defaults = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "grain": grain,
            "compare": "previous" if compare else "none",
        }
        data = {name: query.get(name) or value for name, value in defaults.items()}
        data.update({name: query.get(name) or "" for name in dimensions})
        super().__init__(data)
        self.fields["grain"].choices = [(g, g.capitalize()) for g in grains]
        self.dimensions = dimensions
        for name in dimensions:
            self.fields[name] = forms.CharField(required=False, max_length=MAX_FILTER_LENGTH)

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
        for name in self.dimensions:
            if cleaned.get(name) == ANY_VALUE:  # the SQL's "every value": leave it empty instead
                self.add_error(name, f"{ANY_VALUE!r} is not a value; leave it empty for all")
        return cleaned

    @property
    def comparison(self) -> str:
        """One of metrics.windows.COMPARISONS (a property named like the field would hide it)."""
        return self.cleaned_data["compare"]

    @property
    def filters(self) -> dict[str, str]:
        """The dimensions filtered, with their value."""
        return {name: value for name in self.dimensions if (value := self.cleaned_data[name])}

    def first_error(self) -> tuple[str, str] | None:
        for field, errors in self.errors.items():
            return field, errors[0]
        return None
