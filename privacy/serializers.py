from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from privacy.models import (
    AuditEvent,
    ConsentChange,
    ConsentFlag,
    DsarRequest,
    DsarTableResult,
    id_validator,
    subject_validators,
)

# What apps may say a consent answer came from; a person's change is the privacy team's.
APP_SOURCES = (
    ConsentChange.Source.BANNER,
    ConsentChange.Source.SETTINGS,
    ConsentChange.Source.API,
)
SOURCES = (*APP_SOURCES, ConsentChange.Source.PRIVACY_TEAM)


def identity_id_checked(identity_id: str) -> str:
    """An identity id from a URL, or a 400 naming identity_id (the route takes any segment)."""
    try:
        id_validator(identity_id)
    except DjangoValidationError as err:
        raise serializers.ValidationError({"identity_id": err.messages}) from None
    return identity_id


class JsonBooleanField(serializers.BooleanField):
    """JSON true or false only. DRF's BooleanField also takes "yes", "on", "1", 1 and the like:
    a consent flag must be given explicitly, not guessed from a string."""

    default_error_messages = {"invalid": "Must be a JSON boolean: true or false."}

    def to_internal_value(self, data) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid")


class ConsentUpdateSerializer(serializers.Serializer):
    """Flags to set (any of them, at least one) and where the answer came from.

    Apps (service tokens) pass on the subject's own answer: source banner, settings or api
    (the default). A person records a change on the subject's behalf: source privacy_team (the
    default for them), with the subject's instruction and the evidence, which privacy.consent
    requires (context ``manual``)."""

    marketing = JsonBooleanField(required=False)
    analytics = JsonBooleanField(required=False)
    personalization = JsonBooleanField(required=False)
    source = serializers.ChoiceField(choices=SOURCES, required=False)
    instruction = serializers.ChoiceField(
        choices=ConsentChange.Instruction.values,
        required=False,
        help_text="privacy_team only: how the subject asked.",
    )
    evidence = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="privacy_team only: a reference (ticket, form id), not personal data: the "
        "audit log keeps it.",
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {unknown[0]: [f"Unknown consent flag; expected {', '.join(ConsentFlag.values)}."]}
            )
        if not set(attrs) & set(ConsentFlag.values):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Set at least one of {', '.join(ConsentFlag.values)}."]}
            )
        team = ConsentChange.Source.PRIVACY_TEAM
        if self.context.get("manual"):
            attrs.setdefault("source", team)
            if attrs["source"] != team:
                raise serializers.ValidationError(
                    {"source": ["A person records a change as privacy_team, with its evidence."]}
                )
            return attrs
        attrs.setdefault("source", ConsentChange.Source.API)
        if attrs["source"] == team:
            raise serializers.ValidationError(
                {"source": [f"Apps pass on the subject's answer: {', '.join(APP_SOURCES)}."]}
            )
        for field in ("instruction", "evidence"):
            if field in attrs:
                raise serializers.ValidationError(
                    {field: ["Only changes the privacy team records carry one."]}
                )
        return attrs

    @property
    def flags(self) -> dict[str, bool]:
        return {k: v for k, v in self.validated_data.items() if k in ConsentFlag.values}


class DsarFileSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=DsarRequest.Kind.values,
        default=DsarRequest.Kind.ERASURE,
        help_text="erasure: replace the ids everywhere; access: export every row holding them.",
    )
    identity_id = serializers.CharField(
        required=False, allow_blank=True, default="", validators=[subject_validators["identity_id"]]
    )
    user_id = serializers.CharField(
        required=False, allow_blank=True, default="", validators=[subject_validators["user_id"]]
    )
    reason = serializers.CharField(max_length=2000)

    def validate(self, attrs):
        if not attrs["identity_id"].strip() and not attrs["user_id"].strip():
            raise serializers.ValidationError(
                {"identity_id": ["Give an identity_id, a user_id or both."]}
            )
        return attrs


class DsarVerifySerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=DsarRequest.VerificationMethod.values)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DsarExtendSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=2000)


class DsarCloseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


# --------------------------------------------------------------------------- answers
# What the privacy API answers (built by privacy.selectors), as /api/schema/ describes it.

# An audit detail value: counts, names, notes, lists of names.
DETAIL_VALUE = {
    "nullable": True,
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": "string"}},
    ],
}


@extend_schema_field({"type": "object", "additionalProperties": DETAIL_VALUE})
class AuditDetailField(serializers.DictField):
    pass


class ConsentSerializer(serializers.Serializer):
    identity_id = serializers.CharField()
    known = serializers.BooleanField(help_text="False: no consent recorded, every flag false.")
    marketing = serializers.BooleanField()
    analytics = serializers.BooleanField()
    personalization = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)


class PixelsSerializer(serializers.Serializer):
    identity_id = serializers.CharField()
    fire = serializers.BooleanField()
    pixels = serializers.ListField(child=serializers.CharField())


class DsarRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=DsarRequest.Kind.values)
    status = serializers.ChoiceField(choices=DsarRequest.Status.values)
    requester = serializers.CharField()
    approved_by = serializers.CharField(allow_null=True)
    filed_at = serializers.DateTimeField()
    due_date = serializers.DateField()
    days_left = serializers.IntegerField(allow_null=True)
    overdue = serializers.BooleanField()
    rows_changed = serializers.IntegerField(allow_null=True)


class DsarListSerializer(serializers.Serializer):
    requests = DsarRowSerializer(many=True)


class PreviewTableSerializer(serializers.Serializer):
    target = serializers.CharField()
    table = serializers.CharField()
    files = serializers.IntegerField(allow_null=True, help_text="None in a remote warehouse.")
    rows = serializers.IntegerField()


class PreviewSerializer(serializers.Serializer):
    """Counts only, never the ids; `error` alone (with computed_at) when the scan failed."""

    computed_at = serializers.DateTimeField()
    error = serializers.CharField(required=False)
    targets = serializers.ListField(child=serializers.CharField(), required=False)
    tables_scanned = serializers.IntegerField(required=False)
    linked_ids = serializers.IntegerField(required=False)
    unknown_ids = serializers.ListField(child=serializers.CharField(), required=False)
    rows = serializers.IntegerField(required=False)
    files = serializers.IntegerField(required=False)
    tables = PreviewTableSerializer(many=True, required=False)


class DsarTableSerializer(serializers.Serializer):
    target = serializers.CharField()
    table = serializers.CharField()
    state = serializers.ChoiceField(choices=DsarTableResult.State.values)
    files_total = serializers.IntegerField()
    files_with_ids = serializers.IntegerField()
    files_rewritten = serializers.IntegerField()
    rows_changed = serializers.IntegerField()
    remaining_rows = serializers.IntegerField(allow_null=True)
    duration_s = serializers.FloatField()


class AuditEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=AuditEvent.Action.values)
    actor = serializers.CharField()
    subject_hash = serializers.CharField(allow_blank=True)
    detail = AuditDetailField()


class VerificationSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=DsarRequest.VerificationMethod.values)
    note = serializers.CharField(allow_blank=True)
    by = serializers.CharField()
    at = serializers.DateTimeField()


class ExportTableSerializer(serializers.Serializer):
    source = serializers.CharField()
    table = serializers.CharField()
    rows = serializers.IntegerField()


class ExportSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False once expired and deleted.")
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    expires_at = serializers.DateTimeField()
    tables = ExportTableSerializer(many=True)


class DsarSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=DsarRequest.Kind.values)
    status = serializers.ChoiceField(choices=DsarRequest.Status.values)
    identity_hash = serializers.CharField(allow_blank=True)
    user_hash = serializers.CharField(allow_blank=True)
    has_identity_id = serializers.BooleanField()
    has_user_id = serializers.BooleanField()
    reason = serializers.CharField()
    requester = serializers.CharField()
    approved_by = serializers.CharField(allow_null=True)
    filed_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    due_date = serializers.DateField()
    days_left = serializers.IntegerField(
        allow_null=True, help_text="Until the due date (negative: overdue); null once closed."
    )
    overdue = serializers.BooleanField()
    extended_days = serializers.IntegerField()
    extension_reason = serializers.CharField(allow_blank=True)
    verification = VerificationSerializer(allow_null=True)
    closed_by = serializers.CharField(allow_null=True)
    close_reason = serializers.CharField(allow_blank=True)
    export = ExportSerializer(allow_null=True, help_text="An access request's export.")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    linked_ids = serializers.IntegerField(allow_null=True)
    preview = PreviewSerializer(allow_null=True, help_text="What the erasure would change.")
    rows_changed = serializers.IntegerField(allow_null=True)
    files_rewritten = serializers.IntegerField(allow_null=True)
    remaining_rows = serializers.IntegerField(allow_null=True)
    physical_followup = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(allow_null=True)
    tables = DsarTableSerializer(many=True)
    audit = AuditEntrySerializer(many=True)


class ViolationSerializer(serializers.Serializer):
    """One event name and payload key with something wrong (privacy.payload_check); no value."""

    event_name = serializers.CharField()
    key = serializers.CharField()
    events = serializers.IntegerField()
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=["unregistered_key", "pii_key", "pii_value"]),
        default=list,
        help_text="Off its event version's schema; a PII-looking key off the allowlist; "
        "PII-looking values in the sample.",
    )
    unregistered_events = serializers.IntegerField(required=False)
    unregistered_versions = serializers.ListField(
        child=serializers.IntegerField(allow_null=True), required=False
    )
    values_sampled = serializers.IntegerField(required=False)
    value_hits = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Detector (email, phone, card, iban) to the sampled values it found.",
    )


class PayloadScanSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    start = serializers.DateField()
    end = serializers.DateField()
    run_id = serializers.IntegerField(allow_null=True)
    violations = ViolationSerializer(many=True)


class PiiSerializer(serializers.Serializer):
    allowed_keys = serializers.ListField(child=serializers.CharField())
    latest_scan = PayloadScanSerializer(allow_null=True)
