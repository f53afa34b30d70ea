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

SOURCES = (ConsentChange.Source.BANNER, ConsentChange.Source.SETTINGS, ConsentChange.Source.API)


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
    """Flags to set (any of them, at least one) and where the answer came from."""

    marketing = JsonBooleanField(required=False)
    analytics = JsonBooleanField(required=False)
    personalization = JsonBooleanField(required=False)
    source = serializers.ChoiceField(choices=SOURCES, default=ConsentChange.Source.API)

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
        return attrs

    @property
    def flags(self) -> dict[str, bool]:
        return {k: v for k, v in self.validated_data.items() if k in ConsentFlag.values}


class DsarFileSerializer(serializers.Serializer):
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
    status = serializers.ChoiceField(choices=DsarRequest.Status.values)
    requester = serializers.CharField()
    approved_by = serializers.CharField(allow_null=True)
    filed_at = serializers.DateTimeField()
    due_date = serializers.DateField()
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


class DsarSerializer(serializers.Serializer):
    id = serializers.IntegerField()
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
    event_name = serializers.CharField()
    key = serializers.CharField()
    events = serializers.IntegerField()


class PayloadScanSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    start = serializers.DateField()
    end = serializers.DateField()
    run_id = serializers.IntegerField(allow_null=True)
    violations = ViolationSerializer(many=True)


class PiiSerializer(serializers.Serializer):
    allowed_keys = serializers.ListField(child=serializers.CharField())
    latest_scan = PayloadScanSerializer(allow_null=True)
