from datetime import date, timedelta

from django import forms
from django.conf import settings

from privacy.models import (
    ConsentChange,
    ConsentFlag,
    DsarRequest,
    id_validator,
    subject_validators,
)
from privacy.selectors import DSAR_QUEUES
from warehouse import watermark

MAX_WINDOW_DAYS = 400
DEFAULT_WINDOW_DAYS = 30


def data_end() -> date:
    """The newest partition of the data, or today when the warehouse does not say."""
    newest = watermark.current(settings.WAREHOUSE).max_partition
    return date.fromisoformat(newest) if newest else date.today()


def _choices(values) -> list[tuple[str, str]]:
    return [("*", "any"), *((v, v.replace("_", " ")) for v in values)]


class WindowForm(forms.Form):
    """A date range over event_dt; both ends default to the last 30 days of data."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        end = data.get("end") or data_end()
        start = data.get("start") or end - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
        if start > end:
            self.add_error("start", "The start must not be after the end.")
        elif (end - start).days >= MAX_WINDOW_DAYS:
            self.add_error("start", f"Choose at most {MAX_WINDOW_DAYS} days.")
        data["start"], data["end"] = start, end
        return data

    def params(self) -> dict:
        """The bound parameters of the page's SQL (every filter field, '*' for any)."""
        return {
            name: (value if value not in (None, "") else "*")
            for name, value in self.cleaned_data.items()
        }


class FinanceFilterForm(WindowForm):
    kind = forms.ChoiceField(
        choices=_choices(("refund", "dispute", "chargeback")), required=False, initial="*"
    )
    outcome = forms.ChoiceField(
        choices=_choices(("refunded", "processing", "won", "lost", "pending")),
        required=False,
        initial="*",
    )
    currency = forms.RegexField(
        regex=r"^(\*|[A-Za-z]{3})$",
        required=False,
        max_length=3,
        error_messages={"invalid": "Use a three-letter ISO 4217 code, e.g. EUR."},
    )

    def clean_currency(self) -> str:
        # The view's codes are upper case; "eur" means EUR.
        return self.cleaned_data["currency"].upper()


class SupportFilterForm(WindowForm):
    priority = forms.ChoiceField(
        choices=_choices(("low", "normal", "high", "urgent")), required=False, initial="*"
    )
    channel = forms.ChoiceField(
        choices=_choices(("email", "chat", "web_form")), required=False, initial="*"
    )
    category = forms.ChoiceField(
        choices=_choices(("account", "booking", "refund", "safety", "dmca", "other")),
        required=False,
        initial="*",
    )
    breached_only = forms.BooleanField(required=False, label="SLA breached only")

    def params(self) -> dict:
        params = super().params()
        params["breached_only"] = bool(self.cleaned_data.get("breached_only"))
        return params


class IdentityLookupForm(forms.Form):
    identity_id = forms.CharField(max_length=128, validators=[id_validator])


class ConsentChangeForm(forms.Form):
    """A change the privacy team records on the subject's behalf: never without how the subject
    asked and the proof of it."""

    identity_id = forms.CharField(max_length=128, validators=[id_validator])
    flag = forms.ChoiceField(choices=ConsentFlag.choices)
    value = forms.TypedChoiceField(
        choices=(("true", "given"), ("false", "withdrawn")), coerce=lambda v: v == "true"
    )
    instruction = forms.ChoiceField(
        label="Subject asked by",
        choices=[("", "choose…"), *ConsentChange.Instruction.choices],
        error_messages={"required": "Say how the subject asked for this change."},
    )
    evidence = forms.CharField(
        label="Reason or evidence",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="A reference (ticket, form id), not personal data: the audit log keeps it.",
        error_messages={"required": "Give the reason or evidence: a ticket reference, a form id."},
    )


class DsarFileForm(forms.Form):
    kind = forms.ChoiceField(
        choices=DsarRequest.Kind.choices,
        initial=DsarRequest.Kind.ERASURE,
        required=False,
        label="Request",
        help_text="Erasure replaces the subject's ids everywhere; access exports every row.",
    )
    identity_id = forms.CharField(
        max_length=128, required=False, validators=[subject_validators["identity_id"]]
    )
    user_id = forms.CharField(
        max_length=128, required=False, validators=[subject_validators["user_id"]]
    )
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        data = super().clean()
        if not data.get("identity_id") and not data.get("user_id") and not self.errors:
            self.add_error("identity_id", "Give an identity_id, a user_id or both.")
        data["kind"] = data.get("kind") or DsarRequest.Kind.ERASURE
        return data


class PayloadScanForm(WindowForm):
    pass


class DsarQueueForm(forms.Form):
    """Which requests the list shows: open ones by default, overdue first."""

    queue = forms.ChoiceField(choices=[(q, q) for q in DSAR_QUEUES], required=False)


class DsarVerifyForm(forms.Form):
    method = forms.ChoiceField(choices=DsarRequest.VerificationMethod.choices)
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was checked (never the document's number).",
    )


class DsarExtendForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=settings.PRIVACY_DSAR_MAX_EXTENSION_DAYS)
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DsarCloseForm(forms.Form):
    status = forms.ChoiceField(
        choices=(
            (DsarRequest.Status.REJECTED, "reject"),
            (DsarRequest.Status.CANCELLED, "cancel (the subject withdrew it)"),
        ),
        label="Close as",
    )
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
