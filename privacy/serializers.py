from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from privacy.models import ConsentChange, ConsentFlag, id_validator, subject_validators

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
