from rest_framework import serializers

from privacy.models import ConsentChange, ConsentFlag, id_validator

SOURCES = (ConsentChange.Source.BANNER, ConsentChange.Source.SETTINGS, ConsentChange.Source.API)


class ConsentUpdateSerializer(serializers.Serializer):
    """Flags to set (any of them, at least one) and where the answer came from."""

    marketing = serializers.BooleanField(required=False)
    analytics = serializers.BooleanField(required=False)
    personalization = serializers.BooleanField(required=False)
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
        required=False, allow_blank=True, default="", validators=[id_validator]
    )
    user_id = serializers.CharField(
        required=False, allow_blank=True, default="", validators=[id_validator]
    )
    reason = serializers.CharField(max_length=2000)

    def validate(self, attrs):
        if not attrs["identity_id"].strip() and not attrs["user_id"].strip():
            raise serializers.ValidationError(
                {"identity_id": ["Give an identity_id, a user_id or both."]}
            )
        return attrs
