from rest_framework import serializers

from portal.roles import Role

ROLES = [r.value for r in Role]


class SavedViewCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    url = serializers.CharField(
        max_length=2300, help_text="The page's path and query string, e.g. /explore/?metric=…"
    )
    shared_with = serializers.ChoiceField(
        choices=ROLES, required=False, allow_blank=True, default=""
    )


class SavedViewUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    shared_with = serializers.ChoiceField(choices=ROLES, required=False, allow_blank=True)


class SavedViewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()
    kind = serializers.ChoiceField(choices=["dashboard", "metric", "explore"])
    target = serializers.CharField(help_text="The dashboard's or the metric's slug.")
    owner = serializers.CharField()
    mine = serializers.BooleanField()
    shared_with = serializers.CharField(allow_blank=True, help_text="A role, or empty: private.")
    updated_at = serializers.DateTimeField()


class SavedViewListSerializer(serializers.Serializer):
    views = SavedViewSerializer(many=True)


def saved_view_data(view, user) -> dict:
    return SavedViewSerializer(
        {
            "id": view.pk,
            "name": view.name,
            "url": view.url,
            "kind": view.kind,
            "target": view.target,
            "owner": view.owner.get_username(),
            "mine": view.owner_id == user.pk,
            "shared_with": view.shared_with,
            "updated_at": view.updated_at,
        }
    ).data
