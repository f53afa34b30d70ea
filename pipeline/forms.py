"""Input of the pipeline pages: the chart range and the triage note."""

from django import forms

MAX_DAYS = 90


class RangeForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, required=False)


class TriageForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What causes it and what is done about it (kept in the audit trail).",
    )
