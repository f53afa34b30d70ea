from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    """Documents service tokens in the OpenAPI schema (loaded by PortalConfig.ready)."""

    target_class = "portal.authentication.ServiceTokenAuthentication"
    name = "serviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}


# Error answers every API shares (portal.errors): described once, named in each endpoint.
FIELD_ERRORS = OpenApiResponse(
    {
        "type": "object",
        "properties": {"detail": {"type": "string", "description": "A body that is not JSON."}},
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description='Invalid input: {"<field>": ["<problem>", ...]}, one key per field '
    "(core.errors.InputError and serializers alike); a body that cannot be parsed: "
    '{"detail": "<problem>"}.',
)
NOT_FOUND = OpenApiResponse(
    inline_serializer("NotFound", {"detail": serializers.CharField()}),
    description="No such object, or not one you may read.",
)
RUN_LIMIT = OpenApiResponse(
    inline_serializer(
        "RunLimit",
        {
            "detail": serializers.CharField(),
            "limit": serializers.IntegerField(),
            "in_flight": serializers.IntegerField(),
        },
    ),
    description="Too many of your runs in flight (QUERY_MAX_RUNS_IN_FLIGHT); retry later.",
)
CONFLICT = OpenApiResponse(
    inline_serializer("Conflict", {"detail": serializers.CharField()}),
    description="Not possible in the object's current state.",
)
